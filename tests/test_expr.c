/*
 * Tests of the model-file expression parser: precedence and associativity
 * (checked through the S-expression form of the tree), node locations, and
 * one row per syntax error with its line, column and message fragment.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/expr.h"

static expr_node *parse_ok(const char *text)
{
    expr_node *node = NULL;
    rg_error err;
    char buf[1024];
    rg_status status = expr_parse(text, strlen(text), "test.yaml", 1, 1,
                                  &node, &err);

    ck_assert_msg(status == RG_STATUS_OK, "'%s' failed: %s", text,
                  rg_error_format(&err, buf, sizeof(buf)));
    ck_assert_ptr_nonnull(node);
    return node;
}

/* Precedence and associativity. */

typedef struct shape_case {
    const char *text;
    const char *tree;
} shape_case;

static const shape_case tree_cases[] = {
    {"a + b * c", "(+ a (* b c))"},
    {"a * b + c", "(+ (* a b) c)"},
    {"a - b - c", "(- (- a b) c)"},
    {"a / b / c", "(/ (/ a b) c)"},
    {"a @ b @ c", "(@ (@ a b) c)"},
    {"a * b @ c", "(@ (* a b) c)"},
    {"a @ b * c", "(* (@ a b) c)"},
    {"a + b @ c", "(+ a (@ b c))"},
    {"a ^ b ^ c", "(^ a (^ b c))"},
    {"-x^2", "(neg (^ x 2))"},
    {"-x^2 + 1", "(+ (neg (^ x 2)) 1)"},
    {"2^-1", "(^ 2 (neg 1))"},
    {"-a * b", "(* (neg a) b)"},
    {"- - x", "(neg (neg x))"},
    {"a - -b", "(- a (neg b))"},
    {"a * b ^ c", "(* a (^ b c))"},
    {"(a + b) * c", "(* (+ a b) c)"},
    {"x.T", "(T x)"},
    {"x.T.T", "(T (T x))"},
    {"-W.T", "(neg (T W))"},
    {"W.T ^ 2", "(^ (T W) 2)"},
    {"(a @ b).T", "(T (@ a b))"},
    {"h0 @ W.T + bv", "(+ (@ h0 (T W)) bv)"},
    {"neg.vp", "neg.vp"},
    {"neg.vp.T @ neg.hp", "(@ (T neg.vp) neg.hp)"},
    {"neg . vp", "neg.vp"},
    {"neg.T", "(T neg)"},
    {"a < b + 1", "(< a (+ b 1))"},
    {"a + 1 >= b * 2", "(>= (+ a 1) (* b 2))"},
    {"a == b", "(== a b)"},
    {"a != b", "(!= a b)"},
    {"a <= b", "(<= a b)"},
    {"a > b", "(> a b)"},
    {"(a < b) * (b < c)", "(* (< a b) (< b c))"},
    {"1", "1"},
    {"0.5", "0.5"},
    {".5", "0.5"},
    {"1.", "1"},
    {"1e-3", "0.001"},
    {"2.5E+2", "250"},
    {"sigmoid(v0 @ W + bh)", "(sigmoid (+ (@ v0 W) bh))"},
    {"exp(x) + log(x) + log1p(x)", "(+ (+ (exp x) (log x)) (log1p x))"},
    {"softplus(tanh(relu(x)))", "(softplus (tanh (relu x)))"},
    {"sqrt(square(abs(x)))", "(sqrt (square (abs x)))"},
    {"min(a, b) + max(a, b)", "(+ (min a b) (max a b))"},
    {"where(a < b, a, b)", "(where (< a b) a b)"},
    {"sum(x)", "(sum x)"},
    {"sum(x, axis=0)", "(sum x axis=0)"},
    {"mean(x, axis = 1)", "(mean x axis=1)"},
    {"sum(x, axis=-1)", "(sum x axis=-1)"},
    {"mean(x, axis=-2)", "(mean x axis=-2)"},
    {"sum((v0 - v1p)^2) / batch", "(/ (sum (^ (- v0 v1p) 2)) batch)"},
    {"bernoulli(p)", "(bernoulli p)"},
    {"normal(0, 0.01)", "(normal 0 0.01)"},
    {"uniform(x)", "(uniform x)"},
    {"  a\n+\tb  ", "(+ a b)"},
    {"W + lr / batch * (v0.T @ h0p - v1p.T @ h1p)",
     "(+ W (* (/ lr batch) (- (@ (T v0) h0p) (@ (T v1p) h1p))))"},
};

