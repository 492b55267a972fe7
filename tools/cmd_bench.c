/*
 * rbm-graph bench: times a model's train step against the same matrix
 * products run alone, in one process, with the default thread count and
 * with one thread. The ratio is what the planner and the fused kernels
 * cost on top of the matrix products.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char bench_help[] =
    "Usage: rbm-graph bench MODEL [options]\n"
    "\n"
    "Time one entry point (default train) of MODEL on synthetic inputs:\n"
    "the full step and the same matrix products alone, in alternating\n"
    "rounds in one process, with the default thread count and with one\n"
    "thread. Prints both times, their ratio, samples per second (rows of\n"
    "the first input per second) and the plan's step counts.\n"
    "\n"
    "Options:\n"
    "  -n, --steps N         steps per timing round (default 200)\n"
    "  -e, --entry NAME      entry point to time (default train)\n"
    "  -t, --threads N       thread count of the first row (default: one\n"
    "                        per core)\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable\n"
    "      --no-simplify     skip simplification\n"
    "      --no-fuse         one kernel per operation\n"
    "      --no-reuse        give every tensor its own arena range\n"
    "      --profile         also print the mean time of every step\n"
    "      --device NAME     device to time: cpu (default; two rows, by\n"
    "                        thread count), auto, opencl or opencl:P:D\n"
    "                        (one row; see 'rbm-graph devices')\n"
    "      --no-cache        compile OpenCL kernels without the program\n"
    "                        cache\n"
    "  -h, --help            show this help and exit\n";

typedef struct bench_args {
    const char *model;
    const char *entry;
    long long steps;
    long long threads;
    bool profile;
    const char *device;
    bool no_cache;
    cli_plan_flags flags;
    cli_sets sets;
} bench_args;

static int parse_bench_args(int argc, char **argv, bench_args *a)
{
    enum {
        OPT_NO_SIMPLIFY = 256, OPT_NO_FUSE, OPT_NO_REUSE, OPT_PROFILE,
        OPT_DEVICE, OPT_NO_CACHE
    };
    static const struct option options[] = {
        {"steps", required_argument, NULL, 'n'},
        {"entry", required_argument, NULL, 'e'},
        {"threads", required_argument, NULL, 't'},
        {"set", required_argument, NULL, 's'},
        {"no-simplify", no_argument, NULL, OPT_NO_SIMPLIFY},
        {"no-fuse", no_argument, NULL, OPT_NO_FUSE},
        {"no-reuse", no_argument, NULL, OPT_NO_REUSE},
        {"profile", no_argument, NULL, OPT_PROFILE},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, ":n:e:t:s:h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_int(optarg, 1, 1000000, &a->steps)) {
                return cli_usage_error("bench ", "--steps needs an integer "
                                       "from 1 to 1000000, got '%s'", optarg);
            }
            break;
        case 't':
            if (!cli_parse_int(optarg, 1, 1024, &a->threads)) {
                return cli_usage_error("bench ", "--threads needs an integer "
                                       "from 1 to 1024, got '%s'", optarg);
            }
            break;
        case 'e': a->entry = optarg; break;
        case OPT_NO_SIMPLIFY: a->flags.no_simplify = true; break;
        case OPT_NO_FUSE: a->flags.no_fuse = true; break;
        case OPT_NO_REUSE: a->flags.no_reuse = true; break;
        case OPT_PROFILE: a->profile = true; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_NO_CACHE: a->no_cache = true; break;
        case 's':
            if (cli_add_set(&a->sets, "bench ", optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(bench_help, stdout);
            return -1;
        default:
            return cli_option_error("bench ", argv, c);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("bench ", "bench needs exactly one MODEL file");
    }
    a->model = argv[optind];
    return 0;
}

/* Fills every input with a fixed pattern of values in [0, 1). */
static rg_status fill_inputs(rg_exec *ex, const rg_plan *plan, rg_error *err)
{
    for (int i = 0; i < rg_plan_n_inputs(plan); i++) {
        int64_t n = rg_shape_numel(rg_plan_input_shape(plan, i));
        float *values = malloc((size_t)n * sizeof(float));
        uint32_t x = 12345u;

        if (values == NULL) {
            err->code = RG_STATUS_NO_MEMORY;
            snprintf(err->message, sizeof(err->message), "out of memory");
            return err->code;
        }
        for (int64_t k = 0; k < n; k++) {
            x = x * 1664525u + 1013904223u;
            values[k] = (float)(x >> 8) * (1.0f / 16777216.0f);
        }
        rg_status st = rg_exec_set_input(ex, rg_plan_input_name(plan, i),
                                         values, n, err);
        free(values);
        if (st != RG_STATUS_OK) {
            return st;
        }
    }
    return RG_STATUS_OK;
}

