/*
 * rbm-graph eval: scores a checkpoint on held-out and training data with
 * the model's evaluation entries: reconstruction error, pseudo-likelihood,
 * mean free energy and its gap, and log Z by annealed importance sampling
 * with the mean log-likelihood that follows from it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_checkpoint.h"

/* Random steps of evaluation runs start far above any training step, and
 * each measurement gets its own range of 2^32 steps. */
#define EVAL_STEP_BASE (UINT64_C(1) << 62)
#define EVAL_STEP_RANGE (UINT64_C(1) << 32)

static const char eval_help[] =
    "Usage: rbm-graph eval CKPT [options]\n"
    "\n"
    "Evaluate the model stored in checkpoint CKPT, as written by 'rbm-graph\n"
    "train --save', on held-out and training data. Prints on stdout:\n"
    "  recon_error        mean squared reconstruction error per example\n"
    "  pseudo_likelihood  mean log pseudo-likelihood per example, from one\n"
    "                     random bit per example and pass (binary models)\n"
    "  free_energy        mean free energy, and the gap held-out minus\n"
    "                     training (a growing gap signals overfitting)\n"
    "  log_z              log partition function by annealed importance\n"
    "                     sampling (AIS), with a band of 3 standard errors\n"
    "  log_likelihood     mean log-likelihood per example, -free_energy -\n"
    "                     log_z, with the band that log_z's band gives\n"
    "Metrics whose entry the model file lacks are skipped. Data is read as\n"
    "the training data was: binarized and standardised if it was.\n"
    "\n"
    "Options:\n"
    "  -d, --data FILE          held-out data (default:\n"
    "                           " DEFAULT_TEST_DATA ")\n"
    "      --rows N             use the first N held-out examples (default\n"
    "                           all)\n"
    "      --train-data FILE    training data (default: the file the\n"
    "                           checkpoint was trained on)\n"
    "      --train-rows N       use the first N training examples (default\n"
    "                           10000, at most as many as training used)\n"
    "      --chains N           AIS chains run together (default 100)\n"
    "      --betas N            AIS annealing steps (default 14500)\n"
    "      --schedule NAME      how the inverse temperatures run from 0 to\n"
    "                           1: 'piecewise' (default) spends 1/29 of the\n"
    "                           steps on [0, 0.5], 8/29 on [0.5, 0.9] and\n"
    "                           20/29 on [0.9, 1], where the annealed\n"
    "                           distributions change fastest; 'linear'\n"
    "                           spaces them evenly\n"
    "      --temperatures FILE  AIS inverse temperatures, one number per\n"
    "                           line, from 0 up to 1; replaces --betas and\n"
    "                           --schedule\n"
    "      --pl-passes N        average N pseudo-likelihood estimates, each\n"
    "                           with its own random bits (default 10)\n"
    "      --no-ais             skip AIS and the log-likelihood\n"
    "      --seed N             select another stream of random draws\n"
    "                           (default 0)\n"
    "  -s, --set NAME=VALUE     override a dim or hyperparameter; repeatable\n"
    "      --device NAME        device to run on: cpu (default cpu)\n"
    "  -h, --help               show this help and exit\n";

typedef struct eval_args {
    const char *checkpoint;
    const char *data;
    const char *train_data;
    const char *temperatures;
    const char *schedule;
    const char *device;
    long long rows;
    long long train_rows;
    long long chains;
    long long betas;
    long long seed;
    long long pl_passes;
    bool no_ais;
    cli_sets sets;
} eval_args;

/* Parses a count option into *out, printing the usage error on failure. */
static int parse_count(const char *option, const char *text, long long min,
                       long long max, long long *out)
{
    if (!cli_parse_int(text, min, max, out)) {
        return cli_usage_error("eval ", "%s needs an integer from %lld to "
                               "%lld, got '%s'", option, min, max, text);
    }
    return 0;
}