START_TEST(parse_tree_shape)
{
    const shape_case *c = &tree_cases[_i];
    expr_node *node = parse_ok(c->text);
    char buf[512];

    ck_assert_str_eq(expr_format(node, buf, sizeof(buf)), c->tree);
    expr_free(node);
}
END_TEST

/* Syntax errors. */

typedef struct error_case {
    const char *text;
    int line;
    int column;
    const char *fragment;
} error_case;

static const error_case error_cases[] = {
    /* unexpected token */
    {"a b", 1, 3, "unexpected name 'b'; expected an operator"},
    {"a + * b", 1, 5, "unexpected '*'; expected a number, a name"},
    {"(a))", 1, 4, "unmatched ')'"},
    {")", 1, 1, "unexpected ')'"},
    {"f(x) (y)", 1, 1, "unknown function 'f'"},
    {"sigmoid(x) (y)", 1, 12, "unexpected '('"},
    {"a = b", 1, 3, "compare with '=='"},
    {"a < b < c", 1, 7, "comparisons cannot be chained"},
    {"a == b != c", 1, 8, "comparisons cannot be chained"},
    {"a.b.c", 1, 5, "expected 'T' after '.'"},
    {"(a).b", 1, 5, "expected 'T' after '.'"},
    {"x.", 1, 3, "expected 'T' after '.'"},
    {"sum(x y)", 1, 7, "expected ',' or ')'"},
    {"sum(x,)", 1, 7, "unexpected ')'"},
    {"x $ y", 1, 3, "unexpected character '$'"},
    {"x ** 2", 1, 3, "write powers with '^'"},
    {"!x", 1, 1, "expected '!=' for 'not equal'"},
    {"a + é", 1, 5, "unexpected byte 0xC3"},
    {"+a", 1, 1, "unexpected '+'"},
    /* unexpected end */
    {"", 1, 1, "empty expression"},
    {"   ", 1, 1, "empty expression"},
    {"a +", 1, 4, "unexpected end of expression after '+'"},
    {"a +   ", 1, 4, "unexpected end of expression after '+'"},
    {"-", 1, 2, "unexpected end of expression after '-'"},
    {"a ^", 1, 4, "after '^'; expected an operand"},
    {"sum(x,", 1, 7, "unexpected end of expression after ','"},
    {"sum(x, axis=", 1, 13, "expected an integer axis"},
    /* unbalanced parentheses */
    {"(a + b", 1, 1, "'(' is never closed"},
    {"((a + b)", 1, 1, "'(' is never closed"},
    {"a * (b + (c)", 1, 5, "'(' is never closed"},
    {"sigmoid(x", 1, 8, "'(' is never closed"},
    {"a + b)", 1, 6, "unmatched ')'"},
    /* unknown function */
    {"sigmod(x)", 1, 1, "unknown function 'sigmod'; did you mean 'sigmoid'?"},
    {"a + tan(x)", 1, 5, "did you mean 'tanh'?"},
    {"foo(x)", 1, 1, "unknown function 'foo'; expected one of sigmoid"},
    {"W(x)", 1, 1, "unknown function 'W'"},
    /* wrong arity */
    {"sigmoid()", 1, 1, "sigmoid expects 1 argument, got 0"},
    {"sigmoid(a, b)", 1, 1, "sigmoid expects 1 argument, got 2"},
    {"min(a)", 1, 1, "min expects 2 arguments, got 1"},
    {"max(a, b, c)", 1, 1, "max expects 2 arguments, got 3"},
    {"where(a, b)", 1, 1, "where expects 3 arguments, got 2"},
    {"where(a, b, c, d, e)", 1, 1, "where expects 3 arguments, got 5"},
    {"normal(a)", 1, 1, "normal expects 2 arguments, got 1"},
    {"uniform()", 1, 1, "uniform expects 1 argument, got 0"},
    {"x + bernoulli(p, q)", 1, 5, "bernoulli expects 1 argument, got 2"},
    /* keyword arguments */
    {"sum(x, axis=2)", 1, 13, "axis must be 0, 1, -1 or -2, got 2"},
    {"sum(x, axis=-3)", 1, 14, "got -3"},
    {"sum(x, axis=0.5)", 1, 13, "got 0.5"},
    {"sum(x, axis=a)", 1, 13, "expected an integer axis"},
    {"sum(x, axis=0, axis=1)", 1, 16, "axis= is given twice"},
    {"sum(x, dim=0)", 1, 8, "unknown keyword argument 'dim'"},
    {"sigmoid(x, axis=0)", 1, 12, "sigmoid takes no axis= argument"},
    {"sum(axis=0, x)", 1, 13, "positional argument after axis="},
    /* bad numbers */
    {"1e", 1, 1, "bad number '1e': expected digits after the exponent"},
    {"1e+", 1, 1, "bad number '1e+'"},
    {"a * 2x", 1, 5, "bad number '2x'"},
    {"1.2.3", 1, 1, "bad number '1.2.3'"},
    {"1e999", 1, 1, "bad number '1e999': out of range for float32"},
    {"x + 1e39", 1, 5, "out of range for float32"},
    {"1234567890123456789012345678901234567890123456789012345678901234567",
     1, 1, "longer than 63 characters"},
    /* positions on later lines */
    {"a +\n  b c", 2, 5, "unexpected name 'c'"},
    {"a +\r\n  (b", 2, 3, "'(' is never closed"},
    {"a\n+\n", 2, 2, "unexpected end of expression after '+'"},
};

