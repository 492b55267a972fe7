/*
 * OpenCL backend tests, run on PoCL (the pocl-opencl-icd package, which
 * tools/install-deps.sh installs). Each result is compared with the CPU
 * backend or a double-precision reference. Uniform draws and the
 * exp/sigmoid approximations must match bit for bit, sums within float
 * rounding, and every shipped model after a few steps. Further tests
 * cover the program cache, the u8 upload and the error messages. Without
 * an OpenCL platform these tests fail and name the package to install.
 *
 * Shapes are few and small because PoCL takes a second or more to compile
 * each new program; the tests share one program cache directory, made in
 * main(), so a repeated plan loads instead of compiling.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/ocl_internal.h"
#include "graph/plan_internal.h"
#include "kernels/kprog_opencl.h"
#include "kernels/philox.h"
#include "rbmgraph/rbmgraph.h"

#define SEED 42

/* Program cache shared by the tests (each runs in its own process). */
static char cache_dir[256];

static const char *source_root(void)
{
    const char *root = getenv("RG_SOURCE_ROOT");
    return root != NULL ? root : ".";
}

static rg_shape shape2(int64_t a, int64_t b)
{
    rg_shape s = {2, {a, b}};
    return s;
}

/* Opens a runtime on `spec` that uses the tests' program cache. */
static rg_runtime *open_runtime(const char *spec)
{
    rg_runtime *rt = NULL;
    rg_error err;

    ck_assert_msg(rg_runtime_new(spec, SEED, &rt, &err) == RG_STATUS_OK,
                  "opening device '%s' failed: %s (is pocl-opencl-icd "
                  "installed?)", spec, err.message);
    ck_assert_int_eq(rg_runtime_set_cache(rt, true, cache_dir, &err),
                     RG_STATUS_OK);
    return rt;
}

static rg_plan *plan_graph(rg_graph *g)
{
    rg_plan *plan = NULL;
    rg_error err;

    ck_assert_ptr_null(rg_graph_error(g));
    ck_assert_msg(rg_plan_build(g, NULL, &plan, &err) == RG_STATUS_OK, "%s",
                  err.message);
    return plan;
}

static rg_exec *bind(rg_runtime *rt, const rg_plan *plan)
{
    rg_exec *ex = NULL;
    rg_error err;

    ck_assert_msg(rg_exec_new(rt, plan, &ex, &err) == RG_STATUS_OK, "%s",
                  err.message);
    return ex;
}

static float *read_output(rg_exec *ex, const char *name, int64_t n)
{
    float *values = malloc((size_t)n * sizeof(float));
    rg_error err;

    ck_assert_ptr_nonnull(values);
    ck_assert_msg(rg_exec_get_output(ex, name, values, n, &err) ==
                  RG_STATUS_OK, "output '%s': %s", name, err.message);
    return values;
}

/* Fails at the first element whose bits differ (NaNs count as equal). */
static void assert_same_bits(const char *what, const float *got,
                             const float *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        bool same = memcmp(&got[i], &want[i], sizeof(float)) == 0 ||
                    (isnan(got[i]) && isnan(want[i]));
        ck_assert_msg(same, "%s: element %lld is %.9g on OpenCL and %.9g on "
                      "the CPU", what, (long long)i, (double)got[i],
                      (double)want[i]);
    }
}

/* Fails with the worst element when any relative error exceeds `tol`.
 * Errors are relative to max(|want|, 1e-3). */
static void assert_close(const char *what, const float *got,
                         const double *want, int64_t n, double tol)
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
    ck_assert_msg(worst <= tol, "%s: element %lld is %.9g, expected %.9g "
                  "(relative error %.3g > %.1g)", what, (long long)worst_i,
                  (double)got[worst_i], want[worst_i], worst, tol);
}

START_TEST(platform_present)
{
    rg_device_info *list = NULL;
    int n = 0;
    int n_opencl = 0;
    rg_error err;

    ck_assert_int_eq(rg_device_list(&list, &n, &err), RG_STATUS_OK);
    ck_assert_int_ge(n, 1);
    ck_assert_str_eq(list[0].spec, "cpu");
    for (int i = 1; i < n; i++) {
        n_opencl += strncmp(list[i].spec, "opencl:", 7) == 0;
        ck_assert_int_gt(list[i].compute_units, 0);
        ck_assert_int_gt(list[i].global_mem_bytes, 0);
        ck_assert_int_gt(list[i].max_alloc_bytes, 0);
    }
    rg_device_list_free(list);
    ck_assert_msg(n_opencl > 0, "no OpenCL device found; install the "
                  "pocl-opencl-icd package (tools/install-deps.sh does)");
}
END_TEST

/*
 * One graph over x [70, 45] (several 16 x 16 tiles, none full at the
 * edges) with uniform draws, math functions and every kind of sum, so
 * that all the tests below share one compiled program.
 */
