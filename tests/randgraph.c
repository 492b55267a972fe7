/*
 * Random expression graphs for the planner's differential tests. The
 * generator keeps a pool of the nodes made so far and an estimate of each
 * node's largest magnitude, picks operands from the pool with shapes that
 * fit, and ends with outputs and updates. It reads node internals (operand
 * lists) only to repeat a subexpression and to list a graph.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "randgraph.h"

enum { MAX_POOL = 1024, MAX_LEAVES = 16 };

/* Estimated magnitude above which a new node is squashed with tanh. */
#define BOUND_LIMIT 40.0

typedef struct gen {
    rg_graph *g;
    uint64_t rng;
    int64_t m, n, k;

    rg_node_id pool[MAX_POOL];
    int n_pool;
    double *bound; /* per node id: estimated largest magnitude */
    int cap_bound;

    rg_node_id inputs[MAX_LEAVES];
    int n_inputs;
    rg_node_id persistent[MAX_LEAVES]; /* params, then state */
    bool is_state[MAX_LEAVES];
    bool updated[MAX_LEAVES];
    rg_node_id update_values[MAX_LEAVES];
    int n_persistent;
    rg_node_id hypers[2];
    int n_hypers;
    int n_made_inputs; /* for unique names of inputs made on demand */
} gen;

