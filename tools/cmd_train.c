/*
 * rbm-graph train: trains a model's train entry on a data set, with a
 * progress bar on a terminal, a metrics line per epoch, optional held-out
 * metrics, an optional CSV log and atomic checkpoints after every epoch.
 * A run resumed from a checkpoint continues exactly where it stopped: the
 * shuffle is keyed by (seed, epoch), random draws by (seed, step), and
 * params, state, seed, step and epoch all come from the checkpoint.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_checkpoint.h"

/* Random steps of the held-out evaluation, far above any training step.
 * Every epoch uses the same draws so that epochs compare fairly. */
#define VALID_STEP_BASE (UINT64_C(1) << 62)
#define VALID_STEP_RANGE (UINT64_C(1) << 32)

static const char train_help[] =
    "Usage: rbm-graph train MODEL [options]\n"
    "       rbm-graph train --resume CKPT [options]\n"
    "\n"
    "Train MODEL's 'train' entry point on a data set, one line of metrics\n"
    "per epoch on stdout. Progress goes to stderr (a bar on a terminal).\n"
    "With --resume the model, seed, params, state and training position\n"
    "come from the checkpoint, and so do the data path, --max-rows,\n"
    "--binarize and the standardisation unless given again; the result is\n"
    "bit for bit the same as a run that never stopped.\n"
    "\n"
    "Options:\n"
    "  -d, --data FILE       training data: IDX (gzip or plain), .npy or\n"
    "                        CSV, one example per row (default:\n"
    "                        " DEFAULT_TRAIN_DATA ")\n"
    "  -e, --epochs N        train until N epochs are done, counting those\n"
    "                        in a resumed checkpoint (default 10)\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable,\n"
    "                        for example --set lr=0.05 --set batch=64\n"
    "      --seed N          seed of initial values, shuffling and sampling\n"
    "                        (default 1)\n"
    "      --max-rows N      use only the first N examples (default: all)\n"
    "      --binarize        replace each value v by 1 if v > 0.5, else 0\n"
    "      --standardize     shift and scale each column of the data to\n"
    "                        mean 0 and standard deviation 1, with the\n"
    "                        training data's statistics (for real-valued\n"
    "                        models such as models/rbm-gaussian.yaml)\n"
    "      --min-std X       under --standardize, divide columns whose\n"
    "                        standard deviation is below X by X (default\n"
    "                        0.1), so near-constant pixels stay small\n"
    "      --valid FILE      held-out data: after every epoch report its\n"
    "                        reconstruction error (the 'evaluate' entry)\n"
    "                        and the free-energy gap, held-out minus as many\n"
    "                        first training examples\n"
    "      --valid-rows N    use only the first N held-out examples\n"
    "      --every N         read the training metrics on every N-th\n"
    "                        minibatch only (default 1: every minibatch)\n"
    "  -o, --save FILE       write params, state and metadata to FILE (.npz)\n"
    "                        after every epoch, atomically (default with\n"
    "                        --resume: the checkpoint resumed from)\n"
    "  -r, --resume CKPT     continue the run saved in checkpoint CKPT\n"
    "  -l, --log FILE        write the per-epoch metrics to FILE as CSV;\n"
    "                        with --resume, rows are appended\n"
    "      --device NAME     device to run on: cpu (default), auto, opencl\n"
    "                        or opencl:P:D ('rbm-graph devices' lists them)\n"
    "      --no-cache        compile OpenCL kernels without the program\n"
    "                        cache\n"
    "  -h, --help            show this help and exit\n";

typedef struct train_args {
    const char *model;
    const char *data;   /* NULL: from --resume, else DEFAULT_TRAIN_DATA */
    const char *save;
    const char *log;
    const char *device;
    const char *resume;
    const char *valid;
    long long epochs;
    long long seed;     /* -1: from --resume, else 1 */
    long long max_rows; /* -1: from --resume, else 0 (all) */
    long long valid_rows;
    long long every;
    double min_std;
    bool binarize;
    bool standardize;
    bool no_cache;
    cli_sets sets;
} train_args;

/* Parses a positive number of at most 1e6 for --min-std. */
static bool parse_min_std(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end != '\0' || !isfinite(v) || v <= 0.0 || v > 1e6) {
        return false;
    }
    *out = v;
    return true;
}

