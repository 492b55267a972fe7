/*
 * Fusion. Two rewrites, in this order:
 *
 * 1. Accumulating updates. An update whose new value is a linear
 *    combination beta * P + sum_i alpha_i * (A_i @ B_i), with host-scalar
 *    coefficients and matrix products used nowhere else, becomes a chain of
 *    RG_OP_GEMM_ACC nodes that run GEMM with beta = 1 (after the first)
 *    straight into P's storage: no gradient temporaries.
 *
 * 2. Grouping. Nodes are visited in topological order. An elementwise
 *    node joins the group of an operand when it iterates over the same
 *    shape, and a reduction joins the group of its operand. A matrix
 *    product starts a group whose elementwise consumers form its epilogue. A node may join
 *    group G only when every other operand comes from a group before G,
 *    so running groups in number order respects every data dependence.
 *    A reduction's result is complete only after its group ends, so its
 *    consumers never join that group.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/graph_internal.h"
#include "graph/passes.h"

bool pass_is_host_scalar(const rg_graph *g, rg_node_id id,
                         const bool *host_scalar_of_operands)
{
    const rg_node *n = &g->nodes[id];

    if (n->op == RG_OP_CONST || n->op == RG_OP_HYPER) {
        return true;
    }
    if (n->shape.rank != 0 || !graph_op_is_elementwise(n->op)) {
        return false;
    }
    for (int i = 0; i < n->n_operands; i++) {
        if (!host_scalar_of_operands[n->operands[i]]) {
            return false;
        }
    }
    return true;
}

/* A term coef * sign * node of a linear combination. */
typedef struct lin_term {
    rg_node_id node;
    rg_node_id coef; /* host scalar, or RG_NODE_NONE for 1 */
    double sign;
} lin_term;

enum { MAX_TERMS = 8 };

typedef struct lin_ctx {
    rg_graph *g;
    bool *host;   /* host-scalar flags, grown with the graph */
    int cap_host;
    lin_term terms[MAX_TERMS];
    int n_terms;
} lin_ctx;

/* Flags new node `id` as a host scalar; returns it, or NONE on failure. */
static rg_node_id flag_host(lin_ctx *ctx, rg_node_id id)
{
    if (id == RG_NODE_NONE) {
        return id;
    }
    if (id >= ctx->cap_host) {
        int cap = 2 * (id + 1);
        bool *host = realloc(ctx->host, (size_t)cap * sizeof(*host));
        if (host == NULL) {
            return rg_graph_fail(ctx->g, RG_STATUS_NO_MEMORY,
                                 "out of memory");
        }
        memset(host + ctx->cap_host, 0,
               (size_t)(cap - ctx->cap_host) * sizeof(*host));
        ctx->host = host;
        ctx->cap_host = cap;
    }
    ctx->host[id] = true;
    return id;
}

/* Appends a host-scalar node op(a, b); NONE on failure. */
static rg_node_id push_scalar(lin_ctx *ctx, rg_op op, rg_node_id a,
                              rg_node_id b)
{
    return flag_host(ctx, rg_graph_binary(ctx->g, op, a, b));
}

/* Returns coef * s (either may be NONE for 1). */
static rg_node_id scale_coef(lin_ctx *ctx, rg_node_id coef, rg_node_id s,
                             rg_op op)
{
    if (op == RG_OP_DIV) {
        if (coef == RG_NODE_NONE) {
            coef = flag_host(ctx, rg_graph_const(ctx->g, 1.0));
        }
        return push_scalar(ctx, RG_OP_DIV, coef, s);
    }
    return coef == RG_NODE_NONE ? s : push_scalar(ctx, RG_OP_MUL, coef, s);
}

