/*
 * Model files: turns the YAML tree of front_tree.c into the rg_model
 * description of front.h, section by section (dims, hyper, params, state,
 * inputs, graph, chains, entries), and checks names across sections. Also
 * rg_model_load and rg_model_load_string. Every location stored in the
 * model is 1-based.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph/error_internal.h"
#include "graph/front_read.h"

/* Mapping access and key checks. */

static const ynode *map_key(const ynode *map, int i)
{
    return map->items[2 * i];
}

static const ynode *map_value(const ynode *map, int i)
{
    return map->items[2 * i + 1];
}

static int map_size(const ynode *map)
{
    return map->n_items / 2;
}

static const ynode *map_get(const ynode *map, const char *key)
{
    for (int i = 0; i < map_size(map); i++) {
        if (strcmp(map_key(map, i)->text, key) == 0) {
            return map_value(map, i);
        }
    }
    return NULL;
}

static const ynode *map_get_key(const ynode *map, const char *key)
{
    for (int i = 0; i < map_size(map); i++) {
        if (strcmp(map_key(map, i)->text, key) == 0) {
            return map_key(map, i);
        }
    }
    return NULL;
}

static void join_words(const char *const *words, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; words[i] != NULL && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "",
                         words[i]);

        if (n < 0) {
            return;
        }
        used += (size_t)n;
    }
}

/* Rejects keys of `map` outside the NULL-terminated list `valid`. */
static rg_status check_known_keys(loader *l, const ynode *map,
                                  const char *const *valid,
                                  const char *where)
{
    for (int i = 0; i < map_size(map); i++) {
        const ynode *key = map_key(map, i);
        const char *close = NULL;
        bool known = false;
        char list[256];

        for (int j = 0; valid[j] != NULL; j++) {
            known = known || strcmp(key->text, valid[j]) == 0;
            if (close == NULL && expr_is_close(key->text, valid[j])) {
                close = valid[j];
            }
        }
        if (known) {
            continue;
        }
        join_words(valid, list, sizeof(list));
        if (close != NULL) {
            return front_fail(l, RG_STATUS_MODEL, key->loc,
                              "unknown key '%s' in %s; did you mean '%s'? "
                              "Valid keys: %s", key->text, where, close, list);
        }
        return front_fail(l, RG_STATUS_MODEL, key->loc,
                          "unknown key '%s' in %s; valid keys: %s", key->text,
                          where, list);
    }
    return RG_STATUS_OK;
}

static rg_status expect_mapping(loader *l, const ynode *node,
                                const char *what, const char *form)
{
    if (node->kind == YNODE_MAPPING) {
        return RG_STATUS_OK;
    }
    return front_fail(l, RG_STATUS_MODEL, node->loc,
                      "%s must be a mapping of %s, found %s", what, form,
                      front_ynode_kind_str(node));
}

static bool is_identifier(const char *text, size_t length)
{
    if (length == 0 || strlen(text) != length) {
        return false;
    }
    if (!((text[0] >= 'a' && text[0] <= 'z')
          || (text[0] >= 'A' && text[0] <= 'Z') || text[0] == '_')) {
        return false;
    }
    for (size_t i = 1; i < length; i++) {
        char c = text[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

/* Checks that a key is usable as a name in expressions. */
static rg_status check_name(loader *l, const ynode *key, const char *what)
{
    if (!is_identifier(key->text, key->length)) {
        return front_fail(l, RG_STATUS_MODEL, key->loc,
                          "invalid %s name '%s'; names are letters, digits and "
                          "'_', and start with a letter or '_'", what, key->text);
    }
    if (expr_is_function(key->text)) {
        return front_fail(l, RG_STATUS_MODEL, key->loc,
                          "%s name '%s' is a built-in function; choose another "
                          "name", what, key->text);
    }
    return RG_STATUS_OK;
}


static bool word_in(const char *text, const char *const *words)
{
    for (int i = 0; words[i] != NULL; i++) {
        if (strcmp(text, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

static size_t skip_digits(const char *s, size_t i)
{
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    return i;
}

/*
 * Checks the decimal syntax [+-] digits [. digits] [e [+-] digits] (or a
 * leading '.'). Sets *is_integer when there is neither '.' nor exponent.
 */
static number_problem number_syntax(const char *s, bool *is_integer)
{
    size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    size_t start = i;
    size_t int_end = skip_digits(s, i);

    *is_integer = true;
    i = int_end;
    if (s[i] == '.') {
        *is_integer = false;
        i = skip_digits(s, i + 1);
    }
    if (i == start || (i == start + 1 && s[start] == '.')) {
        return NUMBER_SYNTAX;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t e = i + 1 + (s[i + 1] == '+' || s[i + 1] == '-');

        *is_integer = false;
        i = skip_digits(s, e);
        if (i == e) {
            return NUMBER_SYNTAX;
        }
    }
    if (s[i] != '\0') {
        return NUMBER_SYNTAX;
    }
    if (int_end - start > 1 && s[start] == '0') {
        return NUMBER_LEADING_ZERO;
    }
    return NUMBER_OK;
}

/*
 * Parses a YAML 1.1 plain scalar as a finite float32-range number. Words
 * that YAML 1.1 reads as null, booleans or infinities get their own
 * problem so that the message can name them.
 */
static number_problem number_parse(const char *text, double *value,
                                   bool *is_integer)
{
    static const char *const empty[] = {"", "~", "null", "Null", "NULL",
                                        NULL};
    static const char *const booleans[] = {
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", NULL};
    const char *unsigned_text = text;
    number_problem problem;

    if (word_in(text, empty)) {
        return NUMBER_EMPTY;
    }
    if (word_in(text, booleans)) {
        return NUMBER_BOOLEAN;
    }
    if (text[0] == '+' || text[0] == '-') {
        unsigned_text = text + 1;
    }
    if (strcasecmp(unsigned_text, ".inf") == 0
        || strcasecmp(unsigned_text, ".nan") == 0) {
        return NUMBER_NON_FINITE;
    }
    problem = number_syntax(text, is_integer);
    if (problem != NUMBER_OK) {
        return problem;
    }
    errno = 0;
    *value = strtod(text, NULL);
    if (!isfinite(*value) || fabs(*value) > FLT_MAX) {
        return NUMBER_RANGE;
    }
    return NUMBER_OK;
}

static void describe_problem(number_problem problem, const char *text,
                             char *buf, size_t size)
{
    switch (problem) {
    case NUMBER_EMPTY:
        snprintf(buf, size, "found an empty value");
        break;
    case NUMBER_BOOLEAN:
        snprintf(buf, size, "found the boolean '%s'", text);
        break;
    case NUMBER_NON_FINITE:
        snprintf(buf, size, "found the non-finite value '%s'", text);
        break;
    case NUMBER_LEADING_ZERO:
        snprintf(buf, size,
                 "found '%s', whose leading zero YAML 1.1 reads as octal",
                 text);
        break;
    case NUMBER_RANGE:
        snprintf(buf, size, "'%s' is out of range for float32", text);
        break;
    default:
        snprintf(buf, size, "found '%.60s'", text);
        break;
    }
}

/* Shared by YAML values and rg_model_set: parses a finite number. */
number_problem front_parse_finite(const char *text, double *value,
                                  char *why, size_t size)
{
    bool is_integer;
    number_problem problem = number_parse(text, value, &is_integer);

    if (problem != NUMBER_OK) {
        describe_problem(problem, text, why, size);
    }
    return problem;
}

/* Parses an integer in 1..max; on failure writes the reason into `why`. */
bool front_parse_positive(const char *text, int64_t max, int64_t *value,
                          char *why, size_t size)
{
    bool is_integer = false;
    double number = 0.0;
    number_problem problem = number_parse(text, &number, &is_integer);

    if (problem == NUMBER_RANGE && is_integer) {
        problem = NUMBER_OK;
        number = HUGE_VAL;
    }
    if (problem != NUMBER_OK) {
        describe_problem(problem, text, why, size);
        return false;
    }
    if (!is_integer) {
        snprintf(why, size, "found '%s', which is not an integer", text);
        return false;
    }
    if (number < 1) {
        snprintf(why, size, "found %s, which is not positive", text);
        return false;
    }
    if (number > (double)max) {
        snprintf(why, size, "found %s, which exceeds the maximum %lld", text,
                 (long long)max);
        return false;
    }
    *value = (int64_t)number;
    return true;
}

/* Reads a number from a node, rejecting quoted strings and collections. */
static rg_status read_number(loader *l, const ynode *node, const char *what,
                             double *value)
{
    char why[160];

    if (node->kind != YNODE_SCALAR) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be a number, found %s", what,
                          front_ynode_kind_str(node));
    }
    if (node->style != YAML_PLAIN_SCALAR_STYLE) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be a number, found the quoted string '%.60s'; "
                          "remove the quotes", what, node->text);
    }
    if (front_parse_finite(node->text, value, why, sizeof(why)) != NUMBER_OK) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be a finite number; %s", what, why);
    }
    return RG_STATUS_OK;
}

static rg_status read_positive(loader *l, const ynode *node, const char *what,
                               int64_t max, int64_t *value)
{
    char why[160];

    if (node->kind != YNODE_SCALAR) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be a positive integer, found %s", what,
                          front_ynode_kind_str(node));
    }
    if (node->style != YAML_PLAIN_SCALAR_STYLE) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be a positive integer, found a quoted string "
                          "('%.60s'); remove the quotes", what, node->text);
    }
    if (!front_parse_positive(node->text, max, value, why, sizeof(why))) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be a positive integer; %s", what, why);
    }
    return RG_STATUS_OK;
}

