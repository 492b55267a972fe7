/*
 * Differential tests of the planner. Every shipped model (every entry,
 * with small dims) and 220 random expression graphs are planned with every
 * optimisation off, with all of them on, and with each one off alone. All
 * plans run on the CPU for three steps from the same seed, inputs and
 * hyperparameters, so updated params and state feed back into later steps.
 * Every output and every param and state tensor after every step must
 * match the unoptimised plan within a relative norm error of REL_TOL.
 *
 * The unoptimised plan itself is compared with a double-precision
 * evaluation of the graph (REF_TOL), which draws the same Philox numbers.
 *
 * Bernoulli samples compare exactly, except where two plans round a
 * probability differently and the uniform draw lies between the two
 * values. Then the sample flips and everything downstream differs. When a
 * comparison fails, the graph is run again with every Bernoulli
 * probability and sample as an extra output. A flip is accepted only when
 * its draw lies within FLIP_MARGIN of both probabilities and at most one
 * sample or 1% of the drawn samples flip. The rest of that comparison is
 * then skipped and the flip is noted on stderr.
 *
 * A failure prints the seed or model, the options, the step, the tensor,
 * its worst element with both values, and a listing of the graph.
 * RG_DIFF_GRAPHS=N runs N random graphs (seeds 1000 to 999 + N) instead.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "kernels/philox.h"
#include "randgraph.h"
#include "rbmgraph/rbmgraph.h"

/* ||a - b|| / max(||b||, NORM_FLOOR), per tensor. */
#define REL_TOL 1e-5
#define NORM_FLOOR 1e-6
/* A sample may flip when its draw is this close to both probabilities. */
#define FLIP_MARGIN 1e-5
/* The same against the double-precision reference, which float plans
 * approach only to their rounding error: results near zero lose most of
 * their relative precision, so the norm floor is higher too. */
#define REF_TOL 5e-5
#define REF_NORM_FLOOR 1e-4
#define REF_MARGIN 1e-4

enum {
    N_STEPS = 3,
    N_RANDOM_GRAPHS = 220,
    FIRST_SEED = 1000,
    RUNTIME_SEED = 77,
    MAX_MODELS = 32,
    TEXT_SIZE = 1024, /* reasons and notes; an rg_error message is 768 */
};

typedef struct config {
    const char *name;
    rg_plan_options options;
} config;

/* The reference (everything off) first. */
static const config configs[] = {
    {"all off", {false, false, false}},
    {"all on", {true, true, true}},
    {"simplify off", {false, true, true}},
    {"fuse off", {true, false, true}},
    {"reuse off", {true, true, false}},
};
enum { N_CONFIGS = sizeof(configs) / sizeof(configs[0]) };

/* Where a graph comes from: a random seed or a model file's entry. */
typedef struct source {
    uint64_t seed;       /* random graphs */
    const char *model;   /* path of a model file, or NULL */
    const char *entry;
    bool unit_inputs;    /* inputs in [0, 1] (data), else in [-1, 1] */
} source;

/* One named tensor read back after a step. */
typedef struct tensor_value {
    char name[80];
    int64_t n;
    float *data;
} tensor_value;

typedef struct step_values {
    tensor_value *items;
    int n_items;
} step_values;

/* Model files found in models/, sorted by name. */
static char model_paths[MAX_MODELS][512];
static int n_models;

static void values_free(step_values *steps, int n_steps)
{
    for (int s = 0; s < n_steps; s++) {
        for (int i = 0; i < steps[s].n_items; i++) {
            free(steps[s].items[i].data);
        }
        free(steps[s].items);
        steps[s].items = NULL;
        steps[s].n_items = 0;
    }
}

