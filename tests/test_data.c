/*
 * Tests of the data loaders (src/exec/data.c): IDX (plain and gzip),
 * NumPy .npy and CSV files written by the tests into a temporary folder,
 * malformed files of each format, gather scaling, binarization and the
 * epoch shuffle. Loads Fashion-MNIST too when its Debian package is
 * installed.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rbmgraph/data.h"

#define FASHION_TRAIN \
    "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define FASHION_LABELS \
    "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"

/* Temporary folder for the files of every test, removed by main. */
static char g_dir[256];

static const char *tmp_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");

    ck_assert_msg(fp != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

static void write_gz(const char *path, const void *bytes, size_t n)
{
    gzFile gz = gzopen(path, "wb");

    ck_assert_msg(gz != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(gz, bytes, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(gz), Z_OK);
}

static void *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);

    ck_assert_ptr_nonnull(fp);
    ck_assert_ptr_nonnull(buf);
    *n = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

/*
 * Builds an IDX file of unsigned bytes: magic, big-endian dimensions,
 * then `n_data` bytes of `data`. Returns the byte count written to `out`.
 */
static size_t make_idx(unsigned char *out, int rank, const uint32_t *dims,
                       const unsigned char *data, size_t n_data)
{
    size_t n = 0;

    out[n++] = 0;
    out[n++] = 0;
    out[n++] = 0x08;
    out[n++] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) {
        out[n++] = (unsigned char)(dims[i] >> 24);
        out[n++] = (unsigned char)(dims[i] >> 16);
        out[n++] = (unsigned char)(dims[i] >> 8);
        out[n++] = (unsigned char)dims[i];
    }
    memcpy(out + n, data, n_data);
    return n + n_data;
}

/*
 * Builds a .npy file with header dictionary `dict` (version `major`.0),
 * padded to 64 bytes, then `n_data` bytes of `data`.
 */
static size_t make_npy(unsigned char *out, int major, const char *dict,
                       const void *data, size_t n_data)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t text = strlen(dict);
    size_t total = (pre + text + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;

    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    if (major == 1) {
        out[8] = (unsigned char)(hlen & 0xff);
        out[9] = (unsigned char)(hlen >> 8);
    } else {
        out[8] = (unsigned char)(hlen & 0xff);
        out[9] = (unsigned char)(hlen >> 8);
        out[10] = 0;
        out[11] = 0;
    }
    memcpy(out + pre, dict, text);
    memset(out + pre + text, ' ', total - pre - text - 1);
    out[total - 1] = '\n';
    memcpy(out + total, data, n_data);
    return total + n_data;
}

static rg_dataset *load_ok(const char *path, const rg_data_options *opt)
{
    rg_dataset *ds = NULL;
    rg_error err;
    rg_status st = rg_dataset_load(path, opt, &ds, &err);

    ck_assert_msg(st == RG_STATUS_OK, "%s: status %s: %s", path,
                  rg_status_str(st), err.message);
    ck_assert_ptr_nonnull(ds);
    return ds;
}

static void gather_all(const rg_dataset *ds, float *dst)
{
    int64_t rows[64];
    int64_t n = rg_dataset_n_rows(ds);

    ck_assert_int_le(n, 64);
    for (int64_t i = 0; i < n; i++) {
        rows[i] = i;
    }
    rg_dataset_gather(ds, rows, n, dst);
}

/* Bytes 0..11 as a 3 x 2 x 2 IDX array. */
static size_t make_small_idx(unsigned char *out)
{
    static const uint32_t dims[3] = {3, 2, 2};
    unsigned char data[12];

    for (int i = 0; i < 12; i++) {
        data[i] = (unsigned char)(i * 20);
    }
    return make_idx(out, 3, dims, data, sizeof(data));
}

static void check_small_idx(const char *path)
{
    rg_dataset *ds = load_ok(path, NULL);
    int64_t rows[2] = {2, 0};
    float got[8];

    ck_assert_int_eq(rg_dataset_n_rows(ds), 3);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 4);
    rg_dataset_gather(ds, rows, 2, got);
    for (int c = 0; c < 4; c++) {
        ck_assert_float_eq(got[c], (float)((8 + c) * 20) * RG_BYTE_SCALE);
        ck_assert_float_eq(got[4 + c], (float)(c * 20) * RG_BYTE_SCALE);
    }
    rg_dataset_free(ds);
}