enum { OPS_ROWS = 70, OPS_COLS = 45, OPS_N = OPS_ROWS * OPS_COLS };

static rg_graph *ops_graph(void)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape2(OPS_ROWS, OPS_COLS));
    rg_node_id ax = rg_graph_unary(g, RG_OP_ABS, x);
    const struct {
        const char *name;
        rg_node_id node;
    } outs[] = {
        {"u", rg_graph_uniform(g, x)},
        {"sigmoid", rg_graph_unary(g, RG_OP_SIGMOID, x)},
        {"exp", rg_graph_unary(g, RG_OP_EXP, x)},
        {"tanh", rg_graph_unary(g, RG_OP_TANH, x)},
        {"softplus", rg_graph_unary(g, RG_OP_SOFTPLUS, x)},
        {"log1p", rg_graph_unary(g, RG_OP_LOG1P, ax)},
        {"sum_rows", rg_graph_reduce(g, RG_OP_SUM, x, 0)},
        {"sum_cols", rg_graph_reduce(g, RG_OP_MEAN, x, 1)},
        {"sum_all", rg_graph_reduce(g, RG_OP_SUM, x, RG_AXIS_ALL)},
        {"twice", rg_graph_binary(g, RG_OP_MUL, x, rg_graph_const(g, 2.0))},
    };

    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        rg_graph_add_output(g, outs[i].name, outs[i].node, false);
    }
    return g;
}

/* x: values from -100 to 100, with the clamp limits of exp among them. */
static void ops_input(float *x)
{
    static const float edges[] = {0.0f, -0.0f, 87.5f, -87.5f, 88.5f, -89.0f,
                                  1e-30f, -1e-30f, 0.5f, -0.5f};

    for (int i = 0; i < OPS_N; i++) {
        x[i] = -100.0f + 200.0f * (float)((i * 7919) % OPS_N) / OPS_N;
    }
    memcpy(x, edges, sizeof(edges));
}

/* Runs the ops graph at step 11 on `spec`; returns the output `name`. */
static float *run_ops(const char *spec, const char *name, int64_t *n)
{
    static float x[OPS_N];
    rg_graph *g = ops_graph();
    rg_plan *plan = plan_graph(g);
    rg_runtime *rt = open_runtime(spec);
    rg_exec *ex = bind(rt, plan);
    rg_error err;

    ops_input(x);
    ck_assert_int_eq(rg_exec_set_input(ex, "x", x, OPS_N, &err),
                     RG_STATUS_OK);
    ck_assert_msg(rg_exec_run(ex, 11, &err) == RG_STATUS_OK, "%s",
                  err.message);
    for (int i = 0; i < rg_plan_n_outputs(plan); i++) {
        if (strcmp(rg_plan_output_name(plan, i), name) == 0) {
            *n = rg_shape_numel(rg_plan_output_shape(plan, i));
        }
    }
    float *values = read_output(ex, name, *n);
    rg_exec_free(ex);
    rg_runtime_free(rt);
    rg_plan_free(plan);
    rg_graph_free(g);
    return values;
}

START_TEST(uniform_matches_philox_bitwise)
{
    int64_t n = 0;
    float *u = run_ops("opencl", "u", &n);
    float *want = malloc((size_t)n * sizeof(float));

    ck_assert_int_eq(n, OPS_N);
    for (int64_t i = 0; i < n; i++) {
        want[i] = rg_philox_uniform(SEED, 11, 0, (uint64_t)i);
    }
    assert_same_bits("uniform", u, want, n);
    free(want);
    free(u);
}
END_TEST

/* exp and sigmoid use the CPU evaluator's own approximation, so the two
 * backends must agree exactly; library functions only to rounding. */
START_TEST(math_matches_cpu)
{
    static const struct {
        const char *name;
        bool bitwise;
    } cases[] = {
        {"sigmoid", true}, {"exp", true},   {"twice", true},
        {"tanh", false},   {"softplus", false}, {"log1p", false},
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        int64_t n = 0;
        float *got = run_ops("opencl", cases[c].name, &n);
        float *want = run_ops("cpu", cases[c].name, &n);

        if (cases[c].bitwise) {
            assert_same_bits(cases[c].name, got, want, n);
        } else {
            double *ref = malloc((size_t)n * sizeof(double));
            for (int64_t i = 0; i < n; i++) {
                ref[i] = want[i];
            }
            assert_close(cases[c].name, got, ref, n, 1e-6);
            free(ref);
        }
        free(got);
        free(want);
    }
}
END_TEST

/*
 * Fails unless |got - want| <= tol * scale for each element. Sums of
 * values of both signs cancel, so their error is relative to the sum of
 * absolute values, `scale`, not to the result.
 */
static void assert_sum_close(const char *what, const float *got,
                             const double *want, const double *scale,
                             int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / scale[i];
        ck_assert_msg(e <= tol, "%s: element %lld is %.9g, expected %.9g "
                      "(error %.3g of the absolute sum > %.1g)", what,
                      (long long)i, (double)got[i], want[i], e, tol);
    }
}

