/*
 * The graph builder: node creation with shape inference at creation time,
 * outputs, updates and read access. The first error is kept in the graph
 * and every later call that receives RG_NODE_NONE passes it through.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/graph_internal.h"
#include "kernels/kprog.h"

static const char *const op_names[RG_OP_COUNT] = {
    [RG_OP_INPUT] = "input",       [RG_OP_PARAM] = "param",
    [RG_OP_STATE] = "state",       [RG_OP_HYPER] = "hyper",
    [RG_OP_CONST] = "const",       [RG_OP_ADD] = "add",
    [RG_OP_SUB] = "sub",           [RG_OP_MUL] = "mul",
    [RG_OP_DIV] = "div",           [RG_OP_POW] = "pow",
    [RG_OP_MIN] = "min",           [RG_OP_MAX] = "max",
    [RG_OP_LT] = "lt",             [RG_OP_LE] = "le",
    [RG_OP_GT] = "gt",             [RG_OP_GE] = "ge",
    [RG_OP_EQ] = "eq",             [RG_OP_NE] = "ne",
    [RG_OP_NEG] = "neg",           [RG_OP_SIGMOID] = "sigmoid",
    [RG_OP_EXP] = "exp",           [RG_OP_LOG] = "log",
    [RG_OP_LOG1P] = "log1p",       [RG_OP_SOFTPLUS] = "softplus",
    [RG_OP_TANH] = "tanh",         [RG_OP_RELU] = "relu",
    [RG_OP_SQRT] = "sqrt",         [RG_OP_SQUARE] = "square",
    [RG_OP_ABS] = "abs",           [RG_OP_WHERE] = "where",
    [RG_OP_MATMUL] = "matmul",     [RG_OP_TRANSPOSE] = "transpose",
    [RG_OP_SUM] = "sum",           [RG_OP_MEAN] = "mean",
    [RG_OP_BERNOULLI] = "bernoulli", [RG_OP_NORMAL] = "normal",
    [RG_OP_UNIFORM] = "uniform",   [RG_OP_GEMM_ACC] = "gemm_acc",
};

const char *rg_op_name(rg_op op)
{
    if ((int)op < 0 || op >= RG_OP_COUNT) {
        return "unknown";
    }
    return op_names[op];
}

int graph_kp_opcode(rg_op op)
{
    switch (op) {
    case RG_OP_ADD: return KP_ADD;
    case RG_OP_SUB: return KP_SUB;
    case RG_OP_MUL: return KP_MUL;
    case RG_OP_DIV: return KP_DIV;
    case RG_OP_POW: return KP_POW;
    case RG_OP_MIN: return KP_MIN;
    case RG_OP_MAX: return KP_MAX;
    case RG_OP_LT: return KP_LT;
    case RG_OP_LE: return KP_LE;
    case RG_OP_GT: return KP_GT;
    case RG_OP_GE: return KP_GE;
    case RG_OP_EQ: return KP_EQ;
    case RG_OP_NE: return KP_NE;
    case RG_OP_NEG: return KP_NEG;
    case RG_OP_SIGMOID: return KP_SIGMOID;
    case RG_OP_EXP: return KP_EXP;
    case RG_OP_LOG: return KP_LOG;
    case RG_OP_LOG1P: return KP_LOG1P;
    case RG_OP_SOFTPLUS: return KP_SOFTPLUS;
    case RG_OP_TANH: return KP_TANH;
    case RG_OP_RELU: return KP_RELU;
    case RG_OP_SQRT: return KP_SQRT;
    case RG_OP_SQUARE: return KP_SQUARE;
    case RG_OP_ABS: return KP_ABS;
    case RG_OP_WHERE: return KP_WHERE;
    default: return KP_OPCODE_COUNT;
    }
}

bool graph_op_is_leaf(rg_op op)
{
    return op <= RG_OP_CONST;
}

bool graph_op_is_binary(rg_op op)
{
    return op >= RG_OP_ADD && op <= RG_OP_NE;
}

bool graph_op_is_unary(rg_op op)
{
    return op >= RG_OP_NEG && op <= RG_OP_ABS;
}

bool graph_op_is_elementwise(rg_op op)
{
    return graph_op_is_binary(op) || graph_op_is_unary(op) ||
           op == RG_OP_WHERE;
}

bool graph_op_is_random(rg_op op)
{
    return op == RG_OP_BERNOULLI || op == RG_OP_NORMAL ||
           op == RG_OP_UNIFORM;
}

rg_graph *rg_graph_new(void)
{
    return calloc(1, sizeof(rg_graph));
}

void rg_graph_free(rg_graph *g)
{
    if (g == NULL) {
        return;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        free(g->outputs[i].name);
    }
    free(g->nodes);
    free(g->outputs);
    free(g->updates);
    free(g->source);
    free(g);
}

void rg_graph_set_source(rg_graph *g, const char *file)
{
    free(g->source);
    g->source = file != NULL ? strdup(file) : NULL;
}

void rg_graph_set_loc(rg_graph *g, int line, int column)
{
    g->line = line;
    g->column = column;
}

const rg_error *rg_graph_error(const rg_graph *g)
{
    return g->error.code == RG_STATUS_OK ? NULL : &g->error;
}

static rg_status graph_vfail(rg_graph *g, rg_status code, const char *fmt,
                             va_list args)
{
    if (g->error.code != RG_STATUS_OK) {
        return g->error.code;
    }
    return rg_error_vset_at(&g->error, code, g->source, g->line, g->column,
                            fmt, args);
}

rg_node_id rg_graph_fail(rg_graph *g, rg_status code, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    graph_vfail(g, code, fmt, args);
    va_end(args);
    return RG_NODE_NONE;
}

/* Checks that `id` names an existing node; records API misuse otherwise. */
static bool graph_valid(rg_graph *g, rg_node_id id)
{
    if (id == RG_NODE_NONE) {
        /* An earlier call failed and recorded why. */
        if (g->error.code == RG_STATUS_OK) {
            rg_graph_fail(g, RG_STATUS_INVALID_ARGUMENT,
                          "operand is RG_NODE_NONE but no error was recorded");
        }
        return false;
    }
    if (id < 0 || id >= g->n_nodes) {
        rg_graph_fail(g, RG_STATUS_INVALID_ARGUMENT,
                      "node id %d is out of range (graph has %d nodes)",
                      (int)id, g->n_nodes);
        return false;
    }
    return true;
}

