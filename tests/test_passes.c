/*
 * Planner tests, pass by pass. Simplification and fusion run on graphs
 * built with the builder API and are inspected through the internal node
 * layout. Scheduling and memory planning are checked through the public
 * plan API. Updates that must be applied together run on the CPU under
 * every combination of options and are compared with values computed here
 * in double precision. Every plan built here goes through rg_plan_check.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "graph/passes.h"
#include "randgraph.h"
#include "rbmgraph/rbmgraph.h"

/* Relative tolerance against the double references of the update tests. */
#define REL_TOL 1e-5

enum { N_RANDOM_GRAPHS = 200, FIRST_SEED = 1000 };

static const rg_init zeros = {RG_INIT_ZEROS, 0, 0};

static rg_shape s1(int64_t a)
{
    rg_shape s = {1, {a, 0}};
    return s;
}

static rg_shape s2(int64_t a, int64_t b)
{
    rg_shape s = {2, {a, b}};
    return s;
}

static rg_node_id bin(rg_graph *g, rg_op op, rg_node_id a, rg_node_id b)
{
    return rg_graph_binary(g, op, a, b);
}

static rg_node_id cst(rg_graph *g, double v)
{
    return rg_graph_const(g, v);
}

/* Runs pass_simplify and fails the test on an error. */
static rg_graph *simplified(const rg_graph *g)
{
    rg_graph *out = NULL;
    rg_error err;

    ck_assert_msg(rg_graph_error(g) == NULL, "builder: %s",
                  rg_graph_error(g)->message);
    ck_assert_msg(pass_simplify(g, &out, &err) == RG_STATUS_OK,
                  "pass_simplify: %s", err.message);
    return out;
}

/* Runs pass_fuse on the simplified graph, as rg_plan_build does. */
static rg_graph *fused(const rg_graph *g, bool fuse)
{
    rg_graph *simple = simplified(g);
    rg_graph *out = NULL;
    rg_error err;

    ck_assert_msg(pass_fuse(simple, fuse, &out, &err) == RG_STATUS_OK,
                  "pass_fuse: %s", err.message);
    rg_graph_free(simple);
    return out;
}

/* Plans `g` and proves the arena layout; fails the test on an error. */
static rg_plan *planned(const rg_graph *g, const rg_plan_options *o)
{
    rg_plan *plan = NULL;
    rg_error err;

    ck_assert_msg(rg_plan_build(g, o, &plan, &err) == RG_STATUS_OK,
                  "rg_plan_build: %s", err.message);
    ck_assert_msg(rg_plan_check(plan, &err) == RG_STATUS_OK,
                  "rg_plan_check: %s", err.message);
    return plan;
}

static int count_op(const rg_graph *g, rg_op op)
{
    int n = 0;

    for (int id = 0; id < g->n_nodes; id++) {
        n += g->nodes[id].op == op;
    }
    return n;
}

static rg_node_id output_node(const rg_graph *g, const char *name)
{
    for (int i = 0; i < g->n_outputs; i++) {
        if (strcmp(g->outputs[i].name, name) == 0) {
            return g->outputs[i].node;
        }
    }
    ck_abort_msg("no output named %s", name);
    return RG_NODE_NONE;
}

/* The non-leaf node with display name `name`. */
static rg_node_id named(const rg_graph *g, const char *name)
{
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        if (!graph_op_is_leaf(n->op) && n->name != NULL &&
            strcmp(n->name, name) == 0) {
            return id;
        }
    }
    ck_abort_msg("no node named %s", name);
    return RG_NODE_NONE;
}

static rg_node_id update_value_of(const rg_graph *g, const char *target)
{
    for (int i = 0; i < g->n_updates; i++) {
        if (strcmp(g->nodes[g->updates[i].target].name, target) == 0) {
            return g->updates[i].value;
        }
    }
    ck_abort_msg("no update of %s", target);
    return RG_NODE_NONE;
}

static const rg_node *node(const rg_graph *g, rg_node_id id)
{
    ck_assert_int_ge(id, 0);
    ck_assert_int_lt(id, g->n_nodes);
    return &g->nodes[id];
}

/* Follows transposes down to the node that owns the memory. */
static rg_node_id view_base(const rg_graph *g, rg_node_id id)
{
    while (g->nodes[id].op == RG_OP_TRANSPOSE) {
        id = g->nodes[id].operands[0];
    }
    return id;
}

static rg_model *load_model(const char *file)
{
    const char *root = getenv("RG_SOURCE_ROOT");
    char path[512];
    rg_model *m = NULL;
    rg_error err;

    snprintf(path, sizeof(path), "%s/models/%s", root ? root : ".", file);
    ck_assert_msg(rg_model_load(path, &m, &err) == RG_STATUS_OK, "%s: %s",
                  path, err.message);
    return m;
}

static rg_graph *model_graph(rg_model *m, const char *entry)
{
    rg_graph *g = NULL;
    rg_error err;

    ck_assert_msg(rg_model_build(m, entry, &g, &err) == RG_STATUS_OK,
                  "entry %s: %s", entry, err.message);
    return g;
}