/* Expressions. */

static bool same_non_space(const char *a, size_t na, const char *b,
                           size_t nb)
{
    size_t i = 0;
    size_t j = 0;

    for (;;) {
        while (i < na && strchr(" \t\r\n", a[i]) != NULL) {
            i++;
        }
        while (j < nb && strchr(" \t\r\n", b[j]) != NULL) {
            j++;
        }
        if (i == na || j == nb) {
            return i == na && j == nb;
        }
        if (a[i++] != b[j++]) {
            return false;
        }
    }
}

/*
 * Finds the raw source text of a scalar, so that every token of an
 * expression keeps its own line and column even in multi-line and quoted
 * scalars. Returns false when the raw text differs from the value other
 * than in whitespace (escapes, '' in single quotes).
 */
static bool raw_scalar(const loader *l, const ynode *node, const char **text,
                       size_t *length, front_loc *origin)
{
    const char *s = l->m->source;
    size_t begin = front_mark_offset(l, node->start_mark);
    size_t end = front_mark_offset(l, node->end_mark);

    *origin = node->loc;
    switch (node->style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        begin++;
        end = end > begin ? end - 1 : begin;
        origin->column++;
        break;
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE:
        while (begin < end && s[begin] != '\n' && s[begin] != '\r') {
            begin++;
        }
        begin += (begin < end && s[begin] == '\r');
        begin += (begin < end && s[begin] == '\n');
        origin->line++;
        origin->column = 1;
        break;
    default:
        break;
    }
    if (end < begin) {
        end = begin;
    }
    *text = s + begin;
    *length = end - begin;
    return same_non_space(*text, *length, node->text, node->length);
}

static rg_status read_expr(loader *l, const ynode *node, const char *what,
                           expr_node **out)
{
    const char *text;
    size_t length;
    front_loc origin;

    *out = NULL;
    if (node->kind != YNODE_SCALAR) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s must be an expression (a string), found %s", what,
                          front_ynode_kind_str(node));
    }
    if (!raw_scalar(l, node, &text, &length, &origin)) {
        /* NOTE: positions inside scalars with escapes are approximate. */
        text = node->text;
        length = node->length;
        origin = node->loc;
    }
    return expr_parse(text, length, l->m->file, origin.line, origin.column,
                      out, l->err);
}

