/*
 * Training: runs a model's `train` entry point over a data set in shuffled
 * minibatches, one epoch at a time, and averages its metrics. The trainer
 * has no RBM-specific code: it feeds the entry's single data input and
 * reads whatever metrics the model file declares.
 */
#ifndef RBMGRAPH_TRAIN_H
#define RBMGRAPH_TRAIN_H

#include <stdint.h>

#include "rbmgraph/data.h"
#include "rbmgraph/error.h"
#include "rbmgraph/exec.h"
#include "rbmgraph/model.h"
#include "rbmgraph/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rg_trainer rg_trainer;

/*
 * Builds, plans and binds entry point `entry` (NULL means "train") of `m`
 * on `rt`. The entry must have exactly one input of shape [batch, n]; its
 * hyperparameters take the model's current values. `options` may be NULL
 * for the default optimisations. The model and runtime must outlive the
 * trainer.
 */
rg_status rg_trainer_new(const rg_model *m, const char *entry,
                         rg_runtime *rt, const rg_plan_options *options,
                         rg_trainer **out, rg_error *err);
void rg_trainer_free(rg_trainer *t);

/* The data input's name, rows per minibatch and values per example. */
const char *rg_trainer_input_name(const rg_trainer *t);
int64_t rg_trainer_batch_size(const rg_trainer *t);
int64_t rg_trainer_n_features(const rg_trainer *t);

/* The entry's metrics, in model-file order. */
int rg_trainer_n_metrics(const rg_trainer *t);
const char *rg_trainer_metric_name(const rg_trainer *t, int index);

/* The plan being run, for listings. */
const rg_plan *rg_trainer_plan(const rg_trainer *t);

/* Train steps run so far; the next step uses this as its random step. */
uint64_t rg_trainer_step(const rg_trainer *t);
void rg_trainer_set_step(rg_trainer *t, uint64_t step);

/*
 * Reads the metrics after the first minibatch of each epoch and then after
 * every `n`-th one (1, the default, reads them after every minibatch).
 * Reading a metric copies it from the device and waits for the step to
 * finish, so a larger interval lets an asynchronous device run ahead.
 * Epoch means are taken over the minibatches read, and a NaN or Inf is
 * caught only on those. Fails with RG_STATUS_INVALID_ARGUMENT unless
 * n >= 1.
 */
rg_status rg_trainer_set_metric_interval(rg_trainer *t, int64_t n,
                                         rg_error *err);

/* Called after each minibatch; `done` of `total` minibatches. */
typedef void (*rg_batch_fn)(int64_t done, int64_t total, void *user);

typedef struct rg_epoch_stats {
    int64_t n_samples;
    double seconds;
    /* Mean of each metric over the epoch's minibatches, [n_metrics]; owned
     * by the trainer and valid until the next epoch or rg_trainer_free. */
    const double *metrics;
} rg_epoch_stats;

/*
 * Runs one epoch over `ds`: rows are shuffled with (seed, epoch) and cut
 * into full minibatches; a last partial minibatch is skipped. The random
 * draws of each minibatch are keyed by the trainer's step counter, so an
 * epoch depends only on the params and state, the seed, the epoch and the
 * step it starts from. A checkpoint that stores those resumes a run
 * exactly. Fails with RG_STATUS_DATA when the data's column count differs from the model's
 * input or the data has fewer rows than one minibatch, and with
 * RG_STATUS_NUMERIC when a metric becomes NaN or infinite or when a param
 * or state tensor contains a NaN or Inf after the epoch's last step. The
 * message names the metric, the step and the first such tensor, so an
 * epoch that succeeds leaves only finite values to checkpoint.
 */
rg_status rg_trainer_run_epoch(rg_trainer *t, const rg_dataset *ds,
                               uint64_t seed, uint64_t epoch,
                               rg_batch_fn on_batch, void *user,
                               rg_epoch_stats *stats, rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