static float *values_push(step_values *sv, const char *name, int64_t n)
{
    tensor_value *items = realloc(sv->items, (size_t)(sv->n_items + 1) *
                                  sizeof(*items));

    ck_assert_ptr_nonnull(items);
    sv->items = items;
    tensor_value *t = &items[sv->n_items++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->n = n;
    t->data = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(t->data);
    return t->data;
}

static const tensor_value *values_find(const step_values *sv,
                                       const char *name)
{
    for (int i = 0; i < sv->n_items; i++) {
        if (strcmp(sv->items[i].name, name) == 0) {
            return &sv->items[i];
        }
    }
    return NULL;
}

/* Builds the graph of `src`, with probe outputs when `probe` is set. */
static rg_graph *source_graph(const source *src, bool probe, char *why,
                              size_t size)
{
    rg_graph *g = NULL;
    rg_error err;

    why[0] = '\0';
    if (src->model == NULL) {
        g = randgraph_build(src->seed);
    } else {
        static const char *const sets[][2] = {
            {"batch", "5"}, {"visible", "12"}, {"hidden", "7"}, {"k", "2"}};
        rg_model *m = NULL;

        if (rg_model_load(src->model, &m, &err) != RG_STATUS_OK) {
            snprintf(why, size, "loading failed: %s", err.message);
            return NULL;
        }
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
            rg_status st = rg_model_set(m, sets[i][0], sets[i][1], &err);
            if (st != RG_STATUS_OK && st != RG_STATUS_NOT_FOUND) {
                snprintf(why, size, "--set %s failed: %s", sets[i][0],
                         err.message);
                rg_model_free(m);
                return NULL;
            }
        }
        if (rg_model_build(m, src->entry, &g, &err) != RG_STATUS_OK) {
            snprintf(why, size, "building entry %s failed: %s", src->entry,
                     err.message);
            g = NULL;
        }
        rg_model_free(m);
    }
    if (g == NULL) {
        if (why[0] == '\0') {
            snprintf(why, size, "out of memory");
        }
        return NULL;
    }
    if (rg_graph_error(g) != NULL) {
        snprintf(why, size, "the builder failed: %s",
                 rg_graph_error(g)->message);
        rg_graph_free(g);
        return NULL;
    }
    if (probe) {
        randgraph_add_probes(g);
    }
    return g;
}

static void describe_source(const source *src, char *buf, size_t size)
{
    if (src->model == NULL) {
        snprintf(buf, size, "random graph seed %llu",
                 (unsigned long long)src->seed);
    } else {
        snprintf(buf, size, "%s entry %s", src->model, src->entry);
    }
}

/* Prints the graph listing of `src` to stderr, for a failure report. */
static void print_listing(const source *src)
{
    char what[600], why[TEXT_SIZE];
    rg_graph *g = source_graph(src, false, why, sizeof(why));

    describe_source(src, what, sizeof(what));
    fprintf(stderr, "graph of %s:\n", what);
    if (g != NULL) {
        randgraph_describe(g, stderr);
    }
    rg_graph_free(g);
}

/* A reproducible value in [-1, 1) from a name, a step and an index. */
static float input_value(const char *name, int step, int64_t i, bool unit)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *p = name; *p; p++) {
        h = (h ^ (uint64_t)(unsigned char)*p) * 1099511628211ull;
    }
    h ^= (uint64_t)step * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD6E8FEB86659FD93ull;
    h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    double u = (double)(h >> 11) / 9007199254740992.0;

    if (!unit) {
        return (float)(2.0 * u - 1.0);
    }
    /* Data: odd elements are binary pixels, even ones grey levels. */
    if ((i & 1) == 0) {
        return (float)u;
    }
    return u < 0.5 ? 0.0f : 1.0f;
}

static double hyper_value(const source *src, const char *name)
{
    if (src->model != NULL) {
        /* A learning rate of 0.1 (CD-1's own); 0.5 for anything else. */
        if (strcmp(name, "lr") == 0) {
            return 0.1;
        }
        return 0.5;
    }
    return strcmp(name, "h0") == 0 ? 0.5 : 0.25;
}

/*
 * Plans `g` with `options`, runs N_STEPS steps (or `n_steps`) on a new CPU
 * runtime and stores every output and persistent tensor after each step.
 * Returns false with the reason in `why` when planning or running fails.
 */
static bool read_tensors(rg_runtime *rt, step_values *sv, char *why,
                         size_t size)
{
    rg_error err;

    for (int i = 0; i < rg_runtime_n_tensors(rt); i++) {
        const char *name = rg_runtime_tensor_name(rt, i);
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(rt, i));
        char key[80];

        snprintf(key, sizeof(key), "tensor %s", name);
        float *dst = values_push(sv, key, n);
        if (rg_runtime_read(rt, name, dst, n, &err) != RG_STATUS_OK) {
            snprintf(why, size, "reading %s failed: %s", name, err.message);
            return false;
        }
    }
    return true;
}

