/*
 * Storage decisions, units and scheduling.
 *
 * A node gets memory when something outside its fused group reads it, when
 * it is an output or a new value of a param, or when it is a matrix product
 * or a reduction. New values are written straight over their param or
 * state ("in place") when that is safe. Otherwise they are staged in the
 * arena and copied over the param by an update unit.
 *
 * Dependences between units are of two kinds: a unit runs after the units
 * that produce what it reads, and every unit that reads the old value of a
 * param runs before every unit that overwrites it. When an in-place choice
 * makes these contradict (a cycle), it is undone and the schedule retried.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/plan_build.h"

/* Growable list of ints. */
typedef struct int_list {
    int *items;
    int n;
    int cap;
} int_list;

static bool list_push(int_list *l, int v)
{
    for (int i = 0; i < l->n; i++) {
        if (l->items[i] == v) {
            return true;
        }
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        int *items = realloc(l->items, (size_t)cap * sizeof(*items));
        if (items == NULL) {
            return false;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = v;
    return true;
}

static void lists_free(int_list *lists, int n)
{
    if (lists == NULL) {
        return;
    }
    for (int i = 0; i < n; i++) {
        free(lists[i].items);
    }
    free(lists);
}

static bool is_persistent_leaf(const rg_graph *g, rg_node_id id)
{
    return g->nodes[id].op == RG_OP_PARAM || g->nodes[id].op == RG_OP_STATE;
}

/* The param or state a GEMM_ACC chain accumulates into. */
static rg_node_id acc_target(const rg_graph *g, rg_node_id id)
{
    while (g->nodes[id].op == RG_OP_GEMM_ACC) {
        id = g->nodes[id].operands[0];
    }
    return id;
}

/* Marks nodes that need memory of their own. */
static void decide_storage(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;

    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];

        ctx->stored[id] = n->op == RG_OP_INPUT || is_persistent_leaf(g, id) ||
                          n->op == RG_OP_MATMUL || n->op == RG_OP_GEMM_ACC ||
                          n->op == RG_OP_SUM || n->op == RG_OP_MEAN;
        for (int k = 0; k < n->n_operands; k++) {
            rg_node_id o = n->operands[k];
            if (g->nodes[o].group >= 0 && (n->group != g->nodes[o].group ||
                                           n->op == RG_OP_TRANSPOSE)) {
                ctx->stored[o] = true;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        rg_node_id id = g->outputs[i].node;
        ctx->stored[id] = ctx->stored[id] || g->nodes[id].group >= 0;
    }
    for (int i = 0; i < g->n_updates; i++) {
        rg_node_id id = g->updates[i].value;
        ctx->stored[id] = ctx->stored[id] || g->nodes[id].group >= 0;
    }
}

/* True when group `gid` reads `target` through a transposed view. */
static bool group_reads_view_of(const rg_graph *g, int gid, rg_node_id target)
{
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];

        if (n->group != gid) {
            continue;
        }
        for (int k = 0; k < n->n_operands; k++) {
            rg_node_id o = n->operands[k];
            if (o != target && plan_view_base(g, o) == target) {
                return true;
            }
        }
    }
    return false;
}

/* Chooses which new values are written in place; `allowed` per update. */
static void decide_inplace(plan_ctx *ctx, const bool *allowed)
{
    const rg_graph *g = ctx->g;

    for (int id = 0; id < g->n_nodes; id++) {
        ctx->inplace[id] = RG_NODE_NONE;
        if (g->nodes[id].op == RG_OP_GEMM_ACC) {
            ctx->inplace[id] = acc_target(g, id);
        }
    }
    for (int i = 0; i < g->n_updates; i++) {
        rg_node_id p = g->updates[i].target;
        rg_node_id v = g->updates[i].value;
        const rg_node *n = &g->nodes[v];

        if (!allowed[i] || n->group < 0 || n->op == RG_OP_GEMM_ACC ||
            n->op == RG_OP_MATMUL || n->op == RG_OP_SUM ||
            n->op == RG_OP_MEAN || ctx->inplace[v] != RG_NODE_NONE ||
            group_reads_view_of(g, n->group, p)) {
            continue;
        }
        /* The group must iterate exactly over P so loads match stores. */
        bool same_space = true;
        for (int id = 0; id < g->n_nodes; id++) {
            if (g->nodes[id].group == n->group &&
                (g->nodes[id].op == RG_OP_MATMUL ||
                 g->nodes[id].op == RG_OP_SUM ||
                 g->nodes[id].op == RG_OP_MEAN) &&
                !rg_shape_equal(g->nodes[id].shape, n->shape)) {
                same_space = false;
            }
        }
        if (same_space) {
            ctx->inplace[v] = p;
        }
    }
}

