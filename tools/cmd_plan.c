/*
 * rbm-graph plan and rbm-graph dot: show what the planner made of a model,
 * as a listing of steps or as a Graphviz drawing of any stage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Options shared by plan and dot. */
typedef struct plan_args {
    const char *model;
    const char *entry;
    const char *output;
    const char *stage;
    const char *device;
    bool no_cache;
    cli_plan_flags flags;
    cli_sets sets;
} plan_args;

enum {
    OPT_NO_SIMPLIFY = 256, OPT_NO_FUSE, OPT_NO_REUSE, OPT_STAGE, OPT_DEVICE,
    OPT_NO_CACHE
};

static const struct option plan_options[] = {
    {"entry", required_argument, NULL, 'e'},
    {"set", required_argument, NULL, 's'},
    {"stage", required_argument, NULL, OPT_STAGE},
    {"output", required_argument, NULL, 'o'},
    {"no-simplify", no_argument, NULL, OPT_NO_SIMPLIFY},
    {"no-fuse", no_argument, NULL, OPT_NO_FUSE},
    {"no-reuse", no_argument, NULL, OPT_NO_REUSE},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns 0 to go on, -1 after printing help, or an exit status. */
static int parse_plan_args(int argc, char **argv, const char *command,
                           const char *help, bool is_dot, plan_args *a)
{
    int c;

    a->entry = "train";
    a->stage = "fused";
    while ((c = getopt_long(argc, argv, ":e:s:o:h", plan_options, NULL)) !=
           -1) {
        switch (c) {
        case 'e': a->entry = optarg; break;
        case OPT_NO_SIMPLIFY: a->flags.no_simplify = true; break;
        case OPT_NO_FUSE: a->flags.no_fuse = true; break;
        case OPT_NO_REUSE: a->flags.no_reuse = true; break;
        case 's':
            if (cli_add_set(&a->sets, command, optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'o':
        case OPT_STAGE:
            if (!is_dot) {
                return cli_usage_error(command, "invalid option '%s'",
                                       argv[optind - 1]);
            }
            *(c == 'o' ? &a->output : &a->stage) = optarg;
            break;
        case OPT_DEVICE:
        case OPT_NO_CACHE:
            if (is_dot) {
                return cli_usage_error(command, "invalid option '%s'",
                                       c == OPT_DEVICE ? "--device"
                                                       : "--no-cache");
            }
            a->device = c == OPT_DEVICE ? optarg : a->device;
            a->no_cache = a->no_cache || c == OPT_NO_CACHE;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            return cli_option_error(command, argv, c);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error(command, "needs exactly one MODEL file");
    }
    a->model = argv[optind];
    return 0;
}

/* Loads the model and builds the requested entry. On failure returns NULL
 * and stores the exit status in *status. */
static rg_graph *build_entry(const plan_args *a, rg_model **model,
                             int *status)
{
    rg_graph *g = NULL;
    rg_error err;

    *model = cli_load_model(a->model, &a->sets, status);
    if (*model == NULL) {
        return NULL;
    }
    if (!cli_has_entry(*model, a->entry)) {
        fprintf(stderr, "%s: error: %s has no entry point '%s'; its entries "
                "are:", cli_program, a->model, a->entry);
        for (int i = 0; i < rg_model_n_entries(*model); i++) {
            fprintf(stderr, " %s", rg_model_entry_name(*model, i));
        }
        fputc('\n', stderr);
        return NULL;
    }
    if (rg_model_build(*model, a->entry, &g, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return NULL;
    }
    return g;
}

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char plan_help[] =
    "Usage: rbm-graph plan MODEL [options]\n"
    "\n"
    "Plan one entry point of MODEL and list its steps in run order: each\n"
    "matrix product and fused kernel with its FLOPs and bytes moved, the\n"
    "step counts, the arena size beside the size without reuse, the peak\n"
    "memory and the time planning took.\n"
    "\n"
    "Options:\n"
    "  -e, --entry NAME      entry point to plan (default train)\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable\n"
    "      --no-simplify     skip simplification (transposes stay nodes)\n"
    "      --no-fuse         one kernel per operation, no accumulating GEMMs\n"
    "      --no-reuse        give every tensor its own arena range\n"
    "      --device NAME     also bind the plan on a device (cpu, auto,\n"
    "                        opencl or opencl:P:D): checks that the arena\n"
    "                        fits and compiles the kernels\n"
    "      --no-cache        compile OpenCL kernels without the program\n"
    "                        cache\n"
    "  -h, --help            show this help and exit\n";

/* Binds `plan` on `a->device` and reports how its kernels were made. */
static int bind_on_device(const plan_args *a, const rg_plan *plan)
{
    rg_runtime *rt = NULL;
    rg_exec *ex = NULL;
    rg_runtime_stats stats;
    rg_error err;
    double t0 = seconds_now();
    rg_status st = rg_runtime_new(a->device, 1, &rt, &err);

    if (st == RG_STATUS_OK && a->no_cache) {
        st = rg_runtime_set_cache(rt, false, NULL, &err);
    }
    if (st == RG_STATUS_OK) {
        st = rg_exec_new(rt, plan, &ex, &err);
    }
    if (st == RG_STATUS_OK) {
        rg_runtime_get_stats(rt, &stats);
        printf("bound on %s in %.2f s: %lld programs compiled, %lld loaded "
               "from the cache\n", rg_runtime_device(rt), seconds_now() - t0,
               (long long)stats.programs_built,
               (long long)stats.programs_loaded);
    } else {
        cli_print_error(&err);
    }
    rg_exec_free(ex);
    rg_runtime_free(rt);
    return st == RG_STATUS_OK ? 0 : 1;
}

int cmd_plan(int argc, char **argv)
{
    plan_args a;
    rg_model *m = NULL;
    rg_plan *plan = NULL;
    rg_error err;
    int status = 1;

    memset(&a, 0, sizeof(a));
    int parsed = parse_plan_args(argc, argv, "plan ", plan_help, false, &a);
    if (parsed != 0) {
        return parsed < 0 ? 0 : parsed;
    }
    rg_graph *g = build_entry(&a, &m, &status);
    if (g != NULL) {
        rg_plan_options options = cli_plan_options(&a.flags);
        double t0 = seconds_now();
        rg_status st = rg_plan_build(g, &options, &plan, &err);
        double t1 = seconds_now();

        if (st != RG_STATUS_OK) {
            cli_print_error(&err);
        } else {
            printf("plan of %s, entry %s\n", rg_model_name(m), a.entry);
            rg_plan_print(plan, stdout);
            printf("planning took %.2f ms\n", 1e3 * (t1 - t0));
            status = a.device != NULL ? bind_on_device(&a, plan) : 0;
        }
    }
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
    return status;
}

static const char dot_help[] =
    "Usage: rbm-graph dot MODEL [options]\n"
    "\n"
    "Write one entry point of MODEL as a Graphviz graph, for example\n"
    "  rbm-graph dot models/rbm-cd1.yaml | dot -Tsvg > cd1.svg\n"
    "Fused kernels are drawn as clusters; inputs (blue ellipses), params\n"
    "(gold), state (orange) and hyperparameters (grey diamonds) are told\n"
    "apart, and every tensor shows its shape.\n"
    "\n"
    "Options:\n"
    "  -e, --entry NAME      entry point to draw (default train)\n"
    "      --stage STAGE     parsed, simplified, fused (default) or planned;\n"
    "                        planned adds arena offsets and sizes\n"
    "  -o, --output FILE     write to FILE instead of stdout\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable\n"
    "      --no-simplify     skip simplification\n"
    "      --no-fuse         one kernel per operation\n"
    "      --no-reuse        give every tensor its own arena range\n"
    "  -h, --help            show this help and exit\n";

int cmd_dot(int argc, char **argv)
{
    plan_args a;
    rg_model *m = NULL;
    rg_stage stage;
    rg_error err;
    FILE *out = stdout;
    int status = 1;

    memset(&a, 0, sizeof(a));
    int parsed = parse_plan_args(argc, argv, "dot ", dot_help, true, &a);
    if (parsed != 0) {
        return parsed < 0 ? 0 : parsed;
    }
    if (rg_stage_parse(a.stage, &stage, &err) != RG_STATUS_OK) {
        return cli_usage_error("dot ", "%s", err.message);
    }
    rg_graph *g = build_entry(&a, &m, &status);
    if (g != NULL && a.output != NULL && (out = fopen(a.output, "w")) ==
                                             NULL) {
        fprintf(stderr, "%s: error: cannot open '%s' for writing: %s\n",
                cli_program, a.output, strerror(errno));
    } else if (g != NULL) {
        rg_plan_options options = cli_plan_options(&a.flags);
        if (rg_dot_write(g, stage, &options, out, &err) != RG_STATUS_OK) {
            cli_print_error(&err);
        } else {
            status = 0;
        }
        if (out != stdout && fclose(out) != 0) {
            fprintf(stderr, "%s: error: writing '%s' failed: %s\n",
                    cli_program, a.output, strerror(errno));
            status = 1;
        }
    }
    rg_graph_free(g);
    rg_model_free(m);
    return status;
}
