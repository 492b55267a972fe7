/*
 * Name resolution, load-time checks and graph building for model files.
 *
 * front_model_check runs once when a model loads: every name must resolve
 * in its scope, update targets must be params or state, and named
 * expressions and chains must not depend on themselves. rg_model_build then
 * evaluates one entry point through the builder API: lazily, so only what
 * the entry's updates, outputs and metrics reach becomes a node, and with
 * memoization, so a named expression used twice is one node.
 *
 * Scopes: names in an entry's expressions resolve to the entry's graph,
 * then the top-level graph, chains (as chain.variable), params, state,
 * inputs, hypers and dims. Top-level graph expressions and chain init
 * expressions resolve only top-level names. A chain step adds its own
 * variables: a carried variable (one listed in init) means its value from
 * the previous step, and any other step variable its value in the current
 * step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/front.h"

typedef enum ref_kind {
    REF_NONE,
    REF_DIM,
    REF_HYPER,
    REF_TENSOR,
    REF_GRAPH,        /* top-level graph expression */
    REF_ENTRY_GRAPH,  /* graph expression of the current entry */
    REF_CHAIN_RESULT, /* chain.variable: the last step's value */
    REF_STEP_LOCAL,   /* step variable, current step */
    REF_STEP_CARRIED, /* carried step variable, previous step */
} ref_kind;

typedef struct ref {
    ref_kind kind;
    int index; /* into the list that `kind` names */
    int chain; /* REF_CHAIN_RESULT */
} ref;

typedef struct scope {
    const front_entry *entry; /* NULL outside an entry */
    int chain;                /* chain whose step this is, or -1 */
} scope;

static const scope top_scope = {NULL, -1};

static ref make_ref(ref_kind kind, int index, int chain)
{
    ref r = {kind, index, chain};

    return r;
}

static ref resolve_dotted(const rg_model *m, const char *name)
{
    const char *dot = strchr(name, '.');
    size_t length = (size_t)(dot - name);

    for (int c = 0; c < m->n_chains; c++) {
        const front_chain *chain = &m->chains[c];

        if (strlen(chain->name) == length
            && memcmp(chain->name, name, length) == 0) {
            int var = front_find_def(chain->step, chain->n_step, dot + 1);

            return make_ref(var >= 0 ? REF_CHAIN_RESULT : REF_NONE, var, c);
        }
    }
    return make_ref(REF_NONE, -1, -1);
}

static ref resolve(const rg_model *m, const scope *s, const char *name)
{
    front_name top;

    if (strchr(name, '.') != NULL) {
        return resolve_dotted(m, name);
    }
    if (s->chain >= 0) {
        const front_chain *chain = &m->chains[s->chain];
        int var = front_find_def(chain->step, chain->n_step, name);

        if (var >= 0) {
            return make_ref(chain->carried[var] >= 0 ? REF_STEP_CARRIED
                                                     : REF_STEP_LOCAL,
                            var, s->chain);
        }
    }
    if (s->entry != NULL) {
        int def = front_find_def(s->entry->graph, s->entry->n_graph, name);

        if (def >= 0) {
            return make_ref(REF_ENTRY_GRAPH, def, -1);
        }
    }
    top = front_lookup(m, name);
    switch (top.kind) {
    case FRONT_NAME_DIM:
        return make_ref(REF_DIM, top.index, -1);
    case FRONT_NAME_HYPER:
        return make_ref(REF_HYPER, top.index, -1);
    case FRONT_NAME_TENSOR:
        return make_ref(REF_TENSOR, top.index, -1);
    case FRONT_NAME_GRAPH:
        return make_ref(REF_GRAPH, top.index, -1);
    case FRONT_NAME_CHAIN:
    case FRONT_NAME_NONE:
        break;
    }
    return make_ref(REF_NONE, -1, -1);
}

static void list_chain_variables(const front_chain *chain, char *buf,
                                 size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < chain->n_step && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s.%s",
                         i > 0 ? ", " : "", chain->name, chain->step[i].name);

        if (n < 0) {
            return;
        }
        used += (size_t)n;
    }
}

/* Explains why `name` did not resolve in scope `s`. */
static void describe_unknown(const rg_model *m, const scope *s,
                             const char *name, char *buf, size_t size)
{
    front_name top = front_lookup(m, name);
    const char *dot = strchr(name, '.');
    const char *close;
    char list[256];

    if (top.kind == FRONT_NAME_CHAIN) {
        list_chain_variables(&m->chains[top.index], list, sizeof(list));
        snprintf(buf, size,
                 "chain '%s' is not a value; name one of its variables: %s",
                 name, list);
        return;
    }
    if (dot != NULL) {
        ref chain = resolve_dotted(m, name);

        if (chain.chain >= 0) {
            list_chain_variables(&m->chains[chain.chain], list, sizeof(list));
            snprintf(buf, size, "chain '%.*s' has no variable '%s'; its "
                     "variables are %s", (int)(dot - name), name, dot + 1,
                     list);
        } else {
            snprintf(buf, size, "unknown chain '%.*s' in '%s'; declare it "
                     "under chains", (int)(dot - name), name, name);
        }
        return;
    }
    close = front_suggest(m, s->entry, name);
    if (close != NULL) {
        snprintf(buf, size, "unknown name '%s'; did you mean '%s'?", name,
                 close);
        return;
    }
    snprintf(buf, size, "unknown name '%s'; declare it under params, state, "
             "inputs, hyper, dims or graph", name);
}

