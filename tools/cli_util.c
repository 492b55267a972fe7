/*
 * Helpers shared by the rbm-graph commands.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_program = "rbm-graph";

void cli_print_error(const rg_error *err)
{
    char buf[1200];

    fprintf(stderr, "%s: error: %s\n", cli_program,
            rg_error_format(err, buf, sizeof(buf)));
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", cli_program);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\nTry '%s %s--help'.\n", cli_program,
            command != NULL ? command : "");
    return EXIT_USAGE;
}

int cli_option_error(const char *command, char **argv, int code)
{
    const char *arg = argv[optind - 1];

    if (code == ':') {
        return cli_usage_error(command, "option '%s' needs a value", arg);
    }
    if (optopt != 0 && strncmp(arg, "--", 2) != 0) {
        return cli_usage_error(command, "unknown option '-%c'", optopt);
    }
    return cli_usage_error(command, "unknown option '%s'", arg);
}

/* Parses a whole decimal integer in [min, max]; false on anything else. */
bool cli_parse_int(const char *text, long long min, long long max,
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

int cli_add_set(cli_sets *sets, const char *command, const char *arg)
{
    if (strchr(arg, '=') == NULL || arg[0] == '=') {
        return cli_usage_error(command, "--set needs NAME=VALUE, got '%s'", arg);
    }
    if (sets->n == (int)(sizeof(sets->items) / sizeof(sets->items[0]))) {
        return cli_usage_error(command, "too many --set options (at most 64)");
    }
    sets->items[sets->n++] = arg;
    return 0;
}

rg_model *cli_load_model(const char *path, const cli_sets *sets,
                         int *status)
{
    rg_model *m;
    rg_error err;

    *status = 1;
    if (rg_model_load(path, &m, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
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
            fprintf(stderr, "%s: error: --set %s: %s\n", cli_program,
                    sets->items[i], err.message);
            rg_model_free(m);
            *status = EXIT_USAGE;
            return NULL;
        }
    }
    return m;
}

bool cli_has_entry(const rg_model *m, const char *entry)
{
    for (int i = 0; i < rg_model_n_entries(m); i++) {
        if (strcmp(rg_model_entry_name(m, i), entry) == 0) {
            return true;
        }
    }
    return false;
}

rg_plan_options cli_plan_options(const cli_plan_flags *flags)
{
    rg_plan_options o = rg_plan_options_default();

    o.simplify = !flags->no_simplify;
    o.fuse = !flags->no_fuse;
    o.reuse = !flags->no_reuse;
    return o;
}
