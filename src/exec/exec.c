/*
 * The executor: binds a plan to a runtime and walks its steps. It owns the
 * plan's arena and the table that maps the plan's buffer numbers to
 * backend buffers (0: arena, 1: inputs, 2 + i: the plan's persistent
 * tensor i).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/clock.h"
#include "exec/runtime_internal.h"
#include "graph/error_internal.h"
#include "graph/plan_internal.h"

struct rg_exec {
    rg_runtime *rt;
    const rg_plan *plan;
    backend_buffer *arena;
    backend_buffer *inputs;
    backend_buffer **buffers;  /* [2 + n_persistent] */
    float *scalars;            /* [n_scalars]; hypers NaN until set */
    bool *input_set;           /* [n_inputs] */
    const kp_program **kernels; /* [n_kernels]: the plan's kernel steps */
    int n_kernels;
    bool kernels_prepared;     /* prepared by the backend */
};

void rg_exec_free(rg_exec *ex)
{
    if (ex == NULL) {
        return;
    }
    if (ex->arena != NULL) {
        ex->rt->backend->ops->buffer_free(ex->rt->backend, ex->arena);
    }
    if (ex->inputs != NULL) {
        ex->rt->backend->ops->buffer_free(ex->rt->backend, ex->inputs);
    }
    if (ex->kernels_prepared) {
        ex->rt->backend->ops->release_kernels(ex->rt->backend, ex->kernels,
                                              ex->n_kernels);
    }
    free(ex->kernels);
    free(ex->buffers);
    free(ex->scalars);
    free(ex->input_set);
    free(ex);
}

/* Creates or checks each persistent tensor and fills the buffer table. */
static rg_status bind_persistent(rg_exec *ex, rg_error *err)
{
    const rg_plan *plan = ex->plan;

    for (int i = 0; i < plan->n_persistent; i++) {
        const plan_persistent *p = &plan->persistent[i];
        rg_status st = rg_runtime_add_tensor(ex->rt, p->name, p->shape,
                                             p->init, err);
        if (st != RG_STATUS_OK) {
            return st;
        }
        int index = rg_runtime_find_tensor(ex->rt, p->name);
        ex->buffers[PLAN_FIRST_PERSISTENT_BUFFER + i] =
            ex->rt->tensors[index].buffer;
    }
    return RG_STATUS_OK;
}

/*
 * Hands the plan's kernel programs to the backend, which may compile them
 * now (the OpenCL backend does) rather than during the first run.
 */
static rg_status prepare_kernels(rg_exec *ex, rg_error *err)
{
    backend *be = ex->rt->backend;
    const rg_plan *plan = ex->plan;

    if (be->ops->prepare_kernels == NULL) {
        return RG_STATUS_OK;
    }
    ex->kernels = malloc(((size_t)plan->n_steps + 1) * sizeof(*ex->kernels));
    if (ex->kernels == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < plan->n_steps; i++) {
        if (plan->steps[i].kind == PLAN_STEP_KERNEL) {
            ex->kernels[ex->n_kernels++] = plan->steps[i].kernel;
        }
    }
    rg_status st = be->ops->prepare_kernels(be, ex->kernels, ex->n_kernels,
                                            err);
    ex->kernels_prepared = st == RG_STATUS_OK;
    return st;
}