static bool run_plan(const rg_graph *g, const source *src,
                     const rg_plan_options *options, int n_steps,
                     step_values *initial, step_values *steps, char *why,
                     size_t size)
{
    rg_runtime *rt = NULL;
    rg_plan *plan = NULL;
    rg_exec *ex = NULL;
    rg_error err;
    bool ok = false;

    if (rg_plan_build(g, options, &plan, &err) != RG_STATUS_OK) {
        snprintf(why, size, "planning failed: %s", err.message);
        return false;
    }
    if (rg_plan_check(plan, &err) != RG_STATUS_OK) {
        snprintf(why, size, "the arena check failed: %s", err.message);
        goto done;
    }
    if (rg_runtime_new("cpu", RUNTIME_SEED, &rt, &err) != RG_STATUS_OK ||
        rg_exec_new(rt, plan, &ex, &err) != RG_STATUS_OK) {
        snprintf(why, size, "binding failed: %s", err.message);
        goto done;
    }
    if (initial != NULL && !read_tensors(rt, initial, why, size)) {
        goto done;
    }
    for (int i = 0; i < rg_plan_n_hypers(plan); i++) {
        const char *name = rg_plan_hyper_name(plan, i);
        rg_exec_set_hyper(ex, name, hyper_value(src, name), &err);
    }
    for (int step = 0; step < n_steps; step++) {
        step_values *sv = &steps[step];

        for (int i = 0; i < rg_plan_n_inputs(plan); i++) {
            const char *name = rg_plan_input_name(plan, i);
            int64_t n = rg_shape_numel(rg_plan_input_shape(plan, i));
            float *buf = malloc((size_t)n * sizeof(float));

            ck_assert_ptr_nonnull(buf);
            for (int64_t e = 0; e < n; e++) {
                buf[e] = input_value(name, step, e, src->unit_inputs);
            }
            rg_status st = rg_exec_set_input(ex, name, buf, n, &err);
            free(buf);
            if (st != RG_STATUS_OK) {
                snprintf(why, size, "setting input %s failed: %s", name,
                         err.message);
                goto done;
            }
        }
        if (rg_exec_run(ex, (uint64_t)step, &err) != RG_STATUS_OK) {
            snprintf(why, size, "step %d failed: %s", step, err.message);
            goto done;
        }
        for (int i = 0; i < rg_plan_n_outputs(plan); i++) {
            const char *name = rg_plan_output_name(plan, i);
            int64_t n = rg_shape_numel(rg_plan_output_shape(plan, i));
            char key[80];

            snprintf(key, sizeof(key), "output %s", name);
            float *dst = values_push(sv, key, n);
            if (rg_exec_get_output(ex, name, dst, n, &err) != RG_STATUS_OK) {
                snprintf(why, size, "reading output %s failed: %s", name,
                         err.message);
                goto done;
            }
        }
        if (!read_tensors(rt, sv, why, size)) {
            goto done;
        }
    }
    ok = true;

done:
    rg_exec_free(ex);
    rg_runtime_free(rt);
    rg_plan_free(plan);
    return ok;
}

/* Relative norm error of `got` against `want` (the norm of `want` taken
 * as at least `floor`), with the worst element. */
static double norm_error(const float *got, const float *want, int64_t n,
                         double floor, int64_t *worst)
{
    double diff = 0.0, ref = 0.0, worst_abs = -1.0;

    *worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];

        if (isnan(d)) {
            *worst = i;
            return INFINITY;
        }
        diff += d * d;
        ref += (double)want[i] * want[i];
        if (fabs(d) > worst_abs) {
            worst_abs = fabs(d);
            *worst = i;
        }
    }
    return sqrt(diff) / fmax(sqrt(ref), floor);
}

/*
 * Compares two runs step by step. Returns the first step with a mismatch
 * (and a description in `why`), or -1 when every tensor matches.
 */
static int first_mismatch(const step_values *want, const step_values *got,
                          int n_steps, double tol, double floor, char *why,
                          size_t size)
{
    for (int s = 0; s < n_steps; s++) {
        for (int i = 0; i < want[s].n_items; i++) {
            const tensor_value *w = &want[s].items[i];
            const tensor_value *g = values_find(&got[s], w->name);
            int64_t worst;

            if (g == NULL || g->n != w->n) {
                snprintf(why, size, "step %d: %s is missing or has another "
                         "size", s, w->name);
                return s;
            }
            double e = norm_error(g->data, w->data, w->n, floor, &worst);
            if (!(e <= tol)) {
                snprintf(why, size, "step %d: %s: relative norm error %.3g > "
                         "%.0e; worst element %lld is %.9g, expected %.9g",
                         s, w->name, e, tol, (long long)worst,
                         (double)g->data[worst], (double)w->data[worst]);
                return s;
            }
        }
    }
    return -1;
}

/* Fails unless every value of the reference run is finite. */
static bool all_finite(const step_values *steps, int n_steps, char *why,
                       size_t size)
{
    for (int s = 0; s < n_steps; s++) {
        for (int i = 0; i < steps[s].n_items; i++) {
            const tensor_value *t = &steps[s].items[i];
            for (int64_t e = 0; e < t->n; e++) {
                if (!isfinite(t->data[e])) {
                    snprintf(why, size, "step %d: %s element %lld is %g",
                             s, t->name, (long long)e, (double)t->data[e]);
                    return false;
                }
            }
        }
    }
    return true;
}

/* Reference evaluation in double precision. */

static int64_t rows_of(rg_shape s)
{
    return s.rank == 2 ? s.dims[0] : 1;
}

static int64_t cols_of(rg_shape s)
{
    return s.rank == 0 ? 1 : s.dims[s.rank - 1];
}