/* Reads a mapping of name: expression. */
static rg_status read_defs(loader *l, const ynode *map, const char *what,
                           const char *name_kind, front_def **defs, int *n)
{
    char where[128];
    int count = map_size(map);
    rg_status status = expect_mapping(l, map, what, "name: expression");

    *defs = NULL;
    *n = 0;
    if (status != RG_STATUS_OK) {
        return status;
    }
    *defs = calloc((size_t)(count > 0 ? count : 1), sizeof(**defs));
    if (*defs == NULL) {
        return front_fail_no_memory(l);
    }
    for (int i = 0; i < count; i++) {
        const ynode *key = map_key(map, i);
        front_def *def = &(*defs)[i];

        status = check_name(l, key, name_kind);
        if (status != RG_STATUS_OK) {
            return status;
        }
        def->name = front_copy_string(key->text);
        def->loc = key->loc;
        def->value_loc = map_value(map, i)->loc;
        *n = i + 1;
        if (def->name == NULL) {
            return front_fail_no_memory(l);
        }
        snprintf(where, sizeof(where), "%s '%s'", name_kind, key->text);
        status = read_expr(l, map_value(map, i), where, &def->expr);
        if (status != RG_STATUS_OK) {
            return status;
        }
    }
    return RG_STATUS_OK;
}

/* Sections: model, dims, hyper. */

static rg_status read_model_name(loader *l, const ynode *node)
{
    if (node->kind != YNODE_SCALAR || node->length == 0) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "model must be the model's name, found %s",
                          front_ynode_kind_str(node));
    }
    l->m->name = front_copy_string(node->text);
    return l->m->name == NULL ? front_fail_no_memory(l) : RG_STATUS_OK;
}

static rg_status read_dims(loader *l, const ynode *map)
{
    rg_model *m = l->m;
    rg_status status = expect_mapping(l, map, "dims",
                                      "name: positive integer");

    if (status != RG_STATUS_OK) {
        return status;
    }
    m->dims = calloc((size_t)map_size(map) + 1, sizeof(*m->dims));
    if (m->dims == NULL) {
        return front_fail_no_memory(l);
    }
    for (int i = 0; i < map_size(map); i++) {
        const ynode *key = map_key(map, i);
        front_dim *dim = &m->dims[i];
        char what[128];

        status = check_name(l, key, "dim");
        if (status != RG_STATUS_OK) {
            return status;
        }
        dim->name = front_copy_string(key->text);
        dim->loc = key->loc;
        m->n_dims = i + 1;
        if (dim->name == NULL) {
            return front_fail_no_memory(l);
        }
        snprintf(what, sizeof(what), "dim '%s'", key->text);
        status = read_positive(l, map_value(map, i), what, FRONT_MAX_DIM,
                               &dim->value);
        if (status != RG_STATUS_OK) {
            return status;
        }
    }
    return RG_STATUS_OK;
}

static rg_status read_hypers(loader *l, const ynode *map)
{
    rg_model *m = l->m;
    rg_status status = expect_mapping(l, map, "hyper", "name: number");

    if (status != RG_STATUS_OK) {
        return status;
    }
    m->hypers = calloc((size_t)map_size(map) + 1, sizeof(*m->hypers));
    if (m->hypers == NULL) {
        return front_fail_no_memory(l);
    }
    for (int i = 0; i < map_size(map); i++) {
        const ynode *key = map_key(map, i);
        front_hyper *hyper = &m->hypers[i];
        char what[128];

        status = check_name(l, key, "hyper");
        if (status != RG_STATUS_OK) {
            return status;
        }
        hyper->name = front_copy_string(key->text);
        hyper->loc = key->loc;
        m->n_hypers = i + 1;
        if (hyper->name == NULL) {
            return front_fail_no_memory(l);
        }
        snprintf(what, sizeof(what), "hyper '%s'", key->text);
        status = read_number(l, map_value(map, i), what, &hyper->value);
        if (status != RG_STATUS_OK) {
            return status;
        }
    }
    return RG_STATUS_OK;
}

int front_find_dim(const rg_model *m, const char *name)
{
    for (int i = 0; i < m->n_dims; i++) {
        if (strcmp(m->dims[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int front_find_hyper(const rg_model *m, const char *name)
{
    for (int i = 0; i < m->n_hypers; i++) {
        if (strcmp(m->hypers[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Sections: params, state, inputs. */

static rg_status read_extent(loader *l, const ynode *node, const char *what,
                             front_extent *extent)
{
    const rg_model *m = l->m;

    extent->loc = node->loc;
    extent->dim = -1;
    if (node->kind == YNODE_SCALAR && node->style == YAML_PLAIN_SCALAR_STYLE
        && is_identifier(node->text, node->length)
        && front_find_hyper(m, node->text) < 0) {
        const char *close = NULL;

        extent->dim = front_find_dim(m, node->text);
        if (extent->dim >= 0) {
            return RG_STATUS_OK;
        }
        for (int i = 0; i < m->n_dims && close == NULL; i++) {
            if (expr_is_close(node->text, m->dims[i].name)) {
                close = m->dims[i].name;
            }
        }
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "unknown dim '%s' in the shape of %s%s%s%s", node->text,
                          what, close != NULL ? "; did you mean '" : "",
                          close != NULL ? close : "", close != NULL ? "'?" : "");
    }
    if (node->kind == YNODE_SCALAR && front_find_hyper(m, node->text) >= 0) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "shape of %s uses hyper '%s'; shapes take dims or "
                          "positive integers", what, node->text);
    }
    char entry_what[160];

    snprintf(entry_what, sizeof(entry_what), "shape entry of %s", what);
    return read_positive(l, node, entry_what, FRONT_MAX_DIM,
                         &extent->value);
}

static rg_status read_shape(loader *l, const ynode *node, const char *what,
                            front_tensor *tensor)
{
    rg_shape shape;
    char text[64];
    rg_status status;

    if (node->kind != YNODE_SEQUENCE) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "shape of %s must be a sequence of dims or positive "
                          "integers such as [batch, visible], found %s", what,
                          front_ynode_kind_str(node));
    }
    if (node->n_items > RG_MAX_RANK) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "shape of %s has %d entries; tensors have at most %d "
                          "dimensions", what, node->n_items, RG_MAX_RANK);
    }
    tensor->rank = node->n_items;
    for (int i = 0; i < node->n_items; i++) {
        status = read_extent(l, node->items[i], what, &tensor->extents[i]);
        if (status != RG_STATUS_OK) {
            return status;
        }
    }
    shape = front_tensor_shape(l->m, tensor);
    if (rg_shape_numel(shape) > FRONT_MAX_ELEMENTS) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "shape of %s is %s, more than %lld elements; use "
                          "smaller dims", what,
                          rg_shape_str(shape, text, sizeof(text)),
                          (long long)FRONT_MAX_ELEMENTS);
    }
    return RG_STATUS_OK;
}

static rg_status read_init_normal(loader *l, const ynode *node,
                                  const char *what, rg_init *init)
{
    static const char *const keys[] = {"mean", "std", NULL};
    char where[160];
    const ynode *std;
    const ynode *mean;
    rg_status status;

    snprintf(where, sizeof(where), "the normal init of %s", what);
    status = expect_mapping(l, node, where, "mean and std");
    if (status == RG_STATUS_OK) {
        status = check_known_keys(l, node, keys, where);
    }
    if (status != RG_STATUS_OK) {
        return status;
    }
    std = map_get(node, "std");
    mean = map_get(node, "mean");
    if (std == NULL) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s needs std, for example {normal: {std: 0.01}}",
                          where);
    }
    init->kind = RG_INIT_NORMAL;
    status = read_number(l, std, "std", &init->b);
    if (status == RG_STATUS_OK && mean != NULL) {
        status = read_number(l, mean, "mean", &init->a);
    }
    if (status == RG_STATUS_OK && init->b < 0) {
        return front_fail(l, RG_STATUS_MODEL, std->loc,
                          "std must not be negative, found %g", init->b);
    }
    return status;
}