static int parse_train_args(int argc, char **argv, train_args *a)
{
    enum {
        OPT_SEED = 256, OPT_MAX_ROWS, OPT_BINARIZE, OPT_DEVICE,
        OPT_STANDARDIZE, OPT_MIN_STD, OPT_VALID, OPT_VALID_ROWS, OPT_EVERY,
        OPT_NO_CACHE
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"epochs", required_argument, NULL, 'e'},
        {"set", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
        {"binarize", no_argument, NULL, OPT_BINARIZE},
        {"standardize", no_argument, NULL, OPT_STANDARDIZE},
        {"min-std", required_argument, NULL, OPT_MIN_STD},
        {"valid", required_argument, NULL, OPT_VALID},
        {"valid-rows", required_argument, NULL, OPT_VALID_ROWS},
        {"every", required_argument, NULL, OPT_EVERY},
        {"save", required_argument, NULL, 'o'},
        {"resume", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, ":d:e:s:o:r:l:h", options, NULL))
           != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->save = optarg; break;
        case 'r': a->resume = optarg; break;
        case 'l': a->log = optarg; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_NO_CACHE: a->no_cache = true; break;
        case OPT_BINARIZE: a->binarize = true; break;
        case OPT_STANDARDIZE: a->standardize = true; break;
        case OPT_VALID: a->valid = optarg; break;
        case OPT_MIN_STD:
            if (!parse_min_std(optarg, &a->min_std)) {
                return cli_usage_error("train ", "--min-std needs a number "
                                       "above 0 and at most 1e6, got '%s'",
                                       optarg);
            }
            break;
        case OPT_VALID_ROWS:
            if (!cli_parse_int(optarg, 1, LLONG_MAX, &a->valid_rows)) {
                return cli_usage_error("train ", "--valid-rows needs a "
                                       "positive integer, got '%s'", optarg);
            }
            break;
        case OPT_EVERY:
            if (!cli_parse_int(optarg, 1, LLONG_MAX, &a->every)) {
                return cli_usage_error("train ", "--every needs a positive "
                                       "integer, got '%s'", optarg);
            }
            break;
        case 'e':
            if (!cli_parse_int(optarg, 1, 1000000, &a->epochs)) {
                return cli_usage_error("train ", "--epochs needs an integer from "
                                   "1 to 1000000, got '%s'", optarg);
            }
            break;
        case OPT_SEED:
            if (!cli_parse_int(optarg, 0, LLONG_MAX, &a->seed)) {
                return cli_usage_error("train ", "--seed needs a non-negative "
                                   "integer, got '%s'", optarg);
            }
            break;
        case OPT_MAX_ROWS:
            if (!cli_parse_int(optarg, 1, LLONG_MAX, &a->max_rows)) {
                return cli_usage_error("train ", "--max-rows needs a positive "
                                   "integer, got '%s'", optarg);
            }
            break;
        case 's':
            if (cli_add_set(&a->sets, "train ", optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(train_help, stdout);
            return -1;
        default:
            return cli_option_error("train ", argv, c);
        }
    }
    if (a->resume != NULL) {
        if (optind != argc) {
            return cli_usage_error("train ", "train --resume takes the model "
                                   "from the checkpoint; drop the MODEL "
                                   "argument '%s'", argv[optind]);
        }
        return 0;
    }
    if (optind != argc - 1) {
        return cli_usage_error("train ", "train needs exactly one MODEL file");
    }
    a->model = argv[optind];
    return 0;
}

/* Progress on stderr: a bar on a terminal, nothing otherwise. */
typedef struct progress {
    bool tty;
    long long epoch;
    long long epochs;
} progress;

static void on_batch(int64_t done, int64_t total, void *user)
{
    const progress *p = user;
    enum { WIDTH = 30 };

    if (!p->tty || (done % 8 != 0 && done != total)) {
        return;
    }
    int filled = (int)(WIDTH * done / total);
    fprintf(stderr, "\repoch %lld/%lld [%.*s%*s] %3d%%", p->epoch, p->epochs,
            filled, "##############################", WIDTH - filled, "",
            (int)(100 * done / total));
    if (done == total) {
        fprintf(stderr, "\r%*s\r", WIDTH + 32, "");
    }
    fflush(stderr);
}

