/*
 * rg_plan_build: runs the passes (simplify, fuse), then scheduling, memory
 * planning and lowering, and checks the arena layout of the result in
 * debug builds. Also the plan's accessors and its text listing.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/passes.h"
#include "graph/plan_build.h"

rg_plan_options rg_plan_options_default(void)
{
    rg_plan_options o = {true, true, true};
    return o;
}

void rg_plan_free(rg_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    for (int i = 0; i < plan->n_steps; i++) {
        kp_program_free(plan->steps[i].kernel);
    }
    for (int i = 0; i < plan->n_persistent; i++) {
        free(plan->persistent[i].name);
    }
    for (int i = 0; i < plan->n_hypers; i++) {
        free(plan->hypers[i]);
    }
    for (int i = 0; i < plan->n_inputs; i++) {
        free(plan->inputs[i].name);
    }
    for (int i = 0; i < plan->n_outputs; i++) {
        free(plan->outputs[i].name);
    }
    free(plan->steps);
    free(plan->persistent);
    free(plan->hypers);
    free(plan->scalar_ops);
    free(plan->inputs);
    free(plan->outputs);
    free(plan->tensors);
    free(plan->node_tensor);
    rg_graph_free(plan->graph);
    free(plan);
}

rg_status plan_no_memory(plan_ctx *ctx)
{
    return rg_error_set(ctx->err, RG_STATUS_NO_MEMORY,
                        "out of memory while planning");
}

rg_node_id plan_view_base(const rg_graph *g, rg_node_id id)
{
    while (g->nodes[id].op == RG_OP_TRANSPOSE) {
        id = g->nodes[id].operands[0];
    }
    return id;
}

bool plan_reads_memory(const rg_graph *g, rg_node_id c, rg_node_id o)
{
    const rg_node *operand = &g->nodes[o];

    return operand->group != g->nodes[c].group ||
           operand->op == RG_OP_MATMUL || operand->op == RG_OP_GEMM_ACC ||
           g->nodes[c].op == RG_OP_TRANSPOSE || operand->group < 0;
}

int64_t plan_rows(rg_shape s)
{
    return s.rank == 2 ? s.dims[0] : 1;
}

int64_t plan_cols(rg_shape s)
{
    return s.rank == 0 ? 1 : s.dims[s.rank - 1];
}

static void ctx_free(plan_ctx *ctx)
{
    free(ctx->host);
    free(ctx->slot);
    free(ctx->persist);
    free(ctx->stored);
    free(ctx->inplace);
    free(ctx->output_copy);
    free(ctx->values);
    free(ctx->units);
    free(ctx->order);
    free(ctx->pos);
}

static rg_status ctx_init(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    size_t n = (size_t)g->n_nodes + 1;

    ctx->host = calloc(n, sizeof(*ctx->host));
    ctx->slot = malloc(n * sizeof(*ctx->slot));
    ctx->persist = malloc(n * sizeof(*ctx->persist));
    ctx->stored = calloc(n, sizeof(*ctx->stored));
    ctx->inplace = malloc(n * sizeof(*ctx->inplace));
    ctx->output_copy = malloc(n * sizeof(*ctx->output_copy));
    ctx->values = calloc(n, sizeof(*ctx->values));
    ctx->plan->node_tensor = malloc(n * sizeof(int));
    if (ctx->host == NULL || ctx->slot == NULL || ctx->persist == NULL ||
        ctx->stored == NULL || ctx->inplace == NULL ||
        ctx->output_copy == NULL || ctx->values == NULL ||
        ctx->plan->node_tensor == NULL) {
        return plan_no_memory(ctx);
    }
    ctx->n_groups = 0;
    for (int id = 0; id < g->n_nodes; id++) {
        ctx->host[id] = pass_is_host_scalar(g, id, ctx->host);
        ctx->slot[id] = -1;
        ctx->persist[id] = -1;
        if (g->nodes[id].group >= ctx->n_groups) {
            ctx->n_groups = g->nodes[id].group + 1;
        }
    }
    return RG_STATUS_OK;
}

/* Runs the graph passes the options ask for; the result is grouped. */
static rg_status run_passes(const rg_graph *g, const rg_plan_options *o,
                            bool accumulate, rg_graph **out, rg_error *err)
{
    rg_graph *simple = NULL;
    rg_status st = o->simplify ? pass_simplify(g, &simple, err)
                               : pass_dce(g, &simple, err);

    if (st == RG_STATUS_OK) {
        st = pass_fuse_options(simple, o->fuse, accumulate, out, err);
    }
    rg_graph_free(simple);
    return st;
}

