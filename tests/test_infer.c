/*
 * Shape inference tests through the builder API: NumPy broadcasting,
 * matrix products, transposes, reductions, random ops, leaf declarations,
 * outputs, updates and the sticky first error. Each table row builds a
 * fresh graph and asserts either the inferred shape or the status and a
 * fragment of the message.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbmgraph/rbmgraph.h"

/* The planner reads a reduction's normalised axis from the node itself. */
#include "graph/graph_internal.h"

/*
 * Shape literals for the tables. Dims past the rank are 0, as the builder
 * stores them.
 */
#define S0 {0, {0, 0}}
#define S1(a) {1, {(a), 0}}
#define S2(a, b) {2, {(a), (b)}}

static const rg_init zeros = {RG_INIT_ZEROS, 0, 0};

static rg_shape shape0(void)
{
    rg_shape s = S0;
    return s;
}

static rg_shape shape1(int64_t a)
{
    rg_shape s = S1(a);
    return s;
}

static rg_shape shape2(int64_t a, int64_t b)
{
    rg_shape s = S2(a, b);
    return s;
}

static bool same_shape(rg_shape a, rg_shape b)
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

/* Fails unless `g` has no error and `id` is a node of shape `expected`. */
static void assert_node_shape(const rg_graph *g, rg_node_id id,
                              rg_shape expected, int row)
{
    const rg_error *err = rg_graph_error(g);
    char got_buf[64], want_buf[64];

    ck_assert_msg(err == NULL, "row %d: unexpected %s: %s", row,
                  err ? rg_status_str(err->code) : "", err ? err->message : "");
    ck_assert_msg(id != RG_NODE_NONE, "row %d: RG_NODE_NONE without an error",
                  row);
    rg_shape got = rg_graph_node_shape(g, id);
    ck_assert_msg(same_shape(got, expected), "row %d: shape is %s, expected %s",
                  row, rg_shape_str(got, got_buf, sizeof(got_buf)),
                  rg_shape_str(expected, want_buf, sizeof(want_buf)));
}

/* Fails unless `g` has an error of `status` with `fragment` in its message. */
static void assert_graph_error(const rg_graph *g, rg_status status,
                               const char *fragment, int row)
{
    const rg_error *err = rg_graph_error(g);

    ck_assert_msg(err != NULL, "row %d: expected %s, got no error", row,
                  rg_status_str(status));
    ck_assert_msg(err->code == status, "row %d: status is %s, expected %s "
                  "(message: %s)", row, rg_status_str(err->code),
                  rg_status_str(status), err->message);
    ck_assert_msg(strstr(err->message, fragment) != NULL,
                  "row %d: message \"%s\" does not contain \"%s\"", row,
                  err->message, fragment);
}

/* Asserts the outcome of one table row: a node of `expected`, or an error. */
static void assert_row(const rg_graph *g, rg_node_id id, rg_status status,
                       rg_shape expected, const char *fragment, int row)
{
    if (status == RG_STATUS_OK) {
        assert_node_shape(g, id, expected, row);
        return;
    }
    ck_assert_msg(id == RG_NODE_NONE, "row %d: failed call returned node %d",
                  row, (int)id);
    assert_graph_error(g, status, fragment, row);
}

/* Shape helpers. */

START_TEST(shape_str_formats)
{
    char buf[64];
    char small[5];

    ck_assert_str_eq(rg_shape_str(shape0(), buf, sizeof(buf)), "[]");
    ck_assert_str_eq(rg_shape_str(shape1(5), buf, sizeof(buf)), "[5]");
    ck_assert_str_eq(rg_shape_str(shape2(100, 784), buf, sizeof(buf)),
                     "[100, 784]");
    /* A short buffer is truncated and still terminated. */
    ck_assert_str_eq(rg_shape_str(shape2(100, 784), small, sizeof(small)),
                     "[100");
}
END_TEST

START_TEST(shape_numel_and_equal)
{
    rg_shape a = shape1(3);
    rg_shape b = shape1(3);

    ck_assert_int_eq(rg_shape_numel(shape0()), 1);
    ck_assert_int_eq(rg_shape_numel(shape1(7)), 7);
    ck_assert_int_eq(rg_shape_numel(shape2(100, 784)), 78400);

    /* Dims past the rank are not part of the shape. */
    b.dims[1] = 9;
    ck_assert(rg_shape_equal(a, b));
    ck_assert(!rg_shape_equal(shape1(3), shape2(1, 3)));
    ck_assert(!rg_shape_equal(shape2(3, 4), shape2(4, 3)));
    ck_assert(rg_shape_equal(shape0(), shape0()));
}
END_TEST

/* Broadcasting. */

typedef struct broadcast_row {
    rg_op op;
    rg_shape a;
    rg_shape b;
    rg_status status;
    rg_shape expected;    /* when status is RG_STATUS_OK */
    const char *fragment; /* of the message otherwise */
} broadcast_row;

