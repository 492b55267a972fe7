/*
 * Tokenizer and recursive-descent parser for model-file expressions.
 *
 * Precedence, loosest first:
 *   comparisons     < <= > >= == !=   non-associative
 *   additive        + -               left-associative
 *   multiplicative  * / @             left-associative
 *   unary minus     -x
 *   power           ^                 right-associative
 *   postfix         x.T, chain.name, f(...)
 * Power binds tighter than a unary minus on its left (-x^2 is -(x^2)) and
 * its right operand may start with a minus (2^-1).
 *
 * Invariant: on every error path the parser frees each subtree it owns, so
 * a failed parse leaks nothing.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/expr.h"

typedef enum token_kind {
    TOKEN_END,
    TOKEN_NUMBER,
    TOKEN_NAME,
    TOKEN_PLUS,
    TOKEN_MINUS,
    TOKEN_STAR,
    TOKEN_SLASH,
    TOKEN_CARET,
    TOKEN_AT,
    TOKEN_DOT,
    TOKEN_COMMA,
    TOKEN_LPAREN,
    TOKEN_RPAREN,
    TOKEN_ASSIGN,
    TOKEN_LT,
    TOKEN_LE,
    TOKEN_GT,
    TOKEN_GE,
    TOKEN_EQ,
    TOKEN_NE,
} token_kind;

typedef struct token {
    token_kind kind;
    const char *start;
    size_t length;
    int line;
    int column;
    double number; /* TOKEN_NUMBER */
} token;

/* A position in the text together with its file line and column. */
typedef struct cursor {
    const char *pos;
    int line;
    int column;
} cursor;

typedef struct parser {
    const char *end;
    const char *file;
    cursor cur;     /* just past the current token */
    token tok;      /* current token */
    token prev;     /* previous token; TOKEN_END before the first */
    int nesting;    /* open parentheses and unary minus signs */
    rg_status status;
    rg_error *err;
} parser;

typedef struct function_info {
    const char *name;
    rg_op op;
    int n_args;
    bool takes_axis;
} function_info;

static const function_info functions[] = {
    {"sigmoid", RG_OP_SIGMOID, 1, false},
    {"exp", RG_OP_EXP, 1, false},
    {"log", RG_OP_LOG, 1, false},
    {"log1p", RG_OP_LOG1P, 1, false},
    {"softplus", RG_OP_SOFTPLUS, 1, false},
    {"tanh", RG_OP_TANH, 1, false},
    {"relu", RG_OP_RELU, 1, false},
    {"sqrt", RG_OP_SQRT, 1, false},
    {"square", RG_OP_SQUARE, 1, false},
    {"abs", RG_OP_ABS, 1, false},
    {"min", RG_OP_MIN, 2, false},
    {"max", RG_OP_MAX, 2, false},
    {"where", RG_OP_WHERE, 3, false},
    {"sum", RG_OP_SUM, 1, true},
    {"mean", RG_OP_MEAN, 1, true},
    {"bernoulli", RG_OP_BERNOULLI, 1, false},
    {"normal", RG_OP_NORMAL, 2, false},
    {"uniform", RG_OP_UNIFORM, 1, false},
};

#define N_FUNCTIONS (sizeof(functions) / sizeof(functions[0]))

static const function_info *function_find(const char *name, size_t length)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++) {
        if (strlen(functions[i].name) == length
            && memcmp(functions[i].name, name, length) == 0) {
            return &functions[i];
        }
    }
    return NULL;
}

static const function_info *function_by_op(rg_op op)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++) {
        if (functions[i].op == op) {
            return &functions[i];
        }
    }
    return NULL;
}

bool expr_is_function(const char *name)
{
    return function_find(name, strlen(name)) != NULL;
}

/*
 * Returns the optimal string alignment distance: insertions, deletions,
 * substitutions and swaps of two adjacent characters each cost 1.
 */