static rg_status read_init_uniform(loader *l, const ynode *node,
                                   const char *what, rg_init *init)
{
    static const char *const keys[] = {"low", "high", NULL};
    char where[160];
    const ynode *low;
    const ynode *high;
    rg_status status;

    snprintf(where, sizeof(where), "the uniform init of %s", what);
    status = expect_mapping(l, node, where, "low and high");
    if (status == RG_STATUS_OK) {
        status = check_known_keys(l, node, keys, where);
    }
    if (status != RG_STATUS_OK) {
        return status;
    }
    init->kind = RG_INIT_UNIFORM;
    init->a = 0.0;
    init->b = 1.0;
    low = map_get(node, "low");
    high = map_get(node, "high");
    if (low != NULL) {
        status = read_number(l, low, "low", &init->a);
    }
    if (status == RG_STATUS_OK && high != NULL) {
        status = read_number(l, high, "high", &init->b);
    }
    if (status == RG_STATUS_OK && !(init->a < init->b)) {
        return front_fail(l, RG_STATUS_MODEL, node->loc,
                          "%s needs low < high, found low %g and high %g", where,
                          init->a, init->b);
    }
    return status;
}

static rg_status fail_init(loader *l, const ynode *node, const char *what)
{
    return front_fail(l, RG_STATUS_MODEL, node->loc,
                      "invalid init of %s; expected zeros, {constant: c}, "
                      "{normal: {mean: m, std: s}}, {uniform: {low: a, high: b}} "
                      "or {bernoulli: p}", what);
}

static rg_status read_init(loader *l, const ynode *node, const char *what,
                           rg_init *init)
{
    const ynode *key;
    const ynode *value;
    rg_status status;

    memset(init, 0, sizeof(*init));
    if (node->kind == YNODE_SCALAR && strcmp(node->text, "zeros") == 0) {
        return RG_STATUS_OK;
    }
    if (node->kind != YNODE_MAPPING || map_size(node) != 1) {
        return fail_init(l, node, what);
    }
    key = map_key(node, 0);
    value = map_value(node, 0);
    if (strcmp(key->text, "normal") == 0) {
        return read_init_normal(l, value, what, init);
    }
    if (strcmp(key->text, "uniform") == 0) {
        return read_init_uniform(l, value, what, init);
    }
    if (strcmp(key->text, "constant") == 0) {
        init->kind = RG_INIT_CONSTANT;
        return read_number(l, value, "constant", &init->a);
    }
    if (strcmp(key->text, "bernoulli") != 0) {
        return fail_init(l, key, what);
    }
    init->kind = RG_INIT_BERNOULLI;
    status = read_number(l, value, "bernoulli probability", &init->a);
    if (status == RG_STATUS_OK && (init->a < 0 || init->a > 1)) {
        return front_fail(l, RG_STATUS_MODEL, value->loc,
                          "bernoulli probability must be in [0, 1], found %g",
                          init->a);
    }
    return status;
}

const char *front_tensor_kind_str(front_tensor_kind kind)
{
    switch (kind) {
    case FRONT_TENSOR_PARAM:
        return "param";
    case FRONT_TENSOR_STATE:
        return "state";
    case FRONT_TENSOR_INPUT:
        return "input";
    }
    return "tensor";
}

static rg_status read_tensor(loader *l, const ynode *key, const ynode *spec,
                             front_tensor *tensor)
{
    static const char *const persistent_keys[] = {"shape", "init", NULL};
    static const char *const input_keys[] = {"shape", NULL};
    const char *kind = front_tensor_kind_str(tensor->kind);
    bool is_input = tensor->kind == FRONT_TENSOR_INPUT;
    char what[128];
    const ynode *shape;
    const ynode *init;
    rg_status status;

    snprintf(what, sizeof(what), "%s '%s'", kind, key->text);
    status = expect_mapping(l, spec, what,
                            is_input ? "shape" : "shape and init");
    if (status == RG_STATUS_OK) {
        status = check_known_keys(l, spec,
                                  is_input ? input_keys : persistent_keys,
                                  what);
    }
    if (status != RG_STATUS_OK) {
        return status;
    }
    shape = map_get(spec, "shape");
    if (shape == NULL) {
        return front_fail(l, RG_STATUS_MODEL, spec->loc,
                          "%s has no shape; add shape: [dim, ...]", what);
    }
    status = read_shape(l, shape, what, tensor);
    init = map_get(spec, "init");
    if (status == RG_STATUS_OK && init != NULL) {
        status = read_init(l, init, what, &tensor->init);
    }
    return status;
}

/* Appends the tensors of one section (params, state or inputs). */
static rg_status read_tensors(loader *l, const ynode *map,
                              front_tensor_kind kind)
{
    static const char *const sections[] = {"params", "state", "inputs"};
    rg_model *m = l->m;
    rg_status status = expect_mapping(l, map, sections[kind],
                                      "name: {shape: ...}");

    if (status != RG_STATUS_OK) {
        return status;
    }
    for (int i = 0; i < map_size(map); i++) {
        const ynode *key = map_key(map, i);
        front_tensor *tensor = &m->tensors[m->n_tensors];

        status = check_name(l, key, front_tensor_kind_str(kind));
        if (status != RG_STATUS_OK) {
            return status;
        }
        tensor->name = front_copy_string(key->text);
        tensor->kind = kind;
        tensor->loc = key->loc;
        m->n_tensors++;
        if (tensor->name == NULL) {
            return front_fail_no_memory(l);
        }
        status = read_tensor(l, key, map_value(map, i), tensor);
        if (status != RG_STATUS_OK) {
            return status;
        }
    }
    return RG_STATUS_OK;
}

