/*
 * Graphviz drawings of a graph at any planner stage. Node ids in the
 * output are stable (n0, n1, ... in graph order), so the same model always
 * gives the same text.
 */
#ifndef RBMGRAPH_DOT_H
#define RBMGRAPH_DOT_H

#include <stdio.h>

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"
#include "rbmgraph/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rg_stage {
    RG_STAGE_PARSED = 0, /* the graph as built */
    RG_STAGE_SIMPLIFIED, /* after simplification */
    RG_STAGE_FUSED,      /* fused groups drawn as clusters */
    RG_STAGE_PLANNED,    /* clusters in schedule order, arena offsets */
} rg_stage;

/* Parses "parsed", "simplified", "fused" or "planned". */
rg_status rg_stage_parse(const char *text, rg_stage *out, rg_error *err);

/*
 * Writes `g` as a Graphviz digraph after the passes that `stage` names,
 * with `options` (NULL for the defaults) deciding which optimisations run.
 * Inputs, params, state and hyperparameters have distinct shapes and
 * colours; every tensor is labelled with its shape, and in the planned
 * stage with its arena offset and size.
 */
rg_status rg_dot_write(const rg_graph *g, rg_stage stage,
                       const rg_plan_options *options, FILE *out,
                       rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
