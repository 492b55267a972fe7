/*
 * The training loop: shuffled minibatches through a model's train entry,
 * with per-epoch means of its metrics. By default metrics are read after
 * every step so that a NaN or Inf stops the run at the step where it first
 * appears; rg_trainer_set_metric_interval reads them less often. Params
 * and state are checked for NaN and Inf at the end of every epoch, so an
 * epoch that succeeds never leaves non-finite values to checkpoint.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/clock.h"
#include "graph/error_internal.h"
#include "rbmgraph/train.h"

struct rg_trainer {
    rg_runtime *rt;
    rg_graph *graph;
    rg_plan *plan;
    rg_exec *exec;
    const char *input;   /* owned by the plan */
    int64_t batch;
    int64_t n_features;
    int *metric_outputs; /* plan output index of each metric */
    int n_metrics;
    double *means;       /* [n_metrics] */
    uint64_t step;
    int64_t metric_interval; /* read metrics on every n-th minibatch */
};

void rg_trainer_free(rg_trainer *t)
{
    if (t == NULL) {
        return;
    }
    rg_exec_free(t->exec);
    rg_plan_free(t->plan);
    rg_graph_free(t->graph);
    free(t->metric_outputs);
    free(t->means);
    free(t);
}

/* Checks that the plan has one [batch, n] input and sets it up. */
static rg_status find_data_input(rg_trainer *t, const char *entry,
                                 rg_error *err)
{
    char buf[64];

    if (rg_plan_n_inputs(t->plan) != 1) {
        return rg_error_set(err, RG_STATUS_MODEL,
                            "entry '%s' reads %d inputs; training needs "
                            "exactly one data input of shape [batch, n]",
                            entry, rg_plan_n_inputs(t->plan));
    }
    rg_shape s = rg_plan_input_shape(t->plan, 0);
    t->input = rg_plan_input_name(t->plan, 0);
    if (s.rank != 2) {
        return rg_error_set(err, RG_STATUS_MODEL,
                            "input '%s' of entry '%s' has shape %s; training "
                            "needs shape [batch, n]", t->input, entry,
                            rg_shape_str(s, buf, sizeof(buf)));
    }
    t->batch = s.dims[0];
    t->n_features = s.dims[1];
    return RG_STATUS_OK;
}

static rg_status find_metrics(rg_trainer *t, rg_error *err)
{
    int n = rg_plan_n_outputs(t->plan);

    t->metric_outputs = calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    t->means = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (t->metric_outputs == NULL || t->means == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (rg_plan_output_is_metric(t->plan, i)) {
            t->metric_outputs[t->n_metrics++] = i;
        }
    }
    return RG_STATUS_OK;
}

rg_status rg_trainer_new(const rg_model *m, const char *entry,
                         rg_runtime *rt, const rg_plan_options *options,
                         rg_trainer **out, rg_error *err)
{
    rg_trainer *t = calloc(1, sizeof(*t));
    rg_status st;

    *out = NULL;
    if (t == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    entry = entry != NULL ? entry : "train";
    st = rg_model_build(m, entry, &t->graph, err);
    if (st == RG_STATUS_OK) {
        st = rg_plan_build(t->graph, options, &t->plan, err);
    }
    if (st == RG_STATUS_OK) {
        st = find_data_input(t, entry, err);
    }
    if (st == RG_STATUS_OK) {
        st = find_metrics(t, err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_new(rt, t->plan, &t->exec, err);
    }
    if (st == RG_STATUS_OK) {
        rg_exec_set_model_hypers(t->exec, m);
    }
    if (st != RG_STATUS_OK) {
        rg_trainer_free(t);
        return st;
    }
    t->rt = rt;
    t->metric_interval = 1;
    *out = t;
    return RG_STATUS_OK;
}

rg_status rg_trainer_set_metric_interval(rg_trainer *t, int64_t n,
                                         rg_error *err)
{
    if (n < 1) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "metric interval %lld is invalid; expected 1 or "
                            "more minibatches", (long long)n);
    }
    t->metric_interval = n;
    return RG_STATUS_OK;
}

const char *rg_trainer_input_name(const rg_trainer *t)
{
    return t->input;
}

int64_t rg_trainer_batch_size(const rg_trainer *t)
{
    return t->batch;
}