rg_status rg_exec_new(rg_runtime *rt, const rg_plan *plan, rg_exec **out,
                      rg_error *err)
{
    rg_exec *ex = calloc(1, sizeof(*ex));
    rg_status st;

    *out = NULL;
    if (ex == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    ex->rt = rt;
    ex->plan = plan;
    ex->buffers = calloc((size_t)plan->n_persistent +
                             PLAN_FIRST_PERSISTENT_BUFFER,
                         sizeof(*ex->buffers));
    ex->scalars = malloc(((size_t)plan->n_scalars + 1) * sizeof(float));
    ex->input_set = calloc((size_t)plan->n_inputs + 1, sizeof(bool));
    if (ex->buffers == NULL || ex->scalars == NULL || ex->input_set == NULL) {
        rg_exec_free(ex);
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < plan->n_scalars; i++) {
        ex->scalars[i] = NAN;
    }

    int64_t arena_bytes = plan->arena_floats * (int64_t)sizeof(float);
    ex->arena = rt->backend->ops->buffer_new(rt->backend,
                                             arena_bytes > 0 ? arena_bytes : 64,
                                             err);
    if (ex->arena == NULL) {
        char why[sizeof(err->message)];
        snprintf(why, sizeof(why), "%s", err->message);
        rg_exec_free(ex);
        return rg_error_set(err, err->code, "cannot allocate the plan's "
                            "arena of %lld bytes: %s; use smaller dims (for "
                            "example a smaller batch)", (long long)arena_bytes,
                            why);
    }
    ex->buffers[PLAN_ARENA_BUFFER] = ex->arena;

    int64_t input_bytes = plan->input_floats * (int64_t)sizeof(float);
    ex->inputs = rt->backend->ops->buffer_new(rt->backend,
                                              input_bytes > 0 ? input_bytes
                                                              : 64, err);
    if (ex->inputs == NULL) {
        rg_exec_free(ex);
        return err->code;
    }
    ex->buffers[PLAN_INPUT_BUFFER] = ex->inputs;

    st = bind_persistent(ex, err);
    if (st == RG_STATUS_OK) {
        st = prepare_kernels(ex, err);
    }
    if (st != RG_STATUS_OK) {
        rg_exec_free(ex);
        return st;
    }
    *out = ex;
    return RG_STATUS_OK;
}

static const plan_binding *find_binding(const plan_binding *list, int n,
                                        const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) == 0) {
            return &list[i];
        }
    }
    return NULL;
}

static rg_status check_count(const plan_binding *b, const char *what,
                             int64_t n_elements, rg_error *err)
{
    char buf[64];

    if (rg_shape_numel(b->shape) != n_elements) {
        return rg_error_set(err, RG_STATUS_SHAPE,
                            "%s '%s' has shape %s (%lld elements) but %lld "
                            "elements were given", what, b->name,
                            rg_shape_str(b->shape, buf, sizeof(buf)),
                            (long long)rg_shape_numel(b->shape),
                            (long long)n_elements);
    }
    return RG_STATUS_OK;
}

/* Finds input `name` of exactly `n_elements`; fills `err` if not. */
static const plan_binding *find_input(const rg_exec *ex, const char *name,
                                      int64_t n_elements, rg_error *err)
{
    const plan_binding *b = find_binding(ex->plan->inputs,
                                         ex->plan->n_inputs, name);

    if (b == NULL) {
        rg_error_set(err, RG_STATUS_NOT_FOUND,
                     "the plan has no input named '%s'", name);
        return NULL;
    }
    if (check_count(b, "input", n_elements, err) != RG_STATUS_OK) {
        return NULL;
    }
    return b;
}

rg_status rg_exec_set_input(rg_exec *ex, const char *name, const float *src,
                            int64_t n_elements, rg_error *err)
{
    const plan_binding *b = find_input(ex, name, n_elements, err);
    backend *be = ex->rt->backend;

    if (b == NULL) {
        return err->code;
    }
    ex->input_set[b - ex->plan->inputs] = true;
    return be->ops->write(be, ex->buffers[b->access.buffer],
                          b->access.offset * (int64_t)sizeof(float), src,
                          n_elements * (int64_t)sizeof(float), err);
}