/* Appends a node of `op` and `shape`; returns its id or RG_NODE_NONE. */
static rg_node_id graph_push(rg_graph *g, rg_op op, rg_shape shape)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        rg_node *nodes = realloc(g->nodes, (size_t)cap * sizeof(*nodes));

        if (nodes == NULL) {
            return rg_graph_fail(g, RG_STATUS_NO_MEMORY,
                                 "out of memory growing the graph to %d nodes",
                                 cap);
        }
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    rg_node *node = &g->nodes[g->n_nodes];
    memset(node, 0, sizeof(*node));
    node->op = op;
    node->shape = shape;
    node->axis = RG_AXIS_ALL;
    node->group = -1;
    node->line = g->line;
    node->column = g->column;
    return g->n_nodes++;
}

static rg_node_id graph_push_operands(rg_graph *g, rg_op op, rg_shape shape,
                                      int n, const rg_node_id *operands)
{
    rg_node_id id = graph_push(g, op, shape);

    if (id == RG_NODE_NONE) {
        return id;
    }
    g->nodes[id].n_operands = n;
    for (int i = 0; i < n; i++) {
        g->nodes[id].operands[i] = operands[i];
    }
    return id;
}

rg_graph *graph_new_like(const rg_graph *src)
{
    rg_graph *g = rg_graph_new();

    if (g != NULL && src->source != NULL) {
        g->source = strdup(src->source);
        if (g->source == NULL) {
            rg_graph_free(g);
            return NULL;
        }
    }
    return g;
}

rg_node_id graph_push_node(rg_graph *dst, const rg_node *proto)
{
    return graph_push_copy(dst, proto, NULL);
}

rg_node_id graph_push_copy(rg_graph *dst, const rg_node *proto,
                           const rg_node_id *map)
{
    char *name = NULL;

    if (proto->name != NULL && (name = strdup(proto->name)) == NULL) {
        return rg_graph_fail(dst, RG_STATUS_NO_MEMORY, "out of memory");
    }
    rg_node_id id = graph_push(dst, proto->op, proto->shape);
    if (id == RG_NODE_NONE) {
        free(name);
        return id;
    }
    rg_node *n = &dst->nodes[id];
    *n = *proto;
    n->name = name;
    for (int i = 0; i < n->n_operands && map != NULL; i++) {
        n->operands[i] = map[proto->operands[i]];
    }
    if (graph_op_is_random(n->op) && n->stream >= dst->n_streams) {
        dst->n_streams = n->stream + 1;
    }
    return id;
}