/* Builds CD-1 from models/rbm-cd1.yaml with small dims. */
static rg_graph *small_cd1(void)
{
    rg_model *m = load_model("rbm-cd1.yaml");
    rg_error err;

    ck_assert_int_eq(rg_model_set(m, "batch", "5", &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_model_set(m, "visible", "12", &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_model_set(m, "hidden", "7", &err), RG_STATUS_OK);
    rg_graph *g = model_graph(m, "train");
    rg_model_free(m);
    return g;
}

/* Simplification. */

START_TEST(simplify_folds_transposes_into_flags)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", s2(4, 3));
    rg_node_id b = rg_graph_input(g, "b", s2(4, 5));
    rg_node_id c = rg_graph_input(g, "c", s2(5, 3));
    rg_node_id d = rg_graph_input(g, "d", s2(2, 4));

    /* a.T @ b: [3, 5]; a @ c.T: [4, 5]; a.T @ d.T: [3, 2]. */
    rg_graph_add_output(g, "ta", rg_graph_matmul(
        g, rg_graph_transpose(g, a), b), false);
    rg_graph_add_output(g, "tb", rg_graph_matmul(
        g, a, rg_graph_transpose(g, c)), false);
    rg_graph_add_output(g, "tab", rg_graph_matmul(
        g, rg_graph_transpose(g, a), rg_graph_transpose(g, d)), false);
    rg_graph *s = simplified(g);

    ck_assert_int_eq(count_op(s, RG_OP_TRANSPOSE), 0);
    const rg_node *ta = node(s, output_node(s, "ta"));
    const rg_node *tb = node(s, output_node(s, "tb"));
    const rg_node *tab = node(s, output_node(s, "tab"));
    ck_assert_int_eq(ta->op, RG_OP_MATMUL);
    ck_assert(ta->trans_a && !ta->trans_b);
    ck_assert_str_eq(node(s, ta->operands[0])->name, "a");
    ck_assert_str_eq(node(s, ta->operands[1])->name, "b");
    ck_assert(!tb->trans_a && tb->trans_b);
    ck_assert_str_eq(node(s, tb->operands[1])->name, "c");
    ck_assert(tab->trans_a && tab->trans_b);
    ck_assert_str_eq(node(s, tab->operands[0])->name, "a");
    ck_assert_str_eq(node(s, tab->operands[1])->name, "d");
    ck_assert(rg_shape_equal(tab->shape, s2(3, 2)));
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

START_TEST(simplify_removes_double_transpose)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", s2(4, 3));
    rg_node_id b = rg_graph_input(g, "b", s2(3, 2));
    rg_node_id tt = rg_graph_transpose(g, rg_graph_transpose(g, a));
    rg_node_id ttt = rg_graph_transpose(g, tt);

    rg_graph_add_output(g, "e", rg_graph_unary(g, RG_OP_SIGMOID, tt), false);
    rg_graph_add_output(g, "p", rg_graph_matmul(g, tt, b), false);
    rg_graph_add_output(g, "f", rg_graph_unary(g, RG_OP_EXP, ttt), false);
    rg_graph *s = simplified(g);

    const rg_node *e = node(s, output_node(s, "e"));
    const rg_node *p = node(s, output_node(s, "p"));
    const rg_node *f = node(s, output_node(s, "f"));
    ck_assert_int_eq(node(s, e->operands[0])->op, RG_OP_INPUT);
    ck_assert(!p->trans_a && !p->trans_b);
    ck_assert_int_eq(node(s, p->operands[0])->op, RG_OP_INPUT);
    /* Three transposes are one, which stays a view for exp. */
    ck_assert_int_eq(count_op(s, RG_OP_TRANSPOSE), 1);
    ck_assert_int_eq(node(s, f->operands[0])->op, RG_OP_TRANSPOSE);
    ck_assert(rg_shape_equal(f->shape, s2(3, 4)));
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

START_TEST(simplify_folds_constants)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(2, 3));
    rg_node_id lr = rg_graph_hyper(g, "lr");
    rg_node_id c = bin(g, RG_OP_MUL, bin(g, RG_OP_ADD, cst(g, 2), cst(g, 3)),
                       cst(g, 0.5));

    rg_graph_add_output(g, "scaled", bin(g, RG_OP_MUL, x, c), false);
    rg_graph_add_output(g, "tenths", bin(g, RG_OP_ADD, cst(g, 0.1),
                                         cst(g, 0.2)), false);
    rg_graph_add_output(g, "half", rg_graph_unary(g, RG_OP_SIGMOID,
                                                  cst(g, 0)), false);
    rg_graph_add_output(g, "rate", bin(g, RG_OP_MUL, lr, bin(
        g, RG_OP_ADD, cst(g, 1), cst(g, 1))), false);
    rg_graph *s = simplified(g);

    const rg_node *scaled = node(s, output_node(s, "scaled"));
    const rg_node *k = node(s, scaled->operands[1]);
    ck_assert_int_eq(k->op, RG_OP_CONST);
    ck_assert_double_eq(k->value, 2.5);

    /* Folded in float, as the kernels would compute it. */
    const rg_node *tenths = node(s, output_node(s, "tenths"));
    ck_assert_int_eq(tenths->op, RG_OP_CONST);
    ck_assert_double_eq(tenths->value, (double)(0.1f + 0.2f));
    const rg_node *half = node(s, output_node(s, "half"));
    ck_assert_int_eq(half->op, RG_OP_CONST);
    ck_assert_double_eq(half->value, 0.5);

    /* A hyperparameter is a runtime value and is never folded. */
    const rg_node *rate = node(s, output_node(s, "rate"));
    ck_assert_int_eq(rate->op, RG_OP_MUL);
    ck_assert_int_eq(node(s, rate->operands[0])->op, RG_OP_HYPER);
    ck_assert_int_eq(node(s, rate->operands[1])->op, RG_OP_CONST);
    ck_assert_double_eq(node(s, rate->operands[1])->value, 2.0);
    ck_assert_int_eq(count_op(s, RG_OP_ADD), 0);
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

/* One binary op of x and a constant, with the expected simplification. */
typedef struct identity_case {
    rg_op op;
    double constant;
    bool constant_first;
    bool removed;
} identity_case;

static const identity_case identity_cases[] = {
    {RG_OP_MUL, 1.0, false, true},  {RG_OP_MUL, 1.0, true, true},
    {RG_OP_ADD, 0.0, false, true},  {RG_OP_ADD, 0.0, true, true},
    {RG_OP_SUB, 0.0, false, true},  {RG_OP_DIV, 1.0, false, true},
    {RG_OP_POW, 1.0, false, true},  {RG_OP_SUB, 0.0, true, false},
    {RG_OP_DIV, 1.0, true, false},  {RG_OP_POW, 1.0, true, false},
    {RG_OP_MUL, 0.0, false, false}, {RG_OP_ADD, 1.0, false, false},
    {RG_OP_MUL, 2.0, false, false}, {RG_OP_POW, 0.0, false, false},
};

START_TEST(simplify_removes_identities)
{
    const identity_case *c = &identity_cases[_i];
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(2, 3));
    rg_node_id k = cst(g, c->constant);
    rg_node_id y = c->constant_first ? bin(g, c->op, k, x)
                                     : bin(g, c->op, x, k);

    rg_graph_add_output(g, "y", rg_graph_unary(g, RG_OP_TANH, y), false);
    rg_graph *s = simplified(g);
    const rg_node *t = node(s, output_node(s, "y"));
    const rg_node *operand = node(s, t->operands[0]);

    if (c->removed) {
        ck_assert_msg(operand->op == RG_OP_INPUT, "%s with %g %s was kept",
                      rg_op_name(c->op), c->constant,
                      c->constant_first ? "first" : "second");
    } else {
        ck_assert_msg(operand->op == c->op, "%s with %g %s was removed",
                      rg_op_name(c->op), c->constant,
                      c->constant_first ? "first" : "second");
    }
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

/*
 * x * C is kept when the constant C is bigger than x, since broadcasting
 * changes the shape. The builder makes only scalar constants, so the
 * constant of shape [2, 3] is pushed through the internal node layout.
 */
START_TEST(simplify_keeps_identity_that_broadcasts)
{
    rg_graph *g = rg_graph_new();
    rg_node proto;

    memset(&proto, 0, sizeof(proto));
    proto.op = RG_OP_CONST;
    proto.shape = s2(2, 3);
    proto.value = 1.0;
    proto.axis = RG_AXIS_ALL;
    proto.group = -1;
    rg_node_id ones = graph_push_node(g, &proto);
    rg_node_id x = rg_graph_input(g, "x", s1(3));
    rg_node_id y = bin(g, RG_OP_MUL, x, ones);

    ck_assert(rg_shape_equal(rg_graph_node_shape(g, y), s2(2, 3)));
    rg_graph_add_output(g, "y", y, false);
    rg_graph *s = simplified(g);
    const rg_node *out = node(s, output_node(s, "y"));
    ck_assert_int_eq(out->op, RG_OP_MUL);
    ck_assert(rg_shape_equal(out->shape, s2(2, 3)));
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

START_TEST(simplify_identity_after_folding)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s1(4));
    rg_node_id one = bin(g, RG_OP_SUB, cst(g, 3), cst(g, 2));

    rg_graph_add_output(g, "y", bin(g, RG_OP_MUL, x, one), false);
    rg_graph *s = simplified(g);
    ck_assert_int_eq(node(s, output_node(s, "y"))->op, RG_OP_INPUT);
    ck_assert_int_eq(count_op(s, RG_OP_MUL), 0);
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

START_TEST(simplify_merges_common_subexpressions)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v = rg_graph_input(g, "v", s2(2, 3));
    rg_node_id w = rg_graph_param(g, "W", s2(3, 4), zeros);
    rg_node_id y1 = rg_graph_unary(g, RG_OP_SIGMOID, rg_graph_matmul(g, v, w));
    rg_node_id y2 = rg_graph_unary(g, RG_OP_SIGMOID, rg_graph_matmul(g, v, w));
    rg_node_id t1 = rg_graph_matmul(g, rg_graph_transpose(g, v), v);
    rg_node_id t2 = rg_graph_matmul(g, rg_graph_transpose(g, v), v);

    rg_graph_add_output(g, "y", bin(g, RG_OP_ADD, y1, y2), false);
    rg_graph_add_output(g, "t", bin(g, RG_OP_SUB, t1, t2), false);
    rg_graph_add_output(g, "s0", bin(g, RG_OP_ADD,
                                     rg_graph_reduce(g, RG_OP_SUM, y1, 0),
                                     rg_graph_reduce(g, RG_OP_SUM, y2, 0)),
                        false);
    rg_graph_add_output(g, "s1", rg_graph_reduce(g, RG_OP_SUM, y1, 1), false);
    rg_graph_add_output(g, "m0", rg_graph_reduce(g, RG_OP_MEAN, y1, 0),
                        false);
    rg_graph *s = simplified(g);

    /* v @ W and v.T @ v once each; one sigmoid. */
    ck_assert_int_eq(count_op(s, RG_OP_MATMUL), 2);
    ck_assert_int_eq(count_op(s, RG_OP_SIGMOID), 1);
    const rg_node *y = node(s, output_node(s, "y"));
    ck_assert_int_eq(y->operands[0], y->operands[1]);
    const rg_node *t = node(s, output_node(s, "t"));
    ck_assert_int_eq(t->operands[0], t->operands[1]);
    ck_assert(node(s, t->operands[0])->trans_a);
    /* Sums over axis 0 merge; axis 1 and the mean stay apart. */
    ck_assert_int_eq(count_op(s, RG_OP_SUM), 2);
    ck_assert_int_eq(count_op(s, RG_OP_MEAN), 1);
    const rg_node *sum0 = node(s, output_node(s, "s0"));
    ck_assert_int_eq(sum0->operands[0], sum0->operands[1]);
    ck_assert_int_ne(output_node(s, "s1"), sum0->operands[0]);
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

START_TEST(simplify_never_merges_random_nodes)
{
    rg_graph *g = rg_graph_new();
    rg_node_id p = rg_graph_input(g, "p", s2(2, 3));
    rg_node_id b1 = rg_graph_bernoulli(g, p);
    rg_node_id b2 = rg_graph_bernoulli(g, p);
    rg_node_id u1 = rg_graph_uniform(g, p);
    rg_node_id u2 = rg_graph_uniform(g, p);
    rg_node_id n1 = rg_graph_normal(g, p, cst(g, 0.5));
    rg_node_id n2 = rg_graph_normal(g, p, cst(g, 0.5));
    rg_node_id sum = bin(g, RG_OP_ADD, bin(g, RG_OP_ADD, b1, b2),
                         bin(g, RG_OP_ADD, u1, u2));

    rg_graph_add_output(g, "sum", bin(g, RG_OP_ADD, sum, bin(
        g, RG_OP_ADD, n1, n2)), false);
    rg_graph_add_output(g, "e1", rg_graph_unary(g, RG_OP_SIGMOID, b1), false);
    rg_graph_add_output(g, "e2", rg_graph_unary(g, RG_OP_SIGMOID, b2), false);
    rg_graph *s = simplified(g);

    ck_assert_int_eq(count_op(s, RG_OP_BERNOULLI), 2);
    ck_assert_int_eq(count_op(s, RG_OP_UNIFORM), 2);
    ck_assert_int_eq(count_op(s, RG_OP_NORMAL), 2);
    ck_assert_int_eq(count_op(s, RG_OP_SIGMOID), 2);

    /* Each random node keeps the stream it was built with. */
    uint32_t seen = 0;
    for (int id = 0; id < s->n_nodes; id++) {
        if (graph_op_is_random(s->nodes[id].op)) {
            ck_assert_uint_lt(s->nodes[id].stream, 6);
            seen |= 1u << s->nodes[id].stream;
        }
    }
    ck_assert_uint_eq(seen, 0x3f);
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

START_TEST(simplify_drops_dead_nodes)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s1(3));
    rg_node_id unused_input = rg_graph_input(g, "z", s1(3));
    rg_node_id unused_param = rg_graph_param(g, "U", s1(3), zeros);
    rg_node_id p = rg_graph_param(g, "P", s1(3), zeros);
    rg_node_id q = rg_graph_param(g, "Q", s1(3), zeros);

    rg_graph_unary(g, RG_OP_EXP, x); /* never used */
    bin(g, RG_OP_ADD, unused_input, unused_param);
    rg_graph_add_update(g, p, bin(g, RG_OP_MUL, x, cst(g, 2)));
    rg_graph_add_output(g, "q", q, false);
    rg_graph *s = simplified(g);

    ck_assert_int_eq(rg_graph_find_leaf(s, "z"), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_find_leaf(s, "U"), RG_NODE_NONE);
    ck_assert_int_ne(rg_graph_find_leaf(s, "x"), RG_NODE_NONE);
    ck_assert_int_ne(rg_graph_find_leaf(s, "P"), RG_NODE_NONE);
    ck_assert_int_ne(rg_graph_find_leaf(s, "Q"), RG_NODE_NONE);
    ck_assert_int_eq(count_op(s, RG_OP_EXP), 0);
    ck_assert_int_eq(count_op(s, RG_OP_ADD), 0);
    /* x, P, Q, the constant 2 and x * 2. */
    ck_assert_int_eq(s->n_nodes, 5);
    ck_assert_int_eq(s->n_updates, 1);
    ck_assert_int_eq(s->n_outputs, 1);
    rg_graph_free(s);
    rg_graph_free(g);
}
END_TEST