static int edit_distance(const char *a, const char *b)
{
    enum { MAX_LENGTH = 63, FAR = 100 };
    int d[MAX_LENGTH + 1][MAX_LENGTH + 1];
    size_t na = strlen(a);
    size_t nb = strlen(b);

    if (na > MAX_LENGTH || nb > MAX_LENGTH) {
        return FAR;
    }
    for (size_t i = 0; i <= na; i++) {
        d[i][0] = (int)i;
    }
    for (size_t j = 0; j <= nb; j++) {
        d[0][j] = (int)j;
    }
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

            if (d[i - 1][j] + 1 < best) {
                best = d[i - 1][j] + 1;
            }
            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

bool expr_is_close(const char *typo, const char *candidate)
{
    int limit = strlen(typo) <= 4 ? 1 : 2;

    return edit_distance(typo, candidate) <= limit;
}

/* Errors. */

static void fail_at(parser *p, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first error only; later ones are consequences of it. */
static void fail_at(parser *p, int line, int column, const char *fmt, ...)
{
    va_list args;

    if (p->status != RG_STATUS_OK) {
        return;
    }
    p->status = RG_STATUS_SYNTAX;
    va_start(args, fmt);
    rg_error_vset_at(p->err, RG_STATUS_SYNTAX, p->file, line, column, fmt,
                     args);
    va_end(args);
}

static void fail_no_memory(parser *p)
{
    if (p->status != RG_STATUS_OK) {
        return;
    }
    p->status = RG_STATUS_NO_MEMORY;
    rg_error_set_at(p->err, RG_STATUS_NO_MEMORY, p->file, p->tok.line,
                    p->tok.column, "out of memory while parsing expression");
}

/* Describes a token for messages: "'+'", "name 'W'", "end of expression". */
static const char *token_describe(const token *t, char *buf, size_t size)
{
    int length = t->length > 40 ? 40 : (int)t->length;

    switch (t->kind) {
    case TOKEN_END:
        snprintf(buf, size, "end of expression");
        break;
    case TOKEN_NUMBER:
        snprintf(buf, size, "number '%.*s'", length, t->start);
        break;
    case TOKEN_NAME:
        snprintf(buf, size, "name '%.*s'", length, t->start);
        break;
    default:
        snprintf(buf, size, "'%.*s'", length, t->start);
        break;
    }
    return buf;
}

static void fail_unexpected(parser *p, const char *expected)
{
    char what[64];

    if (p->tok.kind == TOKEN_ASSIGN) {
        fail_at(p, p->tok.line, p->tok.column,
                "unexpected '='; expected %s (compare with '==')", expected);
        return;
    }
    fail_at(p, p->tok.line, p->tok.column, "unexpected %s; expected %s",
            token_describe(&p->tok, what, sizeof(what)), expected);
}

/* Tokenizer. */

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || is_digit(c);
}

static bool at_end(const parser *p, const char *pos)
{
    return pos >= p->end;
}

/*
 * Moves the cursor one byte forward. Columns count characters, so UTF-8
 * continuation bytes do not advance them; CR LF counts as one line break.
 */
static void cursor_step(const parser *p, cursor *c)
{
    unsigned char byte = (unsigned char)*c->pos;

    c->pos++;
    if (byte == '\n') {
        c->line++;
        c->column = 1;
    } else if (byte == '\r') {
        if (at_end(p, c->pos) || *c->pos != '\n') {
            c->line++;
            c->column = 1;
        }
    } else if ((byte & 0xC0) != 0x80) {
        c->column++;
    }
}

static void skip_space(parser *p)
{
    while (!at_end(p, p->cur.pos)) {
        char c = *p->cur.pos;

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        cursor_step(p, &p->cur);
    }
}

static void cursor_skip(parser *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cursor_step(p, &p->cur);
    }
}

static size_t count_digits(const parser *p, const char *pos)
{
    size_t n = 0;

    while (!at_end(p, pos + n) && is_digit(pos[n])) {
        n++;
    }
    return n;
}