static const broadcast_row broadcast_rows[] = {
    /* Scalars with anything. */
    {RG_OP_ADD, S0, S0, RG_STATUS_OK, S0, NULL},
    {RG_OP_MUL, S0, S2(3, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_SUB, S2(3, 4), S0, RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_ADD, S1(1), S0, RG_STATUS_OK, S1(1), NULL},
    /* [n] with [m, n]: a bias row. */
    {RG_OP_ADD, S1(4), S2(3, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_DIV, S2(3, 4), S1(4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_ADD, S1(1), S2(3, 4), RG_STATUS_OK, S2(3, 4), NULL},
    /* [m, 1] with [1, n] and with [n]: an outer sum. */
    {RG_OP_ADD, S2(3, 1), S2(1, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_MUL, S2(1, 4), S2(3, 1), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_ADD, S2(3, 1), S1(4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_SUB, S1(4), S2(3, 1), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_ADD, S2(1, 1), S1(5), RG_STATUS_OK, S2(1, 5), NULL},
    /* Equal shapes and one-sided ones. */
    {RG_OP_ADD, S2(3, 4), S2(3, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_ADD, S2(3, 4), S2(1, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_ADD, S2(3, 4), S2(3, 1), RG_STATUS_OK, S2(3, 4), NULL},
    {RG_OP_MAX, S1(5), S1(5), RG_STATUS_OK, S1(5), NULL},
    {RG_OP_GT, S2(3, 1), S1(1), RG_STATUS_OK, S2(3, 1), NULL},
    /* Mismatches name the op and both shapes. */
    {RG_OP_ADD, S1(3), S1(4), RG_STATUS_SHAPE, S0,
     "shape mismatch in add: [3] and [4] do not broadcast"},
    {RG_OP_MUL, S2(3, 4), S1(3), RG_STATUS_SHAPE, S0,
     "[3, 4] and [3] do not broadcast (dimension 1 is 4 and 3)"},
    {RG_OP_SUB, S2(3, 4), S2(4, 3), RG_STATUS_SHAPE, S0,
     "shape mismatch in sub: [3, 4] and [4, 3]"},
    {RG_OP_ADD, S2(3, 1), S2(2, 1), RG_STATUS_SHAPE, S0,
     "[3, 1] and [2, 1] do not broadcast (dimension 0 is 3 and 2)"},
    {RG_OP_POW, S1(4), S2(3, 5), RG_STATUS_SHAPE, S0,
     "shape mismatch in pow: [4] and [3, 5]"},
    {RG_OP_EQ, S2(2, 3), S2(3, 2), RG_STATUS_SHAPE, S0,
     "shape mismatch in eq: [2, 3] and [3, 2]"},
};

#define N_BROADCAST_ROWS \
    ((int)(sizeof(broadcast_rows) / sizeof(broadcast_rows[0])))

START_TEST(broadcast_table)
{
    const broadcast_row *row = &broadcast_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", row->a);
    rg_node_id b = rg_graph_input(g, "b", row->b);
    rg_node_id r = rg_graph_binary(g, row->op, a, b);

    assert_row(g, r, row->status, row->expected, row->fragment, _i);
    if (r != RG_NODE_NONE) {
        ck_assert_int_eq(rg_graph_node_op(g, r), row->op);
    }
    rg_graph_free(g);
}
END_TEST

START_TEST(binary_ops_all_broadcast)
{
    for (int op = RG_OP_ADD; op <= RG_OP_NE; op++) {
        rg_graph *g = rg_graph_new();
        rg_node_id a = rg_graph_input(g, "a", shape2(3, 1));
        rg_node_id b = rg_graph_input(g, "b", shape1(4));
        rg_node_id r = rg_graph_binary(g, (rg_op)op, a, b);

        assert_node_shape(g, r, shape2(3, 4), op);
        ck_assert_int_eq(rg_graph_node_op(g, r), op);
        rg_graph_free(g);
    }
}
END_TEST

START_TEST(unary_ops_keep_shape)
{
    for (int op = RG_OP_NEG; op <= RG_OP_ABS; op++) {
        rg_graph *g = rg_graph_new();
        rg_node_id a = rg_graph_input(g, "a", shape2(3, 4));
        rg_node_id s = rg_graph_hyper(g, "s");
        rg_node_id r = rg_graph_unary(g, (rg_op)op, a);
        rg_node_id r_scalar = rg_graph_unary(g, (rg_op)op, s);

        assert_node_shape(g, r, shape2(3, 4), op);
        assert_node_shape(g, r_scalar, shape0(), op);
        ck_assert_int_eq(rg_graph_node_op(g, r), op);
        rg_graph_free(g);
    }
}
END_TEST

/* The builder call that an op_class_row passes its op to. */
typedef enum builder_call {
    CALL_UNARY,
    CALL_BINARY,
    CALL_REDUCE,
} builder_call;

/* An op passed to the builder call of another arity class. */
typedef struct op_class_row {
    builder_call call;
    rg_op op;
    const char *fragment;
} op_class_row;

static const op_class_row op_class_rows[] = {
    {CALL_UNARY, RG_OP_ADD, "'add' is not a unary op"},
    {CALL_UNARY, RG_OP_SUM, "'sum' is not a unary op"},
    {CALL_UNARY, RG_OP_INPUT, "'input' is not a unary op"},
    {CALL_BINARY, RG_OP_SIGMOID, "'sigmoid' is not a binary op"},
    {CALL_BINARY, RG_OP_MATMUL, "'matmul' is not a binary op"},
    {CALL_BINARY, RG_OP_WHERE, "'where' is not a binary op"},
    {CALL_REDUCE, RG_OP_ADD, "'add' is not a reduction"},
    {CALL_REDUCE, RG_OP_EXP, "'exp' is not a reduction"},
};

#define N_OP_CLASS_ROWS \
    ((int)(sizeof(op_class_rows) / sizeof(op_class_rows[0])))

START_TEST(op_class_mismatch_rejected)
{
    const op_class_row *row = &op_class_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", shape2(3, 4));
    rg_node_id r = RG_NODE_NONE;

    switch (row->call) {
    case CALL_UNARY:
        r = rg_graph_unary(g, row->op, a);
        break;
    case CALL_BINARY:
        r = rg_graph_binary(g, row->op, a, a);
        break;
    case CALL_REDUCE:
        r = rg_graph_reduce(g, row->op, a, 0);
        break;
    }
    ck_assert_int_eq(r, RG_NODE_NONE);
    assert_graph_error(g, RG_STATUS_INVALID_ARGUMENT, row->fragment, _i);
    ck_assert_int_eq(rg_graph_n_nodes(g), 1);
    rg_graph_free(g);
}
END_TEST

/* Matrix products. */

/* How a table row builds the right operand of a matrix product. */
typedef enum operand_kind {
    OPERAND_LEAF,       /* a leaf named "W" */
    OPERAND_UNNAMED,    /* neg(W): an expression without a name */
    OPERAND_DISPLAY,    /* neg(W) given the display name "Wn" */
    OPERAND_TRANSPOSED, /* W.T named "WT" (row->b is W.T's shape) */
} operand_kind;

typedef struct matmul_row {
    rg_shape a;
    rg_shape b;
    operand_kind b_kind;
    rg_status status;
    rg_shape expected;
    const char *fragment;
    const char *hint; /* expected hint, or NULL when there must be none */
} matmul_row;

static const matmul_row matmul_rows[] = {
    /* [m, k] @ [k, n] and NumPy's vector cases. */
    {S2(3, 4), S2(4, 5), OPERAND_LEAF, RG_STATUS_OK, S2(3, 5), NULL, NULL},
    {S1(4), S2(4, 5), OPERAND_LEAF, RG_STATUS_OK, S1(5), NULL, NULL},
    {S2(3, 4), S1(4), OPERAND_LEAF, RG_STATUS_OK, S1(3), NULL, NULL},
    {S1(4), S1(4), OPERAND_LEAF, RG_STATUS_OK, S0, NULL, NULL},
    {S2(1, 4), S2(4, 1), OPERAND_LEAF, RG_STATUS_OK, S2(1, 1), NULL, NULL},
    {S2(3, 4), S2(4, 5), OPERAND_TRANSPOSED, RG_STATUS_OK, S2(3, 5), NULL,
     NULL},
    {S2(3, 4), S2(4, 5), OPERAND_UNNAMED, RG_STATUS_OK, S2(3, 5), NULL, NULL},
    /* Mismatches name both shapes, and a named [n, k] operand gets a hint. */
    {S2(100, 784), S2(500, 784), OPERAND_LEAF, RG_STATUS_SHAPE, S0,
     "shape mismatch in matmul: [100, 784] @ [500, 784] (784 != 500)",
     "; did you mean W.T?"},
    {S1(4), S2(5, 4), OPERAND_LEAF, RG_STATUS_SHAPE, S0, "[4] @ [5, 4]",
     "did you mean W.T?"},
    {S2(3, 4), S2(5, 4), OPERAND_DISPLAY, RG_STATUS_SHAPE, S0,
     "[3, 4] @ [5, 4]", "did you mean Wn.T?"},
    {S2(3, 4), S2(5, 4), OPERAND_UNNAMED, RG_STATUS_SHAPE, S0,
     "[3, 4] @ [5, 4]", NULL},
    /* The operand is a transpose already: no hint of another one. */
    {S2(3, 4), S2(5, 4), OPERAND_TRANSPOSED, RG_STATUS_SHAPE, S0,
     "[3, 4] @ [5, 4]", NULL},
    /* No hint where the transpose would not fit either. */
    {S2(3, 4), S2(5, 6), OPERAND_LEAF, RG_STATUS_SHAPE, S0,
     "[3, 4] @ [5, 6] (4 != 5)", NULL},
    {S2(3, 4), S1(5), OPERAND_LEAF, RG_STATUS_SHAPE, S0, "[3, 4] @ [5]",
     NULL},
    {S1(4), S1(5), OPERAND_LEAF, RG_STATUS_SHAPE, S0, "[4] @ [5] (4 != 5)",
     NULL},
    /* Scalars are rejected. */
    {S0, S2(4, 5), OPERAND_LEAF, RG_STATUS_SHAPE, S0,
     "matmul needs vectors or matrices but got [] @ [4, 5]; use * to scale",
     NULL},
    {S2(3, 4), S0, OPERAND_LEAF, RG_STATUS_SHAPE, S0,
     "matmul needs vectors or matrices but got [3, 4] @ []", NULL},
    {S0, S0, OPERAND_LEAF, RG_STATUS_SHAPE, S0, "got [] @ []", NULL},
};

#define N_MATMUL_ROWS ((int)(sizeof(matmul_rows) / sizeof(matmul_rows[0])))

/* Builds the right operand of `row` from a leaf named "W". */
static rg_node_id matmul_operand(rg_graph *g, const matmul_row *row)
{
    rg_shape leaf = row->b;
    rg_node_id w, r;

    if (row->b_kind == OPERAND_TRANSPOSED) {
        leaf.dims[0] = row->b.dims[1];
        leaf.dims[1] = row->b.dims[0];
    }
    w = rg_graph_param(g, "W", leaf, zeros);
    switch (row->b_kind) {
    case OPERAND_LEAF:
        return w;
    case OPERAND_TRANSPOSED:
        /* The front end names it so for a definition `WT: W.T`. */
        r = rg_graph_transpose(g, w);
        rg_graph_set_name(g, r, "WT");
        return r;
    case OPERAND_DISPLAY:
        r = rg_graph_unary(g, RG_OP_NEG, w);
        rg_graph_set_name(g, r, "Wn");
        return r;
    default:
        return rg_graph_unary(g, RG_OP_NEG, w);
    }
}

START_TEST(matmul_table)
{
    const matmul_row *row = &matmul_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", row->a);
    rg_node_id b = matmul_operand(g, row);

    ck_assert_ptr_null(rg_graph_error(g));
    rg_node_id r = rg_graph_matmul(g, a, b);
    assert_row(g, r, row->status, row->expected, row->fragment, _i);
    if (row->status == RG_STATUS_OK) {
        ck_assert_int_eq(rg_graph_node_op(g, r), RG_OP_MATMUL);
    } else if (row->hint != NULL) {
        assert_graph_error(g, row->status, row->hint, _i);
    } else {
        ck_assert_msg(strstr(rg_graph_error(g)->message, "did you mean") ==
                          NULL,
                      "row %d: unexpected hint in \"%s\"", _i,
                      rg_graph_error(g)->message);
    }
    rg_graph_free(g);
}
END_TEST

START_TEST(matmul_hint_message_exact)
{
    rg_graph *g = rg_graph_new();
    rg_node_id h = rg_graph_input(g, "h0", shape2(100, 500));
    rg_node_id w = rg_graph_param(g, "W", shape2(784, 500), zeros);
    char buf[1024];

    rg_graph_set_source(g, "model.yaml");
    rg_graph_set_loc(g, 12, 9);
    ck_assert_int_eq(rg_graph_matmul(g, h, w), RG_NODE_NONE);
    ck_assert_str_eq(rg_error_format(rg_graph_error(g), buf, sizeof(buf)),
                     "model.yaml:12:9: shape mismatch in matmul: "
                     "[100, 500] @ [784, 500] (500 != 784); did you mean W.T?");
    rg_graph_free(g);
}
END_TEST

/* Transposes. */

START_TEST(transpose_rank2_swaps)
{
    rg_graph *g = rg_graph_new();
    rg_node_id w = rg_graph_param(g, "W", shape2(3, 4), zeros);
    rg_node_id t = rg_graph_transpose(g, w);

    ck_assert_int_ne(t, w);
    assert_node_shape(g, t, shape2(4, 3), 0);
    ck_assert_int_eq(rg_graph_node_op(g, t), RG_OP_TRANSPOSE);
    /* The operand is left as it was. */
    assert_node_shape(g, w, shape2(3, 4), 0);
    rg_graph_free(g);
}
END_TEST

START_TEST(transpose_rank0_rank1_same_node)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v = rg_graph_param(g, "bv", shape1(5), zeros);
    rg_node_id s = rg_graph_hyper(g, "lr");
    rg_node_id c = rg_graph_const(g, 2.0);
    int n_nodes = rg_graph_n_nodes(g);

    ck_assert_int_eq(rg_graph_transpose(g, v), v);
    ck_assert_int_eq(rg_graph_transpose(g, s), s);
    ck_assert_int_eq(rg_graph_transpose(g, c), c);
    ck_assert_int_eq(rg_graph_n_nodes(g), n_nodes);
    ck_assert_ptr_null(rg_graph_error(g));
    rg_graph_free(g);
}
END_TEST

START_TEST(transpose_then_matmul)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v0 = rg_graph_input(g, "v0", shape2(100, 784));
    rg_node_id h0 = rg_graph_input(g, "h0", shape2(100, 500));
    rg_node_id w = rg_graph_param(g, "W", shape2(784, 500), zeros);

    /* v0.T @ h0 has W's shape; h0 @ W.T has v0's. */
    rg_node_id grad = rg_graph_matmul(g, rg_graph_transpose(g, v0), h0);
    rg_node_id v1 = rg_graph_matmul(g, h0, rg_graph_transpose(g, w));

    assert_node_shape(g, grad, shape2(784, 500), 0);
    assert_node_shape(g, v1, shape2(100, 784), 1);
    rg_graph_free(g);
}
END_TEST

/* Reductions. */

typedef struct reduce_row {
    rg_op op;
    rg_shape a;
    int axis;
    rg_status status;
    rg_shape expected;
    int stored_axis; /* the node's axis after normalisation */
    const char *fragment;
} reduce_row;

static const reduce_row reduce_rows[] = {
    {RG_OP_SUM, S2(3, 4), 0, RG_STATUS_OK, S1(4), 0, NULL},
    {RG_OP_SUM, S2(3, 4), 1, RG_STATUS_OK, S1(3), 1, NULL},
    {RG_OP_MEAN, S2(3, 4), -1, RG_STATUS_OK, S1(3), 1, NULL},
    {RG_OP_MEAN, S2(3, 4), -2, RG_STATUS_OK, S1(4), 0, NULL},
    {RG_OP_SUM, S2(3, 4), RG_AXIS_ALL, RG_STATUS_OK, S0, RG_AXIS_ALL, NULL},
    {RG_OP_MEAN, S2(3, 4), RG_AXIS_ALL, RG_STATUS_OK, S0, RG_AXIS_ALL, NULL},
    {RG_OP_SUM, S1(5), 0, RG_STATUS_OK, S0, 0, NULL},
    {RG_OP_MEAN, S1(5), -1, RG_STATUS_OK, S0, 0, NULL},
    {RG_OP_SUM, S1(5), RG_AXIS_ALL, RG_STATUS_OK, S0, RG_AXIS_ALL, NULL},
    {RG_OP_SUM, S0, RG_AXIS_ALL, RG_STATUS_OK, S0, RG_AXIS_ALL, NULL},
    {RG_OP_SUM, S2(3, 4), 2, RG_STATUS_SHAPE, S0, 0,
     "axis 2 is out of range for shape [3, 4] (rank 2); valid axes are -2 "
     "to 1"},
    {RG_OP_MEAN, S2(3, 4), -3, RG_STATUS_SHAPE, S0, 0,
     "axis -3 is out of range for shape [3, 4]"},
    {RG_OP_SUM, S1(5), 1, RG_STATUS_SHAPE, S0, 0,
     "axis 1 is out of range for shape [5] (rank 1); valid axes are -1 to 0"},
    {RG_OP_SUM, S1(5), -2, RG_STATUS_SHAPE, S0, 0,
     "axis -2 is out of range for shape [5]"},
    {RG_OP_SUM, S0, 0, RG_STATUS_SHAPE, S0, 0,
     "cannot reduce a scalar over axis 0"},
    {RG_OP_MEAN, S2(3, 4), 99, RG_STATUS_SHAPE, S0, 0,
     "axis 99 is out of range"},
};

#define N_REDUCE_ROWS ((int)(sizeof(reduce_rows) / sizeof(reduce_rows[0])))

START_TEST(reduce_table)
{
    const reduce_row *row = &reduce_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", row->a);
    rg_node_id r = rg_graph_reduce(g, row->op, a, row->axis);

    assert_row(g, r, row->status, row->expected, row->fragment, _i);
    if (row->status == RG_STATUS_OK) {
        ck_assert_int_eq(rg_graph_node_op(g, r), row->op);
        ck_assert_int_eq(g->nodes[r].axis, row->stored_axis);
    }
    rg_graph_free(g);
}
END_TEST

/* where(cond, a, b) and normal(mean, std) broadcast all their operands. */

typedef struct where_row {
    rg_shape cond;
    rg_shape a;
    rg_shape b;
    rg_status status;
    rg_shape expected;
    const char *fragment;
} where_row;

static const where_row where_rows[] = {
    {S0, S0, S0, RG_STATUS_OK, S0, NULL},
    {S2(3, 4), S0, S0, RG_STATUS_OK, S2(3, 4), NULL},
    {S2(3, 4), S1(4), S0, RG_STATUS_OK, S2(3, 4), NULL},
    {S2(3, 1), S1(4), S0, RG_STATUS_OK, S2(3, 4), NULL},
    {S0, S2(3, 1), S2(1, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {S1(4), S2(3, 1), S0, RG_STATUS_OK, S2(3, 4), NULL},
    {S0, S1(3), S1(4), RG_STATUS_SHAPE, S0,
     "shape mismatch in where: [3] and [4]"},
    {S1(2), S2(3, 4), S0, RG_STATUS_SHAPE, S0,
     "shape mismatch in where: [2] and [3, 4]"},
    {S0, S2(3, 4), S1(3), RG_STATUS_SHAPE, S0, "[3, 4] and [3]"},
};

#define N_WHERE_ROWS ((int)(sizeof(where_rows) / sizeof(where_rows[0])))

START_TEST(where_table)
{
    const where_row *row = &where_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id cond = rg_graph_input(g, "cond", row->cond);
    rg_node_id a = rg_graph_input(g, "a", row->a);
    rg_node_id b = rg_graph_input(g, "b", row->b);
    rg_node_id r = rg_graph_where(g, cond, a, b);

    assert_row(g, r, row->status, row->expected, row->fragment, _i);
    if (r != RG_NODE_NONE) {
        ck_assert_int_eq(rg_graph_node_op(g, r), RG_OP_WHERE);
    }
    rg_graph_free(g);
}
END_TEST

typedef struct normal_row {
    rg_shape mean;
    rg_shape std;
    rg_status status;
    rg_shape expected;
    const char *fragment;
} normal_row;

static const normal_row normal_rows[] = {
    {S0, S0, RG_STATUS_OK, S0, NULL},
    {S2(3, 4), S0, RG_STATUS_OK, S2(3, 4), NULL},
    {S0, S2(3, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {S1(4), S2(3, 1), RG_STATUS_OK, S2(3, 4), NULL},
    {S2(3, 4), S2(3, 4), RG_STATUS_OK, S2(3, 4), NULL},
    {S1(3), S1(4), RG_STATUS_SHAPE, S0,
     "shape mismatch in normal: [3] and [4]"},
    {S2(3, 4), S2(4, 3), RG_STATUS_SHAPE, S0,
     "shape mismatch in normal: [3, 4] and [4, 3]"},
};

#define N_NORMAL_ROWS ((int)(sizeof(normal_rows) / sizeof(normal_rows[0])))

START_TEST(normal_table)
{
    const normal_row *row = &normal_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id mean = rg_graph_input(g, "mean", row->mean);
    rg_node_id std = rg_graph_input(g, "std", row->std);
    rg_node_id r = rg_graph_normal(g, mean, std);

    assert_row(g, r, row->status, row->expected, row->fragment, _i);
    if (r != RG_NODE_NONE) {
        ck_assert_int_eq(rg_graph_node_op(g, r), RG_OP_NORMAL);
    }
    rg_graph_free(g);
}
END_TEST

START_TEST(random_ops_keep_shape)
{
    static const rg_shape shapes[] = {S0, S1(5), S2(3, 4)};

    for (int i = 0; i < 3; i++) {
        rg_graph *g = rg_graph_new();
        rg_node_id p = rg_graph_input(g, "p", shapes[i]);
        rg_node_id bernoulli = rg_graph_bernoulli(g, p);
        rg_node_id uniform = rg_graph_uniform(g, p);

        assert_node_shape(g, bernoulli, shapes[i], i);
        assert_node_shape(g, uniform, shapes[i], i);
        ck_assert_int_eq(rg_graph_node_op(g, bernoulli), RG_OP_BERNOULLI);
        ck_assert_int_eq(rg_graph_node_op(g, uniform), RG_OP_UNIFORM);
        rg_graph_free(g);
    }
}
END_TEST

START_TEST(random_ops_distinct_streams)
{
    rg_graph *g = rg_graph_new();
    rg_node_id p = rg_graph_input(g, "p", shape2(3, 4));
    rg_node_id first = rg_graph_bernoulli(g, p);
    rg_node_id second = rg_graph_bernoulli(g, p);
    rg_node_id third = rg_graph_uniform(g, p);
    rg_node_id fourth = rg_graph_normal(g, p, p);

    /* Two draws from the same operand must not share random numbers. */
    ck_assert_ptr_null(rg_graph_error(g));
    ck_assert_uint_ne(g->nodes[first].stream, g->nodes[second].stream);
    ck_assert_uint_ne(g->nodes[second].stream, g->nodes[third].stream);
    ck_assert_uint_ne(g->nodes[third].stream, g->nodes[fourth].stream);
    ck_assert_uint_ne(g->nodes[first].stream, g->nodes[fourth].stream);
    rg_graph_free(g);
}
END_TEST

/* Sticky errors and locations. */

START_TEST(sticky_first_error_kept)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape1(3));
    rg_node_id y = rg_graph_input(g, "y", shape1(4));
    rg_node_id w = rg_graph_param(g, "W", shape1(3), zeros);
    rg_error first;

    rg_graph_set_source(g, "model.yaml");
    rg_graph_set_loc(g, 12, 9);
    rg_node_id bad = rg_graph_binary(g, RG_OP_ADD, x, y);
    ck_assert_int_eq(bad, RG_NODE_NONE);
    assert_graph_error(g, RG_STATUS_SHAPE, "[3] and [4]", 0);
    first = *rg_graph_error(g);
    ck_assert_int_eq(first.line, 12);
    ck_assert_int_eq(first.column, 9);
    ck_assert_str_eq(first.file, "model.yaml");

    /* Every call given RG_NODE_NONE passes it through. */
    rg_graph_set_loc(g, 20, 3);
    int n_nodes = rg_graph_n_nodes(g);
    ck_assert_int_eq(rg_graph_unary(g, RG_OP_SIGMOID, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_binary(g, RG_OP_MUL, x, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_binary(g, RG_OP_MUL, bad, x), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_where(g, bad, x, x), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_where(g, x, x, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_matmul(g, bad, x), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_matmul(g, x, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_transpose(g, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_reduce(g, RG_OP_SUM, bad, 0), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_bernoulli(g, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_normal(g, x, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_uniform(g, bad), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_add_output(g, "out", bad, false),
                     RG_STATUS_SHAPE);
    ck_assert_int_eq(rg_graph_add_update(g, w, bad), RG_STATUS_SHAPE);
    ck_assert_int_eq(rg_graph_n_nodes(g), n_nodes);
    ck_assert_int_eq(rg_graph_n_outputs(g), 0);
    ck_assert_int_eq(rg_graph_n_updates(g), 0);

    const rg_error *err = rg_graph_error(g);
    ck_assert_int_eq(err->code, first.code);
    ck_assert_int_eq(err->line, 12);
    ck_assert_int_eq(err->column, 9);
    ck_assert_str_eq(err->message, first.message);
    rg_graph_free(g);
}
END_TEST

START_TEST(sticky_later_failure_ignored)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape2(3, 4));
    rg_node_id y = rg_graph_input(g, "y", shape2(5, 6));
    rg_error first;

    rg_graph_set_loc(g, 4, 2);
    ck_assert_int_eq(rg_graph_reduce(g, RG_OP_SUM, x, 5), RG_NODE_NONE);
    first = *rg_graph_error(g);

    /* A second failure with valid operands, at another location. */
    rg_graph_set_loc(g, 8, 1);
    ck_assert_int_eq(rg_graph_matmul(g, x, y), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_binary(g, RG_OP_ADD, x, y), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_fail(g, RG_STATUS_NOT_FOUND, "unknown name"),
                     RG_NODE_NONE);
    /* Leaves are not declared once an error is recorded. */
    ck_assert_int_eq(rg_graph_input(g, "z", shape1(2)), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_hyper(g, "lr"), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_const(g, 1.0), RG_NODE_NONE);

    const rg_error *err = rg_graph_error(g);
    ck_assert_int_eq(err->code, RG_STATUS_SHAPE);
    ck_assert_int_eq(err->line, 4);
    ck_assert_int_eq(err->column, 2);
    ck_assert_str_eq(err->message, first.message);
    rg_graph_free(g);
}
END_TEST

START_TEST(graph_fail_records_location)
{
    rg_graph *g = rg_graph_new();
    char buf[1024];

    ck_assert_ptr_null(rg_graph_error(g));
    rg_graph_set_source(g, "rbm.yaml");
    rg_graph_set_loc(g, 3, 7);
    ck_assert_int_eq(rg_graph_fail(g, RG_STATUS_NOT_FOUND,
                                   "unknown name '%s'", "foo"),
                     RG_NODE_NONE);
    assert_graph_error(g, RG_STATUS_NOT_FOUND, "unknown name 'foo'", 0);
    ck_assert_int_eq(rg_graph_error(g)->line, 3);
    ck_assert_int_eq(rg_graph_error(g)->column, 7);
    ck_assert_str_eq(rg_error_format(rg_graph_error(g), buf, sizeof(buf)),
                     "rbm.yaml:3:7: unknown name 'foo'");
    rg_graph_free(g);
}
END_TEST

START_TEST(error_without_location)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape1(3));
    rg_node_id y = rg_graph_input(g, "y", shape1(4));
    char buf[1024];

    /* Built by code: no file, line 0. */
    ck_assert_int_eq(rg_graph_binary(g, RG_OP_ADD, x, y), RG_NODE_NONE);
    const rg_error *err = rg_graph_error(g);
    ck_assert_str_eq(err->file, "");
    ck_assert_int_eq(err->line, 0);
    ck_assert_int_eq(err->column, 0);
    ck_assert_str_eq(rg_error_format(err, buf, sizeof(buf)), err->message);
    rg_graph_free(g);
}
END_TEST

START_TEST(none_operand_without_error)
{
    rg_graph *g = rg_graph_new();

    ck_assert_int_eq(rg_graph_unary(g, RG_OP_EXP, RG_NODE_NONE),
                     RG_NODE_NONE);
    assert_graph_error(g, RG_STATUS_INVALID_ARGUMENT,
                       "operand is RG_NODE_NONE but no error was recorded", 0);
    rg_graph_free(g);
}
END_TEST

START_TEST(out_of_range_node_rejected)
{
    static const rg_node_id bad_ids[] = {1, 99, -5};

    for (int i = 0; i < 3; i++) {
        rg_graph *g = rg_graph_new();
        rg_node_id x = rg_graph_input(g, "x", shape1(3));
        char fragment[64];

        snprintf(fragment, sizeof(fragment),
                 "node id %d is out of range (graph has 1 nodes)",
                 (int)bad_ids[i]);
        ck_assert_int_eq(rg_graph_binary(g, RG_OP_ADD, x, bad_ids[i]),
                         RG_NODE_NONE);
        assert_graph_error(g, RG_STATUS_INVALID_ARGUMENT, fragment, i);
        rg_graph_free(g);
    }
}
END_TEST

/* Leaves. */

typedef enum leaf_kind {
    LEAF_INPUT,
    LEAF_PARAM,
    LEAF_STATE,
    LEAF_HYPER,
} leaf_kind;

static const rg_op leaf_ops[] = {
    [LEAF_INPUT] = RG_OP_INPUT,
    [LEAF_PARAM] = RG_OP_PARAM,
    [LEAF_STATE] = RG_OP_STATE,
    [LEAF_HYPER] = RG_OP_HYPER,
};

static rg_node_id add_leaf(rg_graph *g, leaf_kind kind, const char *name,
                           rg_shape shape)
{
    switch (kind) {
    case LEAF_INPUT:
        return rg_graph_input(g, name, shape);
    case LEAF_PARAM:
        return rg_graph_param(g, name, shape, zeros);
    case LEAF_STATE:
        return rg_graph_state(g, name, shape, zeros);
    default:
        return rg_graph_hyper(g, name);
    }
}

typedef struct leaf_row {
    leaf_kind kind;
    const char *name;
    rg_shape shape; /* ignored for hyperparameters, which are scalars */
    rg_status status;
    const char *fragment;
} leaf_row;

/* Each row runs on a graph that already declares input "x" and hyper "lr". */
static const leaf_row leaf_rows[] = {
    {LEAF_INPUT, "v0", S2(100, 784), RG_STATUS_OK, NULL},
    {LEAF_PARAM, "W", S2(784, 500), RG_STATUS_OK, NULL},
    {LEAF_PARAM, "bv", S1(784), RG_STATUS_OK, NULL},
    {LEAF_STATE, "chain", S2(100, 500), RG_STATUS_OK, NULL},
    {LEAF_INPUT, "t", S0, RG_STATUS_OK, NULL},
    {LEAF_HYPER, "k", S0, RG_STATUS_OK, NULL},
    /* Duplicate names, across leaf kinds too. */
    {LEAF_INPUT, "x", S1(3), RG_STATUS_MODEL, "'x' is declared twice"},
    {LEAF_PARAM, "x", S1(3), RG_STATUS_MODEL, "'x' is declared twice"},
    {LEAF_STATE, "lr", S0, RG_STATUS_MODEL, "'lr' is declared twice"},
    {LEAF_HYPER, "lr", S0, RG_STATUS_MODEL, "'lr' is declared twice"},
    {LEAF_HYPER, "x", S0, RG_STATUS_MODEL, "'x' is declared twice"},
    /* Missing names. */
    {LEAF_INPUT, "", S1(3), RG_STATUS_INVALID_ARGUMENT,
     "input needs a non-empty name"},
    {LEAF_PARAM, NULL, S1(3), RG_STATUS_INVALID_ARGUMENT,
     "every param needs a non-empty name"},
    /* Non-positive dimensions. */
    {LEAF_INPUT, "z", S2(0, 3), RG_STATUS_SHAPE,
     "'z' has shape [0, 3]; every dimension must be positive"},
    {LEAF_PARAM, "z", S1(-2), RG_STATUS_SHAPE, "'z' has shape [-2]"},
    {LEAF_STATE, "z", S2(3, 0), RG_STATUS_SHAPE, "'z' has shape [3, 0]"},
    {LEAF_INPUT, "z", S1(0), RG_STATUS_SHAPE, "'z' has shape [0]"},
    /* Ranks outside 0..2. */
    {LEAF_INPUT, "z", {3, {2, 2}}, RG_STATUS_UNSUPPORTED,
     "'z' has rank 3; tensors of rank 0 to 2 are supported"},
    {LEAF_PARAM, "z", {-1, {2, 2}}, RG_STATUS_UNSUPPORTED,
     "'z' has rank -1"},
    /* Sizes whose byte count overflows int64_t. */
    {LEAF_INPUT, "z", S2(INT64_C(1) << 31, INT64_C(1) << 31),
     RG_STATUS_NO_MEMORY, "overflows a 64-bit integer"},
    {LEAF_PARAM, "z", S2(INT64_MAX / 2 + 1, 4), RG_STATUS_NO_MEMORY,
     "overflows a 64-bit integer"},
};

#define N_LEAF_ROWS ((int)(sizeof(leaf_rows) / sizeof(leaf_rows[0])))

START_TEST(leaf_table)
{
    const leaf_row *row = &leaf_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_shape expected = row->kind == LEAF_HYPER ? shape0() : row->shape;

    rg_graph_input(g, "x", shape1(3));
    rg_graph_hyper(g, "lr");
    ck_assert_ptr_null(rg_graph_error(g));

    rg_node_id id = add_leaf(g, row->kind, row->name, row->shape);
    assert_row(g, id, row->status, expected, row->fragment, _i);
    if (row->status == RG_STATUS_OK) {
        ck_assert_int_eq(rg_graph_node_op(g, id), leaf_ops[row->kind]);
        ck_assert_str_eq(rg_graph_node_name(g, id), row->name);
        ck_assert_int_eq(rg_graph_find_leaf(g, row->name), id);
    } else {
        ck_assert_int_eq(rg_graph_n_nodes(g), 2);
    }
    rg_graph_free(g);
}
END_TEST

START_TEST(const_is_unnamed_scalar)
{
    rg_graph *g = rg_graph_new();
    rg_node_id c = rg_graph_const(g, 0.5);
    rg_node_id d = rg_graph_const(g, 0.5);

    assert_node_shape(g, c, shape0(), 0);
    ck_assert_int_eq(rg_graph_node_op(g, c), RG_OP_CONST);
    ck_assert_ptr_null(rg_graph_node_name(g, c));
    /* Unnamed constants never clash with each other. */
    ck_assert_int_ne(c, d);
    ck_assert_ptr_null(rg_graph_error(g));
    rg_graph_free(g);
}
END_TEST

START_TEST(find_leaf_skips_display_names)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape1(3));
    rg_node_id ex = rg_graph_unary(g, RG_OP_EXP, x);

    rg_graph_set_name(g, ex, "ex");
    ck_assert_str_eq(rg_graph_node_name(g, ex), "ex");
    ck_assert_int_eq(rg_graph_find_leaf(g, "ex"), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_find_leaf(g, "x"), x);
    ck_assert_int_eq(rg_graph_find_leaf(g, "nope"), RG_NODE_NONE);

    /* A leaf keeps its declared name. */
    rg_graph_set_name(g, x, "renamed");
    ck_assert_str_eq(rg_graph_node_name(g, x), "x");
    rg_graph_free(g);
}
END_TEST

/* Outputs. */

typedef struct output_row {
    const char *name;
    rg_shape shape;
    bool is_metric;
    rg_status status;
    const char *fragment;
} output_row;

/* Each row runs on a graph that already has a non-metric output "y". */
static const output_row output_rows[] = {
    {"recon_error", S0, true, RG_STATUS_OK, NULL},
    {"h", S2(3, 4), false, RG_STATUS_OK, NULL},
    {"s", S0, false, RG_STATUS_OK, NULL},
    {"err", S1(3), true, RG_STATUS_SHAPE,
     "metric 'err' has shape [3]; a metric must be a scalar"},
    {"err", S2(3, 4), true, RG_STATUS_SHAPE, "metric 'err' has shape [3, 4]"},
    /* One element is not enough: a metric has rank 0. */
    {"err", S1(1), true, RG_STATUS_SHAPE, "metric 'err' has shape [1]"},
    {"y", S0, false, RG_STATUS_MODEL, "output 'y' is declared twice"},
    {"y", S0, true, RG_STATUS_MODEL, "output 'y' is declared twice"},
};

#define N_OUTPUT_ROWS ((int)(sizeof(output_rows) / sizeof(output_rows[0])))

START_TEST(output_table)
{
    const output_row *row = &output_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id y = rg_graph_input(g, "y_in", shape1(2));
    rg_node_id v = rg_graph_input(g, "v", row->shape);

    ck_assert_int_eq(rg_graph_add_output(g, "y", y, false), RG_STATUS_OK);
    rg_status status = rg_graph_add_output(g, row->name, v, row->is_metric);
    ck_assert_msg(status == row->status, "row %d: returned %s, expected %s",
                  _i, rg_status_str(status), rg_status_str(row->status));
    if (row->status == RG_STATUS_OK) {
        ck_assert_ptr_null(rg_graph_error(g));
        ck_assert_int_eq(rg_graph_n_outputs(g), 2);
        ck_assert_str_eq(rg_graph_output_name(g, 1), row->name);
        ck_assert_int_eq(rg_graph_output_node(g, 1), v);
        ck_assert(rg_graph_output_is_metric(g, 1) == row->is_metric);
    } else {
        assert_graph_error(g, row->status, row->fragment, _i);
        ck_assert_int_eq(rg_graph_n_outputs(g), 1);
    }
    rg_graph_free(g);
}
END_TEST

/* Updates. */

typedef struct update_row {
    leaf_kind target_kind;
    rg_shape target;
    rg_shape value;
    rg_status status;
    const char *fragment;
} update_row;

static const update_row update_rows[] = {
    {LEAF_PARAM, S2(3, 4), S2(3, 4), RG_STATUS_OK, NULL},
    {LEAF_PARAM, S0, S0, RG_STATUS_OK, NULL},
    {LEAF_STATE, S1(4), S1(4), RG_STATUS_OK, NULL},
    /* Only params and state are persistent. */
    {LEAF_INPUT, S1(4), S1(4), RG_STATUS_MODEL,
     "cannot update 'T': only params and state can be updated"},
    {LEAF_HYPER, S0, S0, RG_STATUS_MODEL, "cannot update 'T'"},
    /* Shapes must match exactly: broadcasting is not enough. */
    {LEAF_PARAM, S2(3, 4), S1(4), RG_STATUS_SHAPE,
     "update of 'T' has shape [4] but 'T' has shape [3, 4]"},
    {LEAF_PARAM, S1(4), S0, RG_STATUS_SHAPE,
     "update of 'T' has shape [] but 'T' has shape [4]"},
    {LEAF_STATE, S1(4), S2(1, 4), RG_STATUS_SHAPE,
     "update of 'T' has shape [1, 4] but 'T' has shape [4]"},
    {LEAF_PARAM, S2(3, 4), S2(4, 3), RG_STATUS_SHAPE,
     "has shape [4, 3] but 'T' has shape [3, 4]"},
    {LEAF_STATE, S2(3, 1), S2(3, 4), RG_STATUS_SHAPE,
     "has shape [3, 4] but 'T' has shape [3, 1]"},
};

#define N_UPDATE_ROWS ((int)(sizeof(update_rows) / sizeof(update_rows[0])))

START_TEST(update_table)
{
    const update_row *row = &update_rows[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id t = add_leaf(g, row->target_kind, "T", row->target);
    rg_node_id v = rg_graph_input(g, "V", row->value);

    ck_assert_ptr_null(rg_graph_error(g));
    rg_status status = rg_graph_add_update(g, t, v);
    ck_assert_msg(status == row->status, "row %d: returned %s, expected %s",
                  _i, rg_status_str(status), rg_status_str(row->status));
    if (row->status == RG_STATUS_OK) {
        ck_assert_ptr_null(rg_graph_error(g));
        ck_assert_int_eq(rg_graph_n_updates(g), 1);
        ck_assert_int_eq(rg_graph_update_target(g, 0), t);
        ck_assert_int_eq(rg_graph_update_value(g, 0), v);
    } else {
        assert_graph_error(g, row->status, row->fragment, _i);
        ck_assert_int_eq(rg_graph_n_updates(g), 0);
    }
    rg_graph_free(g);
}
END_TEST

START_TEST(update_of_expression_rejected)
{
    rg_graph *g = rg_graph_new();
    rg_node_id w = rg_graph_param(g, "W", shape1(4), zeros);
    rg_node_id sum = rg_graph_binary(g, RG_OP_ADD, w, w);
    rg_graph *g_const = rg_graph_new();
    rg_node_id c = rg_graph_const(g_const, 1.0);

    ck_assert_int_eq(rg_graph_add_update(g, sum, w), RG_STATUS_MODEL);
    assert_graph_error(g, RG_STATUS_MODEL, "cannot update 'add'", 0);

    ck_assert_int_eq(rg_graph_add_update(g_const, c, c), RG_STATUS_MODEL);
    assert_graph_error(g_const, RG_STATUS_MODEL, "cannot update 'const'", 1);
    rg_graph_free(g);
    rg_graph_free(g_const);
}
END_TEST

START_TEST(update_twice_rejected)
{
    rg_graph *g = rg_graph_new();
    rg_node_id w = rg_graph_param(g, "W", shape2(3, 4), zeros);
    rg_node_id bh = rg_graph_param(g, "bh", shape1(4), zeros);
    rg_node_id lr = rg_graph_hyper(g, "lr");
    rg_node_id w_new = rg_graph_binary(g, RG_OP_MUL, w, lr);
    rg_node_id bh_new = rg_graph_binary(g, RG_OP_MUL, bh, lr);

    ck_assert_int_eq(rg_graph_add_update(g, w, w_new), RG_STATUS_OK);
    ck_assert_int_eq(rg_graph_add_update(g, bh, bh_new), RG_STATUS_OK);
    ck_assert_int_eq(rg_graph_add_update(g, w, w), RG_STATUS_MODEL);
    assert_graph_error(g, RG_STATUS_MODEL, "'W' is updated twice", 0);
    ck_assert_int_eq(rg_graph_n_updates(g), 2);
    ck_assert_int_eq(rg_graph_update_target(g, 1), bh);
    ck_assert_int_eq(rg_graph_update_value(g, 1), bh_new);
    rg_graph_free(g);
}
END_TEST

static Suite *infer_suite(void)
{
    Suite *s = suite_create("infer");
    TCase *tc_shape = tcase_create("shapes");
    TCase *tc_ops = tcase_create("ops");
    TCase *tc_errors = tcase_create("errors");
    TCase *tc_decl = tcase_create("declarations");

    tcase_add_test(tc_shape, shape_str_formats);
    tcase_add_test(tc_shape, shape_numel_and_equal);
    suite_add_tcase(s, tc_shape);

    tcase_add_loop_test(tc_ops, broadcast_table, 0, N_BROADCAST_ROWS);
    tcase_add_test(tc_ops, binary_ops_all_broadcast);
    tcase_add_test(tc_ops, unary_ops_keep_shape);
    tcase_add_loop_test(tc_ops, op_class_mismatch_rejected, 0,
                        N_OP_CLASS_ROWS);
    tcase_add_loop_test(tc_ops, matmul_table, 0, N_MATMUL_ROWS);
    tcase_add_test(tc_ops, matmul_hint_message_exact);
    tcase_add_test(tc_ops, transpose_rank2_swaps);
    tcase_add_test(tc_ops, transpose_rank0_rank1_same_node);
    tcase_add_test(tc_ops, transpose_then_matmul);
    tcase_add_loop_test(tc_ops, reduce_table, 0, N_REDUCE_ROWS);
    tcase_add_loop_test(tc_ops, where_table, 0, N_WHERE_ROWS);
    tcase_add_loop_test(tc_ops, normal_table, 0, N_NORMAL_ROWS);
    tcase_add_test(tc_ops, random_ops_keep_shape);
    tcase_add_test(tc_ops, random_ops_distinct_streams);
    suite_add_tcase(s, tc_ops);

    tcase_add_test(tc_errors, sticky_first_error_kept);
    tcase_add_test(tc_errors, sticky_later_failure_ignored);
    tcase_add_test(tc_errors, graph_fail_records_location);
    tcase_add_test(tc_errors, error_without_location);
    tcase_add_test(tc_errors, none_operand_without_error);
    tcase_add_test(tc_errors, out_of_range_node_rejected);
    suite_add_tcase(s, tc_errors);

    tcase_add_loop_test(tc_decl, leaf_table, 0, N_LEAF_ROWS);
    tcase_add_test(tc_decl, const_is_unnamed_scalar);
    tcase_add_test(tc_decl, find_leaf_skips_display_names);
    tcase_add_loop_test(tc_decl, output_table, 0, N_OUTPUT_ROWS);
    tcase_add_loop_test(tc_decl, update_table, 0, N_UPDATE_ROWS);
    tcase_add_test(tc_decl, update_of_expression_rejected);
    tcase_add_test(tc_decl, update_twice_rejected);
    suite_add_tcase(s, tc_decl);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(infer_suite());
    int n_failed;

    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