/* Passes are pure functions: the input graph is left as it was. */
START_TEST(passes_leave_input_unchanged)
{
    rg_graph *g = small_cd1();
    int n = g->n_nodes;
    rg_node *copy = malloc((size_t)n * sizeof(*copy));
    rg_update *updates = malloc((size_t)g->n_updates * sizeof(*updates));
    int n_updates = g->n_updates;

    memcpy(copy, g->nodes, (size_t)n * sizeof(*copy));
    memcpy(updates, g->updates, (size_t)n_updates * sizeof(*updates));
    rg_graph *f = fused(g, true);
    rg_graph *s = simplified(g);

    ck_assert_int_eq(g->n_nodes, n);
    ck_assert_int_eq(g->n_updates, n_updates);
    for (int id = 0; id < n; id++) {
        ck_assert_int_eq(g->nodes[id].op, copy[id].op);
        ck_assert_int_eq(g->nodes[id].group, -1);
        ck_assert(!g->nodes[id].trans_a && !g->nodes[id].trans_b);
        ck_assert_mem_eq(g->nodes[id].operands, copy[id].operands,
                         sizeof(copy[id].operands));
    }
    ck_assert_mem_eq(g->updates, updates, (size_t)n_updates *
                     sizeof(*updates));
    rg_graph_free(f);
    rg_graph_free(s);
    free(copy);
    free(updates);
    rg_graph_free(g);
}
END_TEST

/* Fusion: grouping. */

START_TEST(fuse_matmul_epilogue_joins)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v = rg_graph_input(g, "v", s2(5, 4));
    rg_node_id w = rg_graph_param(g, "W", s2(4, 3), zeros);
    rg_node_id b = rg_graph_param(g, "b", s1(3), zeros);
    rg_node_id pre = rg_graph_matmul(g, v, w);
    rg_node_id act = bin(g, RG_OP_ADD, pre, b);
    rg_node_id p = rg_graph_unary(g, RG_OP_SIGMOID, act);
    rg_node_id h = rg_graph_bernoulli(g, p);

    rg_graph_set_name(g, pre, "pre");
    rg_graph_set_name(g, act, "act");
    rg_graph_add_output(g, "p", p, false);
    rg_graph_add_output(g, "h", h, false);
    rg_graph *f = fused(g, true);

    int gid = node(f, named(f, "pre"))->group;
    ck_assert_int_ge(gid, 0);
    ck_assert_int_eq(node(f, named(f, "act"))->group, gid);
    ck_assert_int_eq(node(f, output_node(f, "p"))->group, gid);
    ck_assert_int_eq(node(f, output_node(f, "h"))->group, gid);
    ck_assert_int_eq(node(f, rg_graph_find_leaf(f, "W"))->group, -1);

    /* One GEMM and one epilogue kernel. */
    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_gemms(plan), 1);
    ck_assert_int_eq(rg_plan_n_kernels(plan), 1);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

START_TEST(fuse_elementwise_chain_one_group)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(3, 4));
    rg_node_id y = rg_graph_input(g, "y", s1(4));
    rg_node_id t = rg_graph_unary(g, RG_OP_TANH, x);
    rg_node_id u = bin(g, RG_OP_MUL, t, cst(g, 2));
    rg_node_id d = bin(g, RG_OP_SUB, u, y);

    rg_graph_set_name(g, t, "t");
    rg_graph_set_name(g, u, "u");
    rg_graph_add_output(g, "e", rg_graph_unary(g, RG_OP_EXP, d), false);
    rg_graph *f = fused(g, true);

    int gid = node(f, named(f, "t"))->group;
    ck_assert_int_ge(gid, 0);
    ck_assert_int_eq(node(f, named(f, "u"))->group, gid);
    ck_assert_int_eq(node(f, output_node(f, "e"))->group, gid);
    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_kernels(plan), 1);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

/* A tree whose branches grow from one product is one kernel. */
START_TEST(fuse_tree_from_one_root)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_input(g, "a", s2(3, 4));
    rg_node_id b = rg_graph_input(g, "b", s2(4, 2));
    rg_node_id m = rg_graph_matmul(g, a, b);
    rg_node_id l = rg_graph_unary(g, RG_OP_SIGMOID, m);
    rg_node_id r = rg_graph_unary(g, RG_OP_TANH, m);

    rg_graph_set_name(g, l, "l");
    rg_graph_set_name(g, r, "r");
    rg_graph_add_output(g, "y", bin(g, RG_OP_MUL, l, r), false);
    rg_graph *f = fused(g, true);

    int gid = node(f, named(f, "l"))->group;
    ck_assert_int_eq(node(f, named(f, "r"))->group, gid);
    ck_assert_int_eq(node(f, output_node(f, "y"))->group, gid);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

/*
 * A tree whose branches start at two inputs: sigmoid(x) + tanh(y) over
 * the same shape is one elementwise kernel.
 */
START_TEST(fuse_tree_from_two_leaves)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(3, 4));
    rg_node_id y = rg_graph_input(g, "y", s2(3, 4));
    rg_node_id l = rg_graph_unary(g, RG_OP_SIGMOID, x);
    rg_node_id r = rg_graph_unary(g, RG_OP_TANH, y);

    rg_graph_set_name(g, l, "l");
    rg_graph_set_name(g, r, "r");
    rg_graph_add_output(g, "y", bin(g, RG_OP_ADD, l, r), false);
    rg_graph *f = fused(g, true);

    int gid = node(f, output_node(f, "y"))->group;
    ck_assert_msg(node(f, named(f, "l"))->group == gid &&
                  node(f, named(f, "r"))->group == gid,
                  "sigmoid(x) is in group %d, tanh(y) in %d and their sum "
                  "in %d; expected one group", node(f, named(f, "l"))->group,
                  node(f, named(f, "r"))->group, gid);
    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_kernels(plan), 1);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

