/*
 * Internal layout of rg_plan: the steps an executor runs, the buffers they
 * name and how the caller's inputs, outputs and hyperparameters map onto
 * them. Buffer 0 is the arena; buffer 1 + i is persistent tensor i.
 */
#ifndef RG_PLAN_INTERNAL_H
#define RG_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kprog.h"
#include "rbmgraph/graph.h"
#include "rbmgraph/plan.h"

#define PLAN_ARENA_BUFFER 0
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

struct rg_plan {
    plan_step *steps;
    int n_steps;

    plan_persistent *persistent;
    int n_persistent;

    char **hypers;       /* runtime scalar slot i holds hyper hypers[i] */
    int n_hypers;

    plan_binding *inputs;
    int n_inputs;
    plan_binding *outputs;
    int n_outputs;

    int64_t arena_floats;
    int64_t unshared_floats;
    rg_plan_options options;
};

#endif
