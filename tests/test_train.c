/*
 * End-to-end tests: shipped model files trained on Fashion-MNIST through
 * the library and through the rbm-graph program. The data comes from
 * Debian's dataset-fashion-mnist package, which tools/install-deps.sh
 * installs; without it these tests fail and name the package.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rbmgraph/rbmgraph.h"

#define TRAIN_DATA \
    "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static const char *source_root(void)
{
    const char *root = getenv("RG_SOURCE_ROOT");
    return root != NULL ? root : ".";
}

static const char *build_root(void)
{
    const char *root = getenv("RG_BUILD_ROOT");
    return root != NULL ? root : "build";
}

static void require_data(void)
{
    struct stat st;

    ck_assert_msg(stat(TRAIN_DATA, &st) == 0,
                  "%s is missing; install the dataset-fashion-mnist package "
                  "(tools/install-deps.sh does)", TRAIN_DATA);
}

/* Trains `model` for `epochs` epochs on the first `rows` images. */
static void train_epochs(const char *model, int epochs, int64_t rows,
                         double *recon)
{
    char path[4096];
    rg_data_options options = rg_data_options_default();
    rg_model *m;
    rg_dataset *ds;
    rg_runtime *rt;
    rg_trainer *t;
    rg_error err;

    snprintf(path, sizeof(path), "%s/models/%s", source_root(), model);
    ck_assert_msg(rg_model_load(path, &m, &err) == RG_STATUS_OK, "%s",
                  err.message);
    options.max_rows = rows;
    ck_assert_msg(rg_dataset_load(TRAIN_DATA, &options, &ds, &err) ==
                  RG_STATUS_OK, "%s", err.message);
    ck_assert_int_eq(rg_runtime_new("cpu", 3, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_trainer_new(m, "train", rt, NULL, &t, &err) ==
                  RG_STATUS_OK, "%s", err.message);
    ck_assert_int_gt(rg_trainer_n_metrics(t), 0);
    ck_assert_str_eq(rg_trainer_metric_name(t, 0), "recon_error");

    for (int e = 0; e < epochs; e++) {
        rg_epoch_stats stats;

        ck_assert_msg(rg_trainer_run_epoch(t, ds, 3, (uint64_t)e + 1, NULL,
                                           NULL, &stats, &err) ==
                      RG_STATUS_OK, "%s", err.message);
        ck_assert_int_eq(stats.n_samples,
                         rows / rg_trainer_batch_size(t) *
                             rg_trainer_batch_size(t));
        recon[e] = stats.metrics[0];
    }
    rg_trainer_free(t);
    rg_runtime_free(rt);
    rg_dataset_free(ds);
    rg_model_free(m);
}

START_TEST(cd1_recon_error_falls)
{
    double recon[2];

    require_data();
    train_epochs("rbm-cd1.yaml", 2, 2000, recon);
    ck_assert_msg(isfinite(recon[0]) && recon[0] > 0.0, "epoch 1: %g",
                  recon[0]);
    ck_assert_msg(recon[1] < recon[0],
                  "reconstruction error did not fall: %g then %g", recon[0],
                  recon[1]);
}
END_TEST

/* Each shipped training model runs an epoch and its error falls. */
START_TEST(shipped_models_train)
{
    static const char *models[] = {"rbm-cdk.yaml", "rbm-pcd.yaml",
                                   "rbm-meanfield.yaml"};
    double recon[2];

    require_data();
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        train_epochs(models[i], 2, 1000, recon);
        ck_assert_msg(recon[1] < recon[0], "%s: error %g then %g", models[i],
                      recon[0], recon[1]);
    }
}
END_TEST

/*
 * Trains `model` for one epoch on 1,000 images with `options` and returns
 * every param in `params` (caller frees) and their total count.
 */
