/*
 * End-to-end tests of the RBM toolkit on Fashion-MNIST subsets: the
 * shipped models train with falling reconstruction error, a resumed run
 * matches an uninterrupted one bit for bit, checkpoints record the
 * settings used, and the eval, sample, filters and features commands
 * write what they promise (PNG files are decoded back with libpng). The
 * data comes from Debian's dataset-fashion-mnist package.
 */
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rbmgraph/rbmgraph.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"
#define TRAIN_DATA FASHION "train-images-idx3-ubyte.gz"
#define TEST_DATA FASHION "t10k-images-idx3-ubyte.gz"

/* Temporary folder for every test's files, removed by main. */
static char g_dir[256];

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

    ck_assert_msg(stat(TRAIN_DATA, &st) == 0 && stat(TEST_DATA, &st) == 0,
                  "%s is missing; install the dataset-fashion-mnist package "
                  "(tools/install-deps.sh does)", FASHION);
}

/* Returns "<g_dir>/<name>" in `buf`. */
static const char *tmp_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

/*
 * Runs `rbm-graph ARGS` with models/ as $M and the temporary folder as
 * $D, stdout to D/out.txt and stderr to D/err.txt. Returns the exit
 * status.
 */
static int rbm_graph(const char *fmt, ...)
{
    char args[4096], command[8192];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(command, sizeof(command),
             "M='%s/models' D='%s'; '%s/tools/rbm-graph' %s > \"$D/out.txt\" "
             "2> \"$D/err.txt\"", source_root(), g_dir, build_root(), args);
    status = system(command);
    ck_assert_int_ne(status, -1);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Reads D/`name` (out.txt or err.txt) into `buf`. */
static const char *read_output(const char *name, char *buf, size_t size)
{
    char path[512];
    FILE *f = fopen(tmp_path(name, path, sizeof(path)), "r");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs rbm_graph and fails the test with its stderr unless it exits 0. */
#define RUN_OK(...)                                                         \
    do {                                                                    \
        char err_text_[4096];                                               \
        int status_ = rbm_graph(__VA_ARGS__);                               \
        ck_assert_msg(status_ == 0, "exit status %d: %s", status_,          \
                      read_output("err.txt", err_text_,                     \
                                  sizeof(err_text_)));                      \
    } while (0)

/* --- models --------------------------------------------------------------- */

/* Trains `model`, with `setting` ("name=value" or NULL) applied, on the
 * first `rows` images; stores each epoch's mean of metric `metric` (0 is
 * recon_error) in `values`. */
static void train_model(const char *model, const char *setting,
                        bool standardize, int epochs, int64_t rows,
                        int metric, double *values)
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
    if (setting != NULL) {
        char name[64];
        const char *eq = strchr(setting, '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq - setting), setting);
        ck_assert_msg(rg_model_set(m, name, eq + 1, &err) == RG_STATUS_OK,
                      "%s", err.message);
    }
    options.max_rows = rows;
    ck_assert_msg(rg_dataset_load(TRAIN_DATA, &options, &ds, &err) ==
                  RG_STATUS_OK, "%s", err.message);
    if (standardize) {
        float mean[784], std[784];
        ck_assert_int_eq(rg_dataset_column_stats(ds, 0.1, mean, std, &err),
                         RG_STATUS_OK);
        ck_assert_int_eq(rg_dataset_set_standardize(ds, mean, std, &err),
                         RG_STATUS_OK);
    }
    ck_assert_int_eq(rg_runtime_new("cpu", 11, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_trainer_new(m, "train", rt, NULL, &t, &err) ==
                  RG_STATUS_OK, "%s: %s", model, err.message);
    ck_assert_int_gt(rg_trainer_n_metrics(t), metric);
    for (int e = 0; e < epochs; e++) {
        rg_epoch_stats stats;

        ck_assert_msg(rg_trainer_run_epoch(t, ds, 11, (uint64_t)e + 1, NULL,
                                           NULL, &stats, &err) ==
                      RG_STATUS_OK, "%s: %s", model, err.message);
        values[e] = stats.metrics[metric];
    }
    rg_trainer_free(t);
    rg_runtime_free(rt);
    rg_dataset_free(ds);
    rg_model_free(m);
}

/* Every training variant lowers its reconstruction error over 3 epochs. */
START_TEST(models_recon_error_falls)
{
    static const struct {
        const char *file;
        bool standardize;
    } models[] = {
        {"rbm-momentum.yaml", false}, {"rbm-decay.yaml", false},
        {"rbm-sparse.yaml", false},   {"rbm-cdk.yaml", false},
        {"rbm-pcd.yaml", false},      {"rbm-gaussian.yaml", true},
    };
    double recon[3];

    require_data();
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        train_model(models[i].file, NULL, models[i].standardize, 3, 2000, 0,
                    recon);
        printf("%s: recon_error %.3f %.3f %.3f\n", models[i].file, recon[0],
               recon[1], recon[2]);
        ck_assert_msg(isfinite(recon[0]) && recon[0] > 0.0, "%s: %g",
                      models[i].file, recon[0]);
        ck_assert_msg(recon[1] < recon[0], "%s: error %g then %g",
                      models[i].file, recon[0], recon[1]);
        ck_assert_msg(recon[2] < recon[1], "%s: error %g then %g",
                      models[i].file, recon[1], recon[2]);
    }
}
END_TEST

/* The sparsity penalty pulls the mean hidden activation toward the target
 * 0.05, well below that of the same model without the penalty. */
START_TEST(sparse_activation_nears_target)
{
    double sparse[3], plain[3];

    require_data();
    train_model("rbm-sparse.yaml", NULL, false, 3, 2000, 1, sparse);
    train_model("rbm-sparse.yaml", "sparsity_cost=0", false, 3, 2000, 1,
                plain);
    printf("rbm-sparse.yaml: mean_activation %.4f %.4f %.4f, without the "
           "penalty %.4f %.4f %.4f\n", sparse[0], sparse[1], sparse[2],
           plain[0], plain[1], plain[2]);
    ck_assert_msg(sparse[2] < 0.5 * plain[2], "mean activation %g with the "
                  "penalty, %g without", sparse[2], plain[2]);
    ck_assert_msg(sparse[2] < 0.12, "mean activation %g is far above the "
                  "target 0.05", sparse[2]);
}
END_TEST

/* --- resume and checkpoint metadata --------------------------------------- */

/* Loads checkpoint `name` of the temporary folder into a new runtime. */
static rg_runtime *load_checkpoint(const char *name, rg_checkpoint_meta *meta)
{
    char path[512];
    rg_runtime *rt;
    rg_error err;

    ck_assert_int_eq(rg_runtime_new("cpu", 0, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_checkpoint_load(rt, tmp_path(name, path, sizeof(path)),
                                     meta, &err) == RG_STATUS_OK, "%s: %s",
                  name, err.message);
    return rt;
}

/* Checks that every tensor of `a` exists in `b` with the same bits. */
static void expect_same_tensors(rg_runtime *a, rg_runtime *b,
                                const char *what)
{
    ck_assert_int_eq(rg_runtime_n_tensors(a), rg_runtime_n_tensors(b));
    for (int i = 0; i < rg_runtime_n_tensors(a); i++) {
        const char *name = rg_runtime_tensor_name(a, i);
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(a, i));
        float *va = malloc((size_t)n * sizeof(float));
        float *vb = malloc((size_t)n * sizeof(float));
        rg_error err;

        ck_assert(va != NULL && vb != NULL);
        ck_assert_int_eq(rg_runtime_read(a, name, va, n, &err), RG_STATUS_OK);
        ck_assert_msg(rg_runtime_read(b, name, vb, n, &err) == RG_STATUS_OK,
                      "%s: tensor %s: %s", what, name, err.message);
        for (int64_t k = 0; k < n; k++) {
            ck_assert_msg(memcmp(&va[k], &vb[k], sizeof(float)) == 0,
                          "%s: tensor %s element %lld: %.9g straight, %.9g "
                          "resumed", what, name, (long long)k, (double)va[k],
                          (double)vb[k]);
        }
        free(va);
        free(vb);
    }
}

/*
 * Two epochs straight and one epoch, a resume, then one more give the same
 * params and state, bit for bit: PCD keeps its fantasy particles, momentum
 * its velocities, and the sparse model its running activation.
 */
START_TEST(resume_matches_straight_run)
{
    static const char *models[] = {"rbm-pcd.yaml", "rbm-momentum.yaml",
                                   "rbm-sparse.yaml"};

    require_data();
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        rg_checkpoint_meta straight_meta, resumed_meta;

        RUN_OK("train \"$M/%s\" --epochs 2 --max-rows 600 --seed 5 "
               "--set hidden=50 --save \"$D/straight.npz\"", models[i]);
        RUN_OK("train \"$M/%s\" --epochs 1 --max-rows 600 --seed 5 "
               "--set hidden=50 --save \"$D/half.npz\"", models[i]);
        RUN_OK("train --resume \"$D/half.npz\" --epochs 2 "
               "--save \"$D/resumed.npz\"");

        rg_runtime *straight = load_checkpoint("straight.npz",
                                               &straight_meta);
        rg_runtime *resumed = load_checkpoint("resumed.npz", &resumed_meta);
        expect_same_tensors(straight, resumed, models[i]);
        ck_assert_uint_eq(resumed_meta.epoch, 2);
        ck_assert_uint_eq(resumed_meta.step, straight_meta.step);
        ck_assert_uint_eq(resumed_meta.seed, 5);
        ck_assert_str_eq(resumed_meta.hypers, straight_meta.hypers);
        rg_checkpoint_meta_clear(&straight_meta);
        rg_checkpoint_meta_clear(&resumed_meta);
        rg_runtime_free(straight);
        rg_runtime_free(resumed);
    }
}
END_TEST

START_TEST(checkpoint_records_settings)
{
    rg_checkpoint_meta meta;
    char path[512];
    rg_error err;

    require_data();
    RUN_OK("train \"$M/rbm-cd1.yaml\" --epochs 1 --max-rows 300 --seed 9 "
           "--set hidden=40 --set lr=0.05 --binarize --save \"$D/c.npz\"");
    ck_assert_msg(rg_checkpoint_read_meta(tmp_path("c.npz", path,
                                                   sizeof(path)),
                                          &meta, &err) == RG_STATUS_OK,
                  "%s", err.message);
    ck_assert_uint_eq(meta.seed, 9);
    ck_assert_uint_eq(meta.epoch, 1);
    ck_assert_uint_eq(meta.step, 3);
    ck_assert_ptr_nonnull(strstr(meta.model_source, "model: rbm-cd1"));
    ck_assert_ptr_nonnull(strstr(meta.dims, "hidden=40\n"));
    ck_assert_ptr_nonnull(strstr(meta.dims, "batch=100\n"));
    /* 0.05 printed with 17 significant digits parses back exactly. */
    const char *lr = strstr(meta.hypers, "lr=");
    ck_assert_ptr_nonnull(lr);
    ck_assert_double_eq(strtod(lr + 3, NULL), 0.05);
    ck_assert_ptr_nonnull(strstr(meta.data, "binarize=1\n"));
    ck_assert_ptr_nonnull(strstr(meta.data, "max_rows=300\n"));
    ck_assert_int_eq(meta.n_columns, 0);
    rg_checkpoint_meta_clear(&meta);
}
END_TEST

/* --standardize stores the training data's column statistics. */
START_TEST(standardize_stored_and_used)
{
    rg_checkpoint_meta meta;
    char path[512], out[4096];
    rg_error err;

    require_data();
    RUN_OK("train \"$M/rbm-gaussian.yaml\" --epochs 2 --max-rows 1000 "
           "--set hidden=50 --standardize --save \"$D/g.npz\"");
    ck_assert_int_eq(rg_checkpoint_read_meta(tmp_path("g.npz", path,
                                                      sizeof(path)),
                                             &meta, &err), RG_STATUS_OK);
    ck_assert_int_eq(meta.n_columns, 784);
    ck_assert_ptr_nonnull(strstr(meta.data, "standardize=1\n"));

    /* The stored statistics are those of the first 1000 images. */
    rg_data_options options = rg_data_options_default();
    rg_dataset *ds;
    float mean[784], std[784];
    options.max_rows = 1000;
    ck_assert_int_eq(rg_dataset_load(TRAIN_DATA, &options, &ds, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_dataset_column_stats(ds, 0.1, mean, std, &err),
                     RG_STATUS_OK);
    for (int c = 0; c < 784; c++) {
        ck_assert_float_eq(meta.data_mean[c], mean[c]);
        ck_assert_float_eq(meta.data_std[c], std[c]);
        ck_assert(std[c] >= 0.1f);
    }
    rg_dataset_free(ds);
    rg_checkpoint_meta_clear(&meta);

    /* eval reads the held-out data standardised; the Gaussian model has
     * no pseudo-likelihood entry, so that line is missing. */
    RUN_OK("eval \"$D/g.npz\" --rows 300 --train-rows 300 --betas 20 "
           "--chains 10");
    read_output("out.txt", out, sizeof(out));
    ck_assert_msg(strstr(out, "recon_error: held-out") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "pseudo_likelihood") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "log_likelihood: held-out") != NULL, "%s",
                  out);
}
END_TEST