/* Converts the literal in t to a double, rejecting values beyond float32. */
static void number_convert(parser *p, token *t)
{
    char text[64];
    char *end;

    if (t->length >= sizeof(text)) {
        fail_at(p, t->line, t->column,
                "bad number '%.20s...': longer than %zu characters",
                t->start, sizeof(text) - 1);
        return;
    }
    memcpy(text, t->start, t->length);
    text[t->length] = '\0';
    errno = 0;
    t->number = strtod(text, &end);
    if (!isfinite(t->number) || fabs(t->number) > FLT_MAX) {
        fail_at(p, t->line, t->column,
                "bad number '%s': out of range for float32 (max %g)", text,
                (double)FLT_MAX);
    }
}

/*
 * Scans digits [. digits] [e [+-] digits] or . digits [exponent]. A letter,
 * digit or dot straight after the literal makes the whole run a bad number
 * ("2x", "1.2.3").
 */
static void lex_number(parser *p, token *t)
{
    const char *s = p->cur.pos;
    size_t n = count_digits(p, s);

    if (!at_end(p, s + n) && s[n] == '.') {
        n++;
        n += count_digits(p, s + n);
    }
    if (!at_end(p, s + n) && (s[n] == 'e' || s[n] == 'E')) {
        size_t e = n + 1;
        size_t digits;

        if (!at_end(p, s + e) && (s[e] == '+' || s[e] == '-')) {
            e++;
        }
        digits = count_digits(p, s + e);
        if (digits == 0) {
            fail_at(p, t->line, t->column,
                    "bad number '%.*s': expected digits after the exponent "
                    "'e'", (int)e, s);
            return;
        }
        n = e + digits;
    }
    if (!at_end(p, s + n) && (is_name_char(s[n]) || s[n] == '.')) {
        size_t bad = n;

        while (!at_end(p, s + bad) && (is_name_char(s[bad]) || s[bad] == '.')) {
            bad++;
        }
        fail_at(p, t->line, t->column,
                "bad number '%.*s': a number must not run into a name or "
                "a '.'; separate them with an operator", (int)bad, s);
        return;
    }
    t->kind = TOKEN_NUMBER;
    t->length = n;
    cursor_skip(p, n);
    number_convert(p, t);
}

static void lex_name(parser *p, token *t)
{
    size_t n = 0;

    while (!at_end(p, p->cur.pos + n) && is_name_char(p->cur.pos[n])) {
        n++;
    }
    t->kind = TOKEN_NAME;
    t->length = n;
    cursor_skip(p, n);
}

/* Maps a one- or two-character operator; returns false when unknown. */
static bool lex_operator(parser *p, token *t)
{
    static const struct {
        const char *text;
        token_kind kind;
    } operators[] = {
        {"<=", TOKEN_LE}, {">=", TOKEN_GE}, {"==", TOKEN_EQ},
        {"!=", TOKEN_NE}, {"+", TOKEN_PLUS}, {"-", TOKEN_MINUS},
        {"*", TOKEN_STAR}, {"/", TOKEN_SLASH}, {"^", TOKEN_CARET},
        {"@", TOKEN_AT}, {".", TOKEN_DOT}, {",", TOKEN_COMMA},
        {"(", TOKEN_LPAREN}, {")", TOKEN_RPAREN}, {"<", TOKEN_LT},
        {">", TOKEN_GT}, {"=", TOKEN_ASSIGN},
    };
    size_t left = (size_t)(p->end - p->cur.pos);

    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
        size_t n = strlen(operators[i].text);

        if (n <= left && memcmp(p->cur.pos, operators[i].text, n) == 0) {
            t->kind = operators[i].kind;
            t->length = n;
            cursor_skip(p, n);
            return true;
        }
    }
    return false;
}

static void fail_character(parser *p, const token *t)
{
    unsigned char c = (unsigned char)*t->start;

    if (c == '*' && t->start + 1 < p->end && t->start[1] == '*') {
        fail_at(p, t->line, t->column,
                "'**' is not an operator; write powers with '^'");
    } else if (c == '!') {
        fail_at(p, t->line, t->column,
                "unexpected character '!'; expected '!=' for 'not equal'");
    } else if (c >= 0x21 && c < 0x7F) {
        fail_at(p, t->line, t->column,
                "unexpected character '%c'; expected an operator, a name, "
                "a number or a parenthesis", c);
    } else {
        fail_at(p, t->line, t->column,
                "unexpected byte 0x%02X; expressions use ASCII only", c);
    }
}