static int parse_eval_args(int argc, char **argv, eval_args *a)
{
    enum {
        OPT_ROWS = 256, OPT_TRAIN_DATA, OPT_TRAIN_ROWS, OPT_CHAINS,
        OPT_BETAS, OPT_SCHEDULE, OPT_TEMPERATURES, OPT_NO_AIS, OPT_SEED,
        OPT_DEVICE, OPT_PL_PASSES
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"rows", required_argument, NULL, OPT_ROWS},
        {"train-data", required_argument, NULL, OPT_TRAIN_DATA},
        {"train-rows", required_argument, NULL, OPT_TRAIN_ROWS},
        {"chains", required_argument, NULL, OPT_CHAINS},
        {"betas", required_argument, NULL, OPT_BETAS},
        {"schedule", required_argument, NULL, OPT_SCHEDULE},
        {"temperatures", required_argument, NULL, OPT_TEMPERATURES},
        {"no-ais", no_argument, NULL, OPT_NO_AIS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"pl-passes", required_argument, NULL, OPT_PL_PASSES},
        {"set", required_argument, NULL, 's'},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    int status = 0;

    while (status == 0
           && (c = getopt_long(argc, argv, ":d:s:h", options, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case OPT_TRAIN_DATA: a->train_data = optarg; break;
        case OPT_TEMPERATURES: a->temperatures = optarg; break;
        case OPT_SCHEDULE:
            a->schedule = optarg;
            if (strcmp(optarg, "piecewise") != 0
                && strcmp(optarg, "linear") != 0) {
                status = cli_usage_error("eval ", "--schedule needs "
                                         "'piecewise' or 'linear', got '%s'",
                                         optarg);
            }
            break;
        case OPT_NO_AIS: a->no_ais = true; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_ROWS:
            status = parse_count("--rows", optarg, 1, LLONG_MAX, &a->rows);
            break;
        case OPT_TRAIN_ROWS:
            status = parse_count("--train-rows", optarg, 1, LLONG_MAX,
                                 &a->train_rows);
            break;
        case OPT_CHAINS:
            status = parse_count("--chains", optarg, 1, 1000000, &a->chains);
            break;
        case OPT_BETAS:
            status = parse_count("--betas", optarg, 1, 100000000, &a->betas);
            break;
        case OPT_PL_PASSES:
            status = parse_count("--pl-passes", optarg, 1, 100000,
                                 &a->pl_passes);
            break;
        case OPT_SEED:
            status = parse_count("--seed", optarg, 0, 1000000, &a->seed);
            break;
        case 's':
            status = cli_add_set(&a->sets, "eval ", optarg);
            break;
        case 'h':
            fputs(eval_help, stdout);
            return -1;
        default:
            return cli_option_error("eval ", argv, c);
        }
    }
    if (status != 0) {
        return status;
    }
    if (optind != argc - 1) {
        return cli_usage_error("eval ", "eval needs exactly one checkpoint "
                               "file");
    }
    a->checkpoint = argv[optind];
    return 0;
}

/*
 * Builds the piecewise schedule of `n_steps` annealing steps: 1/29 of them
 * evenly on [0, 0.5], 8/29 on [0.5, 0.9] and the rest on [0.9, 1], each
 * piece at least one step. Stores a heap array of n_steps + 1 values in
 * *betas. Needs n_steps >= 3.
 */
static int piecewise_schedule(int64_t n_steps, double **betas)
{
    static const double bounds[4] = {0.0, 0.5, 0.9, 1.0};
    int64_t counts[3];
    double *values = malloc((size_t)(n_steps + 1) * sizeof(double));
    int64_t k = 0;

    if (values == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", cli_program);
        return 1;
    }
    counts[0] = llround((double)n_steps / 29.0);
    counts[1] = llround((double)n_steps * 8.0 / 29.0);
    counts[0] = counts[0] > 0 ? counts[0] : 1;
    counts[1] = counts[1] > 0 ? counts[1] : 1;
    counts[2] = n_steps - counts[0] - counts[1];
    for (int piece = 0; piece < 3; piece++) {
        double width = bounds[piece + 1] - bounds[piece];

        for (int64_t i = 0; i < counts[piece]; i++) {
            values[k++] = bounds[piece] + width * (double)i
                                              / (double)counts[piece];
        }
    }
    values[k] = 1.0;
    *betas = values;
    return 0;
}

/*
 * Reads an AIS schedule: one number per line (blank lines and lines
 * starting with '#' are skipped). Stores a heap array in *betas and the
 * number of annealing steps (values - 1) in *n_steps.
 */
static int read_temperatures(const char *path, double **betas,
                             int64_t *n_steps)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t n = 0, cap = 1024;
    double *values = malloc(cap * sizeof(double));
    long line_no = 0;

    if (f == NULL || values == NULL) {
        fprintf(stderr, "%s: error: cannot read --temperatures file '%s': "
                "%s\n", cli_program, path,
                f == NULL ? strerror(errno) : "out of memory");
        if (f != NULL) {
            fclose(f);
        }
        free(values);
        return 1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *end;
        line_no++;
        char *p = line + strspn(line, " \t");
        if (*p == '\n' || *p == '\0' || *p == '#') {
            continue;
        }
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || end[strspn(end, " \t\r\n")] != '\0') {
            fprintf(stderr, "%s: error: %s:%ld: invalid inverse temperature "
                    "'%.*s'; expected one number per line\n", cli_program,
                    path, line_no, (int)strcspn(p, "\r\n"), p);
            fclose(f);
            free(values);
            return 1;
        }
        if (n == cap) {
            double *grown = realloc(values, 2 * cap * sizeof(double));
            if (grown == NULL) {
                fclose(f);
                free(values);
                fprintf(stderr, "%s: error: out of memory\n", cli_program);
                return 1;
            }
            values = grown;
            cap *= 2;
        }
        values[n++] = v;
    }
    fclose(f);
    if (n < 2) {
        fprintf(stderr, "%s: error: %s contains %zu inverse temperatures; AIS "
                "needs at least 2, from 0 up to 1\n", cli_program, path, n);
        free(values);
        return 1;
    }
    *betas = values;
    *n_steps = (int64_t)n - 1;
    return 0;
}