START_TEST(idx_plain_loads)
{
    unsigned char buf[256];
    char path[512];
    size_t n = make_small_idx(buf);

    write_file(tmp_path("plain.idx", path, sizeof(path)), buf, n);
    check_small_idx(path);
}
END_TEST

START_TEST(idx_gzip_loads)
{
    unsigned char buf[256];
    char path[512];
    size_t n = make_small_idx(buf);

    write_gz(tmp_path("small.idx.gz", path, sizeof(path)), buf, n);
    check_small_idx(path);
}
END_TEST

START_TEST(idx_rank1_is_one_column)
{
    static const uint32_t dims[1] = {5};
    static const unsigned char labels[5] = {9, 0, 0, 3, 255};
    unsigned char buf[64];
    char path[512];
    size_t n = make_idx(buf, 1, dims, labels, 5);
    rg_dataset *ds;
    float got[5];

    write_file(tmp_path("labels.idx", path, sizeof(path)), buf, n);
    ds = load_ok(path, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 5);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 1);
    gather_all(ds, got);
    ck_assert_float_eq(got[0], 9.0f * RG_BYTE_SCALE);
    ck_assert_float_eq(got[4], 1.0f);
    rg_dataset_free(ds);
}
END_TEST

/* Every byte value gathers to b times RG_BYTE_SCALE, as on a device. */
START_TEST(gather_scaling_exact)
{
    static const uint32_t dims[2] = {1, 256};
    unsigned char data[256];
    unsigned char buf[300];
    char path[512];
    rg_dataset *ds;
    float got[256];
    int64_t row = 0;

    for (int b = 0; b < 256; b++) {
        data[b] = (unsigned char)b;
    }
    write_file(tmp_path("all_bytes.idx", path, sizeof(path)), buf,
               make_idx(buf, 2, dims, data, 256));
    ds = load_ok(path, NULL);
    rg_dataset_gather(ds, &row, 1, got);
    for (int b = 0; b < 256; b++) {
        float expected = (float)b * RG_BYTE_SCALE;
        ck_assert_msg(got[b] == expected, "byte %d: got %.9g, expected %.9g",
                      b, (double)got[b], (double)expected);
    }
    rg_dataset_free(ds);
}
END_TEST

START_TEST(binarize_bytes_and_floats)
{
    static const uint32_t dims[2] = {1, 4};
    static const unsigned char data[4] = {0, 127, 128, 255};
    static const float floats[3] = {0.2f, 0.5f, 0.7f};
    unsigned char buf[256];
    char path[512];
    rg_data_options opt = rg_data_options_default();
    rg_dataset *ds;
    float got[4];

    opt.binarize = true;
    write_file(tmp_path("bin.idx", path, sizeof(path)), buf,
               make_idx(buf, 2, dims, data, 4));
    ds = load_ok(path, &opt);
    gather_all(ds, got);
    /* 127/255 < 0.5 < 128/255 */
    ck_assert_float_eq(got[0], 0.0f);
    ck_assert_float_eq(got[1], 0.0f);
    ck_assert_float_eq(got[2], 1.0f);
    ck_assert_float_eq(got[3], 1.0f);
    rg_dataset_free(ds);

    write_file(tmp_path("bin.npy", path, sizeof(path)), buf,
               make_npy(buf, 1,
                        "{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (1, 3), }",
                        floats, sizeof(floats)));
    ds = load_ok(path, &opt);
    gather_all(ds, got);
    /* The comparison is strict: 0.5 itself maps to 0. */
    ck_assert_float_eq(got[0], 0.0f);
    ck_assert_float_eq(got[1], 0.0f);
    ck_assert_float_eq(got[2], 1.0f);
    rg_dataset_free(ds);
}
END_TEST

START_TEST(max_rows_keeps_first_rows)
{
    unsigned char buf[256];
    char path[512];
    rg_data_options opt = rg_data_options_default();
    rg_dataset *ds;
    float got[8];

    opt.max_rows = 2;
    write_file(tmp_path("max.idx", path, sizeof(path)), buf,
               make_small_idx(buf));
    ds = load_ok(path, &opt);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 2);
    gather_all(ds, got);
    ck_assert_float_eq(got[7], 140.0f * RG_BYTE_SCALE);
    rg_dataset_free(ds);

    write_file(tmp_path("max.csv", path, sizeof(path)), "1,2\n3,4\n5,6\n",
               12);
    ds = load_ok(path, &opt);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 2);
    gather_all(ds, got);
    ck_assert_float_eq(got[3], 4.0f);
    rg_dataset_free(ds);
}
END_TEST