START_TEST(fuse_reduction_joins_producer)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(5, 4));
    rg_node_id w = rg_graph_input(g, "w", s2(4, 3));
    rg_node_id t = rg_graph_unary(g, RG_OP_EXP, x);
    rg_node_id d = bin(g, RG_OP_SUB, bin(g, RG_OP_MUL, t, t), x);
    rg_node_id m = rg_graph_matmul(g, x, w);

    rg_graph_set_name(g, d, "d");
    rg_graph_set_name(g, m, "m");
    rg_graph_add_output(g, "s0", rg_graph_reduce(g, RG_OP_SUM, d, 0), false);
    rg_graph_add_output(g, "m1", rg_graph_reduce(g, RG_OP_MEAN, d, 1), false);
    rg_graph_add_output(g, "all", rg_graph_reduce(g, RG_OP_SUM, d,
                                                  RG_AXIS_ALL), true);
    rg_graph_add_output(g, "ms", rg_graph_reduce(g, RG_OP_SUM, m, 0), false);
    rg_graph *f = fused(g, true);

    int gd = node(f, named(f, "d"))->group;
    ck_assert_int_ge(gd, 0);
    ck_assert_int_eq(node(f, output_node(f, "s0"))->group, gd);
    ck_assert_int_eq(node(f, output_node(f, "m1"))->group, gd);
    ck_assert_int_eq(node(f, output_node(f, "all"))->group, gd);
    /* The column sums of a product run in its epilogue. */
    ck_assert_int_eq(node(f, output_node(f, "ms"))->group,
                     node(f, named(f, "m"))->group);

    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_gemms(plan), 1);
    ck_assert_int_eq(rg_plan_n_kernels(plan), 2);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

START_TEST(fuse_reduction_consumer_separate)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(5, 4));
    rg_node_id y = rg_graph_input(g, "y", s2(5, 4));
    rg_node_id xy = bin(g, RG_OP_MUL, x, y);
    rg_node_id col = rg_graph_reduce(g, RG_OP_SUM, xy, 0);
    rg_node_id all = rg_graph_reduce(g, RG_OP_SUM, xy, RG_AXIS_ALL);

    rg_graph_set_name(g, col, "col");
    rg_graph_set_name(g, all, "all");
    /* [4] scaled, and [5, 4] minus the total: both read finished sums. */
    rg_graph_add_output(g, "scaled", bin(g, RG_OP_MUL, col, cst(g, 2)),
                        false);
    rg_graph_add_output(g, "centred", bin(g, RG_OP_SUB, xy, all), false);
    rg_graph *f = fused(g, true);

    int gr = node(f, named(f, "col"))->group;
    ck_assert_int_eq(node(f, named(f, "all"))->group, gr);
    ck_assert_int_ne(node(f, output_node(f, "scaled"))->group, gr);
    ck_assert_int_ne(node(f, output_node(f, "centred"))->group, gr);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

START_TEST(fuse_off_one_node_per_group)
{
    rg_graph *g = small_cd1();
    rg_graph *f = fused(g, false);
    bool *host = calloc((size_t)f->n_nodes, sizeof(bool));
    int *owner = malloc((size_t)f->n_nodes * sizeof(int));

    for (int i = 0; i < f->n_nodes; i++) {
        owner[i] = -1;
    }
    ck_assert_int_eq(count_op(f, RG_OP_GEMM_ACC), 0);
    for (int id = 0; id < f->n_nodes; id++) {
        const rg_node *n = &f->nodes[id];

        host[id] = pass_is_host_scalar(f, id, host);
        if (graph_op_is_leaf(n->op) || host[id] ||
            n->op == RG_OP_TRANSPOSE) {
            ck_assert_int_eq(n->group, -1);
            continue;
        }
        ck_assert_int_ge(n->group, 0);
        ck_assert_int_lt(n->group, f->n_nodes);
        ck_assert_msg(owner[n->group] < 0, "nodes %d and %d share group %d",
                      owner[n->group], id, n->group);
        owner[n->group] = id;
    }
    free(host);
    free(owner);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

/*
 * Grouping invariants over random graphs. A node reads only groups up to
 * its own, and reads its own group only from registers: never through a
 * view and never a finished reduction. Every node of a group iterates over
 * the group's space, and a product is the first node of its group.
 */
START_TEST(fuse_invariants_on_random_graphs)
{
    for (int i = 0; i < N_RANDOM_GRAPHS; i++) {
        rg_graph *g = randgraph_build((uint64_t)(FIRST_SEED + i));
        rg_graph *f = fused(g, true);
        rg_shape *space = calloc((size_t)f->n_nodes + 1, sizeof(rg_shape));
        bool *has_space = calloc((size_t)f->n_nodes + 1, sizeof(bool));
        int seed = FIRST_SEED + i;

        for (int id = 0; id < f->n_nodes; id++) {
            const rg_node *n = &f->nodes[id];
            int gid = n->group;
            bool reduce = n->op == RG_OP_SUM || n->op == RG_OP_MEAN;
            rg_shape iter = reduce ? f->nodes[n->operands[0]].shape
                                   : n->shape;

            if (gid < 0) {
                continue;
            }
            if (n->op == RG_OP_MATMUL || n->op == RG_OP_GEMM_ACC) {
                ck_assert_msg(!has_space[gid], "seed %d: product n%d is not "
                              "the first node of group %d", seed, id, gid);
            }
            if (!has_space[gid]) {
                space[gid] = iter;
                has_space[gid] = true;
            }
            ck_assert_msg(rg_shape_equal(space[gid], iter), "seed %d: n%d "
                          "iterates over another shape than group %d", seed,
                          id, gid);
            for (int k = 0; k < n->n_operands; k++) {
                rg_node_id o = n->operands[k];
                rg_node_id base = view_base(f, o);
                int og = f->nodes[base].group;
                bool finished = f->nodes[base].op == RG_OP_SUM ||
                                f->nodes[base].op == RG_OP_MEAN;

                ck_assert_msg(og <= gid, "seed %d: n%d in group %d reads "
                              "n%d of later group %d", seed, id, gid, base,
                              og);
                if (og == gid && n->op != RG_OP_GEMM_ACC) {
                    ck_assert_msg(base == o && !finished, "seed %d: n%d "
                                  "reads n%d of its own group through a view "
                                  "or before the reduction ends", seed, id,
                                  base);
                }
            }
        }
        free(space);
        free(has_space);
        rg_graph_free(f);
        rg_graph_free(g);
    }
}
END_TEST

/* Fusion: accumulating updates. */

enum { NV = 4, NH = 3, NB = 2 };

/* W <- W + lr / batch * (v0.T @ h0 - v1.T @ h1), the CD weight update. */
static rg_graph *build_weight_update(bool share_product)
{
    rg_graph *g = rg_graph_new();
    rg_node_id w = rg_graph_param(g, "W", s2(NV, NH), zeros);
    rg_node_id v0 = rg_graph_input(g, "v0", s2(NB, NV));
    rg_node_id h0 = rg_graph_input(g, "h0", s2(NB, NH));
    rg_node_id v1 = rg_graph_input(g, "v1", s2(NB, NV));
    rg_node_id h1 = rg_graph_input(g, "h1", s2(NB, NH));
    rg_node_id a = bin(g, RG_OP_DIV, rg_graph_hyper(g, "lr"), cst(g, NB));
    rg_node_id pos = rg_graph_matmul(g, rg_graph_transpose(g, v0), h0);
    rg_node_id neg = rg_graph_matmul(g, rg_graph_transpose(g, v1), h1);

    rg_graph_add_update(g, w, bin(g, RG_OP_ADD, w, bin(
        g, RG_OP_MUL, a, bin(g, RG_OP_SUB, pos, neg))));
    if (share_product) {
        rg_graph_add_output(g, "pos", pos, false);
    }
    return g;
}

/* Fills `x` with n values of a fixed pattern in about [-1, 1]. */
static void pattern(double *x, int n, double phase)
{
    for (int i = 0; i < n; i++) {
        x[i] = sin(phase + 0.7 * i);
    }
}

static void to_float(const double *x, float *f, int n)
{
    for (int i = 0; i < n; i++) {
        f[i] = (float)x[i];
    }
}

/* Fails with the index, both values and the worst error when they differ. */
static void assert_close(const char *what, const float *got,
                         const double *want, int64_t n)
{
    double worst = 0.0;
    int64_t worst_i = 0;

    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / fmax(fabs(want[i]), 1e-3);
        if (e > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : e;
            worst_i = i;
        }
    }
    ck_assert_msg(worst <= REL_TOL, "%s: element %lld is %.9g, expected "
                  "%.9g (relative error %.3g > %.0e)", what,
                  (long long)worst_i, (double)got[worst_i], want[worst_i],
                  worst, REL_TOL);
}

