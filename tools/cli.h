/*
 * Shared pieces of the rbm-graph commands: error printing, option parsing
 * helpers and model loading with --set overrides.
 */
#ifndef RG_CLI_H
#define RG_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "rbmgraph/rbmgraph.h"

#define DEFAULT_TRAIN_DATA \
    "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

enum { EXIT_USAGE = 2 };

extern const char *cli_program;

/* Prints "rbm-graph: error: FILE:LINE:COL: message" to stderr. */
void cli_print_error(const rg_error *err);

/* Prints a usage error and a hint to run `rbm-graph COMMAND --help`;
 * returns EXIT_USAGE. `command` may be NULL. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Prints the usage error for an option that getopt_long rejected and
 * returns EXIT_USAGE. `code` is getopt_long's return value: ':' for an
 * option missing its value (the option string must start with ':', which
 * also stops getopt from printing its own message), '?' for an unknown
 * option.
 */
int cli_option_error(const char *command, char **argv, int code);

/* Parses a whole decimal integer in [min, max]. */
bool cli_parse_int(const char *text, long long min, long long max,
                   long long *out);

/* --set NAME=VALUE options, applied after loading. */
typedef struct cli_sets {
    const char *items[64];
    int n;
} cli_sets;

/* Records one --set; returns 0 or EXIT_USAGE after printing why. */
int cli_add_set(cli_sets *sets, const char *command, const char *arg);

/*
 * Loads `path` and applies `sets`. On failure prints the error, stores the
 * exit status in *status (EXIT_USAGE for a rejected --set, since its name
 * or value is a bad argument; 1 for a model file that does not load) and
 * returns NULL.
 */
rg_model *cli_load_model(const char *path, const cli_sets *sets,
                         int *status);

/* Parses --entry-style option values against the model's entries. */
bool cli_has_entry(const rg_model *m, const char *entry);

/* Options shared by commands that plan a model. */
typedef struct cli_plan_flags {
    bool no_simplify;
    bool no_fuse;
    bool no_reuse;
} cli_plan_flags;

rg_plan_options cli_plan_options(const cli_plan_flags *flags);

/* Commands. Each takes argv with argv[0] the command name. */
int cmd_check(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_dot(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_devices(int argc, char **argv);

#endif
