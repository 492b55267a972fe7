/*
 * Fuzz target for model files: the YAML reader, the expression parser,
 * name checks, chain unrolling and shape inference. Each input is loaded
 * with rg_model_load_string, and every entry of a model that loads is
 * built. Graphs small enough to plan quickly are also planned, which runs
 * the simplify and fuse passes and the arena checker.
 *
 * Beyond crashes and sanitizer reports, a failure is a finding when its
 * error record is malformed or, for a model-file error, lacks the file,
 * line and column that docs/model-format.md promises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rbmgraph/rbmgraph.h"

/* Larger graphs are built but not planned, to keep executions fast. */
enum { FUZZ_MAX_PLAN_NODES = 4000 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

/* Aborts unless a model-file error names fuzz.yaml and a position. */
static void check_located(rg_status status, const rg_error *err)
{
    fuzz_check_error(status, err);
    if (status == RG_STATUS_NO_MEMORY) {
        return;
    }
    if (strcmp(err->file, "fuzz.yaml") != 0 || err->line < 1) {
        fprintf(stderr, "fuzz: model error without a location: "
                "file '%s' %d:%d: %s\n", err->file, err->line, err->column,
                err->message);
        abort();
    }
}

static void plan_graph(const rg_graph *g)
{
    rg_plan_options options = rg_plan_options_default();
    rg_plan *plan = NULL;
    rg_error err;
    rg_status st = rg_plan_build(g, &options, &plan, &err);

    if (st != RG_STATUS_OK) {
        fuzz_check_error(st, &err);
        return;
    }
    st = rg_plan_check(plan, &err);
    if (st != RG_STATUS_OK) {
        fprintf(stderr, "fuzz: the arena checker rejected a plan: %s\n",
                err.message);
        abort();
    }
    rg_plan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rg_model *m = NULL;
    rg_error err;
    rg_status st = rg_model_load_string((const char *)data, size, "fuzz.yaml",
                                        &m, &err);

    if (st != RG_STATUS_OK) {
        check_located(st, &err);
        if (m != NULL) {
            abort();
        }
        return 0;
    }
    for (int i = 0; i < rg_model_n_entries(m); i++) {
        rg_graph *g = NULL;

        st = rg_model_build(m, rg_model_entry_name(m, i), &g, &err);
        if (st != RG_STATUS_OK) {
            check_located(st, &err);
            continue;
        }
        if (rg_graph_n_nodes(g) <= FUZZ_MAX_PLAN_NODES) {
            plan_graph(g);
        }
        rg_graph_free(g);
    }
    rg_model_free(m);
    return 0;
}
