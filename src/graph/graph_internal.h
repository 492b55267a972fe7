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

#define RG_MAX_OPERANDS 5

typedef struct rg_node {
    rg_op op;
    int n_operands;
    rg_node_id operands[RG_MAX_OPERANDS];
    rg_shape shape;
    char *name;       /* leaf name or display name; may be NULL */
    double value;     /* RG_OP_CONST; RG_OP_GEMM_ACC: sign of alpha */
    int axis;         /* RG_OP_SUM, RG_OP_MEAN: 0, 1 or RG_AXIS_ALL */
    uint32_t stream;  /* random ops: the Philox stream of this node */
    rg_init init;     /* RG_OP_PARAM, RG_OP_STATE */
    int line;         /* model-file location, 0 when built by code */
    int column;

    /* Set by the planner's passes. */
    bool trans_a;     /* RG_OP_MATMUL, RG_OP_GEMM_ACC: operand flags */
    bool trans_b;
    double beta;      /* RG_OP_GEMM_ACC: sign of beta */
    int group;        /* fusion group, or -1 (leaves, host scalars, views) */
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

/* Creates a graph with the same source file name and no nodes. */
rg_graph *graph_new_like(const rg_graph *src);

/*
 * Appends a copy of `proto` (shape, attributes and name included) whose
 * operands are renumbered through `map` (NULL keeps them). Returns the new id, or
 * RG_NODE_NONE after recording an out-of-memory error in `dst`.
 */
rg_node_id graph_push_copy(rg_graph *dst, const rg_node *proto,
                           const rg_node_id *map);

/* Same, with operand ids used as they are. */
rg_node_id graph_push_node(rg_graph *dst, const rg_node *proto);

/* Copies outputs and updates of `src` into `dst` through `map`. */
rg_status graph_copy_roots(rg_graph *dst, const rg_graph *src,
                           const rg_node_id *map);

/*
 * Marks in `needed` (n_nodes entries, cleared by the caller) every node an
 * output or an update depends on.
 */
void graph_mark_needed(const rg_graph *g, bool *needed);

/* Counts, for every node, its uses as an operand, output or update. */
void graph_count_uses(const rg_graph *g, int *uses);

/* The kernel opcode of an elementwise graph op, or KP_OPCODE_COUNT. */
int graph_kp_opcode(rg_op op);

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