/* --valid adds held-out columns to the log; --every still averages. */
START_TEST(valid_metrics_logged)
{
    char path[512], line[1024];
    int rows = 0;

    require_data();
    RUN_OK("train \"$M/rbm-cd1.yaml\" --epochs 2 --max-rows 500 "
           "--set hidden=30 --valid " TEST_DATA " --valid-rows 200 "
           "--every 2 --log \"$D/log.csv\"");
    FILE *f = fopen(tmp_path("log.csv", path, sizeof(path)), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_str_eq(line, "epoch,recon_error,valid_recon_error,"
                     "train_free_energy,valid_free_energy,free_energy_gap,"
                     "samples_per_second,seconds,elapsed_seconds\n");
    while (fgets(line, sizeof(line), f) != NULL) {
        double v[6];
        int epoch;

        ck_assert_int_eq(sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf", &epoch,
                                &v[0], &v[1], &v[2], &v[3], &v[4]), 6);
        ck_assert_int_eq(epoch, ++rows);
        for (int i = 0; i < 5; i++) {
            ck_assert_msg(isfinite(v[i]), "column %d of epoch %d", i + 1,
                          epoch);
        }
        ck_assert_double_eq_tol(v[4], v[3] - v[2], 1e-6 * fabs(v[3]));
    }
    fclose(f);
    ck_assert_int_eq(rows, 2);
}
END_TEST