static plan_unit *add_unit(plan_ctx *ctx, unit_kind kind)
{
    plan_unit *u = realloc(ctx->units, (size_t)(ctx->n_units + 1) *
                           sizeof(*u));
    if (u == NULL) {
        return NULL;
    }
    ctx->units = u;
    u = &ctx->units[ctx->n_units++];
    memset(u, 0, sizeof(*u));
    u->kind = kind;
    u->node = RG_NODE_NONE;
    u->target = RG_NODE_NONE;
    u->tensor = -1;
    u->group = -1;
    return u;
}

/* True when an output must be copied: its node has no arena memory that
 * keeps its value until the end of the run. */
static bool output_needs_copy(const plan_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];

    if (n->op == RG_OP_INPUT) {
        return false;
    }
    return !ctx->stored[id] || is_persistent_leaf(ctx->g, id);
}

/* Creates arena tensors for stored nodes and all units. */
static rg_status build_units(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    rg_plan *plan = ctx->plan;

    ctx->n_units = 0;
    plan->n_tensors = 0;
    for (int id = 0; id < g->n_nodes; id++) {
        plan->node_tensor[id] = -1;
        ctx->output_copy[id] = -1;
        if (ctx->stored[id] && !is_persistent_leaf(g, id) &&
            g->nodes[id].op != RG_OP_INPUT &&
            ctx->inplace[id] == RG_NODE_NONE) {
            plan->node_tensor[id] = plan_add_tensor(ctx, id, g->nodes[id].shape);
            if (plan->node_tensor[id] < 0) {
                return plan_no_memory(ctx);
            }
        }
    }
    for (int gid = 0; gid < ctx->n_groups; gid++) {
        plan_unit *u = add_unit(ctx, UNIT_GROUP);
        if (u == NULL) {
            return plan_no_memory(ctx);
        }
        u->group = gid;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        rg_node_id id = g->outputs[i].node;
        if (!output_needs_copy(ctx, id) || ctx->output_copy[id] >= 0) {
            continue;
        }
        plan_unit *u = add_unit(ctx, UNIT_COPY);
        if (u == NULL) {
            return plan_no_memory(ctx);
        }
        u->node = id;
        u->tensor = plan_add_tensor(ctx, -1, g->nodes[id].shape);
        ctx->output_copy[id] = u->tensor;
        if (u->tensor < 0) {
            return plan_no_memory(ctx);
        }
    }
    for (int i = 0; i < g->n_updates; i++) {
        rg_node_id p = g->updates[i].target;
        rg_node_id v = g->updates[i].value;
        int source = plan->node_tensor[v];

        if (ctx->inplace[v] == p) {
            continue;
        }
        if (source < 0) {
            /* Stage leaves, views and scalars in the arena first. */
            plan_unit *c = add_unit(ctx, UNIT_COPY);
            if (c == NULL) {
                return plan_no_memory(ctx);
            }
            c->node = v;
            c->tensor = source = plan_add_tensor(ctx, -1, g->nodes[v].shape);
            if (source < 0) {
                return plan_no_memory(ctx);
            }
        }
        plan_unit *u = add_unit(ctx, UNIT_UPDATE);
        if (u == NULL) {
            return plan_no_memory(ctx);
        }
        u->node = v;
        u->target = p;
        u->tensor = source;
    }
    return RG_STATUS_OK;
}