rg_status rg_exec_set_input_u8(rg_exec *ex, const char *name,
                               const uint8_t *src, int64_t n_elements,
                               float scale, rg_error *err)
{
    const plan_binding *b = find_input(ex, name, n_elements, err);
    backend *be = ex->rt->backend;

    if (b == NULL) {
        return err->code;
    }
    int64_t offset_bytes = b->access.offset * (int64_t)sizeof(float);
    backend_buffer *dst = ex->buffers[b->access.buffer];
    rg_status st;
    if (be->ops->write_u8 != NULL) {
        st = be->ops->write_u8(be, dst, offset_bytes, src, n_elements, scale,
                               err);
    } else {
        /* Convert on the host: the same product as the device kernel. */
        float *values = malloc((size_t)(n_elements > 0 ? n_elements : 1) *
                               sizeof(float));
        if (values == NULL) {
            return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        }
        for (int64_t i = 0; i < n_elements; i++) {
            values[i] = (float)src[i] * scale;
        }
        st = be->ops->write(be, dst, offset_bytes, values,
                            n_elements * (int64_t)sizeof(float), err);
        free(values);
    }
    if (st == RG_STATUS_OK) {
        ex->input_set[b - ex->plan->inputs] = true;
    }
    return st;
}

rg_status rg_exec_set_hyper(rg_exec *ex, const char *name, double value,
                            rg_error *err)
{
    for (int i = 0; i < ex->plan->n_hypers; i++) {
        if (strcmp(ex->plan->hypers[i], name) == 0) {
            ex->scalars[i] = (float)value;
            return RG_STATUS_OK;
        }
    }
    return rg_error_set(err, RG_STATUS_NOT_FOUND,
                        "the plan uses no hyperparameter named '%s'", name);
}

void rg_exec_set_model_hypers(rg_exec *ex, const rg_model *m)
{
    for (int i = 0; i < rg_model_n_hypers(m); i++) {
        const char *name = rg_model_hyper_name(m, i);

        for (int k = 0; k < ex->plan->n_hypers; k++) {
            if (strcmp(ex->plan->hypers[k], name) == 0) {
                ex->scalars[k] = (float)rg_model_hyper_value(m, i);
            }
        }
    }
}

/* Fails when an input or hyperparameter has never been given a value. */
static rg_status check_bound(const rg_exec *ex, rg_error *err)
{
    for (int i = 0; i < ex->plan->n_inputs; i++) {
        if (!ex->input_set[i]) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "input '%s' was not set before the run",
                                ex->plan->inputs[i].name);
        }
    }
    for (int i = 0; i < ex->plan->n_hypers; i++) {
        if (isnan(ex->scalars[i])) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "hyperparameter '%s' was not set before the "
                                "run", ex->plan->hypers[i]);
        }
    }
    return RG_STATUS_OK;
}

/* Computes the host scalars derived from hyperparameters. */
static void run_scalar_ops(rg_exec *ex)
{
    const rg_plan *plan = ex->plan;
    float *s = ex->scalars;

    for (int i = 0; i < plan->n_scalar_ops; i++) {
        const plan_scalar_op *op = &plan->scalar_ops[i];
        s[op->dst] = op->op == KP_CONST ? op->imm
                                        : kp_apply(op->op, s[op->a], s[op->b],
                                                   s[op->c]);
    }
}

rg_status rg_exec_run(rg_exec *ex, uint64_t step, rg_error *err)
{
    backend *be = ex->rt->backend;
    rg_status st = check_bound(ex, err);

    if (st == RG_STATUS_OK) {
        run_scalar_ops(ex);
    }
    for (int i = 0; i < ex->plan->n_steps && st == RG_STATUS_OK; i++) {
        const plan_step *s = &ex->plan->steps[i];

        if (s->kind == PLAN_STEP_GEMM) {
            st = be->ops->gemm(be, &s->gemm, ex->buffers, ex->scalars, err);
        } else {
            st = be->ops->run_kernel(be, s->kernel, ex->buffers, ex->scalars,
                                     ex->rt->seed, step, err);
        }
    }
    return st;
}

/* Runs only the plan's GEMM steps once. */
static rg_status run_gemms(rg_exec *ex, rg_error *err)
{
    backend *be = ex->rt->backend;
    rg_status st = RG_STATUS_OK;

    for (int i = 0; i < ex->plan->n_steps && st == RG_STATUS_OK; i++) {
        const plan_step *s = &ex->plan->steps[i];
        if (s->kind == PLAN_STEP_GEMM) {
            st = be->ops->gemm(be, &s->gemm, ex->buffers, ex->scalars, err);
        }
    }
    return st;
}