/* Runs passes, scheduling, memory planning and lowering into `plan`. */
static rg_status build_stages(const rg_graph *g, rg_plan *plan,
                              bool accumulate, rg_error *err)
{
    plan_ctx ctx;
    rg_status st;

    memset(&ctx, 0, sizeof(ctx));
    ctx.plan = plan;
    ctx.err = err;
    st = run_passes(g, &plan->options, accumulate, &plan->graph, err);
    if (st == RG_STATUS_OK) {
        ctx.g = plan->graph;
        st = ctx_init(&ctx);
    }
    if (st == RG_STATUS_OK) {
        st = plan_schedule(&ctx);
    }
    if (st == RG_STATUS_OK) {
        st = plan_memory(&ctx);
    }
    if (st == RG_STATUS_OK) {
        plan->n_units = ctx.n_units;
        st = plan_lower(&ctx);
    }
    ctx_free(&ctx);
    return st;
}

rg_status rg_plan_build(const rg_graph *g, const rg_plan_options *options,
                        rg_plan **out, rg_error *err)
{
    rg_plan *plan;
    rg_status st;

    *out = NULL;
    if (rg_graph_error(g) != NULL) {
        *err = *rg_graph_error(g);
        return err->code;
    }
    if (g->n_outputs == 0 && g->n_updates == 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "the graph has no outputs and no updates, so "
                            "there is nothing to plan");
    }
    plan = calloc(1, sizeof(*plan));
    if (plan == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    plan->options = options != NULL ? *options : rg_plan_options_default();

    st = build_stages(g, plan, plan->options.fuse, err);
    if (st == RG_STATUS_MODEL && plan->options.fuse) {
        /*
         * Accumulating updates write params early and in place. When
         * that leaves no order in which every old value is read before it
         * is overwritten, plan again with plain updates.
         */
        rg_plan_options options_kept = plan->options;
        rg_plan_free(plan);
        plan = calloc(1, sizeof(*plan));
        if (plan == NULL) {
            return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        }
        plan->options = options_kept;
        st = build_stages(g, plan, false, err);
    }
#ifndef NDEBUG
    if (st == RG_STATUS_OK) {
        st = plan_check_arena(plan, err);
    }
#endif
    if (st != RG_STATUS_OK) {
        rg_plan_free(plan);
        return st;
    }
    *out = plan;
    return RG_STATUS_OK;
}

rg_status rg_plan_check(const rg_plan *plan, rg_error *err)
{
    return plan_check_arena(plan, err);
}

int rg_plan_n_gemms(const rg_plan *plan)
{
    int n = 0;

    for (int i = 0; i < plan->n_steps; i++) {
        n += plan->steps[i].kind == PLAN_STEP_GEMM;
    }
    return n;
}

int rg_plan_n_kernels(const rg_plan *plan)
{
    return plan->n_steps - rg_plan_n_gemms(plan);
}

int64_t rg_plan_arena_bytes(const rg_plan *plan)
{
    return plan->arena_floats * (int64_t)sizeof(float);
}

int64_t rg_plan_unshared_bytes(const rg_plan *plan)
{
    return plan->unshared_floats * (int64_t)sizeof(float);
}

int rg_plan_n_inputs(const rg_plan *plan)
{
    return plan->n_inputs;
}