START_TEST(fuse_rewrites_weight_update)
{
    rg_graph *g = build_weight_update(false);
    rg_graph *f = fused(g, true);
    rg_node_id w = rg_graph_find_leaf(f, "W");

    /* W += a * v1.T @ h1 (sign -1) after W += a * v0.T @ h0 (sign +1). */
    const rg_node *second = node(f, update_value_of(f, "W"));
    ck_assert_int_eq(second->op, RG_OP_GEMM_ACC);
    const rg_node *first = node(f, second->operands[0]);
    ck_assert_int_eq(first->op, RG_OP_GEMM_ACC);
    ck_assert_int_eq(first->operands[0], w);
    ck_assert_str_eq(node(f, first->operands[1])->name, "v0");
    ck_assert_str_eq(node(f, first->operands[2])->name, "h0");
    ck_assert_str_eq(node(f, second->operands[1])->name, "v1");
    ck_assert_str_eq(node(f, second->operands[2])->name, "h1");
    ck_assert(first->trans_a && !first->trans_b);
    ck_assert(second->trans_a && !second->trans_b);
    ck_assert_double_eq(first->value, 1.0);
    ck_assert_double_eq(second->value, -1.0);
    ck_assert_double_eq(first->beta, 1.0);
    ck_assert_double_eq(second->beta, 1.0);
    /* alpha is lr / batch, beta a constant 1. */
    ck_assert_int_eq(node(f, first->operands[3])->op, RG_OP_DIV);
    ck_assert_int_eq(second->operands[3], first->operands[3]);
    ck_assert_int_eq(node(f, first->operands[4])->op, RG_OP_CONST);
    ck_assert_double_eq(node(f, first->operands[4])->value, 1.0);
    /* No gradient temporaries: no product or difference of [NV, NH]. */
    ck_assert_int_eq(count_op(f, RG_OP_MATMUL), 0);
    ck_assert_int_eq(count_op(f, RG_OP_SUB), 0);

    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_gemms(plan), 2);
    ck_assert_int_eq(rg_plan_n_kernels(plan), 0);
    ck_assert_int_eq(rg_plan_arena_bytes(plan), 0);

    /* Run it: W + lr / NB * (v0.T h0 - v1.T h1). */
    double wv[NV * NH], v0[NB * NV], h0[NB * NH], v1[NB * NV], h1[NB * NH];
    float wf[NV * NH], v0f[NB * NV], h0f[NB * NH], v1f[NB * NV],
        h1f[NB * NH];
    double lr = 0.3;
    rg_runtime *rt;
    rg_exec *ex;
    rg_error err;

    pattern(wv, NV * NH, 0.1);
    pattern(v0, NB * NV, 1.0);
    pattern(h0, NB * NH, 2.0);
    pattern(v1, NB * NV, 3.0);
    pattern(h1, NB * NH, 4.0);
    to_float(wv, wf, NV * NH);
    to_float(v0, v0f, NB * NV);
    to_float(h0, h0f, NB * NH);
    to_float(v1, v1f, NB * NV);
    to_float(h1, h1f, NB * NH);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_exec_new(rt, plan, &ex, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_write(rt, "W", wf, NV * NH, &err), 0);
    ck_assert_int_eq(rg_exec_set_input(ex, "v0", v0f, NB * NV, &err), 0);
    ck_assert_int_eq(rg_exec_set_input(ex, "h0", h0f, NB * NH, &err), 0);
    ck_assert_int_eq(rg_exec_set_input(ex, "v1", v1f, NB * NV, &err), 0);
    ck_assert_int_eq(rg_exec_set_input(ex, "h1", h1f, NB * NH, &err), 0);
    ck_assert_int_eq(rg_exec_set_hyper(ex, "lr", lr, &err), 0);
    ck_assert_msg(rg_exec_run(ex, 0, &err) == RG_STATUS_OK, "%s",
                  err.message);
    for (int i = 0; i < NV; i++) {
        for (int j = 0; j < NH; j++) {
            double grad = 0.0;
            for (int b = 0; b < NB; b++) {
                grad += (double)v0f[b * NV + i] * h0f[b * NH + j] -
                        (double)v1f[b * NV + i] * h1f[b * NH + j];
            }
            wv[i * NH + j] = wf[i * NH + j] + (double)(float)lr / NB * grad;
        }
    }
    ck_assert_int_eq(rg_runtime_read(rt, "W", wf, NV * NH, &err), 0);
    assert_close("W", wf, wv, NV * NH);
    rg_exec_free(ex);
    rg_runtime_free(rt);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

START_TEST(fuse_rewrites_momentum_update)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v = rg_graph_state(g, "V", s2(2, 3), zeros);
    rg_node_id a = rg_graph_input(g, "A", s2(2, 4));
    rg_node_id b = rg_graph_input(g, "B", s2(4, 3));
    rg_node_id c = rg_graph_input(g, "C", s2(2, 4));
    rg_node_id d = rg_graph_input(g, "D", s2(4, 3));
    rg_node_id m = rg_graph_hyper(g, "m");
    rg_node_id lr = rg_graph_hyper(g, "lr");

    rg_graph_add_update(g, v, bin(g, RG_OP_ADD, bin(g, RG_OP_MUL, m, v), bin(
        g, RG_OP_MUL, lr, bin(g, RG_OP_SUB, rg_graph_matmul(g, a, b),
                              rg_graph_matmul(g, c, d)))));
    rg_graph *f = fused(g, true);

    const rg_node *second = node(f, update_value_of(f, "V"));
    ck_assert_int_eq(second->op, RG_OP_GEMM_ACC);
    const rg_node *first = node(f, second->operands[0]);
    ck_assert_int_eq(first->op, RG_OP_GEMM_ACC);
    ck_assert_int_eq(first->operands[0], rg_graph_find_leaf(f, "V"));
    /* The first product scales V by m; the second adds onto it. */
    ck_assert_int_eq(first->operands[4], rg_graph_find_leaf(f, "m"));
    ck_assert_double_eq(first->beta, 1.0);
    ck_assert_int_eq(node(f, second->operands[4])->op, RG_OP_CONST);
    ck_assert_double_eq(node(f, second->operands[4])->value, 1.0);
    ck_assert_int_eq(first->operands[3], rg_graph_find_leaf(f, "lr"));
    ck_assert_double_eq(first->value, 1.0);
    ck_assert_double_eq(second->value, -1.0);
    ck_assert_int_eq(count_op(f, RG_OP_MATMUL), 0);

    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_gemms(plan), 2);
    ck_assert_int_eq(rg_plan_n_kernels(plan), 0);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

/*
 * The usual momentum step: V <- m*V + lr*(A@B - C@D), W <- W + V_new. V's
 * products accumulate into V and W adds V's new value, so the plan needs
 * two GEMMs and no product as a temporary.
 */
START_TEST(fuse_momentum_read_by_param_update)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v = rg_graph_state(g, "V", s2(2, 3), zeros);
    rg_node_id w = rg_graph_param(g, "W", s2(2, 3), zeros);
    rg_node_id a = rg_graph_input(g, "A", s2(2, 4));
    rg_node_id b = rg_graph_input(g, "B", s2(4, 3));
    rg_node_id c = rg_graph_input(g, "C", s2(2, 4));
    rg_node_id d = rg_graph_input(g, "D", s2(4, 3));
    rg_node_id m = rg_graph_hyper(g, "m");
    rg_node_id lr = rg_graph_hyper(g, "lr");
    rg_node_id v_new = bin(g, RG_OP_ADD, bin(g, RG_OP_MUL, m, v), bin(
        g, RG_OP_MUL, lr, bin(g, RG_OP_SUB, rg_graph_matmul(g, a, b),
                              rg_graph_matmul(g, c, d))));

    rg_graph_add_update(g, v, v_new);
    rg_graph_add_update(g, w, bin(g, RG_OP_ADD, w, v_new));
    rg_graph *f = fused(g, true);

    ck_assert_int_eq(node(f, update_value_of(f, "V"))->op, RG_OP_GEMM_ACC);
    ck_assert_msg(count_op(f, RG_OP_MATMUL) == 0, "%d products are still "
                  "computed as temporaries for W's update",
                  count_op(f, RG_OP_MATMUL));
    rg_plan *plan = planned(g, NULL);
    ck_assert_int_eq(rg_plan_n_gemms(plan), 2);
    rg_plan_free(plan);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

START_TEST(fuse_keeps_shared_product)
{
    rg_graph *g = build_weight_update(true);
    rg_graph *f = fused(g, true);

    ck_assert_int_eq(count_op(f, RG_OP_GEMM_ACC), 0);
    ck_assert_int_eq(node(f, update_value_of(f, "W"))->op, RG_OP_ADD);
    ck_assert_int_eq(count_op(f, RG_OP_MATMUL), 2);
    rg_graph_free(f);
    rg_graph_free(g);
}
END_TEST

/* A product that reads P (directly or transposed) is never accumulated
 * into P, since the GEMM would overwrite its own operand. */
START_TEST(fuse_keeps_product_reading_target)
{
    for (int transposed = 0; transposed < 2; transposed++) {
        for (int simplify = 0; simplify < 2; simplify++) {
            rg_graph *g = rg_graph_new();
            rg_node_id w = rg_graph_param(g, "W", s2(3, 3), zeros);
            rg_node_id x = rg_graph_input(g, "X", s2(3, 3));
            rg_node_id lhs = transposed ? rg_graph_transpose(g, w) : w;
            rg_graph *s = NULL, *f = NULL;
            rg_error err;

            rg_graph_add_update(g, w, bin(g, RG_OP_ADD, w, bin(
                g, RG_OP_MUL, cst(g, 0.5), rg_graph_matmul(g, lhs, x))));
            /* The planner runs pass_dce in place of pass_simplify when
             * simplification is off. */
            ck_assert_int_eq(simplify ? pass_simplify(g, &s, &err)
                                      : pass_dce(g, &s, &err),
                             RG_STATUS_OK);
            ck_assert_int_eq(pass_fuse(s, true, &f, &err), RG_STATUS_OK);
            ck_assert_msg(count_op(f, RG_OP_GEMM_ACC) == 0,
                          "W + 0.5 * (%s @ X) with simplify %s was rewritten "
                          "into an accumulating GEMM that reads W",
                          transposed ? "W.T" : "W", simplify ? "on" : "off");
            rg_graph_free(f);
            rg_graph_free(s);
            rg_graph_free(g);
        }
    }
}
END_TEST