/* Section: chains. */

static rg_status read_steps(loader *l, const ynode *node, front_chain *chain)
{
    rg_model *m = l->m;
    char what[128];

    chain->steps_loc = node->loc;
    snprintf(what, sizeof(what), "steps of chain '%s'", chain->name);
    if (node->kind == YNODE_SCALAR && is_identifier(node->text, node->length)) {
        int dim = front_find_dim(m, node->text);
        int hyper = front_find_hyper(m, node->text);

        if (dim >= 0) {
            chain->steps_kind = FRONT_STEPS_DIM;
            chain->steps_index = dim;
        } else if (hyper >= 0) {
            chain->steps_kind = FRONT_STEPS_HYPER;
            chain->steps_index = hyper;
        } else {
            return front_fail(l, RG_STATUS_MODEL, node->loc,
                              "%s names '%s', which is neither a dim nor a hyper; "
                              "expected a positive integer, a dim or a hyper",
                              what, node->text);
        }
        return front_chain_steps(m, chain, &chain->steps, l->err);
    }
    chain->steps_kind = FRONT_STEPS_LITERAL;
    return read_positive(l, node, what, FRONT_MAX_STEPS, &chain->steps);
}

/* Links each step variable to its init entry; init must name step vars. */
static rg_status link_carried(loader *l, front_chain *chain)
{
    chain->carried = malloc((size_t)(chain->n_step + 1) * sizeof(int));
    if (chain->carried == NULL) {
        return front_fail_no_memory(l);
    }
    for (int i = 0; i < chain->n_step; i++) {
        chain->carried[i] = front_find_def(chain->init, chain->n_init,
                                           chain->step[i].name);
        if (strcmp(chain->step[i].name, "T") == 0) {
            return front_fail(l, RG_STATUS_MODEL, chain->step[i].loc,
                              "chain variable 'T' cannot be referenced, because "
                              "x.T is the transpose; rename it");
        }
    }
    for (int i = 0; i < chain->n_init; i++) {
        if (front_find_def(chain->step, chain->n_step, chain->init[i].name)
            < 0) {
            return front_fail(l, RG_STATUS_MODEL, chain->init[i].loc,
                              "chain '%s' init sets '%s', which step does not "
                              "define; every carried variable needs a new value "
                              "in step", chain->name, chain->init[i].name);
        }
    }
    return RG_STATUS_OK;
}

static rg_status read_chain(loader *l, const ynode *key, const ynode *spec,
                            front_chain *chain)
{
    static const char *const keys[] = {"steps", "init", "step", NULL};
    const ynode *steps;
    const ynode *init;
    const ynode *step;
    char what[128];
    rg_status status;

    snprintf(what, sizeof(what), "chain '%s'", key->text);
    status = expect_mapping(l, spec, what, "steps, init and step");
    if (status == RG_STATUS_OK) {
        status = check_known_keys(l, spec, keys, what);
    }
    if (status != RG_STATUS_OK) {
        return status;
    }
    steps = map_get(spec, "steps");
    init = map_get(spec, "init");
    step = map_get(spec, "step");
    if (steps == NULL || init == NULL || step == NULL) {
        const char *missing = "step";

        if (steps == NULL) {
            missing = "steps";
        } else if (init == NULL) {
            missing = "init";
        }
        return front_fail(l, RG_STATUS_MODEL, spec->loc,
                          "%s needs steps, init and step; it has no %s", what,
                          missing);
    }
    status = read_steps(l, steps, chain);
    if (status == RG_STATUS_OK) {
        status = read_defs(l, init, "chain init", "chain variable",
                           &chain->init, &chain->n_init);
    }
    if (status == RG_STATUS_OK) {
        status = read_defs(l, step, "chain step", "chain variable",
                           &chain->step, &chain->n_step);
    }
    if (status == RG_STATUS_OK && chain->n_init == 0) {
        return front_fail(l, RG_STATUS_MODEL, init->loc,
                          "%s carries no variables; list at least one in init",
                          what);
    }
    if (status == RG_STATUS_OK) {
        status = link_carried(l, chain);
    }
    return status;
}

static rg_status read_chains(loader *l, const ynode *map)
{
    rg_model *m = l->m;
    rg_status status = expect_mapping(l, map, "chains",
                                      "name: {steps, init, step}");

    if (status != RG_STATUS_OK) {
        return status;
    }
    m->chains = calloc((size_t)map_size(map) + 1, sizeof(*m->chains));
    if (m->chains == NULL) {
        return front_fail_no_memory(l);
    }
    for (int i = 0; i < map_size(map); i++) {
        const ynode *key = map_key(map, i);
        front_chain *chain = &m->chains[i];

        status = check_name(l, key, "chain");
        if (status != RG_STATUS_OK) {
            return status;
        }
        chain->name = front_copy_string(key->text);
        chain->loc = key->loc;
        m->n_chains = i + 1;
        if (chain->name == NULL) {
            return front_fail_no_memory(l);
        }
        status = read_chain(l, key, map_value(map, i), chain);
        if (status != RG_STATUS_OK) {
            return status;
        }
    }
    return RG_STATUS_OK;
}

/* Entry points. */

/* Outputs and metrics of one entry share one namespace. */
static rg_status check_result_names(loader *l, const front_entry *entry)
{
    for (int i = 0; i < entry->n_metrics; i++) {
        int j = front_find_def(entry->outputs, entry->n_outputs,
                               entry->metrics[i].name);

        if (j >= 0) {
            return front_fail(l, RG_STATUS_MODEL, entry->metrics[i].loc,
                              "metric '%s' has the name of an output of entry "
                              "'%s' (at %d:%d); rename one of them",
                              entry->metrics[i].name, entry->name,
                              entry->outputs[j].loc.line,
                              entry->outputs[j].loc.column);
        }
    }
    if (entry->n_updates + entry->n_outputs + entry->n_metrics == 0) {
        return front_fail(l, RG_STATUS_MODEL, entry->loc,
                          "entry '%s' has no updates, outputs or metrics, so it "
                          "would compute nothing", entry->name);
    }
    return RG_STATUS_OK;
}