/* Returns the unit that produces the memory of `base`, or -1 for leaves. */
static int producer_unit(const plan_ctx *ctx, rg_node_id base)
{
    int gid = ctx->g->nodes[base].group;
    return gid >= 0 ? gid : -1; /* group units come first, in group order */
}

/* Records that unit `u` reads node `o` (through views). */
static bool note_read(const plan_ctx *ctx, int u, rg_node_id o,
                      int_list *preds, int_list *old_readers)
{
    const rg_graph *g = ctx->g;
    rg_node_id base = plan_view_base(g, o);
    int p = producer_unit(ctx, base);

    if (ctx->host[base] || g->nodes[base].op == RG_OP_CONST) {
        return true;
    }
    if (p >= 0 && p != u && !list_push(&preds[u], p)) {
        return false;
    }
    if (is_persistent_leaf(g, base) && !list_push(&old_readers[base], u)) {
        return false;
    }
    return true;
}

/* Fills predecessor lists and per-param reader and writer lists. */
static bool collect_edges(const plan_ctx *ctx, int_list *preds,
                          int_list *old_readers, int_list *writers)
{
    const rg_graph *g = ctx->g;

    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        if (n->group < 0) {
            continue;
        }
        for (int k = 0; k < n->n_operands; k++) {
            if (!plan_reads_memory(g, id, n->operands[k])) {
                continue;
            }
            if (!note_read(ctx, n->group, n->operands[k], preds,
                           old_readers)) {
                return false;
            }
        }
        if (ctx->inplace[id] != RG_NODE_NONE &&
            !list_push(&writers[ctx->inplace[id]], n->group)) {
            return false;
        }
    }
    for (int u = ctx->n_groups; u < ctx->n_units; u++) {
        const plan_unit *unit = &ctx->units[u];

        if (unit->kind == UNIT_COPY) {
            if (!note_read(ctx, u, unit->node, preds, old_readers)) {
                return false;
            }
            continue;
        }
        /*
         * UNIT_UPDATE: after whatever produced its source tensor, a staged
         * copy or the value's own group. It reads that tensor, never a
         * param's old value, so it is no reader in the ordering sense.
         */
        bool staged = false;
        for (int c = ctx->n_groups; c < ctx->n_units; c++) {
            if (ctx->units[c].kind == UNIT_COPY &&
                ctx->units[c].tensor == unit->tensor) {
                staged = true;
                if (!list_push(&preds[u], c)) {
                    return false;
                }
            }
        }
        int producer = producer_unit(ctx, unit->node);
        if ((!staged && producer >= 0 && !list_push(&preds[u], producer)) ||
            !list_push(&writers[unit->target], u)) {
            return false;
        }
    }
    return true;
}

/* Net arena floats a unit adds when it runs; used to prefer small peaks. */
static int64_t unit_growth(const plan_ctx *ctx, int u)
{
    const plan_unit *unit = &ctx->units[u];
    const rg_plan *plan = ctx->plan;
    int64_t grow = 0;

    if (unit->kind == UNIT_COPY) {
        return plan->tensors[unit->tensor].floats;
    }
    if (unit->kind == UNIT_UPDATE) {
        return -plan->tensors[unit->tensor].floats;
    }
    for (int id = 0; id < ctx->g->n_nodes; id++) {
        int t = plan->node_tensor[id];
        if (ctx->g->nodes[id].group == unit->group && t >= 0) {
            grow += plan->tensors[t].floats;
        }
    }
    return grow;
}

/*
 * Topological order of the units by Kahn's algorithm, preferring the ready
 * unit that grows the arena least (then the lowest index). Returns false
 * on a cycle.
 */