/* Splits node `id` into terms; false when it is not a linear form. */
static bool linearize(lin_ctx *ctx, rg_node_id id, rg_node_id coef,
                      double sign)
{
    const rg_node n = ctx->g->nodes[id];
    rg_node_id a = n.n_operands > 0 ? n.operands[0] : RG_NODE_NONE;
    rg_node_id b = n.n_operands > 1 ? n.operands[1] : RG_NODE_NONE;

    switch (n.op) {
    case RG_OP_ADD:
        return linearize(ctx, a, coef, sign) && linearize(ctx, b, coef, sign);
    case RG_OP_SUB:
        return linearize(ctx, a, coef, sign) &&
               linearize(ctx, b, coef, -sign);
    case RG_OP_NEG:
        return linearize(ctx, a, coef, -sign);
    case RG_OP_MUL:
        if (ctx->host[a] || ctx->host[b]) {
            rg_node_id s = ctx->host[a] ? a : b;
            rg_node_id rest = ctx->host[a] ? b : a;
            rg_node_id c = scale_coef(ctx, coef, s, RG_OP_MUL);
            return c != RG_NODE_NONE && linearize(ctx, rest, c, sign);
        }
        break;
    case RG_OP_DIV:
        if (ctx->host[b]) {
            rg_node_id c = scale_coef(ctx, coef, b, RG_OP_DIV);
            return c != RG_NODE_NONE && linearize(ctx, a, c, sign);
        }
        break;
    default:
        break;
    }
    if (ctx->n_terms == MAX_TERMS) {
        return false;
    }
    ctx->terms[ctx->n_terms++] = (lin_term){id, coef, sign};
    return true;
}

/* Follows transposes (views) down to the node that owns the memory. */
static rg_node_id view_base(const rg_graph *g, rg_node_id id)
{
    while (g->nodes[id].op == RG_OP_TRANSPOSE) {
        id = g->nodes[id].operands[0];
    }
    return id;
}

/* True when `id` is a param or state that some update overwrites. */
static bool is_updated(const rg_graph *g, rg_node_id id)
{
    for (int i = 0; i < g->n_updates; i++) {
        if (g->updates[i].target == id) {
            return true;
        }
    }
    return false;
}

/*
 * True when the terms are beta * target plus private matrix products. A
 * product must not read the target (the GEMM would read what it writes)
 * nor, directly or through a view, any other param that an update
 * overwrites, since two accumulating updates reading each other's old
 * values could not be ordered.
 */
static bool accumulating_form(const lin_ctx *ctx, rg_node_id target,
                              const int *uses, int *target_term)
{
    const rg_graph *g = ctx->g;
    int n_products = 0;

    *target_term = -1;
    for (int i = 0; i < ctx->n_terms; i++) {
        const lin_term *t = &ctx->terms[i];
        const rg_node *n = &g->nodes[t->node];

        if (t->node == target && *target_term < 0) {
            *target_term = i;
            continue;
        }
        /* A product must be private, full-size and must not read P. */
        if (n->op != RG_OP_MATMUL || uses[t->node] != 1 ||
            !rg_shape_equal(n->shape, g->nodes[target].shape)) {
            return false;
        }
        for (int k = 0; k < 2; k++) {
            rg_node_id base = view_base(g, n->operands[k]);
            if (base == target || is_updated(g, base)) {
                return false;
            }
        }
        n_products++;
    }
    return *target_term >= 0 && n_products > 0;
}

/* Returns `coef`, or a constant 1 node when it is NONE. */
static rg_node_id coef_node(lin_ctx *ctx, rg_node_id coef)
{
    if (coef != RG_NODE_NONE) {
        return coef;
    }
    return flag_host(ctx, rg_graph_const(ctx->g, 1.0));
}

