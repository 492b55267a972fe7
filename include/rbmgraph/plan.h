/*
 * Planning: a graph becomes an execution plan, a list of backend steps
 * (matrix products and fused kernels) over one memory arena. A plan is
 * independent of the backend that runs it.
 */
#ifndef RBMGRAPH_PLAN_H
#define RBMGRAPH_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Optimisations, each of which can be switched off for comparison. */
typedef struct rg_plan_options {
    bool simplify; /* fold transposes and constants, CSE, dead nodes */
    bool fuse;     /* fuse elementwise ops, epilogues and reductions */
    bool reuse;    /* share arena space between tensors not live together */
} rg_plan_options;

/* Returns the options with every optimisation on. */
rg_plan_options rg_plan_options_default(void);

typedef struct rg_plan rg_plan;

/*
 * Plans `g`. The plan copies what it needs, so `g` may be freed afterwards.
 * Stores a new plan in *out (free with rg_plan_free).
 */
rg_status rg_plan_build(const rg_graph *g, const rg_plan_options *options,
                        rg_plan **out, rg_error *err);

void rg_plan_free(rg_plan *plan);

/* Number of backend steps: matrix products and other kernels. */
int rg_plan_n_gemms(const rg_plan *plan);
int rg_plan_n_kernels(const rg_plan *plan);

/* Arena size in bytes, and the sum of all arena tensors' sizes. */
int64_t rg_plan_arena_bytes(const rg_plan *plan);
int64_t rg_plan_unshared_bytes(const rg_plan *plan);

/* Inputs the caller feeds and outputs it reads, in graph order. */
int rg_plan_n_inputs(const rg_plan *plan);
const char *rg_plan_input_name(const rg_plan *plan, int index);
rg_shape rg_plan_input_shape(const rg_plan *plan, int index);
int rg_plan_n_outputs(const rg_plan *plan);
const char *rg_plan_output_name(const rg_plan *plan, int index);
rg_shape rg_plan_output_shape(const rg_plan *plan, int index);
bool rg_plan_output_is_metric(const rg_plan *plan, int index);

/* Hyperparameters the plan reads at run time. */
int rg_plan_n_hypers(const rg_plan *plan);
const char *rg_plan_hyper_name(const rg_plan *plan, int index);

/*
 * Proves that no two arena tensors live at the same time overlap (a
 * result written in place over an operand that dies in the same kernel is
 * allowed). rg_plan_build runs this itself in builds without NDEBUG.
 */
rg_status rg_plan_check(const rg_plan *plan, rg_error *err);

/*
 * Writes the plan's steps in order with their FLOPs and bytes moved, the
 * step counts, the arena size beside the size without reuse, and the peak
 * memory.
 */
void rg_plan_print(const rg_plan *plan, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
