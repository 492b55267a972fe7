/*
 * Working state of rg_plan_build, shared by its stages: units and their
 * schedule (plan_units.c), arena layout (plan_memory.c) and lowering to
 * backend steps (plan_lower.c). Everything here is freed when the build
 * ends; the plan keeps only what an executor and the listings need.
 */
#ifndef RG_PLAN_BUILD_H
#define RG_PLAN_BUILD_H

#include "graph/graph_internal.h"
#include "graph/plan_internal.h"

typedef enum unit_kind {
    UNIT_GROUP,  /* a fused group: a GEMM and its epilogue, or a kernel */
    UNIT_COPY,   /* copies a node's value into a fresh arena tensor */
    UNIT_UPDATE, /* copies a staged new value over a param or state */
} unit_kind;

typedef struct plan_unit {
    unit_kind kind;
    int group;          /* UNIT_GROUP */
    rg_node_id node;    /* UNIT_COPY: node copied; UNIT_UPDATE: new value */
    rg_node_id target;  /* UNIT_UPDATE: the param or state written */
    int tensor;         /* UNIT_COPY: destination; UNIT_UPDATE: source */
} plan_unit;

typedef enum value_kind {
    VALUE_NONE = 0,
    VALUE_TENSOR, /* strided view of a buffer */
    VALUE_CONST,  /* compile-time scalar */
    VALUE_SCALAR, /* runtime scalar slot */
} value_kind;

typedef struct value {
    value_kind kind;
    kp_access access;
    float imm;
    int slot;
} value;

typedef struct plan_ctx {
    const rg_graph *g;   /* the grouped graph, owned by the plan */
    rg_plan *plan;
    rg_error *err;
    int n_groups;

    /* Per node. */
    bool *host;          /* host scalar */
    int *slot;           /* scalar slot of a hyper or host scalar, or -1 */
    int *persist;        /* persistent index of a param or state, or -1 */
    bool *stored;        /* has memory of its own (arena or in place) */
    rg_node_id *inplace; /* param or state it is written into, or NONE */
    int *output_copy;    /* tensor of an output's copy, or -1 */
    value *values;

    /* Units, their schedule and the position of each. */
    plan_unit *units;
    int n_units;
    int *order;
    int *pos;
} plan_ctx;

rg_status plan_no_memory(plan_ctx *ctx);

/* Follows transposes down to the node that owns the memory. */
rg_node_id plan_view_base(const rg_graph *g, rg_node_id id);

/*
 * True when consumer `c` reads operand `o` from memory rather than from a
 * register of its own fused kernel: the operand belongs to another group,
 * is read through a view, or is a matrix product (which always writes
 * memory, even for its own epilogue).
 */
bool plan_reads_memory(const rg_graph *g, rg_node_id c, rg_node_id o);

/* [rows, cols] of a shape: rank 1 is one row, rank 0 one element. */
int64_t plan_rows(rg_shape s);
int64_t plan_cols(rg_shape s);

/* Appends an arena tensor for `node` (or -1); returns its index or -1. */
int plan_add_tensor(plan_ctx *ctx, rg_node_id node, rg_shape shape);

/* plan_units.c: decides storage, builds units and schedules them. */
rg_status plan_schedule(plan_ctx *ctx);

/* plan_memory.c: live intervals and arena offsets (shared or not). */
rg_status plan_memory(plan_ctx *ctx);

/* plan_lower.c: values of every node, then backend steps per unit. */
rg_status plan_lower(plan_ctx *ctx);

#endif
