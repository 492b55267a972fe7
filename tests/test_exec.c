/*
 * Executor and CPU backend tests: graphs built with the builder API, run on
 * the CPU backend and compared with double-precision references computed
 * here.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/philox.h"
#include "rbmgraph/rbmgraph.h"

#define REL_TOL 1e-5

static rg_shape shape2(int64_t a, int64_t b)
{
    rg_shape s = {2, {a, b}};
    return s;
}

static rg_shape shape1(int64_t a)
{
    rg_shape s = {1, {a, 0}};
    return s;
}

static const rg_init zeros = {RG_INIT_ZEROS, 0, 0};

/* Plans `g`, binds it to a new CPU runtime and returns both. */
static void bind(rg_graph *g, rg_runtime **rt, rg_plan **plan, rg_exec **ex)
{
    rg_error err;

    ck_assert_ptr_null(rg_graph_error(g));
    ck_assert_int_eq(rg_runtime_new("cpu", 42, rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_plan_build(g, NULL, plan, &err) == RG_STATUS_OK, "%s",
                  err.message);
    ck_assert_msg(rg_exec_new(*rt, *plan, ex, &err) == RG_STATUS_OK, "%s",
                  err.message);
}

/* Fails with the index, both values and the worst error when they differ. */
static void assert_close(const char *what, const float *got,
                         const double *want, int64_t n, double rel_tol)
{
    double worst = 0.0;
    int64_t worst_i = 0;

    for (int64_t i = 0; i < n; i++) {
        double scale = fmax(fabs(want[i]), 1e-3);
        double e = fabs((double)got[i] - want[i]) / scale;
        if (e > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : e;
            worst_i = i;
        }
    }
    ck_assert_msg(worst <= rel_tol,
                  "%s: element %lld is %.9g, expected %.9g (relative error "
                  "%.3g > %.1g)", what, (long long)worst_i,
                  (double)got[worst_i], want[worst_i], worst, rel_tol);
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

enum { NV = 6, NH = 4, NB = 3 };

/* Double-precision CD-1 mean-field step; updates w, bv, bh in place. */
static double reference_cd1(const double *v0, double *w, double *bv,
                            double *bh, double lr)
{
    double h0[NB][NH], v1[NB][NV], h1[NB][NH], recon = 0.0;

    for (int b = 0; b < NB; b++) {
        for (int j = 0; j < NH; j++) {
            double s = bh[j];
            for (int i = 0; i < NV; i++) {
                s += v0[b * NV + i] * w[i * NH + j];
            }
            h0[b][j] = sigmoid(s);
        }
        for (int i = 0; i < NV; i++) {
            double s = bv[i];
            for (int j = 0; j < NH; j++) {
                s += h0[b][j] * w[i * NH + j];
            }
            v1[b][i] = sigmoid(s);
            recon += (v0[b * NV + i] - v1[b][i]) * (v0[b * NV + i] - v1[b][i]);
        }
        for (int j = 0; j < NH; j++) {
            double s = bh[j];
            for (int i = 0; i < NV; i++) {
                s += v1[b][i] * w[i * NH + j];
            }
            h1[b][j] = sigmoid(s);
        }
    }
    double a = lr / NB;
    for (int i = 0; i < NV; i++) {
        for (int j = 0; j < NH; j++) {
            double g = 0.0;
            for (int b = 0; b < NB; b++) {
                g += v0[b * NV + i] * h0[b][j] - v1[b][i] * h1[b][j];
            }
            w[i * NH + j] += a * g;
        }
    }
    for (int j = 0; j < NH; j++) {
        double g = 0.0;
        for (int b = 0; b < NB; b++) {
            g += h0[b][j] - h1[b][j];
        }
        bh[j] += a * g;
    }
    for (int i = 0; i < NV; i++) {
        double g = 0.0;
        for (int b = 0; b < NB; b++) {
            g += v0[b * NV + i] - v1[b][i];
        }
        bv[i] += a * g;
    }
    return recon / NB;
}

/* Builds the mean-field CD-1 graph of DESIGN's example with the builder. */
static rg_graph *build_cd1_meanfield(void)
{
    rg_graph *g = rg_graph_new();
    rg_node_id v0 = rg_graph_input(g, "v0", shape2(NB, NV));
    rg_node_id w = rg_graph_param(g, "W", shape2(NV, NH), zeros);
    rg_node_id bv = rg_graph_param(g, "bv", shape1(NV), zeros);
    rg_node_id bh = rg_graph_param(g, "bh", shape1(NH), zeros);
    rg_node_id lr = rg_graph_hyper(g, "lr");
    rg_node_id batch = rg_graph_const(g, NB);

    rg_node_id h0 = rg_graph_unary(g, RG_OP_SIGMOID, rg_graph_binary(
        g, RG_OP_ADD, rg_graph_matmul(g, v0, w), bh));
    rg_node_id v1 = rg_graph_unary(g, RG_OP_SIGMOID, rg_graph_binary(
        g, RG_OP_ADD, rg_graph_matmul(g, h0, rg_graph_transpose(g, w)), bv));
    rg_node_id h1 = rg_graph_unary(g, RG_OP_SIGMOID, rg_graph_binary(
        g, RG_OP_ADD, rg_graph_matmul(g, v1, w), bh));
    rg_node_id a = rg_graph_binary(g, RG_OP_DIV, lr, batch);

    rg_node_id gw = rg_graph_binary(
        g, RG_OP_SUB, rg_graph_matmul(g, rg_graph_transpose(g, v0), h0),
        rg_graph_matmul(g, rg_graph_transpose(g, v1), h1));
    rg_node_id gh = rg_graph_reduce(
        g, RG_OP_SUM, rg_graph_binary(g, RG_OP_SUB, h0, h1), 0);
    rg_node_id gv = rg_graph_reduce(
        g, RG_OP_SUM, rg_graph_binary(g, RG_OP_SUB, v0, v1), 0);
    rg_graph_add_update(g, w, rg_graph_binary(
        g, RG_OP_ADD, w, rg_graph_binary(g, RG_OP_MUL, a, gw)));
    rg_graph_add_update(g, bh, rg_graph_binary(
        g, RG_OP_ADD, bh, rg_graph_binary(g, RG_OP_MUL, a, gh)));
    rg_graph_add_update(g, bv, rg_graph_binary(
        g, RG_OP_ADD, bv, rg_graph_binary(g, RG_OP_MUL, a, gv)));

    rg_node_id d = rg_graph_binary(g, RG_OP_SUB, v0, v1);
    rg_node_id recon = rg_graph_binary(
        g, RG_OP_DIV,
        rg_graph_reduce(g, RG_OP_SUM, rg_graph_unary(g, RG_OP_SQUARE, d),
                        RG_AXIS_ALL),
        batch);
    rg_graph_add_output(g, "recon_error", recon, true);
    return g;
}

static void to_float(const double *src, float *dst, int n)
{
    for (int i = 0; i < n; i++) {
        dst[i] = (float)src[i];
    }
}

START_TEST(cd1_meanfield_matches_reference)
{
    double v0[NB * NV], w[NV * NH], bv[NV], bh[NH];
    float v0f[NB * NV], wf[NV * NH], bvf[NV], bhf[NH], recon;
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;
    rg_graph *g = build_cd1_meanfield();

    bind(g, &rt, &plan, &ex);
    for (int i = 0; i < NB * NV; i++) {
        v0[i] = (double)((i * 7) % 5) / 4.0;
    }
    for (int i = 0; i < NV * NH; i++) {
        w[i] = 0.3 * sin(1.0 + i);
    }
    for (int i = 0; i < NV; i++) {
        bv[i] = 0.1 * cos((double)i);
    }
    for (int j = 0; j < NH; j++) {
        bh[j] = -0.05 * j;
    }
    to_float(v0, v0f, NB * NV);
    to_float(w, wf, NV * NH);
    to_float(bv, bvf, NV);
    to_float(bh, bhf, NH);
    /* The reference starts from the float-rounded values too. */
    for (int i = 0; i < NB * NV; i++) v0[i] = v0f[i];
    for (int i = 0; i < NV * NH; i++) w[i] = wf[i];
    for (int i = 0; i < NV; i++) bv[i] = bvf[i];
    for (int j = 0; j < NH; j++) bh[j] = bhf[j];

    ck_assert_int_eq(rg_runtime_write(rt, "W", wf, NV * NH, &err), 0);
    ck_assert_int_eq(rg_runtime_write(rt, "bv", bvf, NV, &err), 0);
    ck_assert_int_eq(rg_runtime_write(rt, "bh", bhf, NH, &err), 0);
    ck_assert_int_eq(rg_exec_set_input(ex, "v0", v0f, NB * NV, &err), 0);
    ck_assert_int_eq(rg_exec_set_hyper(ex, "lr", 0.5, &err), 0);
    ck_assert_msg(rg_exec_run(ex, 0, &err) == RG_STATUS_OK, "%s",
                  err.message);

    double want_recon = reference_cd1(v0, w, bv, bh, 0.5);
    ck_assert_int_eq(rg_exec_get_output(ex, "recon_error", &recon, 1, &err),
                     0);
    assert_close("recon_error", &recon, &want_recon, 1, REL_TOL);
    ck_assert_int_eq(rg_runtime_read(rt, "W", wf, NV * NH, &err), 0);
    assert_close("W", wf, w, NV * NH, REL_TOL);
    ck_assert_int_eq(rg_runtime_read(rt, "bv", bvf, NV, &err), 0);
    assert_close("bv", bvf, bv, NV, REL_TOL);
    ck_assert_int_eq(rg_runtime_read(rt, "bh", bhf, NH, &err), 0);
    assert_close("bh", bhf, bh, NH, REL_TOL);

    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

/* Updates read old values even when they swap two params. */
START_TEST(updates_applied_together)
{
    rg_graph *g = rg_graph_new();
    rg_node_id a = rg_graph_param(g, "a", shape1(3), zeros);
    rg_node_id b = rg_graph_param(g, "b", shape1(3), zeros);
    float av[3] = {1, 2, 3}, bvals[3] = {10, 20, 30}, got[3];
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;

    rg_graph_add_update(g, a, b);
    rg_graph_add_update(g, b, rg_graph_binary(g, RG_OP_ADD, a, b));
    bind(g, &rt, &plan, &ex);
    rg_runtime_write(rt, "a", av, 3, &err);
    rg_runtime_write(rt, "b", bvals, 3, &err);
    ck_assert_int_eq(rg_exec_run(ex, 0, &err), RG_STATUS_OK);
    rg_runtime_read(rt, "a", got, 3, &err);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(got[i], bvals[i]);
    }
    rg_runtime_read(rt, "b", got, 3, &err);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(got[i], av[i] + bvals[i]);
    }
    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

/* Broadcasting, transposed views, reductions over each axis and means. */
START_TEST(broadcast_and_reductions)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape2(3, 5));
    rg_node_id col = rg_graph_input(g, "col", shape2(3, 1));
    rg_node_id row = rg_graph_input(g, "row", shape1(5));
    rg_node_id y = rg_graph_binary(g, RG_OP_MUL, rg_graph_binary(
        g, RG_OP_SUB, x, col), row);
    rg_node_id yt = rg_graph_transpose(g, y);
    float xv[15], cv[3], rv[5], out[15], s0[5], s1[3], all, mean;
    double want[15], w0[5] = {0}, w1[3] = {0}, wall = 0;
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;

    rg_graph_add_output(g, "yt", rg_graph_unary(g, RG_OP_NEG, yt), false);
    rg_graph_add_output(g, "s0", rg_graph_reduce(g, RG_OP_SUM, y, 0), false);
    rg_graph_add_output(g, "s1", rg_graph_reduce(g, RG_OP_SUM, y, -1),
                        false);
    rg_graph_add_output(g, "all", rg_graph_reduce(g, RG_OP_SUM, yt,
                                                  RG_AXIS_ALL), true);
    rg_graph_add_output(g, "mean", rg_graph_reduce(g, RG_OP_MEAN, y,
                                                   RG_AXIS_ALL), true);
    bind(g, &rt, &plan, &ex);
    for (int i = 0; i < 15; i++) xv[i] = (float)(i * 0.25 - 1.0);
    for (int i = 0; i < 3; i++) cv[i] = (float)i;
    for (int i = 0; i < 5; i++) rv[i] = (float)(0.5 * i - 1);
    rg_exec_set_input(ex, "x", xv, 15, &err);
    rg_exec_set_input(ex, "col", cv, 3, &err);
    rg_exec_set_input(ex, "row", rv, 5, &err);
    ck_assert_int_eq(rg_exec_run(ex, 0, &err), RG_STATUS_OK);

    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 5; c++) {
            double v = ((double)xv[r * 5 + c] - cv[r]) * rv[c];
            want[c * 3 + r] = -v;
            w0[c] += v;
            w1[r] += v;
            wall += v;
        }
    }
    double wmean = wall / 15;
    rg_exec_get_output(ex, "yt", out, 15, &err);
    assert_close("yt", out, want, 15, REL_TOL);
    rg_exec_get_output(ex, "s0", s0, 5, &err);
    assert_close("s0", s0, w0, 5, REL_TOL);
    rg_exec_get_output(ex, "s1", s1, 3, &err);
    assert_close("s1", s1, w1, 3, REL_TOL);
    rg_exec_get_output(ex, "all", &all, 1, &err);
    assert_close("all", &all, &wall, 1, REL_TOL);
    rg_exec_get_output(ex, "mean", &mean, 1, &err);
    assert_close("mean", &mean, &wmean, 1, REL_TOL);
    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