START_TEST(invalid_options_rejected)
{
    rg_data_options opt = rg_data_options_default();
    rg_dataset *ds = NULL;
    rg_error err;

    opt.max_rows = -1;
    ck_assert_int_eq(rg_dataset_load("/nonexistent", &opt, &ds, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(err.message, "max_rows is -1"));
}
END_TEST

START_TEST(npy_u8_loads)
{
    unsigned char data[6] = {0, 51, 102, 153, 204, 255};
    unsigned char buf[256];
    char path[512];
    rg_dataset *ds;
    float got[6];

    write_file(tmp_path("u8.npy", path, sizeof(path)), buf,
               make_npy(buf, 1,
                        "{'descr': '|u1', 'fortran_order': False, "
                        "'shape': (2, 3), }",
                        data, sizeof(data)));
    ds = load_ok(path, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 2);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 3);
    gather_all(ds, got);
    for (int i = 0; i < 6; i++) {
        ck_assert_float_eq(got[i], (float)data[i] * RG_BYTE_SCALE);
    }
    rg_dataset_free(ds);
}
END_TEST

START_TEST(npy_f32_rank3_loads)
{
    float data[12];
    unsigned char buf[256];
    char path[512];
    rg_dataset *ds;
    float got[12];

    for (int i = 0; i < 12; i++) {
        data[i] = -1.5f + 0.25f * (float)i;
    }
    write_file(tmp_path("f32.npy", path, sizeof(path)), buf,
               make_npy(buf, 1,
                        "{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (2, 2, 3), }",
                        data, sizeof(data)));
    ds = load_ok(path, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 2);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 6);
    gather_all(ds, got);
    for (int i = 0; i < 12; i++) {
        ck_assert_float_eq(got[i], data[i]);
    }
    rg_dataset_free(ds);
}
END_TEST

START_TEST(npy_v2_f64_loads)
{
    double data[3] = {0.1, -2.0, 1e30};
    unsigned char buf[256];
    char path[512];
    rg_dataset *ds;
    float got[3];

    write_file(tmp_path("f64.npy", path, sizeof(path)), buf,
               make_npy(buf, 2,
                        "{'descr': '<f8', 'fortran_order': False, "
                        "'shape': (3,), }",
                        data, sizeof(data)));
    ds = load_ok(path, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 3);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 1);
    gather_all(ds, got);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(got[i], (float)data[i]);
    }
    rg_dataset_free(ds);
}
END_TEST

START_TEST(csv_header_crlf_blank_lines)
{
    static const char text[] =
        "a, b ,c\r\n"
        "\r\n"
        "0.1, -2 , 3e2\r\n"
        "  4,5,6.5\n"
        "\n";
    char path[512];
    rg_dataset *ds;
    float got[6];

    write_file(tmp_path("good.csv", path, sizeof(path)), text,
               sizeof(text) - 1);
    ds = load_ok(path, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 2);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 3);
    gather_all(ds, got);
    ck_assert_float_eq(got[0], 0.1f);
    ck_assert_float_eq(got[1], -2.0f);
    ck_assert_float_eq(got[2], 300.0f);
    ck_assert_float_eq(got[3], 4.0f);
    ck_assert_float_eq(got[5], 6.5f);
    rg_dataset_free(ds);
}
END_TEST

START_TEST(csv_without_header_or_newline)
{
    static const char text[] = "1,2\n3,4";
    char path[512];
    rg_dataset *ds;
    float got[4];

    write_gz(tmp_path("plain.csv.gz", path, sizeof(path)), text,
             sizeof(text) - 1);
    ds = load_ok(path, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 2);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 2);
    gather_all(ds, got);
    ck_assert_float_eq(got[0], 1.0f);
    ck_assert_float_eq(got[3], 4.0f);
    rg_dataset_free(ds);
}
END_TEST

/* A malformed file: its bytes, the status and a fragment of the message. */
typedef struct bad_file {
    const char *name;
    const char *bytes;
    size_t n_bytes;
    rg_status status;
    const char *fragment;
} bad_file;

#define BYTES(s) s, sizeof(s) - 1
#define NPY_PRE(len) "\x93NUMPY\x01\x00" len