START_TEST(bad_usage_rejected)
{
    char err[4096];

    ck_assert_int_eq(rbm_graph("train --resume \"$D/none.npz\" "
                               "\"$M/rbm-cd1.yaml\""), 2);
    ck_assert_ptr_nonnull(strstr(read_output("err.txt", err, sizeof(err)),
                                 "drop the MODEL"));
    ck_assert_int_eq(rbm_graph("sample x.npz --from nowhere"), 2);
    ck_assert_int_eq(rbm_graph("eval x.npz --schedule cubic"), 2);
    ck_assert_int_eq(rbm_graph("sample x.npz --shape 28"), 2);
    ck_assert_int_eq(rbm_graph("features x.npz --data y.npy"), 2);
    ck_assert_int_eq(rbm_graph("eval \"$D/none.npz\""), 1);
    ck_assert_ptr_nonnull(strstr(read_output("err.txt", err, sizeof(err)),
                                 "none.npz"));
}
END_TEST

/* --- pictures and features ------------------------------------------------ */

/* A decoded 8-bit grayscale PNG. */
typedef struct gray_image {
    int width;
    int height;
    uint8_t *pixels;
} gray_image;

static gray_image decode_png(const char *name)
{
    char path[512];
    png_image image;
    gray_image out;

    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(
                      &image, tmp_path(name, path, sizeof(path))) != 0,
                  "%s: %s", name, image.message);
    ck_assert_int_eq(image.format, PNG_FORMAT_GRAY);
    out.width = (int)image.width;
    out.height = (int)image.height;
    out.pixels = malloc(PNG_IMAGE_SIZE(image));
    ck_assert_ptr_nonnull(out.pixels);
    ck_assert_msg(png_image_finish_read(&image, NULL, out.pixels, 0, NULL)
                  != 0, "%s: %s", name, image.message);
    return out;
}