/* Index of point (r, c) of a result in an operand of shape `s`, with
 * NumPy broadcasting: a dimension of length 1 repeats. */
static int64_t broadcast_index(rg_shape s, int64_t r, int64_t c)
{
    int64_t rows = rows_of(s), cols = cols_of(s);

    return (rows == 1 ? 0 : r) * cols + (cols == 1 ? 0 : c);
}

/* The value an elementwise op gives, in double precision. */
static double apply(rg_op op, double a, double b, double c)
{
    switch (op) {
    case RG_OP_ADD: return a + b;
    case RG_OP_SUB: return a - b;
    case RG_OP_MUL: return a * b;
    case RG_OP_DIV: return a / b;
    case RG_OP_POW: return pow(a, b);
    case RG_OP_MIN: return fmin(a, b);
    case RG_OP_MAX: return fmax(a, b);
    case RG_OP_LT: return a < b;
    case RG_OP_LE: return a <= b;
    case RG_OP_GT: return a > b;
    case RG_OP_GE: return a >= b;
    case RG_OP_EQ: return a == b;
    case RG_OP_NE: return a != b;
    case RG_OP_NEG: return -a;
    case RG_OP_SIGMOID: return 1.0 / (1.0 + exp(-a));
    case RG_OP_EXP: return exp(a);
    case RG_OP_LOG: return log(a);
    case RG_OP_LOG1P: return log1p(a);
    case RG_OP_SOFTPLUS: return fmax(a, 0.0) + log1p(exp(-fabs(a)));
    case RG_OP_TANH: return tanh(a);
    case RG_OP_RELU: return a > 0.0 ? a : 0.0;
    case RG_OP_SQRT: return sqrt(a);
    case RG_OP_SQUARE: return a * a;
    case RG_OP_ABS: return fabs(a);
    case RG_OP_WHERE: return a != 0.0 ? b : c;
    default: return NAN;
    }
}

/* [m, k] @ [k, n] with NumPy's vector rules ([k] is a row on the left and
 * a column on the right). The builder's graphs carry no transpose flags. */
static void eval_matmul(const rg_graph *g, const rg_node *n, double **vals,
                        double *out)
{
    rg_shape sa = g->nodes[n->operands[0]].shape;
    rg_shape sb = g->nodes[n->operands[1]].shape;
    const double *a = vals[n->operands[0]], *b = vals[n->operands[1]];
    int64_t m = sa.rank == 2 ? sa.dims[0] : 1;
    int64_t k = sa.dims[sa.rank - 1];
    int64_t cols = sb.rank == 2 ? sb.dims[1] : 1;

    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < cols; j++) {
            double sum = 0.0;
            for (int64_t q = 0; q < k; q++) {
                sum += a[i * k + q] * b[q * cols + j];
            }
            out[i * cols + j] = sum;
        }
    }
}

static void eval_reduce(const rg_graph *g, const rg_node *n, double **vals,
                        double *out)
{
    rg_shape in = g->nodes[n->operands[0]].shape;
    const double *x = vals[n->operands[0]];
    int64_t rows = rows_of(in), cols = cols_of(in);
    int64_t count = rows * cols;

    for (int64_t i = 0; i < rg_shape_numel(n->shape); i++) {
        out[i] = 0.0;
    }
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            int64_t dst = 0;
            if (n->axis != RG_AXIS_ALL && in.rank == 2) {
                dst = n->axis == 0 ? c : r;
            }
            out[dst] += x[r * cols + c];
        }
    }
    if (n->axis != RG_AXIS_ALL && in.rank == 2) {
        count = n->axis == 0 ? rows : cols;
    }
    for (int64_t i = 0; n->op == RG_OP_MEAN && i < rg_shape_numel(n->shape);
         i++) {
        out[i] /= (double)count;
    }
}

/* Elementwise and random nodes over the node's own shape. */
static void eval_pointwise(const rg_graph *g, const rg_node *n, double **vals,
                           int step, double *out)
{
    int64_t rows = rows_of(n->shape), cols = cols_of(n->shape);
    double x[3] = {0, 0, 0};

    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            int64_t e = r * cols + c;

            for (int k = 0; k < n->n_operands; k++) {
                rg_shape s = g->nodes[n->operands[k]].shape;
                x[k] = vals[n->operands[k]][broadcast_index(s, r, c)];
            }
            switch (n->op) {
            case RG_OP_BERNOULLI: {
                float u = rg_philox_uniform(RUNTIME_SEED, (uint64_t)step,
                                            n->stream, (uint64_t)e);
                /* The kernels compare in float. */
                out[e] = u < (float)x[0] ? 1.0 : 0.0;
                break;
            }
            case RG_OP_NORMAL:
                out[e] = x[0] + x[1] * rg_philox_normal(
                    RUNTIME_SEED, (uint64_t)step, n->stream, (uint64_t)e);
                break;
            case RG_OP_UNIFORM:
                out[e] = rg_philox_uniform(RUNTIME_SEED, (uint64_t)step,
                                           n->stream, (uint64_t)e);
                break;
            default:
                out[e] = apply(n->op, x[0], x[1], x[2]);
                break;
            }
        }
    }
}