const char *rg_plan_input_name(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_inputs);
    return plan->inputs[index].name;
}

rg_shape rg_plan_input_shape(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_inputs);
    return plan->inputs[index].shape;
}

int rg_plan_n_outputs(const rg_plan *plan)
{
    return plan->n_outputs;
}

const char *rg_plan_output_name(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_outputs);
    return plan->outputs[index].name;
}

rg_shape rg_plan_output_shape(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_outputs);
    return plan->outputs[index].shape;
}

bool rg_plan_output_is_metric(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_outputs);
    return plan->outputs[index].is_metric;
}

int rg_plan_n_hypers(const rg_plan *plan)
{
    return plan->n_hypers;
}

const char *rg_plan_hyper_name(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_hypers);
    return plan->hypers[index];
}

static void print_access(const kp_access *a, FILE *out)
{
    if (a->buffer == PLAN_ARENA_BUFFER) {
        fprintf(out, "arena+%lld", (long long)(4 * a->offset));
    } else if (a->buffer == PLAN_INPUT_BUFFER) {
        fprintf(out, "input+%lld", (long long)(4 * a->offset));
    } else {
        fprintf(out, "param#%d", a->buffer - PLAN_FIRST_PERSISTENT_BUFFER);
    }
}

void rg_plan_print(const rg_plan *plan, FILE *out)
{
    double flops = 0.0, bytes = 0.0;
    int64_t persistent = 0;

    for (int i = 0; i < plan->n_steps; i++) {
        const plan_step *s = &plan->steps[i];

        flops += s->flops;
        bytes += s->bytes;
        if (s->kind == PLAN_STEP_GEMM) {
            const kp_gemm *gm = &s->gemm;
            fprintf(out, "%3d  gemm    %-24s [%lld x %lld x %lld]%s%s%s  "
                    "%8.2f MFLOP %8.2f MB -> ", i, s->label, (long long)gm->m,
                    (long long)gm->n, (long long)gm->k,
                    gm->trans_a ? " A.T" : "", gm->trans_b ? " B.T" : "",
                    gm->beta_scalar >= 0 || gm->beta != 0.0f ? " +=" : "",
                    s->flops / 1e6, s->bytes / 1e6);
            kp_access c = {gm->c.buffer, gm->c.offset, gm->c.ld, 1};
            print_access(&c, out);
            fputc('\n', out);
        } else {
            const kp_program *k = s->kernel;
            fprintf(out, "%3d  kernel  %-24s [%lld x %lld] %d ops %d loads "
                    "%d stores  %8.2f MFLOP %8.2f MB\n", i, s->label,
                    (long long)k->rows, (long long)k->cols, k->n_instrs,
                    k->n_loads, k->n_stores, s->flops / 1e6, s->bytes / 1e6);
        }
    }
    for (int i = 0; i < plan->n_persistent; i++) {
        persistent += rg_shape_numel(plan->persistent[i].shape) * 4;
    }
    fprintf(out, "%d matrix products, %d other kernels\n",
            rg_plan_n_gemms(plan), rg_plan_n_kernels(plan));
    fprintf(out, "arena %lld bytes (%.1f%% of %lld bytes without reuse)\n",
            (long long)rg_plan_arena_bytes(plan),
            100.0 * (double)rg_plan_arena_bytes(plan) /
                (double)(rg_plan_unshared_bytes(plan) > 0
                             ? rg_plan_unshared_bytes(plan) : 1),
            (long long)rg_plan_unshared_bytes(plan));
    fprintf(out, "peak memory %lld bytes (arena, %lld bytes of inputs and "
            "%lld bytes of params and state)\n",
            (long long)(rg_plan_arena_bytes(plan) + 4 * plan->input_floats +
                        persistent),
            (long long)(4 * plan->input_floats), (long long)persistent);
    fprintf(out, "per step: %.2f MFLOP, %.2f MB moved\n", flops / 1e6,
            bytes / 1e6);
}