static const bad_file bad_files[] = {
    {"empty.idx", BYTES(""), RG_STATUS_DATA, "the file is empty"},
    {"type.idx", BYTES("\x00\x00\x42\x01\x00\x00\x00\x01\x07"),
     RG_STATUS_DATA, "type 0x42 is not an IDX element type"},
    {"float.idx", BYTES("\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00"),
     RG_STATUS_UNSUPPORTED, "0x0d (float32) is not supported"},
    {"rank0.idx", BYTES("\x00\x00\x08\x00\x07"), RG_STATUS_DATA,
     "IDX rank 0 is invalid"},
    {"rank5.idx", BYTES("\x00\x00\x08\x05\x00\x00\x00\x01"), RG_STATUS_DATA,
     "IDX rank 5 is invalid"},
    {"short_header.idx", BYTES("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00"),
     RG_STATUS_DATA, "ends inside the IDX header"},
    {"truncated.idx",
     BYTES("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02"
           "\x01\x02\x03\x04\x05"),
     RG_STATUS_DATA,
     "truncated: the header gives 3 x 2 x 2 (12 bytes of data) but the "
     "file contains only 5"},
    {"trailing.idx", BYTES("\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02\x03"),
     RG_STATUS_DATA, "the file continues after the 2 bytes"},
    {"zero_rows.idx", BYTES("\x00\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00\x04"),
     RG_STATUS_DATA, "0 x 4, which has no examples"},
    {"version.npy", BYTES("\x93NUMPY\x09\x00\x10\x00{}"),
     RG_STATUS_UNSUPPORTED, ".npy version 9.0 is not supported"},
    {"no_shape.npy",
     BYTES(NPY_PRE("\x2b\x00") "{'descr': '<f4', 'fortran_order': False}  \n"),
     RG_STATUS_DATA, "invalid .npy header: expected all of the keys"},
    {"garbled.npy",
     BYTES(NPY_PRE("\x1f\x00") "{'descr' '<f4', 'shape': (1,)}\n"),
     RG_STATUS_DATA, "expected ':' after a key at offset 9"},
    {"short_header.npy", BYTES(NPY_PRE("\x40\x00") "{'descr': "),
     RG_STATUS_DATA, "ends inside the .npy header (10 of 64 bytes"},
    {"fortran.npy",
     BYTES(NPY_PRE("\x37\x00") "{'descr': '<f4', 'fortran_order': True, "
                               "'shape': (1,)}\n"),
     RG_STATUS_UNSUPPORTED, "Fortran-order arrays are not supported"},
    {"int32.npy",
     BYTES(NPY_PRE("\x38\x00") "{'descr': '<i4', 'fortran_order': False, "
                               "'shape': (1,)}\n"),
     RG_STATUS_UNSUPPORTED, "dtype '<i4' is not supported"},
    {"scalar.npy",
     BYTES(NPY_PRE("\x36\x00") "{'descr': '<f4', 'fortran_order': False, "
                               "'shape': ()}\n\x00\x00\x80\x3f"),
     RG_STATUS_DATA, "the array is a scalar"},
    {"truncated.npy",
     BYTES(NPY_PRE("\x3a\x00") "{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (2, 2)}\n\x00\x00\x80\x3f"),
     RG_STATUS_DATA,
     "truncated: the header gives 2 x 2 (16 bytes of data) but the file "
     "contains only 4"},
    {"nan.npy",
     BYTES(NPY_PRE("\x38\x00") "{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (1,)}\n\x00\x00\xc0\x7f"),
     RG_STATUS_DATA, "row 0, column 0 is nan"},
    {"word.csv", BYTES("a,b\n1,2\n3,x7\n"), RG_STATUS_DATA,
     ":3: column 2: 'x7' is not a number"},
    {"ragged.csv", BYTES("1,2,3\n4,5\n"), RG_STATUS_DATA,
     ":2: 2 columns, but line 1 has 3"},
    {"empty_field.csv", BYTES("1,,3\n"), RG_STATUS_DATA,
     ":1: column 2: '' is empty"},
    {"trailing_comma.csv", BYTES("1,2,\n"), RG_STATUS_DATA,
     ":1: column 3: '' is empty"},
    {"header_only.csv", BYTES("x,y\n"), RG_STATUS_DATA, "no data rows"},
    {"inf.csv", BYTES("1,inf\n"), RG_STATUS_DATA,
     "'inf' is not a finite float32 number"},
    {"huge.csv", BYTES("1,1e39\n"), RG_STATUS_DATA,
     "'1e39' is not a finite float32 number"},
    {"binary.bin", BYTES("\x01\x00\x02"), RG_STATUS_DATA,
     "not an IDX, .npy or CSV file"},
};

