/*
 * Graphviz output. Ids are the node numbers of the drawn graph, so the text
 * is the same on every run. Fused groups become clusters; the planned
 * stage labels tensors with arena offsets and orders clusters as the
 * schedule runs them.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/passes.h"
#include "graph/plan_build.h"
#include "rbmgraph/dot.h"

rg_status rg_stage_parse(const char *text, rg_stage *out, rg_error *err)
{
    static const char *const names[] = {"parsed", "simplified", "fused",
                                        "planned"};

    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (rg_stage)i;
            return RG_STATUS_OK;
        }
    }
    return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                        "unknown stage '%s'; expected parsed, simplified, "
                        "fused or planned", text);
}

/* Node style by kind: shape and fill colour. */
static void node_style(const rg_node *n, const char **shape,
                       const char **color)
{
    *shape = "box";
    *color = "white";
    switch (n->op) {
    case RG_OP_INPUT: *shape = "ellipse"; *color = "lightblue"; break;
    case RG_OP_PARAM: *shape = "box3d"; *color = "gold"; break;
    case RG_OP_STATE: *shape = "box3d"; *color = "orange"; break;
    case RG_OP_HYPER: *shape = "diamond"; *color = "lightgrey"; break;
    case RG_OP_CONST: *shape = "plaintext"; *color = "white"; break;
    case RG_OP_MATMUL:
    case RG_OP_GEMM_ACC: *color = "lightpink"; break;
    case RG_OP_BERNOULLI:
    case RG_OP_NORMAL:
    case RG_OP_UNIFORM: *color = "palegreen"; break;
    default: break;
    }
}

/* Writes `text` with the characters DOT strings treat specially escaped. */
static void put_escaped(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', out);
        }
        fputc(*p, out);
    }
}

static void write_node(FILE *out, const rg_graph *g, rg_node_id id,
                       const rg_plan *plan, const char *indent)
{
    const rg_node *n = &g->nodes[id];
    const char *shape, *color;
    char dims[64];

    node_style(n, &shape, &color);
    fprintf(out, "%sn%d [shape=%s, style=filled, fillcolor=%s, label=\"",
            indent, id, shape, color);
    if (n->op == RG_OP_CONST) {
        fprintf(out, "%.6g", n->value);
    } else {
        if (n->name != NULL && !graph_op_is_leaf(n->op)) {
            put_escaped(out, n->name);
            fprintf(out, " = ");
        }
        if (graph_op_is_leaf(n->op)) {
            fprintf(out, "%s ", rg_op_name(n->op));
            put_escaped(out, n->name);
        } else {
            fprintf(out, "%s%s%s", rg_op_name(n->op),
                    n->trans_a ? " A.T" : "", n->trans_b ? " B.T" : "");
        }
        if (n->op == RG_OP_SUM || n->op == RG_OP_MEAN) {
            if (n->axis == RG_AXIS_ALL) {
                fprintf(out, " (all)");
            } else {
                fprintf(out, " (axis %d)", n->axis);
            }
        }
        fprintf(out, "\\n%s", rg_shape_str(n->shape, dims, sizeof(dims)));
    }
    if (plan != NULL && plan->node_tensor[id] >= 0) {
        const plan_tensor *t = &plan->tensors[plan->node_tensor[id]];
        fprintf(out, "\\narena @%lld, %lld B", (long long)(4 * t->offset),
                (long long)(4 * t->floats));
    }
    fprintf(out, "\"];\n");
}

/*
 * Group clusters. With a plan, each cluster is labelled with its position
 * in the schedule, the order in which the executor runs the groups.
 */
static void write_clusters(FILE *out, const rg_graph *g, const rg_plan *plan,
                           int n_groups)
{
    for (int gid = 0; gid < n_groups; gid++) {
        int position = -1;

        for (int s = 0; plan != NULL && s < plan->n_steps; s++) {
            if (plan->steps[s].group == gid) {
                position = plan->steps[s].unit;
                break;
            }
        }
        fprintf(out, "  subgraph cluster_g%d {\n", gid);
        if (position >= 0) {
            fprintf(out, "    label=\"step %d\";", position);
        } else {
            fprintf(out, "    label=\"group %d\";", gid);
        }
        fprintf(out, " style=rounded; color=grey40;\n");
        for (int id = 0; id < g->n_nodes; id++) {
            if (g->nodes[id].group == gid) {
                write_node(out, g, id, plan, "    ");
            }
        }
        fprintf(out, "  }\n");
    }
}

static void write_graph(FILE *out, const rg_graph *g, const rg_plan *plan)
{
    int n_groups = 0;

    fprintf(out, "digraph rbm_graph {\n");
    fprintf(out, "  rankdir=TB;\n  node [fontname=\"Helvetica\", "
            "fontsize=10];\n  edge [fontsize=9];\n");
    for (int id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id].group >= n_groups) {
            n_groups = g->nodes[id].group + 1;
        }
    }
    write_clusters(out, g, plan, n_groups);
    for (int id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id].group < 0) {
            write_node(out, g, id, plan, "  ");
        }
    }
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        for (int k = 0; k < n->n_operands; k++) {
            fprintf(out, "  n%d -> n%d;\n", n->operands[k], id);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        fprintf(out, "  out%d [shape=doubleoctagon, label=\"%s ", i,
                g->outputs[i].is_metric ? "metric" : "output");
        put_escaped(out, g->outputs[i].name);
        fprintf(out, "\"];\n  n%d -> out%d;\n", g->outputs[i].node, i);
    }
    for (int i = 0; i < g->n_updates; i++) {
        fprintf(out, "  n%d -> n%d [style=dashed, color=blue, "
                "label=\"update\", constraint=false];\n",
                g->updates[i].value, g->updates[i].target);
    }
    fprintf(out, "}\n");
}

rg_status rg_dot_write(const rg_graph *g, rg_stage stage,
                       const rg_plan_options *options, FILE *out,
                       rg_error *err)
{
    rg_plan_options o = options != NULL ? *options
                                        : rg_plan_options_default();
    rg_graph *simple = NULL, *fused = NULL;
    rg_plan *plan = NULL;
    rg_status st = RG_STATUS_OK;

    if (rg_graph_error(g) != NULL) {
        *err = *rg_graph_error(g);
        return err->code;
    }
    switch (stage) {
    case RG_STAGE_PARSED:
        write_graph(out, g, NULL);
        break;
    case RG_STAGE_SIMPLIFIED:
        st = pass_simplify(g, &simple, err);
        if (st == RG_STATUS_OK) {
            write_graph(out, simple, NULL);
        }
        break;
    case RG_STAGE_FUSED:
        st = o.simplify ? pass_simplify(g, &simple, err)
                        : pass_dce(g, &simple, err);
        if (st == RG_STATUS_OK) {
            st = pass_fuse(simple, o.fuse, &fused, err);
        }
        if (st == RG_STATUS_OK) {
            write_graph(out, fused, NULL);
        }
        break;
    case RG_STAGE_PLANNED:
        st = rg_plan_build(g, &o, &plan, err);
        if (st == RG_STATUS_OK) {
            write_graph(out, plan->graph, plan);
        }
        break;
    }
    rg_graph_free(simple);
    rg_graph_free(fused);
    rg_plan_free(plan);
    if (st == RG_STATUS_OK && ferror(out)) {
        st = rg_error_set(err, RG_STATUS_IO, "writing the DOT output failed");
    }
    return st;
}