START_TEST(reductions_match_reference)
{
    static float x[OPS_N];
    double rows[OPS_COLS] = {0}, rows_abs[OPS_COLS] = {0};
    double cols[OPS_ROWS] = {0}, cols_abs[OPS_ROWS] = {0};
    double all = 0.0, all_abs = 0.0;
    static const char *const names[] = {"sum_rows", "sum_cols", "sum_all"};
    const double *want[] = {rows, cols, &all};
    const double *scale[] = {rows_abs, cols_abs, &all_abs};
    const int64_t lengths[] = {OPS_COLS, OPS_ROWS, 1};

    ops_input(x);
    for (int r = 0; r < OPS_ROWS; r++) {
        for (int c = 0; c < OPS_COLS; c++) {
            double v = x[r * OPS_COLS + c];
            rows[c] += v;
            rows_abs[c] += fabs(v);
            cols[r] += v / OPS_COLS;
            cols_abs[r] += fabs(v) / OPS_COLS;
            all += v;
            all_abs += fabs(v);
        }
    }
    for (int k = 0; k < 3; k++) {
        int64_t n = 0;
        float *got = run_ops("opencl", names[k], &n);
        float *cpu = run_ops("cpu", names[k], &n);
        double *cpu_values = malloc((size_t)n * sizeof(double));

        ck_assert_int_eq(n, lengths[k]);
        assert_sum_close(names[k], got, want[k], scale[k], n, 1e-6);
        for (int64_t i = 0; i < n; i++) {
            cpu_values[i] = cpu[i];
        }
        assert_close(names[k], got, cpu_values, n, 1e-6);
        free(cpu_values);
        free(cpu);
        free(got);
    }
}
END_TEST

/* Small dims for every shipped model; dims a model lacks are skipped. */
static rg_model *load_small(const char *path)
{
    static const char *const dims[][2] = {
        {"batch", "4"}, {"visible", "16"}, {"hidden", "8"},
    };
    rg_model *m = NULL;
    rg_error err;

    ck_assert_msg(rg_model_load(path, &m, &err) == RG_STATUS_OK, "%s: %s",
                  path, err.message);
    for (int i = 0; i < rg_model_n_dims(m); i++) {
        for (size_t k = 0; k < sizeof(dims) / sizeof(dims[0]); k++) {
            if (strcmp(rg_model_dim_name(m, i), dims[k][0]) == 0) {
                ck_assert_int_eq(rg_model_set(m, dims[k][0], dims[k][1],
                                              &err), RG_STATUS_OK);
            }
        }
    }
    return m;
}

/* Binds entry `entry` of `m` on `rt`, with fixed 0/1 inputs and the
 * model's hyperparameters. */
static rg_exec *bind_entry(rg_runtime *rt, const rg_model *m,
                           const rg_plan *plan)
{
    rg_exec *ex = bind(rt, plan);
    rg_error err;

    for (int i = 0; i < rg_plan_n_inputs(plan); i++) {
        int64_t n = rg_shape_numel(rg_plan_input_shape(plan, i));
        float *values = malloc((size_t)n * sizeof(float));
        for (int64_t k = 0; k < n; k++) {
            values[k] = (float)((k * 5 + i) % 3 == 0);
        }
        ck_assert_int_eq(rg_exec_set_input(ex, rg_plan_input_name(plan, i),
                                           values, n, &err), RG_STATUS_OK);
        free(values);
    }
    for (int i = 0; i < rg_plan_n_hypers(plan); i++) {
        const char *name = rg_plan_hyper_name(plan, i);
        for (int k = 0; k < rg_model_n_hypers(m); k++) {
            if (strcmp(rg_model_hyper_name(m, k), name) == 0) {
                rg_exec_set_hyper(ex, name, rg_model_hyper_value(m, k), &err);
            }
        }
    }
    return ex;
}

/* Counts elements within relative `tol` (of max(|b|, 1e-3)). */
static int64_t count_close(const float *a, const float *b, int64_t n,
                           double tol, double *worst)
{
    int64_t close = 0;

    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), 1e-3);
        close += e <= tol;
        *worst = e > *worst || isnan(e) ? e : *worst;
    }
    return close;
}

/* Totals of one model's comparison. */
typedef struct agreement {
    int64_t n;
    int64_t close;
    double worst;
    char worst_tensor[128];
} agreement;

static void compare_values(agreement *a, const char *what, const float *ocl,
                           const float *cpu, int64_t n)
{
    double worst = 0.0;

    a->close += count_close(ocl, cpu, n, 1e-4, &worst);
    a->n += n;
    if (worst > a->worst || isnan(worst)) {
        a->worst = worst;
        snprintf(a->worst_tensor, sizeof(a->worst_tensor), "%s", what);
    }
}

