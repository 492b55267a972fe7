/*
 * Tests of the evaluation drivers (src/exec/eval.c) run on the shipped
 * model files at small sizes: annealed importance sampling against log Z
 * computed exactly by enumerating the hidden states in double precision,
 * free energies and features against double references, and the
 * pseudo-likelihood estimate against the exact pseudo-likelihood within
 * its standard error.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbmgraph/rbmgraph.h"
#include "rbmgraph/eval.h"

/* Temporary folder for data files, removed by main. */
static char g_dir[256];

static const char *source_root(void)
{
    const char *root = getenv("RG_SOURCE_ROOT");
    return root != NULL ? root : ".";
}

/* A model from models/ with its dims changed, its params on a runtime. */
typedef struct fixture {
    rg_model *model;
    rg_runtime *rt;
    rg_eval *ev;
    int n_visible;
    int n_hidden;
    double *w;  /* [n_visible, n_hidden] */
    double *bv; /* [n_visible] */
    double *bh; /* [n_hidden] */
} fixture;

static void set_dim(rg_model *m, const char *name, int value)
{
    char text[32];
    rg_error err;

    snprintf(text, sizeof(text), "%d", value);
    ck_assert_msg(rg_model_set(m, name, text, &err) == RG_STATUS_OK, "%s",
                  err.message);
}