int64_t rg_trainer_n_features(const rg_trainer *t)
{
    return t->n_features;
}

int rg_trainer_n_metrics(const rg_trainer *t)
{
    return t->n_metrics;
}

const char *rg_trainer_metric_name(const rg_trainer *t, int index)
{
    RG_ASSERT(index >= 0 && index < t->n_metrics);
    return rg_plan_output_name(t->plan, t->metric_outputs[index]);
}

const rg_plan *rg_trainer_plan(const rg_trainer *t)
{
    return t->plan;
}

uint64_t rg_trainer_step(const rg_trainer *t)
{
    return t->step;
}

void rg_trainer_set_step(rg_trainer *t, uint64_t step)
{
    t->step = step;
}

static rg_status check_data(const rg_trainer *t, const rg_dataset *ds,
                            rg_error *err)
{
    if (rg_dataset_n_cols(ds) != t->n_features) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "the data has %lld values per example but input "
                            "'%s' expects %lld; pick data that matches the "
                            "model or change its dims with --set",
                            (long long)rg_dataset_n_cols(ds), t->input,
                            (long long)t->n_features);
    }
    if (rg_dataset_n_rows(ds) < t->batch) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "the data has %lld examples, fewer than one "
                            "minibatch of %lld; use a smaller batch with "
                            "--set batch=N", (long long)rg_dataset_n_rows(ds),
                            (long long)t->batch);
    }
    return RG_STATUS_OK;
}

/* Formats a float for a message, spelling NaN and Inf without a sign
 * bit's "-nan". */
static const char *value_str(float value, char *buf, size_t size)
{
    if (isnan(value)) {
        return "NaN";
    }
    if (isinf(value)) {
        return value > 0 ? "Inf" : "-Inf";
    }
    snprintf(buf, size, "%g", (double)value);
    return buf;
}

/* The first NaN or Inf in the runtime's persistent tensors. */
typedef struct nonfinite {
    int tensor; /* runtime tensor index, or -1 when every value is finite */
    int64_t element;
    float value;
} nonfinite;

/* Scans params and state, in creation order, for the first NaN or Inf. */
static rg_status find_nonfinite(const rg_trainer *t, nonfinite *out,
                                rg_error *err)
{
    rg_status st = RG_STATUS_OK;

    out->tensor = -1;
    for (int i = 0; i < rg_runtime_n_tensors(t->rt) && out->tensor < 0
                    && st == RG_STATUS_OK; i++) {
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(t->rt, i));
        float *values = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));

        if (values == NULL) {
            return rg_error_set(err, RG_STATUS_NO_MEMORY,
                                "out of memory checking tensors for NaN");
        }
        st = rg_runtime_read(t->rt, rg_runtime_tensor_name(t->rt, i), values,
                             n, err);
        for (int64_t k = 0; k < n && st == RG_STATUS_OK; k++) {
            if (!isfinite(values[k])) {
                *out = (nonfinite){i, k, values[k]};
                break;
            }
        }
        free(values);
    }
    return st;
}

/* Fails with RG_STATUS_NUMERIC for metric `name` = `value`, naming the
 * first param or state tensor that is no longer finite. */
static rg_status metric_diverged(const rg_trainer *t, const char *name,
                                 float value, rg_error *err)
{
    char metric_text[32];
    char tensor_text[32];
    nonfinite bad;
    rg_status st = find_nonfinite(t, &bad, err);

    if (st != RG_STATUS_OK) {
        return st;
    }
    if (bad.tensor < 0) {
        return rg_error_set(err, RG_STATUS_NUMERIC,
                            "metric '%s' is %s at step %llu, while params "
                            "and state are still finite; training diverged "
                            "(try a smaller learning rate)", name,
                            value_str(value, metric_text, sizeof(metric_text)),
                            (unsigned long long)t->step);
    }
    return rg_error_set(err, RG_STATUS_NUMERIC,
                        "metric '%s' is %s at step %llu, and tensor '%s' "
                        "has %s at element %lld; training diverged (try a "
                        "smaller learning rate)", name,
                        value_str(value, metric_text, sizeof(metric_text)),
                        (unsigned long long)t->step,
                        rg_runtime_tensor_name(t->rt, bad.tensor),
                        value_str(bad.value, tensor_text, sizeof(tensor_text)),
                        (long long)bad.element);
}