/* Prints the mean time of every step of the bound plan. */
static rg_status print_profile(rg_exec *ex, int n_runs, rg_error *err)
{
    int n = rg_exec_n_steps(ex);
    double *seconds = calloc((size_t)n + 1, sizeof(double));
    rg_status st;

    if (seconds == NULL) {
        err->code = RG_STATUS_NO_MEMORY;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return err->code;
    }
    st = rg_exec_profile(ex, n_runs, seconds, err);
    for (int i = 0; i < n && st == RG_STATUS_OK; i++) {
        printf("  step %2d %-28s %9.3f ms\n", i, rg_exec_step_label(ex, i),
               1e3 * seconds[i]);
    }
    free(seconds);
    return st;
}

static bool on_cpu(const bench_args *a)
{
    return a->device == NULL || strcmp(a->device, "cpu") == 0;
}

/* Times `plan` with `threads` threads (0: default) and prints a row. */
static rg_status bench_row(const bench_args *a, const rg_model *m,
                           const rg_plan *plan, int threads, rg_error *err)
{
    rg_runtime *rt = NULL;
    rg_exec *ex = NULL;
    rg_bench_result r;
    rg_status st = rg_runtime_new(on_cpu(a) ? "cpu" : a->device, 1, &rt, err);

    if (st == RG_STATUS_OK) {
        st = rg_runtime_set_threads(rt, threads, err);
    }
    if (st == RG_STATUS_OK && a->no_cache) {
        st = rg_runtime_set_cache(rt, false, NULL, err);
    }
    if (st == RG_STATUS_OK && !on_cpu(a)) {
        printf("device %s\n%-8s %10s %10s %8s %12s\n", rg_runtime_device(rt),
               "", "step ms", "gemm ms", "ratio", "samples/s");
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_new(rt, plan, &ex, err);
    }
    if (st == RG_STATUS_OK) {
        st = fill_inputs(ex, plan, err);
    }
    if (st == RG_STATUS_OK) {
        rg_exec_set_model_hypers(ex, m);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_bench(ex, (int)a->steps, &r, err);
    }
    if (st == RG_STATUS_OK) {
        rg_shape in = rg_plan_n_inputs(plan) > 0 ? rg_plan_input_shape(plan, 0)
                                                 : (rg_shape){0, {0, 0}};
        double rows = in.rank > 0 ? (double)in.dims[0] : 1.0;

        char label[16];

        if (!on_cpu(a)) {
            snprintf(label, sizeof(label), "device");
        } else if (threads == 0) {
            snprintf(label, sizeof(label), "default");
        } else {
            snprintf(label, sizeof(label), "%d", threads);
        }
        printf("%-8s %10.3f %10.3f %8.3f %12.0f\n", label,
               1e3 * r.step_seconds, 1e3 * r.gemm_seconds,
               r.step_seconds / r.gemm_seconds, rows / r.step_seconds);
        fflush(stdout);
    }
    if (st == RG_STATUS_OK && a->profile) {
        st = print_profile(ex, (int)a->steps, err);
    }
    rg_exec_free(ex);
    rg_runtime_free(rt);
    return st;
}

int cmd_bench(int argc, char **argv)
{
    bench_args a;
    rg_model *m = NULL;
    rg_graph *g = NULL;
    rg_plan *plan = NULL;
    rg_error err;
    int status = 1;

    memset(&a, 0, sizeof(a));
    a.entry = "train";
    a.steps = 200;
    int parsed = parse_bench_args(argc, argv, &a);
    if (parsed != 0) {
        return parsed < 0 ? 0 : parsed;
    }
    m = cli_load_model(a.model, &a.sets, &status);
    if (m == NULL) {
        return status;
    }
    rg_plan_options options = cli_plan_options(&a.flags);
    if (rg_model_build(m, a.entry, &g, &err) != RG_STATUS_OK ||
        rg_plan_build(g, &options, &plan, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        goto done;
    }
    printf("model %s, entry %s: %d matrix products, %d other kernels, "
           "%d steps per round\n", rg_model_name(m), a.entry,
           rg_plan_n_gemms(plan), rg_plan_n_kernels(plan), (int)a.steps);
    if (on_cpu(&a)) {
        printf("%-8s %10s %10s %8s %12s\n", "threads", "step ms", "gemm ms",
               "ratio", "samples/s");
    }
    if (bench_row(&a, m, plan, (int)a.threads, &err) != RG_STATUS_OK ||
        (on_cpu(&a) && bench_row(&a, m, plan, 1, &err) != RG_STATUS_OK)) {
        cli_print_error(&err);
        goto done;
    }
    status = 0;

done:
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
    return status;
}
