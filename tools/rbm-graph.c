/*
 * rbm-graph: the command-line program. It owns stdout for results (model
 * listings, metrics) and writes progress and errors to stderr, prefixed
 * with the program name. Everything it does goes through the public API.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbmgraph/rbmgraph.h"
#include "rg_config.h"

#define DEFAULT_TRAIN_DATA \
    "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

enum { EXIT_USAGE = 2 };

static const char *program = "rbm-graph";

static void print_error(const rg_error *err)
{
    char buf[1200];

    fprintf(stderr, "%s: error: %s\n", program,
            rg_error_format(err, buf, sizeof(buf)));
}

static int usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *command, const char *fmt, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", program);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\nTry '%s %s--help'.\n", program,
            command != NULL ? command : "");
    return EXIT_USAGE;
}

/* Parses a whole decimal integer in [min, max]; false on anything else. */
static bool parse_int(const char *text, long long min, long long max,
                      long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* --set NAME=VALUE options, collected and applied after loading. */
typedef struct set_list {
    const char *items[64];
    int n;
} set_list;

static int add_set(set_list *sets, const char *command, const char *arg)
{
    if (strchr(arg, '=') == NULL || arg[0] == '=') {
        return usage_error(command, "--set needs NAME=VALUE, got '%s'", arg);
    }
    if (sets->n == (int)(sizeof(sets->items) / sizeof(sets->items[0]))) {
        return usage_error(command, "too many --set options (at most 64)");
    }
    sets->items[sets->n++] = arg;
    return 0;
}

/* Loads `path` and applies every --set; prints the error and returns NULL
 * on failure. */
static rg_model *load_model(const char *path, const set_list *sets)
{
    rg_model *m;
    rg_error err;

    if (rg_model_load(path, &m, &err) != RG_STATUS_OK) {
        print_error(&err);
        return NULL;
    }
    for (int i = 0; i < sets->n; i++) {
        char name[128];
        const char *eq = strchr(sets->items[i], '=');
        size_t len = (size_t)(eq - sets->items[i]);

        if (len >= sizeof(name)) {
            len = sizeof(name) - 1;
        }
        memcpy(name, sets->items[i], len);
        name[len] = '\0';
        if (rg_model_set(m, name, eq + 1, &err) != RG_STATUS_OK) {
            fprintf(stderr, "%s: error: --set %s: %s\n", program,
                    sets->items[i], err.message);
            rg_model_free(m);
            return NULL;
        }
    }
    return m;
}

/* check */

static const char check_help[] =
    "Usage: rbm-graph check MODEL [--set NAME=VALUE]...\n"
    "\n"
    "Validate a model file and list its entry points with their inputs,\n"
    "params, state, updates and output shapes. Exits with status 1 and a\n"
    "FILE:LINE:COLUMN message when the model is invalid.\n"
    "\n"
    "Options:\n"
    "  -s, --set NAME=VALUE  override a dim (positive integer) or a\n"
    "                        hyperparameter (number); repeatable\n"
    "  -h, --help            show this help and exit\n";

static void print_leaves(const rg_graph *g, rg_op op, const char *label)
{
    char buf[64];
    int shown = 0;

    for (int i = 0; i < rg_graph_n_nodes(g); i++) {
        if (rg_graph_node_op(g, i) != op) {
            continue;
        }
        printf("%s%s %s", shown ? ", " : label, rg_graph_node_name(g, i),
               rg_shape_str(rg_graph_node_shape(g, i), buf, sizeof(buf)));
        shown++;
    }
    if (shown) {
        printf("\n");
    }
}

static void print_entry(const rg_graph *g, const char *entry)
{
    char buf[64];

    printf("entry %s\n", entry);
    print_leaves(g, RG_OP_INPUT, "  inputs:  ");
    print_leaves(g, RG_OP_PARAM, "  params:  ");
    print_leaves(g, RG_OP_STATE, "  state:   ");
    for (int i = 0; i < rg_graph_n_updates(g); i++) {
        printf("%s%s", i ? ", " : "  updates: ",
               rg_graph_node_name(g, rg_graph_update_target(g, i)));
    }
    if (rg_graph_n_updates(g) > 0) {
        printf("\n");
    }
    for (int i = 0; i < rg_graph_n_outputs(g); i++) {
        rg_shape s = rg_graph_node_shape(g, rg_graph_output_node(g, i));

        printf("%s%s %s%s", i ? ", " : "  outputs: ",
               rg_graph_output_name(g, i), rg_shape_str(s, buf, sizeof(buf)),
               rg_graph_output_is_metric(g, i) ? " (metric)" : "");
    }
    if (rg_graph_n_outputs(g) > 0) {
        printf("\n");
    }
}

static int cmd_check(int argc, char **argv)
{
    static const struct option options[] = {
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    set_list sets = {{0}, 0};
    int c;

    while ((c = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
        switch (c) {
        case 's':
            if (add_set(&sets, "check ", optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(check_help, stdout);
            return 0;
        default:
            return usage_error("check ", "invalid option");
        }
    }
    if (optind != argc - 1) {
        return usage_error("check ", "check needs exactly one MODEL file");
    }

    rg_model *m = load_model(argv[optind], &sets);
    if (m == NULL) {
        return 1;
    }
    printf("model %s (%s)\n", rg_model_name(m), argv[optind]);
    for (int i = 0; i < rg_model_n_dims(m); i++) {
        printf("%s%s=%" PRId64, i ? " " : "dims:  ", rg_model_dim_name(m, i),
               rg_model_dim_value(m, i));
    }
    printf("\n");
    for (int i = 0; i < rg_model_n_hypers(m); i++) {
        printf("%s%s=%g", i ? " " : "hyper: ", rg_model_hyper_name(m, i),
               rg_model_hyper_value(m, i));
    }
    if (rg_model_n_hypers(m) > 0) {
        printf("\n");
    }

    int status = 0;
    for (int i = 0; i < rg_model_n_entries(m); i++) {
        const char *entry = rg_model_entry_name(m, i);
        rg_graph *g;
        rg_error err;

        if (rg_model_build(m, entry, &g, &err) != RG_STATUS_OK) {
            print_error(&err);
            status = 1;
            continue;
        }
        print_entry(g, entry);
        rg_graph_free(g);
    }
    rg_model_free(m);
    return status;
}

/* train */

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
    set_list sets;
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

    while ((c = getopt_long(argc, argv, "d:e:s:o:l:h", options, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->save = optarg; break;
        case 'l': a->log = optarg; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_BINARIZE: a->binarize = true; break;
        case 'e':
            if (!parse_int(optarg, 1, 1000000, &a->epochs)) {
                return usage_error("train ", "--epochs needs an integer from "
                                   "1 to 1000000, got '%s'", optarg);
            }
            break;
        case OPT_SEED:
            if (!parse_int(optarg, 0, LLONG_MAX, &a->seed)) {
                return usage_error("train ", "--seed needs a non-negative "
                                   "integer, got '%s'", optarg);
            }
            break;
        case OPT_MAX_ROWS:
            if (!parse_int(optarg, 1, LLONG_MAX, &a->max_rows)) {
                return usage_error("train ", "--max-rows needs a positive "
                                   "integer, got '%s'", optarg);
            }
            break;
        case 's':
            if (add_set(&a->sets, "train ", optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(train_help, stdout);
            return -1;
        default:
            return usage_error("train ", "invalid option");
        }
    }
    if (optind != argc - 1) {
        return usage_error("train ", "train needs exactly one MODEL file");
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
                program, path, strerror(errno));
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
        print_error(&err);
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
            print_error(&err);
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
                program, a->log, strerror(errno));
        status = 1;
    }
    return status;
}

static int cmd_train(int argc, char **argv)
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

    m = load_model(a.model, &a.sets);
    if (m == NULL) {
        goto done;
    }
    data_options.binarize = a.binarize;
    data_options.max_rows = a.max_rows;
    if (rg_dataset_load(a.data, &data_options, &ds, &err) != RG_STATUS_OK ||
        rg_runtime_new(a.device, (uint64_t)a.seed, &rt, &err) !=
            RG_STATUS_OK ||
        rg_trainer_new(m, "train", rt, NULL, &t, &err) != RG_STATUS_OK) {
        print_error(&err);
        goto done;
    }
    fprintf(stderr, "%s: training %s on %s: %lld examples of %lld values, "
            "minibatch %lld, %lld epochs\n", program, rg_model_name(m),
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

/* main */

static const char main_help[] =
    "Usage: rbm-graph COMMAND [options]\n"
    "\n"
    "Define models such as Restricted Boltzmann Machines in YAML, plan them\n"
    "as dataflow graphs and run them.\n"
    "\n"
    "Commands:\n"
    "  check MODEL   validate a model file and list its entry points\n"
    "  train MODEL   train a model on a data set\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help and exit\n"
    "  -V, --version  show the version and exit\n"
    "\n"
    "Run 'rbm-graph COMMAND --help' for a command's options.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    if (strcmp(command, "-V") == 0 || strcmp(command, "--version") == 0) {
        printf("rbm-graph %s\n", RG_VERSION);
        return 0;
    }
    /* Commands parse their own options from argv[1] on. */
    if (strcmp(command, "check") == 0) {
        return cmd_check(argc - 1, argv + 1);
    }
    if (strcmp(command, "train") == 0) {
        return cmd_train(argc - 1, argv + 1);
    }
    return usage_error(NULL, "unknown command '%s'", command);
}