static int64_t train_with_options(const char *model,
                                  const rg_plan_options *options,
                                  float **params)
{
    char path[4096];
    rg_data_options data = rg_data_options_default();
    rg_model *m;
    rg_dataset *ds;
    rg_runtime *rt;
    rg_trainer *t;
    rg_epoch_stats stats;
    rg_error err;
    int64_t total = 0;

    snprintf(path, sizeof(path), "%s/models/%s", source_root(), model);
    ck_assert_int_eq(rg_model_load(path, &m, &err), RG_STATUS_OK);
    data.max_rows = 1000;
    ck_assert_int_eq(rg_dataset_load(TRAIN_DATA, &data, &ds, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_new("cpu", 5, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_trainer_new(m, "train", rt, options, &t, &err) ==
                  RG_STATUS_OK, "%s", err.message);
    ck_assert_msg(rg_trainer_run_epoch(t, ds, 5, 1, NULL, NULL, &stats,
                                       &err) == RG_STATUS_OK, "%s",
                  err.message);
    for (int i = 0; i < rg_runtime_n_tensors(rt); i++) {
        total += rg_shape_numel(rg_runtime_tensor_shape(rt, i));
    }
    *params = malloc((size_t)total * sizeof(float));
    ck_assert_ptr_nonnull(*params);
    for (int i = 0, at = 0; i < rg_runtime_n_tensors(rt); i++) {
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(rt, i));
        ck_assert_int_eq(rg_runtime_read(rt, rg_runtime_tensor_name(rt, i),
                                         *params + at, n, &err),
                         RG_STATUS_OK);
        at += (int)n;
    }
    rg_trainer_free(t);
    rg_runtime_free(rt);
    rg_dataset_free(ds);
    rg_model_free(m);
    return total;
}

/*
 * An epoch of the deterministic mean-field model with every optimisation
 * on matches the plan with every optimisation off, to 1e-5 in relative
 * norm: fusion, in-place updates and accumulating GEMMs change only the
 * rounding.
 */
START_TEST(optimized_plan_trains_like_unoptimized)
{
    rg_plan_options off = {false, false, false};
    rg_plan_options on = rg_plan_options_default();
    float *a, *b;
    double diff = 0.0, norm = 0.0;

    require_data();
    int64_t n = train_with_options("rbm-meanfield.yaml", &on, &a);
    ck_assert_int_eq(train_with_options("rbm-meanfield.yaml", &off, &b), n);
    for (int64_t i = 0; i < n; i++) {
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        norm += (double)b[i] * b[i];
    }
    ck_assert_msg(sqrt(diff) <= 1e-5 * sqrt(norm),
                  "relative difference %.3g exceeds 1e-5 over %lld values",
                  sqrt(diff / norm), (long long)n);
    free(a);
    free(b);
}
END_TEST

/* Runs a shell command; returns its exit status. */
static int run(const char *command)
{
    int status = system(command);

    ck_assert_int_ne(status, -1);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

START_TEST(cli_train_writes_log_and_checkpoint)
{
    char dir[] = "/tmp/rg-train-XXXXXX";
    char command[8192], line[512], path[4200];
    FILE *log;

    require_data();
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(command, sizeof(command),
             "'%s/tools/rbm-graph' train '%s/models/rbm-cd1.yaml' "
             "--epochs 2 --max-rows 1000 --log '%s/log.csv' "
             "--save '%s/ckpt.npz' > '%s/out.txt' 2> '%s/err.txt'",
             build_root(), source_root(), dir, dir, dir, dir);
    ck_assert_int_eq(run(command), 0);

    snprintf(path, sizeof(path), "%s/log.csv", dir);
    log = fopen(path, "r");
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), log));
    ck_assert_msg(strncmp(line, "epoch,recon_error,", 18) == 0, "header: %s",
                  line);
    int rows = 0;
    while (fgets(line, sizeof(line), log) != NULL) {
        rows++;
    }
    fclose(log);
    ck_assert_int_eq(rows, 2);

    /* The checkpoint loads back into a fresh runtime. */
    rg_runtime *rt;
    rg_checkpoint_meta meta;
    rg_error err;
    snprintf(path, sizeof(path), "%s/ckpt.npz", dir);
    ck_assert_int_eq(rg_runtime_new("cpu", 0, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_checkpoint_load(rt, path, &meta, &err) == RG_STATUS_OK,
                  "%s", err.message);
    ck_assert_int_ge(rg_runtime_find_tensor(rt, "W"), 0);
    ck_assert_int_eq(meta.epoch, 2);
    ck_assert_int_eq(meta.step, 20);
    ck_assert_ptr_nonnull(meta.model_source);
    ck_assert_ptr_nonnull(strstr(meta.model_source, "rbm-cd1"));
    rg_checkpoint_meta_clear(&meta);
    rg_runtime_free(rt);

    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    run(command);
}
END_TEST

START_TEST(cli_check_reports_location)
{
    char dir[] = "/tmp/rg-check-XXXXXX";
    char command[8192], path[4200], text[2048] = "";
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/bad.yaml", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("model: bad\n"
          "dims: {batch: 2, visible: 3, hidden: 4}\n"
          "params:\n"
          "  W: {shape: [visible, hidden]}\n"
          "inputs:\n"
          "  v0: {shape: [batch, visible]}\n"
          "metrics:\n"
          "  e: sum(v0 @ W.T)\n", f);
    fclose(f);
    snprintf(command, sizeof(command),
             "'%s/tools/rbm-graph' check '%s' > /dev/null 2> '%s/err.txt'",
             build_root(), path, dir);
    ck_assert_int_eq(run(command), 1);

    snprintf(path, sizeof(path), "%s/err.txt", dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(text, "bad.yaml:8:") != NULL, "stderr: %s", text);
    ck_assert_msg(strstr(text, "[2, 3] @ [4, 3]") != NULL, "stderr: %s",
                  text);

    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    run(command);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("fashion-mnist");

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, cd1_recon_error_falls);
    tcase_add_test(tc, shipped_models_train);
    tcase_add_test(tc, optimized_plan_trains_like_unoptimized);
    tcase_add_test(tc, cli_train_writes_log_and_checkpoint);
    tcase_add_test(tc, cli_check_reports_location);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(train_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
