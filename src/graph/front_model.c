/*
 * The public accessors of a loaded model, overrides (rg_model_set) and the
 * name lookups and suggestions the graph builder uses.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/front_read.h"

const char *rg_model_name(const rg_model *m)
{
    return m->name;
}

const char *rg_model_source(const rg_model *m)
{
    return m->source;
}

int rg_model_n_entries(const rg_model *m)
{
    return m->n_entries;
}

const char *rg_model_entry_name(const rg_model *m, int index)
{
    if (index < 0 || index >= m->n_entries) {
        return NULL;
    }
    return m->entries[index].name;
}

int rg_model_n_dims(const rg_model *m)
{
    return m->n_dims;
}

const char *rg_model_dim_name(const rg_model *m, int index)
{
    if (index < 0 || index >= m->n_dims) {
        return NULL;
    }
    return m->dims[index].name;
}

int64_t rg_model_dim_value(const rg_model *m, int index)
{
    if (index < 0 || index >= m->n_dims) {
        return 0;
    }
    return m->dims[index].value;
}

int rg_model_n_hypers(const rg_model *m)
{
    return m->n_hypers;
}

const char *rg_model_hyper_name(const rg_model *m, int index)
{
    if (index < 0 || index >= m->n_hypers) {
        return NULL;
    }
    return m->hypers[index].name;
}

double rg_model_hyper_value(const rg_model *m, int index)
{
    if (index < 0 || index >= m->n_hypers) {
        return 0.0;
    }
    return m->hypers[index].value;
}

/* Checks every declared shape and chain length after an override. */
static rg_status check_overrides(const rg_model *m, rg_error *err)
{
    char text[64];

    for (int i = 0; i < m->n_tensors; i++) {
        rg_shape shape = front_tensor_shape(m, &m->tensors[i]);

        if (rg_shape_numel(shape) > FRONT_MAX_ELEMENTS) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "%s '%s' would have shape %s, more than "
                                "%lld elements; use a smaller value",
                                front_tensor_kind_str(m->tensors[i].kind),
                                m->tensors[i].name,
                                rg_shape_str(shape, text, sizeof(text)),
                                (long long)FRONT_MAX_ELEMENTS);
        }
    }
    for (int i = 0; i < m->n_chains; i++) {
        int64_t steps;
        rg_error chain_err;

        if (front_chain_steps(m, &m->chains[i], &steps, &chain_err)
            != RG_STATUS_OK) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT, "%s",
                                chain_err.message);
        }
    }
    return RG_STATUS_OK;
}

static rg_status set_dim(rg_model *m, int index, const char *value,
                         rg_error *err)
{
    front_dim *dim = &m->dims[index];
    int64_t old = dim->value;
    int64_t parsed;
    char why[160];
    rg_status status;

    if (!front_parse_positive(value, FRONT_MAX_DIM, &parsed, why, sizeof(why))) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "invalid value for dim '%s': expected a positive "
                            "integer; %s", dim->name, why);
    }
    dim->value = parsed;
    status = check_overrides(m, err);
    if (status != RG_STATUS_OK) {
        dim->value = old;
    }
    return status;
}

static rg_status set_hyper(rg_model *m, int index, const char *value,
                           rg_error *err)
{
    front_hyper *hyper = &m->hypers[index];
    double old = hyper->value;
    double parsed;
    char why[160];
    rg_status status;

    if (front_parse_finite(value, &parsed, why, sizeof(why)) != NUMBER_OK) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "invalid value for hyper '%s': expected a finite "
                            "number; %s", hyper->name, why);
    }
    hyper->value = parsed;
    status = check_overrides(m, err);
    if (status != RG_STATUS_OK) {
        hyper->value = old;
    }
    return status;
}

/* Writes "batch, visible, lr" (dims, then hypers) into `buf`. */
static void list_override_names(const rg_model *m, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int i = 0; i < m->n_dims + m->n_hypers && n < size; i++) {
        const char *name = i < m->n_dims ? m->dims[i].name
                                         : m->hypers[i - m->n_dims].name;
        int w = snprintf(buf + n, size - n, "%s%s", i > 0 ? ", " : "", name);
        n += w > 0 ? (size_t)w : 0;
    }
    if (m->n_dims + m->n_hypers == 0) {
        snprintf(buf, size, "none (the model declares no dims or hypers)");
    }
}

rg_status rg_model_set(rg_model *m, const char *name, const char *value,
                       rg_error *err)
{
    int dim;
    int hyper;
    const char *close = NULL;
    char names[320];

    rg_error_clear(err);
    if (m == NULL || name == NULL || value == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_model_set: model, name and value must not "
                            "be NULL");
    }
    dim = front_find_dim(m, name);
    if (dim >= 0) {
        return set_dim(m, dim, value, err);
    }
    hyper = front_find_hyper(m, name);
    if (hyper >= 0) {
        return set_hyper(m, hyper, value, err);
    }
    for (int i = 0; i < m->n_dims && close == NULL; i++) {
        close = expr_is_close(name, m->dims[i].name) ? m->dims[i].name : NULL;
    }
    for (int i = 0; i < m->n_hypers && close == NULL; i++) {
        close = expr_is_close(name, m->hypers[i].name) ? m->hypers[i].name
                                                        : NULL;
    }
    list_override_names(m, names, sizeof(names));
    if (close != NULL) {
        return rg_error_set(err, RG_STATUS_NOT_FOUND,
                            "model '%s' has no dim or hyper named '%s'; did "
                            "you mean '%s'? Valid names: %s", m->name, name,
                            close, names);
    }
    return rg_error_set(err, RG_STATUS_NOT_FOUND,
                        "model '%s' has no dim or hyper named '%s'; valid "
                        "names: %s", m->name, name, names);
}

