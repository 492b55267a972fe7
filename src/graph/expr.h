/*
 * Expression language of model files: a tokenizer and a recursive-descent
 * parser that turn text such as `sigmoid(v0 @ W + bh)` into a tree. Every
 * node carries the 1-based line and column of the model file where it was
 * written, so later errors (unknown names, shape mismatches) point into the
 * file. The parser checks syntax, function names and arity; it does not
 * resolve names.
 */
#ifndef RG_EXPR_H
#define RG_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"

#define EXPR_MAX_ARGS 3

/* Deepest tree the parser accepts; deeper text is a syntax error. */
#define EXPR_MAX_DEPTH 200

typedef enum expr_kind {
    EXPR_NUMBER, /* numeric literal in `number` */
    EXPR_NAME,   /* identifier, or `chain.variable`, in `name` */
    EXPR_OP,     /* operator or function call: `op` applied to `args` */
} expr_kind;

/*
 * Node of an expression tree. Operators map onto graph ops: `a @ b` is
 * RG_OP_MATMUL, `x.T` is RG_OP_TRANSPOSE, unary minus is RG_OP_NEG, and a
 * call such as `sum(x, axis=0)` is RG_OP_SUM with `axis` set. The location
 * of an operator node is that of its operator token or function name.
 */
typedef struct expr_node {
    expr_kind kind;
    int line;
    int column;
    int depth;     /* 1 for a leaf, 1 + the deepest argument otherwise */
    double number; /* EXPR_NUMBER */
    char *name;    /* EXPR_NAME, NUL-terminated, owned */
    rg_op op;      /* EXPR_OP */
    int axis;      /* RG_OP_SUM, RG_OP_MEAN: 0, 1, -1, -2 or RG_AXIS_ALL */
    int n_args;
    struct expr_node *args[EXPR_MAX_ARGS];
} expr_node;

/*
 * Parses `length` bytes of `text` (no NUL needed). `line` and `column`
 * (1-based) are the file position of the first byte; a line break inside
 * the text moves to the next line, column 1, and a tab counts as one
 * column, as in libyaml. On success stores a new tree in *out (free with
 * expr_free). On failure returns RG_STATUS_SYNTAX or RG_STATUS_NO_MEMORY,
 * fills `err` with `file` (may be NULL), the line and column of the
 * offending token and a message saying what was expected, and sets *out to
 * NULL.
 */
rg_status expr_parse(const char *text, size_t length, const char *file,
                     int line, int column, expr_node **out, rg_error *err);

/* Frees a tree. NULL does nothing. */
void expr_free(expr_node *node);

/*
 * Writes the tree as an S-expression with one pair of parentheses per
 * operator, for tests and debugging: `-x^2 + 1` becomes
 * "(+ (neg (^ x 2)) 1)". Output that does not fit is truncated. Returns
 * `buf`.
 */
const char *expr_format(const expr_node *node, char *buf, size_t size);

/* Returns true when `name` is a built-in function such as "sigmoid". */
bool expr_is_function(const char *name);

/*
 * Returns true when `candidate` is within a small edit distance of `typo`
 * (1 edit for names of up to 4 characters, else 2; a swap of two adjacent
 * characters is one edit), so that an error can suggest it. Names longer
 * than 63 characters are never close.
 */
bool expr_is_close(const char *typo, const char *candidate);

#endif
