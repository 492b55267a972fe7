/*
 * Graph builder: a symbolic dataflow graph of float32 tensors of rank 0, 1
 * or 2. Each node's shape is inferred when the node is created, so no node
 * ever has an unknown shape.
 *
 * Error handling is sticky: a builder call that fails returns RG_NODE_NONE
 * and records the first error in the graph (see rg_graph_error). Any call
 * given RG_NODE_NONE as an operand returns RG_NODE_NONE without touching
 * the recorded error, so a front end can build a whole expression and check
 * once at the end.
 */
#ifndef RBMGRAPH_GRAPH_H
#define RBMGRAPH_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "rbmgraph/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RG_MAX_RANK 2
#define RG_NODE_NONE (-1)
/* Axis value of a reduction over all elements. */
#define RG_AXIS_ALL (-100)

typedef int32_t rg_node_id;

typedef struct rg_shape {
    int rank;
    int64_t dims[RG_MAX_RANK];
} rg_shape;

typedef enum rg_op {
    /* Leaves. */
    RG_OP_INPUT,   /* fed by the caller before each run */
    RG_OP_PARAM,   /* persistent, initialised once, changed by updates */
    RG_OP_STATE,   /* persistent like a param, for chains and momentum */
    RG_OP_HYPER,   /* runtime scalar, set by the caller before each run */
    RG_OP_CONST,   /* scalar literal */
    /* Elementwise, NumPy broadcasting. */
    RG_OP_ADD, RG_OP_SUB, RG_OP_MUL, RG_OP_DIV, RG_OP_POW,
    RG_OP_MIN, RG_OP_MAX,
    RG_OP_LT, RG_OP_LE, RG_OP_GT, RG_OP_GE, RG_OP_EQ, RG_OP_NE,
    RG_OP_NEG, RG_OP_SIGMOID, RG_OP_EXP, RG_OP_LOG, RG_OP_LOG1P,
    RG_OP_SOFTPLUS, RG_OP_TANH, RG_OP_RELU, RG_OP_SQRT, RG_OP_SQUARE,
    RG_OP_ABS,
    RG_OP_WHERE,   /* where(cond, a, b): a where cond != 0, else b */
    /* Structure. */
    RG_OP_MATMUL,    /* [m, k] @ [k, n]; flags mark a transposed operand */
    RG_OP_TRANSPOSE, /* rank 2 only; rank 0 and 1 are returned unchanged */
    RG_OP_SUM,       /* over one axis or all, axis removed */
    RG_OP_MEAN,
    /* Random; draws are indexed by (seed, step, stream, element). */
    RG_OP_BERNOULLI, /* 1 where uniform < p, else 0 */
    RG_OP_NORMAL,    /* mean + std * standard normal */
    RG_OP_UNIFORM,   /* uniform on [0, 1), shaped like its operand */
    /*
     * Made only by the planner's fusion pass: operands (acc, a, b, alpha,
     * beta) give alpha * op(a) @ op(b) + beta * acc, written over the
     * storage of the param or state that `acc` holds.
     */
    RG_OP_GEMM_ACC,
    RG_OP_COUNT
} rg_op;

/* Returns the op's name as written in model files ("sigmoid", "add"). */
const char *rg_op_name(rg_op op);

/* How a param or state tensor is filled when it is first created. */
typedef enum rg_init_kind {
    RG_INIT_ZEROS = 0,
    RG_INIT_CONSTANT, /* every element = a */
    RG_INIT_NORMAL,   /* mean a, standard deviation b */
    RG_INIT_UNIFORM,  /* on [a, b) */
    RG_INIT_BERNOULLI /* 1 with probability a */
} rg_init_kind;

typedef struct rg_init {
    rg_init_kind kind;
    double a;
    double b;
} rg_init;

typedef struct rg_graph rg_graph;

/* Creates an empty graph. Returns NULL when out of memory. */
rg_graph *rg_graph_new(void);

/* Frees the graph and everything it owns. NULL does nothing. */
void rg_graph_free(rg_graph *g);

/*
 * Sets the file name and the line and column that errors from later
 * builder calls report. A front end calls rg_graph_set_loc before building
 * each expression node; line 0 means no location.
 */