/* Load-time checks. */

/*
 * Nodes of the dependency graph walked for cycles: the top-level graph
 * expressions, then one node per chain, then each entry's graph
 * expressions. A whole chain is one node, because a step variable may use
 * its own value from the previous step. check_step_cycles finds cycles
 * among the variables of one step.
 */
typedef struct checker {
    const rg_model *m;
    rg_error *err;
    int *entry_base;
    unsigned char *color; /* 0 unvisited, 1 on the stack, 2 done */
    int *stack;
    int n_stack;
    int n_nodes;
    int depth;
} checker;

enum { WHITE = 0, GRAY = 1, BLACK = 2 };

static rg_status check_fail(checker *ck, const expr_node *at, rg_status code,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static rg_status check_fail(checker *ck, const expr_node *at, rg_status code,
                            const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    rg_error_vset_at(ck->err, code, ck->m->file, at->line, at->column, fmt,
                     args);
    va_end(args);
    return code;
}

static const char *node_label(const checker *ck, int node, char *buf,
                              size_t size)
{
    const rg_model *m = ck->m;

    if (node < m->n_graph) {
        snprintf(buf, size, "%s", m->graph[node].name);
    } else if (node < m->n_graph + m->n_chains) {
        snprintf(buf, size, "chain %s", m->chains[node - m->n_graph].name);
    } else {
        for (int e = m->n_entries - 1; e >= 0; e--) {
            if (node >= ck->entry_base[e]) {
                snprintf(buf, size, "%s",
                         m->entries[e].graph[node - ck->entry_base[e]].name);
                break;
            }
        }
    }
    return buf;
}

static rg_status fail_cycle(checker *ck, const expr_node *at, int node)
{
    char path[512];
    char label[128];
    size_t used = 0;
    int start = ck->n_stack - 1;

    while (start > 0 && ck->stack[start] != node) {
        start--;
    }
    path[0] = '\0';
    for (int i = start; i <= ck->n_stack && used < sizeof(path); i++) {
        int id = i < ck->n_stack ? ck->stack[i] : node;
        int n = snprintf(path + used, sizeof(path) - used, "%s%s",
                         i > start ? " -> " : "",
                         node_label(ck, id, label, sizeof(label)));

        used += n > 0 ? (size_t)n : 0;
    }
    return check_fail(ck, at, RG_STATUS_MODEL,
                      "cycle in named expressions: %s; an expression cannot "
                      "depend on itself", path);
}

static rg_status check_expr(checker *ck, const expr_node *e, const scope *s);

static rg_status visit_chain(checker *ck, int c)
{
    const front_chain *chain = &ck->m->chains[c];
    scope step_scope = {NULL, c};
    rg_status status = RG_STATUS_OK;

    for (int i = 0; status == RG_STATUS_OK && i < chain->n_init; i++) {
        status = check_expr(ck, chain->init[i].expr, &top_scope);
    }
    for (int i = 0; status == RG_STATUS_OK && i < chain->n_step; i++) {
        status = check_expr(ck, chain->step[i].expr, &step_scope);
    }
    return status;
}

static rg_status visit_node(checker *ck, const expr_node *at, int node)
{
    const rg_model *m = ck->m;
    rg_status status;

    if (ck->color[node] == BLACK) {
        return RG_STATUS_OK;
    }
    if (ck->color[node] == GRAY) {
        return fail_cycle(ck, at, node);
    }
    ck->color[node] = GRAY;
    ck->stack[ck->n_stack++] = node;
    if (node < m->n_graph) {
        status = check_expr(ck, m->graph[node].expr, &top_scope);
    } else if (node < m->n_graph + m->n_chains) {
        status = visit_chain(ck, node - m->n_graph);
    } else {
        int e = m->n_entries - 1;
        scope entry_scope = {NULL, -1};

        while (node < ck->entry_base[e]) {
            e--;
        }
        entry_scope.entry = &m->entries[e];
        status = check_expr(ck, m->entries[e].graph[node - ck->entry_base[e]]
                                    .expr,
                            &entry_scope);
    }
    ck->n_stack--;
    ck->color[node] = BLACK;
    return status;
}

static rg_status check_name(checker *ck, const expr_node *e, const scope *s)
{
    ref r = resolve(ck->m, s, e->name);
    char why[512];

    switch (r.kind) {
    case REF_NONE:
        describe_unknown(ck->m, s, e->name, why, sizeof(why));
        return check_fail(ck, e, RG_STATUS_MODEL, "%s", why);
    case REF_GRAPH:
        return visit_node(ck, e, r.index);
    case REF_CHAIN_RESULT:
        return visit_node(ck, e, ck->m->n_graph + r.chain);
    case REF_ENTRY_GRAPH: {
        int e_index = (int)(s->entry - ck->m->entries);

        return visit_node(ck, e, ck->entry_base[e_index] + r.index);
    }
    default:
        return RG_STATUS_OK;
    }
}

static rg_status check_expr(checker *ck, const expr_node *e, const scope *s)
{
    rg_status status = RG_STATUS_OK;

    if (++ck->depth > FRONT_MAX_NESTING) {
        ck->depth--;
        return check_fail(ck, e, RG_STATUS_MODEL,
                          "expressions nest more than %d levels deep through "
                          "named expressions; shorten the chain of names",
                          FRONT_MAX_NESTING);
    }
    if (e->kind == EXPR_NAME) {
        status = check_name(ck, e, s);
    }
    for (int i = 0; status == RG_STATUS_OK && i < e->n_args; i++) {
        status = check_expr(ck, e->args[i], s);
    }
    ck->depth--;
    return status;
}

/* Finds a use of step variable `var` inside `e` (for the error location). */
static const expr_node *find_local_use(const rg_model *m, int c,
                                       const expr_node *e, int var)
{
    scope s = {NULL, c};

    if (e->kind == EXPR_NAME) {
        ref r = resolve(m, &s, e->name);

        return r.kind == REF_STEP_LOCAL && r.index == var ? e : NULL;
    }
    for (int i = 0; i < e->n_args; i++) {
        const expr_node *use = find_local_use(m, c, e->args[i], var);

        if (use != NULL) {
            return use;
        }
    }
    return NULL;
}

typedef struct step_walk {
    const rg_model *m;
    int chain;
    unsigned char *color;
    int *stack;
    int n_stack;
} step_walk;

static bool visit_step_var(step_walk *w, int var, int *cycle_from);

/* Follows the current-step references inside `e`. */
static bool visit_step_expr(step_walk *w, const expr_node *e,
                            int *cycle_from)
{
    scope s = {NULL, w->chain};

    if (e->kind == EXPR_NAME) {
        ref r = resolve(w->m, &s, e->name);

        if (r.kind == REF_STEP_LOCAL) {
            return visit_step_var(w, r.index, cycle_from);
        }
        return true;
    }
    for (int i = 0; i < e->n_args; i++) {
        if (!visit_step_expr(w, e->args[i], cycle_from)) {
            return false;
        }
    }
    return true;
}

static bool visit_step_var(step_walk *w, int var, int *cycle_from)
{
    const front_chain *chain = &w->m->chains[w->chain];

    if (w->color[var] == BLACK) {
        return true;
    }
    if (w->color[var] == GRAY) {
        *cycle_from = var;
        return false;
    }
    w->color[var] = GRAY;
    w->stack[w->n_stack++] = var;
    if (!visit_step_expr(w, chain->step[var].expr, cycle_from)) {
        return false;
    }
    w->n_stack--;
    w->color[var] = BLACK;
    return true;
}

static rg_status fail_step_cycle(checker *ck, const step_walk *w, int from)
{
    const front_chain *chain = &ck->m->chains[w->chain];
    int last = w->stack[w->n_stack - 1];
    const expr_node *at = find_local_use(ck->m, w->chain,
                                         chain->step[last].expr, from);
    char path[512];
    size_t used = 0;
    int start = w->n_stack - 1;

    while (start > 0 && w->stack[start] != from) {
        start--;
    }
    path[0] = '\0';
    for (int i = start; i <= w->n_stack && used < sizeof(path); i++) {
        int var = i < w->n_stack ? w->stack[i] : from;
        int n = snprintf(path + used, sizeof(path) - used, "%s%s",
                         i > start ? " -> " : "", chain->step[var].name);

        used += n > 0 ? (size_t)n : 0;
    }
    return check_fail(ck, at != NULL ? at : chain->step[last].expr,
                      RG_STATUS_MODEL,
                      "cycle in the step of chain '%s': %s; only variables "
                      "listed in init may use their previous value",
                      chain->name, path);
}

/* Rejects step variables of one chain that depend on each other in a loop. */
static rg_status check_step_cycles(checker *ck, int c)
{
    const front_chain *chain = &ck->m->chains[c];
    step_walk w = {ck->m, c, NULL, NULL, 0};
    rg_status status = RG_STATUS_OK;
    int from = -1;

    w.color = calloc((size_t)chain->n_step + 1, 1);
    w.stack = malloc(((size_t)chain->n_step + 1) * sizeof(int));
    if (w.color == NULL || w.stack == NULL) {
        status = rg_error_set(ck->err, RG_STATUS_NO_MEMORY,
                              "out of memory while checking the model");
    }
    for (int i = 0; status == RG_STATUS_OK && i < chain->n_step; i++) {
        if (!visit_step_var(&w, i, &from)) {
            status = fail_step_cycle(ck, &w, from);
        }
    }
    free(w.color);
    free(w.stack);
    return status;
}

static rg_status check_update_target(checker *ck, const front_entry *entry,
                                     const front_def *update)
{
    const rg_model *m = ck->m;
    front_name target = front_lookup(m, update->name);
    const char *close;

    if (target.kind == FRONT_NAME_TENSOR
        && m->tensors[target.index].kind != FRONT_TENSOR_INPUT) {
        return RG_STATUS_OK;
    }
    if (target.kind != FRONT_NAME_NONE) {
        return rg_error_set_at(ck->err, RG_STATUS_MODEL, m->file,
                               update->loc.line, update->loc.column,
                               "update of '%s' in entry '%s': '%s' is %s %s, "
                               "but only params and state can be updated",
                               update->name, entry->name, update->name,
                               target.kind == FRONT_NAME_TENSOR
                                       && m->tensors[target.index].kind
                                              == FRONT_TENSOR_INPUT
                                   ? "an"
                                   : "a",
                               front_name_kind_str(m, target));
    }
    close = front_suggest(m, NULL, update->name);
    return rg_error_set_at(ck->err, RG_STATUS_MODEL, m->file,
                           update->loc.line, update->loc.column,
                           "update of unknown name '%s' in entry '%s'%s%s%s; "
                           "only params and state can be updated",
                           update->name, entry->name,
                           close != NULL ? "; did you mean '" : "",
                           close != NULL ? close : "",
                           close != NULL ? "'?" : "");
}

static rg_status check_defs(checker *ck, const front_def *defs, int n,
                            const scope *s)
{
    rg_status status = RG_STATUS_OK;

    for (int i = 0; status == RG_STATUS_OK && i < n; i++) {
        status = check_expr(ck, defs[i].expr, s);
    }
    return status;
}

static rg_status check_entry(checker *ck, int e)
{
    const front_entry *entry = &ck->m->entries[e];
    scope s = {entry, -1};
    rg_status status = RG_STATUS_OK;

    for (int i = 0; status == RG_STATUS_OK && i < entry->n_graph; i++) {
        status = visit_node(ck, entry->graph[i].expr,
                            ck->entry_base[e] + i);
    }
    for (int i = 0; status == RG_STATUS_OK && i < entry->n_updates; i++) {
        status = check_update_target(ck, entry, &entry->updates[i]);
    }
    if (status == RG_STATUS_OK) {
        status = check_defs(ck, entry->updates, entry->n_updates, &s);
    }
    if (status == RG_STATUS_OK) {
        status = check_defs(ck, entry->outputs, entry->n_outputs, &s);
    }
    if (status == RG_STATUS_OK) {
        status = check_defs(ck, entry->metrics, entry->n_metrics, &s);
    }
    return status;
}

static rg_status check_all(checker *ck)
{
    const rg_model *m = ck->m;
    rg_status status = RG_STATUS_OK;

    for (int c = 0; status == RG_STATUS_OK && c < m->n_chains; c++) {
        status = check_step_cycles(ck, c);
    }
    for (int i = 0; status == RG_STATUS_OK && i < m->n_graph; i++) {
        status = visit_node(ck, m->graph[i].expr, i);
    }
    for (int c = 0; status == RG_STATUS_OK && c < m->n_chains; c++) {
        status = visit_node(ck, m->chains[c].step[0].expr, m->n_graph + c);
    }
    for (int e = 0; status == RG_STATUS_OK && e < m->n_entries; e++) {
        status = check_entry(ck, e);
    }
    return status;
}

rg_status front_model_check(const rg_model *m, rg_error *err)
{
    checker ck;
    rg_status status;

    memset(&ck, 0, sizeof(ck));
    ck.m = m;
    ck.err = err;
    ck.n_nodes = m->n_graph + m->n_chains;
    ck.entry_base = malloc(((size_t)m->n_entries + 1) * sizeof(int));
    if (ck.entry_base == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory while checking the model");
    }
    for (int e = 0; e < m->n_entries; e++) {
        ck.entry_base[e] = ck.n_nodes;
        ck.n_nodes += m->entries[e].n_graph;
    }
    ck.color = calloc((size_t)ck.n_nodes + 1, 1);
    ck.stack = malloc(((size_t)ck.n_nodes + 1) * sizeof(int));
    if (ck.color == NULL || ck.stack == NULL) {
        status = rg_error_set(err, RG_STATUS_NO_MEMORY,
                              "out of memory while checking the model");
    } else {
        status = check_all(&ck);
    }
    free(ck.stack);
    free(ck.color);
    free(ck.entry_base);
    return status;
}

/* Graph building. */

/* Memo values besides node ids. */
#define UNBUILT (-3)
#define BUSY (-2)

typedef struct chain_memo {
    int64_t steps; /* 0 until first use */
    rg_node_id *init;
    rg_node_id *values;         /* [steps][n_step] */
    unsigned char *local_deps;  /* [n_step][n_step]: same-step uses */
    unsigned char *carried_deps; /* [n_step][n_step]: previous-step uses */
    bool busy;
} chain_memo;

typedef struct builder {
    const rg_model *m;
    const front_entry *entry;
    rg_graph *g;
    rg_node_id *tensors;
    rg_node_id *hypers;
    rg_node_id *graph;
    rg_node_id *local;
    chain_memo *chains;
    int depth;
} builder;

static rg_node_id build_expr(builder *b, const expr_node *e, const scope *s,
                             int64_t step);

static void set_loc(builder *b, front_loc loc)
{
    rg_graph_set_loc(b->g, loc.line, loc.column);
}

static void set_expr_loc(builder *b, const expr_node *e)
{
    rg_graph_set_loc(b->g, e->line, e->column);
}

static rg_node_id fail_no_memory(builder *b)
{
    return rg_graph_fail(b->g, RG_STATUS_NO_MEMORY,
                         "out of memory while building the graph");
}

static rg_node_id *memo_new(int n)
{
    rg_node_id *memo = malloc(((size_t)n + 1) * sizeof(*memo));

    for (int i = 0; memo != NULL && i < n; i++) {
        memo[i] = UNBUILT;
    }
    return memo;
}

static void name_node(builder *b, rg_node_id node, const char *name)
{
    if (node >= 0 && rg_graph_node_name(b->g, node) == NULL) {
        rg_graph_set_name(b->g, node, name);
    }
}

/* Builds a named expression once; `slot` contains its memoized node. */
static rg_node_id build_def(builder *b, const front_def *def,
                            rg_node_id *slot, const scope *s,
                            const char *name)
{
    rg_node_id node;

    if (*slot == BUSY) {
        set_loc(b, def->loc);
        return rg_graph_fail(b->g, RG_STATUS_MODEL,
                             "'%s' depends on itself", name);
    }
    if (*slot != UNBUILT) {
        return *slot;
    }
    *slot = BUSY;
    node = build_expr(b, def->expr, s, 0);
    *slot = node;
    name_node(b, node, name);
    return node;
}

static rg_node_id build_tensor(builder *b, int index)
{
    const front_tensor *tensor = &b->m->tensors[index];
    rg_shape shape = front_tensor_shape(b->m, tensor);
    rg_node_id node = RG_NODE_NONE;

    if (b->tensors[index] != UNBUILT) {
        return b->tensors[index];
    }
    set_loc(b, tensor->loc);
    switch (tensor->kind) {
    case FRONT_TENSOR_PARAM:
        node = rg_graph_param(b->g, tensor->name, shape, tensor->init);
        break;
    case FRONT_TENSOR_STATE:
        node = rg_graph_state(b->g, tensor->name, shape, tensor->init);
        break;
    case FRONT_TENSOR_INPUT:
        node = rg_graph_input(b->g, tensor->name, shape);
        break;
    }
    b->tensors[index] = node;
    return node;
}

static rg_node_id build_hyper(builder *b, int index)
{
    if (b->hypers[index] == UNBUILT) {
        set_loc(b, b->m->hypers[index].loc);
        b->hypers[index] = rg_graph_hyper(b->g, b->m->hypers[index].name);
    }
    return b->hypers[index];
}

/* Chains. */

static void mark_deps(builder *b, int c, int var, const expr_node *e)
{
    chain_memo *memo = &b->chains[c];
    int n = b->m->chains[c].n_step;
    scope s = {NULL, c};

    if (e->kind == EXPR_NAME) {
        ref r = resolve(b->m, &s, e->name);

        if (r.kind == REF_STEP_LOCAL) {
            memo->local_deps[var * n + r.index] = 1;
        } else if (r.kind == REF_STEP_CARRIED) {
            memo->carried_deps[var * n + r.index] = 1;
        }
        return;
    }
    for (int i = 0; i < e->n_args; i++) {
        mark_deps(b, c, var, e->args[i]);
    }
}

/* Sizes a chain's memo on first use, with the current step count. */
static bool chain_prepare(builder *b, int c)
{
    const front_chain *chain = &b->m->chains[c];
    chain_memo *memo = &b->chains[c];
    size_t n = (size_t)chain->n_step;
    rg_error err;

    if (memo->steps > 0) {
        return true;
    }
    if (front_chain_steps(b->m, chain, &memo->steps, &err) != RG_STATUS_OK) {
        set_loc(b, chain->steps_loc);
        rg_graph_fail(b->g, err.code, "%s", err.message);
        return false;
    }
    memo->init = memo_new(chain->n_init);
    memo->values = memo_new((int)(memo->steps * (int64_t)n));
    memo->local_deps = calloc(n * n + 1, 1);
    memo->carried_deps = calloc(n * n + 1, 1);
    if (memo->init == NULL || memo->values == NULL
        || memo->local_deps == NULL || memo->carried_deps == NULL) {
        fail_no_memory(b);
        return false;
    }
    for (int v = 0; v < chain->n_step; v++) {
        mark_deps(b, c, v, chain->step[v].expr);
    }
    return true;
}

static rg_node_id build_step_var(builder *b, int c, int64_t step, int var);

/* Value of carried variable `var` entering step `step` (1-based). */
static rg_node_id build_carried(builder *b, int c, int64_t step, int var)
{
    const front_chain *chain = &b->m->chains[c];
    chain_memo *memo = &b->chains[c];
    int init = chain->carried[var];
    char name[160];

    if (step > 1) {
        return build_step_var(b, c, step - 1, var);
    }
    snprintf(name, sizeof(name), "%s[0].%s", chain->name,
             chain->init[init].name);
    return build_def(b, &chain->init[init], &memo->init[init], &top_scope,
                     name);
}

static rg_node_id build_step_var(builder *b, int c, int64_t step, int var)
{
    const front_chain *chain = &b->m->chains[c];
    chain_memo *memo = &b->chains[c];
    rg_node_id *slot = &memo->values[(step - 1) * chain->n_step + var];
    scope s = {NULL, c};
    char name[160];

    if (*slot == BUSY) {
        set_loc(b, chain->step[var].loc);
        return rg_graph_fail(b->g, RG_STATUS_MODEL,
                             "chain '%s' variable '%s' depends on itself",
                             chain->name, chain->step[var].name);
    }
    if (*slot != UNBUILT) {
        return *slot;
    }
    *slot = BUSY;
    *slot = build_expr(b, chain->step[var].expr, &s, step);
    snprintf(name, sizeof(name), "%s[%lld].%s", chain->name, (long long)step,
             chain->step[var].name);
    name_node(b, *slot, name);
    return *slot;
}

/*
 * Marks, step by step from the last, which variables the requested one
 * needs: the closure over same-step uses, then the carried variables that
 * closure reads from the previous step. need is [steps][n_step].
 */
static void plan_needs(const builder *b, int c, int var, unsigned char *need)
{
    const chain_memo *memo = &b->chains[c];
    int n = b->m->chains[c].n_step;

    need[(memo->steps - 1) * n + var] = 1;
    for (int64_t step = memo->steps; step >= 1; step--) {
        unsigned char *row = &need[(step - 1) * n];
        bool changed = true;

        while (changed) {
            changed = false;
            for (int j = 0; j < n; j++) {
                for (int k = 0; row[j] && k < n; k++) {
                    if (memo->local_deps[j * n + k] && !row[k]) {
                        row[k] = 1;
                        changed = true;
                    }
                }
            }
        }
        for (int j = 0; step > 1 && j < n; j++) {
            for (int k = 0; row[j] && k < n; k++) {
                if (memo->carried_deps[j * n + k]) {
                    need[(step - 2) * n + k] = 1;
                }
            }
        }
    }
}

/*
 * Builds chain.variable: the value after the last step. Steps are built
 * first to last, so recursion depth does not grow with the step count.
 */
static rg_node_id build_chain_result(builder *b, int c, int var)
{
    const front_chain *chain = &b->m->chains[c];
    chain_memo *memo = &b->chains[c];
    int n = chain->n_step;
    unsigned char *need;

    if (memo->busy) {
        return rg_graph_fail(b->g, RG_STATUS_MODEL,
                             "chain '%s' depends on its own result",
                             chain->name);
    }
    if (!chain_prepare(b, c)) {
        return RG_NODE_NONE;
    }
    if (memo->values[(memo->steps - 1) * n + var] != UNBUILT) {
        return memo->values[(memo->steps - 1) * n + var];
    }
    need = calloc((size_t)(memo->steps * n), 1);
    if (need == NULL) {
        return fail_no_memory(b);
    }
    memo->busy = true;
    plan_needs(b, c, var, need);
    for (int64_t step = 1; step <= memo->steps; step++) {
        for (int j = 0; j < n; j++) {
            if (need[(step - 1) * n + j]) {
                build_step_var(b, c, step, j);
            }
        }
    }
    memo->busy = false;
    free(need);
    return memo->values[(memo->steps - 1) * n + var];
}

/* Expressions. */

static rg_node_id build_name(builder *b, const expr_node *e, const scope *s,
                             int64_t step)
{
    const rg_model *m = b->m;
    ref r = resolve(m, s, e->name);
    char why[512];

    switch (r.kind) {
    case REF_DIM:
        set_expr_loc(b, e);
        return rg_graph_const(b->g, (double)m->dims[r.index].value);
    case REF_HYPER:
        return build_hyper(b, r.index);
    case REF_TENSOR:
        return build_tensor(b, r.index);
    case REF_GRAPH:
        return build_def(b, &m->graph[r.index], &b->graph[r.index],
                         &top_scope, m->graph[r.index].name);
    case REF_ENTRY_GRAPH:
        return build_def(b, &s->entry->graph[r.index], &b->local[r.index], s,
                         s->entry->graph[r.index].name);
    case REF_CHAIN_RESULT:
        set_expr_loc(b, e);
        return build_chain_result(b, r.chain, r.index);
    case REF_STEP_LOCAL:
        return build_step_var(b, r.chain, step, r.index);
    case REF_STEP_CARRIED:
        return build_carried(b, r.chain, step, r.index);
    case REF_NONE:
        break;
    }
    describe_unknown(m, s, e->name, why, sizeof(why));
    set_expr_loc(b, e);
    return rg_graph_fail(b->g, RG_STATUS_MODEL, "%s", why);
}

static rg_node_id apply_op(builder *b, const expr_node *e,
                           const rg_node_id *args)
{
    switch (e->op) {
    case RG_OP_WHERE:
        return rg_graph_where(b->g, args[0], args[1], args[2]);
    case RG_OP_MATMUL:
        return rg_graph_matmul(b->g, args[0], args[1]);
    case RG_OP_TRANSPOSE:
        return rg_graph_transpose(b->g, args[0]);
    case RG_OP_SUM:
    case RG_OP_MEAN:
        return rg_graph_reduce(b->g, e->op, args[0], e->axis);
    case RG_OP_BERNOULLI:
        return rg_graph_bernoulli(b->g, args[0]);
    case RG_OP_NORMAL:
        return rg_graph_normal(b->g, args[0], args[1]);
    case RG_OP_UNIFORM:
        return rg_graph_uniform(b->g, args[0]);
    default:
        break;
    }
    if (e->n_args == 1) {
        return rg_graph_unary(b->g, e->op, args[0]);
    }
    return rg_graph_binary(b->g, e->op, args[0], args[1]);
}

/* Rejects a result too large to index with 32 bits. */
static rg_node_id check_size(builder *b, const expr_node *e, rg_node_id node)
{
    rg_shape shape;
    char text[64];

    if (node < 0) {
        return node;
    }
    shape = rg_graph_node_shape(b->g, node);
    if (rg_shape_numel(shape) <= FRONT_MAX_ELEMENTS) {
        return node;
    }
    set_expr_loc(b, e);
    return rg_graph_fail(b->g, RG_STATUS_SHAPE,
                         "result has shape %s, more than %lld elements; "
                         "use smaller dims",
                         rg_shape_str(shape, text, sizeof(text)),
                         (long long)FRONT_MAX_ELEMENTS);
}

static rg_node_id build_op(builder *b, const expr_node *e, const scope *s,
                           int64_t step)
{
    rg_node_id args[EXPR_MAX_ARGS] = {RG_NODE_NONE, RG_NODE_NONE,
                                      RG_NODE_NONE};

    for (int i = 0; i < e->n_args; i++) {
        args[i] = build_expr(b, e->args[i], s, step);
        if (args[i] < 0) {
            return RG_NODE_NONE;
        }
    }
    set_expr_loc(b, e);
    return check_size(b, e, apply_op(b, e, args));
}

static rg_node_id build_expr(builder *b, const expr_node *e, const scope *s,
                             int64_t step)
{
    rg_node_id node = RG_NODE_NONE;

    if (rg_graph_error(b->g) != NULL) {
        return RG_NODE_NONE;
    }
    if (++b->depth > FRONT_MAX_NESTING) {
        set_expr_loc(b, e);
        node = rg_graph_fail(b->g, RG_STATUS_MODEL,
                             "expressions nest more than %d levels deep "
                             "through named expressions; shorten the chain "
                             "of names", FRONT_MAX_NESTING);
    } else if (e->kind == EXPR_NUMBER) {
        set_expr_loc(b, e);
        node = rg_graph_const(b->g, e->number);
    } else if (e->kind == EXPR_NAME) {
        node = build_name(b, e, s, step);
    } else {
        node = build_op(b, e, s, step);
    }
    b->depth--;
    return node;
}

/* Entry results. */

static void build_update(builder *b, const front_def *update)
{
    const rg_model *m = b->m;
    scope s = {b->entry, -1};
    front_name target_name = front_lookup(m, update->name);
    rg_node_id target;
    rg_node_id value;
    rg_shape want;
    rg_shape have;
    char want_text[64];
    char have_text[64];

    target = build_tensor(b, target_name.index);
    value = build_expr(b, update->expr, &s, 0);
    if (target < 0 || value < 0) {
        return;
    }
    set_loc(b, update->value_loc);
    want = rg_graph_node_shape(b->g, target);
    have = rg_graph_node_shape(b->g, value);
    if (!rg_shape_equal(want, have)) {
        rg_graph_fail(b->g, RG_STATUS_SHAPE,
                      "update of %s '%s' has shape %s, but the %s has shape "
                      "%s; the new value must have exactly its shape",
                      front_name_kind_str(m, target_name), update->name,
                      rg_shape_str(have, have_text, sizeof(have_text)),
                      front_name_kind_str(m, target_name),
                      rg_shape_str(want, want_text, sizeof(want_text)));
        return;
    }
    if (rg_graph_add_update(b->g, target, value) != RG_STATUS_OK) {
        rg_graph_fail(b->g, RG_STATUS_MODEL, "cannot add the update of '%s'",
                      update->name);
    }
}

static void build_result(builder *b, const front_def *result, bool is_metric)
{
    scope s = {b->entry, -1};
    rg_node_id node = build_expr(b, result->expr, &s, 0);
    rg_shape shape;
    char text[64];

    if (node < 0) {
        return;
    }
    set_loc(b, result->value_loc);
    shape = rg_graph_node_shape(b->g, node);
    if (is_metric && shape.rank != 0) {
        rg_graph_fail(b->g, RG_STATUS_SHAPE,
                      "metric '%s' must be a scalar, but its expression has "
                      "shape %s; reduce it with sum() or mean()",
                      result->name, rg_shape_str(shape, text, sizeof(text)));
        return;
    }
    if (rg_graph_add_output(b->g, result->name, node, is_metric)
        != RG_STATUS_OK) {
        rg_graph_fail(b->g, RG_STATUS_MODEL, "cannot add the %s '%s'",
                      is_metric ? "metric" : "output", result->name);
    }
}

static void builder_free(builder *b)
{
    for (int c = 0; b->chains != NULL && c < b->m->n_chains; c++) {
        free(b->chains[c].init);
        free(b->chains[c].values);
        free(b->chains[c].local_deps);
        free(b->chains[c].carried_deps);
    }
    free(b->chains);
    free(b->tensors);
    free(b->hypers);
    free(b->graph);
    free(b->local);
}

static bool builder_init(builder *b, const rg_model *m,
                         const front_entry *entry, rg_graph *g)
{
    memset(b, 0, sizeof(*b));
    b->m = m;
    b->entry = entry;
    b->g = g;
    b->tensors = memo_new(m->n_tensors);
    b->hypers = memo_new(m->n_hypers);
    b->graph = memo_new(m->n_graph);
    b->local = memo_new(entry->n_graph);
    b->chains = calloc((size_t)m->n_chains + 1, sizeof(*b->chains));
    return b->tensors != NULL && b->hypers != NULL && b->graph != NULL
           && b->local != NULL && b->chains != NULL;
}

static void build_entry(builder *b)
{
    const front_entry *entry = b->entry;

    for (int i = 0; i < entry->n_updates; i++) {
        build_update(b, &entry->updates[i]);
    }
    for (int i = 0; i < entry->n_outputs; i++) {
        build_result(b, &entry->outputs[i], false);
    }
    for (int i = 0; i < entry->n_metrics; i++) {
        build_result(b, &entry->metrics[i], true);
    }
}

static rg_status fail_unknown_entry(const rg_model *m, const char *entry,
                                    rg_error *err)
{
    char list[256];
    size_t used = 0;

    list[0] = '\0';
    for (int i = 0; i < m->n_entries && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s",
                         i > 0 ? ", " : "", m->entries[i].name);

        used += n > 0 ? (size_t)n : 0;
    }
    return rg_error_set_at(err, RG_STATUS_NOT_FOUND, m->file, 0, 0,
                           "model '%s' has no entry point '%s'; its entry "
                           "points are %s", m->name, entry, list);
}

rg_status rg_model_build(const rg_model *m, const char *entry,
                         rg_graph **out, rg_error *err)
{
    const front_entry *found = NULL;
    const rg_error *graph_err;
    rg_graph *g;
    builder b;
    bool ready;

    *out = NULL;
    rg_error_clear(err);
    if (m == NULL || entry == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_model_build: model and entry must not be "
                            "NULL");
    }
    for (int i = 0; i < m->n_entries && found == NULL; i++) {
        found = strcmp(m->entries[i].name, entry) == 0 ? &m->entries[i]
                                                       : NULL;
    }
    if (found == NULL) {
        return fail_unknown_entry(m, entry, err);
    }
    g = rg_graph_new();
    if (g == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory while building the graph");
    }
    rg_graph_set_source(g, m->file);
    ready = builder_init(&b, m, found, g);
    if (!ready) {
        fail_no_memory(&b);
    } else {
        build_entry(&b);
    }
    builder_free(&b);
    graph_err = rg_graph_error(g);
    if (graph_err != NULL) {
        rg_status code = graph_err->code;

        if (err != NULL) {
            *err = *graph_err;
        }
        rg_graph_free(g);
        return code;
    }
    *out = g;
    return RG_STATUS_OK;
}