/* Fails with RG_STATUS_NUMERIC when a param or state tensor contains a
 * NaN or Inf after the last step of an epoch. */
static rg_status check_tensors_finite(const rg_trainer *t, rg_error *err)
{
    char text[32];
    nonfinite bad;
    rg_status st = find_nonfinite(t, &bad, err);

    if (st != RG_STATUS_OK || bad.tensor < 0) {
        return st;
    }
    return rg_error_set(err, RG_STATUS_NUMERIC,
                        "tensor '%s' has %s at element %lld after step %llu; "
                        "training diverged (try a smaller learning rate)",
                        rg_runtime_tensor_name(t->rt, bad.tensor),
                        value_str(bad.value, text, sizeof(text)),
                        (long long)bad.element,
                        (unsigned long long)(t->step - 1));
}

/*
 * Sets the data input to the listed rows. Byte data crosses to the
 * device as bytes, a quarter of the float size, and is scaled there;
 * other data is gathered into `floats` first.
 */
static rg_status upload_batch(rg_trainer *t, const rg_dataset *ds,
                              const int64_t *rows, float *floats,
                              uint8_t *bytes, rg_error *err)
{
    int64_t n = t->batch * t->n_features;

    if (rg_dataset_gather_bytes(ds, rows, t->batch, bytes)) {
        return rg_exec_set_input_u8(t->exec, t->input, bytes, n,
                                    RG_BYTE_SCALE, err);
    }
    rg_dataset_gather(ds, rows, t->batch, floats);
    return rg_exec_set_input(t->exec, t->input, floats, n, err);
}

/* Runs one minibatch and, when `read_metrics`, adds its metrics to `sums`. */
static rg_status run_batch(rg_trainer *t, double *sums, bool read_metrics,
                           rg_error *err)
{
    rg_status st = rg_exec_run(t->exec, t->step, err);

    for (int i = 0; i < t->n_metrics && st == RG_STATUS_OK && read_metrics;
         i++) {
        const char *name = rg_trainer_metric_name(t, i);
        float value;

        st = rg_exec_get_output(t->exec, name, &value, 1, err);
        if (st == RG_STATUS_OK && !isfinite(value)) {
            st = metric_diverged(t, name, value, err);
        }
        sums[i] += value;
    }
    t->step++;
    return st;
}

rg_status rg_trainer_run_epoch(rg_trainer *t, const rg_dataset *ds,
                               uint64_t seed, uint64_t epoch,
                               rg_batch_fn on_batch, void *user,
                               rg_epoch_stats *stats, rg_error *err)
{
    rg_status st = check_data(t, ds, err);

    if (st != RG_STATUS_OK) {
        return st;
    }
    int64_t n_rows = rg_dataset_n_rows(ds);
    int64_t n_batches = n_rows / t->batch;
    int64_t *order = malloc((size_t)n_rows * sizeof(*order));
    float *batch = malloc((size_t)(t->batch * t->n_features) *
                          sizeof(*batch));
    uint8_t *bytes = malloc((size_t)(t->batch * t->n_features));
    if (order == NULL || batch == NULL || bytes == NULL) {
        free(order);
        free(batch);
        free(bytes);
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }

    double start = clock_seconds();
    rg_shuffle(seed, epoch, n_rows, order);
    memset(t->means, 0, (size_t)t->n_metrics * sizeof(double));
    int64_t n_read = 0;
    for (int64_t b = 0; b < n_batches && st == RG_STATUS_OK; b++) {
        bool read_metrics = b % t->metric_interval == 0;

        st = upload_batch(t, ds, order + b * t->batch, batch, bytes, err);
        if (st == RG_STATUS_OK) {
            st = run_batch(t, t->means, read_metrics, err);
        }
        n_read += read_metrics ? 1 : 0;
        if (on_batch != NULL) {
            on_batch(b + 1, n_batches, user);
        }
    }
    if (st == RG_STATUS_OK) {
        st = check_tensors_finite(t, err);
    }
    for (int i = 0; i < t->n_metrics; i++) {
        t->means[i] /= (double)n_read;
    }
    stats->n_samples = n_batches * t->batch;
    stats->seconds = clock_seconds() - start;
    stats->metrics = t->means;

    free(order);
    free(batch);
    free(bytes);
    return st;
}