/*
 * Scans the next token into p->tok. TOKEN_END is placed just past the last
 * token, not after trailing whitespace, so that an error about a missing
 * operand points at the line that lacks it.
 */
static void advance(parser *p)
{
    cursor last_end = p->cur;
    token t;

    p->prev = p->tok;
    skip_space(p);
    memset(&t, 0, sizeof(t));
    t.start = p->cur.pos;
    t.line = p->cur.line;
    t.column = p->cur.column;
    if (at_end(p, p->cur.pos)) {
        t.kind = TOKEN_END;
        t.line = last_end.line;
        t.column = last_end.column;
    } else if (is_digit(*t.start)
               || (*t.start == '.' && t.start + 1 < p->end
                   && is_digit(t.start[1]))) {
        lex_number(p, &t);
    } else if (is_name_start(*t.start)) {
        lex_name(p, &t);
    } else if (*t.start == '*' && t.start + 1 < p->end && t.start[1] == '*') {
        fail_character(p, &t);
    } else if (!lex_operator(p, &t)) {
        fail_character(p, &t);
    }
    if (p->status != RG_STATUS_OK) {
        t.kind = TOKEN_END;
    }
    p->tok = t;
}

/* Returns the token after the current one without moving the parser. */
static token peek_token(const parser *p)
{
    parser copy = *p;
    rg_error scratch;

    copy.err = &scratch;
    advance(&copy);
    if (copy.status != RG_STATUS_OK) {
        copy.tok.kind = TOKEN_END;
    }
    return copy.tok;
}

static bool token_is(const token *t, token_kind kind, const char *text)
{
    return t->kind == kind && strlen(text) == t->length
           && memcmp(t->start, text, t->length) == 0;
}

/* Tree construction. */

void expr_free(expr_node *node)
{
    if (node == NULL) {
        return;
    }
    for (int i = 0; i < node->n_args; i++) {
        expr_free(node->args[i]);
    }
    free(node->name);
    free(node);
}

static expr_node *node_new(parser *p, expr_kind kind, int line, int column)
{
    expr_node *node = calloc(1, sizeof(*node));

    if (node == NULL) {
        fail_no_memory(p);
        return NULL;
    }
    node->kind = kind;
    node->line = line;
    node->column = column;
    node->depth = 1;
    node->axis = RG_AXIS_ALL;
    return node;
}

static void free_args(expr_node **args, int n)
{
    for (int i = 0; i < n; i++) {
        expr_free(args[i]);
    }
}

/*
 * Builds an operator node at `at` over `n` arguments and takes ownership of
 * them, also on failure. Returns NULL on failure.
 */
static expr_node *node_op(parser *p, rg_op op, const token *at,
                          expr_node **args, int n)
{
    expr_node *node;
    int depth = 0;

    if (p->status != RG_STATUS_OK) {
        free_args(args, n);
        return NULL;
    }
    node = node_new(p, EXPR_OP, at->line, at->column);
    if (node == NULL) {
        free_args(args, n);
        return NULL;
    }
    node->op = op;
    node->n_args = n;
    for (int i = 0; i < n; i++) {
        node->args[i] = args[i];
        if (args[i]->depth > depth) {
            depth = args[i]->depth;
        }
    }
    node->depth = depth + 1;
    if (node->depth > EXPR_MAX_DEPTH) {
        fail_at(p, at->line, at->column,
                "expression nested more than %d levels deep; split it into "
                "named expressions", EXPR_MAX_DEPTH);
        expr_free(node);
        return NULL;
    }
    return node;
}

static expr_node *node_binary(parser *p, rg_op op, const token *at,
                              expr_node *a, expr_node *b)
{
    expr_node *args[2] = {a, b};

    if (a == NULL || b == NULL) {
        expr_free(a);
        expr_free(b);
        return NULL;
    }
    return node_op(p, op, at, args, 2);
}

static expr_node *node_unary(parser *p, rg_op op, const token *at,
                             expr_node *a)
{
    if (a == NULL) {
        return NULL;
    }
    return node_op(p, op, at, &a, 1);
}