#define N_BAD_FILES ((int)(sizeof(bad_files) / sizeof(bad_files[0])))

static void expect_load_error(const char *path, rg_status status,
                              const char *fragment)
{
    rg_dataset *ds = NULL;
    rg_error err;
    rg_status st = rg_dataset_load(path, NULL, &ds, &err);

    ck_assert_msg(st == status, "%s: status %s, expected %s: %s", path,
                  rg_status_str(st), rg_status_str(status), err.message);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(err.message, fragment) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", path, err.message,
                  fragment);
    ck_assert_msg(strstr(err.message, path) != NULL,
                  "message \"%s\" does not name the file", err.message);
}

START_TEST(bad_file_rejected)
{
    const bad_file *row = &bad_files[_i];
    char path[512];

    write_file(tmp_path(row->name, path, sizeof(path)), row->bytes,
               row->n_bytes);
    expect_load_error(path, row->status, row->fragment);
}
END_TEST

START_TEST(bad_file_gzipped_rejected)
{
    const bad_file *row = &bad_files[_i];
    char name[128];
    char path[512];

    snprintf(name, sizeof(name), "%s.gz", row->name);
    write_gz(tmp_path(name, path, sizeof(path)), row->bytes, row->n_bytes);
    expect_load_error(path, row->status, row->fragment);
}
END_TEST

START_TEST(missing_file_not_found)
{
    char path[512];
    rg_dataset *ds = NULL;
    rg_error err;

    tmp_path("does-not-exist.idx", path, sizeof(path));
    ck_assert_int_eq(rg_dataset_load(path, NULL, &ds, &err),
                     RG_STATUS_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "does-not-exist.idx"));
}
END_TEST

/* Writes a gzip file of a good IDX array with 4000 data bytes. */
static unsigned char *write_big_gz(const char *path, size_t *n_gz)
{
    static const uint32_t dims[2] = {40, 100};
    unsigned char data[4000];
    unsigned char *buf = malloc(4100);

    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 4000; i++) {
        data[i] = (unsigned char)((i * 7919) % 251);
    }
    write_gz(path, buf, make_idx(buf, 2, dims, data, sizeof(data)));
    free(buf);
    return read_whole(path, n_gz);
}

START_TEST(damaged_gzip_rejected)
{
    char path[512];
    size_t n = 0;
    unsigned char *gz;

    tmp_path("damaged.idx.gz", path, sizeof(path));
    gz = write_big_gz(path, &n);
    ck_assert_uint_gt(n, 100);
    for (size_t i = 20; i < 40; i++) {
        gz[i] ^= 0x5a;
    }
    write_file(path, gz, n);
    free(gz);
    expect_load_error(path, RG_STATUS_DATA, "gzip");
}
END_TEST

START_TEST(truncated_gzip_rejected)
{
    char path[512];
    size_t n = 0;
    unsigned char *gz;

    tmp_path("cut.idx.gz", path, sizeof(path));
    gz = write_big_gz(path, &n);
    write_file(path, gz, n - 6); /* inside the CRC and size trailer */
    free(gz);
    expect_load_error(path, RG_STATUS_DATA, "truncated gzip stream");

    gz = write_big_gz(path, &n);
    write_file(path, gz, n / 2);
    free(gz);
    expect_load_error(path, RG_STATUS_DATA, "truncated");
}
END_TEST

START_TEST(shuffle_is_permutation)
{
    enum { N = 1000 };
    int64_t perm[N];
    char seen[N] = {0};
    int n_fixed = 0;

    rg_shuffle(12345, 3, N, perm);
    for (int i = 0; i < N; i++) {
        ck_assert_int_ge(perm[i], 0);
        ck_assert_int_lt(perm[i], N);
        ck_assert_msg(!seen[perm[i]], "%lld appears twice",
                      (long long)perm[i]);
        seen[perm[i]] = 1;
        n_fixed += perm[i] == i;
    }
    /* A uniform permutation has one fixed point on average. */
    ck_assert_int_lt(n_fixed, 10);
}
END_TEST