/*
 * Reads graph, updates, outputs and metrics from `map` (all optional). The
 * train entry, read from the top level, passes has_graph false because the
 * top-level graph belongs to every entry.
 */
static rg_status read_entry_parts(loader *l, const ynode *map, bool has_graph,
                                  front_entry *entry)
{
    const ynode *graph = has_graph ? map_get(map, "graph") : NULL;
    const ynode *updates = map_get(map, "updates");
    const ynode *outputs = map_get(map, "outputs");
    const ynode *metrics = map_get(map, "metrics");
    rg_status status = RG_STATUS_OK;

    if (graph != NULL) {
        status = read_defs(l, graph, "graph", "graph expression",
                           &entry->graph, &entry->n_graph);
    }
    if (status == RG_STATUS_OK && updates != NULL) {
        status = read_defs(l, updates, "updates", "update target",
                           &entry->updates, &entry->n_updates);
    }
    if (status == RG_STATUS_OK && outputs != NULL) {
        status = read_defs(l, outputs, "outputs", "output",
                           &entry->outputs, &entry->n_outputs);
    }
    if (status == RG_STATUS_OK && metrics != NULL) {
        status = read_defs(l, metrics, "metrics", "metric",
                           &entry->metrics, &entry->n_metrics);
    }
    if (status == RG_STATUS_OK) {
        status = check_result_names(l, entry);
    }
    return status;
}

static rg_status read_entry(loader *l, const ynode *key, const ynode *spec,
                            front_entry *entry)
{
    static const char *const keys[] = {"graph", "updates", "outputs",
                                       "metrics", NULL};
    char what[128];
    rg_status status;

    snprintf(what, sizeof(what), "entry '%s'", key->text);
    status = expect_mapping(l, spec, what,
                            "graph, updates, outputs and metrics");
    if (status == RG_STATUS_OK) {
        status = check_known_keys(l, spec, keys, what);
    }
    if (status == RG_STATUS_OK) {
        status = read_entry_parts(l, spec, true, entry);
    }
    return status;
}

static rg_status entry_begin(loader *l, const char *name, front_loc loc)
{
    front_entry *entry = &l->m->entries[l->m->n_entries];

    entry->name = front_copy_string(name);
    entry->loc = loc;
    l->m->n_entries++;
    return entry->name == NULL ? front_fail_no_memory(l) : RG_STATUS_OK;
}

/* The top-level updates, outputs and metrics form the entry "train". */
static rg_status read_train(loader *l, const ynode *root)
{
    static const char *const parts[] = {"updates", "outputs", "metrics"};
    const ynode *first = NULL;
    rg_status status;

    for (int i = 0; i < 3; i++) {
        const ynode *key = map_get_key(root, parts[i]);

        if (key != NULL
            && (first == NULL
                || key->start_mark.index < first->start_mark.index)) {
            first = key;
        }
    }
    if (first == NULL) {
        return RG_STATUS_OK;
    }
    status = entry_begin(l, "train", first->loc);
    if (status != RG_STATUS_OK) {
        return status;
    }
    return read_entry_parts(l, root, false,
                            &l->m->entries[l->m->n_entries - 1]);
}

static rg_status read_entries(loader *l, const ynode *map)
{
    rg_model *m = l->m;
    rg_status status = expect_mapping(l, map, "entries",
                                      "name: {graph, updates, outputs, "
                                      "metrics}");

    for (int i = 0; status == RG_STATUS_OK && i < map_size(map); i++) {
        const ynode *key = map_key(map, i);
        int clash = -1;

        for (int j = 0; j < m->n_entries && clash < 0; j++) {
            clash = strcmp(m->entries[j].name, key->text) == 0 ? j : -1;
        }
        if (clash >= 0) {
            return front_fail(l, RG_STATUS_MODEL, key->loc,
                              "entry '%s' is already defined by the top-level "
                              "updates, outputs and metrics at %d:%d; rename it",
                              key->text, m->entries[clash].loc.line,
                              m->entries[clash].loc.column);
        }
        status = check_name(l, key, "entry");
        if (status == RG_STATUS_OK) {
            status = entry_begin(l, key->text, key->loc);
        }
        if (status == RG_STATUS_OK) {
            status = read_entry(l, key, map_value(map, i),
                                &m->entries[m->n_entries - 1]);
        }
    }
    return status;
}

/* Name clashes between sections. */

typedef struct declared_name {
    const char *name;
    front_name ref;
    front_loc loc;
} declared_name;

static int compare_declared(const void *a, const void *b)
{
    const declared_name *da = a;
    const declared_name *db = b;
    int c = strcmp(da->name, db->name);

    if (c != 0) {
        return c;
    }
    if (da->loc.line != db->loc.line) {
        return da->loc.line < db->loc.line ? -1 : 1;
    }
    return da->loc.column < db->loc.column ? -1 : 1;
}

static bool loc_before(front_loc a, front_loc b)
{
    return a.line < b.line || (a.line == b.line && a.column < b.column);
}

static const char *declared_name_of(const rg_model *m, front_name ref)
{
    switch (ref.kind) {
    case FRONT_NAME_DIM:
        return m->dims[ref.index].name;
    case FRONT_NAME_HYPER:
        return m->hypers[ref.index].name;
    case FRONT_NAME_TENSOR:
        return m->tensors[ref.index].name;
    case FRONT_NAME_GRAPH:
        return m->graph[ref.index].name;
    case FRONT_NAME_CHAIN:
        return m->chains[ref.index].name;
    case FRONT_NAME_NONE:
        break;
    }
    return "";
}

static void collect_names(const rg_model *m, declared_name *names, int *n)
{
    static const front_name_kind kinds[] = {
        FRONT_NAME_DIM, FRONT_NAME_HYPER, FRONT_NAME_TENSOR,
        FRONT_NAME_GRAPH, FRONT_NAME_CHAIN};
    const int counts[] = {m->n_dims, m->n_hypers, m->n_tensors, m->n_graph,
                          m->n_chains};

    *n = 0;
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < counts[k]; i++) {
            front_name ref = {kinds[k], i};
            declared_name *d = &names[(*n)++];

            d->ref = ref;
            d->loc = front_name_loc(m, ref);
            d->name = declared_name_of(m, ref);
        }
    }
}