/* Scheduling and memory planning. */

START_TEST(cd1_plan_counts)
{
    rg_model *m = load_model("rbm-cd1.yaml");
    rg_graph *g = model_graph(m, "train");
    rg_plan_options all = rg_plan_options_default();
    rg_plan_options no_reuse = {true, true, false};
    rg_plan_options none = {false, false, false};
    rg_plan *plan = planned(g, &all);
    rg_plan *unshared = planned(g, &no_reuse);
    rg_plan *plain = planned(g, &none);

    ck_assert_int_le(rg_plan_n_gemms(plan), 5);
    ck_assert_int_le(rg_plan_n_kernels(plan), 6);
    ck_assert_int_gt(rg_plan_arena_bytes(plan), 0);
    ck_assert_int_le(rg_plan_arena_bytes(plan), rg_plan_unshared_bytes(plan));
    /* Sharing must save something on CD-1. */
    ck_assert_int_lt(rg_plan_arena_bytes(plan), rg_plan_unshared_bytes(plan));
    ck_assert_int_eq(rg_plan_arena_bytes(unshared),
                     rg_plan_unshared_bytes(unshared));
    ck_assert_int_eq(rg_plan_n_gemms(unshared), rg_plan_n_gemms(plan));
    ck_assert_int_eq(rg_plan_n_kernels(unshared), rg_plan_n_kernels(plan));
    /* Unoptimised: one kernel per operation. */
    ck_assert_int_eq(rg_plan_n_gemms(plain), 5);
    ck_assert_int_gt(rg_plan_n_kernels(plain), 6);
    ck_assert_int_eq(rg_plan_arena_bytes(plain),
                     rg_plan_unshared_bytes(plain));
    rg_plan_free(plan);
    rg_plan_free(unshared);
    rg_plan_free(plain);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

/* Every entry of every shipped model under every combination of options. */
START_TEST(model_plans_check)
{
    static const char *const files[] = {"rbm-cd1.yaml", "rbm-cdk.yaml",
                                        "rbm-pcd.yaml", "rbm-meanfield.yaml"};

    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        rg_model *m = load_model(files[f]);

        for (int e = 0; e < rg_model_n_entries(m); e++) {
            rg_graph *g = model_graph(m, rg_model_entry_name(m, e));

            for (int bits = 0; bits < 8; bits++) {
                rg_plan_options o = {bits & 1, (bits >> 1) & 1,
                                     (bits >> 2) & 1};
                rg_plan *plan = planned(g, &o);

                ck_assert_int_le(rg_plan_arena_bytes(plan),
                                 rg_plan_unshared_bytes(plan));
                if (!o.reuse) {
                    ck_assert_int_eq(rg_plan_arena_bytes(plan),
                                     rg_plan_unshared_bytes(plan));
                }
                rg_plan_free(plan);
            }
            rg_graph_free(g);
        }
        rg_model_free(m);
    }
}
END_TEST

/*
 * Memory properties over random graphs. Graphs that fail to plan are left
 * to the differential suite (test_diff.c), which reports each one.
 */
START_TEST(random_plans_memory)
{
    int n_planned = 0;

    for (int i = 0; i < N_RANDOM_GRAPHS; i++) {
        rg_graph *g = randgraph_build((uint64_t)(FIRST_SEED + i));

        for (int reuse = 0; reuse < 2; reuse++) {
            rg_plan_options o = {true, true, reuse};
            rg_plan *plan = NULL;
            rg_error err;

            if (rg_plan_build(g, &o, &plan, &err) != RG_STATUS_OK) {
                continue;
            }
            n_planned++;
            ck_assert_msg(rg_plan_check(plan, &err) == RG_STATUS_OK,
                          "seed %d: %s", FIRST_SEED + i, err.message);
            ck_assert_int_le(rg_plan_arena_bytes(plan),
                             rg_plan_unshared_bytes(plan));
            if (!reuse) {
                ck_assert_int_eq(rg_plan_arena_bytes(plan),
                                 rg_plan_unshared_bytes(plan));
            }
            rg_plan_free(plan);
        }
        rg_graph_free(g);
    }
    ck_assert_int_ge(n_planned, 2 * N_RANDOM_GRAPHS * 9 / 10);
}
END_TEST

/* Updates applied together. */

enum { MAX_VALUES = 32 };

/* A named tensor and its values: an initial value or an expected one. */
typedef struct named_values {
    const char *name;
    int n;
    double values[MAX_VALUES];
} named_values;

/* Everything an update case sets and expects after one step. */
typedef struct update_case {
    named_values persistent[6]; /* initial values of params and state */
    named_values inputs[6];
    const char *hyper_names[3];
    double hyper_values[3];
    named_values want_tensors[6];
    named_values want_outputs[6];
} update_case;

static void appendf(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list args;

    if (used + 1 >= size) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(buf + used, size - used, fmt, args);
    va_end(args);
}

/* Compares `got` with `want`; appends a line to `report` on a mismatch. */
static void compare_named(const char *what, const float *got,
                          const named_values *want, const char *options,
                          char *report, size_t size)
{
    double worst = 0.0;
    int worst_i = 0;

    for (int i = 0; i < want->n; i++) {
        double e = fabs((double)got[i] - want->values[i]) /
                   fmax(fabs(want->values[i]), 1e-3);
        if (e > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : e;
            worst_i = i;
        }
    }
    if (worst > REL_TOL) {
        appendf(report, size, "%s: %s %s: element %d is %.9g, expected %.9g "
                "(relative error %.3g > %.0e)\n", options, what, want->name,
                worst_i, (double)got[worst_i], want->values[worst_i], worst,
                REL_TOL);
    }
}

