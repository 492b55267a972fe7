/*
 * The first half of reading a model file: libyaml's event parser into a
 * small tree of ynodes with 1-based locations. libyaml accepts things a
 * model file must not contain, so this file rejects them itself: duplicate
 * keys, anchors, aliases, merge keys, tags, more than one document.
 * libyaml's marks are zero-based and count characters.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/front_read.h"

rg_status front_fail(loader *l, rg_status code, front_loc loc,
                     const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    rg_error_vset_at(l->err, code, l->m->file, loc.line, loc.column, fmt,
                     args);
    va_end(args);
    return code;
}

rg_status front_fail_no_memory(loader *l)
{
    front_loc none = {0, 0};

    return front_fail(l, RG_STATUS_NO_MEMORY, none,
                      "out of memory while loading the model");
}

char *front_copy_string(const char *text)
{
    size_t size = strlen(text) + 1;
    char *copy = malloc(size);

    if (copy != NULL) {
        memcpy(copy, text, size);
    }
    return copy;
}

/* Source positions. */

static bool is_line_break(const char *s, size_t i, size_t length)
{
    return s[i] == '\n' || (s[i] == '\r' && (i + 1 >= length
                                             || s[i + 1] != '\n'));
}

/* Records the start of every line, skipping a UTF-8 byte order mark. */
rg_status front_index_lines(loader *l)
{
    const char *s = l->m->source;
    size_t length = l->m->source_length;
    size_t n = 1;
    size_t k = 1;

    for (size_t i = 0; i < length; i++) {
        n += is_line_break(s, i, length);
    }
    l->line_starts = malloc(n * sizeof(*l->line_starts));
    if (l->line_starts == NULL) {
        return front_fail_no_memory(l);
    }
    l->line_starts[0] = 0;
    if (length >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        l->line_starts[0] = 3;
    }
    for (size_t i = 0; i < length; i++) {
        if (is_line_break(s, i, length)) {
            l->line_starts[k++] = i + 1;
        }
    }
    l->n_lines = n;
    return RG_STATUS_OK;
}

/* Converts a libyaml mark (line and column in characters) to a byte. */
size_t front_mark_offset(const loader *l, yaml_mark_t mark)
{
    const char *s = l->m->source;
    size_t length = l->m->source_length;
    size_t pos;

    if (mark.line >= l->n_lines) {
        return length;
    }
    pos = l->line_starts[mark.line];
    for (size_t column = 0; column < mark.column && pos < length;) {
        pos++;
        if (pos >= length || ((unsigned char)s[pos] & 0xC0) != 0x80) {
            column++;
        }
    }
    return pos;
}

/* Converts a byte offset to a 1-based line and column. */
static front_loc offset_loc(const loader *l, size_t offset)
{
    front_loc loc = {1, 1};
    size_t line = 0;

    while (line + 1 < l->n_lines && l->line_starts[line + 1] <= offset) {
        line++;
    }
    loc.line = (int)line + 1;
    for (size_t i = l->line_starts[line]; i < offset; i++) {
        if (((unsigned char)l->m->source[i] & 0xC0) != 0x80) {
            loc.column++;
        }
    }
    return loc;
}

static front_loc mark_loc(yaml_mark_t mark)
{
    front_loc loc = {(int)mark.line + 1, (int)mark.column + 1};

    return loc;
}

/* The YAML tree. */

void front_ynode_free(ynode *node)
{
    if (node == NULL) {
        return;
    }
    for (int i = 0; i < node->n_items; i++) {
        front_ynode_free(node->items[i]);
    }
    free(node->items);
    free(node->text);
    free(node);
}

static ynode *ynode_new(ynode_kind kind, const yaml_event_t *event)
{
    ynode *node = calloc(1, sizeof(*node));

    if (node == NULL) {
        return NULL;
    }
    node->kind = kind;
    node->start_mark = event->start_mark;
    node->end_mark = event->end_mark;
    node->loc = mark_loc(event->start_mark);
    return node;
}