/* Computes every node of `g` for one step from the params and state in
 * `state` (indexed by node id). */
static void eval_nodes(const rg_graph *g, const source *src, int step,
                       double **state, double **vals)
{
    for (rg_node_id id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        int64_t count = rg_shape_numel(n->shape);
        double *out = malloc((size_t)(count > 0 ? count : 1) * sizeof(*out));

        ck_assert_ptr_nonnull(out);
        vals[id] = out;
        switch (n->op) {
        case RG_OP_INPUT:
            for (int64_t e = 0; e < count; e++) {
                out[e] = input_value(n->name, step, e, src->unit_inputs);
            }
            break;
        case RG_OP_PARAM:
        case RG_OP_STATE:
            memcpy(out, state[id], (size_t)count * sizeof(*out));
            break;
        case RG_OP_HYPER:
            out[0] = (float)hyper_value(src, n->name);
            break;
        case RG_OP_CONST:
            out[0] = (float)n->value;
            break;
        case RG_OP_TRANSPOSE: {
            rg_shape in = g->nodes[n->operands[0]].shape;
            for (int64_t r = 0; r < in.dims[0]; r++) {
                for (int64_t c = 0; c < in.dims[1]; c++) {
                    out[c * in.dims[0] + r] =
                        vals[n->operands[0]][r * in.dims[1] + c];
                }
            }
            break;
        }
        case RG_OP_MATMUL:
            eval_matmul(g, n, vals, out);
            break;
        case RG_OP_SUM:
        case RG_OP_MEAN:
            eval_reduce(g, n, vals, out);
            break;
        default:
            eval_pointwise(g, n, vals, step, out);
            break;
        }
    }
}

static void push_doubles(step_values *sv, const char *key, const double *v,
                         int64_t n)
{
    float *dst = values_push(sv, key, n);

    for (int64_t e = 0; e < n; e++) {
        dst[e] = (float)v[e];
    }
}

/*
 * Evaluates `g` for `n_steps` steps in double precision from the params
 * and state in `initial` (as the plan's runtime created them), applying
 * every update at the end of its step, and stores outputs and tensors as
 * run_plan does.
 */