/* Runs every entry of the model at `path` three steps on both backends
 * and compares all outputs of the last step and all params and state. */
static agreement compare_model(const char *path)
{
    rg_model *m = load_small(path);
    rg_runtime *cpu = open_runtime("cpu");
    rg_runtime *ocl = open_runtime("opencl");
    agreement a = {0, 0, 0.0, ""};
    rg_error err;

    for (int e = 0; e < rg_model_n_entries(m); e++) {
        const char *entry = rg_model_entry_name(m, e);
        rg_graph *g = NULL;
        ck_assert_msg(rg_model_build(m, entry, &g, &err) == RG_STATUS_OK,
                      "%s, entry %s: %s", path, entry, err.message);
        rg_plan *plan = plan_graph(g);
        rg_exec *ex_cpu = bind_entry(cpu, m, plan);
        rg_exec *ex_ocl = bind_entry(ocl, m, plan);

        for (uint64_t step = 0; step < 3; step++) {
            ck_assert_int_eq(rg_exec_run(ex_cpu, step, &err), RG_STATUS_OK);
            ck_assert_msg(rg_exec_run(ex_ocl, step, &err) == RG_STATUS_OK,
                          "%s, entry %s: %s", path, entry, err.message);
        }
        for (int i = 0; i < rg_plan_n_outputs(plan); i++) {
            const char *name = rg_plan_output_name(plan, i);
            int64_t n = rg_shape_numel(rg_plan_output_shape(plan, i));
            float *x = read_output(ex_ocl, name, n);
            float *y = read_output(ex_cpu, name, n);
            char what[128];
            snprintf(what, sizeof(what), "entry %s output %s", entry, name);
            compare_values(&a, what, x, y, n);
            free(x);
            free(y);
        }
        rg_exec_free(ex_cpu);
        rg_exec_free(ex_ocl);
        rg_plan_free(plan);
        rg_graph_free(g);
    }
    for (int t = 0; t < rg_runtime_n_tensors(cpu); t++) {
        const char *name = rg_runtime_tensor_name(cpu, t);
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(cpu, t));
        float *x = malloc((size_t)n * sizeof(float));
        float *y = malloc((size_t)n * sizeof(float));
        ck_assert_int_eq(rg_runtime_read(ocl, name, x, n, &err), RG_STATUS_OK);
        ck_assert_int_eq(rg_runtime_read(cpu, name, y, n, &err), RG_STATUS_OK);
        compare_values(&a, name, x, y, n);
        free(x);
        free(y);
    }
    rg_runtime_free(cpu);
    rg_runtime_free(ocl);
    rg_model_free(m);
    return a;
}

/*
 * Every model file in models/: the mean-field model draws nothing, so all
 * its values must agree within 1e-4; models that sample may flip a sample
 * whose uniform lies within rounding of its probability, so 99.9% of
 * their values must agree.
 */
START_TEST(models_agree_across_backends)
{
    char dir_path[4096];
    int n_models = 0;

    snprintf(dir_path, sizeof(dir_path), "%s/models", source_root());
    DIR *dir = opendir(dir_path);
    ck_assert_msg(dir != NULL, "cannot open %s; set RG_SOURCE_ROOT",
                  dir_path);
    for (struct dirent *d = readdir(dir); d != NULL; d = readdir(dir)) {
        size_t len = strlen(d->d_name);
        if (len < 5 || strcmp(d->d_name + len - 5, ".yaml") != 0) {
            continue;
        }
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir_path, d->d_name);
        agreement a = compare_model(path);
        bool strict = strcmp(d->d_name, "rbm-meanfield.yaml") == 0;
        double needed = strict ? 1.0 : 0.999;
        ck_assert_msg((double)a.close >= needed * (double)a.n,
                      "%s: %lld of %lld values agree within 1e-4 (needed "
                      "%.1f%%); worst relative error %.3g in %s", d->d_name,
                      (long long)a.close, (long long)a.n, 100.0 * needed,
                      a.worst, a.worst_tensor);
        n_models++;
    }
    closedir(dir);
    ck_assert_int_ge(n_models, 4);
}
END_TEST

/* A 40-step Gibbs chain of rbm-cd1's sample entry, its output fed back:
 * counts the samples that are equal on both backends. */
