/*
 * Internal layout of rg_graph, shared by the builder, the shape rules and
 * the planner. Nodes are stored in creation order, so every operand of a
 * node has a smaller id: the node array is always a topological order.
 */
#ifndef RG_GRAPH_INTERNAL_H
#define RG_GRAPH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rbmgraph/graph.h"

#define RG_MAX_OPERANDS 3

typedef struct rg_node {
    rg_op op;
    int n_operands;
    rg_node_id operands[RG_MAX_OPERANDS];
    rg_shape shape;
    char *name;       /* leaf name or display name; may be NULL */
    double value;     /* RG_OP_CONST */
    int axis;         /* RG_OP_SUM, RG_OP_MEAN: 0, 1 or RG_AXIS_ALL */
    uint32_t stream;  /* random ops: the Philox stream of this node */
    rg_init init;     /* RG_OP_PARAM, RG_OP_STATE */
    int line;         /* model-file location, 0 when built by code */
    int column;
} rg_node;

typedef struct rg_output {
    char *name;
    rg_node_id node;
    bool is_metric;
} rg_output;

typedef struct rg_update {
    rg_node_id target;
    rg_node_id value;
} rg_update;

struct rg_graph {
    rg_node *nodes;
    int n_nodes;
    int cap_nodes;

    rg_output *outputs;
    int n_outputs;
    int cap_outputs;

    rg_update *updates;
    int n_updates;
    int cap_updates;

    uint32_t n_streams; /* random nodes created so far */

    char *source;       /* file name for errors; may be NULL */
    int line;
    int column;

    rg_error error;     /* first error; code RG_STATUS_OK when none */
};

/* Op classes. */
bool graph_op_is_leaf(rg_op op);
bool graph_op_is_unary(rg_op op);
bool graph_op_is_binary(rg_op op);
bool graph_op_is_elementwise(rg_op op);
bool graph_op_is_random(rg_op op);

/*
 * Shape rules (infer.c). Each returns RG_STATUS_OK and fills *out, or
 * records an error in `g` and returns its status.
 */
rg_status infer_broadcast(rg_graph *g, const char *what, rg_shape a,
                          rg_shape b, rg_shape *out);
rg_status infer_matmul(rg_graph *g, rg_node_id a, rg_node_id b,
                       rg_shape *out);
rg_status infer_reduce(rg_graph *g, rg_shape a, int axis, int *axis_out,
                       rg_shape *out);

static inline rg_shape graph_shape0(void)
{
    rg_shape s = {0, {0, 0}};
    return s;
}

#endif