static void eval_reference(const rg_graph *g, const source *src,
                           const step_values *initial, int n_steps,
                           step_values *steps)
{
    size_t n = (size_t)g->n_nodes + 1;
    double **state = calloc(n, sizeof(*state));
    double **vals = calloc(n, sizeof(*vals));
    char key[80];

    ck_assert_ptr_nonnull(state);
    ck_assert_ptr_nonnull(vals);
    for (rg_node_id id = 0; id < g->n_nodes; id++) {
        const rg_node *p = &g->nodes[id];
        int64_t count = rg_shape_numel(p->shape);

        if (p->op != RG_OP_PARAM && p->op != RG_OP_STATE) {
            continue;
        }
        state[id] = calloc((size_t)count, sizeof(double));
        ck_assert_ptr_nonnull(state[id]);
        snprintf(key, sizeof(key), "tensor %s", p->name);
        /* A tensor the plan dropped as dead stays zero: nothing reads it. */
        const tensor_value *t = values_find(initial, key);
        for (int64_t e = 0; t != NULL && e < count; e++) {
            state[id][e] = t->data[e];
        }
    }
    for (int step = 0; step < n_steps; step++) {
        eval_nodes(g, src, step, state, vals);
        for (int i = 0; i < g->n_outputs; i++) {
            rg_node_id id = g->outputs[i].node;
            snprintf(key, sizeof(key), "output %s", g->outputs[i].name);
            push_doubles(&steps[step], key, vals[id],
                         rg_shape_numel(g->nodes[id].shape));
        }
        /* All updates read this step's values, so copy them first. */
        for (int i = 0; i < g->n_updates; i++) {
            rg_node_id target = g->updates[i].target;
            int64_t count = rg_shape_numel(g->nodes[target].shape);
            memcpy(state[target], vals[g->updates[i].value],
                   (size_t)count * sizeof(double));
        }
        for (rg_node_id id = 0; id < g->n_nodes; id++) {
            if (state[id] != NULL) {
                snprintf(key, sizeof(key), "tensor %s", g->nodes[id].name);
            }
            /* Only tensors that the plan's runtime contains are compared. */
            if (state[id] != NULL && values_find(initial, key) != NULL) {
                push_doubles(&steps[step], key, state[id],
                             rg_shape_numel(g->nodes[id].shape));
            }
            free(vals[id]);
            vals[id] = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(state[i]);
    }
    free(state);
    free(vals);
}

typedef enum flip_verdict {
    FLIP_NONE,      /* no sample differs: the mismatch is real */
    FLIP_ROUNDING,  /* only samples at a draw within rounding flipped */
    FLIP_WRONG,     /* a sample differs although its draw is far away */
} flip_verdict;

/*
 * Runs `src` with probe outputs for steps 0..last_step under the options
 * `want_options` (NULL: the double-precision reference) and `options`,
 * and looks for Bernoulli samples that differ between the two. A sample
 * may flip only where its draw lies within `margin` of both
 * probabilities. Describes what it found in `note`.
 */
static flip_verdict explain_by_flips(const source *src,
                                     const rg_plan_options *want_options,
                                     const rg_plan_options *options,
                                     int last_step, double margin,
                                     char *note, size_t size)
{
    step_values want[N_STEPS] = {{0}}, got[N_STEPS] = {{0}};
    step_values initial = {0};
    char why[TEXT_SIZE];
    rg_graph *g = source_graph(src, true, why, sizeof(why));
    flip_verdict verdict = FLIP_NONE;
    int64_t n_drawn = 0, n_flipped = 0;
    bool ok = g != NULL;

    snprintf(note, size, "no Bernoulli sample differs");
    if (ok && want_options != NULL) {
        ok = run_plan(g, src, want_options, last_step + 1, NULL, want, why,
                      sizeof(why));
    }
    ok = ok && run_plan(g, src, options, last_step + 1, &initial, got, why,
                        sizeof(why));
    if (!ok) {
        snprintf(note, size, "the probe run failed: %.900s", why);
        verdict = FLIP_WRONG;
        goto done;
    }
    if (want_options == NULL) {
        eval_reference(g, src, &initial, last_step + 1, want);
    }
    for (int s = 0; s <= last_step && verdict != FLIP_WRONG; s++) {
        for (rg_node_id id = 0; id < rg_graph_n_nodes(g); id++) {
            char key_p[80], key_b[80];

            if (rg_graph_node_op(g, id) != RG_OP_BERNOULLI) {
                continue;
            }
            snprintf(key_p, sizeof(key_p), "output probe_p%d", id);
            snprintf(key_b, sizeof(key_b), "output probe_b%d", id);
            const tensor_value *pw = values_find(&want[s], key_p);
            const tensor_value *pg = values_find(&got[s], key_p);
            const tensor_value *bw = values_find(&want[s], key_b);
            const tensor_value *bg = values_find(&got[s], key_b);
            ck_assert(pw && pg && bw && bg);
            n_drawn += bw->n;
            for (int64_t e = 0; e < bw->n; e++) {
                if (bw->data[e] == bg->data[e]) {
                    continue;
                }
                /* A scalar probability is broadcast to every element. */
                float p_want = pw->data[pw->n == bw->n ? e : 0];
                float p_got = pg->data[pg->n == bw->n ? e : 0];
                float u = rg_philox_uniform(RUNTIME_SEED, (uint64_t)s,
                                            g->nodes[id].stream,
                                            (uint64_t)e);
                n_flipped++;
                if (fabs(u - p_want) > margin || fabs(u - p_got) > margin) {
                    snprintf(note, size, "step %d: Bernoulli n%d element %lld "
                             "is %g and %g, but its draw %.9g is not within "
                             "%.0e of the probabilities %.9g and %.9g", s, id,
                             (long long)e, (double)bw->data[e],
                             (double)bg->data[e], (double)u, margin,
                             (double)p_want, (double)p_got);
                    verdict = FLIP_WRONG;
                    break;
                }
                if (verdict == FLIP_NONE) {
                    snprintf(note, size, "step %d: Bernoulli n%d element "
                             "%lld flipped: draw %.9g, probabilities %.9g and "
                             "%.9g", s, id, (long long)e, (double)u,
                             (double)p_want, (double)p_got);
                    verdict = FLIP_ROUNDING;
                }
            }
            if (verdict == FLIP_WRONG) {
                break;
            }
        }
    }
    /* One flip is always accepted, however few samples a graph draws. */
    if (verdict == FLIP_ROUNDING && n_flipped > 1 &&
        n_flipped * 100 > n_drawn) {
        snprintf(note, size, "%lld of %lld samples flipped, more than 1%%",
                 (long long)n_flipped, (long long)n_drawn);
        verdict = FLIP_WRONG;
    }

done:
    values_free(want, N_STEPS);
    values_free(got, N_STEPS);
    values_free(&initial, 1);
    rg_graph_free(g);
    return verdict;
}

/* Failures of one source, one line each. */
typedef struct report {
    char text[8192];
    size_t used;
} report;

static void report_add(report *r, const char *what, const char *against,
                       const char *why, const char *note)
{
    char line[3 * TEXT_SIZE];

    snprintf(line, sizeof(line), "%s, %s: %s%s%s%s\n", what, against, why,
             note != NULL ? " (" : "", note != NULL ? note : "",
             note != NULL ? ")" : "");
    size_t len = strlen(line);
    if (r->used + len < sizeof(r->text)) {
        memcpy(r->text + r->used, line, len + 1);
        r->used += len;
    }
}

/*
 * Compares `got` with `want` within `tol`; a mismatch explained by
 * rounding flips is noted on stderr, any other is added to `r`.
 */
static void compare_runs(const source *src, const char *what,
                         const char *against, const step_values *want,
                         const step_values *got, double tol, double floor,
                         const rg_plan_options *want_options,
                         const rg_plan_options *options, double margin,
                         report *r)
{
    char why[TEXT_SIZE], note[TEXT_SIZE];
    int step = first_mismatch(want, got, N_STEPS, tol, floor, why,
                              sizeof(why));

    if (step < 0) {
        return;
    }
    flip_verdict v = explain_by_flips(src, want_options, options, step,
                                      margin, note, sizeof(note));
    if (v == FLIP_ROUNDING) {
        fprintf(stderr, "%s, %s: %s; accepted as a rounding flip (%s), "
                "later steps not compared\n", what, against, why, note);
        return;
    }
    report_add(r, what, against, why, note);
}

/*
 * Runs `src` under every configuration and compares each with the
 * unoptimised plan, and the unoptimised plan with the double-precision
 * reference.
 */
static void check_source(const source *src)
{
    step_values want[N_STEPS] = {{0}}, got[N_STEPS] = {{0}};
    step_values ref[N_STEPS] = {{0}};
    step_values initial = {0};
    char what[600], why[TEXT_SIZE], against[96];
    report r;
    rg_graph *g;

    r.text[0] = '\0';
    r.used = 0;
    describe_source(src, what, sizeof(what));
    g = source_graph(src, false, why, sizeof(why));
    ck_assert_msg(g != NULL, "%s: %s", what, why);
    if (!run_plan(g, src, &configs[0].options, N_STEPS, &initial, want, why,
                  sizeof(why)) ||
        !all_finite(want, N_STEPS, why, sizeof(why))) {
        print_listing(src);
        rg_graph_free(g);
        ck_abort_msg("%s, options %s: %s", what, configs[0].name, why);
    }

    eval_reference(g, src, &initial, N_STEPS, ref);
    compare_runs(src, what, "options all off against the double reference",
                 ref, want, REF_TOL, REF_NORM_FLOOR, NULL, &configs[0].options,
                 REF_MARGIN, &r);
    for (int c = 1; c < N_CONFIGS; c++) {
        snprintf(against, sizeof(against), "options %s", configs[c].name);
        if (!run_plan(g, src, &configs[c].options, N_STEPS, NULL, got, why,
                      sizeof(why))) {
            report_add(&r, what, against, why, NULL);
        } else {
            compare_runs(src, what, against, want, got, REL_TOL, NORM_FLOOR,
                         &configs[0].options, &configs[c].options,
                         FLIP_MARGIN, &r);
        }
        values_free(got, N_STEPS);
    }
    values_free(want, N_STEPS);
    values_free(ref, N_STEPS);
    values_free(&initial, 1);
    rg_graph_free(g);
    if (r.used > 0) {
        fputs(r.text, stderr);
        print_listing(src);
    }
    ck_assert_msg(r.used == 0, "%s", r.text);
}

START_TEST(random_graph_plans_agree)
{
    source src = {(uint64_t)(FIRST_SEED + _i), NULL, NULL, false};

    check_source(&src);
}
END_TEST

START_TEST(model_entries_agree)
{
    rg_model *m = NULL;
    rg_error err;
    const char *path = model_paths[_i];

    ck_assert_msg(rg_model_load(path, &m, &err) == RG_STATUS_OK, "%s: %s",
                  path, err.message);
    ck_assert_int_gt(rg_model_n_entries(m), 0);
    for (int e = 0; e < rg_model_n_entries(m); e++) {
        source src = {0, path, rg_model_entry_name(m, e), true};
        check_source(&src);
    }
    rg_model_free(m);
}
END_TEST

START_TEST(models_found)
{
    ck_assert_msg(n_models >= 4, "found %d model files in %s/models; "
                  "expected the 4 shipped ones", n_models,
                  getenv("RG_SOURCE_ROOT") ? getenv("RG_SOURCE_ROOT") : ".");
}
END_TEST

/* The random graphs cover what the planner treats specially. */
START_TEST(random_graphs_cover_cases)
{
    int counts[RG_OP_COUNT] = {0};
    int n_updates = 0, n_vector_matmuls = 0, n_transposed_operands = 0;
    int n_axis0 = 0, n_axis1 = 0, n_all = 0, n_column = 0, n_state = 0;

    for (int i = 0; i < N_RANDOM_GRAPHS; i++) {
        rg_graph *g = randgraph_build((uint64_t)(FIRST_SEED + i));

        ck_assert_ptr_nonnull(g);
        ck_assert_msg(rg_graph_error(g) == NULL, "seed %d: %s",
                      FIRST_SEED + i, rg_graph_error(g)->message);
        n_updates += rg_graph_n_updates(g);
        for (int id = 0; id < g->n_nodes; id++) {
            const rg_node *n = &g->nodes[id];

            counts[n->op]++;
            if (n->op == RG_OP_MATMUL) {
                n_vector_matmuls += g->nodes[n->operands[0]].shape.rank == 1 ||
                                    g->nodes[n->operands[1]].shape.rank == 1;
                n_transposed_operands +=
                    g->nodes[n->operands[0]].op == RG_OP_TRANSPOSE ||
                    g->nodes[n->operands[1]].op == RG_OP_TRANSPOSE;
            }
            if (n->op == RG_OP_SUM || n->op == RG_OP_MEAN) {
                n_axis0 += n->axis == 0;
                n_axis1 += n->axis == 1;
                n_all += n->axis == RG_AXIS_ALL;
            }
            n_column += n->op == RG_OP_INPUT && n->shape.rank == 2 &&
                        n->shape.dims[1] == 1;
            n_state += n->op == RG_OP_STATE;
        }
        rg_graph_free(g);
    }
    static const rg_op needed[] = {
        RG_OP_PARAM, RG_OP_HYPER, RG_OP_ADD, RG_OP_SUB, RG_OP_MUL,
        RG_OP_DIV, RG_OP_POW, RG_OP_MIN, RG_OP_MAX, RG_OP_LT, RG_OP_EQ,
        RG_OP_NEG, RG_OP_SIGMOID, RG_OP_EXP, RG_OP_LOG, RG_OP_LOG1P,
        RG_OP_SOFTPLUS, RG_OP_TANH, RG_OP_RELU, RG_OP_SQRT, RG_OP_SQUARE,
        RG_OP_ABS, RG_OP_WHERE, RG_OP_MATMUL, RG_OP_TRANSPOSE, RG_OP_SUM,
        RG_OP_MEAN, RG_OP_BERNOULLI, RG_OP_NORMAL, RG_OP_UNIFORM};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        ck_assert_msg(counts[needed[i]] >= 5, "only %d %s nodes",
                      counts[needed[i]], rg_op_name(needed[i]));
    }
    ck_assert_int_ge(n_updates, 200);
    ck_assert_int_ge(n_vector_matmuls, 20);
    ck_assert_int_ge(n_transposed_operands, 20);
    ck_assert_int_ge(n_axis0, 10);
    ck_assert_int_ge(n_axis1, 10);
    ck_assert_int_ge(n_all, 10);
    ck_assert_int_ge(n_column, 10);
    ck_assert_int_ge(n_state, 20);
}
END_TEST