/*
 * Rejects a top-level name declared twice across sections (a graph
 * expression named like a param, a dim named like a hyper). Reports the
 * clash whose second declaration comes first in the file.
 */
static rg_status check_top_names(loader *l)
{
    const rg_model *m = l->m;
    int total = m->n_dims + m->n_hypers + m->n_tensors + m->n_graph
                + m->n_chains;
    declared_name *names = malloc((size_t)(total + 1) * sizeof(*names));
    const declared_name *first = NULL;
    const declared_name *second = NULL;
    rg_status status = RG_STATUS_OK;
    int n;

    if (names == NULL) {
        return front_fail_no_memory(l);
    }
    collect_names(m, names, &n);
    qsort(names, (size_t)n, sizeof(*names), compare_declared);
    for (int i = 1; i < n; i++) {
        if (strcmp(names[i - 1].name, names[i].name) == 0
            && (second == NULL || loc_before(names[i].loc, second->loc))) {
            first = &names[i - 1];
            second = &names[i];
        }
    }
    if (second != NULL) {
        status = front_fail(l, RG_STATUS_MODEL, second->loc,
                            "%s '%s' has the same name as the %s declared at "
                            "%d:%d; every name may be declared once, so rename "
                            "one of them", front_name_kind_str(m, second->ref),
                            second->name, front_name_kind_str(m, first->ref),
                            first->loc.line, first->loc.column);
    }
    free(names);
    return status;
}

/*
 * Rejects local names (an entry's graph expressions, chain variables) that
 * hide a top-level name. `what` and `owner` describe them in messages.
 */
static rg_status check_local_names(loader *l, const front_def *defs, int n,
                                   const char *what, const char *owner)
{
    const rg_model *m = l->m;

    for (int i = 0; i < n; i++) {
        front_name ref = front_lookup(m, defs[i].name);
        front_loc at;

        if (ref.kind == FRONT_NAME_NONE) {
            continue;
        }
        at = front_name_loc(m, ref);
        return front_fail(l, RG_STATUS_MODEL, defs[i].loc,
                          "%s '%s' of %s shadows the %s declared at %d:%d; rename "
                          "it", what, defs[i].name, owner,
                          front_name_kind_str(m, ref), at.line, at.column);
    }
    return RG_STATUS_OK;
}

static rg_status check_names(loader *l)
{
    const rg_model *m = l->m;
    rg_status status = check_top_names(l);

    char owner[128];

    for (int i = 0; status == RG_STATUS_OK && i < m->n_chains; i++) {
        snprintf(owner, sizeof(owner), "chain '%s'", m->chains[i].name);
        status = check_local_names(l, m->chains[i].step, m->chains[i].n_step,
                                   "variable", owner);
    }
    for (int i = 0; status == RG_STATUS_OK && i < m->n_entries; i++) {
        snprintf(owner, sizeof(owner), "entry '%s'", m->entries[i].name);
        status = check_local_names(l, m->entries[i].graph,
                                   m->entries[i].n_graph, "graph expression",
                                   owner);
    }
    return status;
}

/* The document. */

static const char *const top_keys[] = {
    "model", "dims", "hyper", "params", "state", "inputs", "graph",
    "chains", "updates", "outputs", "metrics", "entries", NULL};

/* Allocates the tensor and entry arrays, whose sizes span sections. */
static rg_status allocate_arrays(loader *l, const ynode *root)
{
    static const char *const tensor_sections[] = {"params", "state",
                                                  "inputs"};
    const ynode *entries = map_get(root, "entries");
    int n_tensors = 1;
    int n_entries = 2;

    for (int i = 0; i < 3; i++) {
        const ynode *section = map_get(root, tensor_sections[i]);

        if (section != NULL && section->kind == YNODE_MAPPING) {
            n_tensors += map_size(section);
        }
    }
    if (entries != NULL && entries->kind == YNODE_MAPPING) {
        n_entries += map_size(entries);
    }
    l->m->tensors = calloc((size_t)n_tensors, sizeof(*l->m->tensors));
    l->m->entries = calloc((size_t)n_entries, sizeof(*l->m->entries));
    if (l->m->tensors == NULL || l->m->entries == NULL) {
        return front_fail_no_memory(l);
    }
    return RG_STATUS_OK;
}

/* Reads the sections in dependency order, whatever their file order. */
static rg_status read_sections(loader *l, const ynode *root)
{
    static const front_tensor_kind kinds[] = {
        FRONT_TENSOR_PARAM, FRONT_TENSOR_STATE, FRONT_TENSOR_INPUT};
    static const char *const tensor_sections[] = {"params", "state",
                                                  "inputs"};
    const ynode *node;
    rg_status status = allocate_arrays(l, root);

    if (status == RG_STATUS_OK && (node = map_get(root, "dims")) != NULL) {
        status = read_dims(l, node);
    }
    if (status == RG_STATUS_OK && (node = map_get(root, "hyper")) != NULL) {
        status = read_hypers(l, node);
    }
    for (int i = 0; i < 3 && status == RG_STATUS_OK; i++) {
        node = map_get(root, tensor_sections[i]);
        if (node != NULL) {
            status = read_tensors(l, node, kinds[i]);
        }
    }
    if (status == RG_STATUS_OK && (node = map_get(root, "graph")) != NULL) {
        status = read_defs(l, node, "graph", "graph expression",
                           &l->m->graph, &l->m->n_graph);
    }
    if (status == RG_STATUS_OK && (node = map_get(root, "chains")) != NULL) {
        status = read_chains(l, node);
    }
    if (status == RG_STATUS_OK) {
        status = read_train(l, root);
    }
    if (status == RG_STATUS_OK && (node = map_get(root, "entries")) != NULL) {
        status = read_entries(l, node);
    }
    return status;
}

