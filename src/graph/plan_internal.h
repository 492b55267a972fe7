/*
 * Internal layout of rg_plan and of the planner's working state. A plan is
 * built in stages: passes (simplify, fuse) give a grouped graph; units
 * (fused groups plus copies) are scheduled; memory planning gives every
 * arena tensor an offset; lowering turns units into backend steps.
 *
 * Buffer 0 is the arena, buffer 1 holds the inputs (apart, so that the
 * next minibatch can be written while a step runs), and buffer 2 + i is
 * persistent tensor i. Runtime
 * scalar slot i < n_hypers holds hyperparameter i; later slots hold host
 * scalars derived from them by `scalar_ops` before each run.
 */
#ifndef RG_PLAN_INTERNAL_H
#define RG_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kprog.h"
#include "rbmgraph/graph.h"
#include "rbmgraph/plan.h"

#define PLAN_ARENA_BUFFER 0
#define PLAN_INPUT_BUFFER 1
#define PLAN_FIRST_PERSISTENT_BUFFER 2
/* Arena tensors start on 64-byte boundaries (16 floats). */
#define PLAN_ALIGN_FLOATS 16

typedef enum plan_step_kind {
    PLAN_STEP_GEMM,
    PLAN_STEP_KERNEL,
} plan_step_kind;

typedef struct plan_step {
    plan_step_kind kind;
    kp_gemm gemm;        /* PLAN_STEP_GEMM */
    kp_program *kernel;  /* PLAN_STEP_KERNEL; owned */
    char label[64];      /* node or group name for listings */
    int unit;            /* schedule position of the unit it belongs to */
    int group;           /* fused group of the planned graph, or -1 */
    double flops;
    double bytes;        /* bytes read and written */
} plan_step;

/* A param or state tensor the plan reads or updates. */
typedef struct plan_persistent {
    char *name;
    rg_shape shape;
    rg_init init;
    bool is_state;
} plan_persistent;

/* A named input or output and where its values live. */
typedef struct plan_binding {
    char *name;
    rg_shape shape;
    kp_access access;
    bool is_metric;
} plan_binding;

/* One arena tensor with its live interval over the schedule. */
typedef struct plan_tensor {
    rg_node_id node;   /* node of the planned graph, or -1 for a temporary */
    int64_t offset;    /* floats */
    int64_t floats;    /* size, padded to PLAN_ALIGN_FLOATS */
    int birth;         /* schedule position that writes it; -1: before */
    int death;         /* last position that reads it; n_units: after */
    int inplace_of;    /* tensor it overwrites in place, or -1 */
} plan_tensor;

/* A host-side scalar instruction: slot dst = op(slot a, slot b, slot c). */
typedef struct plan_scalar_op {
    kp_opcode op;
    int dst, a, b, c;
    float imm;         /* KP_CONST */
} plan_scalar_op;

struct rg_plan {
    plan_step *steps;
    int n_steps;
    int n_units;

    plan_persistent *persistent;
    int n_persistent;

    char **hypers;
    int n_hypers;
    plan_scalar_op *scalar_ops;
    int n_scalar_ops;
    int n_scalars;       /* hypers plus derived slots */

    plan_binding *inputs;
    int n_inputs;
    plan_binding *outputs;
    int n_outputs;

    plan_tensor *tensors;
    int n_tensors;
    int *node_tensor;    /* per node of `graph`: tensor index or -1 */
    int64_t arena_floats;
    int64_t unshared_floats;
    int64_t input_floats; /* size of the input buffer */

    rg_graph *graph;     /* the planned (grouped) graph; owned */
    rg_plan_options options;
};

/*
 * Proves that no two arena tensors that are live at the same schedule
 * position overlap, except a tensor written in place over one that dies
 * at that position. Returns RG_STATUS_OK or fills `err` with the pair.
 */
rg_status plan_check_arena(const rg_plan *plan, rg_error *err);

#endif