static bool ynode_append(ynode *parent, ynode *child)
{
    if (parent->n_items == parent->cap_items) {
        int cap = parent->cap_items == 0 ? 8 : parent->cap_items * 2;
        ynode **items = realloc(parent->items, (size_t)cap * sizeof(*items));

        if (items == NULL) {
            return false;
        }
        parent->items = items;
        parent->cap_items = cap;
    }
    parent->items[parent->n_items++] = child;
    return true;
}

const char *front_ynode_kind_str(const ynode *node)
{
    switch (node->kind) {
    case YNODE_SCALAR:
        return node->length == 0 && node->style == YAML_PLAIN_SCALAR_STYLE
                   ? "an empty value" : "a string";
    case YNODE_SEQUENCE:
        return "a sequence";
    case YNODE_MAPPING:
        return "a mapping";
    }
    return "a node";
}

/* Translates libyaml's failure into an error with a 1-based location. */
static rg_status fail_yaml(loader *l)
{
    yaml_parser_t *p = &l->parser;
    const char *problem = p->problem != NULL ? p->problem : "unknown error";
    size_t offset;
    front_loc loc;

    if (p->error == YAML_MEMORY_ERROR) {
        return front_fail_no_memory(l);
    }
    if (p->error == YAML_READER_ERROR) {
        loc = offset_loc(l, p->problem_offset);
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "invalid text: %s; model files are UTF-8 text",
                          problem);
    }
    loc = mark_loc(p->problem_mark);
    offset = front_mark_offset(l, p->problem_mark);
    if (offset < l->m->source_length && l->m->source[offset] == '\t') {
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "tab character where YAML expects indentation or a "
                          "value; YAML indents with spaces only, so replace the "
                          "tab with spaces");
    }
    if (p->context != NULL) {
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "invalid YAML: %s, %s that starts at %d:%d", problem,
                          p->context, (int)p->context_mark.line + 1,
                          (int)p->context_mark.column + 1);
    }
    return front_fail(l, RG_STATUS_SYNTAX, loc, "invalid YAML: %s", problem);
}

static rg_status next_event(loader *l, yaml_event_t *event)
{
    if (!yaml_parser_parse(&l->parser, event)) {
        return fail_yaml(l);
    }
    return RG_STATUS_OK;
}

/* Rejects anchors and tags on a node's start event. */
static rg_status check_decorations(loader *l, const yaml_event_t *event,
                                   const yaml_char_t *anchor,
                                   const yaml_char_t *tag)
{
    front_loc loc = mark_loc(event->start_mark);

    if (anchor != NULL) {
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "YAML anchor '&%s' is not supported; write the value "
                          "out in full", (const char *)anchor);
    }
    if (tag != NULL) {
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "YAML tag '%s' is not supported; remove the tag",
                          (const char *)tag);
    }
    return RG_STATUS_OK;
}

static rg_status read_node(loader *l, yaml_event_t *event, int depth,
                           ynode **out);

static rg_status read_scalar(loader *l, yaml_event_t *event, ynode **out)
{
    ynode *node;
    rg_status status = check_decorations(l, event, event->data.scalar.anchor,
                                         event->data.scalar.tag);

    if (status != RG_STATUS_OK) {
        return status;
    }
    node = ynode_new(YNODE_SCALAR, event);
    if (node == NULL) {
        return front_fail_no_memory(l);
    }
    node->style = event->data.scalar.style;
    node->length = event->data.scalar.length;
    node->text = malloc(node->length + 1);
    if (node->text == NULL) {
        front_ynode_free(node);
        return front_fail_no_memory(l);
    }
    memcpy(node->text, event->data.scalar.value, node->length);
    node->text[node->length] = '\0';
    *out = node;
    return RG_STATUS_OK;
}