/* Replaces update `index` by a GEMM_ACC chain; false to leave it. */
static bool rewrite_update(lin_ctx *ctx, int index, const int *uses)
{
    rg_graph *g = ctx->g;
    rg_node_id target = g->updates[index].target;
    int target_term;

    ctx->n_terms = 0;
    if (!linearize(ctx, g->updates[index].value, RG_NODE_NONE, 1.0) ||
        !accumulating_form(ctx, target, uses, &target_term)) {
        return false;
    }

    rg_node_id acc = target;
    rg_node_id beta = coef_node(ctx, ctx->terms[target_term].coef);
    double beta_sign = ctx->terms[target_term].sign;
    for (int i = 0; i < ctx->n_terms; i++) {
        if (i == target_term) {
            continue;
        }
        const lin_term *t = &ctx->terms[i];
        rg_node product = g->nodes[t->node];
        rg_node proto;

        memset(&proto, 0, sizeof(proto));
        proto.op = RG_OP_GEMM_ACC;
        proto.n_operands = 5;
        proto.operands[0] = acc;
        proto.operands[1] = product.operands[0];
        proto.operands[2] = product.operands[1];
        proto.operands[3] = coef_node(ctx, t->coef);
        proto.operands[4] = beta;
        proto.trans_a = product.trans_a;
        proto.trans_b = product.trans_b;
        proto.value = t->sign;
        proto.beta = beta_sign;
        proto.shape = g->nodes[target].shape;
        proto.group = -1;
        proto.name = g->nodes[target].name;
        proto.line = product.line;
        proto.column = product.column;
        if (beta == RG_NODE_NONE || proto.operands[3] == RG_NODE_NONE) {
            return false;
        }
        acc = graph_push_node(g, &proto);
        if (acc == RG_NODE_NONE) {
            return false;
        }
        /* Later products accumulate onto the first: beta = +1. */
        beta = coef_node(ctx, RG_NODE_NONE);
        beta_sign = 1.0;
    }
    /*
     * Other readers of the old expression (an output, or W's update in
     * W + V' after V' = m*V + ...) want the new value, which the chain
     * leaves in P: point them at the chain, so the products are computed
     * once. pass_dce restores a topological node order afterwards.
     */
    rg_node_id old = g->updates[index].value;
    g->updates[index].value = acc;
    for (int id = 0; id < g->n_nodes; id++) {
        for (int k = 0; k < g->nodes[id].n_operands; k++) {
            if (g->nodes[id].operands[k] == old) {
                g->nodes[id].operands[k] = acc;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        if (g->outputs[i].node == old) {
            g->outputs[i].node = acc;
        }
    }
    for (int i = 0; i < g->n_updates; i++) {
        if (g->updates[i].value == old) {
            g->updates[i].value = acc;
        }
    }
    return true;
}

/* Rewrites every update that has the accumulating form. */
static rg_status rewrite_updates(rg_graph *g, rg_error *err)
{
    lin_ctx ctx = {g, NULL, 0, {{0, 0, 0}}, 0};
    int *uses = malloc((size_t)(g->n_nodes + 1) * sizeof(*uses));
    rg_status st = RG_STATUS_OK;

    ctx.cap_host = g->n_nodes + 1;
    ctx.host = calloc((size_t)ctx.cap_host, sizeof(*ctx.host));
    if (uses == NULL || ctx.host == NULL) {
        free(uses);
        free(ctx.host);
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    for (int id = 0; id < g->n_nodes; id++) {
        ctx.host[id] = pass_is_host_scalar(g, id, ctx.host);
    }
    graph_count_uses(g, uses);
    for (int i = 0; i < g->n_updates; i++) {
        rewrite_update(&ctx, i, uses);
    }
    if (rg_graph_error(g) != NULL) {
        *err = *rg_graph_error(g);
        st = err->code;
    }
    free(uses);
    free(ctx.host);
    return st;
}

/* Grouping state. */
typedef struct group_ctx {
    rg_graph *g;
    bool fuse;
    bool *host;      /* [n_nodes] */
    bool *terminal;  /* [n_nodes]: a reduction, complete only after its group */
    rg_shape *space; /* [n_groups]: iteration space of each group */
    bool *closed;    /* [n_groups]: no node may join */
    bool *pending;   /* [n_nodes]: waits to join its only consumer's group */
    int n_groups;
} group_ctx;

static int new_group(group_ctx *ctx, rg_shape space, bool closed)
{
    ctx->space[ctx->n_groups] = space;
    ctx->closed[ctx->n_groups] = closed;
    return ctx->n_groups++;
}

/* True when node `id` may join group `gid` given its operands. */
static bool can_join(const group_ctx *ctx, rg_node_id id, int gid)
{
    const rg_graph *g = ctx->g;
    const rg_node *n = &g->nodes[id];

    if (gid < 0 || ctx->closed[gid] || !rg_shape_equal(ctx->space[gid],
                                                       n->shape)) {
        return false;
    }
    for (int i = 0; i < n->n_operands; i++) {
        rg_node_id o = n->operands[i];
        rg_node_id base = view_base(g, o);
        int og = g->nodes[base].group;

        if (og < 0) {
            continue;
        }
        /* A view is read from memory, so its owner must be finished. */
        if (og > gid || (og == gid && (base != o || ctx->terminal[base]))) {
            return false;
        }
    }
    return true;
}

/* The latest operand group an elementwise node could join, or -1. */
static int join_candidate(const group_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];
    int best = -1;

    for (int i = 0; i < n->n_operands; i++) {
        int og = ctx->g->nodes[n->operands[i]].group;
        if (og > best) {
            best = og;
        }
    }
    return can_join(ctx, id, best) ? best : -1;
}

/*
 * Settles the pending operands of node `id`, whose kernel iterates over
 * `space` (rank -1 when `id` reads its operands from memory: a product or
 * a view). Operands that cannot join get groups of their own at once, so
 * that every group still reads only from groups numbered before it. The
 * others stay pending until finish_pending puts them in `id`'s group.
 */
static void settle_pending(group_ctx *ctx, rg_node_id id, rg_shape space)
{
    rg_graph *g = ctx->g;
    const rg_node *n = &g->nodes[id];

    for (int k = 0; k < n->n_operands; k++) {
        rg_node_id o = n->operands[k];
        if (!ctx->pending[o]) {
            continue;
        }
        if (space.rank < 0 || !rg_shape_equal(space, g->nodes[o].shape)) {
            ctx->pending[o] = false;
            g->nodes[o].group = new_group(ctx, g->nodes[o].shape, false);
        }
    }
}

/* Puts the still-pending operands of `id` into `id`'s group. */
static void finish_pending(group_ctx *ctx, rg_node_id id)
{
    rg_graph *g = ctx->g;
    const rg_node *n = &g->nodes[id];

    for (int k = 0; k < n->n_operands; k++) {
        if (ctx->pending[n->operands[k]]) {
            ctx->pending[n->operands[k]] = false;
            g->nodes[n->operands[k]].group = n->group;
        }
    }
}

/*
 * True when elementwise node `id` reads only leaves and host scalars and
 * is used exactly once, by another node: it waits for that consumer and
 * joins its group, so a tree whose branches start at leaves becomes one
 * kernel.
 */
static bool starts_pending(const group_ctx *ctx, rg_node_id id,
                           const int *operand_uses, const int *uses)
{
    const rg_graph *g = ctx->g;
    const rg_node *n = &g->nodes[id];

    if (!ctx->fuse || ctx->host[id] || !(graph_op_is_elementwise(n->op) ||
                        graph_op_is_random(n->op)) ||
        operand_uses[id] != 1 || uses[id] != 1) {
        return false;
    }
    for (int k = 0; k < n->n_operands; k++) {
        const rg_node *o = &g->nodes[n->operands[k]];
        if (!graph_op_is_leaf(o->op) && !ctx->host[n->operands[k]]) {
            return false;
        }
    }
    return true;
}

static void assign_group(group_ctx *ctx, rg_node_id id)
{
    rg_graph *g = ctx->g;
    rg_node *n = &g->nodes[id];

    n->group = -1;
    if (graph_op_is_leaf(n->op) || ctx->host[id]) {
        return;
    }
    rg_shape from_memory = {-1, {0, 0}};
    if (n->op == RG_OP_TRANSPOSE) {
        settle_pending(ctx, id, from_memory);
        return;
    }
    if (n->op == RG_OP_MATMUL || n->op == RG_OP_GEMM_ACC) {
        settle_pending(ctx, id, from_memory);
        n->group = new_group(ctx, n->shape, n->op == RG_OP_GEMM_ACC ||
                                                !ctx->fuse);
        return;
    }
    if (n->op == RG_OP_SUM || n->op == RG_OP_MEAN) {
        rg_node_id x = n->operands[0];
        int xg = g->nodes[x].group;

        ctx->terminal[id] = true;
        settle_pending(ctx, id, g->nodes[x].shape);
        if (ctx->fuse && xg >= 0 && !ctx->closed[xg] &&
            !ctx->terminal[x] && rg_shape_equal(ctx->space[xg],
                                                g->nodes[x].shape)) {
            n->group = xg;
        } else {
            n->group = new_group(ctx, g->nodes[x].shape, !ctx->fuse);
        }
        finish_pending(ctx, id);
        return;
    }
    settle_pending(ctx, id, n->shape);
    int gid = ctx->fuse ? join_candidate(ctx, id) : -1;
    n->group = gid >= 0 ? gid : new_group(ctx, n->shape, !ctx->fuse);
    finish_pending(ctx, id);
}

static rg_status assign_groups(rg_graph *g, bool fuse, rg_error *err)
{
    size_t n = (size_t)(g->n_nodes > 0 ? g->n_nodes : 1);
    group_ctx ctx = {g, fuse, NULL, NULL, NULL, NULL, NULL, 0};
    int *uses = malloc(n * sizeof(int));
    int *operand_uses = calloc(n, sizeof(int));
    rg_status st = RG_STATUS_OK;

    ctx.host = calloc(n, sizeof(*ctx.host));
    ctx.terminal = calloc(n, sizeof(*ctx.terminal));
    ctx.space = calloc(n, sizeof(*ctx.space));
    ctx.closed = calloc(n, sizeof(*ctx.closed));
    ctx.pending = calloc(n, sizeof(*ctx.pending));
    if (ctx.host == NULL || ctx.terminal == NULL || ctx.space == NULL ||
        ctx.closed == NULL || ctx.pending == NULL || uses == NULL ||
        operand_uses == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    } else {
        graph_count_uses(g, uses);
        for (int id = 0; id < g->n_nodes; id++) {
            for (int k = 0; k < g->nodes[id].n_operands; k++) {
                operand_uses[g->nodes[id].operands[k]]++;
            }
        }
        for (int id = 0; id < g->n_nodes; id++) {
            ctx.host[id] = pass_is_host_scalar(g, id, ctx.host);
            if (starts_pending(&ctx, id, operand_uses, uses)) {
                ctx.pending[id] = true;
                g->nodes[id].group = -1;
            } else {
                assign_group(&ctx, id);
            }
        }
    }
    free(ctx.host);
    free(ctx.terminal);
    free(ctx.space);
    free(ctx.closed);
    free(ctx.pending);
    free(uses);
    free(operand_uses);
    return st;
}

rg_status pass_fuse(const rg_graph *in, bool fuse, rg_graph **out,
                    rg_error *err)
{
    return pass_fuse_options(in, fuse, fuse, out, err);
}

rg_status pass_fuse_options(const rg_graph *in, bool fuse, bool accumulate,
                            rg_graph **out, rg_error *err)
{
    rg_graph *work = NULL;
    rg_status st;

    *out = NULL;
    /* Work on a private copy: pass_dce copies every needed node. */
    st = pass_dce(in, &work, err);
    if (st == RG_STATUS_OK && accumulate) {
        st = rewrite_updates(work, err);
        if (st == RG_STATUS_OK) {
            rg_graph *pruned;
            st = pass_dce(work, &pruned, err);
            rg_graph_free(work);
            work = st == RG_STATUS_OK ? pruned : NULL;
        }
    }
    if (st == RG_STATUS_OK) {
        st = assign_groups(work, fuse, err);
    }
    if (st != RG_STATUS_OK) {
        rg_graph_free(work);
        return st;
    }
    *out = work;
    return RG_STATUS_OK;
}
