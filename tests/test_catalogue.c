/*
 * A catalogue of bad inputs: model files, overrides, data files, data
 * that does not fit the model, checkpoints and command lines. Each table
 * row states the input, the expected status (or exit status for the
 * program) and a fragment of the message. Model-file rows also give the
 * line and column. Fragments include the part of a message that says
 * what to do, so that a message losing its advice fails here.
 *
 * Rows named "fuzz:" reproduce inputs that the fuzz targets in tests/fuzz
 * found; docs/testing.md lists them.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "exec/npz.h"
#include "rbmgraph/rbmgraph.h"

/* Temporary folder for every file the tests write, removed by main. */
static char g_dir[256];

static const char *tmp_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *bytes, size_t n)
{
    gzFile f = gzopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

static unsigned char *read_whole(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long size;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/*
 * Asserts the status and that the formatted error contains `fragment`.
 * With RG_CATALOGUE_PRINT set, prints every message for review.
 */
static void expect_error(const char *row, rg_status got, const rg_error *err,
                         rg_status status, const char *fragment)
{
    char text[1200];

    rg_error_format(err, text, sizeof(text));
    if (getenv("RG_CATALOGUE_PRINT") != NULL) {
        printf("%s: %s\n", row, text);
    }
    ck_assert_msg(got == status, "%s: status %s, expected %s; message: %s",
                  row, rg_status_str(got), rg_status_str(status), text);
    ck_assert_msg(strstr(text, fragment) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", row, text, fragment);
}

/* --- model files ---------------------------------------------------------- */

/* A valid model; rows append sections to it or replace it. */
#define PREFIX                                                              \
    "model: cat\n"                                                          \
    "dims: {batch: 4, visible: 6, hidden: 3}\n"                             \
    "hyper: {lr: 0.1, k: 2}\n"                                              \
    "params:\n"                                                             \
    "  W: {shape: [visible, hidden]}\n"                                     \
    "  bh: {shape: [hidden]}\n"                                             \
    "inputs:\n"                                                             \
    "  v0: {shape: [batch, visible]}\n"

typedef struct model_case {
    const char *name;
    const char *text;  /* NULL: made by the row's generator */
    char *(*make)(void);
    const char *entry; /* NULL: loading fails; else building it fails */
    rg_status status;
    int line;
    int column;
    const char *fragment;
} model_case;

/* "a: [[[...]]]" nested 40 levels: deeper than the reader accepts. */
static char *make_deep_yaml(void)
{
    enum { DEPTH = 40 };
    char *text = malloc(64 + 2 * DEPTH);

    ck_assert_ptr_nonnull(text);
    strcpy(text, "model: cat\ndims: ");
    for (int i = 0; i < DEPTH; i++) {
        strcat(text, "[");
    }
    for (int i = 0; i < DEPTH; i++) {
        strcat(text, "]");
    }
    strcat(text, "\n");
    return text;
}

/* An expression in 250 pairs of parentheses: deeper than 200 levels. */
static char *make_deep_expression(void)
{
    enum { DEPTH = 250 };
    size_t size = sizeof(PREFIX) + 64 + 2 * DEPTH;
    char *text = malloc(size);

    ck_assert_ptr_nonnull(text);
    strcpy(text, PREFIX "outputs:\n  o: ");
    for (int i = 0; i < DEPTH; i++) {
        strcat(text, "(");
    }
    strcat(text, "v0");
    for (int i = 0; i < DEPTH; i++) {
        strcat(text, ")");
    }
    strcat(text, "\n");
    return text;
}

/* Named expressions e0 <- e1 <- ... <- e2100: references 2100 deep. */
static char *make_deep_references(void)
{
    enum { N = 2100 };
    size_t size = sizeof(PREFIX) + 64 + (size_t)N * 32;
    char *text = malloc(size);
    size_t n;

    ck_assert_ptr_nonnull(text);
    n = (size_t)snprintf(text, size, PREFIX "outputs: {o: e0}\ngraph:\n");
    for (int i = 0; i < N; i++) {
        n += (size_t)snprintf(text + n, size - n, "  e%d: e%d + 1\n", i,
                              i + 1);
    }
    snprintf(text + n, size - n, "  e%d: v0\n", N);
    return text;
}

static const model_case model_cases[] = {
    /* YAML features the format rejects. */
    {"tab indentation", PREFIX "graph:\n\th: v0\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 1, "YAML indents with spaces only"},
    {"duplicate key in a flow mapping",
     PREFIX "state:\n  s: {shape: [2], shape: [3]}\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 19,
     "duplicate key 'shape'; it is first defined at 10:7, so remove or "
     "rename one of them"},
    {"duplicate graph name",
     PREFIX "graph:\n  h: v0\n  h: v0 * 2\noutputs: {o: h}\n", NULL, NULL,
     RG_STATUS_SYNTAX, 11, 3, "duplicate key 'h'; it is first defined at 10:3"},
    {"anchor on a param", PREFIX "state:\n  s: &s {shape: [2]}\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 6, "YAML anchor '&s' is not supported; write"},
    {"alias of an expression",
     PREFIX "graph:\n  h: v0\noutputs: {o: *h}\n", NULL, NULL,
     RG_STATUS_SYNTAX, 11, 14, "YAML alias '*h' is not supported; write"},
    {"merge key in a param",
     PREFIX "state:\n  s: {<<: {shape: [2]}}\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 7, "YAML merge key '<<' is not supported; write"},
    /* Scalars of the wrong kind. */
    {"dim written as a string", "model: cat\ndims: {batch: \"100\"}\n", NULL,
     NULL, RG_STATUS_MODEL, 2, 15,
     "found a quoted string ('100'); remove the quotes"},
    {"hyper written as a string", "model: cat\nhyper: {lr: '1e-3'}\n", NULL,
     NULL, RG_STATUS_MODEL, 2, 13,
     "found the quoted string '1e-3'; remove the quotes"},
    {"boolean no as a hyper", "model: cat\nhyper: {lr: no}\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 13, "found the boolean 'no'"},
    {"boolean off as a dim", "model: cat\ndims: {batch: off}\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 15, "found the boolean 'off'"},
    {"null dim", "model: cat\ndims: {batch: ~}\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 15, "found an empty value"},
    {"numeric key", "model: cat\ndims: {1: 2}\n", NULL, NULL, RG_STATUS_MODEL,
     2, 8, "invalid dim name '1'"},
    /* Documents. */
    {"blank lines only", "\n   \n\n", NULL, NULL, RG_STATUS_MODEL, 1, 1,
     "empty model file; expected a mapping"},
    {"explicit empty document", "--- # nothing\n...\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 1, "empty model document"},
    {"two documents", "model: a\ndims: {n: 1}\n...\n---\nmodel: b\n", NULL,
     NULL, RG_STATUS_SYNTAX, 4, 1,
     "second YAML document; a model file holds exactly one"},
    /* Dims and shapes. */
    {"huge dim", "model: cat\ndims: {batch: 99999999999}\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 15, "exceeds the maximum 2147483647"},
    {"negative dim", "model: cat\ndims: {batch: -100}\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 15, "found -100, which is not positive"},
    {"zero dim", "model: cat\ndims: {batch: 0}\n", NULL, NULL,
     RG_STATUS_MODEL, 2, 15, "found 0, which is not positive"},
    {"zero in a shape", PREFIX "state:\n  s: {shape: [visible, 0]}\n", NULL,
     NULL, RG_STATUS_MODEL, 10, 24, "must be a positive integer"},
    {"shape overflows the element limit",
     "model: cat\ndims: {a: 2147483647, b: 2147483647}\n"
     "params:\n  W: {shape: [a, b]}\n", NULL, NULL, RG_STATUS_MODEL, 4, 14,
     "more than 2147483647 elements; use smaller dims"},
    {"product overflows the element limit",
     "model: cat\ndims: {a: 2147483647}\ninputs:\n  x: {shape: [a, 1]}\n"
     "  y: {shape: [1, a]}\noutputs:\n  o: x @ y\n", NULL, "train",
     RG_STATUS_SHAPE, 7, 8, "more than 2147483647 elements; use smaller "
     "dims"},
    {"broadcast mismatch", PREFIX "outputs:\n  o: v0 * bh\n", NULL, "train",
     RG_STATUS_SHAPE, 10, 9, "[4, 6]"},
    /* Names, cycles and shadowing. */
    {"unknown name", PREFIX "outputs:\n  o: sigmoid(v0 @ W + bv)\n", NULL,
     NULL, RG_STATUS_MODEL, 10, 23, "unknown name 'bv'"},
    {"unknown function", PREFIX "outputs:\n  o: sigmod(v0)\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 6, "did you mean 'sigmoid'?"},
    {"wrong arity", PREFIX "outputs:\n  o: sigmoid(v0, W)\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 6, "sigmoid expects 1 argument, got 2"},
    {"two cycle in an entry",
     PREFIX "entries:\n  e:\n    graph: {a: b * 2, b: a + 1}\n"
     "    outputs: {o: a}\n", NULL, NULL, RG_STATUS_MODEL, 11, 26,
     "cycle in named expressions: a -> b -> a"},
    {"chain shadows a graph name",
     PREFIX "graph: {c: v0}\nchains:\n  c: {steps: 1, init: {v: v0}, "
     "step: {v: v}}\noutputs: {o: c}\n", NULL, NULL, RG_STATUS_MODEL, 11, 3,
     "has the same name as the graph expression declared at 9:9; every name "
     "may be declared once, so rename one of them"},
    {"update of an input", PREFIX "updates:\n  v0: v0 + 1\n", NULL, NULL,
     RG_STATUS_MODEL, 10, 3, "only params and state can be updated"},
    {"non-finite literal", PREFIX "outputs:\n  o: v0 * 1e999\n", NULL, NULL,
     RG_STATUS_SYNTAX, 10, 11, "1e999"},
    /* Nesting limits. */
    {"YAML nested too deep", NULL, make_deep_yaml, NULL, RG_STATUS_SYNTAX, 2,
     0, "YAML nested more than 32 levels deep; a model file needs only a "
     "few, so look for unclosed brackets"},
    {"expression nested too deep", NULL, make_deep_expression, NULL,
     RG_STATUS_SYNTAX, 10, 0, "more than 200 levels"},
    {"references nested too deep", NULL, make_deep_references, NULL,
     RG_STATUS_MODEL, 0, 0, "more than 2000 levels"},
};

enum { N_MODEL_CASES = sizeof(model_cases) / sizeof(model_cases[0]) };

/*
 * Runs one model row. A line or column of 0 accepts any positive value,
 * for rows whose position depends on generated text.
 */
START_TEST(model_file_rejected)
{
    const model_case *c = &model_cases[_i];
    char *generated = c->make != NULL ? c->make() : NULL;
    const char *text = generated != NULL ? generated : c->text;
    size_t length = strlen(text);
    rg_model *m = NULL;
    rg_graph *g = NULL;
    rg_error err;
    rg_status st = rg_model_load_string(text, length, "cat.yaml", &m, &err);

    if (c->entry != NULL) {
        char buf[1200];
        ck_assert_msg(st == RG_STATUS_OK, "%s: load failed: %s", c->name,
                      rg_error_format(&err, buf, sizeof(buf)));
        st = rg_model_build(m, c->entry, &g, &err);
        ck_assert_ptr_null(g);
    } else {
        ck_assert_ptr_null(m);
    }
    expect_error(c->name, st, &err, c->status, c->fragment);
    ck_assert_str_eq(err.file, "cat.yaml");
    if (c->line > 0) {
        ck_assert_msg(err.line == c->line, "%s: line %d, expected %d",
                      c->name, err.line, c->line);
    } else {
        ck_assert_int_gt(err.line, 0);
    }
    if (c->column > 0) {
        ck_assert_msg(err.column == c->column, "%s: column %d, expected %d",
                      c->name, err.column, c->column);
    } else {
        ck_assert_int_gt(err.column, 0);
    }
    rg_model_free(m);
    free(generated);
}
END_TEST

/* A NUL byte, which a table row cannot hold in a C string. */
START_TEST(model_nul_byte_rejected)
{
    static const char text[] = "model: cat\0\ndims: {n: 1}\n";
    rg_model *m = NULL;
    rg_error err;
    rg_status st = rg_model_load_string(text, sizeof(text) - 1, "cat.yaml",
                                        &m, &err);

    expect_error("NUL byte", st, &err, RG_STATUS_SYNTAX,
                 "cat.yaml:1:11: invalid text: control characters are not "
                 "allowed");
    ck_assert_ptr_null(m);
}
END_TEST

/* Loading by path: missing files, folders and files over 16 MiB. */
START_TEST(model_path_rejected)
{
    char path[512];
    rg_model *m = NULL;
    rg_error err;
    rg_status st;
    int fd;

    st = rg_model_load(tmp_path("missing.yaml", path, sizeof(path)), &m,
                       &err);
    expect_error("missing file", st, &err, RG_STATUS_IO,
                 "cannot open model file: No such file or directory");
    ck_assert_ptr_null(m);

    st = rg_model_load(g_dir, &m, &err);
    expect_error("folder", st, &err, RG_STATUS_IO, "Is a directory");
    ck_assert_ptr_null(m);

    /* A sparse file: 17 MiB long without writing 17 MiB. */
    tmp_path("big.yaml", path, sizeof(path));
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 17 * 1024 * 1024), 0);
    close(fd);
    st = rg_model_load(path, &m, &err);
    expect_error("big file", st, &err, RG_STATUS_MODEL,
                 "larger than the maximum of 16777216 bytes");
    ck_assert_ptr_null(m);
}
END_TEST

/* --- overrides ------------------------------------------------------------ */

typedef struct set_case {
    const char *name;
    const char *key;
    const char *value;
    rg_status status;
    const char *fragment;
} set_case;

static const set_case set_cases[] = {
    {"dim above the maximum", "visible", "4000000000",
     RG_STATUS_INVALID_ARGUMENT, "exceeds the maximum 2147483647"},
    {"dim product too large", "hidden", "2000000000",
     RG_STATUS_INVALID_ARGUMENT,
     "param 'W' would have shape [6, 2000000000], more than 2147483647 "
     "elements; use a smaller value"},
    {"negative dim", "batch", "-1", RG_STATUS_INVALID_ARGUMENT,
     "which is not positive"},
    {"dim with a fraction", "batch", "2.5", RG_STATUS_INVALID_ARGUMENT,
     "not an integer"},
    {"dim as text", "batch", "many", RG_STATUS_INVALID_ARGUMENT,
     "expected a positive integer"},
    {"hyper not finite", "lr", "inf", RG_STATUS_INVALID_ARGUMENT,
     "expected a finite number"},
    {"hyper empty", "lr", "", RG_STATUS_INVALID_ARGUMENT,
     "expected a finite number"},
    {"unknown name", "hiden", "5", RG_STATUS_NOT_FOUND,
     "no dim or hyper named 'hiden'; did you mean 'hidden'? Valid names: "
     "batch, visible, hidden, lr, k"},
    {"unknown name far", "zzz", "5", RG_STATUS_NOT_FOUND,
     "valid names: batch, visible, hidden, lr, k"},
};

enum { N_SET_CASES = sizeof(set_cases) / sizeof(set_cases[0]) };

START_TEST(override_rejected)
{
    static const char text[] = PREFIX "outputs: {o: v0 @ W}\n";
    const set_case *c = &set_cases[_i];
    rg_model *m = NULL;
    rg_graph *g = NULL;
    rg_error err;
    rg_status st;

    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "cat.yaml", &m,
                                          &err), RG_STATUS_OK);
    st = rg_model_set(m, c->key, c->value, &err);
    expect_error(c->name, st, &err, c->status, c->fragment);

    /* The model keeps its old values and still builds. */
    ck_assert_int_eq(rg_model_dim_value(m, 1), 6);
    ck_assert_int_eq(rg_model_build(m, "train", &g, &err), RG_STATUS_OK);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

/* --- data files ----------------------------------------------------------- */

#define BYTES(s) (const unsigned char *)(s), sizeof(s) - 1

typedef struct data_case {
    const char *name;
    const unsigned char *bytes;
    size_t n_bytes;
    bool gzip;
    rg_status status;
    const char *fragment;
} data_case;

/* An IDX header declaring 2 images of 2 x 2 bytes; rows append the data. */
#define IDX_2X2X2 "\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02"

static const data_case data_cases[] = {
    {"empty file", BYTES(""), false, RG_STATUS_DATA, "the file is empty"},
    {"empty gzip stream", BYTES(""), true, RG_STATUS_DATA,
     "the file is empty"},
    {"wrong magic", BYTES("\x7f" "ELF\x02\x01\x01\0\0\0"), false,
     RG_STATUS_DATA, "not an IDX, .npy or CSV file"},
    {"IDX truncated header", BYTES("\0\0\x08\x03\0\0\0\x02\0\0"), false,
     RG_STATUS_DATA, "truncated: the file ends inside the IDX header"},
    {"IDX truncated data", BYTES(IDX_2X2X2 "\1\2\3\4\5"), false,
     RG_STATUS_DATA,
     "truncated: the header gives 2 x 2 x 2 (8 bytes of data) but the file "
     "contains only 5"},
    {"IDX extra data", BYTES(IDX_2X2X2 "\1\2\3\4\5\6\7\x08\x09"), false,
     RG_STATUS_DATA, "the file continues after the 8 bytes of data"},
    {"IDX float elements", BYTES("\0\0\x0d\x01\0\0\0\x01\0\0\0\0"), false,
     RG_STATUS_UNSUPPORTED, "only 0x08 (unsigned byte) is"},
    {"IDX rank 0", BYTES("\0\0\x08\0"), false, RG_STATUS_DATA,
     "IDX rank 0 is invalid; expected 1 to 4 dimensions"},
    {"IDX zero images", BYTES("\0\0\x08\x02\0\0\0\0\0\0\0\x04"), false,
     RG_STATUS_DATA, "has no examples or no values per example"},
    {"IDX truncated inside gzip", BYTES(IDX_2X2X2 "\1\2"), true,
     RG_STATUS_DATA, "truncated"},
    /* 256 x 65536 x 65536 bytes (1 TiB) declared, 4 bytes present. */
    {"fuzz: IDX declaring 1 TiB",
     BYTES("\0\0\x08\x03\0\0\x01\0\0\x01\0\0\0\x01\0\0\1\2\3\4"), false,
     RG_STATUS_DATA, "(1099511627776 bytes of data) but the file contains "
     "only 4"},
    /* The input fuzz_data reported as out-of-memory: 12 GiB declared. */
    {"fuzz: IDX declaring 12 GiB",
     BYTES("\0\0\x08\x03\0\0\0\x01\xf7\0\0\x02\0\0\0\x03\0\0\0\x04\0\x01"
           "\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\0"),
     false, RG_STATUS_DATA, "truncated"},
    {"npy unsupported version", BYTES("\x93NUMPY\x04\0\x10\0{}"), false,
     RG_STATUS_UNSUPPORTED, "versions 1.0, 2.0 and 3.0 are"},
    {"npy bad header", BYTES("\x93NUMPY\x01\0\x08\0{'a': 1}"), false,
     RG_STATUS_DATA, "invalid .npy header"},
    {"npy unsupported dtype",
     BYTES("\x93NUMPY\x01\0\x37\0{'descr': '<i4', 'fortran_order': False, "
           "'shape': (1,)}"),
     false, RG_STATUS_UNSUPPORTED, "use one of"},
    {"npy truncated data",
     BYTES("\x93NUMPY\x01\0\x37\0{'descr': '<f4', 'fortran_order': False, "
           "'shape': (4,)}\0\0"),
     false, RG_STATUS_DATA, "truncated"},
    {"npy declaring 4 GiB rows",
     BYTES("\x93NUMPY\x01\0\x41\0{'descr': '|u1', 'fortran_order': False, "
           "'shape': (65536, 65536)}\0"),
     false, RG_STATUS_DATA, "truncated"},
    {"npy NaN value",
     BYTES("\x93NUMPY\x01\0\x37\0{'descr': '<f4', 'fortran_order': False, "
           "'shape': (1,)}\0\0\xc0\x7f"),
     false, RG_STATUS_DATA, "values must be finite"},
    {"CSV ragged rows", BYTES("1,2,3\n4,5\n"), false, RG_STATUS_DATA,
     "line 1 has 3"},
    {"CSV text field", BYTES("1,2\n3,x\n"), false, RG_STATUS_DATA,
     "column 2: 'x' is not a number"},
    {"CSV empty field", BYTES("1,,3\n"), false, RG_STATUS_DATA,
     "is empty; expected a number"},
    {"CSV header only", BYTES("a,b,c\n"), false, RG_STATUS_DATA,
     "no data rows"},
};

enum { N_DATA_CASES = sizeof(data_cases) / sizeof(data_cases[0]) };

START_TEST(data_file_rejected)
{
    const data_case *c = &data_cases[_i];
    char path[512];
    rg_dataset *ds = NULL;
    rg_error err;
    rg_status st;

    tmp_path("bad-data", path, sizeof(path));
    if (c->gzip) {
        write_gz(path, c->bytes, c->n_bytes);
    } else {
        write_file(path, c->bytes, c->n_bytes);
    }
    st = rg_dataset_load(path, NULL, &ds, &err);
    expect_error(c->name, st, &err, c->status, c->fragment);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(err.message, path) != NULL,
                  "%s: message \"%s\" does not name the file", c->name,
                  err.message);
}
END_TEST

/* Gzip damage: a flipped byte in the stream and a cut stream. */
START_TEST(data_gzip_damage_rejected)
{
    enum { N = 4096 };
    unsigned char idx[12 + N];
    char path[512];
    unsigned char *gz;
    size_t n_gz;
    rg_dataset *ds = NULL;
    rg_error err;
    rg_status st;

    /* An IDX file of 4096 rows of 1 byte with varied values, so that the
     * compressed stream is long enough to damage in the middle. */
    memcpy(idx, "\0\0\x08\x02\0\0\x10\0\0\0\0\x01", 12);
    for (int i = 0; i < N; i++) {
        idx[12 + i] = (unsigned char)(i * 7919 % 251);
    }
    write_gz(tmp_path("d.gz", path, sizeof(path)), idx, sizeof(idx));
    gz = read_whole(path, &n_gz);

    gz[n_gz / 2] ^= 0x55;
    write_file(path, gz, n_gz);
    st = rg_dataset_load(path, NULL, &ds, &err);
    ck_assert_ptr_null(ds);
    ck_assert_msg(st == RG_STATUS_DATA, "status %s: %s", rg_status_str(st),
                  err.message);
    ck_assert_msg(strstr(err.message, "gzip") != NULL
                      || strstr(err.message, "truncated") != NULL,
                  "message \"%s\" names neither gzip nor truncation",
                  err.message);

    gz[n_gz / 2] ^= 0x55;
    write_file(path, gz, n_gz - 9);
    st = rg_dataset_load(path, NULL, &ds, &err);
    expect_error("cut gzip", st, &err, RG_STATUS_DATA, "truncated");
    free(gz);
}
END_TEST

/* --- data that does not fit the model ------------------------------------- */

/* Writes an IDX file of n_rows images of 1 x n_cols bytes. */
static void write_idx(const char *path, int n_rows, int n_cols)
{
    size_t n = 16 + (size_t)n_rows * (size_t)n_cols;
    unsigned char *buf = calloc(1, n);

    ck_assert_ptr_nonnull(buf);
    buf[2] = 0x08;
    buf[3] = 3;
    buf[6] = (unsigned char)(n_rows >> 8);
    buf[7] = (unsigned char)n_rows;
    buf[11] = 1;
    buf[14] = (unsigned char)(n_cols >> 8);
    buf[15] = (unsigned char)n_cols;
    for (size_t i = 16; i < n; i++) {
        buf[i] = (unsigned char)(i % 256);
    }
    write_file(path, buf, n);
    free(buf);
}

static const char small_rbm[] =
    "model: small\n"
    "dims: {batch: 4, visible: 6, hidden: 3}\n"
    "hyper: {lr: 0.1}\n"
    "params:\n"
    "  W: {shape: [visible, hidden], init: {normal: {std: 0.1}}}\n"
    "  bv: {shape: [visible]}\n"
    "  bh: {shape: [hidden]}\n"
    "inputs:\n"
    "  v0: {shape: [batch, visible]}\n"
    "graph:\n"
    "  h0p: sigmoid(v0 @ W + bh)\n"
    "  v1p: sigmoid(bernoulli(h0p) @ W.T + bv)\n"
    "  h1p: sigmoid(v1p @ W + bh)\n"
    "updates:\n"
    "  W: W + lr / batch * (v0.T @ h0p - v1p.T @ h1p)\n"
    "  bv: bv + lr / batch * sum(v0 - v1p, axis=0)\n"
    "  bh: bh + lr / batch * sum(h0p - h1p, axis=0)\n"
    "metrics:\n"
    "  recon_error: sum((v0 - v1p)^2) / batch\n";

typedef struct fit_case {
    const char *name;
    int n_rows;
    int n_cols;
    const char *fragment;
} fit_case;

static const fit_case fit_cases[] = {
    {"image size differs", 10, 9,
     "the data has 9 values per example but input 'v0' expects 6; pick data "
     "that matches the model or change its dims with --set"},
    {"fewer rows than a batch", 3, 6,
     "the data has 3 examples, fewer than one minibatch of 4; use a smaller "
     "batch with --set batch=N"},
};

enum { N_FIT_CASES = sizeof(fit_cases) / sizeof(fit_cases[0]) };

START_TEST(data_not_fitting_rejected)
{
    const fit_case *c = &fit_cases[_i];
    char path[512];
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    rg_runtime *rt = NULL;
    rg_trainer *t = NULL;
    rg_epoch_stats stats;
    rg_error err;
    rg_status st;

    write_idx(tmp_path("fit.idx", path, sizeof(path)), c->n_rows, c->n_cols);
    ck_assert_int_eq(rg_model_load_string(small_rbm, strlen(small_rbm),
                                          "small.yaml", &m, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_dataset_load(path, NULL, &ds, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_trainer_new(m, "train", rt, NULL, &t, &err),
                     RG_STATUS_OK);
    st = rg_trainer_run_epoch(t, ds, 1, 1, NULL, NULL, &stats, &err);
    expect_error(c->name, st, &err, RG_STATUS_DATA, c->fragment);
    ck_assert_int_eq(rg_trainer_step(t), 0);
    rg_trainer_free(t);
    rg_runtime_free(rt);
    rg_dataset_free(ds);
    rg_model_free(m);
}
END_TEST

static int run_program(const char *const *args, const char *err_path);

/* --- sizes beyond memory --------------------------------------------------- */

/*
 * Input x has 46340 x 46340 = 2,147,395,600 elements, just under the
 * limit, and each of 500 outputs is a separate tensor of that size: an
 * arena of 4.3e12 bytes, beyond the RAM and swap of the machines the
 * tests run on.
 */
static char *make_huge_arena_model(void)
{
    enum { N_OUTPUTS = 500 };
    size_t size = 256 + (size_t)N_OUTPUTS * 32;
    char *text = malloc(size);
    size_t n;

    ck_assert_ptr_nonnull(text);
    n = (size_t)snprintf(text, size, "model: huge\n"
                         "dims: {a: 46340}\n"
                         "inputs:\n  x: {shape: [a, a]}\n"
                         "outputs:\n");
    for (int i = 0; i < N_OUTPUTS; i++) {
        n += (size_t)snprintf(text + n, size - n, "  o%d: x * %d\n", i,
                              i + 2);
    }
    return text;
}

START_TEST(arena_too_large_rejected)
{
    char *text = make_huge_arena_model();
    char expected[128];
    rg_model *m = NULL;
    rg_graph *g = NULL;
    rg_plan *plan = NULL;
    rg_runtime *rt = NULL;
    rg_exec *ex = NULL;
    rg_error err;
    rg_status st;

    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "huge.yaml",
                                          &m, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_model_build(m, "train", &g, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_plan_build(g, NULL, &plan, &err), RG_STATUS_OK);
    ck_assert_int_gt(rg_plan_arena_bytes(plan), INT64_C(1) << 41);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);

    st = rg_exec_new(rt, plan, &ex, &err);
    snprintf(expected, sizeof(expected), "cannot allocate the plan's arena "
             "of %lld bytes", (long long)rg_plan_arena_bytes(plan));
    expect_error("arena", st, &err, RG_STATUS_NO_MEMORY, expected);
    expect_error("arena", st, &err, RG_STATUS_NO_MEMORY,
                 "more than this machine's");
    expect_error("arena", st, &err, RG_STATUS_NO_MEMORY, "use smaller dims");
    ck_assert_ptr_null(ex);

    rg_runtime_free(rt);
    rg_plan_free(plan);
    rg_graph_free(g);
    rg_model_free(m);
    free(text);
}
END_TEST

/* The same model through the program: exit status 1 and the sizes. */
START_TEST(arena_too_large_cli)
{
    const char *args[] = {"train", "@DIR/huge.yaml", "--data", "@DATA",
                          "--epochs", "1", NULL};
    char path[512];
    char err_path[512];
    char *text = make_huge_arena_model();
    size_t n;

    write_file(tmp_path("huge.yaml", path, sizeof(path)), text, strlen(text));
    free(text);
    write_idx(tmp_path("small.idx", path, sizeof(path)), 8, 6);
    tmp_path("stderr.txt", err_path, sizeof(err_path));
    ck_assert_int_eq(run_program(args, err_path), 1);
    text = (char *)read_whole(err_path, &n);
    text[n] = '\0';
    ck_assert_msg(strstr(text, "rbm-graph: error:") != NULL, "%s", text);
    free(text);
}
END_TEST

/* --- diverging runs ------------------------------------------------------- */


/*
 * A model whose param grows by a factor lr per step: with lr = 1000, W
 * is 1e36 after step 11 and overflows to Inf in the update of step 12.
 * Its metric becomes NaN (Inf - Inf) at step 13, the first step that
 * reads the overflowed W. Metric `blind` never sees W.
 */
static const char grow_model[] =
    "model: grow\n"
    "dims: {batch: 2, n: 3}\n"
    "hyper: {lr: 1000}\n"
    "params:\n"
    "  W: {shape: [n], init: {constant: 1}}\n"
    "inputs:\n"
    "  v0: {shape: [batch, n]}\n"
    "updates:\n"
    "  W: W * lr\n"
    "metrics:\n"
    "  m: mean(v0 * W) - sum(v0 * W)\n";

/* Trains `text` on 24 rows of 3 values (12 steps per epoch) from epoch 1
 * until an epoch fails; returns that epoch and leaves the trainer's step
 * in *step. */
static int train_until_failure(const char *text, int64_t interval,
                               rg_error *err, uint64_t *step)
{
    char path[512];
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    rg_runtime *rt = NULL;
    rg_trainer *t = NULL;
    rg_epoch_stats stats;
    rg_error setup;
    int epoch;

    write_idx(tmp_path("grow.idx", path, sizeof(path)), 24, 3);
    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "grow.yaml", &m,
                                          &setup), RG_STATUS_OK);
    ck_assert_int_eq(rg_dataset_load(path, NULL, &ds, &setup), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &setup), RG_STATUS_OK);
    ck_assert_int_eq(rg_trainer_new(m, "train", rt, NULL, &t, &setup),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_trainer_set_metric_interval(t, interval, &setup),
                     RG_STATUS_OK);
    for (epoch = 1; epoch <= 10; epoch++) {
        if (rg_trainer_run_epoch(t, ds, 1, (uint64_t)epoch, NULL, NULL,
                                 &stats, err) != RG_STATUS_OK) {
            break;
        }
    }
    *step = rg_trainer_step(t);
    rg_trainer_free(t);
    rg_runtime_free(rt);
    rg_dataset_free(ds);
    rg_model_free(m);
    return epoch;
}

START_TEST(divergence_names_metric_and_tensor)
{
    rg_error err;
    uint64_t step;
    int epoch = train_until_failure(grow_model, 1, &err, &step);

    ck_assert_int_eq(epoch, 2);
    expect_error("divergence", err.code, &err, RG_STATUS_NUMERIC,
                 "metric 'm' is NaN at step 13, and tensor 'W' has Inf at "
                 "element 0; training diverged (try a smaller learning "
                 "rate)");
    /* The run stopped at the step that saw the NaN. */
    ck_assert_int_eq(step, 14);
}
END_TEST

START_TEST(divergence_within_metric_interval)
{
    rg_error err;
    uint64_t step;
    int epoch = train_until_failure(grow_model, 5, &err, &step);

    ck_assert_int_eq(epoch, 2);
    expect_error("divergence", err.code, &err, RG_STATUS_NUMERIC,
                 "and tensor 'W' has Inf at element 0");
    /* Metrics are read at minibatches 0, 5 and 10 of each epoch, which in
     * epoch 2 are steps 12, 17 and 22: step 17 is the first read after W
     * overflowed. */
    ck_assert_int_eq(step, 18);
}
END_TEST

/* A metric that never sees the NaN: the end-of-epoch check finds W. */
START_TEST(divergence_found_at_epoch_end)
{
    char text[sizeof(grow_model) + 64];
    rg_error err;
    uint64_t step;
    int epoch;

    snprintf(text, sizeof(text), "%.*s  m: sum(v0)\n",
             (int)(strstr(grow_model, "  m:") - grow_model), grow_model);
    epoch = train_until_failure(text, 1, &err, &step);
    ck_assert_int_eq(epoch, 2);
    expect_error("divergence", err.code, &err, RG_STATUS_NUMERIC,
                 "tensor 'W' has Inf at element 0 after step 23; training "
                 "diverged (try a smaller learning rate)");
    ck_assert_int_eq(step, 24);
}
END_TEST

/* Through the program: the checkpoint of the last good epoch survives. */
START_TEST(divergence_keeps_last_checkpoint)
{
    const char *args[] = {"train", "@DIR/grow.yaml", "--data",
                          "@DIR/grow.idx", "--epochs", "3", "--set",
                          "lr=1000", "--save", "@DIR/grow.npz", NULL};
    char path[512];
    char err_path[512];
    char *text;
    size_t n;
    float w[3];
    rg_runtime *rt = NULL;
    rg_checkpoint_meta meta = {0};
    rg_error err;

    write_file(tmp_path("grow.yaml", path, sizeof(path)), grow_model,
               strlen(grow_model));
    write_idx(tmp_path("grow.idx", path, sizeof(path)), 24, 3);
    tmp_path("stderr.txt", err_path, sizeof(err_path));
    ck_assert_int_eq(run_program(args, err_path), 1);
    text = (char *)read_whole(err_path, &n);
    text[n] = '\0';
    ck_assert_msg(strstr(text, "metric 'm' is NaN at step 13, and tensor 'W' "
                               "has Inf at element 0") != NULL,
                  "stderr: %s", text);
    ck_assert_msg(strstr(text, "grow.npz still contains the checkpoint of "
                               "epoch 1, saved before training diverged")
                      != NULL, "stderr: %s", text);
    free(text);

    /* The checkpoint loads and holds epoch 1's finite W = 1000^12. */
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_checkpoint_load(rt, tmp_path("grow.npz", path,
                                                     sizeof(path)),
                                        &meta, &err), RG_STATUS_OK);
    ck_assert_int_eq(meta.epoch, 1);
    ck_assert_int_eq(meta.step, 12);
    ck_assert_int_eq(rg_runtime_read(rt, "W", w, 3, &err), RG_STATUS_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq_tol(w[i], 1e36f, 1e31f);
    }
    rg_checkpoint_meta_clear(&meta);
    rg_runtime_free(rt);
}
END_TEST

/* --- checkpoints ---------------------------------------------------------- */

static const float w_values[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* A runtime holding W [3, 4] = w_values and bh [4] = 0.5. */
static rg_runtime *make_runtime(void)
{
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    const rg_shape w = {2, {3, 4}};
    const rg_shape bh = {1, {4, 0}};
    const float half[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    rg_runtime *rt = NULL;
    rg_error err;

    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_add_tensor(rt, "W", w, zeros, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_add_tensor(rt, "bh", bh, zeros, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_write(rt, "W", w_values, 12, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_write(rt, "bh", half, 4, &err),
                     RG_STATUS_OK);
    return rt;
}

/* Writes a .npz with one member `name` of `dtype` and `shape`. */
static void write_npz_member(const char *path, const char *name,
                             npz_dtype dtype, int rank, const int64_t *shape)
{
    static const double zeros[64];
    FILE *fp = fopen(path, "wb");
    npz_writer *w = NULL;
    rg_error err;

    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(npz_writer_new(fp, path, &w, &err), RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, name, dtype, rank, shape, zeros, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_finish(w, &err), RG_STATUS_OK);
    npz_writer_free(w);
    ck_assert_int_eq(fclose(fp), 0);
}

typedef enum ckpt_damage {
    CKPT_EMPTY,
    CKPT_TEXT,
    CKPT_MISSING,
    CKPT_TRUNCATED_HALF,
    CKPT_TRUNCATED_END,
    CKPT_FLIPPED_VALUE,
    CKPT_OTHER_MODEL,
    CKPT_RANK_3,
    CKPT_INTEGER_TENSOR,
    CKPT_NEWER_FORMAT,
    CKPT_NOT_NPY_MEMBER,
} ckpt_damage;

typedef struct ckpt_case {
    const char *name;
    ckpt_damage damage;
    rg_status status;
    const char *fragment;
} ckpt_case;

static const ckpt_case ckpt_cases[] = {
    {"empty file", CKPT_EMPTY, RG_STATUS_DATA,
     "not a .npz (zip) archive: the file is 0 bytes"},
    {"text file", CKPT_TEXT, RG_STATUS_DATA,
     "not a .npz (zip) archive: the file is 11 bytes"},
    {"missing file", CKPT_MISSING, RG_STATUS_NOT_FOUND,
     "cannot open: No such file or directory"},
    {"truncated to half", CKPT_TRUNCATED_HALF, RG_STATUS_DATA,
     "not a .npz (zip) archive, or truncated"},
    {"last byte cut", CKPT_TRUNCATED_END, RG_STATUS_DATA, "truncated"},
    {"flipped value byte", CKPT_FLIPPED_VALUE, RG_STATUS_DATA,
     "CRC-32 mismatch"},
    {"other model's shapes", CKPT_OTHER_MODEL, RG_STATUS_SHAPE,
     "tensor 'W' has shape [4, 3] in the file but [3, 4] in the runtime"},
    {"rank 3 tensor", CKPT_RANK_3, RG_STATUS_SHAPE,
     "has rank 3; tensors have rank 0 to 2"},
    {"integer tensor", CKPT_INTEGER_TENSOR, RG_STATUS_DATA,
     "tensors must be '<f4' or '<f8'"},
    {"newer layout version", CKPT_NEWER_FORMAT, RG_STATUS_UNSUPPORTED,
     "checkpoint layout version 2 is not supported"},
    {"member that is not .npy", CKPT_NOT_NPY_MEMBER, RG_STATUS_DATA,
     "is not a .npy array"},
};

enum { N_CKPT_CASES = sizeof(ckpt_cases) / sizeof(ckpt_cases[0]) };

/* Writes the damaged checkpoint of row `damage` at `path`. */
static void make_damaged_checkpoint(ckpt_damage damage, const char *path)
{
    const rg_checkpoint_meta meta = {.model_source = "model: cat\n",
                                     .seed = 1, .step = 10, .epoch = 1};
    const int64_t shape3[3] = {2, 2, 2};
    const int64_t shape43[2] = {4, 3};
    const int64_t scalar_shape[1] = {1};
    unsigned char *bytes;
    size_t n;
    rg_runtime *rt;
    rg_error err;

    switch (damage) {
    case CKPT_EMPTY:
        write_file(path, "", 0);
        return;
    case CKPT_TEXT:
        write_file(path, "model: cat\n", 11);
        return;
    case CKPT_MISSING:
        unlink(path);
        return;
    case CKPT_OTHER_MODEL:
        write_npz_member(path, "W.npy", NPZ_DTYPE_F32, 2, shape43);
        return;
    case CKPT_RANK_3:
        write_npz_member(path, "W.npy", NPZ_DTYPE_F32, 3, shape3);
        return;
    case CKPT_INTEGER_TENSOR:
        write_npz_member(path, "W.npy", NPZ_DTYPE_I64, 1, scalar_shape);
        return;
    case CKPT_NEWER_FORMAT: {
        FILE *fp = fopen(path, "wb");
        const int64_t version = 2;
        npz_writer *w = NULL;

        ck_assert_ptr_nonnull(fp);
        ck_assert_int_eq(npz_writer_new(fp, path, &w, &err), RG_STATUS_OK);
        ck_assert_int_eq(npz_writer_add(w, "__format__.npy", NPZ_DTYPE_I64, 0,
                                        NULL, &version, &err), RG_STATUS_OK);
        ck_assert_int_eq(npz_writer_finish(w, &err), RG_STATUS_OK);
        npz_writer_free(w);
        ck_assert_int_eq(fclose(fp), 0);
        return;
    }
    case CKPT_NOT_NPY_MEMBER:
        write_npz_member(path, "notes.txt", NPZ_DTYPE_U8, 1, scalar_shape);
        return;
    default:
        break;
    }

    /* The other rows damage a valid checkpoint. */
    rt = make_runtime();
    ck_assert_int_eq(rg_checkpoint_save(rt, path, &meta, &err), RG_STATUS_OK);
    rg_runtime_free(rt);
    bytes = read_whole(path, &n);
    if (damage == CKPT_TRUNCATED_HALF) {
        n /= 2;
    } else if (damage == CKPT_TRUNCATED_END) {
        n -= 1;
    } else if (damage == CKPT_FLIPPED_VALUE) {
        /* The first value of W, 1.0f, is 00 00 80 3f in the file. */
        static const unsigned char one[4] = {0x00, 0x00, 0x80, 0x3f};
        unsigned char *hit = memmem(bytes, n, one, sizeof(one));
        ck_assert_ptr_nonnull(hit);
        hit[3] ^= 0x01;
    }
    write_file(path, bytes, n);
    free(bytes);
}

START_TEST(checkpoint_rejected)
{
    const ckpt_case *c = &ckpt_cases[_i];
    char path[512];
    float w[12];
    rg_runtime *rt;
    rg_checkpoint_meta meta = {0};
    rg_error err;
    rg_status st;

    make_damaged_checkpoint(c->damage, tmp_path("bad.npz", path,
                                                sizeof(path)));
    rt = make_runtime();
    st = rg_checkpoint_load(rt, path, &meta, &err);
    expect_error(c->name, st, &err, c->status, c->fragment);
    ck_assert_msg(strstr(err.message, path) != NULL,
                  "%s: message \"%s\" does not name the file", c->name,
                  err.message);

    /* A failed load leaves the runtime as it was. */
    ck_assert_int_eq(rg_runtime_n_tensors(rt), 2);
    ck_assert_int_eq(rg_runtime_read(rt, "W", w, 12, &err), RG_STATUS_OK);
    for (int i = 0; i < 12; i++) {
        ck_assert_float_eq(w[i], w_values[i]);
    }
    ck_assert_ptr_null(meta.model_source);
    rg_runtime_free(rt);
}
END_TEST

/* --- command lines -------------------------------------------------------- */

typedef struct cli_case {
    const char *name;
    const char *args[10]; /* after the program; "@MODEL", "@DATA" expand */
    int exit_status;
    const char *fragment;
} cli_case;

static const cli_case cli_cases[] = {
    {"no command", {NULL}, 2, "Usage: rbm-graph COMMAND"},
    {"unknown command", {"trian", NULL}, 2,
     "unknown command 'trian'\nTry 'rbm-graph --help'."},
    {"unknown option", {"train", "@MODEL", "--epocs", "3", NULL}, 2,
     "unknown option '--epocs'\nTry 'rbm-graph train --help'."},
    {"unknown short option", {"check", "-x", "@MODEL", NULL}, 2,
     "unknown option '-x'"},
    {"missing value", {"train", "@MODEL", "--epochs", NULL}, 2,
     "option '--epochs' needs a value"},
    {"epochs zero", {"train", "@MODEL", "--epochs", "0", NULL}, 2,
     "--epochs needs an integer from 1 to 1000000, got '0'"},
    {"epochs not a number", {"train", "@MODEL", "--epochs", "abc", NULL}, 2,
     "--epochs needs an integer from 1 to 1000000, got 'abc'"},
    {"seed negative", {"train", "@MODEL", "--seed", "-1", NULL}, 2,
     "--seed needs a non-negative integer, got '-1'"},
    {"set without equals", {"train", "@MODEL", "--set", "lr", NULL}, 2,
     "--set needs NAME=VALUE, got 'lr'"},
    {"set unknown name", {"check", "@MODEL", "--set", "hiden=5", NULL}, 2,
     "--set hiden=5: model 'small' has no dim or hyper named 'hiden'; did "
     "you mean 'hidden'?"},
    {"set out of range", {"train", "@MODEL", "--set", "visible=4000000000",
                          NULL}, 2,
     "--set visible=4000000000: invalid value for dim 'visible'"},
    {"set not a number", {"plan", "@MODEL", "--set", "lr=fast", NULL}, 2,
     "--set lr=fast: invalid value for hyper 'lr': expected a finite number"},
    {"two model files", {"check", "@MODEL", "@MODEL", NULL}, 2,
     "check needs exactly one MODEL file"},
    {"missing model file", {"check", "@DIR/none.yaml", NULL}, 1,
     "none.yaml: cannot open model file: No such file or directory"},
    {"model with an error", {"check", "@DIR/bad.yaml", NULL}, 1,
     "bad.yaml:2:14: unknown name 'x'"},
    {"missing data file",
     {"train", "@MODEL", "--data", "@DIR/none.idx", "--epochs", "1", NULL}, 1,
     "none.idx: cannot open: No such file or directory"},
    {"data of the wrong size",
     {"train", "@MODEL", "--data", "@DIR/wide.idx", "--epochs", "1", NULL}, 1,
     "the data has 9 values per example but input 'v0' expects 6"},
    {"unknown device",
     {"train", "@MODEL", "--data", "@DATA", "--device", "tpu", NULL}, 1,
     "device 'tpu'"},
    {"unwritable log",
     {"train", "@MODEL", "--data", "@DATA", "--log", "@DIR/no/log.csv", NULL},
     1, "cannot open log file"},
    {"save over the model",
     {"train", "@MODEL", "--data", "@DATA", "--save", "@MODEL", NULL}, 2,
     "is the model file; choose another path"},
    {"save over the data",
     {"train", "@MODEL", "--data", "@DATA", "--save", "@DATA", NULL}, 2,
     "is the --data file; choose another path"},
    {"save over a device node",
     {"train", "@MODEL", "--data", "@DATA", "--save", "/dev/null", NULL}, 2,
     "exists and is not a regular file"},
    {"save into a missing folder",
     {"train", "@MODEL", "--data", "@DATA", "--save", "@DIR/no/c.npz",
      NULL}, 1, "does not exist; create it first"},
    {"log to a full device",
     {"train", "@MODEL", "--data", "@DATA", "--log", "/dev/full", NULL}, 1,
     "writing the log failed"},
};

enum { N_CLI_CASES = sizeof(cli_cases) / sizeof(cli_cases[0]) };

static char *program_path(char *buf, size_t size)
{
    const char *root = getenv("RG_BUILD_ROOT");

    snprintf(buf, size, "%s/tools/rbm-graph", root != NULL ? root : "build");
    return buf;
}

/* Expands "@MODEL", "@DATA" and a leading "@DIR" in `arg`. */
static char *expand_arg(const char *arg)
{
    char *out = malloc(1024);

    ck_assert_ptr_nonnull(out);
    if (strcmp(arg, "@MODEL") == 0) {
        tmp_path("small.yaml", out, 1024);
    } else if (strcmp(arg, "@DATA") == 0) {
        tmp_path("small.idx", out, 1024);
    } else if (strncmp(arg, "@DIR", 4) == 0) {
        snprintf(out, 1024, "%s%s", g_dir, arg + 4);
    } else {
        snprintf(out, 1024, "%s", arg);
    }
    return out;
}

/* Runs the program with `args`; stores its stderr in `err_path`. */
static int run_program(const char *const *args, const char *err_path)
{
    char program[1024];
    char *argv[12];
    int n = 0;
    int status;
    pid_t pid;

    argv[n++] = program_path(program, sizeof(program));
    for (int i = 0; args[i] != NULL; i++) {
        argv[n++] = expand_arg(args[i]);
    }
    argv[n] = NULL;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int err_fd = open(err_path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        int null_fd = open("/dev/null", O_WRONLY);
        if (err_fd < 0 || null_fd < 0) {
            _exit(126);
        }
        dup2(null_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    for (int i = 1; i < n; i++) {
        free(argv[i]);
    }
    ck_assert_msg(WIFEXITED(status), "%s was killed by signal %d", program,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

/* Writes the files the command-line rows name. */
static void write_cli_files(void)
{
    static const char bad[] = "model: bad\noutputs: {o: x + 1}\n";
    char path[512];

    write_file(tmp_path("small.yaml", path, sizeof(path)), small_rbm,
               strlen(small_rbm));
    write_file(tmp_path("bad.yaml", path, sizeof(path)), bad, strlen(bad));
    write_idx(tmp_path("small.idx", path, sizeof(path)), 8, 6);
    write_idx(tmp_path("wide.idx", path, sizeof(path)), 8, 9);
}

START_TEST(command_line_rejected)
{
    const cli_case *c = &cli_cases[_i];
    char err_path[512];
    char *text;
    size_t n;
    int code;

    write_cli_files();
    tmp_path("stderr.txt", err_path, sizeof(err_path));
    code = run_program(c->args, err_path);
    text = (char *)read_whole(err_path, &n);
    text[n] = '\0';
    ck_assert_msg(code == c->exit_status, "%s: exit status %d, expected %d; "
                  "stderr: %s", c->name, code, c->exit_status, text);
    ck_assert_msg(strstr(text, c->fragment) != NULL,
                  "%s: stderr \"%s\" lacks \"%s\"", c->name, text,
                  c->fragment);
    ck_assert_msg(strncmp(text, "rbm-graph: ", 11) == 0
                      || strncmp(text, "Usage: ", 7) == 0,
                  "%s: stderr does not start with the program name: %s",
                  c->name, text);
    free(text);
}
END_TEST

/* --- suite ---------------------------------------------------------------- */

static Suite *catalogue_suite(void)
{
    Suite *s = suite_create("catalogue");
    TCase *tc_model = tcase_create("model files");
    TCase *tc_data = tcase_create("data files");
    TCase *tc_ckpt = tcase_create("checkpoints");
    TCase *tc_cli = tcase_create("command lines");
    TCase *tc_diverge = tcase_create("diverging runs");
    TCase *tc_limits = tcase_create("sizes beyond memory");

    tcase_add_loop_test(tc_model, model_file_rejected, 0, N_MODEL_CASES);
    tcase_add_test(tc_model, model_nul_byte_rejected);
    tcase_add_test(tc_model, model_path_rejected);
    tcase_add_loop_test(tc_model, override_rejected, 0, N_SET_CASES);
    suite_add_tcase(s, tc_model);

    tcase_add_loop_test(tc_data, data_file_rejected, 0, N_DATA_CASES);
    tcase_add_test(tc_data, data_gzip_damage_rejected);
    tcase_add_loop_test(tc_data, data_not_fitting_rejected, 0, N_FIT_CASES);
    suite_add_tcase(s, tc_data);

    tcase_add_loop_test(tc_ckpt, checkpoint_rejected, 0, N_CKPT_CASES);
    suite_add_tcase(s, tc_ckpt);

    tcase_add_test(tc_diverge, divergence_names_metric_and_tensor);
    tcase_add_test(tc_diverge, divergence_within_metric_interval);
    tcase_add_test(tc_diverge, divergence_found_at_epoch_end);
    tcase_add_test(tc_diverge, divergence_keeps_last_checkpoint);
    suite_add_tcase(s, tc_diverge);

    tcase_add_test(tc_limits, arena_too_large_rejected);
    tcase_add_test(tc_limits, arena_too_large_cli);
    suite_add_tcase(s, tc_limits);

    tcase_add_loop_test(tc_cli, command_line_rejected, 0, N_CLI_CASES);
    suite_add_tcase(s, tc_cli);
    return s;
}

static void remove_tmp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    struct stat st;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tmp_dir(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    SRunner *sr;
    int n_failed;

    snprintf(g_dir, sizeof(g_dir), "%s/rg-test-catalogue-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    sr = srunner_create(catalogue_suite());
    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmp_dir(g_dir);
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
