/*
 * Shape rules: NumPy broadcasting, matrix products (with vector operands
 * as NumPy treats them) and reductions. Errors name both shapes.
 */
#include <stdio.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/graph_internal.h"

const char *rg_shape_str(rg_shape shape, char *buf, size_t size)
{
    size_t used = 0;

    if (size == 0) {
        return buf;
    }
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < shape.rank && i < RG_MAX_RANK && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%lld",
                                 i ? ", " : "", (long long)shape.dims[i]);
    }
    if (used < size) {
        snprintf(buf + used, size - used, "]");
    }
    return buf;
}

int64_t rg_shape_numel(rg_shape shape)
{
    int64_t n = 1;

    for (int i = 0; i < shape.rank; i++) {
        n *= shape.dims[i];
    }
    return n;
}

bool rg_shape_equal(rg_shape a, rg_shape b)
{
    if (a.rank != b.rank) {
        return false;
    }
    for (int i = 0; i < a.rank; i++) {
        if (a.dims[i] != b.dims[i]) {
            return false;
        }
    }
    return true;
}

rg_status infer_broadcast(rg_graph *g, const char *what, rg_shape a,
                          rg_shape b, rg_shape *out)
{
    char sa[64], sb[64];
    rg_shape r;

    /* Align trailing dimensions; a missing leading dimension counts as 1. */
    r.rank = a.rank > b.rank ? a.rank : b.rank;
    for (int i = 0; i < r.rank; i++) {
        int ia = a.rank - r.rank + i;
        int ib = b.rank - r.rank + i;
        int64_t da = ia >= 0 ? a.dims[ia] : 1;
        int64_t db = ib >= 0 ? b.dims[ib] : 1;

        if (da != db && da != 1 && db != 1) {
            rg_graph_fail(g, RG_STATUS_SHAPE,
                          "shape mismatch in %s: %s and %s do not broadcast "
                          "(dimension %d is %lld and %lld)",
                          what, rg_shape_str(a, sa, sizeof(sa)),
                          rg_shape_str(b, sb, sizeof(sb)), i, (long long)da,
                          (long long)db);
            return RG_STATUS_SHAPE;
        }
        r.dims[i] = da == 1 ? db : da;
    }
    for (int i = r.rank; i < RG_MAX_RANK; i++) {
        r.dims[i] = 0;
    }
    *out = r;
    return RG_STATUS_OK;
}

/* Returns the name to show for a matmul operand. */
static const char *operand_label(const rg_graph *g, rg_node_id id)
{
    const rg_node *n = &g->nodes[id];

    if (n->op == RG_OP_TRANSPOSE && g->nodes[n->operands[0]].name) {
        return NULL;
    }
    return n->name;
}

rg_status infer_matmul(rg_graph *g, rg_node_id a, rg_node_id b,
                       rg_shape *out)
{
    rg_shape sa = g->nodes[a].shape;
    rg_shape sb = g->nodes[b].shape;
    char ta[64], tb[64];
    rg_shape r = graph_shape0();

    if (sa.rank == 0 || sb.rank == 0) {
        rg_graph_fail(g, RG_STATUS_SHAPE,
                      "matmul needs vectors or matrices but got %s @ %s; "
                      "use * to scale by a scalar",
                      rg_shape_str(sa, ta, sizeof(ta)),
                      rg_shape_str(sb, tb, sizeof(tb)));
        return RG_STATUS_SHAPE;
    }

    /* Contracted lengths: last of a, first (or only) of b. */
    int64_t ka = sa.dims[sa.rank - 1];
    int64_t kb = sb.dims[0];
    if (ka != kb) {
        const char *name = operand_label(g, b);
        char hint[128] = "";

        if (sb.rank == 2 && sb.dims[1] == ka && name != NULL) {
            snprintf(hint, sizeof(hint), "; did you mean %s.T?", name);
        }
        rg_graph_fail(g, RG_STATUS_SHAPE,
                      "shape mismatch in matmul: %s @ %s (%lld != %lld)%s",
                      rg_shape_str(sa, ta, sizeof(ta)),
                      rg_shape_str(sb, tb, sizeof(tb)), (long long)ka,
                      (long long)kb, hint);
        return RG_STATUS_SHAPE;
    }
    if (sa.rank == 2) {
        r.dims[r.rank++] = sa.dims[0];
    }
    if (sb.rank == 2) {
        r.dims[r.rank++] = sb.dims[1];
    }
    *out = r;
    return RG_STATUS_OK;
}

rg_status infer_reduce(rg_graph *g, rg_shape a, int axis, int *axis_out,
                       rg_shape *out)
{
    char sa[64];
    rg_shape r = graph_shape0();

    if (axis == RG_AXIS_ALL) {
        *axis_out = RG_AXIS_ALL;
        *out = r;
        return RG_STATUS_OK;
    }
    if (a.rank == 0) {
        rg_graph_fail(g, RG_STATUS_SHAPE,
                      "cannot reduce a scalar over axis %d: a scalar has no "
                      "axes (leave out the axis to reduce over everything)",
                      axis);
        return RG_STATUS_SHAPE;
    }
    if (axis < -a.rank || axis >= a.rank) {
        rg_graph_fail(g, RG_STATUS_SHAPE,
                      "axis %d is out of range for shape %s (rank %d); "
                      "valid axes are %d to %d",
                      axis, rg_shape_str(a, sa, sizeof(sa)), a.rank, -a.rank,
                      a.rank - 1);
        return RG_STATUS_SHAPE;
    }
    if (axis < 0) {
        axis += a.rank;
    }
    for (int i = 0; i < a.rank; i++) {
        if (i != axis) {
            r.dims[r.rank++] = a.dims[i];
        }
    }
    *axis_out = axis;
    *out = r;
    return RG_STATUS_OK;
}