/* Reads children until the matching end event. */
static rg_status read_children(loader *l, ynode *parent, int depth,
                               yaml_event_type_t end_type)
{
    for (;;) {
        yaml_event_t event;
        ynode *child = NULL;
        rg_status status = next_event(l, &event);

        if (status != RG_STATUS_OK) {
            return status;
        }
        if (event.type == end_type) {
            parent->end_mark = event.end_mark;
            yaml_event_delete(&event);
            return RG_STATUS_OK;
        }
        status = read_node(l, &event, depth + 1, &child);
        yaml_event_delete(&event);
        if (status != RG_STATUS_OK) {
            return status;
        }
        if (!ynode_append(parent, child)) {
            front_ynode_free(child);
            return front_fail_no_memory(l);
        }
    }
}

static int compare_keys(const void *a, const void *b)
{
    const ynode *ka = *(const ynode *const *)a;
    const ynode *kb = *(const ynode *const *)b;
    int c = strcmp(ka->text, kb->text);

    if (c != 0) {
        return c;
    }
    return ka->start_mark.index < kb->start_mark.index ? -1 : 1;
}

/*
 * Checks that keys are scalars, that none is a merge key and that none
 * repeats. Sorting finds duplicates in n log n; the one reported is the
 * repeat that comes first in the file.
 */
static rg_status check_keys(loader *l, const ynode *map)
{
    int n = map->n_items / 2;
    const ynode **keys;
    const ynode *repeat = NULL;
    const ynode *first = NULL;

    for (int i = 0; i < n; i++) {
        const ynode *key = map->items[2 * i];

        if (key->kind != YNODE_SCALAR) {
            return front_fail(l, RG_STATUS_SYNTAX, key->loc,
                              "mapping key is %s; keys must be plain names",
                              front_ynode_kind_str(key));
        }
        if (key->style == YAML_PLAIN_SCALAR_STYLE
            && strcmp(key->text, "<<") == 0) {
            return front_fail(l, RG_STATUS_SYNTAX, key->loc,
                              "YAML merge key '<<' is not supported; write the "
                              "keys out in full");
        }
    }
    keys = malloc((size_t)(n > 0 ? n : 1) * sizeof(*keys));
    if (keys == NULL) {
        return front_fail_no_memory(l);
    }
    for (int i = 0; i < n; i++) {
        keys[i] = map->items[2 * i];
    }
    qsort(keys, (size_t)n, sizeof(*keys), compare_keys);
    for (int i = 1; i < n; i++) {
        if (strcmp(keys[i - 1]->text, keys[i]->text) == 0
            && (repeat == NULL
                || keys[i]->start_mark.index < repeat->start_mark.index)) {
            repeat = keys[i];
            first = keys[i - 1];
        }
    }
    free(keys);
    if (repeat != NULL) {
        return front_fail(l, RG_STATUS_SYNTAX, repeat->loc,
                          "duplicate key '%s'; it is first defined at %d:%d, so "
                          "remove or rename one of them",
                          repeat->text, first->loc.line, first->loc.column);
    }
    return RG_STATUS_OK;
}

static rg_status read_collection(loader *l, yaml_event_t *event, int depth,
                                 ynode **out)
{
    bool is_map = event->type == YAML_MAPPING_START_EVENT;
    ynode *node;
    rg_status status;

    if (is_map) {
        status = check_decorations(l, event, event->data.mapping_start.anchor,
                                   event->data.mapping_start.tag);
    } else {
        status = check_decorations(l, event,
                                   event->data.sequence_start.anchor,
                                   event->data.sequence_start.tag);
    }
    if (status != RG_STATUS_OK) {
        return status;
    }
    node = ynode_new(is_map ? YNODE_MAPPING : YNODE_SEQUENCE, event);
    if (node == NULL) {
        return front_fail_no_memory(l);
    }
    status = read_children(l, node, depth,
                           is_map ? YAML_MAPPING_END_EVENT
                                  : YAML_SEQUENCE_END_EVENT);
    if (status == RG_STATUS_OK && is_map) {
        status = check_keys(l, node);
    }
    if (status != RG_STATUS_OK) {
        front_ynode_free(node);
        return status;
    }
    *out = node;
    return RG_STATUS_OK;
}