/* The held-out and training data sets and the row counts used. */
typedef struct eval_data {
    rg_dataset *held_out;
    rg_dataset *train;
    const char *train_path;
    int64_t held_out_rows;
    int64_t train_rows;
} eval_data;

static int load_eval_data(const eval_args *a, const cli_checkpoint *c,
                          eval_data *d)
{
    rg_data_options options = cli_checkpoint_data_options(&c->meta);
    static char stored_path[4096];
    char value[32];
    long long trained_rows = 0;

    d->train_path = a->train_data;
    if (d->train_path == NULL) {
        d->train_path = cli_settings_get(c->meta.data, "path", stored_path,
                                         sizeof(stored_path))
                            ? stored_path
                            : DEFAULT_TRAIN_DATA;
    }
    d->held_out = cli_load_dataset(a->data, &options, &c->meta);
    if (d->held_out == NULL) {
        return 1;
    }
    d->train = cli_load_dataset(d->train_path, &options, &c->meta);
    if (d->train == NULL) {
        return 1;
    }
    d->held_out_rows = rg_dataset_n_rows(d->held_out);
    if (a->rows > 0 && a->rows < d->held_out_rows) {
        d->held_out_rows = a->rows;
    }

    /* Rows past the training run's --max-rows were never trained on. */
    d->train_rows = rg_dataset_n_rows(d->train);
    if (cli_settings_get(c->meta.data, "max_rows", value, sizeof(value))
        && cli_parse_int(value, 1, LLONG_MAX, &trained_rows)
        && trained_rows < d->train_rows) {
        d->train_rows = trained_rows;
    }
    if (a->train_rows < d->train_rows) {
        d->train_rows = a->train_rows;
    }
    return 0;
}