/* The model, runtime, data and drivers of one training run. */
typedef struct train_run {
    cli_checkpoint resumed;  /* the checkpoint of --resume, or zeroed */
    rg_model *model;         /* owned unless it is resumed.model */
    rg_runtime *rt;          /* owned unless it is resumed.rt */
    rg_dataset *ds;
    rg_dataset *valid;
    rg_trainer *t;
    rg_eval *ev;
    int64_t n_columns;       /* standardised columns, or 0 */
    float *data_mean;        /* [n_columns] */
    float *data_std;         /* [n_columns] */
    long long first_epoch;
    char *dims;              /* "name=value" lines for checkpoints */
    char *hypers;
    char data_text[4400];
} train_run;

/* Held-out metrics of one epoch. */
typedef struct valid_metrics {
    double recon_error;
    double train_free_energy;
    double valid_free_energy;
} valid_metrics;

static FILE *open_log(const char *path, const train_run *r, bool append)
{
    FILE *f = fopen(path, append ? "a" : "w");

    if (f == NULL) {
        fprintf(stderr, "%s: error: cannot open log file '%s': %s\n",
                cli_program, path, strerror(errno));
        return NULL;
    }
    if (append && ftell(f) > 0) {
        return f;
    }
    fprintf(f, "epoch");
    for (int i = 0; i < rg_trainer_n_metrics(r->t); i++) {
        fprintf(f, ",%s", rg_trainer_metric_name(r->t, i));
    }
    if (r->valid != NULL) {
        fprintf(f, ",valid_recon_error,train_free_energy,valid_free_energy,"
                "free_energy_gap");
    }
    fprintf(f, ",samples_per_second,seconds,elapsed_seconds\n");
    return f;
}

/* Prints the epoch's metrics line and its log row; returns 1 when the log
 * or stdout cannot be written, after saying so. */
static int report_epoch(const train_run *r, FILE *log, long long epoch,
                        long long epochs, const rg_epoch_stats *s,
                        const valid_metrics *v, double elapsed)
{
    const rg_trainer *t = r->t;
    double rate = s->n_samples / (s->seconds > 0 ? s->seconds : 1e-9);

    printf("epoch %lld/%lld", epoch, epochs);
    for (int i = 0; i < rg_trainer_n_metrics(t); i++) {
        printf("  %s %.4f", rg_trainer_metric_name(t, i), s->metrics[i]);
    }
    if (v != NULL) {
        printf("  valid_recon_error %.4f  free_energy_gap %.4f",
               v->recon_error, v->valid_free_energy - v->train_free_energy);
    }
    printf("  samples/s %.0f  time %.1f s  elapsed %.1f s\n", rate,
           s->seconds, elapsed);
    fflush(stdout);
    if (log != NULL) {
        fprintf(log, "%lld", epoch);
        for (int i = 0; i < rg_trainer_n_metrics(t); i++) {
            fprintf(log, ",%.9g", s->metrics[i]);
        }
        if (v != NULL) {
            fprintf(log, ",%.9g,%.9g,%.9g,%.9g", v->recon_error,
                    v->train_free_energy, v->valid_free_energy,
                    v->valid_free_energy - v->train_free_energy);
        }
        fprintf(log, ",%.1f,%.4f,%.4f\n", rate, s->seconds, elapsed);
        if (fflush(log) != 0 || ferror(log)) {
            fprintf(stderr, "%s: error: writing the log failed: %s\n",
                    cli_program, strerror(errno));
            return 1;
        }
    }
    if (ferror(stdout)) {
        fprintf(stderr, "%s: error: writing the metrics to stdout failed\n",
                cli_program);
        return 1;
    }
    return 0;
}

/*
 * Scores the held-out data with the model's evaluate entry: its mean
 * reconstruction error and free energy, and the mean free energy of as
 * many first training examples.
 */
