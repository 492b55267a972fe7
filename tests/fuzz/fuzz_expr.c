/*
 * Fuzz target for the expression parser alone (src/graph/expr.c): each
 * input is parsed as one expression starting at line 3, column 7, and a
 * tree that parses is printed back with expr_format. Faster than going
 * through YAML, so it reaches deeper into the grammar in the same time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "graph/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless every node lies at or after the expression's start. */
static void check_locations(const expr_node *node)
{
    if (node->line < 3 || (node->line == 3 && node->column < 7)
        || node->column < 1) {
        fprintf(stderr, "fuzz: node at %d:%d, before the text starts\n",
                node->line, node->column);
        abort();
    }
    for (int i = 0; i < node->n_args; i++) {
        check_locations(node->args[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    expr_node *tree = NULL;
    rg_error err;
    char text[512];
    rg_status st = expr_parse((const char *)data, size, "fuzz.yaml", 3, 7,
                              &tree, &err);

    if (st != RG_STATUS_OK) {
        fuzz_check_error(st, &err);
        if (tree != NULL || (st == RG_STATUS_SYNTAX && err.line < 3)) {
            abort();
        }
        return 0;
    }
    check_locations(tree);
    expr_format(tree, text, sizeof(text));
    if (memchr(text, '\0', sizeof(text)) == NULL) {
        abort();
    }
    expr_free(tree);
    return 0;
}