/* splitmix64: small, fast and well mixed for test data. */
static uint64_t next_u64(gen *s)
{
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int pick(gen *s, int n)
{
    return (int)(next_u64(s) % (uint64_t)n);
}

static bool chance(gen *s, int percent)
{
    return pick(s, 100) < percent;
}

static rg_shape shape0(void)
{
    rg_shape sh = {0, {0, 0}};
    return sh;
}

static rg_shape shape1(int64_t a)
{
    rg_shape sh = {1, {a, 0}};
    return sh;
}

static rg_shape shape2(int64_t a, int64_t b)
{
    rg_shape sh = {2, {a, b}};
    return sh;
}

static rg_shape shape_of(const gen *s, rg_node_id id)
{
    return rg_graph_node_shape(s->g, id);
}

/* NumPy broadcasting of two shapes of rank at most 2. */
static bool broadcast_shape(rg_shape a, rg_shape b, rg_shape *out)
{
    int rank = a.rank > b.rank ? a.rank : b.rank;

    out->rank = rank;
    out->dims[0] = out->dims[1] = 0;
    for (int i = 0; i < rank; i++) {
        int64_t da = i < a.rank ? a.dims[a.rank - 1 - i] : 1;
        int64_t db = i < b.rank ? b.dims[b.rank - 1 - i] : 1;

        if (da != db && da != 1 && db != 1) {
            return false;
        }
        out->dims[rank - 1 - i] = da == 1 ? db : da;
    }
    return true;
}

/* True when `b` broadcasts into `a` without changing a's shape. */
static bool fits_into(rg_shape a, rg_shape b)
{
    rg_shape out;

    return broadcast_shape(a, b, &out) && rg_shape_equal(out, a);
}

static double bound_of(const gen *s, rg_node_id id)
{
    return id >= 0 && id < s->cap_bound ? s->bound[id] : 1.0;
}

static void set_bound(gen *s, rg_node_id id, double bound)
{
    if (id >= s->cap_bound) {
        int cap = 2 * (id + 1);
        double *grown = realloc(s->bound, (size_t)cap * sizeof(*grown));

        if (grown == NULL) {
            return;
        }
        for (int i = s->cap_bound; i < cap; i++) {
            grown[i] = 1.0;
        }
        s->bound = grown;
        s->cap_bound = cap;
    }
    s->bound[id] = bound;
}

/*
 * Records a new node with its magnitude estimate and adds it to the pool.
 * A node that may grow past BOUND_LIMIT is replaced by its tanh.
 */
static rg_node_id keep(gen *s, rg_node_id id, double bound)
{
    if (id == RG_NODE_NONE) {
        return id;
    }
    set_bound(s, id, bound);
    if (s->n_pool < MAX_POOL) {
        s->pool[s->n_pool++] = id;
    }
    if (bound > BOUND_LIMIT) {
        return keep(s, rg_graph_unary(s->g, RG_OP_TANH, id), 1.0);
    }
    return id;
}

static rg_node_id cnst(gen *s, double value)
{
    rg_node_id id = rg_graph_const(s->g, value);

    set_bound(s, id, fabs(value));
    return id;
}

static rg_node_id un(gen *s, rg_op op, rg_node_id a, double bound)
{
    return keep(s, rg_graph_unary(s->g, op, a), bound);
}

static rg_node_id bin(gen *s, rg_op op, rg_node_id a, rg_node_id b,
                      double bound)
{
    return keep(s, rg_graph_binary(s->g, op, a, b), bound);
}

/* A pool node, half the time from the most recent few. */
static rg_node_id any_node(gen *s)
{
    int window = s->n_pool < 10 ? s->n_pool : 10;

    if (chance(s, 50)) {
        return s->pool[s->n_pool - 1 - pick(s, window)];
    }
    return s->pool[pick(s, s->n_pool)];
}

/* A pool node whose shape passes `ok` against `ref`, or RG_NODE_NONE. */
static rg_node_id node_where(gen *s, rg_shape ref,
                             bool (*ok)(rg_shape ref, rg_shape candidate))
{
    rg_node_id found[MAX_POOL];
    int n_found = 0;

    for (int i = 0; i < s->n_pool; i++) {
        if (ok(ref, shape_of(s, s->pool[i]))) {
            found[n_found++] = s->pool[i];
        }
    }
    return n_found > 0 ? found[pick(s, n_found)] : RG_NODE_NONE;
}

static bool broadcasts_with(rg_shape ref, rg_shape candidate)
{
    rg_shape out;

    return broadcast_shape(ref, candidate, &out);
}

static bool same_shape(rg_shape ref, rg_shape candidate)
{
    return rg_shape_equal(ref, candidate);
}

/* Makes a new input of `shape`, which tests fill with values in [-1, 1]. */
static rg_node_id new_input(gen *s, rg_shape shape)
{
    char name[32];
    rg_node_id id;

    snprintf(name, sizeof(name), "x%d", s->n_made_inputs++);
    id = rg_graph_input(s->g, name, shape);
    if (id != RG_NODE_NONE && s->n_inputs < MAX_LEAVES) {
        s->inputs[s->n_inputs++] = id;
    }
    return keep(s, id, 1.0);
}

static rg_shape random_shape(gen *s)
{
    switch (pick(s, 13)) {
    case 0:
    case 1:
    case 2: return shape2(s->m, s->n);
    case 3: return shape2(s->n, s->m);
    case 4: return shape2(s->m, 1);
    case 5: return shape2(1, s->n);
    case 6: return shape1(s->n);
    case 7: return shape1(s->m);
    case 8: return shape0();
    case 9: return shape2(s->m, s->k);
    case 10: return shape2(s->k, s->n);
    case 11: return shape2(s->n, s->n);
    default: return shape1(s->k);
    }
}

/* A host scalar: a hyperparameter, or an expression of one, or a constant. */
static rg_node_id host_scalar(gen *s)
{
    rg_node_id h = s->hypers[pick(s, s->n_hypers)];

    switch (pick(s, 5)) {
    case 0: return h;
    case 1: return bin(s, RG_OP_MUL, h, cnst(s, 0.5), 0.5);
    case 2: return bin(s, RG_OP_DIV, h, cnst(s, 4.0), 0.25);
    case 3:
        return bin(s, RG_OP_ADD, s->hypers[0], s->hypers[s->n_hypers - 1],
                   2.0);
    default: return cnst(s, 0.5 + 0.25 * pick(s, 4));
    }
}

/* A small coefficient for updates, so params move slowly. */
static rg_node_id small_coef(gen *s)
{
    switch (pick(s, 3)) {
    case 0: return bin(s, RG_OP_MUL, host_scalar(s), cnst(s, 0.1), 0.2);
    case 1: return cnst(s, 0.125);
    default:
        return bin(s, RG_OP_DIV, s->hypers[pick(s, s->n_hypers)],
                   cnst(s, 8.0), 0.125);
    }
}

/* Repeats the operation of pool node `id` on the same operands. */
static rg_node_id repeat_node(gen *s, rg_node_id id)
{
    rg_node n = s->g->nodes[id];
    rg_node_id a = n.operands[0], b = n.operands[1], c = n.operands[2];
    rg_node_id copy;

    if (graph_op_is_unary(n.op)) {
        copy = rg_graph_unary(s->g, n.op, a);
    } else if (graph_op_is_binary(n.op)) {
        copy = rg_graph_binary(s->g, n.op, a, b);
    } else {
        switch (n.op) {
        case RG_OP_WHERE: copy = rg_graph_where(s->g, a, b, c); break;
        case RG_OP_MATMUL: copy = rg_graph_matmul(s->g, a, b); break;
        case RG_OP_TRANSPOSE: copy = rg_graph_transpose(s->g, a); break;
        case RG_OP_SUM:
        case RG_OP_MEAN: copy = rg_graph_reduce(s->g, n.op, a, n.axis); break;
        case RG_OP_BERNOULLI: copy = rg_graph_bernoulli(s->g, a); break;
        case RG_OP_NORMAL: copy = rg_graph_normal(s->g, a, b); break;
        case RG_OP_UNIFORM: copy = rg_graph_uniform(s->g, a); break;
        default: return id; /* leaves are not repeated */
        }
    }
    return keep(s, copy, bound_of(s, id));
}

static rg_node_id add_unary(gen *s)
{
    rg_node_id x = any_node(s);
    double b = bound_of(s, x);

    switch (pick(s, 12)) {
    case 0: return un(s, RG_OP_NEG, x, b);
    case 1: return un(s, RG_OP_SIGMOID, x, 1.0);
    case 2: return un(s, RG_OP_TANH, x, 1.0);
    case 3: return un(s, RG_OP_RELU, x, b);
    case 4: return un(s, RG_OP_ABS, x, b);
    case 5: return un(s, RG_OP_SOFTPLUS, x, b + 1.0);
    case 6: return un(s, RG_OP_SQUARE, x, b * b);
    case 7:
        if (b > 3.0) {
            x = bin(s, RG_OP_MIN, x, cnst(s, 3.0), b);
            b = 3.0;
        }
        return un(s, RG_OP_EXP, x, exp(b));
    case 8: {
        rg_node_id pos = bin(s, RG_OP_ADD, un(s, RG_OP_ABS, x, b),
                             cnst(s, 0.5), b + 0.5);
        return un(s, RG_OP_LOG, pos, fmax(log(b + 0.5), 0.7));
    }
    case 9: return un(s, RG_OP_LOG1P, un(s, RG_OP_ABS, x, b), log1p(b));
    case 10: return un(s, RG_OP_SQRT, un(s, RG_OP_ABS, x, b), sqrt(b));
    default: {
        double c = 0.5 * (pick(s, 5) - 2);
        rg_op op = chance(s, 50) ? RG_OP_MIN : RG_OP_MAX;
        return bin(s, op, x, cnst(s, c), fmax(b, fabs(c)));
    }
    }
}

/* The second operand of a binary op on `a`: a constant, a host scalar or a
 * pool node that broadcasts with `a`. */
static rg_node_id partner(gen *s, rg_node_id a)
{
    int roll = pick(s, 10);

    if (roll < 2) {
        return cnst(s, 0.5 * (pick(s, 7) - 3) + 0.25);
    }
    if (roll < 3) {
        return host_scalar(s);
    }
    rg_node_id b = node_where(s, shape_of(s, a), broadcasts_with);
    return b != RG_NODE_NONE ? b : a;
}

static rg_node_id add_binary(gen *s)
{
    rg_node_id a = any_node(s);
    rg_node_id b = partner(s, a);
    double ba = bound_of(s, a), bb = bound_of(s, b);

    switch (pick(s, 7)) {
    case 0: return bin(s, RG_OP_ADD, a, b, ba + bb);
    case 1: return bin(s, RG_OP_SUB, a, b, ba + bb);
    case 2: return bin(s, RG_OP_MUL, a, b, ba * bb);
    case 3: {
        /* a / (|b| + 1) keeps the denominator at least 1. */
        rg_node_id d = bin(s, RG_OP_ADD, un(s, RG_OP_ABS, b, bb),
                           cnst(s, 1.0), bb + 1.0);
        return bin(s, RG_OP_DIV, a, d, ba);
    }
    case 4: {
        /* (|a| + 0.5) ^ e with e a constant or a tanh in [-1, 1]. */
        rg_node_id base = bin(s, RG_OP_ADD, un(s, RG_OP_ABS, a, ba),
                              cnst(s, 0.5), ba + 0.5);
        static const double exponents[] = {2.0, 3.0, 0.5, -1.0};
        if (chance(s, 70)) {
            double e = exponents[pick(s, 4)];
            double bound = e > 0 ? pow(ba + 0.5, e) : 2.0;
            return bin(s, RG_OP_POW, base, cnst(s, e), bound);
        }
        rg_node_id e = un(s, RG_OP_TANH, b, 1.0);
        rg_shape out;
        if (!broadcast_shape(shape_of(s, base), shape_of(s, e), &out)) {
            return base;
        }
        return bin(s, RG_OP_POW, base, e, fmax(ba + 0.5, 2.0));
    }
    case 5: return bin(s, RG_OP_MIN, a, b, fmax(ba, bb));
    default: return bin(s, RG_OP_MAX, a, b, fmax(ba, bb));
    }
}

/*
 * A comparison of inputs (and constants) only, so every plan computes the
 * same 0/1 mask: comparisons of computed values could flip when two plans
 * round differently. Returns the mask, or a where() that uses it.
 */
static rg_node_id add_comparison(gen *s)
{
    static const rg_op ops[] = {RG_OP_LT, RG_OP_LE, RG_OP_GT,
                                RG_OP_GE, RG_OP_EQ, RG_OP_NE};
    rg_node_id x = s->inputs[pick(s, s->n_inputs)];
    rg_node_id y = RG_NODE_NONE;
    rg_shape xs = shape_of(s, x), mask_shape;

    for (int i = 0; i < s->n_inputs && chance(s, 70); i++) {
        rg_node_id c = s->inputs[pick(s, s->n_inputs)];
        if (broadcasts_with(xs, shape_of(s, c))) {
            y = c;
            break;
        }
    }
    if (y == RG_NODE_NONE) {
        y = cnst(s, 0.25 * (pick(s, 5) - 2));
    }
    rg_node_id mask = bin(s, ops[pick(s, 6)], x, y, 1.0);
    if (chance(s, 30)) {
        return mask;
    }

    /* where(mask, a, b) with a and b broadcasting against the mask. */
    broadcast_shape(xs, shape_of(s, y), &mask_shape);
    rg_node_id a = node_where(s, mask_shape, broadcasts_with);
    rg_shape ma;
    if (a == RG_NODE_NONE || !broadcast_shape(mask_shape, shape_of(s, a),
                                              &ma)) {
        return mask;
    }
    rg_node_id b = chance(s, 40) ? cnst(s, -0.5) : node_where(
        s, ma, broadcasts_with);
    if (b == RG_NODE_NONE) {
        b = cnst(s, 1.5);
    }
    return keep(s, rg_graph_where(s->g, mask, a, b),
                fmax(bound_of(s, a), bound_of(s, b)));
}

/* x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1, x ^ 1, or a folded constant. */
static rg_node_id add_identity(gen *s)
{
    rg_node_id x = any_node(s);
    double b = bound_of(s, x);

    switch (pick(s, 9)) {
    case 0: return bin(s, RG_OP_MUL, x, cnst(s, 1.0), b);
    case 1: return bin(s, RG_OP_MUL, cnst(s, 1.0), x, b);
    case 2: return bin(s, RG_OP_ADD, x, cnst(s, 0.0), b);
    case 3: return bin(s, RG_OP_ADD, cnst(s, 0.0), x, b);
    case 4: return bin(s, RG_OP_SUB, x, cnst(s, 0.0), b);
    case 5: return bin(s, RG_OP_DIV, x, cnst(s, 1.0), b);
    case 6: return bin(s, RG_OP_POW, x, cnst(s, 1.0), b);
    case 7: {
        /* (2 - 1) folds to 1, and then x * 1 is x. */
        rg_node_id one = bin(s, RG_OP_SUB, cnst(s, 2.0), cnst(s, 1.0), 1.0);
        return bin(s, RG_OP_MUL, x, one, b);
    }
    default: {
        rg_node_id c = bin(s, RG_OP_MUL, cnst(s, 1.5),
                           un(s, RG_OP_SIGMOID, cnst(s, 0.0), 0.5), 0.75);
        return bin(s, RG_OP_ADD, x, c, b + 0.75);
    }
    }
}

/* A node of rank 1 or 2, made when the pool has none. */
static rg_node_id any_tensor(gen *s)
{
    for (int tries = 0; tries < 8; tries++) {
        rg_node_id x = any_node(s);
        if (shape_of(s, x).rank > 0) {
            return x;
        }
    }
    return new_input(s, shape2(s->m, s->k));
}

/* An operand of shape [rows, cols], from the pool (maybe through a
 * transpose) or a new input. */
static rg_node_id operand_shaped(gen *s, int64_t rows, int64_t cols)
{
    rg_node_id x = node_where(s, shape2(rows, cols), same_shape);

    if (rows != cols && chance(s, 40)) {
        rg_node_id t = node_where(s, shape2(cols, rows), same_shape);
        if (t != RG_NODE_NONE) {
            return keep(s, rg_graph_transpose(s->g, t), bound_of(s, t));
        }
    }
    if (x == RG_NODE_NONE || chance(s, 25)) {
        x = new_input(s, shape2(rows, cols));
    }
    return x;
}

static const int64_t *dim_choices(gen *s)
{
    static int64_t dims[3];

    dims[0] = s->m;
    dims[1] = s->n;
    dims[2] = s->k;
    return dims;
}

static rg_node_id add_matmul(gen *s)
{
    rg_node_id a = any_tensor(s);
    rg_shape as;

    if (shape_of(s, a).rank == 2 && chance(s, 30)) {
        a = keep(s, rg_graph_transpose(s->g, a), bound_of(s, a));
        if (chance(s, 20)) {
            /* A transpose of a transpose, which simplification removes. */
            a = keep(s, rg_graph_transpose(s->g, a), bound_of(s, a));
        }
    }
    as = shape_of(s, a);

    int64_t q = as.dims[as.rank - 1];
    rg_node_id b = RG_NODE_NONE;
    int roll = pick(s, 10);
    if (roll < 6) {
        int64_t r = dim_choices(s)[pick(s, 3)];
        b = operand_shaped(s, q, r);
    } else if (roll < 8) {
        b = node_where(s, shape1(q), same_shape);
    }
    if (b == RG_NODE_NONE) {
        b = new_input(s, chance(s, 50) ? shape1(q)
                                       : shape2(q, dim_choices(s)[pick(s, 3)]));
    }
    return keep(s, rg_graph_matmul(s->g, a, b),
                bound_of(s, a) * bound_of(s, b) * (double)q);
}

static rg_node_id add_transpose(gen *s)
{
    rg_node_id x = node_where(s, shape2(s->m, s->n), same_shape);

    if (x == RG_NODE_NONE || chance(s, 50)) {
        x = any_tensor(s);
    }
    return keep(s, rg_graph_transpose(s->g, x), bound_of(s, x));
}

static rg_node_id add_reduction(gen *s)
{
    static const int axes2[] = {0, 1, -1, -2, RG_AXIS_ALL};
    static const int axes1[] = {0, -1, RG_AXIS_ALL};
    rg_node_id x = any_tensor(s);
    rg_shape xs = shape_of(s, x);
    rg_op op = chance(s, 60) ? RG_OP_SUM : RG_OP_MEAN;
    int axis = xs.rank == 2 ? axes2[pick(s, 5)] : axes1[pick(s, 3)];
    double count = (double)rg_shape_numel(xs);

    if (xs.rank == 2 && axis != RG_AXIS_ALL) {
        count = (double)xs.dims[axis < 0 ? axis + 2 : axis];
    }
    return keep(s, rg_graph_reduce(s->g, op, x, axis),
                bound_of(s, x) * (op == RG_OP_SUM ? count : 1.0));
}

static rg_node_id add_random(gen *s)
{
    rg_node_id x = any_node(s);
    double b = bound_of(s, x);

    switch (pick(s, 5)) {
    case 0:
    case 1:
        return keep(s, rg_graph_bernoulli(s->g, un(s, RG_OP_SIGMOID, x, 1.0)),
                    1.0);
    case 2:
        /* Probabilities outside [0, 1] give all zeros or all ones. */
        return keep(s, rg_graph_bernoulli(s->g, x), 1.0);
    case 3: {
        rg_node_id sd = chance(s, 50) ? cnst(s, 0.3) : RG_NODE_NONE;
        if (sd == RG_NODE_NONE) {
            rg_node_id y = partner(s, x);
            sd = bin(s, RG_OP_MUL, un(s, RG_OP_SOFTPLUS, y, bound_of(s, y) + 1),
                     cnst(s, 0.25), 0.25 * (bound_of(s, y) + 1));
        }
        return keep(s, rg_graph_normal(s->g, x, sd),
                    b + 6.0 * bound_of(s, sd));
    }
    default: return keep(s, rg_graph_uniform(s->g, x), 1.0);
    }
}

static rg_node_id add_operation(gen *s)
{
    int roll = pick(s, 100);

    if (roll < 18) {
        return add_unary(s);
    }
    if (roll < 40) {
        return add_binary(s);
    }
    if (roll < 54) {
        return add_matmul(s);
    }
    if (roll < 60) {
        return add_transpose(s);
    }
    if (roll < 70) {
        return add_reduction(s);
    }
    if (roll < 79) {
        return add_random(s);
    }
    if (roll < 84) {
        return add_comparison(s);
    }
    if (roll < 90) {
        return add_identity(s);
    }
    if (roll < 94) {
        return host_scalar(s);
    }
    return repeat_node(s, any_node(s));
}

/* Leaves: inputs, params, state and hyperparameters. */
static void add_leaves(gen *s)
{
    int n_inputs = 1 + pick(s, 3);
    int n_params = 1 + pick(s, 3);
    int n_states = pick(s, 3);
    char name[32];

    new_input(s, shape2(s->m, s->n));
    for (int i = 1; i < n_inputs; i++) {
        new_input(s, random_shape(s));
    }
    for (int i = 0; i < n_params + n_states; i++) {
        bool state = i >= n_params;
        rg_shape shape = i == 0 ? shape2(s->n, s->k) : random_shape(s);
        rg_init init = {RG_INIT_NORMAL, 0.0, 0.5};
        rg_node_id id;

        if (state) {
            static const rg_init inits[] = {{RG_INIT_UNIFORM, 0.0, 1.0},
                                            {RG_INIT_BERNOULLI, 0.5, 0.0},
                                            {RG_INIT_CONSTANT, 0.25, 0.0}};
            init = inits[pick(s, 3)];
            snprintf(name, sizeof(name), "s%d", i - n_params);
            id = rg_graph_state(s->g, name, shape, init);
        } else {
            snprintf(name, sizeof(name), "p%d", i);
            id = rg_graph_param(s->g, name, shape, init);
        }
        s->persistent[s->n_persistent] = id;
        s->is_state[s->n_persistent++] = state;
        keep(s, id, state ? 1.0 : 2.0);
    }
    s->n_hypers = 1 + pick(s, 2);
    for (int i = 0; i < s->n_hypers; i++) {
        snprintf(name, sizeof(name), "h%d", i);
        s->hypers[i] = rg_graph_hyper(s->g, name);
        set_bound(s, s->hypers[i], 1.0);
    }
}

/* An expression of `shape` that broadcasts into it, squashed to [-1, 1]. */
static rg_node_id small_term(gen *s, rg_node_id target)
{
    rg_shape ts = shape_of(s, target);
    rg_node_id e = node_where(s, ts, fits_into);

    if (e == RG_NODE_NONE) {
        e = target;
    }
    return un(s, RG_OP_TANH, e, 1.0);
}

/*
 * P + sum of coefficient * (A @ B) over one to three products, sometimes
 * with a factor on P (a momentum form) or a product also used elsewhere.
 * Works for any target of rank 1 or 2.
 */
static rg_node_id accumulating_value(gen *s, rg_node_id target)
{
    rg_shape ts = shape_of(s, target);
    int n_products = 1 + pick(s, 3);
    rg_node_id sum = RG_NODE_NONE;

    for (int i = 0; i < n_products; i++) {
        int64_t q = dim_choices(s)[pick(s, 3)];
        rg_node_id a, b, product;

        if (ts.rank == 2) {
            a = operand_shaped(s, ts.dims[0], q);
            b = operand_shaped(s, q, ts.dims[1]);
        } else if (ts.rank == 1) {
            a = node_where(s, shape1(q), same_shape);
            if (a == RG_NODE_NONE || chance(s, 50)) {
                a = new_input(s, shape1(q));
            } else {
                a = un(s, RG_OP_TANH, a, 1.0);
            }
            b = operand_shaped(s, q, ts.dims[0]);
        } else {
            a = new_input(s, shape1(q));
            b = new_input(s, shape1(q));
        }
        product = keep(s, rg_graph_matmul(s->g, a, b),
                       bound_of(s, a) * bound_of(s, b) * (double)q);
        if (i == 0) {
            sum = product;
        } else {
            sum = bin(s, chance(s, 50) ? RG_OP_ADD : RG_OP_SUB, sum, product,
                      bound_of(s, sum) + bound_of(s, product));
        }
    }
    rg_node_id step = bin(s, RG_OP_MUL, small_coef(s), sum,
                          0.25 * bound_of(s, sum));
    rg_node_id base = target;
    if (chance(s, 30)) {
        base = bin(s, RG_OP_MUL, host_scalar(s), target,
                   2.0 * bound_of(s, target));
    }
    return chance(s, 70) ? bin(s, RG_OP_ADD, base, step, 0.0)
                         : bin(s, RG_OP_SUB, base, step, 0.0);
}

/* Another persistent tensor of the same shape as slot `self`, or -1. */
static int twin_of(gen *s, int self)
{
    rg_shape shape = shape_of(s, s->persistent[self]);
    int start = pick(s, s->n_persistent);

    for (int i = 0; i < s->n_persistent; i++) {
        int j = (start + i) % s->n_persistent;
        if (j != self && rg_shape_equal(shape, shape_of(s, s->persistent[j]))) {
            return j;
        }
    }
    return -1;
}

/* A persistent tensor whose transpose has the shape of slot `self`. */
static int transposed_twin_of(gen *s, int self)
{
    rg_shape shape = shape_of(s, s->persistent[self]);

    for (int j = 0; j < s->n_persistent; j++) {
        rg_shape other = shape_of(s, s->persistent[j]);
        if (j != self && shape.rank == 2 && other.rank == 2 &&
            other.dims[0] == shape.dims[1] && other.dims[1] == shape.dims[0]) {
            return j;
        }
    }
    return -1;
}

/* The new value of persistent slot `i`; may also set a twin's update. */
static rg_node_id update_value(gen *s, int i)
{
    rg_node_id p = s->persistent[i];
    rg_shape ps = shape_of(s, p);
    bool square = ps.rank == 2 && ps.dims[0] == ps.dims[1];
    int twin = twin_of(s, i);

    switch (pick(s, 11)) {
    case 0:
    case 1:
        return accumulating_value(s, p);
    case 2:
        if (twin >= 0) {
            /* Reads another tensor's old value: a swap when both do. */
            return chance(s, 50) ? s->persistent[twin]
                                 : bin(s, RG_OP_ADD, s->persistent[twin],
                                       cnst(s, 0.125), 0.0);
        }
        break;
    case 3:
        if (square) {
            rg_node_id t = rg_graph_transpose(s->g, p);
            if (chance(s, 50)) {
                /* The product reads P through a transpose. */
                rg_node_id x = new_input(s, ps);
                rg_node_id prod = keep(s, rg_graph_matmul(s->g, t, x), 0.0);
                return bin(s, RG_OP_ADD, p, bin(s, RG_OP_MUL, small_coef(s),
                                                prod, 0.0), 0.0);
            }
            return bin(s, RG_OP_MUL, bin(s, RG_OP_ADD, p, t, 0.0),
                       cnst(s, 0.5), 0.0);
        }
        break;
    case 4:
        if (square && chance(s, 50)) {
            /* The product reads P itself. */
            rg_node_id x = new_input(s, ps);
            rg_node_id prod = keep(s, rg_graph_matmul(s->g, p, x), 0.0);
            return bin(s, RG_OP_ADD, p, bin(s, RG_OP_MUL, small_coef(s), prod,
                                            0.0), 0.0);
        }
        return keep(s, rg_graph_bernoulli(s->g, un(
            s, RG_OP_SIGMOID, bin(s, RG_OP_ADD, p, small_term(s, p), 0.0),
            1.0)), 1.0);
    case 5:
        if (twin >= 0 && !s->updated[twin] && ps.rank > 0) {
            /* Momentum: V = m*V + a*(A@B...), P = P + V_new. */
            rg_node_id v = s->persistent[twin];
            rg_node_id v_new = accumulating_value(s, v);
            s->updated[twin] = true;
            s->update_values[twin] = v_new;
            return bin(s, RG_OP_ADD, p, v_new, 0.0);
        }
        break;
    case 6:
        if (twin >= 0 && s->updated[twin]) {
            /* The same new value as another update. */
            return s->update_values[twin];
        }
        break;
    case 7:
        /* A leaf as the new value: an input, or a host scalar. */
        if (ps.rank == 0 && chance(s, 50)) {
            return host_scalar(s);
        }
        return new_input(s, ps);
    case 8: {
        int other = transposed_twin_of(s, i);
        if (other >= 0) {
            /* Another tensor's old value, read through a transpose. */
            rg_node_id t = rg_graph_transpose(s->g, s->persistent[other]);
            return chance(s, 50) ? t : bin(s, RG_OP_SUB, t, p, 0.0);
        }
        break;
    }
    default:
        break;
    }
    return bin(s, RG_OP_ADD, p, bin(s, RG_OP_MUL, small_coef(s),
                                    small_term(s, p), 0.0), 0.0);
}

static void add_updates(gen *s)
{
    for (int i = 0; i < s->n_persistent; i++) {
        if (s->updated[i] || !chance(s, 80)) {
            continue;
        }
        s->updated[i] = true;
        s->update_values[i] = update_value(s, i);
    }
    for (int i = 0; i < s->n_persistent; i++) {
        if (s->updated[i]) {
            rg_graph_add_update(s->g, s->persistent[i], s->update_values[i]);
        }
    }
}

static void add_outputs(gen *s)
{
    int n_outputs = 1 + pick(s, 4);
    char name[32];

    for (int i = 0; i < n_outputs; i++) {
        rg_node_id id = any_node(s);

        if (chance(s, 10)) {
            id = s->persistent[pick(s, s->n_persistent)];
        } else if (chance(s, 10)) {
            int j = pick(s, s->n_persistent);
            id = s->updated[j] ? s->update_values[j] : id;
        }
        snprintf(name, sizeof(name), "o%d", i);
        rg_graph_add_output(s->g, name, id, false);
    }
    rg_node_id scalar = node_where(s, shape0(), same_shape);
    if (scalar != RG_NODE_NONE && chance(s, 60)) {
        rg_graph_add_output(s->g, "metric", scalar, true);
    }
}

rg_graph *randgraph_build(uint64_t seed)
{
    gen s;

    memset(&s, 0, sizeof(s));
    s.rng = seed * 0x2545F4914F6CDD1Dull + 1;
    s.g = rg_graph_new();
    if (s.g == NULL) {
        return NULL;
    }
    s.m = 1 + pick(&s, 6);
    s.n = 2 + pick(&s, 5);
    s.k = 1 + pick(&s, 4);

    add_leaves(&s);
    int n_ops = 8 + pick(&s, 30);
    for (int i = 0; i < n_ops; i++) {
        add_operation(&s);
    }
    add_updates(&s);
    add_outputs(&s);
    free(s.bound);
    return s.g;
}

void randgraph_add_probes(rg_graph *g)
{
    int n = rg_graph_n_nodes(g);
    char name[32];

    for (rg_node_id id = 0; id < n; id++) {
        if (g->nodes[id].op != RG_OP_BERNOULLI) {
            continue;
        }
        snprintf(name, sizeof(name), "probe_p%d", id);
        rg_graph_add_output(g, name, g->nodes[id].operands[0], false);
        snprintf(name, sizeof(name), "probe_b%d", id);
        rg_graph_add_output(g, name, id, false);
    }
}

void randgraph_describe(const rg_graph *g, FILE *out)
{
    char dims[64];

    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];

        fprintf(out, "  n%d = %s", id, rg_op_name(n->op));
        if (graph_op_is_leaf(n->op)) {
            if (n->op == RG_OP_CONST) {
                fprintf(out, " %.9g", n->value);
            } else {
                fprintf(out, " %s", n->name);
            }
        } else {
            fputc('(', out);
            for (int k = 0; k < n->n_operands; k++) {
                fprintf(out, "%sn%d", k ? ", " : "", n->operands[k]);
            }
            fputc(')', out);
        }
        if (n->op == RG_OP_SUM || n->op == RG_OP_MEAN) {
            if (n->axis == RG_AXIS_ALL) {
                fprintf(out, " all");
            } else {
                fprintf(out, " axis=%d", n->axis);
            }
        }
        if (graph_op_is_random(n->op)) {
            fprintf(out, " stream=%u", n->stream);
        }
        fprintf(out, " %s\n", rg_shape_str(n->shape, dims, sizeof(dims)));
    }
    for (int i = 0; i < g->n_outputs; i++) {
        fprintf(out, "  %s %s = n%d\n",
                g->outputs[i].is_metric ? "metric" : "output",
                g->outputs[i].name, g->outputs[i].node);
    }
    for (int i = 0; i < g->n_updates; i++) {
        fprintf(out, "  update %s <- n%d\n",
                g->nodes[g->updates[i].target].name, g->updates[i].value);
    }
}
