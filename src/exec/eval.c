/*
 * Evaluation drivers: per-row means over a data set, the pseudo-likelihood
 * driver and annealed importance sampling (AIS). Each entry point is built
 * and bound once, on first use, and kept until the evaluator is freed.
 *
 * Invariant: the drivers never compute model math themselves. They feed
 * data rows, one-hot masks and inverse temperatures, and they sum, average
 * or log-mean-exp the scalars that entries output, always in double.
 */
#include "rbmgraph/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/clock.h"
#include "exec/runtime_internal.h"
#include "graph/error_internal.h"
#include "kernels/philox.h"

/* Philox stream of the pseudo-likelihood coordinates. Graph draws use node
 * ids as streams and the data shuffle uses 0xffff0001. */
#define EVAL_FLIP_STREAM 0xffff0002u

/* Names fixed by the entry conventions in rbmgraph/eval.h. */
#define EVAL_DATA_INPUT "v0"
#define EVAL_FLIP_INPUT "flip"
#define EVAL_CHAIN_INPUT "vs"

typedef struct eval_entry {
    char *name;
    rg_plan *plan;
    rg_exec *exec;
} eval_entry;

struct rg_eval {
    const rg_model *model;
    rg_runtime *rt;
    rg_plan_options options;
    eval_entry *entries; /* built so far */
    int n_entries;
};

rg_status rg_eval_new(const rg_model *m, rg_runtime *rt,
                      const rg_plan_options *options, rg_eval **out,
                      rg_error *err)
{
    rg_eval *ev;

    *out = NULL;
    if (m == NULL || rt == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_eval_new: the model and runtime must not be "
                            "NULL");
    }
    ev = calloc(1, sizeof(*ev));
    if (ev == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    ev->model = m;
    ev->rt = rt;
    ev->options = options != NULL ? *options : rg_plan_options_default();
    *out = ev;
    return RG_STATUS_OK;
}

void rg_eval_free(rg_eval *ev)
{
    if (ev == NULL) {
        return;
    }
    for (int i = 0; i < ev->n_entries; i++) {
        rg_exec_free(ev->entries[i].exec);
        rg_plan_free(ev->entries[i].plan);
        free(ev->entries[i].name);
    }
    free(ev->entries);
    free(ev);
}

bool rg_eval_has_entry(const rg_eval *ev, const char *entry)
{
    for (int i = 0; i < rg_model_n_entries(ev->model); i++) {
        if (strcmp(rg_model_entry_name(ev->model, i), entry) == 0) {
            return true;
        }
    }
    return false;
}

/* --- entries -------------------------------------------------------------- */