rg_status graph_copy_roots(rg_graph *dst, const rg_graph *src,
                           const rg_node_id *map)
{
    for (int i = 0; i < src->n_outputs; i++) {
        const rg_output *o = &src->outputs[i];
        rg_status st = rg_graph_add_output(dst, o->name, map[o->node],
                                           o->is_metric);
        if (st != RG_STATUS_OK) {
            return st;
        }
    }
    for (int i = 0; i < src->n_updates; i++) {
        const rg_update *u = &src->updates[i];
        rg_status st = rg_graph_add_update(dst, map[u->target],
                                           map[u->value]);
        if (st != RG_STATUS_OK) {
            return st;
        }
    }
    return RG_STATUS_OK;
}

void graph_mark_needed(const rg_graph *g, bool *needed)
{
    for (int i = 0; i < g->n_outputs; i++) {
        needed[g->outputs[i].node] = true;
    }
    for (int i = 0; i < g->n_updates; i++) {
        needed[g->updates[i].target] = true;
        needed[g->updates[i].value] = true;
    }
    /* Operands have smaller ids, so one backward sweep suffices. */
    for (int id = g->n_nodes - 1; id >= 0; id--) {
        if (!needed[id]) {
            continue;
        }
        for (int k = 0; k < g->nodes[id].n_operands; k++) {
            needed[g->nodes[id].operands[k]] = true;
        }
    }
}

