/*
 * Internal description of a loaded model file, shared by the YAML reader
 * (front_yaml.c) and the graph builder (front_build.c). The reader fills
 * it, front_model_check validates every name and dependency in it, and
 * rg_model_build turns one entry point into a graph. Once loaded, only
 * rg_model_set changes it (dim and hyperparameter values).
 */
#ifndef RG_FRONT_H
#define RG_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/expr.h"
#include "rbmgraph/model.h"

/* Largest dim value, and the most elements any tensor may have. */
#define FRONT_MAX_DIM INT64_C(2147483647)
#define FRONT_MAX_ELEMENTS INT64_C(2147483647)

/* Most steps a chain may unroll to. */
#define FRONT_MAX_STEPS 10000

/*
 * Most levels of recursion when following an expression through the named
 * expressions it uses: one level per operator and one per named reference
 * along any path. Bounds stack use on hostile files.
 */
#define FRONT_MAX_NESTING 2000

/* A 1-based position in the model file. */
typedef struct front_loc {
    int line;
    int column;
} front_loc;

typedef struct front_dim {
    char *name;
    int64_t value;
    front_loc loc;
} front_dim;

typedef struct front_hyper {
    char *name;
    double value;
    front_loc loc;
} front_hyper;

typedef enum front_tensor_kind {
    FRONT_TENSOR_PARAM,
    FRONT_TENSOR_STATE,
    FRONT_TENSOR_INPUT,
} front_tensor_kind;

/* One extent of a declared shape: a dim name or a literal. */
typedef struct front_extent {
    int dim;       /* index into rg_model.dims, or -1 for a literal */
    int64_t value; /* the literal when dim is -1 */
    front_loc loc;
} front_extent;

/* A param, state or input leaf. */
typedef struct front_tensor {
    char *name;
    front_tensor_kind kind;
    int rank;
    front_extent extents[RG_MAX_RANK];
    rg_init init; /* zeros for inputs */
    front_loc loc;
} front_tensor;

/*
 * `name: expression`. Used for graph expressions, chain variables, updates
 * (name is the target), outputs and metrics.
 */
typedef struct front_def {
    char *name;
    expr_node *expr;
    front_loc loc;       /* of the key */
    front_loc value_loc; /* of the expression text */
} front_def;

typedef enum front_steps_kind {
    FRONT_STEPS_LITERAL,
    FRONT_STEPS_DIM,
    FRONT_STEPS_HYPER,
} front_steps_kind;

/*
 * A Gibbs chain unrolled by the builder. Each variable in `init` is carried:
 * inside `step` its name means the value from the previous step (or from
 * `init` for the first step), and its own definition in `step` is the value
 * passed on. Other step variables mean the current step's value.
 */
typedef struct front_chain {
    char *name;
    front_loc loc;
    front_steps_kind steps_kind;
    int64_t steps;   /* FRONT_STEPS_LITERAL */
    int steps_index; /* into dims or hypers */
    front_loc steps_loc;
    front_def *init;
    int n_init;
    front_def *step;
    int n_step;
    int *carried; /* per step variable: its index in init, or -1 */
} front_chain;

typedef struct front_entry {
    char *name;
    front_loc loc;
    front_def *graph;
    int n_graph;
    front_def *updates;
    int n_updates;
    front_def *outputs;
    int n_outputs;
    front_def *metrics;
    int n_metrics;
} front_entry;

struct rg_model {
    char *file;
    char *source; /* NUL-terminated copy of the text */
    size_t source_length;
    char *name;
    front_dim *dims;
    int n_dims;
    front_hyper *hypers;
    int n_hypers;
    front_tensor *tensors; /* params, state and inputs in file order */
    int n_tensors;
    front_def *graph;
    int n_graph;
    front_chain *chains;
    int n_chains;
    front_entry *entries; /* in file order; see order_entries */
    int n_entries;
};

/* What a top-level name refers to. */
typedef enum front_name_kind {
    FRONT_NAME_NONE,
    FRONT_NAME_DIM,
    FRONT_NAME_HYPER,
    FRONT_NAME_TENSOR,
    FRONT_NAME_GRAPH,
    FRONT_NAME_CHAIN,
} front_name_kind;

typedef struct front_name {
    front_name_kind kind;
    int index;
} front_name;

/* Looks up a name among dims, hypers, tensors, graph expressions, chains. */
front_name front_lookup(const rg_model *m, const char *name);

/* Returns the index of `name` in `defs`, or -1. */
int front_find_def(const front_def *defs, int n, const char *name);

/* Returns "dim", "hyper", "param", "state", "input", "graph expression"... */
const char *front_name_kind_str(const rg_model *m, front_name name);

/* Returns the declared location of a top-level name. */
front_loc front_name_loc(const rg_model *m, front_name name);

/*
 * Returns a declared name within a small edit distance of `typo`, or NULL.
 * `entry` (may be NULL) adds that entry's graph expressions to the search.
 */
const char *front_suggest(const rg_model *m, const front_entry *entry,
                          const char *typo);

/* Returns the current extent of a declared shape entry. */
int64_t front_extent_value(const rg_model *m, front_extent extent);

/* Returns the declared shape of a tensor with the current dim values. */
rg_shape front_tensor_shape(const rg_model *m, const front_tensor *tensor);

/*
 * Returns a chain's step count with the current dims and hyperparameters.
 * Fails with RG_STATUS_MODEL, at the `steps` location, when the value is not
 * an integer in 1..FRONT_MAX_STEPS.
 */
rg_status front_chain_steps(const rg_model *m, const front_chain *chain,
                            int64_t *steps, rg_error *err);

/*
 * Checks a parsed model: every name used in an expression resolves, update
 * targets are params or state, and named expressions and chains form no
 * cycle. Fails with RG_STATUS_MODEL at the offending name. Defined in
 * front_build.c.
 */
rg_status front_model_check(const rg_model *m, rg_error *err);

#endif
