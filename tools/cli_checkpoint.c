/*
 * Opening checkpoints for the commands that start from a trained model,
 * and the "name=value" settings text stored in them.
 */
#include "cli_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Applies one "name=value" setting to the model. `what` names its origin
 * in the error message. Returns false after printing the error. */
static bool apply_setting(rg_model *m, const char *setting, size_t length,
                          const char *what)
{
    char name[128];
    char value[128];
    const char *eq = memchr(setting, '=', length);
    size_t name_len = eq != NULL ? (size_t)(eq - setting) : 0;
    size_t value_len = eq != NULL ? length - name_len - 1 : 0;
    rg_error err;

    if (eq == NULL || name_len == 0 || name_len >= sizeof(name)
        || value_len >= sizeof(value)) {
        fprintf(stderr, "%s: error: %s: invalid setting '%.*s'; expected "
                "NAME=VALUE\n", cli_program, what, (int)length, setting);
        return false;
    }
    memcpy(name, setting, name_len);
    name[name_len] = '\0';
    memcpy(value, eq + 1, value_len);
    value[value_len] = '\0';
    if (rg_model_set(m, name, value, &err) != RG_STATUS_OK) {
        fprintf(stderr, "%s: error: %s: %s=%s: %s\n", cli_program, what, name,
                value, err.message);
        return false;
    }
    return true;
}

/* Applies every line of `lines` (NULL applies nothing). */
static bool apply_lines(rg_model *m, const char *lines, const char *what)
{
    const char *p = lines;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '\n');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);

        if (length > 0 && !apply_setting(m, p, length, what)) {
            return false;
        }
        p = end != NULL ? end + 1 : p + length;
    }
    return true;
}