/* Runs one step of `g` under options `bits` and compares. */
static void run_case_once(const rg_graph *g, const update_case *c, int bits,
                          char *report, size_t size)
{
    rg_plan_options o = {bits & 1, (bits >> 1) & 1, (bits >> 2) & 1};
    char options[64];
    rg_runtime *rt = NULL;
    rg_plan *plan = NULL;
    rg_exec *ex = NULL;
    rg_error err;
    float buf[MAX_VALUES];

    snprintf(options, sizeof(options), "simplify %s, fuse %s, reuse %s",
             o.simplify ? "on" : "off", o.fuse ? "on" : "off",
             o.reuse ? "on" : "off");
    if (rg_plan_build(g, &o, &plan, &err) != RG_STATUS_OK) {
        appendf(report, size, "%s: planning failed: %s\n", options,
                err.message);
        return;
    }
    ck_assert_msg(rg_plan_check(plan, &err) == RG_STATUS_OK, "%s: %s",
                  options, err.message);
    ck_assert_int_eq(rg_runtime_new("cpu", 3, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_exec_new(rt, plan, &ex, &err) == RG_STATUS_OK, "%s",
                  err.message);
    for (int i = 0; i < 6 && c->persistent[i].name != NULL; i++) {
        const named_values *p = &c->persistent[i];
        to_float(p->values, buf, p->n);
        ck_assert_int_eq(rg_runtime_write(rt, p->name, buf, p->n, &err), 0);
    }
    for (int i = 0; i < 6 && c->inputs[i].name != NULL; i++) {
        const named_values *p = &c->inputs[i];
        to_float(p->values, buf, p->n);
        ck_assert_msg(rg_exec_set_input(ex, p->name, buf, p->n, &err) == 0,
                      "%s", err.message);
    }
    for (int i = 0; i < 3 && c->hyper_names[i] != NULL; i++) {
        rg_exec_set_hyper(ex, c->hyper_names[i], c->hyper_values[i], &err);
    }
    ck_assert_msg(rg_exec_run(ex, 0, &err) == RG_STATUS_OK, "%s: %s", options,
                  err.message);
    for (int i = 0; i < 6 && c->want_outputs[i].name != NULL; i++) {
        const named_values *w = &c->want_outputs[i];
        ck_assert_int_eq(rg_exec_get_output(ex, w->name, buf, w->n, &err), 0);
        compare_named("output", buf, w, options, report, size);
    }
    for (int i = 0; i < 6 && c->want_tensors[i].name != NULL; i++) {
        const named_values *w = &c->want_tensors[i];
        ck_assert_int_eq(rg_runtime_read(rt, w->name, buf, w->n, &err), 0);
        compare_named("tensor", buf, w, options, report, size);
    }
    rg_exec_free(ex);
    rg_runtime_free(rt);
    rg_plan_free(plan);
}

/*
 * Runs one step of `g` under all eight combinations of options and checks
 * every expected tensor and output; reports every combination that fails.
 */
static void check_case(const rg_graph *g, const update_case *c)
{
    char report[8192] = "";

    ck_assert_msg(rg_graph_error(g) == NULL, "builder: %s",
                  rg_graph_error(g)->message);
    for (int bits = 0; bits < 8; bits++) {
        run_case_once(g, c, bits, report, sizeof(report));
    }
    ck_assert_msg(report[0] == '\0', "\n%s", report);
}

static named_values values_of(const char *name, int n, double phase)
{
    named_values v;

    memset(&v, 0, sizeof(v));
    v.name = name;
    v.n = n;
    pattern(v.values, n, phase);
    for (int i = 0; i < n; i++) {
        v.values[i] = (double)(float)v.values[i];
    }
    return v;
}

/* a <- b, b <- a: each reads the other's old value. */
START_TEST(updates_swap_params)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_param(g, "a", s1(3), zeros);
    rg_node_id b = rg_graph_param(g, "b", s1(3), zeros);
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_update(g, a, b);
    rg_graph_add_update(g, b, a);
    c.persistent[0] = values_of("a", 3, 0.0);
    c.persistent[1] = values_of("b", 3, 1.0);
    c.want_tensors[0] = c.persistent[1];
    c.want_tensors[0].name = "a";
    c.want_tensors[1] = c.persistent[0];
    c.want_tensors[1].name = "b";
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/* a <- b + 1, b <- 2 a: both computed in place would need each other. */
START_TEST(updates_swap_expressions)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_param(g, "a", s2(2, 3), zeros);
    rg_node_id b = rg_graph_param(g, "b", s2(2, 3), zeros);
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_update(g, a, bin(g, RG_OP_ADD, b, cst(g, 1)));
    rg_graph_add_update(g, b, bin(g, RG_OP_MUL, a, cst(g, 2)));
    c.persistent[0] = values_of("a", 6, 0.0);
    c.persistent[1] = values_of("b", 6, 1.0);
    c.want_tensors[0] = values_of("a", 6, 0.0);
    c.want_tensors[1] = values_of("b", 6, 0.0);
    for (int i = 0; i < 6; i++) {
        c.want_tensors[0].values[i] = c.persistent[1].values[i] + 1.0;
        c.want_tensors[1].values[i] = 2.0 * c.persistent[0].values[i];
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/* a <- 2 b reads b's old value while b <- b + 1 is written in place. */
START_TEST(updates_read_old_while_in_place)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_param(g, "a", s1(4), zeros);
    rg_node_id b = rg_graph_param(g, "b", s1(4), zeros);
    rg_node_id b_new = bin(g, RG_OP_ADD, b, cst(g, 1));
    rg_node_id a_new = bin(g, RG_OP_MUL, b, cst(g, 2));
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_update(g, b, b_new);
    rg_graph_add_update(g, a, a_new);
    rg_graph_add_output(g, "b_new", b_new, false);
    rg_graph_add_output(g, "b_old", b, false);
    rg_graph_add_output(g, "a_new", a_new, false);
    c.persistent[0] = values_of("a", 4, 0.0);
    c.persistent[1] = values_of("b", 4, 2.0);
    for (int k = 0; k < 2; k++) {
        c.want_tensors[k] = values_of(k ? "b" : "a", 4, 0.0);
    }
    c.want_outputs[0] = values_of("b_new", 4, 0.0);
    c.want_outputs[1] = c.persistent[1];
    c.want_outputs[1].name = "b_old";
    c.want_outputs[2] = values_of("a_new", 4, 0.0);
    for (int i = 0; i < 4; i++) {
        double old_b = c.persistent[1].values[i];
        c.want_tensors[0].values[i] = 2.0 * old_b;
        c.want_tensors[1].values[i] = old_b + 1.0;
        c.want_outputs[0].values[i] = old_b + 1.0;
        c.want_outputs[2].values[i] = 2.0 * old_b;
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/*
 * Updates that read their own target transposed or through a product:
 * W1 <- W1 + 0.5 W1.T, W2 <- W2.T, W3 <- W3 + 0.25 W3.T @ X,
 * W4 <- W4 + 0.25 W4 @ X.
 */
START_TEST(updates_read_own_transpose)
{
    enum { N = 3 };
    rg_graph *g = rg_graph_new();
    rg_node_id w[4];
    rg_node_id x = rg_graph_input(g, "X", s2(N, N));
    const char *names[4] = {"W1", "W2", "W3", "W4"};
    update_case c;

    memset(&c, 0, sizeof(c));
    for (int k = 0; k < 4; k++) {
        w[k] = rg_graph_param(g, names[k], s2(N, N), zeros);
        c.persistent[k] = values_of(names[k], N * N, 0.5 + k);
        c.want_tensors[k] = values_of(names[k], N * N, 0.0);
    }
    rg_graph_add_update(g, w[0], bin(g, RG_OP_ADD, w[0], bin(
        g, RG_OP_MUL, cst(g, 0.5), rg_graph_transpose(g, w[0]))));
    rg_graph_add_update(g, w[1], rg_graph_transpose(g, w[1]));
    rg_graph_add_update(g, w[2], bin(g, RG_OP_ADD, w[2], bin(
        g, RG_OP_MUL, cst(g, 0.25), rg_graph_matmul(
            g, rg_graph_transpose(g, w[2]), x))));
    rg_graph_add_update(g, w[3], bin(g, RG_OP_ADD, w[3], bin(
        g, RG_OP_MUL, cst(g, 0.25), rg_graph_matmul(g, w[3], x))));
    c.inputs[0] = values_of("X", N * N, 7.0);

    const double *xv = c.inputs[0].values;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            const double *w1 = c.persistent[0].values;
            const double *w2 = c.persistent[1].values;
            const double *w3 = c.persistent[2].values;
            const double *w4 = c.persistent[3].values;
            double p3 = 0.0, p4 = 0.0;

            for (int k = 0; k < N; k++) {
                p3 += w3[k * N + i] * xv[k * N + j];
                p4 += w4[i * N + k] * xv[k * N + j];
            }
            c.want_tensors[0].values[i * N + j] = w1[i * N + j] +
                                                  0.5 * w1[j * N + i];
            c.want_tensors[1].values[i * N + j] = w2[j * N + i];
            c.want_tensors[2].values[i * N + j] = w3[i * N + j] + 0.25 * p3;
            c.want_tensors[3].values[i * N + j] = w4[i * N + j] + 0.25 * p4;
        }
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/*
 * Momentum: V <- m V + lr (A@B - C@D) accumulates into V, W <- W + V_new
 * reads V's new value, and the output v_old = 2 V reads the old one.
 */
START_TEST(updates_momentum)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v = rg_graph_state(g, "V", s2(2, 3), zeros);
    rg_node_id w = rg_graph_param(g, "W", s2(2, 3), zeros);
    rg_node_id a = rg_graph_input(g, "A", s2(2, 4));
    rg_node_id b = rg_graph_input(g, "B", s2(4, 3));
    rg_node_id cc = rg_graph_input(g, "C", s2(2, 4));
    rg_node_id d = rg_graph_input(g, "D", s2(4, 3));
    rg_node_id m = rg_graph_hyper(g, "m");
    rg_node_id lr = rg_graph_hyper(g, "lr");
    rg_node_id v_new = bin(g, RG_OP_ADD, bin(g, RG_OP_MUL, m, v), bin(
        g, RG_OP_MUL, lr, bin(g, RG_OP_SUB, rg_graph_matmul(g, a, b),
                              rg_graph_matmul(g, cc, d))));
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_update(g, v, v_new);
    rg_graph_add_update(g, w, bin(g, RG_OP_ADD, w, v_new));
    rg_graph_add_output(g, "v_old", bin(g, RG_OP_MUL, v, cst(g, 2)), false);
    c.persistent[0] = values_of("V", 6, 0.0);
    c.persistent[1] = values_of("W", 6, 1.0);
    c.inputs[0] = values_of("A", 8, 2.0);
    c.inputs[1] = values_of("B", 12, 3.0);
    c.inputs[2] = values_of("C", 8, 4.0);
    c.inputs[3] = values_of("D", 12, 5.0);
    c.hyper_names[0] = "m";
    c.hyper_values[0] = 0.875;
    c.hyper_names[1] = "lr";
    c.hyper_values[1] = 0.25;
    c.want_tensors[0] = values_of("V", 6, 0.0);
    c.want_tensors[1] = values_of("W", 6, 0.0);
    c.want_outputs[0] = values_of("v_old", 6, 0.0);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
            double ab = 0.0, cd = 0.0;
            for (int k = 0; k < 4; k++) {
                ab += c.inputs[0].values[i * 4 + k] *
                      c.inputs[1].values[k * 3 + j];
                cd += c.inputs[2].values[i * 4 + k] *
                      c.inputs[3].values[k * 3 + j];
            }
            double old_v = c.persistent[0].values[i * 3 + j];
            double new_v = 0.875 * old_v + 0.25 * (ab - cd);
            c.want_tensors[0].values[i * 3 + j] = new_v;
            c.want_tensors[1].values[i * 3 + j] =
                c.persistent[1].values[i * 3 + j] + new_v;
            c.want_outputs[0].values[i * 3 + j] = 2.0 * old_v;
        }
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/* a <- b + 1, b <- c + 1, c <- a + 1 and d <- d + e, e <- e + f,
 * f <- f + d: rings of updates that each read the next one's old value. */
START_TEST(updates_chains)
{
    rg_graph *g = rg_graph_new();
    const char *names[6] = {"a", "b", "c", "d", "e", "f"};
    rg_node_id p[6];
    update_case c;

    memset(&c, 0, sizeof(c));
    for (int k = 0; k < 6; k++) {
        p[k] = rg_graph_param(g, names[k], s1(2), zeros);
        c.persistent[k] = values_of(names[k], 2, 1.5 * k);
        c.want_tensors[k] = values_of(names[k], 2, 0.0);
    }
    for (int k = 0; k < 3; k++) {
        rg_graph_add_update(g, p[k], bin(g, RG_OP_ADD, p[(k + 1) % 3],
                                         cst(g, 1)));
        rg_graph_add_update(g, p[3 + k], bin(g, RG_OP_ADD, p[3 + k],
                                             p[3 + (k + 1) % 3]));
    }
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 2; i++) {
            c.want_tensors[k].values[i] =
                c.persistent[(k + 1) % 3].values[i] + 1.0;
            c.want_tensors[3 + k].values[i] =
                c.persistent[3 + k].values[i] +
                c.persistent[3 + (k + 1) % 3].values[i];
        }
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/* W <- W + 0.5 V @ X and V <- V + 0.5 W @ X: two accumulating updates
 * that each read the other's old value. */
START_TEST(updates_crossed_accumulations)
{
    enum { N = 3 };
    rg_graph *g = rg_graph_new();
    rg_node_id w = rg_graph_param(g, "W", s2(N, N), zeros);
    rg_node_id v = rg_graph_param(g, "V", s2(N, N), zeros);
    rg_node_id x = rg_graph_input(g, "X", s2(N, N));
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_update(g, w, bin(g, RG_OP_ADD, w, bin(
        g, RG_OP_MUL, cst(g, 0.5), rg_graph_matmul(g, v, x))));
    rg_graph_add_update(g, v, bin(g, RG_OP_ADD, v, bin(
        g, RG_OP_MUL, cst(g, 0.5), rg_graph_matmul(g, w, x))));
    c.persistent[0] = values_of("W", N * N, 0.0);
    c.persistent[1] = values_of("V", N * N, 1.0);
    c.inputs[0] = values_of("X", N * N, 2.0);
    c.want_tensors[0] = values_of("W", N * N, 0.0);
    c.want_tensors[1] = values_of("V", N * N, 0.0);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double vx = 0.0, wx = 0.0;
            for (int k = 0; k < N; k++) {
                vx += c.persistent[1].values[i * N + k] *
                      c.inputs[0].values[k * N + j];
                wx += c.persistent[0].values[i * N + k] *
                      c.inputs[0].values[k * N + j];
            }
            c.want_tensors[0].values[i * N + j] =
                c.persistent[0].values[i * N + j] + 0.5 * vx;
            c.want_tensors[1].values[i * N + j] =
                c.persistent[1].values[i * N + j] + 0.5 * wx;
        }
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/*
 * P <- P + 0.5 X.T @ Y accumulates into P after the outputs that read the
 * old P: p_old = P itself and q = sigmoid(X @ P).
 */
START_TEST(updates_accumulate_after_readers)
{
    rg_graph *g = rg_graph_new();
    rg_node_id p = rg_graph_param(g, "P", s2(2, 2), zeros);
    rg_node_id x = rg_graph_input(g, "X", s2(3, 2));
    rg_node_id y = rg_graph_input(g, "Y", s2(3, 2));
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_output(g, "p_old", p, false);
    rg_graph_add_output(g, "q", rg_graph_unary(g, RG_OP_SIGMOID,
                                               rg_graph_matmul(g, x, p)),
                        false);
    rg_graph_add_update(g, p, bin(g, RG_OP_ADD, p, bin(
        g, RG_OP_MUL, cst(g, 0.5), rg_graph_matmul(
            g, rg_graph_transpose(g, x), y))));
    c.persistent[0] = values_of("P", 4, 0.0);
    c.inputs[0] = values_of("X", 6, 1.0);
    c.inputs[1] = values_of("Y", 6, 2.0);
    c.want_tensors[0] = values_of("P", 4, 0.0);
    c.want_outputs[0] = c.persistent[0];
    c.want_outputs[0].name = "p_old";
    c.want_outputs[1] = values_of("q", 6, 0.0);
    const double *pv = c.persistent[0].values;
    const double *xv = c.inputs[0].values, *yv = c.inputs[1].values;
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            double xy = 0.0;
            for (int k = 0; k < 3; k++) {
                xy += xv[k * 2 + i] * yv[k * 2 + j];
            }
            c.want_tensors[0].values[i * 2 + j] = pv[i * 2 + j] + 0.5 * xy;
        }
    }
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2; j++) {
            double s = 0.0;
            for (int k = 0; k < 2; k++) {
                s += xv[i * 2 + k] * pv[k * 2 + j];
            }
            c.want_outputs[1].values[i * 2 + j] = 1.0 / (1.0 + exp(-s));
        }
    }
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

