/*
 * The planner's graph-to-graph passes. Each takes a graph and returns a new
 * one (the input is never changed), so each can be tested and drawn alone.
 * Random nodes keep their stream numbers through every pass, so an
 * optimised plan draws the same numbers as an unoptimised one.
 */
#ifndef RG_PASSES_H
#define RG_PASSES_H

#include "rbmgraph/graph.h"

/*
 * Simplification: transposes folded into matrix-product flags, double
 * transposes removed, constant scalars folded, identities (x * 1, x + 0,
 * x - 0, x / 1, x ^ 1) removed, x ^ 2 turned into square(x), common subexpressions merged (never random
 * nodes), then dead nodes dropped.
 */
rg_status pass_simplify(const rg_graph *in, rg_graph **out, rg_error *err);

/* Dead-node elimination alone: keeps what outputs and updates need. */
rg_status pass_dce(const rg_graph *in, rg_graph **out, rg_error *err);

/*
 * Fusion. Rewrites updates of the form beta * P + sum of alpha_i * (A_i @
 * B_i) into RG_OP_GEMM_ACC chains that accumulate into P's storage, then
 * assigns every computing node a group (rg_node.group): a matrix product
 * with its elementwise epilogue, an elementwise tree, and reductions with
 * their elementwise producers. With `fuse` false only the group numbering
 * is done, one node per group, and no update is rewritten.
 */
rg_status pass_fuse(const rg_graph *in, bool fuse, rg_graph **out,
                    rg_error *err);

/* pass_fuse with the accumulating-update rewrite chosen separately. */
rg_status pass_fuse_options(const rg_graph *in, bool fuse, bool accumulate,
                            rg_graph **out, rg_error *err);

/*
 * True when node `id` of `g` is a rank-0 value computed from constants and
 * hyperparameters only, which the executor evaluates on the host.
 */
bool pass_is_host_scalar(const rg_graph *g, rg_node_id id,
                         const bool *host_scalar_of_operands);

#endif