rg_status rg_exec_bench(rg_exec *ex, int n_steps, rg_bench_result *out,
                        rg_error *err)
{
    enum { ROUNDS = 5 };
    backend *be = ex->rt->backend;
    rg_status st = RG_STATUS_OK;
    double best_step = 1e30, best_gemm = 1e30;

    if (n_steps < 1) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "step count %d must be at least 1", n_steps);
    }
    /* Warm up caches, page mappings and thread pools. */
    for (int i = 0; i < 3 && st == RG_STATUS_OK; i++) {
        st = rg_exec_run(ex, (uint64_t)i, err);
    }
    for (int r = 0; r < ROUNDS && st == RG_STATUS_OK; r++) {
        double t0 = clock_seconds();
        for (int i = 0; i < n_steps && st == RG_STATUS_OK; i++) {
            st = rg_exec_run(ex, (uint64_t)i, err);
        }
        if (st == RG_STATUS_OK) {
            st = be->ops->sync(be, err);
        }
        double t1 = clock_seconds();
        for (int i = 0; i < n_steps && st == RG_STATUS_OK; i++) {
            st = run_gemms(ex, err);
        }
        if (st == RG_STATUS_OK) {
            st = be->ops->sync(be, err);
        }
        double t2 = clock_seconds();
        best_step = t1 - t0 < best_step ? t1 - t0 : best_step;
        best_gemm = t2 - t1 < best_gemm ? t2 - t1 : best_gemm;
    }
    out->n_steps = n_steps;
    out->step_seconds = best_step / n_steps;
    out->gemm_seconds = best_gemm / n_steps;
    return st;
}

rg_status rg_exec_profile(rg_exec *ex, int n_runs, double *seconds,
                          rg_error *err)
{
    backend *be = ex->rt->backend;
    rg_status st = check_bound(ex, err);

    for (int i = 0; i < ex->plan->n_steps; i++) {
        seconds[i] = 0.0;
    }
    for (int r = 0; r < n_runs && st == RG_STATUS_OK; r++) {
        run_scalar_ops(ex);
        for (int i = 0; i < ex->plan->n_steps && st == RG_STATUS_OK; i++) {
            const plan_step *s = &ex->plan->steps[i];
            double t0 = clock_seconds();

            if (s->kind == PLAN_STEP_GEMM) {
                st = be->ops->gemm(be, &s->gemm, ex->buffers, ex->scalars,
                                   err);
            } else {
                st = be->ops->run_kernel(be, s->kernel, ex->buffers,
                                         ex->scalars, ex->rt->seed,
                                         (uint64_t)r, err);
            }
            if (st == RG_STATUS_OK) {
                st = be->ops->sync(be, err);
            }
            seconds[i] += (clock_seconds() - t0) / n_runs;
        }
    }
    return st;
}

int rg_exec_n_steps(const rg_exec *ex)
{
    return ex->plan->n_steps;
}

const char *rg_exec_step_label(const rg_exec *ex, int step)
{
    RG_ASSERT(step >= 0 && step < ex->plan->n_steps);
    return ex->plan->steps[step].label;
}

rg_status rg_exec_get_output(rg_exec *ex, const char *name, float *dst,
                             int64_t n_elements, rg_error *err)
{
    const plan_binding *b = find_binding(ex->plan->outputs,
                                         ex->plan->n_outputs, name);
    backend *be = ex->rt->backend;

    if (b == NULL) {
        return rg_error_set(err, RG_STATUS_NOT_FOUND,
                            "the plan has no output named '%s'", name);
    }
    if (check_count(b, "output", n_elements, err) != RG_STATUS_OK) {
        return err->code;
    }
    return be->ops->read(be, ex->buffers[b->access.buffer],
                         b->access.offset * (int64_t)sizeof(float), dst,
                         n_elements * (int64_t)sizeof(float), err);
}