/* Two targets take the same new value, which is also an output. */
START_TEST(updates_share_one_value)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_param(g, "a", s1(3), zeros);
    rg_node_id b = rg_graph_state(g, "b", s1(3), zeros);
    rg_node_id v = bin(g, RG_OP_ADD, a, cst(g, 1));
    update_case c;

    memset(&c, 0, sizeof(c));
    rg_graph_add_update(g, a, v);
    rg_graph_add_update(g, b, v);
    rg_graph_add_output(g, "v", v, false);
    c.persistent[0] = values_of("a", 3, 0.0);
    c.persistent[1] = values_of("b", 3, 1.0);
    c.want_tensors[0] = values_of("a", 3, 0.0);
    for (int i = 0; i < 3; i++) {
        c.want_tensors[0].values[i] = c.persistent[0].values[i] + 1.0;
    }
    c.want_tensors[1] = c.want_tensors[0];
    c.want_tensors[1].name = "b";
    c.want_outputs[0] = c.want_tensors[0];
    c.want_outputs[0].name = "v";
    check_case(g, &c);
    rg_graph_free(g);
}
END_TEST

static Suite *passes_suite(void)
{
    Suite *s = suite_create("passes");
    TCase *simplify = tcase_create("simplify");
    TCase *fuse = tcase_create("fuse");
    TCase *plan = tcase_create("plan");
    TCase *updates = tcase_create("updates");

    tcase_add_test(simplify, simplify_folds_transposes_into_flags);
    tcase_add_test(simplify, simplify_removes_double_transpose);
    tcase_add_test(simplify, simplify_folds_constants);
    tcase_add_loop_test(simplify, simplify_removes_identities, 0,
                        sizeof(identity_cases) / sizeof(identity_cases[0]));
    tcase_add_test(simplify, simplify_keeps_identity_that_broadcasts);
    tcase_add_test(simplify, simplify_identity_after_folding);
    tcase_add_test(simplify, simplify_merges_common_subexpressions);
    tcase_add_test(simplify, simplify_never_merges_random_nodes);
    tcase_add_test(simplify, simplify_drops_dead_nodes);
    tcase_add_test(simplify, passes_leave_input_unchanged);

    tcase_add_test(fuse, fuse_matmul_epilogue_joins);
    tcase_add_test(fuse, fuse_elementwise_chain_one_group);
    tcase_add_test(fuse, fuse_tree_from_one_root);
    tcase_add_test(fuse, fuse_tree_from_two_leaves);
    tcase_add_test(fuse, fuse_reduction_joins_producer);
    tcase_add_test(fuse, fuse_reduction_consumer_separate);
    tcase_add_test(fuse, fuse_off_one_node_per_group);
    tcase_add_test(fuse, fuse_invariants_on_random_graphs);
    tcase_add_test(fuse, fuse_rewrites_weight_update);
    tcase_add_test(fuse, fuse_rewrites_momentum_update);
    tcase_add_test(fuse, fuse_momentum_read_by_param_update);
    tcase_add_test(fuse, fuse_keeps_shared_product);
    tcase_add_test(fuse, fuse_keeps_product_reading_target);

    tcase_add_test(plan, cd1_plan_counts);
    tcase_add_test(plan, model_plans_check);
    tcase_add_test(plan, random_plans_memory);

    tcase_add_test(updates, updates_swap_params);
    tcase_add_test(updates, updates_swap_expressions);
    tcase_add_test(updates, updates_read_old_while_in_place);
    tcase_add_test(updates, updates_read_own_transpose);
    tcase_add_test(updates, updates_momentum);
    tcase_add_test(updates, updates_chains);
    tcase_add_test(updates, updates_crossed_accumulations);
    tcase_add_test(updates, updates_accumulate_after_readers);
    tcase_add_test(updates, updates_share_one_value);

    suite_add_tcase(s, simplify);
    suite_add_tcase(s, fuse);
    suite_add_tcase(s, plan);
    suite_add_tcase(s, updates);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(passes_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