void rg_graph_set_source(rg_graph *g, const char *file);
void rg_graph_set_loc(rg_graph *g, int line, int column);

/* Returns the first recorded error, or NULL when there is none. */
const rg_error *rg_graph_error(const rg_graph *g);

/*
 * Records an error found outside the builder (for example by a front end)
 * at the current location, unless one is already recorded. Returns
 * RG_NODE_NONE for convenience.
 */
rg_node_id rg_graph_fail(rg_graph *g, rg_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Leaves. Names are copied; leaf names must be unique within the graph. */
rg_node_id rg_graph_input(rg_graph *g, const char *name, rg_shape shape);
rg_node_id rg_graph_param(rg_graph *g, const char *name, rg_shape shape,
                          rg_init init);
rg_node_id rg_graph_state(rg_graph *g, const char *name, rg_shape shape,
                          rg_init init);
rg_node_id rg_graph_hyper(rg_graph *g, const char *name);
rg_node_id rg_graph_const(rg_graph *g, double value);

/* Operations. `op` must be of the matching arity class. */
rg_node_id rg_graph_unary(rg_graph *g, rg_op op, rg_node_id a);
rg_node_id rg_graph_binary(rg_graph *g, rg_op op, rg_node_id a,
                           rg_node_id b);
rg_node_id rg_graph_where(rg_graph *g, rg_node_id cond, rg_node_id a,
                          rg_node_id b);
rg_node_id rg_graph_matmul(rg_graph *g, rg_node_id a, rg_node_id b);
rg_node_id rg_graph_transpose(rg_graph *g, rg_node_id a);
/* `axis` is 0, 1, -1, -2 (NumPy style) or RG_AXIS_ALL. */
rg_node_id rg_graph_reduce(rg_graph *g, rg_op op, rg_node_id a, int axis);
rg_node_id rg_graph_bernoulli(rg_graph *g, rg_node_id p);
rg_node_id rg_graph_normal(rg_graph *g, rg_node_id mean, rg_node_id std);
rg_node_id rg_graph_uniform(rg_graph *g, rg_node_id like);

/* Gives a node a display name (for errors, dumps and outputs). */
void rg_graph_set_name(rg_graph *g, rg_node_id node, const char *name);

/*
 * Marks `node` as a named result of the graph. A metric is a scalar output
 * that a training loop averages and reports. Names must be unique.
 */
rg_status rg_graph_add_output(rg_graph *g, const char *name, rg_node_id node,
                              bool is_metric);

/*
 * Declares that `target` (a param or state leaf) takes the value of `value`
 * after a run. All updates of one run read the old values: they are applied
 * together. Shapes must match exactly; each target is updated at most once.
 */
rg_status rg_graph_add_update(rg_graph *g, rg_node_id target,
                              rg_node_id value);

/* Read access, for planners, tools and tests. */
int rg_graph_n_nodes(const rg_graph *g);
rg_op rg_graph_node_op(const rg_graph *g, rg_node_id node);
rg_shape rg_graph_node_shape(const rg_graph *g, rg_node_id node);
/* Returns the node's name, or NULL when it has none. */
const char *rg_graph_node_name(const rg_graph *g, rg_node_id node);
/* Looks up a leaf by name; returns RG_NODE_NONE when absent. */
rg_node_id rg_graph_find_leaf(const rg_graph *g, const char *name);

int rg_graph_n_outputs(const rg_graph *g);
const char *rg_graph_output_name(const rg_graph *g, int index);
rg_node_id rg_graph_output_node(const rg_graph *g, int index);
bool rg_graph_output_is_metric(const rg_graph *g, int index);

int rg_graph_n_updates(const rg_graph *g);
rg_node_id rg_graph_update_target(const rg_graph *g, int index);
rg_node_id rg_graph_update_value(const rg_graph *g, int index);

/* Formats a shape as "[100, 784]" into `buf`. Returns `buf`. */
const char *rg_shape_str(rg_shape shape, char *buf, size_t size);
int64_t rg_shape_numel(rg_shape shape);
bool rg_shape_equal(rg_shape a, rg_shape b);

#ifdef __cplusplus
}
#endif

#endif