static int compare_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Lists the .yaml files of $RG_SOURCE_ROOT/models (or ./models). */
static void find_models(void)
{
    const char *root = getenv("RG_SOURCE_ROOT");
    char dir_path[400];
    DIR *dir;
    struct dirent *e;

    snprintf(dir_path, sizeof(dir_path), "%s/models", root ? root : ".");
    dir = opendir(dir_path);
    if (dir == NULL) {
        return;
    }
    while ((e = readdir(dir)) != NULL && n_models < MAX_MODELS) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) {
            snprintf(model_paths[n_models++], sizeof(model_paths[0]),
                     "%s/%s", dir_path, e->d_name);
        }
    }
    closedir(dir);
    qsort(model_paths, (size_t)n_models, sizeof(model_paths[0]),
          compare_names);
}

/* N_RANDOM_GRAPHS, or more (never fewer) from $RG_DIFF_GRAPHS. */
static int random_graph_count(void)
{
    const char *text = getenv("RG_DIFF_GRAPHS");
    int n = text != NULL ? atoi(text) : 0;

    return n > N_RANDOM_GRAPHS ? n : N_RANDOM_GRAPHS;
}

static Suite *diff_suite(void)
{
    Suite *s = suite_create("diff");
    TCase *models = tcase_create("models");
    TCase *random = tcase_create("random");

    find_models();
    tcase_add_test(models, models_found);
    tcase_add_loop_test(models, model_entries_agree, 0, n_models);
    tcase_add_test(random, random_graphs_cover_cases);
    tcase_add_loop_test(random, random_graph_plans_agree, 0,
                        random_graph_count());
    suite_add_tcase(s, models);
    suite_add_tcase(s, random);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(diff_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
