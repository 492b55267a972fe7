/*
 * Internals shared by the model-file reader: the YAML tree that
 * front_tree.c builds from libyaml's events, the loader state, number
 * parsing, and lookups used by both the section readers (front_yaml.c)
 * and the model accessors (front_model.c).
 */
#ifndef RG_FRONT_READ_H
#define RG_FRONT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "graph/front.h"

/* Largest model file accepted; real models are a few kilobytes. */
#define MAX_FILE_BYTES (16 * 1024 * 1024)

/* Deepest YAML nesting accepted; the format itself needs 5 levels. */
#define MAX_YAML_DEPTH 32

typedef enum ynode_kind {
    YNODE_SCALAR,
    YNODE_SEQUENCE,
    YNODE_MAPPING,
} ynode_kind;

/* A YAML node. Mapping items alternate key, value. */
typedef struct ynode {
    ynode_kind kind;
    yaml_scalar_style_t style;
    char *text; /* scalar value, NUL-terminated */
    size_t length;
    front_loc loc;
    yaml_mark_t start_mark;
    yaml_mark_t end_mark;
    struct ynode **items;
    int n_items;
    int cap_items;
} ynode;

typedef struct loader {
    rg_model *m;
    rg_error *err;
    size_t *line_starts; /* byte offset of each line of m->source */
    size_t n_lines;
    yaml_parser_t parser;
} loader;

/* What is wrong with a number written in a model file. */
typedef enum number_problem {
    NUMBER_OK,
    NUMBER_EMPTY,
    NUMBER_BOOLEAN,
    NUMBER_NON_FINITE,
    NUMBER_LEADING_ZERO,
    NUMBER_SYNTAX,
    NUMBER_RANGE,
} number_problem;

/* Records an error at `loc` in the loader's error record; returns `code`. */
rg_status front_fail(loader *l, rg_status code, front_loc loc,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
rg_status front_fail_no_memory(loader *l);

/* Returns a heap copy of `text`, or NULL when out of memory. */
char *front_copy_string(const char *text);

/* Fills the loader's table of line starts, for locations. */
rg_status front_index_lines(loader *l);
size_t front_mark_offset(const loader *l, yaml_mark_t mark);

/* Reads the whole document into a tree of ynodes (free with
 * front_ynode_free), rejecting what a model file must not contain. */
rg_status front_read_tree(loader *l, ynode **root);
void front_ynode_free(ynode *node);
const char *front_ynode_kind_str(const ynode *node);

/* Index of a dim or hyperparameter by name, or -1. */
int front_find_dim(const rg_model *m, const char *name);
int front_find_hyper(const rg_model *m, const char *name);

/* Parse model-file numbers; `why` receives a reason on failure. */
number_problem front_parse_finite(const char *text, double *value,
                                  char *why, size_t size);
bool front_parse_positive(const char *text, int64_t max, int64_t *value,
                          char *why, size_t size);

const char *front_tensor_kind_str(front_tensor_kind kind);

#endif