static bool order_units(plan_ctx *ctx, const int_list *preds)
{
    int n = ctx->n_units;
    int *missing = calloc((size_t)n + 1, sizeof(int));
    int64_t *growth = calloc((size_t)n + 1, sizeof(int64_t));
    bool *done = calloc((size_t)n + 1, sizeof(bool));
    bool ok = missing != NULL && growth != NULL && done != NULL;

    for (int u = 0; ok && u < n; u++) {
        missing[u] = preds[u].n;
        growth[u] = unit_growth(ctx, u);
    }
    for (int step = 0; ok && step < n; step++) {
        int best = -1;
        for (int u = 0; u < n; u++) {
            if (!done[u] && missing[u] == 0 &&
                (best < 0 || growth[u] < growth[best])) {
                best = u;
            }
        }
        if (best < 0) {
            ok = false;
            break;
        }
        done[best] = true;
        ctx->order[step] = best;
        ctx->pos[best] = step;
        for (int u = 0; u < n; u++) {
            for (int k = 0; k < preds[u].n; k++) {
                missing[u] -= preds[u].items[k] == best;
            }
        }
    }
    free(missing);
    free(growth);
    free(done);
    return ok;
}

/* Builds units and edges for the current in-place choices and orders them.
 * Sets *cycle when the choices contradict each other. */
static rg_status try_schedule(plan_ctx *ctx, bool *cycle)
{
    const rg_graph *g = ctx->g;
    int_list *preds = NULL, *old_readers = NULL, *writers = NULL;
    rg_status st = build_units(ctx);

    *cycle = false;
    if (st != RG_STATUS_OK) {
        return st;
    }
    preds = calloc((size_t)ctx->n_units + 1, sizeof(*preds));
    old_readers = calloc((size_t)g->n_nodes + 1, sizeof(*old_readers));
    writers = calloc((size_t)g->n_nodes + 1, sizeof(*writers));
    ctx->order = realloc(ctx->order, ((size_t)ctx->n_units + 1) * sizeof(int));
    ctx->pos = realloc(ctx->pos, ((size_t)ctx->n_units + 1) * sizeof(int));
    if (preds == NULL || old_readers == NULL || writers == NULL ||
        ctx->order == NULL || ctx->pos == NULL ||
        !collect_edges(ctx, preds, old_readers, writers)) {
        st = plan_no_memory(ctx);
        goto done;
    }
    /* Anti-dependences: readers of a param's old value come first. */
    for (int p = 0; p < g->n_nodes; p++) {
        for (int w = 0; w < writers[p].n; w++) {
            for (int r = 0; r < old_readers[p].n; r++) {
                int reader = old_readers[p].items[r];
                int writer = writers[p].items[w];
                if (reader != writer && !list_push(&preds[writer], reader)) {
                    st = plan_no_memory(ctx);
                    goto done;
                }
            }
        }
    }
    *cycle = !order_units(ctx, preds);

done:
    lists_free(preds, ctx->n_units + 1);
    lists_free(old_readers, g->n_nodes + 1);
    lists_free(writers, g->n_nodes + 1);
    return st;
}

rg_status plan_schedule(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    int n_updates = g->n_updates;
    bool *allowed = malloc(((size_t)n_updates + 1) * sizeof(bool));
    rg_status st = RG_STATUS_OK;
    bool cycle = true;

    if (allowed == NULL) {
        return plan_no_memory(ctx);
    }
    for (int i = 0; i < n_updates; i++) {
        allowed[i] = ctx->plan->options.fuse;
    }
    decide_storage(ctx);
    /* Undo in-place updates from the last until the order exists. */
    for (int undo = n_updates; undo >= 0 && cycle; undo--) {
        decide_inplace(ctx, allowed);
        st = try_schedule(ctx, &cycle);
        if (st != RG_STATUS_OK) {
            break;
        }
        if (cycle && undo > 0) {
            allowed[undo - 1] = false;
        }
    }
    free(allowed);
    if (st == RG_STATUS_OK && cycle) {
        st = rg_error_set(ctx->err, RG_STATUS_MODEL,
                          "the updates cannot be ordered: each reads a value "
                          "that another overwrites");
    }
    return st;
}
