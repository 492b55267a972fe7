/*
 * rbm-graph check: validates a model file and lists its entry points.
 */
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

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

int cmd_check(int argc, char **argv)
{
    static const struct option options[] = {
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_sets sets = {{0}, 0};
    int c;

    while ((c = getopt_long(argc, argv, ":s:h", options, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_add_set(&sets, "check ", optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(check_help, stdout);
            return 0;
        default:
            return cli_option_error("check ", argv, c);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("check ", "check needs exactly one MODEL file");
    }

    int load_status;
    rg_model *m = cli_load_model(argv[optind], &sets, &load_status);
    if (m == NULL) {
        return load_status;
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
            cli_print_error(&err);
            status = 1;
            continue;
        }
        print_entry(g, entry);
        rg_graph_free(g);
    }
    rg_model_free(m);
    return status;
}