/* Lookups shared with front_build.c. */

int front_find_def(const front_def *defs, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(defs[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

front_name front_lookup(const rg_model *m, const char *name)
{
    front_name ref = {FRONT_NAME_NONE, -1};

    if ((ref.index = front_find_dim(m, name)) >= 0) {
        ref.kind = FRONT_NAME_DIM;
    } else if ((ref.index = front_find_hyper(m, name)) >= 0) {
        ref.kind = FRONT_NAME_HYPER;
    } else if ((ref.index = front_find_def(m->graph, m->n_graph, name)) >= 0) {
        ref.kind = FRONT_NAME_GRAPH;
    } else {
        for (int i = 0; i < m->n_tensors; i++) {
            if (strcmp(m->tensors[i].name, name) == 0) {
                ref.kind = FRONT_NAME_TENSOR;
                ref.index = i;
                return ref;
            }
        }
        for (int i = 0; i < m->n_chains; i++) {
            if (strcmp(m->chains[i].name, name) == 0) {
                ref.kind = FRONT_NAME_CHAIN;
                ref.index = i;
                return ref;
            }
        }
        ref.index = -1;
    }
    return ref;
}

const char *front_name_kind_str(const rg_model *m, front_name name)
{
    switch (name.kind) {
    case FRONT_NAME_DIM:
        return "dim";
    case FRONT_NAME_HYPER:
        return "hyper";
    case FRONT_NAME_TENSOR:
        return front_tensor_kind_str(m->tensors[name.index].kind);
    case FRONT_NAME_GRAPH:
        return "graph expression";
    case FRONT_NAME_CHAIN:
        return "chain";
    case FRONT_NAME_NONE:
        break;
    }
    return "name";
}

front_loc front_name_loc(const rg_model *m, front_name name)
{
    front_loc none = {0, 0};

    switch (name.kind) {
    case FRONT_NAME_DIM:
        return m->dims[name.index].loc;
    case FRONT_NAME_HYPER:
        return m->hypers[name.index].loc;
    case FRONT_NAME_TENSOR:
        return m->tensors[name.index].loc;
    case FRONT_NAME_GRAPH:
        return m->graph[name.index].loc;
    case FRONT_NAME_CHAIN:
        return m->chains[name.index].loc;
    case FRONT_NAME_NONE:
        break;
    }
    return none;
}

static const char *closest(const char *typo, const char *candidate,
                           const char *best)
{
    if (best == NULL && expr_is_close(typo, candidate)) {
        return candidate;
    }
    return best;
}

const char *front_suggest(const rg_model *m, const front_entry *entry,
                          const char *typo)
{
    const char *best = NULL;

    for (int i = 0; entry != NULL && i < entry->n_graph; i++) {
        best = closest(typo, entry->graph[i].name, best);
    }
    for (int i = 0; i < m->n_graph; i++) {
        best = closest(typo, m->graph[i].name, best);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        best = closest(typo, m->tensors[i].name, best);
    }
    for (int i = 0; i < m->n_hypers; i++) {
        best = closest(typo, m->hypers[i].name, best);
    }
    for (int i = 0; i < m->n_dims; i++) {
        best = closest(typo, m->dims[i].name, best);
    }
    return best;
}

int64_t front_extent_value(const rg_model *m, front_extent extent)
{
    return extent.dim >= 0 ? m->dims[extent.dim].value : extent.value;
}

rg_shape front_tensor_shape(const rg_model *m, const front_tensor *tensor)
{
    rg_shape shape;

    memset(&shape, 0, sizeof(shape));
    shape.rank = tensor->rank;
    for (int i = 0; i < tensor->rank; i++) {
        shape.dims[i] = front_extent_value(m, tensor->extents[i]);
    }
    return shape;
}

rg_status front_chain_steps(const rg_model *m, const front_chain *chain,
                            int64_t *steps, rg_error *err)
{
    const char *source = "";
    const char *name = "";
    double value;

    switch (chain->steps_kind) {
    case FRONT_STEPS_LITERAL:
        *steps = chain->steps;
        return RG_STATUS_OK;
    case FRONT_STEPS_DIM:
        source = "dim";
        name = m->dims[chain->steps_index].name;
        value = (double)m->dims[chain->steps_index].value;
        break;
    case FRONT_STEPS_HYPER:
    default:
        source = "hyper";
        name = m->hypers[chain->steps_index].name;
        value = m->hypers[chain->steps_index].value;
        break;
    }
    if (value != floor(value) || value < 1 || value > FRONT_MAX_STEPS) {
        return rg_error_set_at(err, RG_STATUS_MODEL, m->file,
                               chain->steps_loc.line, chain->steps_loc.column,
                               "chain '%s' takes its steps from %s '%s' = %g, "
                               "which is not an integer from 1 to %d",
                               chain->name, source, name, value,
                               FRONT_MAX_STEPS);
    }
    *steps = (int64_t)value;
    return RG_STATUS_OK;
}
