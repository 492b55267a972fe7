/*
 * Memory planning. Each arena tensor lives from the schedule position that
 * writes it to the last position that reads it (inputs and outputs for the
 * whole run). With reuse on, tensors get offsets by best fit among the
 * gaps left by tensors already dead. An elementwise result may also take
 * the place of an operand that dies in the same kernel, because every
 * point reads that operand before writing the result at the same index. The checker
 * proves the layout afterwards, independently of how it was made.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/plan_build.h"

static int64_t padded(int64_t n)
{
    return (n + PLAN_ALIGN_FLOATS - 1) / PLAN_ALIGN_FLOATS * PLAN_ALIGN_FLOATS;
}

int plan_add_tensor(plan_ctx *ctx, rg_node_id node, rg_shape shape)
{
    rg_plan *plan = ctx->plan;
    plan_tensor *t = realloc(plan->tensors, (size_t)(plan->n_tensors + 1) *
                             sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    plan->tensors = t;
    t = &plan->tensors[plan->n_tensors];
    memset(t, 0, sizeof(*t));
    t->node = node;
    t->floats = padded(rg_shape_numel(shape));
    t->inplace_of = -1;
    return plan->n_tensors++;
}

static void extend_death(plan_tensor *t, int position)
{
    if (position > t->death) {
        t->death = position;
    }
}

/* Fills birth and death of every tensor from the schedule. */
static void live_intervals(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    rg_plan *plan = ctx->plan;
    int end = ctx->n_units;

    for (int i = 0; i < plan->n_tensors; i++) {
        plan_tensor *t = &plan->tensors[i];
        bool input = t->node >= 0 && g->nodes[t->node].op == RG_OP_INPUT;

        t->birth = input ? -1 : t->node >= 0 ? ctx->pos[g->nodes[t->node].group]
                                             : end;
        t->death = input ? end : t->birth;
    }
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        for (int k = 0; n->group >= 0 && k < n->n_operands; k++) {
            rg_node_id base = plan_view_base(g, n->operands[k]);
            int t = plan->node_tensor[base];
            if (t >= 0 && plan_reads_memory(g, id, n->operands[k])) {
                extend_death(&plan->tensors[t], ctx->pos[n->group]);
            }
        }
    }
    for (int u = 0; u < ctx->n_units; u++) {
        const plan_unit *unit = &ctx->units[u];
        if (unit->kind == UNIT_GROUP) {
            continue;
        }
        int src = plan->node_tensor[plan_view_base(g, unit->node)];
        if (unit->kind == UNIT_COPY) {
            plan_tensor *dst = &plan->tensors[unit->tensor];
            if (dst->birth > ctx->pos[u]) {
                dst->birth = ctx->pos[u];
            }
            extend_death(dst, ctx->pos[u]);
            if (src >= 0) {
                extend_death(&plan->tensors[src], ctx->pos[u]);
            }
        } else {
            extend_death(&plan->tensors[unit->tensor], ctx->pos[u]);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        rg_node_id id = g->outputs[i].node;
        int t = ctx->output_copy[id] >= 0 ? ctx->output_copy[id]
                                          : plan->node_tensor[id];
        if (t >= 0) {
            plan->tensors[t].death = end;
        }
    }
}

/* True when group `gid` reads node `base` only at the index it computes. */
static bool read_pointwise(const plan_ctx *ctx, int gid, rg_node_id base,
                           rg_shape space)
{
    const rg_graph *g = ctx->g;

    if (!rg_shape_equal(g->nodes[base].shape, space)) {
        return false;
    }
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        if (n->group != gid) {
            continue;
        }
        for (int k = 0; k < n->n_operands; k++) {
            rg_node_id o = n->operands[k];
            if (plan_view_base(g, o) == base && o != base) {
                return false; /* read transposed */
            }
        }
    }
    return true;
}

/*
 * Looks for a tensor that tensor `ti` (an elementwise result) may
 * overwrite: read by the same group, dead at its position, same size, not
 * an input, and read only pointwise. Returns its index or -1.
 */
static int inplace_candidate(const plan_ctx *ctx, int ti, const bool *taken)
{
    const rg_graph *g = ctx->g;
    const rg_plan *plan = ctx->plan;
    const plan_tensor *t = &plan->tensors[ti];
    const rg_node *n = &g->nodes[t->node];

    if (n->op == RG_OP_MATMUL || n->op == RG_OP_SUM || n->op == RG_OP_MEAN ||
        n->op == RG_OP_GEMM_ACC) {
        return -1;
    }
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *c = &g->nodes[id];
        for (int k = 0; c->group == n->group && k < c->n_operands; k++) {
            rg_node_id base = plan_view_base(g, c->operands[k]);
            int ui = plan->node_tensor[base];

            if (ui < 0 || ui == ti || taken[ui] ||
                !plan_reads_memory(g, id, c->operands[k])) {
                continue;
            }
            const plan_tensor *u = &plan->tensors[ui];
            if (u->death == t->birth && u->floats == t->floats &&
                u->birth >= 0 && g->nodes[base].op != RG_OP_INPUT &&
                read_pointwise(ctx, n->group, base, n->shape)) {
                return ui;
            }
        }
    }
    return -1;
}