START_TEST(parse_error_location)
{
    const error_case *c = &error_cases[_i];
    expr_node *node = (expr_node *)&node;
    rg_error err;
    rg_status status = expr_parse(c->text, strlen(c->text), "test.yaml", 1,
                                  1, &node, &err);

    ck_assert_msg(status == RG_STATUS_SYNTAX, "'%s': status %d", c->text,
                  (int)status);
    ck_assert_ptr_null(node);
    ck_assert_int_eq(err.code, RG_STATUS_SYNTAX);
    ck_assert_str_eq(err.file, "test.yaml");
    ck_assert_msg(err.line == c->line, "'%s': line %d, expected %d (%s)",
                  c->text, err.line, c->line, err.message);
    ck_assert_msg(err.column == c->column,
                  "'%s': column %d, expected %d (%s)", c->text, err.column,
                  c->column, err.message);
    ck_assert_msg(strstr(err.message, c->fragment) != NULL,
                  "'%s': message '%s' lacks '%s'", c->text, err.message,
                  c->fragment);
}
END_TEST

/* Locations. */

START_TEST(node_locations_offset)
{
    const char *text = "a + sum(b)";
    expr_node *node = NULL;
    rg_error err;

    ck_assert_int_eq(expr_parse(text, strlen(text), NULL, 7, 10, &node,
                                &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(node->line, 7);
    ck_assert_int_eq(node->column, 12);
    ck_assert_int_eq(node->args[0]->column, 10);
    ck_assert_int_eq(node->args[1]->column, 14);
    ck_assert_int_eq(node->args[1]->args[0]->column, 18);
    expr_free(node);
}
END_TEST

START_TEST(node_locations_multiline)
{
    const char *text = "sigmoid(v0 @ W\n        + bh)";
    expr_node *node = NULL;
    rg_error err;
    const expr_node *add;

    ck_assert_int_eq(expr_parse(text, strlen(text), NULL, 3, 8, &node,
                                &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(node->line, 3);
    ck_assert_int_eq(node->column, 8);
    add = node->args[0];
    ck_assert_int_eq(add->line, 4);
    ck_assert_int_eq(add->column, 9);
    ck_assert_int_eq(add->args[1]->line, 4);
    ck_assert_int_eq(add->args[1]->column, 11);
    ck_assert_int_eq(add->args[0]->line, 3);
    ck_assert_int_eq(add->args[0]->column, 19);
    expr_free(node);
}
END_TEST

START_TEST(error_location_offset)
{
    const char *text = "x +\n    y z";
    expr_node *node = NULL;
    rg_error err;

    ck_assert_int_eq(expr_parse(text, strlen(text), "m.yaml", 12, 9, &node,
                                &err),
                     RG_STATUS_SYNTAX);
    ck_assert_int_eq(err.line, 13);
    ck_assert_int_eq(err.column, 7);
}
END_TEST

START_TEST(length_bounds_text)
{
    const char *text = "a + b junk";
    expr_node *node = NULL;
    rg_error err;
    char buf[64];

    ck_assert_int_eq(expr_parse(text, 5, NULL, 1, 1, &node, &err),
                     RG_STATUS_OK);
    ck_assert_str_eq(expr_format(node, buf, sizeof(buf)), "(+ a b)");
    expr_free(node);
}
END_TEST

/* Limits. */

static char *repeat(const char *prefix, const char *unit, int n,
                    const char *suffix)
{
    size_t size = strlen(prefix) + strlen(unit) * (size_t)n + strlen(suffix)
                  + 1;
    char *text = malloc(size);

    ck_assert_ptr_nonnull(text);
    strcpy(text, prefix);
    for (int i = 0; i < n; i++) {
        strcat(text, unit);
    }
    strcat(text, suffix);
    return text;
}

START_TEST(nesting_limit_parentheses)
{
    char *open = repeat("", "(", 1000, "a");
    char *text = repeat(open, ")", 1000, "");
    expr_node *node = NULL;
    rg_error err;

    ck_assert_int_eq(expr_parse(text, strlen(text), NULL, 1, 1, &node, &err),
                     RG_STATUS_SYNTAX);
    ck_assert_ptr_nonnull(strstr(err.message, "nested more than 200"));
    free(open);
    free(text);
}
END_TEST

START_TEST(nesting_limit_long_sum)
{
    char *text = repeat("a", " + a", 5000, "");
    expr_node *node = NULL;
    rg_error err;

    ck_assert_int_eq(expr_parse(text, strlen(text), NULL, 1, 1, &node, &err),
                     RG_STATUS_SYNTAX);
    ck_assert_ptr_nonnull(strstr(err.message, "nested more than 200"));
    free(text);
}
END_TEST

START_TEST(nesting_limit_unary_minus)
{
    char *text = repeat("", "-", 100000, "x");
    expr_node *node = NULL;
    rg_error err;

    ck_assert_int_eq(expr_parse(text, strlen(text), NULL, 1, 1, &node, &err),
                     RG_STATUS_SYNTAX);
    ck_assert_ptr_nonnull(strstr(err.message, "nested more than 200"));
    free(text);
}
END_TEST

START_TEST(nesting_within_limit)
{
    char *open = repeat("", "(", 150, "a");
    char *text = repeat(open, ")", 150, "");

    expr_free(parse_ok(text));
    free(open);
    free(text);
}
END_TEST

/* Helpers. */

START_TEST(function_names_known)
{
    ck_assert(expr_is_function("sigmoid"));
    ck_assert(expr_is_function("uniform"));
    ck_assert(expr_is_function("where"));
    ck_assert(!expr_is_function("W"));
    ck_assert(!expr_is_function("sigmoid2"));
}
END_TEST

START_TEST(close_names_suggested)
{
    ck_assert(expr_is_close("sigmod", "sigmoid"));
    ck_assert(expr_is_close("hiden", "hidden"));
    ck_assert(expr_is_close("tan", "tanh"));
    ck_assert(!expr_is_close("foo", "log"));
    ck_assert(!expr_is_close("batch", "visible"));
}
END_TEST

START_TEST(format_truncates_safely)
{
    expr_node *node = parse_ok("sigmoid(v0 @ W + bh)");
    char buf[8];

    expr_format(node, buf, sizeof(buf));
    ck_assert_str_eq(buf, "(sigmoi");
    expr_free(node);
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *grammar = tcase_create("grammar");
    TCase *errors = tcase_create("errors");
    TCase *locations = tcase_create("locations");
    TCase *limits = tcase_create("limits");

    tcase_add_loop_test(grammar, parse_tree_shape, 0,
                        (int)(sizeof(tree_cases) / sizeof(tree_cases[0])));
    tcase_add_test(grammar, function_names_known);
    tcase_add_test(grammar, close_names_suggested);
    tcase_add_test(grammar, format_truncates_safely);
    tcase_add_loop_test(errors, parse_error_location, 0,
                        (int)(sizeof(error_cases) / sizeof(error_cases[0])));
    tcase_add_test(locations, node_locations_offset);
    tcase_add_test(locations, node_locations_multiline);
    tcase_add_test(locations, error_location_offset);
    tcase_add_test(locations, length_bounds_text);
    tcase_add_test(limits, nesting_limit_parentheses);
    tcase_add_test(limits, nesting_limit_long_sum);
    tcase_add_test(limits, nesting_limit_unary_minus);
    tcase_add_test(limits, nesting_within_limit);
    suite_add_tcase(s, grammar);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, locations);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(expr_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