/* Held-out and training values of one metric, NAN when not measured. */
typedef struct metric_pair {
    double held_out;
    double train;
} metric_pair;

static int eval_rows(rg_eval *ev, const eval_data *d, uint64_t step,
                     metric_pair *recon, metric_pair *fe)
{
    static const char *const outputs[] = {"recon_error", "free_energy"};
    double means[2];
    rg_error err;

    if (rg_eval_row_means(ev, "evaluate", d->held_out, d->held_out_rows,
                          step, 2, outputs, means, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    recon->held_out = means[0];
    fe->held_out = means[1];
    if (rg_eval_row_means(ev, "evaluate", d->train, d->train_rows,
                          step + 1, 2, outputs, means, &err) !=
        RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    recon->train = means[0];
    fe->train = means[1];
    return 0;
}

/* Averages `n_passes` pseudo-likelihood estimates, each from its own
 * random coordinates, on the held-out and the training data. */
static int eval_pseudo_likelihood(rg_eval *ev, const eval_data *d,
                                  uint64_t step, long long n_passes,
                                  metric_pair *pl)
{
    rg_error err;

    pl->held_out = 0.0;
    pl->train = 0.0;
    for (long long i = 0; i < n_passes; i++) {
        double held_out, train;
        uint64_t pass_step = step + 2 * (uint64_t)i;

        if (rg_eval_pseudo_likelihood(ev, d->held_out, d->held_out_rows,
                                      pass_step, &held_out, &err) !=
                RG_STATUS_OK ||
            rg_eval_pseudo_likelihood(ev, d->train, d->train_rows,
                                      pass_step + 1, &train, &err) !=
                RG_STATUS_OK) {
            cli_print_error(&err);
            return 1;
        }
        pl->held_out += held_out / (double)n_passes;
        pl->train += train / (double)n_passes;
    }
    return 0;
}

static void on_ais_step(int64_t done, int64_t total, void *user)
{
    (void)user;
    if (done % 100 != 0 && done != total) {
        return;
    }
    fprintf(stderr, "\rAIS step %lld/%lld", (long long)done,
            (long long)total);
    if (done == total) {
        fprintf(stderr, "\r%40s\r", "");
    }
    fflush(stderr);
}

/* Runs AIS on a copy of the model whose batch is the chain count. */
static int eval_ais(const eval_args *a, const cli_checkpoint *c,
                    uint64_t step, rg_ais_result *result)
{
    rg_ais_options options = {a->betas, NULL, step, NULL, NULL};
    double *betas = NULL;
    rg_model *m = NULL;
    rg_eval *ev = NULL;
    rg_error err;
    int status;

    if (a->temperatures != NULL
        && read_temperatures(a->temperatures, &betas, &options.n_betas) != 0) {
        return 1;
    }
    if (a->temperatures == NULL && strcmp(a->schedule, "piecewise") == 0
        && a->betas >= 3 && piecewise_schedule(a->betas, &betas) != 0) {
        return 1;
    }
    options.betas = betas;
    if (isatty(STDERR_FILENO)) {
        options.on_progress = on_ais_step;
    }
    status = cli_checkpoint_model(c, &a->sets, a->chains, &m);
    if (status == 0
        && (rg_eval_new(m, c->rt, NULL, &ev, &err) != RG_STATUS_OK
            || rg_eval_ais(ev, &options, result, &err) != RG_STATUS_OK)) {
        cli_print_error(&err);
        status = 1;
    }
    rg_eval_free(ev);
    rg_model_free(m);
    free(betas);
    return status;
}

static void print_pair(const char *name, metric_pair p)
{
    printf("%s: held-out %.4f, training %.4f\n", name, p.held_out, p.train);
}

/* Prints log_z and the log-likelihoods it gives with their bands. */
static void print_ais(const rg_ais_result *r, metric_pair fe)
{
    printf("log_z: %.4f, 3-std band [%.4f, %.4f] (AIS: %lld chains, %lld "
           "steps, log-weight std %.3f, %.1f s)\n", r->log_z, r->log_z_low,
           r->log_z_high, (long long)r->n_chains, (long long)r->n_betas,
           r->log_w_std, r->seconds);
    if (r->log_z_low == -INFINITY) {
        fprintf(stderr, "%s: note: the AIS weights vary too much for a "
                "lower bound on log_z; run more --betas or --chains\n",
                cli_program);
    }
    printf("log_likelihood: held-out %.4f [%.4f, %.4f], training %.4f "
           "[%.4f, %.4f]\n", -fe.held_out - r->log_z,
           -fe.held_out - r->log_z_high, -fe.held_out - r->log_z_low,
           -fe.train - r->log_z, -fe.train - r->log_z_high,
           -fe.train - r->log_z_low);
}

static int run_eval(const eval_args *a, const cli_checkpoint *c,
                    const eval_data *d)
{
    uint64_t step = EVAL_STEP_BASE + (uint64_t)a->seed * 16 * EVAL_STEP_RANGE;
    metric_pair recon = {NAN, NAN};
    metric_pair fe = {NAN, NAN};
    metric_pair pl = {NAN, NAN};
    rg_eval *ev = NULL;
    rg_error err;
    int status = 0;

    if (rg_eval_new(c->model, c->rt, NULL, &ev, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    printf("checkpoint: %s (%s, epoch %llu, step %llu)\n", c->path,
           rg_model_name(c->model), (unsigned long long)c->meta.epoch,
           (unsigned long long)c->meta.step);
    printf("held-out data: %s (%lld examples)\n", a->data,
           (long long)d->held_out_rows);
    printf("training data: %s (first %lld examples)\n", d->train_path,
           (long long)d->train_rows);

    bool has_evaluate = rg_eval_has_entry(ev, "evaluate");
    if (!has_evaluate) {
        fprintf(stderr, "%s: note: the model has no 'evaluate' entry; "
                "skipping recon_error, free_energy and log_likelihood\n",
                cli_program);
    } else if ((status = eval_rows(ev, d, step, &recon, &fe)) == 0) {
        print_pair("recon_error", recon);
        printf("free_energy: held-out %.4f, training %.4f, gap %.4f\n",
               fe.held_out, fe.train, fe.held_out - fe.train);
    }
    if (status == 0 && rg_eval_has_entry(ev, "pseudo_likelihood")) {
        status = eval_pseudo_likelihood(ev, d, step + 2 * EVAL_STEP_RANGE,
                                        a->pl_passes, &pl);
        if (status == 0) {
            print_pair("pseudo_likelihood", pl);
        }
    }
    fflush(stdout);
    if (status == 0 && !a->no_ais && has_evaluate) {
        rg_ais_result r;

        status = eval_ais(a, c, step + 4 * EVAL_STEP_RANGE, &r);
        if (status == 0) {
            print_ais(&r, fe);
        }
    }
    rg_eval_free(ev);
    return status;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a = {0};
    cli_checkpoint c = {0};
    eval_data d = {0};
    int status;

    a.data = DEFAULT_TEST_DATA;
    a.device = "cpu";
    a.train_rows = 10000;
    a.chains = 100;
    a.betas = 14500;
    a.pl_passes = 10;
    a.schedule = "piecewise";
    status = parse_eval_args(argc, argv, &a);
    if (status != 0) {
        return status < 0 ? 0 : status;
    }
    status = cli_checkpoint_open(a.checkpoint, a.device, &a.sets, &c);
    if (status == 0) {
        status = load_eval_data(&a, &c, &d);
    }
    if (status == 0) {
        status = run_eval(&a, &c, &d);
    }
    rg_dataset_free(d.held_out);
    rg_dataset_free(d.train);
    cli_checkpoint_close(&c);
    return status;
}