static int run_validation(const train_run *r, valid_metrics *v)
{
    static const char *const both[] = {"recon_error", "free_energy"};
    static const char *const free_energy[] = {"free_energy"};
    int64_t n_train = rg_dataset_n_rows(r->valid);
    double means[2];
    rg_error err;

    if (n_train > rg_dataset_n_rows(r->ds)) {
        n_train = rg_dataset_n_rows(r->ds);
    }
    if (rg_eval_row_means(r->ev, "evaluate", r->valid, 0, VALID_STEP_BASE, 2,
                          both, means, &err) != RG_STATUS_OK ||
        rg_eval_row_means(r->ev, "evaluate", r->ds, n_train,
                          VALID_STEP_BASE + VALID_STEP_RANGE, 1, free_energy,
                          &v->train_free_energy, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    v->recon_error = means[0];
    v->valid_free_energy = means[1];
    return 0;
}

static int save_checkpoint(const train_run *r, const train_args *a,
                           long long epoch)
{
    rg_checkpoint_meta meta = {
        .model_source = rg_model_source(r->model),
        .seed = (uint64_t)a->seed,
        .step = rg_trainer_step(r->t),
        .epoch = (uint64_t)epoch,
        .dims = r->dims,
        .hypers = r->hypers,
        .data = r->data_text,
        .n_columns = r->n_columns,
        .data_mean = r->data_mean,
        .data_std = r->data_std,
    };
    rg_error err;

    if (rg_checkpoint_save(r->rt, a->save, &meta, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    return 0;
}

static int run_training(const train_args *a, train_run *r)
{
    progress p = {isatty(STDERR_FILENO) != 0, 0, a->epochs};
    FILE *log = NULL;
    double elapsed = 0.0;
    int status = 0;

    if (a->log != NULL
        && (log = open_log(a->log, r, a->resume != NULL)) == NULL) {
        return 1;
    }
    for (long long e = r->first_epoch; e <= a->epochs && status == 0; e++) {
        rg_epoch_stats stats;
        valid_metrics v;
        rg_error err;

        p.epoch = e;
        if (rg_trainer_run_epoch(r->t, r->ds, (uint64_t)a->seed, (uint64_t)e,
                                 on_batch, &p, &stats, &err) != RG_STATUS_OK) {
            if (p.tty) {
                fputc('\n', stderr);
            }
            cli_print_error(&err);
            if (err.code == RG_STATUS_NUMERIC && a->save != NULL
                && e > r->first_epoch) {
                fprintf(stderr, "%s: %s still contains the checkpoint of "
                        "epoch %lld, saved before training diverged\n",
                        cli_program, a->save, e - 1);
            }
            status = 1;
            break;
        }
        elapsed += stats.seconds;
        if (r->valid != NULL) {
            status = run_validation(r, &v);
        }
        if (status == 0) {
            status = report_epoch(r, log, e, a->epochs, &stats,
                                  r->valid != NULL ? &v : NULL, elapsed);
        }
        if (status == 0 && a->save != NULL) {
            status = save_checkpoint(r, a, e);
        }
    }
    if (log != NULL && fclose(log) != 0) {
        fprintf(stderr, "%s: error: writing log file '%s' failed: %s\n",
                cli_program, a->log, strerror(errno));
        status = 1;
    }
    return status;
}

/*
 * Opens the checkpoint of --resume and takes from it what the command line
 * leaves unset: seed, data path, max_rows, binarize and the output file.
 */
static int resume_from(train_args *a, train_run *r)
{
    static char stored_path[4096];
    const rg_checkpoint_meta *meta;
    char value[32];
    long long stored_rows = 0;
    int status = cli_checkpoint_open(a->resume, a->device, &a->sets,
                                     &r->resumed);

    if (status != 0) {
        return status;
    }
    meta = &r->resumed.meta;
    r->model = r->resumed.model;
    r->rt = r->resumed.rt;
    if (a->seed >= 0 && (uint64_t)a->seed != meta->seed) {
        return cli_usage_error("train ", "--seed %lld differs from the "
                               "checkpoint's seed %llu; a resumed run keeps "
                               "its seed", a->seed,
                               (unsigned long long)meta->seed);
    }
    a->seed = (long long)meta->seed;
    if (a->data == NULL && cli_settings_get(meta->data, "path", stored_path,
                                            sizeof(stored_path))) {
        a->data = stored_path;
    }
    if (a->max_rows < 0
        && cli_settings_get(meta->data, "max_rows", value, sizeof(value))
        && cli_parse_int(value, 0, LLONG_MAX, &stored_rows)) {
        a->max_rows = stored_rows;
    }
    if (cli_settings_get(meta->data, "binarize", value, sizeof(value))
        && strcmp(value, "1") == 0) {
        a->binarize = true;
    }
    a->save = a->save != NULL ? a->save : a->resume;
    r->first_epoch = (long long)meta->epoch + 1;
    return 0;
}

/* Loads the model and opens a runtime for a run that starts afresh. */
static int start_fresh(const train_args *a, train_run *r)
{
    rg_error err;
    int status;

    r->model = cli_load_model(a->model, &a->sets, &status);
    if (r->model == NULL) {
        return status;
    }
    if (rg_runtime_new(a->device, (uint64_t)a->seed, &r->rt, &err) !=
        RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    r->first_epoch = 1;
    return 0;
}

/*
 * Sets the column standardisation: the resumed checkpoint's, or with
 * --standardize statistics of the training data.
 */
static int setup_standardize(const train_args *a, train_run *r)
{
    const rg_checkpoint_meta *meta = &r->resumed.meta;
    int64_t n = rg_dataset_n_cols(r->ds);
    rg_error err;
    rg_status st;

    if (meta->n_columns == 0 && !a->standardize) {
        return 0;
    }
    r->data_mean = malloc((size_t)n * sizeof(float));
    r->data_std = malloc((size_t)n * sizeof(float));
    if (r->data_mean == NULL || r->data_std == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", cli_program);
        return 1;
    }
    r->n_columns = n;
    if (meta->n_columns == n) {
        memcpy(r->data_mean, meta->data_mean, (size_t)n * sizeof(float));
        memcpy(r->data_std, meta->data_std, (size_t)n * sizeof(float));
        st = RG_STATUS_OK;
    } else if (meta->n_columns != 0) {
        fprintf(stderr, "%s: error: the checkpoint standardises %lld columns "
                "but %s has %lld\n", cli_program, (long long)meta->n_columns,
                a->data, (long long)n);
        return 1;
    } else {
        st = rg_dataset_column_stats(r->ds, a->min_std, r->data_mean,
                                     r->data_std, &err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_dataset_set_standardize(r->ds, r->data_mean, r->data_std,
                                        &err);
    }
    if (st != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    return 0;
}

/* Loads the training and held-out data. */
static int load_data(const train_args *a, train_run *r)
{
    rg_data_options options = rg_data_options_default();
    rg_error err;
    int status;

    options.binarize = a->binarize;
    options.max_rows = a->max_rows;
    if (rg_dataset_load(a->data, &options, &r->ds, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    status = setup_standardize(a, r);
    if (status != 0 || a->valid == NULL) {
        return status;
    }
    options.max_rows = a->valid_rows;
    if (rg_dataset_load(a->valid, &options, &r->valid, &err) != RG_STATUS_OK
        || (r->n_columns > 0
            && rg_dataset_set_standardize(r->valid, r->data_mean,
                                          r->data_std, &err) !=
                   RG_STATUS_OK)) {
        cli_print_error(&err);
        return 1;
    }
    return 0;
}

/* Creates the trainer and evaluator and the metadata text checkpoints
 * store. */
static int setup_training(const train_args *a, train_run *r)
{
    rg_error err;

    if (rg_trainer_new(r->model, "train", r->rt, NULL, &r->t, &err) !=
            RG_STATUS_OK ||
        rg_trainer_set_metric_interval(r->t, a->every, &err) !=
            RG_STATUS_OK ||
        (r->valid != NULL
         && rg_eval_new(r->model, r->rt, NULL, &r->ev, &err) !=
                RG_STATUS_OK)) {
        cli_print_error(&err);
        return 1;
    }
    rg_trainer_set_step(r->t, r->resumed.meta.step);
    r->dims = cli_format_settings(r->model, false);
    r->hypers = cli_format_settings(r->model, true);
    if (r->dims == NULL || r->hypers == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", cli_program);
        return 1;
    }
    snprintf(r->data_text, sizeof(r->data_text),
             "path=%s\nmax_rows=%lld\nbinarize=%d\nstandardize=%d\n",
             a->data, a->max_rows, a->binarize ? 1 : 0,
             r->n_columns > 0 ? 1 : 0);
    return 0;
}

static void train_run_free(train_run *r)
{
    rg_eval_free(r->ev);
    rg_trainer_free(r->t);
    rg_dataset_free(r->valid);
    rg_dataset_free(r->ds);
    if (r->resumed.model == NULL) {
        rg_runtime_free(r->rt);
        rg_model_free(r->model);
    }
    cli_checkpoint_close(&r->resumed);
    free(r->data_mean);
    free(r->data_std);
    free(r->dims);
    free(r->hypers);
}

/* Turns the OpenCL program cache off for --no-cache. */
static int disable_cache(train_run *r)
{
    rg_error err;

    if (rg_runtime_set_cache(r->rt, false, NULL, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    return 0;
}

/* True when `a` and `b` name the same existing file. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return a != NULL && b != NULL && stat(a, &sa) == 0 &&
           stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/*
 * Checks the --save target before any training: it must not be the model,
 * the data or the log, an existing target must be a regular file, and its
 * folder must exist. A checkpoint is written by rename, which would
 * otherwise replace such files (or a device node) without a word.
 */
static int check_save_path(const train_args *a, const char *model)
{
    const char *inputs[] = {model, a->data, a->valid, a->log};
    const char *what[] = {"the model file", "the --data file",
                          "the --valid file", "the --log file"};
    struct stat st;

    if (a->save == NULL) {
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        if (same_file(a->save, inputs[i]) ||
            (inputs[i] != NULL && strcmp(a->save, inputs[i]) == 0)) {
            fprintf(stderr, "%s: error: --save %s is %s; choose another "
                    "path for the checkpoint\n", cli_program, a->save,
                    what[i]);
            return EXIT_USAGE;
        }
    }
    if (stat(a->save, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: error: --save %s exists and is not a regular "
                "file; choose another path for the checkpoint\n",
                cli_program, a->save);
        return EXIT_USAGE;
    }
    char *copy = strdup(a->save);
    if (copy == NULL) {
        return 1;
    }
    char *slash = strrchr(copy, '/');
    const char *dir = slash == NULL ? "." : slash == copy ? "/" : copy;
    if (slash != NULL && slash != copy) {
        *slash = '\0';
    }
    int ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!ok) {
        fprintf(stderr, "%s: error: --save %s: folder %s does not exist; "
                "create it first\n", cli_program, a->save, dir);
    }
    free(copy);
    return ok ? 0 : 1;
}

int cmd_train(int argc, char **argv)
{
    train_args a = {0};
    train_run r = {0};
    int status;

    a.epochs = 10;
    a.seed = -1;
    a.max_rows = -1;
    a.every = 1;
    a.min_std = DEFAULT_MIN_STD;
    a.device = "cpu";
    status = parse_train_args(argc, argv, &a);
    if (status != 0) {
        return status < 0 ? 0 : status;
    }

    status = a.resume != NULL ? resume_from(&a, &r) : 0;
    a.data = a.data != NULL ? a.data : DEFAULT_TRAIN_DATA;
    if (status == 0) {
        status = check_save_path(&a, a.resume != NULL ? NULL : a.model);
    }
    a.seed = a.seed >= 0 ? a.seed : 1;
    a.max_rows = a.max_rows >= 0 ? a.max_rows : 0;
    if (status == 0 && a.resume == NULL) {
        status = start_fresh(&a, &r);
    }
    if (status == 0 && a.no_cache) {
        status = disable_cache(&r);
    }
    if (status == 0) {
        status = load_data(&a, &r);
    }
    if (status == 0) {
        status = setup_training(&a, &r);
    }
    if (status == 0 && r.first_epoch > a.epochs) {
        fprintf(stderr, "%s: %s already contains %lld epochs; raise "
                "--epochs to train more\n", cli_program, a.resume,
                r.first_epoch - 1);
    } else if (status == 0) {
        fprintf(stderr, "%s: training %s on %s: %lld examples of %lld "
                "values, minibatch %lld, epochs %lld to %lld\n", cli_program,
                rg_model_name(r.model), a.data,
                (long long)rg_dataset_n_rows(r.ds),
                (long long)rg_dataset_n_cols(r.ds),
                (long long)rg_trainer_batch_size(r.t), r.first_epoch,
                a.epochs);
        status = run_training(&a, &r);
    }
    train_run_free(&r);
    return status;
}