void graph_count_uses(const rg_graph *g, int *uses)
{
    memset(uses, 0, (size_t)g->n_nodes * sizeof(*uses));
    for (int id = 0; id < g->n_nodes; id++) {
        for (int k = 0; k < g->nodes[id].n_operands; k++) {
            uses[g->nodes[id].operands[k]]++;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        uses[g->outputs[i].node]++;
    }
    for (int i = 0; i < g->n_updates; i++) {
        uses[g->updates[i].value]++;
    }
}

/* Leaves. */

static bool shape_valid(rg_graph *g, const char *name, rg_shape shape)
{
    char buf[64];

    if (shape.rank < 0 || shape.rank > RG_MAX_RANK) {
        rg_graph_fail(g, RG_STATUS_UNSUPPORTED,
                      "'%s' has rank %d; tensors of rank 0 to %d are supported",
                      name, shape.rank, RG_MAX_RANK);
        return false;
    }
    /* Bytes must fit int64_t so later size arithmetic cannot overflow. */
    int64_t bytes = (int64_t)sizeof(float);
    for (int i = 0; i < shape.rank; i++) {
        if (shape.dims[i] <= 0) {
            rg_graph_fail(g, RG_STATUS_SHAPE,
                          "'%s' has shape %s; every dimension must be positive",
                          name, rg_shape_str(shape, buf, sizeof(buf)));
            return false;
        }
        if (bytes > INT64_MAX / shape.dims[i]) {
            rg_graph_fail(g, RG_STATUS_NO_MEMORY,
                          "'%s' has shape %s, whose size in bytes overflows "
                          "a 64-bit integer", name,
                          rg_shape_str(shape, buf, sizeof(buf)));
            return false;
        }
        bytes *= shape.dims[i];
    }
    return true;
}

static rg_node_id graph_leaf(rg_graph *g, rg_op op, const char *name,
                             rg_shape shape, rg_init init)
{
    if (g->error.code != RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    if (name == NULL || name[0] == '\0') {
        return rg_graph_fail(g, RG_STATUS_INVALID_ARGUMENT,
                             "every %s needs a non-empty name", rg_op_name(op));
    }
    if (rg_graph_find_leaf(g, name) != RG_NODE_NONE) {
        return rg_graph_fail(g, RG_STATUS_MODEL,
                             "'%s' is declared twice", name);
    }
    if (!shape_valid(g, name, shape)) {
        return RG_NODE_NONE;
    }

    char *copy = strdup(name);
    if (copy == NULL) {
        return rg_graph_fail(g, RG_STATUS_NO_MEMORY, "out of memory");
    }
    rg_node_id id = graph_push(g, op, shape);
    if (id == RG_NODE_NONE) {
        free(copy);
        return id;
    }
    g->nodes[id].name = copy;
    g->nodes[id].init = init;
    return id;
}

rg_node_id rg_graph_input(rg_graph *g, const char *name, rg_shape shape)
{
    rg_init none = {RG_INIT_ZEROS, 0, 0};
    return graph_leaf(g, RG_OP_INPUT, name, shape, none);
}

rg_node_id rg_graph_param(rg_graph *g, const char *name, rg_shape shape,
                          rg_init init)
{
    return graph_leaf(g, RG_OP_PARAM, name, shape, init);
}

rg_node_id rg_graph_state(rg_graph *g, const char *name, rg_shape shape,
                          rg_init init)
{
    return graph_leaf(g, RG_OP_STATE, name, shape, init);
}

rg_node_id rg_graph_hyper(rg_graph *g, const char *name)
{
    rg_init none = {RG_INIT_ZEROS, 0, 0};
    return graph_leaf(g, RG_OP_HYPER, name, graph_shape0(), none);
}

rg_node_id rg_graph_const(rg_graph *g, double value)
{
    if (g->error.code != RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    rg_node_id id = graph_push(g, RG_OP_CONST, graph_shape0());
    if (id != RG_NODE_NONE) {
        g->nodes[id].value = value;
    }
    return id;
}

/* Operations. */

rg_node_id rg_graph_unary(rg_graph *g, rg_op op, rg_node_id a)
{
    if (!graph_valid(g, a)) {
        return RG_NODE_NONE;
    }
    if (!graph_op_is_unary(op)) {
        return rg_graph_fail(g, RG_STATUS_INVALID_ARGUMENT,
                             "'%s' is not a unary op", rg_op_name(op));
    }
    return graph_push_operands(g, op, g->nodes[a].shape, 1, &a);
}

rg_node_id rg_graph_binary(rg_graph *g, rg_op op, rg_node_id a, rg_node_id b)
{
    rg_node_id operands[2] = {a, b};
    rg_shape shape;

    if (!graph_valid(g, a) || !graph_valid(g, b)) {
        return RG_NODE_NONE;
    }
    if (!graph_op_is_binary(op)) {
        return rg_graph_fail(g, RG_STATUS_INVALID_ARGUMENT,
                             "'%s' is not a binary op", rg_op_name(op));
    }
    if (infer_broadcast(g, rg_op_name(op), g->nodes[a].shape,
                        g->nodes[b].shape, &shape) != RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    return graph_push_operands(g, op, shape, 2, operands);
}

rg_node_id rg_graph_where(rg_graph *g, rg_node_id cond, rg_node_id a,
                          rg_node_id b)
{
    rg_node_id operands[3] = {cond, a, b};
    rg_shape ab, shape;

    if (!graph_valid(g, cond) || !graph_valid(g, a) || !graph_valid(g, b)) {
        return RG_NODE_NONE;
    }
    if (infer_broadcast(g, "where", g->nodes[a].shape, g->nodes[b].shape,
                        &ab) != RG_STATUS_OK ||
        infer_broadcast(g, "where", g->nodes[cond].shape, ab, &shape) !=
            RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    return graph_push_operands(g, RG_OP_WHERE, shape, 3, operands);
}

rg_node_id rg_graph_matmul(rg_graph *g, rg_node_id a, rg_node_id b)
{
    rg_node_id operands[2] = {a, b};
    rg_shape shape;

    if (!graph_valid(g, a) || !graph_valid(g, b)) {
        return RG_NODE_NONE;
    }
    if (infer_matmul(g, a, b, &shape) != RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    return graph_push_operands(g, RG_OP_MATMUL, shape, 2, operands);
}

rg_node_id rg_graph_transpose(rg_graph *g, rg_node_id a)
{
    rg_shape shape;

    if (!graph_valid(g, a)) {
        return RG_NODE_NONE;
    }
    shape = g->nodes[a].shape;
    if (shape.rank < 2) {
        /* NumPy's .T leaves vectors and scalars unchanged. */
        return a;
    }
    shape.dims[0] = g->nodes[a].shape.dims[1];
    shape.dims[1] = g->nodes[a].shape.dims[0];
    return graph_push_operands(g, RG_OP_TRANSPOSE, shape, 1, &a);
}

rg_node_id rg_graph_reduce(rg_graph *g, rg_op op, rg_node_id a, int axis)
{
    rg_shape shape;
    int norm_axis;

    if (!graph_valid(g, a)) {
        return RG_NODE_NONE;
    }
    if (op != RG_OP_SUM && op != RG_OP_MEAN) {
        return rg_graph_fail(g, RG_STATUS_INVALID_ARGUMENT,
                             "'%s' is not a reduction", rg_op_name(op));
    }
    if (infer_reduce(g, g->nodes[a].shape, axis, &norm_axis, &shape) !=
        RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    rg_node_id id = graph_push_operands(g, op, shape, 1, &a);
    if (id != RG_NODE_NONE) {
        g->nodes[id].axis = norm_axis;
    }
    return id;
}

static rg_node_id graph_random(rg_graph *g, rg_op op, rg_shape shape, int n,
                               const rg_node_id *operands)
{
    rg_node_id id = graph_push_operands(g, op, shape, n, operands);

    if (id != RG_NODE_NONE) {
        g->nodes[id].stream = g->n_streams++;
    }
    return id;
}

rg_node_id rg_graph_bernoulli(rg_graph *g, rg_node_id p)
{
    if (!graph_valid(g, p)) {
        return RG_NODE_NONE;
    }
    return graph_random(g, RG_OP_BERNOULLI, g->nodes[p].shape, 1, &p);
}

rg_node_id rg_graph_normal(rg_graph *g, rg_node_id mean, rg_node_id std)
{
    rg_node_id operands[2] = {mean, std};
    rg_shape shape;

    if (!graph_valid(g, mean) || !graph_valid(g, std)) {
        return RG_NODE_NONE;
    }
    if (infer_broadcast(g, "normal", g->nodes[mean].shape,
                        g->nodes[std].shape, &shape) != RG_STATUS_OK) {
        return RG_NODE_NONE;
    }
    return graph_random(g, RG_OP_NORMAL, shape, 2, operands);
}

rg_node_id rg_graph_uniform(rg_graph *g, rg_node_id like)
{
    if (!graph_valid(g, like)) {
        return RG_NODE_NONE;
    }
    return graph_random(g, RG_OP_UNIFORM, g->nodes[like].shape, 1, &like);
}

void rg_graph_set_name(rg_graph *g, rg_node_id node, const char *name)
{
    char *copy;

    if (node < 0 || node >= g->n_nodes || name == NULL) {
        return;
    }
    /* Leaves keep their declared name; it is how callers find them. */
    if (graph_op_is_leaf(g->nodes[node].op) && g->nodes[node].name) {
        return;
    }
    copy = strdup(name);
    if (copy == NULL) {
        rg_graph_fail(g, RG_STATUS_NO_MEMORY, "out of memory");
        return;
    }
    free(g->nodes[node].name);
    g->nodes[node].name = copy;
}

rg_status rg_graph_add_output(rg_graph *g, const char *name, rg_node_id node,
                              bool is_metric)
{
    char buf[64];

    if (!graph_valid(g, node)) {
        return g->error.code;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        if (strcmp(g->outputs[i].name, name) == 0) {
            rg_graph_fail(g, RG_STATUS_MODEL,
                          "output '%s' is declared twice", name);
            return g->error.code;
        }
    }
    if (is_metric && g->nodes[node].shape.rank != 0) {
        rg_graph_fail(g, RG_STATUS_SHAPE,
                      "metric '%s' has shape %s; a metric must be a scalar "
                      "(reduce it with sum() or mean())",
                      name, rg_shape_str(g->nodes[node].shape, buf,
                                         sizeof(buf)));
        return g->error.code;
    }
    if (g->n_outputs == g->cap_outputs) {
        int cap = g->cap_outputs ? 2 * g->cap_outputs : 8;
        rg_output *outputs = realloc(g->outputs, (size_t)cap *
                                     sizeof(*outputs));
        if (outputs == NULL) {
            rg_graph_fail(g, RG_STATUS_NO_MEMORY, "out of memory");
            return g->error.code;
        }
        g->outputs = outputs;
        g->cap_outputs = cap;
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        rg_graph_fail(g, RG_STATUS_NO_MEMORY, "out of memory");
        return g->error.code;
    }
    g->outputs[g->n_outputs].name = copy;
    g->outputs[g->n_outputs].node = node;
    g->outputs[g->n_outputs].is_metric = is_metric;
    g->n_outputs++;
    return RG_STATUS_OK;
}

rg_status rg_graph_add_update(rg_graph *g, rg_node_id target,
                              rg_node_id value)
{
    char a[64], b[64];

    if (!graph_valid(g, target) || !graph_valid(g, value)) {
        return g->error.code;
    }
    const rg_node *t = &g->nodes[target];
    if (t->op != RG_OP_PARAM && t->op != RG_OP_STATE) {
        rg_graph_fail(g, RG_STATUS_MODEL,
                      "cannot update '%s': only params and state can be "
                      "updated", t->name ? t->name : rg_op_name(t->op));
        return g->error.code;
    }
    if (!rg_shape_equal(t->shape, g->nodes[value].shape)) {
        rg_graph_fail(g, RG_STATUS_SHAPE,
                      "update of '%s' has shape %s but '%s' has shape %s",
                      t->name, rg_shape_str(g->nodes[value].shape, a,
                                            sizeof(a)),
                      t->name, rg_shape_str(t->shape, b, sizeof(b)));
        return g->error.code;
    }
    for (int i = 0; i < g->n_updates; i++) {
        if (g->updates[i].target == target) {
            rg_graph_fail(g, RG_STATUS_MODEL, "'%s' is updated twice",
                          t->name);
            return g->error.code;
        }
    }
    if (g->n_updates == g->cap_updates) {
        int cap = g->cap_updates ? 2 * g->cap_updates : 8;
        rg_update *updates = realloc(g->updates, (size_t)cap *
                                     sizeof(*updates));
        if (updates == NULL) {
            rg_graph_fail(g, RG_STATUS_NO_MEMORY, "out of memory");
            return g->error.code;
        }
        g->updates = updates;
        g->cap_updates = cap;
    }
    g->updates[g->n_updates].target = target;
    g->updates[g->n_updates].value = value;
    g->n_updates++;
    return RG_STATUS_OK;
}

/* Read access. Out-of-range ids are API misuse and guarded. */

int rg_graph_n_nodes(const rg_graph *g)
{
    return g->n_nodes;
}

rg_op rg_graph_node_op(const rg_graph *g, rg_node_id node)
{
    RG_ASSERT(node >= 0 && node < g->n_nodes);
    return g->nodes[node].op;
}

rg_shape rg_graph_node_shape(const rg_graph *g, rg_node_id node)
{
    RG_ASSERT(node >= 0 && node < g->n_nodes);
    return g->nodes[node].shape;
}

const char *rg_graph_node_name(const rg_graph *g, rg_node_id node)
{
    RG_ASSERT(node >= 0 && node < g->n_nodes);
    return g->nodes[node].name;
}

rg_node_id rg_graph_find_leaf(const rg_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const rg_node *n = &g->nodes[i];
        if (graph_op_is_leaf(n->op) && n->name && strcmp(n->name, name) == 0) {
            return i;
        }
    }
    return RG_NODE_NONE;
}

int rg_graph_n_outputs(const rg_graph *g)
{
    return g->n_outputs;
}

const char *rg_graph_output_name(const rg_graph *g, int index)
{
    RG_ASSERT(index >= 0 && index < g->n_outputs);
    return g->outputs[index].name;
}

rg_node_id rg_graph_output_node(const rg_graph *g, int index)
{
    RG_ASSERT(index >= 0 && index < g->n_outputs);
    return g->outputs[index].node;
}

bool rg_graph_output_is_metric(const rg_graph *g, int index)
{
    RG_ASSERT(index >= 0 && index < g->n_outputs);
    return g->outputs[index].is_metric;
}

int rg_graph_n_updates(const rg_graph *g)
{
    return g->n_updates;
}

rg_node_id rg_graph_update_target(const rg_graph *g, int index)
{
    RG_ASSERT(index >= 0 && index < g->n_updates);
    return g->updates[index].target;
}

rg_node_id rg_graph_update_value(const rg_graph *g, int index)
{
    RG_ASSERT(index >= 0 && index < g->n_updates);
    return g->updates[index].value;
}