/* Deterministic standard normal draws (Box-Muller over an LCG). */
static double next_normal(uint64_t *state)
{
    double u[2];

    for (int i = 0; i < 2; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Writes `n` values of std `scale` to the runtime tensor `name`, keeping
 * the float32 values in `keep` as doubles. */
static void write_param(fixture *f, const char *name, int n, double scale,
                        uint64_t *state, double *keep)
{
    float *values = malloc((size_t)n * sizeof(float));
    rg_error err;

    ck_assert_ptr_nonnull(values);
    for (int i = 0; i < n; i++) {
        values[i] = (float)(scale * next_normal(state));
        keep[i] = values[i];
    }
    ck_assert_msg(rg_runtime_write(f->rt, name, values, n, &err) ==
                  RG_STATUS_OK, "%s", err.message);
    free(values);
}

/*
 * Loads models/`file` with batch, visible and hidden set, binds entry
 * `evaluate` (which creates the params) and fills W, bv and bh with
 * normal draws of standard deviations w_std, bv_std and bh_std.
 */
static void fixture_open(fixture *f, const char *file, int batch,
                         int n_visible, int n_hidden, double w_std,
                         double bv_std, double bh_std)
{
    char path[4096];
    rg_exec *ex;
    rg_error err;
    uint64_t state = 12345;

    memset(f, 0, sizeof(*f));
    snprintf(path, sizeof(path), "%s/models/%s", source_root(), file);
    ck_assert_msg(rg_model_load(path, &f->model, &err) == RG_STATUS_OK, "%s",
                  err.message);
    set_dim(f->model, "batch", batch);
    set_dim(f->model, "visible", n_visible);
    set_dim(f->model, "hidden", n_hidden);
    ck_assert_int_eq(rg_runtime_new("cpu", 7, &f->rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_eval_new(f->model, f->rt, NULL, &f->ev, &err),
                     RG_STATUS_OK);
    ck_assert_msg(rg_eval_exec(f->ev, "evaluate", &ex, NULL, &err) ==
                  RG_STATUS_OK, "%s", err.message);

    f->n_visible = n_visible;
    f->n_hidden = n_hidden;
    f->w = malloc((size_t)(n_visible * n_hidden) * sizeof(double));
    f->bv = malloc((size_t)n_visible * sizeof(double));
    f->bh = malloc((size_t)n_hidden * sizeof(double));
    ck_assert(f->w != NULL && f->bv != NULL && f->bh != NULL);
    write_param(f, "W", n_visible * n_hidden, w_std, &state, f->w);
    write_param(f, "bv", n_visible, bv_std, &state, f->bv);
    write_param(f, "bh", n_hidden, bh_std, &state, f->bh);
}

static void fixture_close(fixture *f)
{
    rg_eval_free(f->ev);
    rg_runtime_free(f->rt);
    rg_model_free(f->model);
    free(f->w);
    free(f->bv);
    free(f->bh);
}

static double softplus(double x)
{
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* log(exp(a) + exp(b)) without overflow; a may be -INFINITY. */
static double log_add(double a, double b)
{
    double hi = a > b ? a : b;
    double lo = a > b ? b : a;

    return hi == -INFINITY ? hi : hi + log1p(exp(lo - hi));
}

/*
 * Exact log Z of the binary RBM, summing over the 2^hidden hidden states:
 * Z = sum_h exp(bh.h) prod_i (1 + exp(bv_i + (W h)_i)).
 */
static double exact_log_z_binary(const fixture *f)
{
    double log_z = -INFINITY;

    for (long code = 0; code < (1L << f->n_hidden); code++) {
        double term = 0.0;

        for (int j = 0; j < f->n_hidden; j++) {
            term += (code >> j & 1) ? f->bh[j] : 0.0;
        }
        for (int i = 0; i < f->n_visible; i++) {
            double x = f->bv[i];
            for (int j = 0; j < f->n_hidden; j++) {
                x += (code >> j & 1) ? f->w[i * f->n_hidden + j] : 0.0;
            }
            term += softplus(x);
        }
        log_z = log_add(log_z, term);
    }
    return log_z;
}

/*
 * Exact log Z of the Gaussian-Bernoulli RBM: the Gaussian integral over v
 * gives Z = (2 pi)^(visible / 2) sum_h exp(bh.h + bv.u + |u|^2 / 2) with
 * u = W h.
 */
static double exact_log_z_gaussian(const fixture *f)
{
    double log_z = -INFINITY;

    for (long code = 0; code < (1L << f->n_hidden); code++) {
        double term = 0.0;

        for (int j = 0; j < f->n_hidden; j++) {
            term += (code >> j & 1) ? f->bh[j] : 0.0;
        }
        for (int i = 0; i < f->n_visible; i++) {
            double u = 0.0;
            for (int j = 0; j < f->n_hidden; j++) {
                u += (code >> j & 1) ? f->w[i * f->n_hidden + j] : 0.0;
            }
            term += f->bv[i] * u + 0.5 * u * u;
        }
        log_z = log_add(log_z, term);
    }
    return log_z + 0.5 * f->n_visible * log(6.283185307179586);
}

static rg_ais_result run_ais(fixture *f, int64_t n_betas)
{
    rg_ais_options options = {n_betas, NULL, 1000, NULL, NULL};
    rg_ais_result result;
    rg_error err;

    ck_assert_msg(rg_eval_ais(f->ev, &options, &result, &err) ==
                  RG_STATUS_OK, "%s", err.message);
    return result;
}

/* AIS with 500 chains and 2000 steps lands within 0.1 nats of log Z. */
START_TEST(ais_binary_matches_enumeration)
{
    fixture f;

    fixture_open(&f, "rbm-cd1.yaml", 500, 20, 12, 1.0, 1.0, 1.0);
    double exact = exact_log_z_binary(&f);
    rg_ais_result r = run_ais(&f, 2000);

    printf("ais_binary_matches_enumeration: AIS %.4f, exact %.4f, error "
           "%+.4f\n", r.log_z, exact, r.log_z - exact);
    ck_assert_int_eq(r.n_chains, 500);
    ck_assert_msg(fabs(r.log_z - exact) < 0.1,
                  "AIS log Z %.6f, exact %.6f, error %.4f (band %.4f .. "
                  "%.4f, log-weight std %.4f)", r.log_z, exact,
                  r.log_z - exact, r.log_z_low, r.log_z_high, r.log_w_std);
    ck_assert(r.log_z_low <= r.log_z && r.log_z <= r.log_z_high);
    /* Base model: 12 log 2 + sum softplus(bv), computed in float32. */
    double base = 12.0 * log(2.0);
    for (int i = 0; i < 20; i++) {
        base += softplus(f.bv[i]);
    }
    ck_assert_msg(fabs(r.log_z_base - base) < 1e-4, "log_z_base %.6f, "
                  "expected %.6f", r.log_z_base, base);
    fixture_close(&f);
}
END_TEST

START_TEST(ais_gaussian_matches_enumeration)
{
    fixture f;

    fixture_open(&f, "rbm-gaussian.yaml", 500, 20, 12, 0.4, 0.5, 0.5);
    double exact = exact_log_z_gaussian(&f);
    rg_ais_result r = run_ais(&f, 2000);

    printf("ais_gaussian_matches_enumeration: AIS %.4f, exact %.4f, error "
           "%+.4f\n", r.log_z, exact, r.log_z - exact);
    ck_assert_msg(fabs(r.log_z - exact) < 0.1,
                  "AIS log Z %.6f, exact %.6f, error %.4f (log-weight std "
                  "%.4f)", r.log_z, exact, r.log_z - exact, r.log_w_std);
    fixture_close(&f);
}
END_TEST

/* With W = 0 and bh = 0 every annealed distribution is the base model,
 * so every log weight is 0 and log Z is the base model's exactly. */
START_TEST(ais_zero_weights_give_base)
{
    static const double betas[4] = {0.0, 0.0, 0.3, 1.0};
    rg_ais_options options = {3, betas, 5, NULL, NULL};
    rg_ais_result r;
    rg_error err;
    fixture f;

    fixture_open(&f, "rbm-cd1.yaml", 50, 10, 6, 0.0, 0.5, 0.0);
    ck_assert_msg(rg_eval_ais(f.ev, &options, &r, &err) == RG_STATUS_OK,
                  "%s", err.message);
    ck_assert_double_eq(r.log_w_mean, 0.0);
    ck_assert_double_eq(r.log_w_std, 0.0);
    ck_assert_double_eq(r.log_z, r.log_z_base);
    ck_assert_int_eq(r.n_betas, 3);
    fixture_close(&f);
}
END_TEST

START_TEST(ais_rejects_bad_schedules)
{
    static const struct {
        int64_t n;
        double betas[3];
        const char *fragment;
    } cases[] = {
        {0, {0, 1, 1}, "at least 1"},
        {2, {0.1, 0.5, 1}, "start at 0"},
        {2, {0, 0.5, 0.9}, "end at 1"},
        {2, {0, 1.5, 1}, "not decrease"},
        {2, {0, NAN, 1}, "not decrease"},
    };
    fixture f;

    fixture_open(&f, "rbm-cd1.yaml", 10, 4, 3, 0.1, 0.1, 0.1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rg_ais_options options = {cases[i].n, cases[i].betas, 0, NULL, NULL};
        rg_ais_result r;
        rg_error err;

        ck_assert_int_eq(rg_eval_ais(f.ev, &options, &r, &err),
                         RG_STATUS_INVALID_ARGUMENT);
        ck_assert_msg(strstr(err.message, cases[i].fragment) != NULL,
                      "case %zu: %s", i, err.message);
    }
    fixture_close(&f);
}
END_TEST

START_TEST(missing_entry_is_not_found)
{
    static const char text[] =
        "model: bare\n"
        "dims: {batch: 4, visible: 3}\n"
        "params: {bv: {shape: [visible]}}\n"
        "inputs: {v0: {shape: [batch, visible]}}\n"
        "metrics: {m: sum(v0 * bv)}\n";
    rg_ais_options options = {10, NULL, 0, NULL, NULL};
    rg_ais_result r;
    rg_model *m;
    rg_runtime *rt;
    rg_eval *ev;
    rg_error err;

    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "bare.yaml",
                                          &m, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_eval_new(m, rt, NULL, &ev, &err), RG_STATUS_OK);
    ck_assert(!rg_eval_has_entry(ev, "ais_init"));
    ck_assert_int_eq(rg_eval_ais(ev, &options, &r, &err),
                     RG_STATUS_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "ais_init"));
    rg_eval_free(ev);
    rg_runtime_free(rt);
    rg_model_free(m);
}
END_TEST

/* Writes `n_rows` binary rows, each bit 1 with probability 0.3, as .npy. */
static void write_binary_data(const char *path, int n_rows, int n_cols,
                              float *rows)
{
    uint64_t state = 99;
    int64_t shape[2] = {n_rows, n_cols};
    rg_error err;

    for (int i = 0; i < n_rows * n_cols; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        rows[i] = (double)(state >> 11) / 9007199254740992.0 < 0.3 ? 1.0f
                                                                   : 0.0f;
    }
    ck_assert_msg(rg_npy_save(path, 2, shape, rows, &err) == RG_STATUS_OK,
                  "%s", err.message);
}

static rg_dataset *load_data(const char *path)
{
    rg_dataset *ds;
    rg_error err;

    ck_assert_msg(rg_dataset_load(path, NULL, &ds, &err) == RG_STATUS_OK,
                  "%s", err.message);
    return ds;
}

/* Free energy of one binary row: -v.bv - sum_j softplus((v W + bh)_j). */
static double free_energy(const fixture *f, const float *v)
{
    double fe = 0.0;

    for (int i = 0; i < f->n_visible; i++) {
        fe -= v[i] * f->bv[i];
    }
    for (int j = 0; j < f->n_hidden; j++) {
        double a = f->bh[j];
        for (int i = 0; i < f->n_visible; i++) {
            a += v[i] * f->w[i * f->n_hidden + j];
        }
        fe -= softplus(a);
    }
    return fe;
}

/* 250 rows in minibatches of 100: the last one is half padding. */
START_TEST(row_means_skip_padding)
{
    enum { ROWS = 250, COLS = 30 };
    static const char *const outputs[] = {"free_energy"};
    float *rows = malloc(ROWS * COLS * sizeof(float));
    char path[512];
    double mean, ref = 0.0, ref_first = 0.0;
    rg_error err;
    fixture f;

    ck_assert_ptr_nonnull(rows);
    snprintf(path, sizeof(path), "%s/binary.npy", g_dir);
    write_binary_data(path, ROWS, COLS, rows);
    rg_dataset *ds = load_data(path);
    fixture_open(&f, "rbm-cd1.yaml", 100, COLS, 20, 0.3, 0.3, 0.3);
    for (int r = 0; r < ROWS; r++) {
        double fe = free_energy(&f, rows + r * COLS);
        ref += fe / ROWS;
        ref_first += r < 130 ? fe / 130 : 0.0;
    }

    ck_assert_msg(rg_eval_row_means(f.ev, "evaluate", ds, 0, 0, 1, outputs,
                                    &mean, &err) == RG_STATUS_OK, "%s",
                  err.message);
    ck_assert_msg(fabs(mean - ref) < 1e-4 * fabs(ref), "mean free energy "
                  "%.7f, reference %.7f", mean, ref);

    /* The first 130 rows only. */
    ck_assert_int_eq(rg_eval_row_means(f.ev, "evaluate", ds, 130, 0, 1,
                                       outputs, &mean, &err), RG_STATUS_OK);
    ck_assert_msg(fabs(mean - ref_first) < 1e-4 * fabs(ref_first),
                  "mean free energy of 130 rows %.7f, reference %.7f", mean,
                  ref_first);
    rg_dataset_free(ds);
    fixture_close(&f);
    free(rows);
}
END_TEST

START_TEST(row_means_reject_bad_outputs)
{
    static const char *const unknown[] = {"no_such_output"};
    static const char *const matrix[] = {"v1p"};
    float rows[10 * 6];
    char path[512];
    double mean;
    rg_error err;
    fixture f;

    snprintf(path, sizeof(path), "%s/small.npy", g_dir);
    write_binary_data(path, 10, 6, rows);
    rg_dataset *ds = load_data(path);
    fixture_open(&f, "rbm-cd1.yaml", 4, 6, 3, 0.1, 0.1, 0.1);
    ck_assert_int_eq(rg_eval_row_means(f.ev, "evaluate", ds, 0, 0, 1,
                                       unknown, &mean, &err),
                     RG_STATUS_MODEL);
    ck_assert_ptr_nonnull(strstr(err.message, "no_such_output"));
    ck_assert_int_eq(rg_eval_row_means(f.ev, "reconstruct", ds, 0, 0, 1,
                                       matrix, &mean, &err),
                     RG_STATUS_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.message, "one value per row"));
    ck_assert_int_eq(rg_eval_row_means(f.ev, "evaluate", ds, -1, 0, 1,
                                       matrix, &mean, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    rg_dataset_free(ds);
    fixture_close(&f);
}
END_TEST

/* The features entry's output, row by row, padding included. */
START_TEST(map_rows_features_match)
{
    enum { ROWS = 250, COLS = 30, HIDDEN = 20 };
    float *rows = malloc(ROWS * COLS * sizeof(float));
    float *h = NULL;
    int64_t n_cols = 0;
    char path[512];
    double worst = 0.0;
    rg_error err;
    fixture f;

    ck_assert_ptr_nonnull(rows);
    snprintf(path, sizeof(path), "%s/features.npy", g_dir);
    write_binary_data(path, ROWS, COLS, rows);
    rg_dataset *ds = load_data(path);
    fixture_open(&f, "rbm-cd1.yaml", 100, COLS, HIDDEN, 0.3, 0.3, 0.3);
    ck_assert_msg(rg_eval_map_rows(f.ev, "features", "h", ds, 0, &h, &n_cols,
                                   &err) == RG_STATUS_OK, "%s", err.message);
    ck_assert_int_eq(n_cols, HIDDEN);
    for (int r = 0; r < ROWS; r++) {
        for (int j = 0; j < HIDDEN; j++) {
            double a = f.bh[j];
            for (int i = 0; i < COLS; i++) {
                a += rows[r * COLS + i] * f.w[i * HIDDEN + j];
            }
            double want = 1.0 / (1.0 + exp(-a));
            double diff = fabs(h[r * HIDDEN + j] - want);
            ck_assert_msg(diff < 1e-6, "row %d unit %d: %.8f, reference "
                          "%.8f", r, j, (double)h[r * HIDDEN + j], want);
            worst = diff > worst ? diff : worst;
        }
    }
    printf("map_rows_features_match: worst error %.3g\n", worst);
    free(h);
    rg_dataset_free(ds);
    fixture_close(&f);
    free(rows);
}
END_TEST

/*
 * The estimate averages visible * log P(v_i | v_-i) over one random i per
 * row; its expectation is the exact pseudo-likelihood sum_i log P(v_i |
 * v_-i). The test allows 4 standard errors of that estimate.
 */
START_TEST(pseudo_likelihood_unbiased)
{
    enum { ROWS = 3000, COLS = 16, HIDDEN = 10 };
    float *rows = malloc(ROWS * COLS * sizeof(float));
    char path[512];
    double estimate, exact = 0.0, variance = 0.0;
    rg_error err;
    fixture f;

    ck_assert_ptr_nonnull(rows);
    snprintf(path, sizeof(path), "%s/pl.npy", g_dir);
    write_binary_data(path, ROWS, COLS, rows);
    rg_dataset *ds = load_data(path);
    fixture_open(&f, "rbm-cd1.yaml", 100, COLS, HIDDEN, 0.5, 0.5, 0.5);

    /* Exact per-row PL and the variance of the one-bit estimate. */
    for (int r = 0; r < ROWS; r++) {
        float *v = rows + r * COLS;
        double fe = free_energy(&f, v);
        double terms[COLS], sum = 0.0, sum_sq = 0.0;

        for (int i = 0; i < COLS; i++) {
            v[i] = 1.0f - v[i];
            terms[i] = -COLS * softplus(fe - free_energy(&f, v));
            v[i] = 1.0f - v[i];
            sum += terms[i];
            sum_sq += terms[i] * terms[i];
        }
        exact += sum / COLS / ROWS;
        variance += (sum_sq / COLS - (sum / COLS) * (sum / COLS)) / ROWS;
    }
    double std_error = sqrt(variance / ROWS);

    ck_assert_msg(rg_eval_pseudo_likelihood(f.ev, ds, 0, 3, &estimate,
                                            &err) == RG_STATUS_OK, "%s",
                  err.message);
    printf("pseudo_likelihood_unbiased: estimate %.4f, exact %.4f, "
           "standard error %.4f\n", estimate, exact, std_error);
    ck_assert_msg(fabs(estimate - exact) < 4.0 * std_error + 1e-4,
                  "PL estimate %.5f, exact %.5f, standard error %.5f",
                  estimate, exact, std_error);
    rg_dataset_free(ds);
    fixture_close(&f);
    free(rows);
}
END_TEST

static Suite *eval_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *tc_ais = tcase_create("ais");
    TCase *tc_rows = tcase_create("rows");

    tcase_set_timeout(tc_ais, 120);
    tcase_add_test(tc_ais, ais_binary_matches_enumeration);
    tcase_add_test(tc_ais, ais_gaussian_matches_enumeration);
    tcase_add_test(tc_ais, ais_zero_weights_give_base);
    tcase_add_test(tc_ais, ais_rejects_bad_schedules);
    tcase_add_test(tc_ais, missing_entry_is_not_found);
    suite_add_tcase(s, tc_ais);

    tcase_add_test(tc_rows, row_means_skip_padding);
    tcase_add_test(tc_rows, row_means_reject_bad_outputs);
    tcase_add_test(tc_rows, map_rows_features_match);
    tcase_add_test(tc_rows, pseudo_likelihood_unbiased);
    suite_add_tcase(s, tc_rows);
    return s;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char command[512];
    SRunner *sr;
    int n_failed;

    snprintf(g_dir, sizeof(g_dir), "%s/rg-test-eval-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    sr = srunner_create(eval_suite());
    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(command, sizeof(command), "rm -rf '%s'", g_dir);
    if (system(command) != 0) {
        fprintf(stderr, "test_eval: could not remove %s\n", g_dir);
    }
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
