/*
 * Simplification and dead-node elimination. Nodes are rebuilt in order
 * into a new graph; `map` sends each old id to its replacement, which may
 * be an earlier node (a folded transpose, an identity, a merged copy).
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/graph_internal.h"
#include "graph/passes.h"
#include "kernels/kprog.h"

static rg_status fail_copy(rg_graph *g, rg_error *err)
{
    const rg_error *e = rg_graph_error(g);

    if (e != NULL) {
        *err = *e;
        return err->code;
    }
    return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
}

/* Min-heap of node ids, for a topological order that prefers low ids. */
typedef struct id_heap {
    rg_node_id *items;
    int n;
} id_heap;

static void heap_push(id_heap *h, rg_node_id id)
{
    int i = h->n++;

    h->items[i] = id;
    while (i > 0 && h->items[(i - 1) / 2] > h->items[i]) {
        rg_node_id t = h->items[i];
        h->items[i] = h->items[(i - 1) / 2];
        h->items[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static rg_node_id heap_pop(id_heap *h)
{
    rg_node_id top = h->items[0];
    int i = 0;

    h->items[0] = h->items[--h->n];
    for (;;) {
        int least = i, l = 2 * i + 1, r = 2 * i + 2;
        if (l < h->n && h->items[l] < h->items[least]) {
            least = l;
        }
        if (r < h->n && h->items[r] < h->items[least]) {
            least = r;
        }
        if (least == i) {
            return top;
        }
        rg_node_id t = h->items[i];
        h->items[i] = h->items[least];
        h->items[least] = t;
        i = least;
    }
}

/* Marks what outputs and updates need, following operands by DFS, since
 * a rewritten graph may refer to nodes with larger ids. */
static bool mark_needed_any_order(const rg_graph *g, bool *needed)
{
    rg_node_id *stack = malloc(((size_t)g->n_nodes + 1) * sizeof(*stack));
    int top = 0;

    if (stack == NULL) {
        return false;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        stack[top++] = g->outputs[i].node;
        needed[g->outputs[i].node] = true;
    }
    for (int i = 0; i < g->n_updates; i++) {
        rg_node_id ids[2] = {g->updates[i].target, g->updates[i].value};
        for (int k = 0; k < 2; k++) {
            if (!needed[ids[k]]) {
                needed[ids[k]] = true;
                stack[top++] = ids[k];
            }
        }
    }
    while (top > 0) {
        const rg_node *n = &g->nodes[stack[--top]];
        for (int k = 0; k < n->n_operands; k++) {
            if (!needed[n->operands[k]]) {
                needed[n->operands[k]] = true;
                stack[top++] = n->operands[k];
            }
        }
    }
    free(stack);
    return true;
}

/*
 * Copies the needed nodes into `g` in a topological order that keeps the
 * original order wherever it already is one (Kahn's algorithm taking the
 * lowest ready id). Fills `map`.
 */
static rg_status copy_sorted(const rg_graph *in, const bool *needed,
                             rg_graph *g, rg_node_id *map, rg_error *err)
{
    size_t n = (size_t)in->n_nodes + 1;
    int *missing = calloc(n, sizeof(*missing));
    int *n_users = calloc(n, sizeof(*n_users));
    int *first_user = malloc(n * sizeof(*first_user));
    int *users = malloc(n * RG_MAX_OPERANDS * sizeof(*users));
    id_heap heap = {malloc(n * sizeof(rg_node_id)), 0};
    rg_status st = RG_STATUS_OK;

    if (missing == NULL || n_users == NULL || first_user == NULL ||
        users == NULL || heap.items == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    /* Users of each node, as a compact adjacency list. */
    for (int id = 0; id < in->n_nodes; id++) {
        for (int k = 0; needed[id] && k < in->nodes[id].n_operands; k++) {
            n_users[in->nodes[id].operands[k]]++;
            missing[id]++;
        }
    }
    for (int id = 0, at = 0; id < in->n_nodes; id++) {
        first_user[id] = at;
        at += n_users[id];
        n_users[id] = 0;
    }
    for (int id = 0; id < in->n_nodes; id++) {
        for (int k = 0; needed[id] && k < in->nodes[id].n_operands; k++) {
            rg_node_id o = in->nodes[id].operands[k];
            users[first_user[o] + n_users[o]++] = id;
        }
    }
    for (int id = 0; id < in->n_nodes; id++) {
        map[id] = RG_NODE_NONE;
        if (needed[id] && missing[id] == 0) {
            heap_push(&heap, id);
        }
    }
    while (heap.n > 0) {
        rg_node_id id = heap_pop(&heap);
        map[id] = graph_push_copy(g, &in->nodes[id], map);
        if (map[id] == RG_NODE_NONE) {
            st = fail_copy(g, err);
            goto done;
        }
        for (int u = 0; u < n_users[id]; u++) {
            if (--missing[users[first_user[id] + u]] == 0) {
                heap_push(&heap, users[first_user[id] + u]);
            }
        }
    }
    for (int id = 0; id < in->n_nodes; id++) {
        if (needed[id] && map[id] == RG_NODE_NONE) {
            st = rg_error_set(err, RG_STATUS_MODEL,
                              "the graph has a cycle through node %d", id);
            break;
        }
    }

done:
    free(missing);
    free(n_users);
    free(first_user);
    free(users);
    free(heap.items);
    return st;
}

rg_status pass_dce(const rg_graph *in, rg_graph **out, rg_error *err)
{
    size_t n = (size_t)(in->n_nodes > 0 ? in->n_nodes : 1);
    bool *needed = calloc(n, sizeof(*needed));
    rg_node_id *map = malloc(n * sizeof(*map));
    rg_graph *g = graph_new_like(in);
    rg_status st = RG_STATUS_OK;

    *out = NULL;
    if (needed == NULL || map == NULL || g == NULL ||
        !mark_needed_any_order(in, needed)) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    st = copy_sorted(in, needed, g, map, err);
    if (st == RG_STATUS_OK && graph_copy_roots(g, in, map) != RG_STATUS_OK) {
        st = fail_copy(g, err);
    }

done:
    free(needed);
    free(map);
    if (st != RG_STATUS_OK) {
        rg_graph_free(g);
        return st;
    }
    *out = g;
    return RG_STATUS_OK;
}

/* True when node `id` is the scalar constant `value`. */
static bool is_const(const rg_graph *g, rg_node_id id, double value)
{
    return g->nodes[id].op == RG_OP_CONST && g->nodes[id].value == value;
}

/*
 * Returns the operand that `n` reduces to when it is an identity such as
 * x * 1 or x - 0 and keeps x's shape, or RG_NODE_NONE.
 */
static rg_node_id identity_operand(const rg_graph *g, const rg_node *n)
{
    rg_node_id a = n->operands[0];
    rg_node_id b = n->n_operands > 1 ? n->operands[1] : RG_NODE_NONE;
    rg_node_id keep = RG_NODE_NONE;

    switch (n->op) {
    case RG_OP_MUL:
        keep = is_const(g, b, 1.0) ? a : is_const(g, a, 1.0) ? b : keep;
        break;
    case RG_OP_ADD:
        keep = is_const(g, b, 0.0) ? a : is_const(g, a, 0.0) ? b : keep;
        break;
    case RG_OP_SUB:
    case RG_OP_DIV:
    case RG_OP_POW:
        if (is_const(g, b, n->op == RG_OP_SUB ? 0.0 : 1.0)) {
            keep = a;
        }
        break;
    default:
        break;
    }
    if (keep != RG_NODE_NONE && rg_shape_equal(g->nodes[keep].shape,
                                               n->shape)) {
        return keep;
    }
    return RG_NODE_NONE;
}

/* Folds an elementwise node whose operands are all constants. */
static bool fold_constant(const rg_graph *g, const rg_node *n, double *value)
{
    float v[RG_MAX_OPERANDS] = {0, 0, 0};
    int opcode = graph_kp_opcode(n->op);

    if (opcode == KP_OPCODE_COUNT || n->shape.rank != 0) {
        return false;
    }
    for (int i = 0; i < n->n_operands; i++) {
        if (g->nodes[n->operands[i]].op != RG_OP_CONST) {
            return false;
        }
        v[i] = (float)g->nodes[n->operands[i]].value;
    }
    /* Fold in float, as the kernels compute, so results agree exactly. */
    *value = kp_apply((kp_opcode)opcode, v[0], v[1], v[2]);
    return true;
}

/* True when `a` and `b` compute the same value (never for random ops).
 * Constants are the same when their values are; other leaves never. */
static bool same_node(const rg_node *a, const rg_node *b)
{
    if (a->op == RG_OP_CONST && b->op == RG_OP_CONST) {
        return memcmp(&a->value, &b->value, sizeof(a->value)) == 0;
    }
    if (a->op != b->op || graph_op_is_random(a->op) ||
        graph_op_is_leaf(a->op) || a->n_operands != b->n_operands ||
        a->axis != b->axis || a->trans_a != b->trans_a ||
        a->trans_b != b->trans_b || !rg_shape_equal(a->shape, b->shape)) {
        return false;
    }
    for (int i = 0; i < a->n_operands; i++) {
        if (a->operands[i] != b->operands[i]) {
            return false;
        }
    }
    return true;
}

/* Hash table of computed nodes in the new graph, for CSE. */
typedef struct cse_table {
    rg_node_id *slots;
    size_t mask;
} cse_table;

static size_t node_hash(const rg_node *n)
{
    size_t h = (size_t)n->op * 0x9E3779B97F4A7C15ull;

    for (int i = 0; i < n->n_operands; i++) {
        h = (h ^ (size_t)n->operands[i]) * 0x100000001B3ull;
    }
    if (n->op == RG_OP_CONST) {
        uint64_t bits;
        memcpy(&bits, &n->value, sizeof(bits));
        h = (h ^ (size_t)bits) * 0x100000001B3ull;
    }
    return h ^ (size_t)(n->axis + 1000) ^ ((size_t)n->trans_a << 7) ^
           ((size_t)n->trans_b << 9);
}

/* Returns an existing equal node, or inserts `id` and returns it. */
static rg_node_id cse_lookup(cse_table *t, const rg_graph *g, rg_node_id id)
{
    const rg_node *n = &g->nodes[id];
    size_t i = node_hash(n) & t->mask;

    while (t->slots[i] != RG_NODE_NONE) {
        if (same_node(&g->nodes[t->slots[i]], n)) {
            return t->slots[i];
        }
        i = (i + 1) & t->mask;
    }
    t->slots[i] = id;
    return id;
}

/* Replaces a TRANSPOSE operand of a matrix product by a flag. */
static void fold_transposes(const rg_graph *g, rg_node *n)
{
    for (int k = 0; k < 2; k++) {
        const rg_node *operand = &g->nodes[n->operands[k]];

        if (operand->op == RG_OP_TRANSPOSE) {
            n->operands[k] = operand->operands[0];
            if (k == 0) {
                n->trans_a = !n->trans_a;
            } else {
                n->trans_b = !n->trans_b;
            }
        }
    }
}

/* Rebuilds node `proto` (operands already mapped) into `g`. */
static rg_node_id simplify_node(rg_graph *g, cse_table *cse, rg_node proto)
{
    double value;

    if (proto.op == RG_OP_TRANSPOSE &&
        g->nodes[proto.operands[0]].op == RG_OP_TRANSPOSE) {
        return g->nodes[proto.operands[0]].operands[0];
    }
    if (proto.op == RG_OP_MATMUL) {
        fold_transposes(g, &proto);
    }
    /* x ^ 2 is x * x: a multiply instead of powf per element. */
    if (proto.op == RG_OP_POW && is_const(g, proto.operands[1], 2.0) &&
        rg_shape_equal(g->nodes[proto.operands[0]].shape, proto.shape)) {
        proto.op = RG_OP_SQUARE;
        proto.n_operands = 1;
    }
    rg_node_id same = identity_operand(g, &proto);
    if (same != RG_NODE_NONE) {
        return same;
    }
    if (fold_constant(g, &proto, &value)) {
        proto.op = RG_OP_CONST;
        proto.value = value;
        proto.n_operands = 0;
    }

    /* Operands are already new ids. */
    rg_node_id id = graph_push_node(g, &proto);
    if (id == RG_NODE_NONE ||
        (graph_op_is_leaf(proto.op) && proto.op != RG_OP_CONST)) {
        return id;
    }
    rg_node_id found = cse_lookup(cse, g, id);
    if (found != id) {
        /* The copy just made is a duplicate; drop it again. */
        free(g->nodes[id].name);
        g->n_nodes--;
    }
    return found;
}

rg_status pass_simplify(const rg_graph *in, rg_graph **out, rg_error *err)
{
    size_t n = (size_t)(in->n_nodes > 0 ? in->n_nodes : 1);
    size_t cap = 16;
    rg_node_id *map = malloc(n * sizeof(*map));
    rg_graph *g = graph_new_like(in);
    cse_table cse = {NULL, 0};
    rg_status st = RG_STATUS_OK;

    *out = NULL;
    while (cap < 2 * n) {
        cap *= 2;
    }
    cse.slots = malloc(cap * sizeof(*cse.slots));
    cse.mask = cap - 1;
    if (map == NULL || g == NULL || cse.slots == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < cap; i++) {
        cse.slots[i] = RG_NODE_NONE;
    }

    for (int id = 0; id < in->n_nodes; id++) {
        rg_node proto = in->nodes[id];

        for (int k = 0; k < proto.n_operands; k++) {
            proto.operands[k] = map[proto.operands[k]];
        }
        map[id] = simplify_node(g, &cse, proto);
        if (map[id] == RG_NODE_NONE) {
            st = fail_copy(g, err);
            goto done;
        }
    }
    if (graph_copy_roots(g, in, map) != RG_STATUS_OK) {
        st = fail_copy(g, err);
        goto done;
    }
    st = pass_dce(g, out, err);

done:
    free(map);
    free(cse.slots);
    rg_graph_free(g);
    return st;
}