static int pixel(const gray_image *g, int x, int y)
{
    return g->pixels[(size_t)y * (size_t)g->width + (size_t)x];
}

/* The params W [784, hidden], bv and bh of a checkpoint, in double. */
typedef struct rbm_params {
    int hidden;
    double *w;
    double *bv;
    double *bh;
} rbm_params;

static rbm_params read_params(const char *name)
{
    rg_runtime *rt = load_checkpoint(name, NULL);
    int index = rg_runtime_find_tensor(rt, "W");
    rbm_params p;
    rg_error err;

    ck_assert_int_ge(index, 0);
    p.hidden = (int)rg_runtime_tensor_shape(rt, index).dims[1];
    float *w = malloc((size_t)(784 * p.hidden) * sizeof(float));
    float bv[784], *bh = malloc((size_t)p.hidden * sizeof(float));
    p.w = malloc((size_t)(784 * p.hidden) * sizeof(double));
    p.bv = malloc(784 * sizeof(double));
    p.bh = malloc((size_t)p.hidden * sizeof(double));
    ck_assert(w != NULL && bh != NULL && p.w != NULL && p.bv != NULL
              && p.bh != NULL);
    ck_assert_int_eq(rg_runtime_read(rt, "W", w, 784 * p.hidden, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_read(rt, "bv", bv, 784, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_read(rt, "bh", bh, p.hidden, &err),
                     RG_STATUS_OK);
    for (int i = 0; i < 784 * p.hidden; i++) {
        p.w[i] = w[i];
    }
    for (int i = 0; i < 784; i++) {
        p.bv[i] = bv[i];
    }
    for (int j = 0; j < p.hidden; j++) {
        p.bh[j] = bh[j];
    }
    free(w);
    free(bh);
    rg_runtime_free(rt);
    return p;
}

static void free_params(rbm_params *p)
{
    free(p->w);
    free(p->bv);
    free(p->bh);
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Hidden probabilities of one image: sigmoid(v @ W + bh), [hidden]. */
static void hidden_probs(const rbm_params *p, const float *v, double *h)
{
    for (int j = 0; j < p->hidden; j++) {
        double a = p->bh[j];
        for (int i = 0; i < 784; i++) {
            a += v[i] * p->w[i * p->hidden + j];
        }
        h[j] = sigmoid(a);
    }
}

/* The first `n` test images, scaled to [0, 1]. */
static float *test_images(int n)
{
    rg_data_options options = rg_data_options_default();
    rg_dataset *ds;
    rg_error err;
    int64_t rows[300];
    float *v = malloc((size_t)n * 784 * sizeof(float));

    ck_assert(n <= 300 && v != NULL);
    options.max_rows = n;
    ck_assert_int_eq(rg_dataset_load(TEST_DATA, &options, &ds, &err),
                     RG_STATUS_OK);
    for (int r = 0; r < n; r++) {
        rows[r] = r;
    }
    rg_dataset_gather(ds, rows, n, v);
    rg_dataset_free(ds);
    return v;
}

/*
 * The mean-field model's sample step is deterministic, so one step from
 * the first test images must show sigmoid(sigmoid(v W + bh) W.T + bv) as
 * gray levels, within one level for float32 rounding.
 */
START_TEST(sample_png_shows_mean_field_step)
{
    enum { CHAINS = 6, TILE = 28, HIDDEN = 40 };
    double h[HIDDEN];

    require_data();
    RUN_OK("train \"$M/rbm-meanfield.yaml\" --epochs 1 --max-rows 500 "
           "--set hidden=40 --save \"$D/mf.npz\"");
    RUN_OK("sample \"$D/mf.npz\" -n 6 --steps 1 --from data -o "
           "\"$D/s.png\"");
    gray_image g = decode_png("s.png");

    /* 6 tiles in 3 columns and 2 rows, with a 1-pixel border. */
    ck_assert_int_eq(g.width, 3 * (TILE + 1) + 1);
    ck_assert_int_eq(g.height, 2 * (TILE + 1) + 1);
    ck_assert_int_eq(pixel(&g, 0, 0), 128);
    ck_assert_int_eq(pixel(&g, 29, 10), 128);

    rbm_params p = read_params("mf.npz");
    float *v = test_images(CHAINS);
    int worst = 0;
    for (int t = 0; t < CHAINS; t++) {
        hidden_probs(&p, v + t * 784, h);
        for (int i = 0; i < 784; i += 7) {
            double a = p.bv[i];
            for (int j = 0; j < HIDDEN; j++) {
                a += h[j] * p.w[i * HIDDEN + j];
            }
            int want = (int)lrint(255.0 * sigmoid(a));
            int x = 1 + (t % 3) * (TILE + 1) + i % TILE;
            int y = 1 + (t / 3) * (TILE + 1) + i / TILE;
            int diff = abs(pixel(&g, x, y) - want);
            ck_assert_msg(diff <= 1, "tile %d pixel %d: %d, expected %d", t,
                          i, pixel(&g, x, y), want);
            worst = diff > worst ? diff : worst;
        }
    }
    printf("sample_png_shows_mean_field_step: worst gray-level error %d\n",
           worst);
    free(v);
    free_params(&p);
    free(g.pixels);

    /* Snapshots: one row per snapshot, one column per chain. */
    RUN_OK("sample \"$D/mf.npz\" -n 4 --steps 6 --snapshots 3 -o "
           "\"$D/s3.png\"");
    g = decode_png("s3.png");
    ck_assert_int_eq(g.width, 4 * (TILE + 1) + 1);
    ck_assert_int_eq(g.height, 3 * (TILE + 1) + 1);
    free(g.pixels);
}
END_TEST

/* Each filter tile runs from black at its smallest weight to white at its
 * largest. */
START_TEST(filters_png_scaled_per_tile)
{
    enum { COUNT = 10, TILE = 28 };

    require_data();
    RUN_OK("train \"$M/rbm-cd1.yaml\" --epochs 1 --max-rows 500 "
           "--set hidden=40 --save \"$D/f.npz\"");
    RUN_OK("filters \"$D/f.npz\" -n 10 -o \"$D/f.png\"");
    gray_image g = decode_png("f.png");
    rbm_params p = read_params("f.npz");

    /* 10 tiles in 4 columns and 3 rows. */
    ck_assert_int_eq(g.width, 4 * (TILE + 1) + 1);
    ck_assert_int_eq(g.height, 3 * (TILE + 1) + 1);
    for (int t = 0; t < COUNT; t++) {
        double low = INFINITY, high = -INFINITY;
        int x0 = 1 + (t % 4) * (TILE + 1), y0 = 1 + (t / 4) * (TILE + 1);

        for (int i = 0; i < 784; i++) {
            low = fmin(low, p.w[i * p.hidden + t]);
            high = fmax(high, p.w[i * p.hidden + t]);
        }
        for (int i = 0; i < 784; i++) {
            double scaled = (p.w[i * p.hidden + t] - low) / (high - low);
            int want = (int)lrint(255.0 * scaled);
            int got = pixel(&g, x0 + i % TILE, y0 + i / TILE);
            ck_assert_msg(abs(got - want) <= 1, "tile %d pixel %d: %d, "
                          "expected %d", t, i, got, want);
        }
    }
    free_params(&p);
    free(g.pixels);
}
END_TEST

/* features on 250 rows (two full minibatches and a padded one) writes one
 * row of hidden probabilities per example. */
START_TEST(features_npy_matches_reference)
{
    enum { ROWS = 250, HIDDEN = 40 };
    const int64_t shape[2] = {ROWS, 784};
    static const char header[] =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (250, 40), }";
    char path[512];
    double h[HIDDEN];
    rg_error err;

    require_data();
    float *v = test_images(ROWS);
    ck_assert_int_eq(rg_npy_save(tmp_path("x.npy", path, sizeof(path)), 2,
                                 shape, v, &err), RG_STATUS_OK);
    RUN_OK("train \"$M/rbm-cd1.yaml\" --epochs 1 --max-rows 500 "
           "--set hidden=40 --save \"$D/h.npz\"");
    RUN_OK("features \"$D/h.npz\" --data \"$D/x.npy\" -o \"$D/h.npy\"");

    FILE *f = fopen(tmp_path("h.npy", path, sizeof(path)), "rb");
    unsigned char head[128];
    float row[HIDDEN];
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(head, 1, sizeof(head), f), sizeof(head));
    ck_assert_int_eq(memcmp(head, "\x93NUMPY\x01\x00", 8), 0);
    ck_assert_int_eq(memcmp(head + 10, header, strlen(header)), 0);

    rbm_params p = read_params("h.npz");
    double worst = 0.0;
    for (int r = 0; r < ROWS; r++) {
        ck_assert_uint_eq(fread(row, sizeof(float), HIDDEN, f), HIDDEN);
        hidden_probs(&p, v + r * 784, h);
        for (int j = 0; j < HIDDEN; j++) {
            double diff = fabs(row[j] - h[j]);
            ck_assert_msg(diff < 1e-5, "row %d unit %d: %.7f, reference "
                          "%.7f", r, j, (double)row[j], h[j]);
            worst = diff > worst ? diff : worst;
        }
    }
    ck_assert_int_eq(fgetc(f), EOF);
    fclose(f);
    printf("features_npy_matches_reference: worst error %.3g\n", worst);
    free_params(&p);
    free(v);
}
END_TEST

START_TEST(eval_reports_every_metric)
{
    char out[4096];
    double held_out, train, gap;

    require_data();
    RUN_OK("train \"$M/rbm-cd1.yaml\" --epochs 1 --max-rows 500 "
           "--set hidden=40 --save \"$D/e.npz\"");
    RUN_OK("eval \"$D/e.npz\" --rows 250 --train-rows 300 --betas 50 "
           "--chains 20");
    read_output("out.txt", out, sizeof(out));
    ck_assert_msg(strstr(out, "(250 examples)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "(first 300 examples)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "recon_error: held-out") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "pseudo_likelihood: held-out") != NULL, "%s",
                  out);
    ck_assert_msg(strstr(out, "log_z: ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "20 chains, 50 steps") != NULL, "%s", out);
    const char *fe = strstr(out, "free_energy: held-out");
    ck_assert_ptr_nonnull(fe);
    ck_assert_int_eq(sscanf(fe, "free_energy: held-out %lf, training %lf, "
                            "gap %lf", &held_out, &train, &gap), 3);
    ck_assert_double_eq_tol(gap, held_out - train, 2e-4);

    /* The even spacing runs too. */
    RUN_OK("eval \"$D/e.npz\" --rows 100 --train-rows 100 --chains 10 "
           "--betas 30 --schedule linear");
    read_output("out.txt", out, sizeof(out));
    ck_assert_msg(strstr(out, "10 chains, 30 steps") != NULL, "%s", out);

    /* An explicit schedule replaces --betas. */
    char path[512];
    FILE *f = fopen(tmp_path("betas.txt", path, sizeof(path)), "w");
    ck_assert_ptr_nonnull(f);
    fputs("# inverse temperatures\n0\n0.25\n0.5\n0.75\n1\n", f);
    fclose(f);
    RUN_OK("eval \"$D/e.npz\" --rows 100 --train-rows 100 --chains 10 "
           "--temperatures \"$D/betas.txt\"");
    read_output("out.txt", out, sizeof(out));
    ck_assert_msg(strstr(out, "10 chains, 4 steps") != NULL, "%s", out);
}
END_TEST

/* --- PNG writer ----------------------------------------------------------- */

START_TEST(png_tiles_clip_and_scale)
{
    /* Two 2x3 tiles: the first clipped, the second scaled per tile. */
    static const float tiles[12] = {0.0f, 0.5f, 1.0f, -1.0f, 2.0f, NAN,
                                    1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    rg_tile_grid clip = {2, 3, 2, 1, RG_TILE_SCALE_CLIP};
    rg_tile_grid scale = {2, 3, 1, 0, RG_TILE_SCALE_PER_TILE};
    static const float flat[6] = {3, 3, 3, 3, 3, 3};
    char path[512];
    rg_error err;

    ck_assert_int_eq(rg_png_write_tiles(tmp_path("c.png", path, sizeof(path)),
                                        tiles, 2, &clip, &err), RG_STATUS_OK);
    gray_image g = decode_png("c.png");
    ck_assert_int_eq(g.width, 2 * 4 + 1);
    ck_assert_int_eq(g.height, 2 + 2);
    static const int first[6] = {0, 128, 255, 0, 255, 0};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(pixel(&g, 1 + i % 3, 1 + i / 3), first[i]);
    }
    ck_assert_int_eq(pixel(&g, 4, 1), 128); /* border between tiles */
    free(g.pixels);

    /* No border, one column: tiles stack; the second spans 0 to 255. */
    ck_assert_int_eq(rg_png_write_tiles(path, tiles, 2, &scale, &err),
                     RG_STATUS_OK);
    g = decode_png("c.png");
    ck_assert_int_eq(g.width, 3);
    ck_assert_int_eq(g.height, 4);
    ck_assert_int_eq(pixel(&g, 0, 2), 0);
    ck_assert_int_eq(pixel(&g, 1, 2), 51);
    ck_assert_int_eq(pixel(&g, 2, 3), 255);
    free(g.pixels);

    /* A constant tile is mid-gray. */
    ck_assert_int_eq(rg_png_write_tiles(path, flat, 1, &scale, &err),
                     RG_STATUS_OK);
    g = decode_png("c.png");
    ck_assert_int_eq(pixel(&g, 1, 1), 128);
    free(g.pixels);
}
END_TEST

START_TEST(png_rejects_bad_grids)
{
    static const float tile[4] = {0, 0, 0, 0};
    rg_tile_grid bad_size = {0, 2, 1, 1, RG_TILE_SCALE_CLIP};
    rg_tile_grid bad_border = {2, 2, 1, -1, RG_TILE_SCALE_CLIP};
    rg_tile_grid too_wide = {2, 40000, 2, 0, RG_TILE_SCALE_CLIP};
    char path[512];
    rg_error err;

    tmp_path("bad.png", path, sizeof(path));
    ck_assert_int_eq(rg_png_write_tiles(path, tile, 1, &bad_size, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_int_eq(rg_png_write_tiles(path, tile, 1, &bad_border, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_int_eq(rg_png_write_tiles(path, tile, 0, &bad_border, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_int_eq(rg_png_write_tiles(path, tile, 2, &too_wide, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "65535"));
    ck_assert_int_eq(rg_png_write_gray("/nonexistent-dir/x.png", 1, 1,
                                       (const uint8_t *)"", &err),
                     RG_STATUS_NOT_FOUND);
    ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

static Suite *toolkit_suite(void)
{
    Suite *s = suite_create("toolkit");
    TCase *tc_models = tcase_create("models");
    TCase *tc_cli = tcase_create("cli");
    TCase *tc_png = tcase_create("png");

    tcase_set_timeout(tc_models, 300);
    tcase_add_test(tc_models, models_recon_error_falls);
    tcase_add_test(tc_models, sparse_activation_nears_target);
    suite_add_tcase(s, tc_models);

    tcase_set_timeout(tc_cli, 300);
    tcase_add_test(tc_cli, resume_matches_straight_run);
    tcase_add_test(tc_cli, checkpoint_records_settings);
    tcase_add_test(tc_cli, standardize_stored_and_used);
    tcase_add_test(tc_cli, valid_metrics_logged);
    tcase_add_test(tc_cli, bad_usage_rejected);
    tcase_add_test(tc_cli, sample_png_shows_mean_field_step);
    tcase_add_test(tc_cli, filters_png_scaled_per_tile);
    tcase_add_test(tc_cli, features_npy_matches_reference);
    tcase_add_test(tc_cli, eval_reports_every_metric);
    suite_add_tcase(s, tc_cli);

    tcase_add_test(tc_png, png_tiles_clip_and_scale);
    tcase_add_test(tc_png, png_rejects_bad_grids);
    suite_add_tcase(s, tc_png);
    return s;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char command[512];
    SRunner *sr;
    int n_failed;

    snprintf(g_dir, sizeof(g_dir), "%s/rg-test-toolkit-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    sr = srunner_create(toolkit_suite());
    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(command, sizeof(command), "rm -rf '%s'", g_dir);
    if (system(command) != 0) {
        fprintf(stderr, "test_toolkit: could not remove %s\n", g_dir);
    }
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