/* Smallest gap among tensors live at `t`'s birth that fits it. */
static int64_t best_fit(const rg_plan *plan, const int *placed, int n_placed,
                        const plan_tensor *t)
{
    int64_t best = -1, best_size = 0, end = 0;
    int64_t *starts = malloc(((size_t)n_placed + 1) * 2 * sizeof(int64_t));
    int n_live = 0;

    if (starts == NULL) {
        return -2;
    }
    /* Live ranges, as (start, end) pairs sorted by start. */
    for (int i = 0; i < n_placed; i++) {
        const plan_tensor *p = &plan->tensors[placed[i]];
        if (p->death < t->birth || p->birth > t->death) {
            continue;
        }
        int k = n_live++;
        while (k > 0 && starts[2 * (k - 1)] > p->offset) {
            starts[2 * k] = starts[2 * (k - 1)];
            starts[2 * k + 1] = starts[2 * (k - 1) + 1];
            k--;
        }
        starts[2 * k] = p->offset;
        starts[2 * k + 1] = p->offset + p->floats;
    }
    for (int i = 0; i < n_live; i++) {
        int64_t gap = starts[2 * i] - end;
        if (gap >= t->floats && (best < 0 || gap < best_size)) {
            best = end;
            best_size = gap;
        }
        if (starts[2 * i + 1] > end) {
            end = starts[2 * i + 1];
        }
    }
    free(starts);
    return best >= 0 ? best : end;
}

static rg_status assign_offsets(plan_ctx *ctx)
{
    rg_plan *plan = ctx->plan;
    int n = plan->n_tensors;
    int *placed = malloc(((size_t)n + 1) * sizeof(int));
    bool *taken = calloc((size_t)n + 1, sizeof(bool));
    int n_placed = 0;

    if (placed == NULL || taken == NULL) {
        free(placed);
        free(taken);
        return plan_no_memory(ctx);
    }
    /* Place in birth order; ties keep creation order. */
    for (int birth = -1; birth <= ctx->n_units; birth++) {
        for (int i = 0; i < n; i++) {
            plan_tensor *t = &plan->tensors[i];
            if (t->birth != birth) {
                continue;
            }
            int u = t->node >= 0 ? inplace_candidate(ctx, i, taken) : -1;
            if (u >= 0) {
                taken[u] = true;
                t->inplace_of = u;
                t->offset = plan->tensors[u].offset;
            } else {
                t->offset = best_fit(plan, placed, n_placed, t);
                if (t->offset == -2) {
                    free(placed);
                    free(taken);
                    return plan_no_memory(ctx);
                }
            }
            placed[n_placed++] = i;
        }
    }
    free(placed);
    free(taken);
    return RG_STATUS_OK;
}

rg_status plan_memory(plan_ctx *ctx)
{
    rg_plan *plan = ctx->plan;
    rg_status st = RG_STATUS_OK;

    live_intervals(ctx);
    plan->unshared_floats = 0;
    for (int i = 0; i < plan->n_tensors; i++) {
        plan->unshared_floats += plan->tensors[i].floats;
    }
    if (plan->options.reuse) {
        st = assign_offsets(ctx);
    } else {
        int64_t next = 0;
        for (int i = 0; i < plan->n_tensors; i++) {
            plan->tensors[i].offset = next;
            next += plan->tensors[i].floats;
        }
    }
    plan->arena_floats = 0;
    for (int i = 0; i < plan->n_tensors; i++) {
        int64_t end = plan->tensors[i].offset + plan->tensors[i].floats;
        if (end > plan->arena_floats) {
            plan->arena_floats = end;
        }
    }
    return st;
}

rg_status plan_check_arena(const rg_plan *plan, rg_error *err)
{
    for (int i = 0; i < plan->n_tensors; i++) {
        const plan_tensor *a = &plan->tensors[i];

        if (a->offset < 0 || a->offset + a->floats > plan->arena_floats) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "arena check: tensor %d [%lld, %lld) lies "
                                "outside the arena of %lld floats", i,
                                (long long)a->offset,
                                (long long)(a->offset + a->floats),
                                (long long)plan->arena_floats);
        }
        for (int j = i + 1; j < plan->n_tensors; j++) {
            const plan_tensor *b = &plan->tensors[j];
            bool live_together = a->birth <= b->death && b->birth <= a->death;
            bool overlap = a->offset < b->offset + b->floats &&
                           b->offset < a->offset + a->floats;
            /* Allowed: one written in place over the other as it dies. */
            bool inplace = (b->inplace_of == i && a->death == b->birth) ||
                           (a->inplace_of == j && b->death == a->birth);

            if (live_together && overlap && !inplace) {
                return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                    "arena check: tensors %d and %d are live "
                                    "together (positions %d-%d and %d-%d) but "
                                    "overlap at floats [%lld, %lld) and "
                                    "[%lld, %lld)", i, j, a->birth, a->death,
                                    b->birth, b->death, (long long)a->offset,
                                    (long long)(a->offset + a->floats),
                                    (long long)b->offset,
                                    (long long)(b->offset + b->floats));
            }
        }
    }
    return RG_STATUS_OK;
}