/* Reads the node that starts with `event` (owned by the caller). */
static rg_status read_node(loader *l, yaml_event_t *event, int depth,
                           ynode **out)
{
    front_loc loc = mark_loc(event->start_mark);

    if (depth > MAX_YAML_DEPTH) {
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "YAML nested more than %d levels deep; a model file "
                          "needs only a few, so look for unclosed brackets",
                          MAX_YAML_DEPTH);
    }
    switch (event->type) {
    case YAML_SCALAR_EVENT:
        return read_scalar(l, event, out);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return read_collection(l, event, depth, out);
    case YAML_ALIAS_EVENT:
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "YAML alias '*%s' is not supported; write the value "
                          "out in full", (const char *)event->data.alias.anchor);
    default:
        return front_fail(l, RG_STATUS_SYNTAX, loc,
                          "invalid YAML: unexpected event %d", (int)event->type);
    }
}

/* Expects an event of `type` and discards it. */
static rg_status expect_event(loader *l, yaml_event_type_t type,
                              yaml_event_t *event)
{
    rg_status status = next_event(l, event);

    if (status == RG_STATUS_OK && event->type != type) {
        yaml_event_delete(event);
        return front_fail(l, RG_STATUS_SYNTAX, mark_loc(event->start_mark),
                          "invalid YAML: unexpected event %d", (int)event->type);
    }
    return status;
}

static rg_status read_body(loader *l, ynode **root)
{
    yaml_event_t event;
    front_loc start = {1, 1};
    rg_status status = expect_event(l, YAML_STREAM_START_EVENT, &event);

    if (status != RG_STATUS_OK) {
        return status;
    }
    yaml_event_delete(&event);
    status = next_event(l, &event);
    if (status != RG_STATUS_OK) {
        return status;
    }
    if (event.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&event);
        return front_fail(l, RG_STATUS_MODEL, start,
                          "empty model file; expected a mapping with at least the "
                          "keys model and params");
    }
    yaml_event_delete(&event); /* DOCUMENT-START */
    status = next_event(l, &event);
    if (status != RG_STATUS_OK) {
        return status;
    }
    status = read_node(l, &event, 0, root);
    yaml_event_delete(&event);
    if (status != RG_STATUS_OK) {
        return status;
    }
    status = expect_event(l, YAML_DOCUMENT_END_EVENT, &event);
    if (status != RG_STATUS_OK) {
        return status;
    }
    yaml_event_delete(&event);
    status = next_event(l, &event);
    if (status != RG_STATUS_OK) {
        return status;
    }
    if (event.type == YAML_DOCUMENT_START_EVENT) {
        status = front_fail(l, RG_STATUS_SYNTAX, mark_loc(event.start_mark),
                            "second YAML document; a model file holds exactly one "
                            "document, so remove everything from this '---' on");
    }
    yaml_event_delete(&event);
    return status;
}

/*
 * Parses the source with libyaml into a tree. Rejects UTF-16 input, whose
 * marks would not map onto bytes of the source.
 */
rg_status front_read_tree(loader *l, ynode **root)
{
    rg_status status;

    *root = NULL;
    if (!yaml_parser_initialize(&l->parser)) {
        return front_fail_no_memory(l);
    }
    yaml_parser_set_input_string(&l->parser,
                                 (const unsigned char *)l->m->source,
                                 l->m->source_length);
    yaml_parser_set_encoding(&l->parser, YAML_UTF8_ENCODING);
    status = read_body(l, root);
    yaml_parser_delete(&l->parser);
    if (status != RG_STATUS_OK) {
        front_ynode_free(*root);
        *root = NULL;
    }
    return status;
}
