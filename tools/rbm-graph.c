/*
 * rbm-graph: the command-line program. It owns stdout for results (model
 * listings, plans, DOT, metrics) and writes progress and errors to stderr,
 * prefixed with the program name. Everything it does goes through the
 * public API.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_checkpoint.h"
#include "rg_config.h"

static const char main_help[] =
    "Usage: rbm-graph COMMAND [options]\n"
    "\n"
    "Define models such as Restricted Boltzmann Machines in YAML, plan them\n"
    "as dataflow graphs and run them.\n"
    "\n"
    "Commands:\n"
    "  check MODEL   validate a model file and list its entry points\n"
    "  train MODEL   train a model on a data set\n"
    "  eval CKPT     score a checkpoint: reconstruction error, free energy,\n"
    "                pseudo-likelihood, log Z by AIS and log-likelihood\n"
    "  sample CKPT   run Gibbs chains and save the samples as a PNG grid\n"
    "  filters CKPT  save each hidden unit's weights as a PNG tile\n"
    "  features CKPT save hidden probabilities of a data set as .npy\n"
    "  plan MODEL    list the planned steps, arena size and FLOPs\n"
    "  dot MODEL     draw the graph at a planner stage as Graphviz\n"
    "  bench MODEL   time a step against its matrix products alone\n"
    "  devices       list the CPU backend and the OpenCL devices\n"
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
    if (strcmp(command, "eval") == 0) {
        return cmd_eval(argc - 1, argv + 1);
    }
    if (strcmp(command, "sample") == 0) {
        return cmd_sample(argc - 1, argv + 1);
    }
    if (strcmp(command, "filters") == 0) {
        return cmd_filters(argc - 1, argv + 1);
    }
    if (strcmp(command, "features") == 0) {
        return cmd_features(argc - 1, argv + 1);
    }
    if (strcmp(command, "plan") == 0) {
        return cmd_plan(argc - 1, argv + 1);
    }
    if (strcmp(command, "dot") == 0) {
        return cmd_dot(argc - 1, argv + 1);
    }
    if (strcmp(command, "bench") == 0) {
        return cmd_bench(argc - 1, argv + 1);
    }
    if (strcmp(command, "devices") == 0) {
        return cmd_devices(argc - 1, argv + 1);
    }
    return cli_usage_error(NULL, "unknown command '%s'", command);
}