/* Grammar. */

static expr_node *parse_expression(parser *p);
static expr_node *parse_unary(parser *p);

static bool nesting_enter(parser *p)
{
    p->nesting++;
    if (p->nesting > EXPR_MAX_DEPTH) {
        fail_at(p, p->tok.line, p->tok.column,
                "expression nested more than %d levels deep; split it into "
                "named expressions", EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

/* Reports a missing operand, naming the operator it should follow. */
static void fail_operand(parser *p)
{
    char what[64];

    if (p->tok.kind == TOKEN_END && p->prev.kind != TOKEN_END) {
        fail_at(p, p->tok.line, p->tok.column,
                "unexpected end of expression after %s; expected an operand",
                token_describe(&p->prev, what, sizeof(what)));
    } else {
        fail_unexpected(p, "a number, a name, a call or '('");
    }
}

static expr_node *parse_number(parser *p)
{
    expr_node *node = node_new(p, EXPR_NUMBER, p->tok.line, p->tok.column);

    if (node != NULL) {
        node->number = p->tok.number;
        advance(p);
    }
    return node;
}

/* Parses "axis=N", starting at the keyword; stores N in *axis. */
static bool parse_axis(parser *p, const function_info *fn, int *axis,
                       bool *have_axis)
{
    token keyword = p->tok;
    bool negative = false;
    int value;

    if (!token_is(&keyword, TOKEN_NAME, "axis")) {
        fail_at(p, keyword.line, keyword.column,
                "unknown keyword argument '%.*s'; expected axis=",
                (int)keyword.length, keyword.start);
        return false;
    }
    if (!fn->takes_axis) {
        fail_at(p, keyword.line, keyword.column,
                "%s takes no axis= argument; only sum and mean do",
                fn->name);
        return false;
    }
    if (*have_axis) {
        fail_at(p, keyword.line, keyword.column, "axis= is given twice");
        return false;
    }
    advance(p); /* the name */
    advance(p); /* '=' */
    if (p->tok.kind == TOKEN_MINUS) {
        negative = true;
        advance(p);
    }
    if (p->tok.kind != TOKEN_NUMBER) {
        fail_unexpected(p, "an integer axis (0, 1, -1 or -2) after 'axis='");
        return false;
    }
    if (p->tok.number != 0.0 && p->tok.number != 1.0
        && !(negative && p->tok.number == 2.0)) {
        fail_at(p, p->tok.line, p->tok.column,
                "axis must be 0, 1, -1 or -2, got %s%.*s",
                negative ? "-" : "", (int)p->tok.length, p->tok.start);
        return false;
    }
    value = (int)p->tok.number;
    value = negative ? -value : value;
    *axis = value;
    *have_axis = true;
    advance(p);
    return true;
}

static void fail_unclosed(parser *p, const token *open)
{
    fail_at(p, open->line, open->column,
            "'(' is never closed; expected ')' before the end of the "
            "expression");
}

static void fail_unknown_function(parser *p, const token *name)
{
    char text[64];
    const char *best = NULL;

    snprintf(text, sizeof(text), "%.*s", (int)name->length, name->start);
    for (size_t i = 0; i < N_FUNCTIONS && best == NULL; i++) {
        if (expr_is_close(text, functions[i].name)) {
            best = functions[i].name;
        }
    }
    if (best != NULL) {
        fail_at(p, name->line, name->column,
                "unknown function '%s'; did you mean '%s'?", text, best);
        return;
    }
    fail_at(p, name->line, name->column,
            "unknown function '%s'; expected one of sigmoid, exp, log, "
            "log1p, softplus, tanh, relu, sqrt, square, abs, min, max, "
            "where, sum, mean, bernoulli, normal, uniform", text);
}

/*
 * Parses the argument list of a call whose name is `name`; the current
 * token is '('. Arguments past the function's arity are parsed, counted
 * for the error message and freed.
 */
static expr_node *parse_call(parser *p, const token *name)
{
    const function_info *fn = function_find(name->start, name->length);
    expr_node *args[EXPR_MAX_ARGS] = {NULL};
    token open = p->tok;
    int n = 0;
    int axis = RG_AXIS_ALL;
    bool have_axis = false;
    expr_node *node;

    if (fn == NULL) {
        fail_unknown_function(p, name);
        return NULL;
    }
    if (!nesting_enter(p)) {
        return NULL;
    }
    advance(p);
    if (p->tok.kind == TOKEN_RPAREN) {
        advance(p);
    } else {
        for (;;) {
            if (p->tok.kind == TOKEN_NAME
                && peek_token(p).kind == TOKEN_ASSIGN) {
                if (!parse_axis(p, fn, &axis, &have_axis)) {
                    break;
                }
            } else if (have_axis) {
                fail_at(p, p->tok.line, p->tok.column,
                        "positional argument after axis=; put axis= last");
                break;
            } else {
                expr_node *arg = parse_expression(p);

                if (arg == NULL) {
                    break;
                }
                if (n < EXPR_MAX_ARGS) {
                    args[n] = arg;
                } else {
                    expr_free(arg);
                }
                n++;
            }
            if (p->tok.kind == TOKEN_COMMA) {
                advance(p);
            } else if (p->tok.kind == TOKEN_RPAREN) {
                advance(p);
                break;
            } else if (p->tok.kind == TOKEN_END) {
                fail_unclosed(p, &open);
                break;
            } else {
                fail_unexpected(p, "',' or ')'");
                break;
            }
        }
    }
    p->nesting--;
    if (p->status == RG_STATUS_OK && n != fn->n_args) {
        fail_at(p, name->line, name->column,
                "%s expects %d argument%s, got %d", fn->name, fn->n_args,
                fn->n_args == 1 ? "" : "s", n);
    }
    if (p->status != RG_STATUS_OK) {
        free_args(args, n < EXPR_MAX_ARGS ? n : EXPR_MAX_ARGS);
        return NULL;
    }
    node = node_op(p, fn->op, name, args, n);
    if (node != NULL) {
        node->axis = axis;
    }
    return node;
}

static char *name_copy(parser *p, const char *a, size_t na, const char *b,
                       size_t nb)
{
    size_t size = na + (b != NULL ? nb + 1 : 0) + 1;
    char *text = malloc(size);

    if (text == NULL) {
        fail_no_memory(p);
        return NULL;
    }
    memcpy(text, a, na);
    if (b != NULL) {
        text[na] = '.';
        memcpy(text + na + 1, b, nb);
    }
    text[size - 1] = '\0';
    return text;
}

/*
 * Parses a name, a call, or `chain.variable`. A '.' followed by T is left
 * for the postfix transpose, so a chain variable cannot be named T.
 */
static expr_node *parse_name(parser *p)
{
    token name = p->tok;
    token variable;
    expr_node *node;

    advance(p);
    if (p->tok.kind == TOKEN_LPAREN) {
        return parse_call(p, &name);
    }
    memset(&variable, 0, sizeof(variable));
    variable.kind = TOKEN_END;
    if (p->tok.kind == TOKEN_DOT) {
        token next = peek_token(p);

        if (next.kind == TOKEN_NAME && !token_is(&next, TOKEN_NAME, "T")) {
            advance(p);
            variable = p->tok;
            advance(p);
        }
    }
    node = node_new(p, EXPR_NAME, name.line, name.column);
    if (node == NULL) {
        return NULL;
    }
    node->name = name_copy(p, name.start, name.length,
                           variable.kind == TOKEN_NAME ? variable.start : NULL,
                           variable.length);
    if (node->name == NULL) {
        expr_free(node);
        return NULL;
    }
    return node;
}

static expr_node *parse_group(parser *p)
{
    token open = p->tok;
    expr_node *inner;

    if (!nesting_enter(p)) {
        return NULL;
    }
    advance(p);
    inner = parse_expression(p);
    p->nesting--;
    if (inner == NULL) {
        return NULL;
    }
    if (p->tok.kind == TOKEN_RPAREN) {
        advance(p);
        return inner;
    }
    if (p->tok.kind == TOKEN_END) {
        fail_unclosed(p, &open);
    } else {
        fail_unexpected(p, "')' or an operator");
    }
    expr_free(inner);
    return NULL;
}

static expr_node *parse_primary(parser *p)
{
    switch (p->tok.kind) {
    case TOKEN_NUMBER:
        return parse_number(p);
    case TOKEN_NAME:
        return parse_name(p);
    case TOKEN_LPAREN:
        return parse_group(p);
    default:
        fail_operand(p);
        return NULL;
    }
}

static expr_node *parse_postfix(parser *p)
{
    expr_node *node = parse_primary(p);

    while (node != NULL && p->tok.kind == TOKEN_DOT) {
        token dot = p->tok;

        advance(p);
        if (!token_is(&p->tok, TOKEN_NAME, "T")) {
            fail_unexpected(p, "'T' after '.' (x.T is the transpose; "
                               "chain.variable names one level only)");
            expr_free(node);
            return NULL;
        }
        advance(p);
        node = node_unary(p, RG_OP_TRANSPOSE, &dot, node);
    }
    return node;
}

static expr_node *parse_power(parser *p)
{
    expr_node *base = parse_postfix(p);
    token caret;

    if (base == NULL || p->tok.kind != TOKEN_CARET) {
        return base;
    }
    caret = p->tok;
    advance(p);
    return node_binary(p, RG_OP_POW, &caret, base, parse_unary(p));
}

static expr_node *parse_unary(parser *p)
{
    token minus = p->tok;
    expr_node *operand;

    if (p->tok.kind != TOKEN_MINUS) {
        return parse_power(p);
    }
    if (!nesting_enter(p)) {
        return NULL;
    }
    advance(p);
    operand = parse_unary(p);
    p->nesting--;
    return node_unary(p, RG_OP_NEG, &minus, operand);
}

static bool binary_op(token_kind kind, rg_op *op)
{
    switch (kind) {
    case TOKEN_PLUS: *op = RG_OP_ADD; return true;
    case TOKEN_MINUS: *op = RG_OP_SUB; return true;
    case TOKEN_STAR: *op = RG_OP_MUL; return true;
    case TOKEN_SLASH: *op = RG_OP_DIV; return true;
    case TOKEN_AT: *op = RG_OP_MATMUL; return true;
    case TOKEN_LT: *op = RG_OP_LT; return true;
    case TOKEN_LE: *op = RG_OP_LE; return true;
    case TOKEN_GT: *op = RG_OP_GT; return true;
    case TOKEN_GE: *op = RG_OP_GE; return true;
    case TOKEN_EQ: *op = RG_OP_EQ; return true;
    case TOKEN_NE: *op = RG_OP_NE; return true;
    default: return false;
    }
}

static bool is_product_token(token_kind kind)
{
    return kind == TOKEN_STAR || kind == TOKEN_SLASH || kind == TOKEN_AT;
}

static bool is_sum_token(token_kind kind)
{
    return kind == TOKEN_PLUS || kind == TOKEN_MINUS;
}

static bool is_comparison_token(token_kind kind)
{
    return kind >= TOKEN_LT && kind <= TOKEN_NE;
}

static expr_node *parse_product(parser *p)
{
    expr_node *left = parse_unary(p);

    while (left != NULL && is_product_token(p->tok.kind)) {
        token at = p->tok;
        rg_op op = RG_OP_MUL;

        binary_op(at.kind, &op);
        advance(p);
        left = node_binary(p, op, &at, left, parse_unary(p));
    }
    return left;
}

static expr_node *parse_sum(parser *p)
{
    expr_node *left = parse_product(p);

    while (left != NULL && is_sum_token(p->tok.kind)) {
        token at = p->tok;
        rg_op op = RG_OP_ADD;

        binary_op(at.kind, &op);
        advance(p);
        left = node_binary(p, op, &at, left, parse_product(p));
    }
    return left;
}

/* Comparisons do not chain: `a < b < c` needs parentheses. */
static expr_node *parse_expression(parser *p)
{
    expr_node *left = parse_sum(p);
    expr_node *node;
    token at;
    rg_op op = RG_OP_LT;

    if (left == NULL || !is_comparison_token(p->tok.kind)) {
        return left;
    }
    at = p->tok;
    binary_op(at.kind, &op);
    advance(p);
    node = node_binary(p, op, &at, left, parse_sum(p));
    if (node != NULL && is_comparison_token(p->tok.kind)) {
        fail_at(p, p->tok.line, p->tok.column,
                "comparisons cannot be chained; add parentheses, for "
                "example (a < b) * (b < c)");
        expr_free(node);
        return NULL;
    }
    return node;
}

rg_status expr_parse(const char *text, size_t length, const char *file,
                     int line, int column, expr_node **out, rg_error *err)
{
    parser p;
    expr_node *root;

    *out = NULL;
    memset(&p, 0, sizeof(p));
    p.end = text + length;
    p.file = file;
    p.cur.pos = text;
    p.cur.line = line;
    p.cur.column = column;
    p.err = err;
    p.status = RG_STATUS_OK;
    advance(&p);
    if (p.status != RG_STATUS_OK) {
        return p.status;
    }
    if (p.tok.kind == TOKEN_END) {
        fail_at(&p, p.tok.line, p.tok.column,
                "empty expression; expected an expression such as "
                "sigmoid(v @ W + b)");
        return p.status;
    }
    root = parse_expression(&p);
    if (root != NULL && p.status != RG_STATUS_OK) {
        expr_free(root);
        root = NULL;
    }
    if (root != NULL && p.tok.kind != TOKEN_END) {
        if (p.tok.kind == TOKEN_RPAREN) {
            fail_at(&p, p.tok.line, p.tok.column,
                    "unmatched ')'; no '(' is open here");
        } else {
            fail_unexpected(&p, "an operator or the end of the expression");
        }
        expr_free(root);
        root = NULL;
    }
    if (root == NULL) {
        return p.status;
    }
    *out = root;
    return RG_STATUS_OK;
}

/* S-expression output. */

typedef struct writer {
    char *buf;
    size_t size;
    size_t length;
} writer;

static void write_text(writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void write_text(writer *w, const char *fmt, ...)
{
    va_list args;
    int n;

    if (w->length + 1 >= w->size) {
        return;
    }
    va_start(args, fmt);
    n = vsnprintf(w->buf + w->length, w->size - w->length, fmt, args);
    va_end(args);
    if (n < 0) {
        return;
    }
    w->length += (size_t)n;
    if (w->length >= w->size) {
        w->length = w->size - 1;
    }
}

static const char *operator_symbol(rg_op op)
{
    switch (op) {
    case RG_OP_ADD: return "+";
    case RG_OP_SUB: return "-";
    case RG_OP_MUL: return "*";
    case RG_OP_DIV: return "/";
    case RG_OP_POW: return "^";
    case RG_OP_MATMUL: return "@";
    case RG_OP_LT: return "<";
    case RG_OP_LE: return "<=";
    case RG_OP_GT: return ">";
    case RG_OP_GE: return ">=";
    case RG_OP_EQ: return "==";
    case RG_OP_NE: return "!=";
    case RG_OP_NEG: return "neg";
    case RG_OP_TRANSPOSE: return "T";
    default: break;
    }
    const function_info *fn = function_by_op(op);
    return fn != NULL ? fn->name : "?";
}

static void write_node(writer *w, const expr_node *node)
{
    switch (node->kind) {
    case EXPR_NUMBER:
        write_text(w, "%g", node->number);
        return;
    case EXPR_NAME:
        write_text(w, "%s", node->name);
        return;
    case EXPR_OP:
        break;
    }
    write_text(w, "(%s", operator_symbol(node->op));
    for (int i = 0; i < node->n_args; i++) {
        write_text(w, " ");
        write_node(w, node->args[i]);
    }
    if (node->axis != RG_AXIS_ALL) {
        write_text(w, " axis=%d", node->axis);
    }
    write_text(w, ")");
}

const char *expr_format(const expr_node *node, char *buf, size_t size)
{
    writer w = {buf, size, 0};

    if (size == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (node != NULL) {
        write_node(&w, node);
    }
    return buf;
}