/* Matrix products with vector operands and transposed inputs. */
START_TEST(matmul_vector_and_transposed)
{
    rg_graph *g = rg_graph_new();
    rg_node_id m = rg_graph_input(g, "m", shape2(4, 3));
    rg_node_id v = rg_graph_input(g, "v", shape1(4));
    rg_node_id u = rg_graph_input(g, "u", shape1(3));
    float mv[12], vv[4], uv[3], a[3], b[4], c, mt[16];
    double wa[3] = {0}, wb[4] = {0}, wc = 0, wmt[16] = {0};
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;

    rg_graph_add_output(g, "a", rg_graph_matmul(g, v, m), false);
    rg_graph_add_output(g, "b", rg_graph_matmul(g, m, u), false);
    rg_graph_add_output(g, "c", rg_graph_matmul(g, u, u), false);
    rg_graph_add_output(g, "mt", rg_graph_matmul(g, m, rg_graph_transpose(
                                                     g, m)), false);
    bind(g, &rt, &plan, &ex);
    for (int i = 0; i < 12; i++) mv[i] = (float)(i % 5) - 2.0f;
    for (int i = 0; i < 4; i++) vv[i] = 1.0f + (float)i;
    for (int i = 0; i < 3; i++) uv[i] = 0.5f * (float)i - 0.25f;
    rg_exec_set_input(ex, "m", mv, 12, &err);
    rg_exec_set_input(ex, "v", vv, 4, &err);
    rg_exec_set_input(ex, "u", uv, 3, &err);
    ck_assert_int_eq(rg_exec_run(ex, 0, &err), RG_STATUS_OK);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 3; j++) {
            wa[j] += (double)vv[i] * mv[i * 3 + j];
            wb[i] += (double)mv[i * 3 + j] * uv[j];
        }
        for (int k = 0; k < 4; k++) {
            for (int j = 0; j < 3; j++) {
                wmt[i * 4 + k] += (double)mv[i * 3 + j] * mv[k * 3 + j];
            }
        }
    }
    for (int j = 0; j < 3; j++) {
        wc += (double)uv[j] * uv[j];
    }
    rg_exec_get_output(ex, "a", a, 3, &err);
    assert_close("v @ m", a, wa, 3, REL_TOL);
    rg_exec_get_output(ex, "b", b, 4, &err);
    assert_close("m @ u", b, wb, 4, REL_TOL);
    rg_exec_get_output(ex, "c", &c, 1, &err);
    assert_close("u @ u", &c, &wc, 1, REL_TOL);
    rg_exec_get_output(ex, "mt", mt, 16, &err);
    assert_close("m @ m.T", mt, wmt, 16, REL_TOL);
    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

