/*
 * rbm-graph train: trains a model's train entry on a data set, with a
 * progress bar on a terminal, a metrics line per epoch, an optional CSV
 * log and atomic checkpoints after every epoch.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char train_help[] =
    "Usage: rbm-graph train MODEL [options]\n"
    "\n"
    "Train MODEL's 'train' entry point on a data set, one line of metrics\n"
    "per epoch on stdout. Progress goes to stderr (a bar on a terminal).\n"
    "\n"
    "Options:\n"
    "  -d, --data FILE       training data: IDX (gzip or plain), .npy or\n"
    "                        CSV, one example per row (default:\n"
    "                        " DEFAULT_TRAIN_DATA ")\n"
    "  -e, --epochs N        number of passes over the data (default 10)\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable,\n"
    "                        for example --set lr=0.05 --set batch=64\n"
    "      --seed N          seed of initial values, shuffling and sampling\n"
    "                        (default 1)\n"
    "      --max-rows N      use only the first N examples (default: all)\n"
    "      --binarize        replace each value v by 1 if v > 0.5, else 0\n"
    "  -o, --save FILE       write params and state to FILE (.npz) after\n"
    "                        every epoch, atomically\n"
    "  -l, --log FILE        write the per-epoch metrics to FILE as CSV\n"
    "      --device NAME     device to run on: cpu (default cpu)\n"
    "  -h, --help            show this help and exit\n";

typedef struct train_args {
    const char *model;
    const char *data;
    const char *save;
    const char *log;
    const char *device;
    long long epochs;
    long long seed;
    long long max_rows;
    bool binarize;
    cli_sets sets;
} train_args;

static int parse_train_args(int argc, char **argv, train_args *a)
{
    enum { OPT_SEED = 256, OPT_MAX_ROWS, OPT_BINARIZE, OPT_DEVICE };
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"epochs", required_argument, NULL, 'e'},
        {"set", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
        {"binarize", no_argument, NULL, OPT_BINARIZE},
        {"save", required_argument, NULL, 'o'},
        {"log", required_argument, NULL, 'l'},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, ":d:e:s:o:l:h", options, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->save = optarg; break;
        case 'l': a->log = optarg; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_BINARIZE: a->binarize = true; break;
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

static FILE *open_log(const char *path, const rg_trainer *t)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "%s: error: cannot open log file '%s': %s\n",
                cli_program, path, strerror(errno));
        return NULL;
    }
    fprintf(f, "epoch");
    for (int i = 0; i < rg_trainer_n_metrics(t); i++) {
        fprintf(f, ",%s", rg_trainer_metric_name(t, i));
    }
    fprintf(f, ",samples_per_second,seconds,elapsed_seconds\n");
    return f;
}

static void report_epoch(const rg_trainer *t, FILE *log, long long epoch,
                         long long epochs, const rg_epoch_stats *s,
                         double elapsed)
{
    double rate = s->n_samples / (s->seconds > 0 ? s->seconds : 1e-9);

    printf("epoch %lld/%lld", epoch, epochs);
    for (int i = 0; i < rg_trainer_n_metrics(t); i++) {
        printf("  %s %.4f", rg_trainer_metric_name(t, i), s->metrics[i]);
    }
    printf("  samples/s %.0f  time %.1f s  elapsed %.1f s\n", rate,
           s->seconds, elapsed);
    fflush(stdout);
    if (log != NULL) {
        fprintf(log, "%lld", epoch);
        for (int i = 0; i < rg_trainer_n_metrics(t); i++) {
            fprintf(log, ",%.9g", s->metrics[i]);
        }
        fprintf(log, ",%.1f,%.4f,%.4f\n", rate, s->seconds, elapsed);
        fflush(log);
    }
}

static int save_checkpoint(rg_runtime *rt, const rg_model *m,
                           const train_args *a, const rg_trainer *t,
                           long long epoch)
{
    rg_checkpoint_meta meta = {rg_model_source(m), (uint64_t)a->seed,
                               rg_trainer_step(t), (uint64_t)epoch};
    rg_error err;

    if (rg_checkpoint_save(rt, a->save, &meta, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    return 0;
}

static int run_training(const train_args *a, rg_model *m, rg_dataset *ds,
                        rg_runtime *rt, rg_trainer *t)
{
    progress p = {isatty(STDERR_FILENO) != 0, 0, a->epochs};
    FILE *log = NULL;
    double elapsed = 0.0;
    int status = 0;

    if (a->log != NULL && (log = open_log(a->log, t)) == NULL) {
        return 1;
    }
    for (long long e = 1; e <= a->epochs && status == 0; e++) {
        rg_epoch_stats stats;
        rg_error err;

        p.epoch = e;
        if (rg_trainer_run_epoch(t, ds, (uint64_t)a->seed, (uint64_t)e,
                                 on_batch, &p, &stats, &err) != RG_STATUS_OK) {
            if (p.tty) {
                fputc('\n', stderr);
            }
            cli_print_error(&err);
            status = 1;
            break;
        }
        elapsed += stats.seconds;
        report_epoch(t, log, e, a->epochs, &stats, elapsed);
        if (a->save != NULL) {
            status = save_checkpoint(rt, m, a, t, e);
        }
    }
    if (log != NULL && fclose(log) != 0) {
        fprintf(stderr, "%s: error: writing log file '%s' failed: %s\n",
                cli_program, a->log, strerror(errno));
        status = 1;
    }
    return status;
}

int cmd_train(int argc, char **argv)
{
    train_args a = {0};
    rg_data_options data_options = rg_data_options_default();
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    rg_runtime *rt = NULL;
    rg_trainer *t = NULL;
    rg_error err;
    int status = 1;

    a.data = DEFAULT_TRAIN_DATA;
    a.epochs = 10;
    a.seed = 1;
    a.device = "cpu";
    int parsed = parse_train_args(argc, argv, &a);
    if (parsed != 0) {
        return parsed < 0 ? 0 : parsed;
    }

    m = cli_load_model(a.model, &a.sets, &status);
    if (m == NULL) {
        goto done;
    }
    data_options.binarize = a.binarize;
    data_options.max_rows = a.max_rows;
    if (rg_dataset_load(a.data, &data_options, &ds, &err) != RG_STATUS_OK ||
        rg_runtime_new(a.device, (uint64_t)a.seed, &rt, &err) !=
            RG_STATUS_OK ||
        rg_trainer_new(m, "train", rt, NULL, &t, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        goto done;
    }
    fprintf(stderr, "%s: training %s on %s: %lld examples of %lld values, "
            "minibatch %lld, %lld epochs\n", cli_program, rg_model_name(m),
            a.data, (long long)rg_dataset_n_rows(ds),
            (long long)rg_dataset_n_cols(ds),
            (long long)rg_trainer_batch_size(t), a.epochs);
    status = run_training(&a, m, ds, rt, t);

done:
    rg_trainer_free(t);
    rg_runtime_free(rt);
    rg_dataset_free(ds);
    rg_model_free(m);
    return status;
}

