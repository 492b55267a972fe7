/*
 * Model files: YAML text declaring dims, hyperparameters, params, state,
 * inputs, shared expressions, Gibbs chains and entry points. The format is
 * documented in docs/model-format.md. A loaded model is a description; each
 * entry point is turned into a graph by rg_model_build.
 */
#ifndef RBMGRAPH_MODEL_H
#define RBMGRAPH_MODEL_H

#include <stdint.h>

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rg_model rg_model;

/*
 * Parses the model file at `path`. On success stores a new model in *out
 * (free with rg_model_free). On failure returns the status, fills `err`
 * with file, line, column and message, and leaves *out NULL.
 */
rg_status rg_model_load(const char *path, rg_model **out, rg_error *err);

/* Same as rg_model_load on in-memory text; `name` is used in errors. */
rg_status rg_model_load_string(const char *text, size_t length,
                               const char *name, rg_model **out,
                               rg_error *err);

void rg_model_free(rg_model *m);

/*
 * Overrides a dim or a hyperparameter, as the CLI's --set NAME=VALUE does.
 * Dims take positive integers; hyperparameters take finite numbers.
 * Returns RG_STATUS_NOT_FOUND for a name that is neither.
 */
rg_status rg_model_set(rg_model *m, const char *name, const char *value,
                       rg_error *err);

/* The model's `model:` name. */
const char *rg_model_name(const rg_model *m);

/* The text of the file as loaded (for checkpoints). */
const char *rg_model_source(const rg_model *m);

/* Entry points in file order ("train", "reconstruct", ...). */
int rg_model_n_entries(const rg_model *m);
const char *rg_model_entry_name(const rg_model *m, int index);

/* Dims and hyperparameters in file order, with their current values. */
int rg_model_n_dims(const rg_model *m);
const char *rg_model_dim_name(const rg_model *m, int index);
int64_t rg_model_dim_value(const rg_model *m, int index);
int rg_model_n_hypers(const rg_model *m);
const char *rg_model_hyper_name(const rg_model *m, int index);
double rg_model_hyper_value(const rg_model *m, int index);

/*
 * Builds the graph of entry point `entry` with the current dims and
 * hyperparameters: chains unrolled, shapes inferred. Stores a new graph in
 * *out (free with rg_graph_free). Errors carry the model file's line and
 * column of the offending expression.
 */
rg_status rg_model_build(const rg_model *m, const char *entry,
                         rg_graph **out, rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