static rg_status read_model(loader *l, const ynode *root)
{
    const ynode *name;
    rg_status status;

    if (root->kind == YNODE_SCALAR && root->length == 0) {
        return front_fail(l, RG_STATUS_MODEL, root->loc,
                          "empty model document; expected a mapping with at least "
                          "the keys model and params");
    }
    status = expect_mapping(l, root, "a model file",
                            "sections such as model, dims, params, graph");
    if (status == RG_STATUS_OK) {
        status = check_known_keys(l, root, top_keys, "the model file");
    }
    if (status != RG_STATUS_OK) {
        return status;
    }
    name = map_get(root, "model");
    if (name == NULL) {
        return front_fail(l, RG_STATUS_MODEL, root->loc,
                          "missing key 'model'; add model: NAME");
    }
    status = read_model_name(l, name);
    if (status == RG_STATUS_OK) {
        status = read_sections(l, root);
    }
    if (status == RG_STATUS_OK && l->m->n_entries == 0) {
        return front_fail(l, RG_STATUS_MODEL, root->loc,
                          "the model defines no entry point; add top-level "
                          "updates, outputs or metrics, or an entries section");
    }
    if (status == RG_STATUS_OK) {
        status = check_names(l);
    }
    return status;
}

/* Public API. */

static void free_defs(front_def *defs, int n)
{
    for (int i = 0; i < n; i++) {
        free(defs[i].name);
        expr_free(defs[i].expr);
    }
    free(defs);
}

static void free_entry(front_entry *entry)
{
    free(entry->name);
    free_defs(entry->graph, entry->n_graph);
    free_defs(entry->updates, entry->n_updates);
    free_defs(entry->outputs, entry->n_outputs);
    free_defs(entry->metrics, entry->n_metrics);
}

static void free_chain(front_chain *chain)
{
    free(chain->name);
    free_defs(chain->init, chain->n_init);
    free_defs(chain->step, chain->n_step);
    free(chain->carried);
}

void rg_model_free(rg_model *m)
{
    if (m == NULL) {
        return;
    }
    for (int i = 0; i < m->n_dims; i++) {
        free(m->dims[i].name);
    }
    for (int i = 0; i < m->n_hypers; i++) {
        free(m->hypers[i].name);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        free(m->tensors[i].name);
    }
    for (int i = 0; i < m->n_chains; i++) {
        free_chain(&m->chains[i]);
    }
    for (int i = 0; i < m->n_entries; i++) {
        free_entry(&m->entries[i]);
    }
    free_defs(m->graph, m->n_graph);
    free(m->dims);
    free(m->hypers);
    free(m->tensors);
    free(m->chains);
    free(m->entries);
    free(m->name);
    free(m->source);
    free(m->file);
    free(m);
}

/* Moves the train entry to its place in file order among the others. */
static void order_entries(rg_model *m)
{
    for (int i = 1; i < m->n_entries; i++) {
        for (int j = i; j > 0; j--) {
            front_entry swap;

            if (!loc_before(m->entries[j].loc, m->entries[j - 1].loc)) {
                break;
            }
            swap = m->entries[j];
            m->entries[j] = m->entries[j - 1];
            m->entries[j - 1] = swap;
        }
    }
}

static rg_status load_model(rg_model *m, rg_error *err)
{
    loader l;
    ynode *root = NULL;
    rg_status status;

    memset(&l, 0, sizeof(l));
    l.m = m;
    l.err = err;
    status = front_index_lines(&l);
    if (status == RG_STATUS_OK) {
        status = front_read_tree(&l, &root);
    }
    if (status == RG_STATUS_OK) {
        status = read_model(&l, root);
    }
    if (status == RG_STATUS_OK) {
        order_entries(m);
        status = front_model_check(m, err);
    }
    front_ynode_free(root);
    free(l.line_starts);
    return status;
}

rg_status rg_model_load_string(const char *text, size_t length,
                               const char *name, rg_model **out,
                               rg_error *err)
{
    rg_model *m;
    rg_status status;

    *out = NULL;
    rg_error_clear(err);
    if (text == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_model_load_string: text is NULL");
    }
    if (length > MAX_FILE_BYTES) {
        return rg_error_set_at(err, RG_STATUS_MODEL, name, 0, 0,
                               "model file of %zu bytes is larger than the "
                               "maximum of %d bytes", length,
                               MAX_FILE_BYTES);
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory while loading the model");
    }
    m->file = front_copy_string(name != NULL ? name : "<string>");
    m->source = malloc(length + 1);
    if (m->file == NULL || m->source == NULL) {
        rg_model_free(m);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory while loading the model");
    }
    memcpy(m->source, text, length);
    m->source[length] = '\0';
    m->source_length = length;
    status = load_model(m, err);
    if (status != RG_STATUS_OK) {
        rg_model_free(m);
        return status;
    }
    *out = m;
    return RG_STATUS_OK;
}

/*
 * Reads a whole file into a malloc'd buffer stored in *text. Stops one byte
 * past MAX_FILE_BYTES so that the caller can reject larger files.
 */
static rg_status read_file(const char *path, char **text, size_t *length,
                           rg_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t used = 0;
    size_t cap = 0;

    if (f == NULL) {
        return rg_error_set_at(err, RG_STATUS_IO, path, 0, 0,
                               "cannot open model file: %s", strerror(errno));
    }
    while (used <= MAX_FILE_BYTES) {
        if (used == cap) {
            size_t grown = cap == 0 ? 16384 : cap * 2;
            char *bigger = realloc(buf, grown);

            if (bigger == NULL) {
                fclose(f);
                free(buf);
                return rg_error_set(err, RG_STATUS_NO_MEMORY,
                                    "out of memory while reading %s", path);
            }
            buf = bigger;
            cap = grown;
        }
        size_t n = fread(buf + used, 1, cap - used, f);

        used += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        int error = errno;

        fclose(f);
        free(buf);
        return rg_error_set_at(err, RG_STATUS_IO, path, 0, 0,
                               "cannot read model file: %s", strerror(error));
    }
    fclose(f);
    *text = buf;
    *length = used;
    return RG_STATUS_OK;
}

rg_status rg_model_load(const char *path, rg_model **out, rg_error *err)
{
    char *text = NULL;
    size_t length = 0;
    rg_status status;

    *out = NULL;
    rg_error_clear(err);
    if (path == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_model_load: path is NULL");
    }
    status = read_file(path, &text, &length, err);
    if (status == RG_STATUS_OK) {
        status = rg_model_load_string(text, length, path, out, err);
    }
    free(text);
    return status;
}