START_TEST(shuffle_is_deterministic)
{
    enum { N = 500 };
    int64_t a[N];
    int64_t b[N];
    int64_t one = -1;

    rg_shuffle(7, 1, N, a);
    rg_shuffle(7, 1, N, b);
    ck_assert_mem_eq(a, b, sizeof(a));
    rg_shuffle(7, 2, N, b);
    ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
    rg_shuffle(8, 1, N, b);
    ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
    rg_shuffle(7, 1, 1, &one);
    ck_assert_int_eq(one, 0);
    rg_shuffle(7, 1, 0, NULL);
}
END_TEST

/*
 * Over 6000 epochs, each of the 6 orders of 3 items comes up about 1000
 * times. The binomial standard deviation is about 29, so 150 is 5 sigma.
 */
START_TEST(shuffle_orders_equally_likely)
{
    int counts[6] = {0};

    for (uint64_t epoch = 0; epoch < 6000; epoch++) {
        int64_t p[3];
        rg_shuffle(99, epoch, 3, p);
        counts[p[0] * 2 + (p[1] > p[2])]++;
    }
    for (int k = 0; k < 6; k++) {
        ck_assert_msg(counts[k] > 850 && counts[k] < 1150,
                      "order %d came up %d times of 6000", k, counts[k]);
    }
}
END_TEST

START_TEST(fashion_mnist_loads)
{
    rg_dataset *ds;
    int64_t row = 59999;
    float got[784];
    float max = 0.0f;

    if (access(FASHION_TRAIN, R_OK) != 0) {
        return; /* the dataset-fashion-mnist package is not installed */
    }
    ds = load_ok(FASHION_TRAIN, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 60000);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 784);
    rg_dataset_gather(ds, &row, 1, got);
    for (int c = 0; c < 784; c++) {
        ck_assert(got[c] >= 0.0f && got[c] <= 1.0f);
        max = got[c] > max ? got[c] : max;
    }
    ck_assert_float_gt(max, 0.0f);
    rg_dataset_free(ds);

    ds = load_ok(FASHION_LABELS, NULL);
    ck_assert_int_eq(rg_dataset_n_rows(ds), 60000);
    ck_assert_int_eq(rg_dataset_n_cols(ds), 1);
    rg_dataset_free(ds);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc_load = tcase_create("load");
    TCase *tc_bad = tcase_create("bad files");
    TCase *tc_shuffle = tcase_create("shuffle");

    tcase_add_test(tc_load, idx_plain_loads);
    tcase_add_test(tc_load, idx_gzip_loads);
    tcase_add_test(tc_load, idx_rank1_is_one_column);
    tcase_add_test(tc_load, gather_scaling_exact);
    tcase_add_test(tc_load, binarize_bytes_and_floats);
    tcase_add_test(tc_load, max_rows_keeps_first_rows);
    tcase_add_test(tc_load, invalid_options_rejected);
    tcase_add_test(tc_load, npy_u8_loads);
    tcase_add_test(tc_load, npy_f32_rank3_loads);
    tcase_add_test(tc_load, npy_v2_f64_loads);
    tcase_add_test(tc_load, csv_header_crlf_blank_lines);
    tcase_add_test(tc_load, csv_without_header_or_newline);
    tcase_add_test(tc_load, fashion_mnist_loads);
    suite_add_tcase(s, tc_load);

    tcase_add_loop_test(tc_bad, bad_file_rejected, 0, N_BAD_FILES);
    tcase_add_loop_test(tc_bad, bad_file_gzipped_rejected, 0, N_BAD_FILES);
    tcase_add_test(tc_bad, missing_file_not_found);
    tcase_add_test(tc_bad, damaged_gzip_rejected);
    tcase_add_test(tc_bad, truncated_gzip_rejected);
    suite_add_tcase(s, tc_bad);

    tcase_add_test(tc_shuffle, shuffle_is_permutation);
    tcase_add_test(tc_shuffle, shuffle_is_deterministic);
    tcase_add_test(tc_shuffle, shuffle_orders_equally_likely);
    suite_add_tcase(s, tc_shuffle);
    return s;
}

static void remove_tmp_dir(void)
{
    DIR *dir = opendir(g_dir);
    struct dirent *e;
    char path[512];

    if (dir == NULL) {
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(dir);
    rmdir(g_dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    SRunner *sr;
    int n_failed;

    snprintf(g_dir, sizeof(g_dir), "%s/rg-test-data-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmp_dir();
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