/* Bernoulli draws: right frequency, same draws for the same step. */
START_TEST(bernoulli_deterministic_by_step)
{
    enum { N = 20000 };
    rg_graph *g = rg_graph_new();
    rg_node_id p = rg_graph_input(g, "p", shape2(100, N / 100));
    float *pv = malloc(N * sizeof(float));
    float *s1 = malloc(N * sizeof(float));
    float *s2 = malloc(N * sizeof(float));
    float *s3 = malloc(N * sizeof(float));
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;
    double mean = 0.0;
    int differ = 0;

    rg_graph_add_output(g, "s", rg_graph_bernoulli(g, p), false);
    bind(g, &rt, &plan, &ex);
    for (int i = 0; i < N; i++) pv[i] = 0.3f;
    rg_exec_set_input(ex, "p", pv, N, &err);
    rg_exec_run(ex, 7, &err);
    rg_exec_get_output(ex, "s", s1, N, &err);
    rg_exec_run(ex, 8, &err);
    rg_exec_get_output(ex, "s", s2, N, &err);
    rg_exec_run(ex, 7, &err);
    rg_exec_get_output(ex, "s", s3, N, &err);
    for (int i = 0; i < N; i++) {
        ck_assert(s1[i] == 0.0f || s1[i] == 1.0f);
        ck_assert_float_eq(s1[i], s3[i]);
        mean += s1[i];
        differ += s1[i] != s2[i];
    }
    mean /= N;
    /* 4.5 standard deviations of a mean of N Bernoulli(0.3) draws. */
    ck_assert_msg(fabs(mean - 0.3) < 4.5 * sqrt(0.21 / N), "mean %g", mean);
    ck_assert_int_gt(differ, N / 4);
    free(pv);
    free(s1);
    free(s2);
    free(s3);
    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

/* The kernels' batched Philox gives exactly rg_philox_uniform's draws,
 * for a width that is not a multiple of four and for both row splits. */
START_TEST(uniform_matches_philox_bitwise)
{
    enum { ROWS = 300, COLS = 37, N = ROWS * COLS };
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", shape2(ROWS, COLS));
    float *xv = calloc(N, sizeof(float));
    float *u = malloc(N * sizeof(float));
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;

    rg_graph_add_output(g, "u", rg_graph_uniform(g, x), false);
    bind(g, &rt, &plan, &ex);
    rg_exec_set_input(ex, "x", xv, N, &err);
    ck_assert_int_eq(rg_exec_run(ex, 11, &err), RG_STATUS_OK);
    rg_exec_get_output(ex, "u", u, N, &err);
    for (int i = 0; i < N; i++) {
        float want = rg_philox_uniform(42, 11, 0, (uint64_t)i);
        ck_assert_msg(u[i] == want, "element %d is %.9g, expected %.9g", i,
                      (double)u[i], (double)want);
    }
    free(xv);
    free(u);
    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

START_TEST(unset_hyper_rejected)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_param(g, "x", shape1(2), zeros);
    rg_runtime *rt;
    rg_plan *plan;
    rg_exec *ex;
    rg_error err;

    rg_graph_add_update(g, x, rg_graph_binary(g, RG_OP_ADD, x,
                                              rg_graph_hyper(g, "lr")));
    bind(g, &rt, &plan, &ex);
    ck_assert_int_eq(rg_exec_run(ex, 0, &err), RG_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "'lr'"));
    ck_assert_int_eq(rg_exec_set_hyper(ex, "nope", 1.0, &err),
                     RG_STATUS_NOT_FOUND);
    rg_exec_free(ex);
    rg_plan_free(plan);
    rg_runtime_free(rt);
    rg_graph_free(g);
}
END_TEST

static Suite *exec_suite(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("cpu");

    tcase_add_test(tc, cd1_meanfield_matches_reference);
    tcase_add_test(tc, updates_applied_together);
    tcase_add_test(tc, broadcast_and_reductions);
    tcase_add_test(tc, matmul_vector_and_transposed);
    tcase_add_test(tc, bernoulli_deterministic_by_step);
    tcase_add_test(tc, uniform_matches_philox_bitwise);
    tcase_add_test(tc, unset_hyper_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(exec_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