/* Builds, plans and binds `entry` into `e`, freeing what it made on error. */
static rg_status build_entry(rg_eval *ev, const char *entry, eval_entry *e,
                             rg_error *err)
{
    rg_graph *g = NULL;
    rg_status st;

    memset(e, 0, sizeof(*e));
    e->name = strdup(entry);
    if (e->name == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    st = rg_model_build(ev->model, entry, &g, err);
    if (st == RG_STATUS_OK) {
        st = rg_plan_build(g, &ev->options, &e->plan, err);
    }
    rg_graph_free(g);
    if (st == RG_STATUS_OK) {
        st = rg_exec_new(ev->rt, e->plan, &e->exec, err);
    }
    if (st == RG_STATUS_OK) {
        rg_exec_set_model_hypers(e->exec, ev->model);
    }
    if (st != RG_STATUS_OK) {
        rg_exec_free(e->exec);
        rg_plan_free(e->plan);
        free(e->name);
        memset(e, 0, sizeof(*e));
    }
    return st;
}

rg_status rg_eval_exec(rg_eval *ev, const char *entry, rg_exec **exec,
                       const rg_plan **plan, rg_error *err)
{
    eval_entry *grown;
    rg_status st;

    for (int i = 0; i < ev->n_entries; i++) {
        if (strcmp(ev->entries[i].name, entry) == 0) {
            *exec = ev->entries[i].exec;
            if (plan != NULL) {
                *plan = ev->entries[i].plan;
            }
            return RG_STATUS_OK;
        }
    }
    if (!rg_eval_has_entry(ev, entry)) {
        return rg_error_set(err, RG_STATUS_NOT_FOUND,
                            "model '%s' has no entry point '%s'; add it to "
                            "the model file (docs/model-format.md describes "
                            "the evaluation entries)",
                            rg_model_name(ev->model), entry);
    }
    grown = realloc(ev->entries,
                    (size_t)(ev->n_entries + 1) * sizeof(*ev->entries));
    if (grown == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    ev->entries = grown;
    st = build_entry(ev, entry, &ev->entries[ev->n_entries], err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    *exec = ev->entries[ev->n_entries].exec;
    if (plan != NULL) {
        *plan = ev->entries[ev->n_entries].plan;
    }
    ev->n_entries++;
    return RG_STATUS_OK;
}

/* Returns the index of the plan's input `name`, or -1. */
static int find_input(const rg_plan *plan, const char *name)
{
    for (int i = 0; i < rg_plan_n_inputs(plan); i++) {
        if (strcmp(rg_plan_input_name(plan, i), name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Returns the index of the plan's output `name`, or -1. */
static int find_output(const rg_plan *plan, const char *name)
{
    for (int i = 0; i < rg_plan_n_outputs(plan); i++) {
        if (strcmp(rg_plan_output_name(plan, i), name) == 0) {
            return i;
        }
    }
    return -1;
}

/*
 * Checks that output `name` of `entry` exists with `rank` dimensions
 * whose first is `rows` (rank 0 ignores `rows`), and stores its element
 * count in *n_elements.
 */
static rg_status check_output(const rg_plan *plan, const char *entry,
                              const char *name, int rank, int64_t rows,
                              int64_t *n_elements, rg_error *err)
{
    char buf[64];
    int index = find_output(plan, name);

    if (index < 0) {
        return rg_error_set(err, RG_STATUS_MODEL,
                            "entry '%s' has no output '%s'; evaluation "
                            "needs it", entry, name);
    }
    rg_shape s = rg_plan_output_shape(plan, index);
    if (s.rank != rank || (rank > 0 && s.dims[0] != rows)) {
        return rg_error_set(err, RG_STATUS_SHAPE,
                            "output '%s' of entry '%s' has shape %s; "
                            "expected %s with %lld rows", name, entry,
                            rg_shape_str(s, buf, sizeof(buf)),
                            rank == 0 ? "a scalar"
                                      : rank == 1 ? "one value per row"
                                                  : "a matrix",
                            (long long)rows);
    }
    *n_elements = rg_shape_numel(s);
    return RG_STATUS_OK;
}

/* --- per-row drivers ------------------------------------------------------ */

/* Receives each minibatch's outputs. Rows first .. first + n_real - 1 of
 * the data are real and the rest of the minibatch is padding. */
typedef rg_status (*rows_consume_fn)(void *user, rg_exec *ex, int64_t first,
                                     int64_t n_real, rg_error *err);

/* One pass of an entry over the leading rows of a data set. */
typedef struct rows_pass {
    const char *entry;
    const rg_dataset *ds;
    int64_t n_rows;
    uint64_t step;
    bool flip;             /* fill input flip with one-hot rows */
    rows_consume_fn consume;
    void *user;
} rows_pass;

/* Finds the entry's data input and checks it against the data set. */
static rg_status find_data_input(const rg_plan *plan, const rows_pass *p,
                                 const char **name, int64_t *batch,
                                 rg_error *err)
{
    char buf[64];
    int index = rg_plan_n_inputs(plan) == 1 ? 0
                                            : find_input(plan, EVAL_DATA_INPUT);

    if (index < 0) {
        return rg_error_set(err, RG_STATUS_MODEL,
                            "entry '%s' reads %d inputs and none is named "
                            "'" EVAL_DATA_INPUT "'; evaluation feeds the "
                            "data to the only input or to '" EVAL_DATA_INPUT
                            "'", p->entry, rg_plan_n_inputs(plan));
    }
    rg_shape s = rg_plan_input_shape(plan, index);
    *name = rg_plan_input_name(plan, index);
    if (s.rank != 2 || s.dims[1] != rg_dataset_n_cols(p->ds)) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "input '%s' of entry '%s' has shape %s but the "
                            "data has %lld values per example; pick data "
                            "that matches the model", *name, p->entry,
                            rg_shape_str(s, buf, sizeof(buf)),
                            (long long)rg_dataset_n_cols(p->ds));
    }
    *batch = s.dims[0];
    if (p->flip && find_input(plan, EVAL_FLIP_INPUT) < 0) {
        return rg_error_set(err, RG_STATUS_MODEL,
                            "entry '%s' has no input '" EVAL_FLIP_INPUT
                            "' of shape %s for the coordinates to flip",
                            p->entry, rg_shape_str(s, buf, sizeof(buf)));
    }
    return RG_STATUS_OK;
}

/*
 * Fills `mask` [batch, n_cols] with zeros and, in each row, a 1 at a
 * coordinate drawn uniformly from (seed, step, row). The draw is the
 * high 32 bits of a Philox word times n_cols, whose bias is below
 * n_cols / 2^32.
 */
static void fill_flip_mask(uint64_t seed, uint64_t step, int64_t first_row,
                           int64_t batch, int64_t n_cols, float *mask)
{
    memset(mask, 0, (size_t)(batch * n_cols) * sizeof(float));
    for (int64_t r = 0; r < batch; r++) {
        rg_philox_u4 b = rg_philox_draw_block(seed, step, EVAL_FLIP_STREAM,
                                              (uint64_t)(first_row + r));
        int64_t col = (int64_t)(((uint64_t)b.v[0] * (uint64_t)n_cols) >> 32);

        mask[r * n_cols + col] = 1.0f;
    }
}

static rg_status run_rows(rg_eval *ev, const rows_pass *p, rg_error *err)
{
    const rg_plan *plan;
    rg_exec *ex;
    const char *input;
    int64_t batch;
    int64_t n_cols = rg_dataset_n_cols(p->ds);
    rg_status st = rg_eval_exec(ev, p->entry, &ex, &plan, err);

    if (st == RG_STATUS_OK) {
        st = find_data_input(plan, p, &input, &batch, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    int64_t *rows = malloc((size_t)batch * sizeof(*rows));
    float *values = malloc((size_t)(batch * n_cols) * sizeof(*values));
    float *mask = p->flip ? malloc((size_t)(batch * n_cols) * sizeof(*mask))
                          : NULL;
    if (rows == NULL || values == NULL || (p->flip && mask == NULL)) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }

    /* Rows past the end repeat the last real row: [batch, n_cols]. */
    uint64_t step = p->step;
    for (int64_t first = 0; first < p->n_rows && st == RG_STATUS_OK;
         first += batch, step++) {
        int64_t n_real = p->n_rows - first < batch ? p->n_rows - first : batch;

        for (int64_t r = 0; r < batch; r++) {
            rows[r] = first + (r < n_real ? r : n_real - 1);
        }
        rg_dataset_gather(p->ds, rows, batch, values);
        st = rg_exec_set_input(ex, input, values, batch * n_cols, err);
        if (st == RG_STATUS_OK && p->flip) {
            fill_flip_mask(ev->rt->seed, p->step, first, batch, n_cols, mask);
            st = rg_exec_set_input(ex, EVAL_FLIP_INPUT, mask, batch * n_cols,
                                   err);
        }
        if (st == RG_STATUS_OK) {
            st = rg_exec_run(ex, step, err);
        }
        if (st == RG_STATUS_OK) {
            st = p->consume(p->user, ex, first, n_real, err);
        }
    }
    free(rows);
    free(values);
    free(mask);
    return st;
}

/* Per-row outputs summed over real rows, for rg_eval_row_means. */
typedef struct row_sums {
    int n_outputs;
    const char *const *outputs;
    int64_t batch;
    double *sums;  /* [n_outputs] */
    float *buffer; /* [batch] */
} row_sums;

static rg_status add_row_sums(void *user, rg_exec *ex, int64_t first,
                              int64_t n_real, rg_error *err)
{
    row_sums *s = user;

    (void)first;
    for (int i = 0; i < s->n_outputs; i++) {
        rg_status st = rg_exec_get_output(ex, s->outputs[i], s->buffer,
                                          s->batch, err);
        if (st != RG_STATUS_OK) {
            return st;
        }
        for (int64_t r = 0; r < n_real; r++) {
            s->sums[i] += s->buffer[r];
        }
    }
    return RG_STATUS_OK;
}

/* Checks the arguments shared by the per-row drivers and resolves n_rows. */
static rg_status check_rows(const rg_dataset *ds, int64_t *n_rows,
                            rg_error *err)
{
    if (ds == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "evaluation needs a data set, not NULL");
    }
    if (*n_rows < 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "row count %lld is invalid; expected 0 (all "
                            "rows) or more", (long long)*n_rows);
    }
    if (*n_rows == 0 || *n_rows > rg_dataset_n_rows(ds)) {
        *n_rows = rg_dataset_n_rows(ds);
    }
    return RG_STATUS_OK;
}

/* Builds `entry` and checks that each output has one value per row. */
static rg_status check_row_outputs(rg_eval *ev, const char *entry,
                                   int n_outputs, const char *const *outputs,
                                   int64_t *batch, rg_error *err)
{
    const rg_plan *plan;
    rg_exec *ex;
    int64_t n = 0;
    rg_status st = rg_eval_exec(ev, entry, &ex, &plan, err);

    *batch = 0;
    for (int i = 0; st == RG_STATUS_OK && i < rg_plan_n_inputs(plan); i++) {
        rg_shape s = rg_plan_input_shape(plan, i);
        *batch = s.rank > 0 ? s.dims[0] : *batch;
    }
    for (int i = 0; i < n_outputs && st == RG_STATUS_OK; i++) {
        st = check_output(plan, entry, outputs[i], 1, *batch, &n, err);
    }
    return st;
}

rg_status rg_eval_row_means(rg_eval *ev, const char *entry,
                            const rg_dataset *ds, int64_t n_rows,
                            uint64_t step, int n_outputs,
                            const char *const *outputs, double *means,
                            rg_error *err)
{
    row_sums sums = {n_outputs, outputs, 0, NULL, NULL};
    rows_pass pass = {entry, ds, n_rows, step, false, add_row_sums, &sums};
    rg_status st = check_rows(ds, &pass.n_rows, err);

    if (st == RG_STATUS_OK) {
        st = check_row_outputs(ev, entry, n_outputs, outputs, &sums.batch,
                               err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    sums.sums = calloc((size_t)(n_outputs > 0 ? n_outputs : 1),
                       sizeof(double));
    sums.buffer = malloc((size_t)sums.batch * sizeof(float));
    if (sums.sums == NULL || sums.buffer == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    if (st == RG_STATUS_OK) {
        st = run_rows(ev, &pass, err);
    }
    for (int i = 0; i < n_outputs && st == RG_STATUS_OK; i++) {
        means[i] = sums.sums[i] / (double)pass.n_rows;
    }
    free(sums.sums);
    free(sums.buffer);
    return st;
}

rg_status rg_eval_pseudo_likelihood(rg_eval *ev, const rg_dataset *ds,
                                    int64_t n_rows, uint64_t step,
                                    double *mean, rg_error *err)
{
    static const char *const outputs[] = {"log_pl"};
    double sum = 0.0;
    row_sums sums = {1, outputs, 0, &sum, NULL};
    rows_pass pass = {"pseudo_likelihood", ds, n_rows, step, true,
                      add_row_sums, &sums};
    rg_status st = check_rows(ds, &pass.n_rows, err);

    if (st == RG_STATUS_OK) {
        st = check_row_outputs(ev, pass.entry, 1, outputs, &sums.batch, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    sums.buffer = malloc((size_t)sums.batch * sizeof(float));
    if (sums.buffer == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    st = run_rows(ev, &pass, err);
    if (st == RG_STATUS_OK) {
        *mean = sum / (double)pass.n_rows;
    }
    free(sums.buffer);
    return st;
}

/* Output rows copied into a [n_rows, k] array, for rg_eval_map_rows. */
typedef struct row_copy {
    const char *output;
    int64_t n_elements; /* batch * k */
    int64_t k;
    float *buffer;      /* [batch, k] */
    float *dst;         /* [n_rows, k] */
} row_copy;

static rg_status copy_rows(void *user, rg_exec *ex, int64_t first,
                           int64_t n_real, rg_error *err)
{
    row_copy *c = user;
    rg_status st = rg_exec_get_output(ex, c->output, c->buffer,
                                      c->n_elements, err);

    if (st == RG_STATUS_OK) {
        memcpy(c->dst + first * c->k, c->buffer,
               (size_t)(n_real * c->k) * sizeof(float));
    }
    return st;
}

rg_status rg_eval_map_rows(rg_eval *ev, const char *entry,
                           const char *output, const rg_dataset *ds,
                           uint64_t step, float **dst, int64_t *n_cols,
                           rg_error *err)
{
    row_copy copy = {output, 0, 0, NULL, NULL};
    rows_pass pass = {entry, ds, 0, step, false, copy_rows, &copy};
    const rg_plan *plan;
    rg_exec *ex;
    const char *input;
    int64_t batch = 0;
    rg_status st = check_rows(ds, &pass.n_rows, err);

    *dst = NULL;
    if (st == RG_STATUS_OK) {
        st = rg_eval_exec(ev, entry, &ex, &plan, err);
    }
    if (st == RG_STATUS_OK) {
        st = find_data_input(plan, &pass, &input, &batch, err);
    }
    if (st == RG_STATUS_OK) {
        st = check_output(plan, entry, output, 2, batch, &copy.n_elements,
                          err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    copy.k = copy.n_elements / batch;
    copy.buffer = malloc((size_t)copy.n_elements * sizeof(float));
    copy.dst = malloc((size_t)(pass.n_rows * copy.k) * sizeof(float));
    if (copy.buffer == NULL || copy.dst == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY,
                          "out of memory for %lld x %lld outputs",
                          (long long)pass.n_rows, (long long)copy.k);
    }
    if (st == RG_STATUS_OK) {
        st = run_rows(ev, &pass, err);
    }
    free(copy.buffer);
    if (st != RG_STATUS_OK) {
        free(copy.dst);
        return st;
    }
    *dst = copy.dst;
    *n_cols = copy.k;
    return RG_STATUS_OK;
}

/* --- annealed importance sampling ----------------------------------------- */

/* Checks the schedule: K >= 1 and, when given, 0 = b_0 <= ... <= b_K = 1. */
static rg_status check_schedule(const rg_ais_options *o, rg_error *err)
{
    if (o->n_betas < 1) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "AIS needs at least 1 annealing step, got %lld",
                            (long long)o->n_betas);
    }
    if (o->betas == NULL) {
        return RG_STATUS_OK;
    }
    if (o->betas[0] != 0.0 || o->betas[o->n_betas] != 1.0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "the AIS schedule runs from %g to %g; it must "
                            "start at 0 and end at 1", o->betas[0],
                            o->betas[o->n_betas]);
    }
    for (int64_t k = 1; k <= o->n_betas; k++) {
        if (!(o->betas[k] >= o->betas[k - 1])) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "AIS inverse temperature %lld is %g, below "
                                "the one before it (%g); the schedule must "
                                "not decrease", (long long)k, o->betas[k],
                                o->betas[k - 1]);
        }
    }
    return RG_STATUS_OK;
}

static double schedule_beta(const rg_ais_options *o, int64_t k)
{
    if (o->betas != NULL) {
        return o->betas[k];
    }
    return k == o->n_betas ? 1.0 : (double)k / (double)o->n_betas;
}

/* The two AIS executors and the chain state they pass along. */
typedef struct ais_chains {
    rg_exec *init;
    rg_exec *step;
    int64_t n_chains;
    int64_t n_state; /* elements of vs: n_chains * n */
    float *state;    /* [n_chains, n] */
    float *log_w;    /* [n_chains], one step's increments */
    double *weights; /* [n_chains], accumulated log weights */
} ais_chains;

/* Builds both entries and checks their inputs and outputs. */
static rg_status ais_bind(rg_eval *ev, ais_chains *c, rg_error *err)
{
    const rg_plan *init_plan;
    const rg_plan *step_plan;
    char buf[64];
    int64_t n = 0;
    rg_status st = rg_eval_exec(ev, "ais_init", &c->init, &init_plan, err);

    if (st == RG_STATUS_OK) {
        st = rg_eval_exec(ev, "ais_step", &c->step, &step_plan, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    int index = find_input(step_plan, EVAL_CHAIN_INPUT);
    if (index < 0) {
        return rg_error_set(err, RG_STATUS_MODEL,
                            "entry 'ais_step' has no input '"
                            EVAL_CHAIN_INPUT "' for the chain state");
    }
    rg_shape s = rg_plan_input_shape(step_plan, index);
    if (s.rank != 2) {
        return rg_error_set(err, RG_STATUS_SHAPE,
                            "input '" EVAL_CHAIN_INPUT "' of entry "
                            "'ais_step' has shape %s; expected [chains, n]",
                            rg_shape_str(s, buf, sizeof(buf)));
    }
    c->n_chains = s.dims[0];
    c->n_state = rg_shape_numel(s);
    st = check_output(init_plan, "ais_init", EVAL_CHAIN_INPUT, 2, c->n_chains,
                      &n, err);
    if (st == RG_STATUS_OK) {
        st = check_output(init_plan, "ais_init", "log_z_base", 0, 0, &n, err);
    }
    if (st == RG_STATUS_OK) {
        st = check_output(step_plan, "ais_step", EVAL_CHAIN_INPUT, 2,
                          c->n_chains, &n, err);
    }
    if (st == RG_STATUS_OK) {
        st = check_output(step_plan, "ais_step", "log_w", 1, c->n_chains, &n,
                          err);
    }
    return st;
}

/* Draws the first state from the base model and returns its log Z. */
static rg_status ais_start(ais_chains *c, uint64_t step, double *log_z_base,
                           rg_error *err)
{
    float value = 0.0f;
    rg_status st;

    memset(c->state, 0, (size_t)c->n_state * sizeof(float));
    st = rg_exec_set_input(c->init, EVAL_CHAIN_INPUT, c->state, c->n_state,
                           err);
    if (st == RG_STATUS_NOT_FOUND) {
        st = RG_STATUS_OK; /* the plan never reads the input's values */
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_run(c->init, step, err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_get_output(c->init, EVAL_CHAIN_INPUT, c->state,
                                c->n_state, err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_get_output(c->init, "log_z_base", &value, 1, err);
    }
    *log_z_base = value;
    return st;
}

/* Runs annealing step k from beta_prev to beta and adds its log weights. */
static rg_status ais_advance(ais_chains *c, int64_t k, uint64_t step,
                             double beta_prev, double beta, rg_error *err)
{
    rg_status st = rg_exec_set_hyper(c->step, "beta_prev", beta_prev, err);

    if (st == RG_STATUS_OK) {
        st = rg_exec_set_hyper(c->step, "beta", beta, err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_set_input(c->step, EVAL_CHAIN_INPUT, c->state,
                               c->n_state, err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_run(c->step, step, err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_get_output(c->step, "log_w", c->log_w, c->n_chains,
                                err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_get_output(c->step, EVAL_CHAIN_INPUT, c->state,
                                c->n_state, err);
    }
    for (int64_t i = 0; i < c->n_chains && st == RG_STATUS_OK; i++) {
        if (!isfinite(c->log_w[i])) {
            return rg_error_set(err, RG_STATUS_NUMERIC,
                                "AIS log weight of chain %lld is %g at "
                                "annealing step %lld (beta %g); the model's "
                                "params may have diverged", (long long)i,
                                (double)c->log_w[i], (long long)k, beta);
        }
        c->weights[i] += c->log_w[i];
    }
    return st;
}

/*
 * Combines the chains' log weights w_i into log Z. With a = max w_i and
 * r_i = exp(w_i - a), Z = Z_base exp(a) mean(r), so every exp stays
 * below 1 however large the weights are.
 */
static void ais_combine(const ais_chains *c, double log_z_base,
                        rg_ais_result *out)
{
    int64_t m = c->n_chains;
    double max = c->weights[0];
    double sum_r = 0.0, sum_r2 = 0.0, sum_w = 0.0, sum_w2 = 0.0;

    for (int64_t i = 1; i < m; i++) {
        max = c->weights[i] > max ? c->weights[i] : max;
    }
    for (int64_t i = 0; i < m; i++) {
        double r = exp(c->weights[i] - max);
        sum_r += r;
        sum_r2 += r * r;
        sum_w += c->weights[i];
    }
    double mean_r = sum_r / (double)m;
    double mean_w = sum_w / (double)m;
    for (int64_t i = 0; i < m; i++) {
        sum_w2 += (c->weights[i] - mean_w) * (c->weights[i] - mean_w);
    }
    double var_r = m > 1 ? (sum_r2 - (double)m * mean_r * mean_r)
                               / (double)(m - 1)
                         : 0.0;
    double stderr_r = sqrt(var_r > 0.0 ? var_r : 0.0) / sqrt((double)m);
    double base = log_z_base + max;

    out->n_chains = m;
    out->log_z_base = log_z_base;
    out->log_z = base + log(mean_r);
    out->log_z_high = base + log(mean_r + 3.0 * stderr_r);
    out->log_z_low = mean_r - 3.0 * stderr_r > 0.0
                         ? base + log(mean_r - 3.0 * stderr_r)
                         : -INFINITY;
    out->log_w_mean = mean_w;
    out->log_w_std = m > 1 ? sqrt(sum_w2 / (double)(m - 1)) : 0.0;
}

rg_status rg_eval_ais(rg_eval *ev, const rg_ais_options *options,
                      rg_ais_result *out, rg_error *err)
{
    ais_chains c = {0};
    double log_z_base = 0.0;
    double start = clock_seconds();
    rg_status st = check_schedule(options, err);

    if (st == RG_STATUS_OK) {
        st = ais_bind(ev, &c, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    c.state = malloc((size_t)c.n_state * sizeof(float));
    c.log_w = malloc((size_t)c.n_chains * sizeof(float));
    c.weights = calloc((size_t)c.n_chains, sizeof(double));
    if (c.state == NULL || c.log_w == NULL || c.weights == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    if (st == RG_STATUS_OK) {
        st = ais_start(&c, options->step, &log_z_base, err);
    }
    for (int64_t k = 1; k <= options->n_betas && st == RG_STATUS_OK; k++) {
        st = ais_advance(&c, k, options->step + (uint64_t)k,
                         schedule_beta(options, k - 1),
                         schedule_beta(options, k), err);
        if (st == RG_STATUS_OK && options->on_progress != NULL) {
            options->on_progress(k, options->n_betas, options->user);
        }
    }
    if (st == RG_STATUS_OK) {
        ais_combine(&c, log_z_base, out);
        out->n_betas = options->n_betas;
        out->seconds = clock_seconds() - start;
    }
    free(c.state);
    free(c.log_w);
    free(c.weights);
    return st;
}