int cli_checkpoint_model(const cli_checkpoint *c, const cli_sets *sets,
                         long long batch, rg_model **out)
{
    char what[512];
    char value[32];
    rg_model *m = NULL;
    rg_error err;

    *out = NULL;
    if (c->meta.model_source == NULL) {
        fprintf(stderr, "%s: error: %s: the checkpoint contains no model text "
                "(member __model__); it was not written by rbm-graph "
                "train\n", cli_program, c->path);
        return 1;
    }
    snprintf(what, sizeof(what), "%s (stored model)", c->path);
    if (rg_model_load_string(c->meta.model_source,
                             strlen(c->meta.model_source), what, &m,
                             &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    snprintf(what, sizeof(what), "%s: stored setting", c->path);
    if (!apply_lines(m, c->meta.dims, what)
        || !apply_lines(m, c->meta.hypers, what)) {
        rg_model_free(m);
        return 1;
    }
    for (int i = 0; i < sets->n; i++) {
        if (!apply_setting(m, sets->items[i], strlen(sets->items[i]),
                           "--set")) {
            rg_model_free(m);
            return EXIT_USAGE;
        }
    }
    snprintf(value, sizeof(value), "%lld", batch);
    if (batch > 0 && rg_model_set(m, "batch", value, &err) != RG_STATUS_OK) {
        fprintf(stderr, "%s: error: %s: cannot set batch to %lld: %s\n",
                cli_program, c->path, batch, err.message);
        rg_model_free(m);
        return 1;
    }
    *out = m;
    return 0;
}

/*
 * Fails, printing why, when the checkpoint lacks a param or state that an
 * entry of the model declares: binding a plan would otherwise create it
 * with fresh initial values and silently lose the training.
 */
static int check_tensors_present(const cli_checkpoint *c)
{
    for (int e = 0; e < rg_model_n_entries(c->model); e++) {
        rg_graph *g;
        rg_error err;

        if (rg_model_build(c->model, rg_model_entry_name(c->model, e), &g,
                           &err) != RG_STATUS_OK) {
            continue; /* reported when the entry is used */
        }
        for (int id = 0; id < rg_graph_n_nodes(g); id++) {
            rg_op op = rg_graph_node_op(g, id);
            const char *name = rg_graph_node_name(g, id);

            if ((op == RG_OP_PARAM || op == RG_OP_STATE) &&
                rg_runtime_find_tensor(c->rt, name) < 0) {
                fprintf(stderr, "%s: error: %s has no tensor '%s', which "
                        "the model declares; the file is damaged or was "
                        "written by another model\n", cli_program, c->path,
                        name);
                rg_graph_free(g);
                return 1;
            }
        }
        rg_graph_free(g);
    }
    return 0;
}

int cli_checkpoint_open(const char *path, const char *device,
                        const cli_sets *sets, cli_checkpoint *out)
{
    rg_error err;
    int status;

    memset(out, 0, sizeof(*out));
    out->path = path;
    if (rg_checkpoint_read_meta(path, &out->meta, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    status = cli_checkpoint_model(out, sets, 0, &out->model);
    if (status != 0) {
        cli_checkpoint_close(out);
        return status;
    }
    if (rg_runtime_new(device, out->meta.seed, &out->rt, &err) !=
            RG_STATUS_OK ||
        rg_checkpoint_load(out->rt, path, NULL, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        cli_checkpoint_close(out);
        return 1;
    }
    if (check_tensors_present(out) != 0) {
        cli_checkpoint_close(out);
        return 1;
    }
    return 0;
}

void cli_checkpoint_close(cli_checkpoint *c)
{
    rg_runtime_free(c->rt);
    rg_model_free(c->model);
    rg_checkpoint_meta_clear(&c->meta);
    c->rt = NULL;
    c->model = NULL;
}

char *cli_format_settings(const rg_model *m, bool hypers)
{
    int n = hypers ? rg_model_n_hypers(m) : rg_model_n_dims(m);
    size_t size = 1;
    char *text;

    for (int i = 0; i < n; i++) {
        const char *name = hypers ? rg_model_hyper_name(m, i)
                                  : rg_model_dim_name(m, i);
        size += strlen(name) + 32; /* "=", a %.17g number, "\n" */
    }
    text = malloc(size);
    if (text == NULL) {
        return NULL;
    }
    size_t used = 0;
    text[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (hypers) {
            used += (size_t)snprintf(text + used, size - used, "%s=%.17g\n",
                                     rg_model_hyper_name(m, i),
                                     rg_model_hyper_value(m, i));
        } else {
            used += (size_t)snprintf(text + used, size - used, "%s=%lld\n",
                                     rg_model_dim_name(m, i),
                                     (long long)rg_model_dim_value(m, i));
        }
    }
    return text;
}

bool cli_settings_get(const char *lines, const char *key, char *buf,
                      size_t size)
{
    size_t key_len = strlen(key);
    const char *p = lines;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '\n');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);

        if (length > key_len && strncmp(p, key, key_len) == 0
            && p[key_len] == '=') {
            size_t value_len = length - key_len - 1;
            if (value_len >= size) {
                return false;
            }
            memcpy(buf, p + key_len + 1, value_len);
            buf[value_len] = '\0';
            return true;
        }
        p = end != NULL ? end + 1 : p + length;
    }
    return false;
}

rg_dataset *cli_load_dataset(const char *path, const rg_data_options *options,
                             const rg_checkpoint_meta *meta)
{
    rg_dataset *ds = NULL;
    rg_error err;

    if (rg_dataset_load(path, options, &ds, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return NULL;
    }
    if (meta == NULL || meta->n_columns == 0) {
        return ds;
    }
    if (meta->n_columns != rg_dataset_n_cols(ds)) {
        fprintf(stderr, "%s: error: %s has %lld values per example but the "
                "checkpoint standardises %lld columns; use data like the "
                "training data\n", cli_program, path,
                (long long)rg_dataset_n_cols(ds), (long long)meta->n_columns);
        rg_dataset_free(ds);
        return NULL;
    }
    if (rg_dataset_set_standardize(ds, meta->data_mean, meta->data_std,
                                   &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        rg_dataset_free(ds);
        return NULL;
    }
    return ds;
}

rg_data_options cli_checkpoint_data_options(const rg_checkpoint_meta *meta)
{
    rg_data_options options = rg_data_options_default();
    char value[32];

    if (cli_settings_get(meta->data, "binarize", value, sizeof(value))) {
        options.binarize = strcmp(value, "1") == 0;
    }
    return options;
}

bool cli_parse_shape(const char *text, int *height, int *width)
{
    char *end;
    long h = strtol(text, &end, 10);

    if (end == text || (*end != 'x' && *end != 'X') || h < 1 || h > 65535) {
        return false;
    }
    const char *second = end + 1;
    long w = strtol(second, &end, 10);
    if (end == second || *end != '\0' || w < 1 || w > 65535) {
        return false;
    }
    *height = (int)h;
    *width = (int)w;
    return true;
}
