/*
 * Evaluation drivers: run a model's evaluation entries over a data set or
 * over sampling chains and combine the scalars they output per row or per
 * chain. The drivers know nothing about RBMs. The math lives in the model
 * file's entries, and a driver only feeds inputs, sets hyperparameters
 * such as an annealing temperature and averages what comes back.
 *
 * The entries follow this convention (docs/model-format.md lists it):
 *
 *   evaluate           input v0 [batch, n]; outputs recon_error and
 *                      free_energy, each [batch]
 *   pseudo_likelihood  inputs v0 and flip [batch, n]; output log_pl
 *                      [batch], the log pseudo-likelihood of each row
 *                      estimated from the one coordinate marked in flip
 *   ais_init           input vs [chains, n] (its values are not read);
 *                      outputs vs, exact draws from the base model, and
 *                      the scalar log_z_base, its log partition function
 *   ais_step           input vs, hyperparameters beta_prev and beta;
 *                      outputs log_w [chains], the log importance weight
 *                      gained going from beta_prev to beta at state vs,
 *                      and vs, the next state of a Markov chain that
 *                      leaves the distribution at beta invariant
 *
 * Thread safety: an evaluator is used from one thread, like its runtime.
 */
#ifndef RBMGRAPH_EVAL_H
#define RBMGRAPH_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rbmgraph/data.h"
#include "rbmgraph/error.h"
#include "rbmgraph/exec.h"
#include "rbmgraph/model.h"
#include "rbmgraph/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rg_eval rg_eval;

/*
 * Creates an evaluator of model `m` on runtime `rt`, which contains (or
 * will create) the params and state the entries read. Entries are built,
 * planned and bound on first use with the dims and hyperparameters `m`
 * has at that moment. `options` may be NULL for the default
 * optimisations. The model and runtime must outlive the evaluator.
 */
rg_status rg_eval_new(const rg_model *m, rg_runtime *rt,
                      const rg_plan_options *options, rg_eval **out,
                      rg_error *err);

/* Frees the evaluator and its plans. NULL does nothing. */
void rg_eval_free(rg_eval *ev);

/* Returns whether the model declares entry point `entry`. */
bool rg_eval_has_entry(const rg_eval *ev, const char *entry);

/*
 * Returns in *exec and *plan the executor and plan of `entry`, built on
 * first use with every hyperparameter set from the model. Both stay owned
 * by the evaluator until rg_eval_free. `plan` may be NULL.
 */
rg_status rg_eval_exec(rg_eval *ev, const char *entry, rg_exec **exec,
                       const rg_plan **plan, rg_error *err);

/*
 * Runs `entry` over rows 0 .. n_rows - 1 of `ds` (n_rows 0 means all) in
 * minibatches of the entry's batch size and stores in means[i] the mean
 * over those rows of output `outputs[i]`, which must have shape [batch]:
 * one value per row. The data goes to the entry's only input, or to its
 * input v0 when it has several. A last partial minibatch is padded with
 * copies of its last row, and the padding rows are left out of the means.
 * Minibatch b draws its random numbers at step `step` + b.
 */
rg_status rg_eval_row_means(rg_eval *ev, const char *entry,
                            const rg_dataset *ds, int64_t n_rows,
                            uint64_t step, int n_outputs,
                            const char *const *outputs, double *means,
                            rg_error *err);

/*
 * Estimates the mean log pseudo-likelihood of rows 0 .. n_rows - 1 of
 * `ds` (0 means all) with the entry pseudo_likelihood. For each row the
 * driver marks one coordinate with a 1 in input flip, drawn uniformly
 * from the runtime's seed, `step` and the row index. It stores the mean
 * of output log_pl in *mean. Batching and padding are as in
 * rg_eval_row_means.
 */
rg_status rg_eval_pseudo_likelihood(rg_eval *ev, const rg_dataset *ds,
                                    int64_t n_rows, uint64_t step,
                                    double *mean, rg_error *err);

/*
 * Runs `entry` over every row of `ds` and gathers output `output`, of
 * shape [batch, k], into a new array of [n_rows, k] floats stored in *dst
 * (release it with free()); *n_cols receives k. Batching and padding are
 * as in rg_eval_row_means.
 */
rg_status rg_eval_map_rows(rg_eval *ev, const char *entry,
                           const char *output, const rg_dataset *ds,
                           uint64_t step, float **dst, int64_t *n_cols,
                           rg_error *err);

/* Called after each annealing step; `done` of `total` steps. */
typedef void (*rg_progress_fn)(int64_t done, int64_t total, void *user);

typedef struct rg_ais_options {
    /* Number of annealing steps K. Without `betas` the inverse
     * temperatures are spaced evenly: beta_k = k / K for k = 0 .. K. */
    int64_t n_betas;
    /* Optional schedule of K + 1 values that starts at 0, ends at 1 and
     * never decreases; NULL selects the even spacing. */
    const double *betas;
    /* ais_init draws at this step and annealing step k at step + k. */
    uint64_t step;
    rg_progress_fn on_progress; /* may be NULL */
    void *user;
} rg_ais_options;

/*
 * Result of annealed importance sampling with M chains of log weights
 * w_1 .. w_M. The estimate of Z is Z_base * mean(exp(w)). Its standard
 * error s is the standard deviation of Z_base * exp(w) over the chains
 * divided by sqrt(M).
 */
typedef struct rg_ais_result {
    int64_t n_chains;
    int64_t n_betas;
    double log_z;      /* log of the estimate of Z */
    double log_z_low;  /* log(Z estimate - 3 s), or -INFINITY when <= 0 */
    double log_z_high; /* log(Z estimate + 3 s) */
    double log_z_base; /* log partition function of the base model */
    double log_w_mean; /* mean of the chains' log weights */
    double log_w_std;  /* their standard deviation over chains */
    double seconds;    /* wall time of the whole run */
} rg_ais_result;

/*
 * Estimates the log partition function of the model by annealed
 * importance sampling with the entries ais_init and ais_step. The number
 * of chains is the row count of input vs, which comes from the model's
 * dims. Log weights are accumulated in double precision. Fails with
 * RG_STATUS_INVALID_ARGUMENT for a bad schedule, RG_STATUS_NOT_FOUND when
 * an entry is missing and RG_STATUS_NUMERIC when a log weight is not
 * finite.
 */
rg_status rg_eval_ais(rg_eval *ev, const rg_ais_options *options,
                      rg_ais_result *out, rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