START_TEST(sample_chain_agrees)
{
    enum { STEPS = 40 };
    char path[4096];
    rg_error err;
    rg_graph *g = NULL;

    snprintf(path, sizeof(path), "%s/models/rbm-cd1.yaml", source_root());
    rg_model *m = load_small(path);
    ck_assert_int_eq(rg_model_build(m, "sample", &g, &err), RG_STATUS_OK);
    rg_plan *plan = plan_graph(g);
    rg_runtime *rts[2] = {open_runtime("cpu"), open_runtime("opencl")};
    rg_exec *exs[2] = {bind_entry(rts[0], m, plan),
                       bind_entry(rts[1], m, plan)};
    int64_t n = rg_shape_numel(rg_plan_input_shape(plan, 0));
    int64_t equal = 0, total = 0;

    for (int step = 0; step < STEPS; step++) {
        float *vs[2];
        for (int b = 0; b < 2; b++) {
            ck_assert_int_eq(rg_exec_run(exs[b], (uint64_t)step, &err),
                             RG_STATUS_OK);
            vs[b] = read_output(exs[b], "vs", n);
            ck_assert_int_eq(rg_exec_set_input(exs[b], "vs", vs[b], n, &err),
                             RG_STATUS_OK);
        }
        for (int64_t i = 0; i < n; i++) {
            equal += vs[0][i] == vs[1][i];
        }
        total += n;
        free(vs[0]);
        free(vs[1]);
    }
    ck_assert_msg((double)equal >= 0.999 * (double)total,
                  "only %lld of %lld samples agree", (long long)equal,
                  (long long)total);
    for (int b = 0; b < 2; b++) {
        rg_exec_free(exs[b]);
        rg_runtime_free(rts[b]);
    }
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

/* Plans rbm-cd1's train entry with small dims. */
static rg_plan *cd1_plan(rg_model **m, rg_graph **g)
{
    char path[4096];
    rg_error err;

    snprintf(path, sizeof(path), "%s/models/rbm-cd1.yaml", source_root());
    *m = load_small(path);
    ck_assert_int_eq(rg_model_build(*m, "train", g, &err), RG_STATUS_OK);
    return plan_graph(*g);
}

/* Binds the rbm-cd1 train plan on OpenCL and returns the program
 * counters. The cache is set to (enabled, dir), or to what the
 * environment selects when dir is NULL. */
static rg_runtime_stats bind_cd1(bool enabled, const char *dir)
{
    rg_model *m;
    rg_graph *g;
    rg_plan *plan = cd1_plan(&m, &g);
    rg_runtime *rt = NULL;
    rg_runtime_stats stats;
    rg_error err;

    ck_assert_msg(rg_runtime_new("opencl", SEED, &rt, &err) == RG_STATUS_OK,
                  "%s", err.message);
    if (dir != NULL) {
        ck_assert_int_eq(rg_runtime_set_cache(rt, enabled, dir, &err),
                         RG_STATUS_OK);
    }
    rg_exec *ex = bind(rt, plan);
    rg_runtime_get_stats(rt, &stats);
    rg_exec_free(ex);
    rg_runtime_free(rt);
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
    return stats;
}

/* Counts the cache entries in `dir`; stores the path of the last. */
static int find_entries(const char *dir, char *path, size_t size)
{
    int n = 0;
    DIR *d = opendir(dir);

    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL;
         e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len > 6 && strcmp(e->d_name + len - 6, ".clbin") == 0) {
            snprintf(path, size, "%s/%s", dir, e->d_name);
            n++;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static void make_subdir(const char *name, char *dir, size_t size)
{
    snprintf(dir, size, "%s/%s", cache_dir, name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
}

START_TEST(cache_second_start_loads)
{
    char dir[512], path[1024];
    struct stat before, after;

    make_subdir("second-start", dir, sizeof(dir));
    rg_runtime_stats first = bind_cd1(true, dir);
    ck_assert_int_eq(first.programs_built, 1);
    ck_assert_int_eq(first.programs_loaded, 0);
    ck_assert_int_eq(find_entries(dir, path, sizeof(path)), 1);
    ck_assert_int_eq(stat(path, &before), 0);

    rg_runtime_stats second = bind_cd1(true, dir);
    ck_assert_int_eq(second.programs_built, 0);
    ck_assert_int_eq(second.programs_loaded, 1);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(after.st_ino, before.st_ino);
    ck_assert(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}
END_TEST

/* Flips one byte of the binary, then truncates the file: both times the
 * entry is rebuilt and rewritten, and the rewritten entry loads. */
START_TEST(cache_corrupt_entry_rebuilt)
{
    char dir[512], path[1024];
    struct stat st;

    make_subdir("corrupt", dir, sizeof(dir));
    bind_cd1(true, dir);
    ck_assert_int_eq(find_entries(dir, path, sizeof(path)), 1);
    ck_assert_int_eq(stat(path, &st), 0);

    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, st.st_size - 7, SEEK_SET), 0);
    int c = fgetc(f);
    ck_assert_int_eq(fseek(f, st.st_size - 7, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
    rg_runtime_stats flipped = bind_cd1(true, dir);
    ck_assert_int_eq(flipped.programs_built, 1);
    ck_assert_int_eq(flipped.programs_loaded, 0);

    ck_assert_int_eq(truncate(path, 20), 0);
    rg_runtime_stats truncated = bind_cd1(true, dir);
    ck_assert_int_eq(truncated.programs_built, 1);
    ck_assert_int_eq(truncated.programs_loaded, 0);

    rg_runtime_stats again = bind_cd1(true, dir);
    ck_assert_int_eq(again.programs_built, 0);
    ck_assert_int_eq(again.programs_loaded, 1);
    ck_assert_int_eq(find_entries(dir, path, sizeof(path)), 1);
}
END_TEST

START_TEST(cache_off_writes_nothing)
{
    char dir[512], path[1024];

    make_subdir("off", dir, sizeof(dir));
    for (int i = 0; i < 2; i++) {
        rg_runtime_stats stats = bind_cd1(false, dir);
        ck_assert_int_eq(stats.programs_built, 1);
        ck_assert_int_eq(stats.programs_loaded, 0);
    }
    ck_assert_int_eq(find_entries(dir, path, sizeof(path)), 0);

    /* RG_NO_CACHE=1 turns off the default cache under XDG_CACHE_HOME. */
    ck_assert_int_eq(setenv("XDG_CACHE_HOME", dir, 1), 0);
    ck_assert_int_eq(setenv("RG_NO_CACHE", "1", 1), 0);
    for (int i = 0; i < 2; i++) {
        rg_runtime_stats stats = bind_cd1(true, NULL);
        ck_assert_int_eq(stats.programs_built, 1);
        ck_assert_int_eq(stats.programs_loaded, 0);
    }
    snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/rbm-graph");
    ck_assert_int_eq(find_entries(dir, path, sizeof(path)), 0);
}
END_TEST

START_TEST(device_spec_errors)
{
    static const struct {
        const char *spec;
        rg_status status;
        const char *fragment;
    } cases[] = {
        {"gpu", RG_STATUS_INVALID_ARGUMENT, "invalid device 'gpu'"},
        {"opencl:", RG_STATUS_INVALID_ARGUMENT, "opencl:PLATFORM:DEVICE"},
        {"opencl:0", RG_STATUS_INVALID_ARGUMENT, "invalid device"},
        {"opencl:a:b", RG_STATUS_INVALID_ARGUMENT, "invalid device"},
        {"opencl:0:0:0", RG_STATUS_INVALID_ARGUMENT, "invalid device"},
        {"opencl:-1:0", RG_STATUS_INVALID_ARGUMENT, "invalid device"},
        {"opencl:1234567:0", RG_STATUS_INVALID_ARGUMENT, "invalid device"},
        {"opencl:99:0", RG_STATUS_NOT_FOUND, "platform 99 does not exist"},
        {"opencl:99:0", RG_STATUS_NOT_FOUND, "platform 0 '"},
        {"opencl:0:99", RG_STATUS_NOT_FOUND, "has no device 99"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rg_runtime *rt = NULL;
        rg_error err;
        rg_status st = rg_runtime_new(cases[i].spec, 1, &rt, &err);

        ck_assert_msg(st == cases[i].status, "'%s': status %s, expected %s",
                      cases[i].spec, rg_status_str(st),
                      rg_status_str(cases[i].status));
        ck_assert_ptr_null(rt);
        ck_assert_msg(strstr(err.message, cases[i].fragment) != NULL,
                      "'%s': message '%s' lacks '%s'", cases[i].spec,
                      err.message, cases[i].fragment);
    }
}
END_TEST

START_TEST(device_specs_open)
{
    static const char *const specs[] = {"opencl", "opencl:0:0", "auto",
                                        "cpu"};

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        rg_runtime *rt = open_runtime(specs[i]);
        const char *device = rg_runtime_device(rt);
        if (strncmp(specs[i], "opencl", 6) == 0) {
            ck_assert_msg(strncmp(device, "opencl:", 7) == 0, "%s", device);
        }
        rg_runtime_free(rt);
    }
}
END_TEST

/* An arena larger than the device's memory fails in rg_exec_new, before
 * anything runs, and the message gives the sizes. */
START_TEST(arena_too_large_rejected)
{
    rg_device_info *list = NULL;
    int n = 0;
    int64_t largest = 0;
    rg_error err;

    ck_assert_int_eq(rg_device_list(&list, &n, &err), RG_STATUS_OK);
    for (int i = 1; i < n; i++) {
        largest = list[i].global_mem_bytes > largest ? list[i].global_mem_bytes
                                                     : largest;
        largest = list[i].max_alloc_bytes > largest ? list[i].max_alloc_bytes
                                                    : largest;
    }
    rg_device_list_free(list);
    ck_assert_int_gt(largest, 0);

    int64_t rows = 65536;
    int64_t cols = largest / (4 * rows) + 16;
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape2(rows, cols));
    rg_graph_add_output(g, "y", rg_graph_unary(g, RG_OP_SIGMOID, x), false);
    rg_plan *plan = plan_graph(g);
    rg_runtime *rt = open_runtime("opencl");
    rg_exec *ex = NULL;
    char bytes[32];

    ck_assert_int_eq(rg_exec_new(rt, plan, &ex, &err), RG_STATUS_NO_MEMORY);
    ck_assert_ptr_null(ex);
    snprintf(bytes, sizeof(bytes), "%lld",
             (long long)rg_plan_arena_bytes(plan));
    ck_assert_msg(strstr(err.message, "arena") != NULL &&
                  strstr(err.message, bytes) != NULL &&
                  strstr(err.message, "CL_DEVICE_MAX_MEM_ALLOC_SIZE") != NULL,
                  "%s", err.message);
    rg_runtime_free(rt);
    rg_plan_free(plan);
    rg_graph_free(g);
}
END_TEST

START_TEST(build_failure_reports_log)
{
    ocl_device dev;
    ocl_builder builder;
    cl_program program = NULL;
    cl_int rc;
    rg_error err;

    ck_assert_int_eq(ocl_device_find("opencl", &dev, &err), RG_STATUS_OK);
    memset(&builder, 0, sizeof(builder));
    builder.context = clCreateContext(NULL, 1, &dev.id, NULL, NULL, &rc);
    ck_assert_int_eq(rc, CL_SUCCESS);
    builder.device = &dev;
    ck_assert_int_eq(ocl_program_build(&builder, "__kernel void k(",
                                       "", "broken", &program, &err),
                     RG_STATUS_BACKEND);
    ck_assert_ptr_null(program);
    ck_assert_msg(strstr(err.message, "'broken'") != NULL &&
                  strstr(err.message, "CL_BUILD_PROGRAM_FAILURE") != NULL &&
                  strstr(err.message, "build log: ") != NULL, "%s",
                  err.message);
    ck_assert_int_eq(builder.n_built, 0);
    clReleaseContext(builder.context);
}
END_TEST

START_TEST(error_names_translated)
{
    ck_assert_str_eq(ocl_error_name(CL_OUT_OF_RESOURCES),
                     "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(ocl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(ocl_error_name(12345), "unknown OpenCL error");
    ck_assert_str_eq(ocl_clblast_status_name(-1017),
                     "CLBlastInvalidDimension");
    ck_assert_str_eq(ocl_clblast_status_name(CL_INVALID_MEM_OBJECT),
                     "CL_INVALID_MEM_OBJECT");
}
END_TEST

/* y = x + c with c = 0 shows what the upload wrote into x. */
START_TEST(u8_input_matches_host_conversion)
{
    enum { ROWS = 5, COLS = 52, N = ROWS * COLS };
    static const char *const specs[] = {"opencl", "cpu"};
    const float scale = 1.0f / 255.0f;
    uint8_t bytes[N];
    float want[N];
    rg_error err;

    for (int i = 0; i < N; i++) {
        bytes[i] = (uint8_t)(i * 37);
        want[i] = (float)bytes[i] * scale;
    }
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape2(ROWS, COLS));
    rg_graph_add_output(g, "y", rg_graph_binary(g, RG_OP_ADD, x,
                                                 rg_graph_hyper(g, "c")),
                        false);
    rg_plan *plan = plan_graph(g);
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        rg_runtime *rt = open_runtime(specs[s]);
        rg_exec *ex = bind(rt, plan);

        ck_assert_int_eq(rg_exec_set_input_u8(ex, "x", bytes, N - 1, scale,
                                              &err), RG_STATUS_SHAPE);
        ck_assert_int_eq(rg_exec_set_input_u8(ex, "nope", bytes, N, scale,
                                              &err), RG_STATUS_NOT_FOUND);
        ck_assert_msg(rg_exec_set_input_u8(ex, "x", bytes, N, scale, &err) ==
                      RG_STATUS_OK, "%s", err.message);
        ck_assert_int_eq(rg_exec_set_hyper(ex, "c", 0.0, &err), RG_STATUS_OK);
        ck_assert_msg(rg_exec_run(ex, 0, &err) == RG_STATUS_OK, "%s",
                      err.message);
        float *y = read_output(ex, "y", N);
        assert_same_bits(specs[s], y, want, N);
        free(y);
        rg_exec_free(ex);
        rg_runtime_free(rt);
    }
    rg_plan_free(plan);
    rg_graph_free(g);
}
END_TEST

/* Generates the source of a plan's kernel programs for `target`. */
static char *plan_source(const rg_plan *plan, kp_ocl_target target)
{
    const kp_program *kernels[64] = {NULL};
    kp_ocl_launch launches[64];
    int n = 0;

    for (int i = 0; i < plan->n_steps; i++) {
        if (plan->steps[i].kind == PLAN_STEP_KERNEL) {
            ck_assert_int_lt(n, 64);
            kernels[n++] = plan->steps[i].kernel;
        }
    }
    char *source = kp_ocl_generate(kernels, n, &target, launches);
    ck_assert_ptr_nonnull(source);
    for (int i = 0; i < n; i++) {
        ck_assert_str_ne(launches[i].kernel, "");
        kp_ocl_launch_clear(&launches[i]);
    }
    return source;
}

static int count_substrings(const char *text, const char *pattern)
{
    int n = 0;

    for (const char *p = strstr(text, pattern); p != NULL;
         p = strstr(p + 1, pattern)) {
        n++;
    }
    return n;
}

START_TEST(generated_source_deterministic)
{
    char *sources[2];

    for (int i = 0; i < 2; i++) {
        rg_model *m;
        rg_graph *g;
        rg_plan *plan = cd1_plan(&m, &g);
        sources[i] = plan_source(plan, (kp_ocl_target){16, 16, true});
        rg_plan_free(plan);
        rg_graph_free(g);
        rg_model_free(m);
    }
    ck_assert_str_eq(sources[0], sources[1]);
    /* The only #include lines are those of philox.h's C branch, which
     * OpenCL compilers skip. */
    ck_assert_int_eq(count_substrings(sources[0], "#include"),
                     count_substrings(kp_ocl_philox_text, "#include"));
    ck_assert_ptr_nonnull(strstr(sources[0], "rg_philox_uniform("));
    ck_assert_ptr_nonnull(strstr(sources[0], "rg_tile_sum_rows("));
    free(sources[0]);
    free(sources[1]);
}
END_TEST

/* Devices without cl_khr_fp64 sum in float, and small devices get
 * narrower tiles; PoCL has neither limit, so this only compiles that
 * source. */
START_TEST(float_sums_source_compiles)
{
    rg_model *m;
    rg_graph *g;
    rg_plan *plan = cd1_plan(&m, &g);
    char *source = plan_source(plan, (kp_ocl_target){8, 4, false});
    ocl_device dev;
    ocl_builder builder;
    cl_program program = NULL;
    cl_int rc;
    rg_error err;

    ck_assert_ptr_nonnull(strstr(source, "typedef float rg_acc;"));
    ck_assert_ptr_null(strstr(source, "cl_khr_fp64"));
    ck_assert_ptr_nonnull(strstr(source, "reqd_work_group_size(8, 4, 1)"));
    ck_assert_int_eq(ocl_device_find("opencl", &dev, &err), RG_STATUS_OK);
    memset(&builder, 0, sizeof(builder));
    builder.context = clCreateContext(NULL, 1, &dev.id, NULL, NULL, &rc);
    ck_assert_int_eq(rc, CL_SUCCESS);
    builder.device = &dev;
    ck_assert_msg(ocl_program_build(&builder, source, "", "float sums",
                                    &program, &err) == RG_STATUS_OK, "%s",
                  err.message);
    clReleaseProgram(program);
    clReleaseContext(builder.context);
    free(source);
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(bench_times_opencl_products)
{
    rg_model *m;
    rg_graph *g;
    rg_plan *plan = cd1_plan(&m, &g);
    rg_runtime *rt = open_runtime("opencl");
    rg_exec *ex = bind_entry(rt, m, plan);
    rg_bench_result r;
    rg_error err;

    ck_assert_msg(rg_exec_bench(ex, 2, &r, &err) == RG_STATUS_OK, "%s",
                  err.message);
    ck_assert_int_eq(r.n_steps, 2);
    ck_assert(r.step_seconds > 0.0);
    ck_assert(r.gemm_seconds > 0.0);
    rg_exec_free(ex);
    rg_runtime_free(rt);
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

static Suite *opencl_suite(void)
{
    Suite *s = suite_create("opencl");
    TCase *tc = tcase_create("pocl");

    /* First compiles on PoCL take seconds per program. */
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, platform_present);
    tcase_add_test(tc, uniform_matches_philox_bitwise);
    tcase_add_test(tc, math_matches_cpu);
    tcase_add_test(tc, reductions_match_reference);
    tcase_add_test(tc, models_agree_across_backends);
    tcase_add_test(tc, sample_chain_agrees);
    tcase_add_test(tc, cache_second_start_loads);
    tcase_add_test(tc, cache_corrupt_entry_rebuilt);
    tcase_add_test(tc, cache_off_writes_nothing);
    tcase_add_test(tc, device_spec_errors);
    tcase_add_test(tc, device_specs_open);
    tcase_add_test(tc, arena_too_large_rejected);
    tcase_add_test(tc, build_failure_reports_log);
    tcase_add_test(tc, error_names_translated);
    tcase_add_test(tc, u8_input_matches_host_conversion);
    tcase_add_test(tc, generated_source_deterministic);
    tcase_add_test(tc, float_sums_source_compiles);
    tcase_add_test(tc, bench_times_opencl_products);
    suite_add_tcase(s, tc);
    return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    snprintf(cache_dir, sizeof(cache_dir), "/tmp/rg-opencl-test-XXXXXX");
    if (mkdtemp(cache_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(opencl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(cache_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
