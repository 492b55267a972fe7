/*
 * Tests of the .npz module (src/exec/npz.c) and of checkpoints
 * (src/exec/checkpoint.c): round trips, damaged and truncated archives,
 * atomic replacement, and, when python3 with NumPy is installed, that
 * numpy.load reads what we write and that we read what numpy.savez
 * writes.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/npz.h"
#include "rbmgraph/checkpoint.h"
#include "rbmgraph/exec.h"
#include "rbmgraph/graph.h"

/* Temporary folder for the files of every test, removed by main. */
static char g_dir[256];

static const char *tmp_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

static unsigned char *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);

    ck_assert_msg(fp != NULL, "cannot open %s", path);
    ck_assert_ptr_nonnull(buf);
    *n = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");

    ck_assert_msg(fp != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* Counts the entries of the temporary folder whose names contain `part`. */
static int count_files_with(const char *part)
{
    DIR *dir = opendir(g_dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(dir);
    while ((e = readdir(dir)) != NULL) {
        n += strstr(e->d_name, part) != NULL;
    }
    closedir(dir);
    return n;
}

/*
 * Returns a python3 that imports NumPy, or NULL. RG_PYTHON overrides the
 * search; Debian's python3-numpy lives under /usr/bin/python3, which a
 * python3 earlier on PATH (pyenv, a virtualenv) may not see.
 */
static const char *python_with_numpy(void)
{
    static const char *candidates[] = {"python3", "/usr/bin/python3"};
    const char *env = getenv("RG_PYTHON");
    char cmd[512];

    if (env != NULL && env[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "%s -c 'import numpy' >/dev/null 2>&1",
                 env);
        return system(cmd) == 0 ? env : NULL;
    }
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        snprintf(cmd, sizeof(cmd), "%s -c 'import numpy' >/dev/null 2>&1",
                 candidates[i]);
        if (system(cmd) == 0) {
            return candidates[i];
        }
    }
    return NULL;
}

/* Runs `script` with `python`, passing `path` as sys.argv[1]. */
static int run_python(const char *python, const char *script,
                      const char *path)
{
    char script_path[512];
    char cmd[1200];

    write_file(tmp_path("check.py", script_path, sizeof(script_path)),
               script, strlen(script));
    snprintf(cmd, sizeof(cmd), "%s %s %s", python, script_path, path);
    return system(cmd);
}

/* --- npz module ----------------------------------------------------------- */

static const float sample_f32[6] = {0.5f, -1.25f, 3.0e-8f, 1e30f, 0.0f, -0.0f};
static const double sample_f64[2] = {0.1, -1e300};
static const char sample_text[] = "model: rbm\n";

/* Writes an archive with one member of each kind to `path`. */
static void write_sample_npz(const char *path)
{
    FILE *fp = fopen(path, "wb");
    npz_writer *w = NULL;
    rg_error err;
    int64_t shape23[2] = {2, 3};
    int64_t n_text = (int64_t)strlen(sample_text);
    int64_t n_f64 = 2;
    int64_t empty = 0;
    int64_t i64 = -42;
    uint64_t u64 = UINT64_MAX;
    float scalar = 7.5f;

    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(npz_writer_new(fp, path, &w, &err), RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "w.npy", NPZ_DTYPE_F32, 2, shape23,
                                    sample_f32, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "text.npy", NPZ_DTYPE_U8, 1, &n_text,
                                    sample_text, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "d.npy", NPZ_DTYPE_F64, 1, &n_f64,
                                    sample_f64, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "i.npy", NPZ_DTYPE_I64, 0, NULL, &i64,
                                    &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "u.npy", NPZ_DTYPE_U64, 0, NULL, &u64,
                                    &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "s.npy", NPZ_DTYPE_F32, 0, NULL,
                                    &scalar, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "empty.npy", NPZ_DTYPE_U8, 1, &empty,
                                    NULL, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_finish(w, &err), RG_STATUS_OK);
    npz_writer_free(w);
    ck_assert_int_eq(fclose(fp), 0);
}

static void read_member_ok(npz_reader *r, const char *name, npz_array *a)
{
    rg_error err;
    int index = npz_reader_find(r, name);

    ck_assert_msg(index >= 0, "member %s not found", name);
    ck_assert_msg(npz_reader_read(r, index, a, &err) == RG_STATUS_OK,
                  "%s: %s", name, err.message);
}

START_TEST(npz_round_trip)
{
    char path[512];
    npz_reader *r = NULL;
    npz_array a = {0};
    rg_error err;
    int64_t i64;
    uint64_t u64;

    write_sample_npz(tmp_path("sample.npz", path, sizeof(path)));
    ck_assert_int_eq(npz_reader_open(path, &r, &err), RG_STATUS_OK);
    ck_assert_int_eq(npz_reader_n_members(r), 7);
    ck_assert_str_eq(npz_reader_member_name(r, 0), "w.npy");
    ck_assert_int_eq(npz_reader_find(r, "absent.npy"), -1);

    read_member_ok(r, "w.npy", &a);
    ck_assert_int_eq(a.header.dtype, NPZ_DTYPE_F32);
    ck_assert_int_eq(a.header.rank, 2);
    ck_assert_int_eq(a.header.shape[0], 2);
    ck_assert_int_eq(a.header.shape[1], 3);
    ck_assert_mem_eq(a.data, sample_f32, sizeof(sample_f32));
    npz_array_clear(&a);

    read_member_ok(r, "text.npy", &a);
    ck_assert_int_eq(a.header.dtype, NPZ_DTYPE_U8);
    ck_assert_int_eq(a.header.n_elements, (int64_t)strlen(sample_text));
    ck_assert_mem_eq(a.data, sample_text, strlen(sample_text));
    npz_array_clear(&a);

    read_member_ok(r, "d.npy", &a);
    ck_assert_int_eq(a.header.dtype, NPZ_DTYPE_F64);
    ck_assert_mem_eq(a.data, sample_f64, sizeof(sample_f64));
    npz_array_clear(&a);

    read_member_ok(r, "i.npy", &a);
    ck_assert_int_eq(a.header.rank, 0);
    ck_assert_int_eq(a.header.n_elements, 1);
    memcpy(&i64, a.data, sizeof(i64));
    ck_assert_int_eq(i64, -42);
    npz_array_clear(&a);

    read_member_ok(r, "u.npy", &a);
    memcpy(&u64, a.data, sizeof(u64));
    ck_assert_uint_eq(u64, UINT64_MAX);
    npz_array_clear(&a);

    read_member_ok(r, "empty.npy", &a);
    ck_assert_int_eq(a.header.rank, 1);
    ck_assert_int_eq(a.header.n_elements, 0);
    npz_array_clear(&a);
    npz_reader_free(r);
}
END_TEST

START_TEST(npz_writer_rejects_bad_members)
{
    char path[512];
    FILE *fp = fopen(tmp_path("dup.npz", path, sizeof(path)), "wb");
    npz_writer *w = NULL;
    rg_error err;
    float v = 1.0f;
    int64_t bad_shape = -1;

    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(npz_writer_new(fp, path, &w, &err), RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "a.npy", NPZ_DTYPE_F32, 0, NULL, &v,
                                    &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(npz_writer_add(w, "a.npy", NPZ_DTYPE_F32, 0, NULL, &v,
                                    &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate member name"));
    ck_assert_int_eq(npz_writer_add(w, "", NPZ_DTYPE_F32, 0, NULL, &v, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_int_eq(npz_writer_add(w, "b.npy", NPZ_DTYPE_F32, 1,
                                    &bad_shape, &v, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    npz_writer_free(w);
    fclose(fp);
}
END_TEST

/* Opens and reads every member; returns the first failure's status. */
static rg_status open_and_read_all(const char *path, rg_error *err)
{
    npz_reader *r = NULL;
    rg_status st = npz_reader_open(path, &r, err);

    for (int i = 0; st == RG_STATUS_OK && i < npz_reader_n_members(r); i++) {
        npz_array a = {0};
        st = npz_reader_read(r, i, &a, err);
        npz_array_clear(&a);
    }
    npz_reader_free(r);
    return st;
}

START_TEST(npz_every_truncation_rejected)
{
    char good[512];
    char cut[512];
    size_t n = 0;
    unsigned char *bytes;

    write_sample_npz(tmp_path("full.npz", good, sizeof(good)));
    bytes = read_whole(good, &n);
    tmp_path("cut.npz", cut, sizeof(cut));
    for (size_t len = 0; len < n; len++) {
        rg_error err;
        rg_status st;

        write_file(cut, bytes, len);
        st = open_and_read_all(cut, &err);
        ck_assert_msg(st == RG_STATUS_DATA,
                      "cut at %zu of %zu: status %s: %s", len, n,
                      rg_status_str(st), err.message);
        ck_assert_msg(strstr(err.message, cut) != NULL,
                      "message \"%s\" does not name the file", err.message);
    }
    free(bytes);
}
END_TEST

/* Compares every member of two archives; both must open and read. */
static void expect_same_contents(const char *path_a, const char *path_b)
{
    npz_reader *ra = NULL;
    npz_reader *rb = NULL;
    rg_error err;

    ck_assert_int_eq(npz_reader_open(path_a, &ra, &err), RG_STATUS_OK);
    ck_assert_int_eq(npz_reader_open(path_b, &rb, &err), RG_STATUS_OK);
    ck_assert_int_eq(npz_reader_n_members(ra), npz_reader_n_members(rb));
    for (int i = 0; i < npz_reader_n_members(ra); i++) {
        npz_array a = {0};
        npz_array b = {0};

        ck_assert_str_eq(npz_reader_member_name(ra, i),
                         npz_reader_member_name(rb, i));
        ck_assert_int_eq(npz_reader_read(ra, i, &a, &err), RG_STATUS_OK);
        ck_assert_int_eq(npz_reader_read(rb, i, &b, &err), RG_STATUS_OK);
        ck_assert_int_eq(a.header.data_bytes, b.header.data_bytes);
        ck_assert_mem_eq(a.data, b.data, (size_t)a.header.data_bytes);
        npz_array_clear(&a);
        npz_array_clear(&b);
    }
    npz_reader_free(ra);
    npz_reader_free(rb);
}

/*
 * Flips each byte of a good archive in turn. Every damaged copy must be
 * rejected or, where the byte is one the reader does not use (dates,
 * versions, attributes), read back exactly like the original.
 */
START_TEST(npz_every_byte_flip_caught)
{
    char good[512];
    char bad[512];
    size_t n = 0;
    unsigned char *bytes;
    int n_rejected = 0;

    write_sample_npz(tmp_path("orig.npz", good, sizeof(good)));
    bytes = read_whole(good, &n);
    tmp_path("flipped.npz", bad, sizeof(bad));
    for (size_t i = 0; i < n; i++) {
        rg_error err;
        rg_status st;

        bytes[i] ^= 0xff;
        write_file(bad, bytes, n);
        bytes[i] ^= 0xff;
        st = open_and_read_all(bad, &err);
        if (st == RG_STATUS_OK) {
            expect_same_contents(good, bad);
            continue;
        }
        ck_assert_msg(st == RG_STATUS_DATA || st == RG_STATUS_UNSUPPORTED
                          || st == RG_STATUS_NO_MEMORY,
                      "flip at %zu: status %s: %s", i, rg_status_str(st),
                      err.message);
        n_rejected++;
    }
    /* Nearly every byte is a name, size, offset, header or CRC-covered. */
    ck_assert_int_gt(n_rejected, (int)(n * 3 / 4));
    free(bytes);
}
END_TEST

/* Finds the first occurrence of a 4-byte little-endian signature. */
static size_t find_sig(const unsigned char *bytes, size_t n, uint32_t sig)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        uint32_t v = (uint32_t)bytes[i] | ((uint32_t)bytes[i + 1] << 8)
                     | ((uint32_t)bytes[i + 2] << 16)
                     | ((uint32_t)bytes[i + 3] << 24);
        if (v == sig) {
            return i;
        }
    }
    ck_abort_msg("signature %08x not found", (unsigned)sig);
    return 0;
}

static void expect_npz_error(const char *path, rg_status status,
                             const char *fragment)
{
    rg_error err;
    rg_status st = open_and_read_all(path, &err);

    ck_assert_msg(st == status, "%s: status %s, expected %s: %s", path,
                  rg_status_str(st), rg_status_str(status), err.message);
    ck_assert_msg(strstr(err.message, fragment) != NULL,
                  "message \"%s\" lacks \"%s\"", err.message, fragment);
}

START_TEST(npz_specific_damage_messages)
{
    char path[512];
    size_t n = 0;
    unsigned char *bytes;
    size_t local;
    size_t central;
    size_t npy;
    size_t data;

    write_sample_npz(tmp_path("base.npz", path, sizeof(path)));
    bytes = read_whole(path, &n);
    local = find_sig(bytes, n, 0x04034b50u);
    central = find_sig(bytes, n, 0x02014b50u);
    npy = local + 30 + strlen("w.npy");
    data = npy + 10 + (bytes[npy + 8] | (size_t)bytes[npy + 9] << 8);

    /* A data byte of the first member: the CRC catches it. */
    bytes[data + 1] ^= 0x01;
    write_file(tmp_path("crc.npz", path, sizeof(path)), bytes, n);
    expect_npz_error(path, RG_STATUS_DATA, "CRC-32 mismatch");
    bytes[data + 1] ^= 0x01;

    /* Deflate in both headers: numpy.savez_compressed output. */
    bytes[local + 8] = 8;
    bytes[central + 10] = 8;
    write_file(tmp_path("deflate.npz", path, sizeof(path)), bytes, n);
    expect_npz_error(path, RG_STATUS_UNSUPPORTED, "numpy.savez_compressed");
    bytes[local + 8] = 0;
    bytes[central + 10] = 0;

    /* The .npy header's descr, which follows "{'descr': '". */
    memcpy(bytes + npy + 10 + 11, ">f4", 3);
    write_file(tmp_path("bigendian.npz", path, sizeof(path)), bytes, n);
    expect_npz_error(path, RG_STATUS_UNSUPPORTED, "dtype '>f4'");
    free(bytes);

    write_file(tmp_path("text.npz", path, sizeof(path)),
               "this is not a zip archive at all", 32);
    expect_npz_error(path, RG_STATUS_DATA, "not a .npz (zip) archive");
    write_file(tmp_path("empty.npz", path, sizeof(path)), "", 0);
    expect_npz_error(path, RG_STATUS_DATA, "shorter than a zip end record");
    expect_npz_error(tmp_path("absent.npz", path, sizeof(path)),
                     RG_STATUS_NOT_FOUND, "absent.npz");
}
END_TEST

START_TEST(npz_numpy_reads_ours)
{
    static const char script[] =
        "import sys, zipfile, numpy\n"
        "assert zipfile.ZipFile(sys.argv[1]).testzip() is None\n"
        "d = numpy.load(sys.argv[1])\n"
        "w = d['w']\n"
        "assert w.dtype == numpy.float32 and w.shape == (2, 3), w\n"
        "assert w.tolist() == numpy.array([0.5, -1.25, 3.0e-8, 1e30, 0.0,"
        " -0.0], dtype=numpy.float32).reshape(2, 3).tolist()\n"
        "assert d['text'].tobytes() == b'model: rbm\\n'\n"
        "assert d['d'].tolist() == [0.1, -1e300]\n"
        "assert d['i'].shape == () and int(d['i']) == -42\n"
        "assert d['u'].dtype == numpy.uint64 and int(d['u']) == 2**64 - 1\n"
        "assert float(d['s']) == 7.5\n"
        "assert d['empty'].shape == (0,)\n";
    const char *python = python_with_numpy();
    char path[512];

    if (python == NULL) {
        return; /* python3 with NumPy is not installed */
    }
    write_sample_npz(tmp_path("for_numpy.npz", path, sizeof(path)));
    ck_assert_int_eq(run_python(python, script, path), 0);
}
END_TEST

/* --- checkpoints ---------------------------------------------------------- */

static rg_shape shape2(int64_t rows, int64_t cols)
{
    rg_shape s = {2, {rows, cols}};

    return s;
}

/* A runtime with W [3, 4] = 0.25 i - 1, bv [3] = zeros and a scalar. */
static rg_runtime *make_runtime(void)
{
    static const rg_init normal = {RG_INIT_NORMAL, 0.0, 0.01};
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    static const rg_init constant = {RG_INIT_CONSTANT, 2.5, 0.0};
    rg_shape bv = {1, {3, 0}};
    rg_shape scalar = {0, {0, 0}};
    rg_runtime *rt = NULL;
    rg_error err;
    float w[12];

    ck_assert_int_eq(rg_runtime_new("cpu", 5, &rt, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_add_tensor(rt, "W", shape2(3, 4), normal,
                                           &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_add_tensor(rt, "bv", bv, zeros, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_add_tensor(rt, "temperature", scalar,
                                           constant, &err),
                     RG_STATUS_OK);
    for (int i = 0; i < 12; i++) {
        w[i] = 0.25f * (float)i - 1.0f;
    }
    ck_assert_int_eq(rg_runtime_write(rt, "W", w, 12, &err), RG_STATUS_OK);
    return rt;
}

static const char model_text[] = "model: x\n";

static void save_ok(rg_runtime *rt, const char *path)
{
    rg_checkpoint_meta meta = {.model_source = model_text, .seed = 5,
                               .step = 123, .epoch = 4};
    rg_error err;
    rg_status st = rg_checkpoint_save(rt, path, &meta, &err);

    ck_assert_msg(st == RG_STATUS_OK, "save: %s", err.message);
}

START_TEST(ckpt_round_trip)
{
    char path[512];
    rg_runtime *rt = make_runtime();
    rg_runtime *back = NULL;
    rg_checkpoint_meta meta;
    rg_error err;
    float w[12];
    float t;

    save_ok(rt, tmp_path("round.npz", path, sizeof(path)));
    ck_assert_int_eq(rg_runtime_new("cpu", 99, &back, &err), RG_STATUS_OK);
    ck_assert_msg(rg_checkpoint_load(back, path, &meta, &err)
                      == RG_STATUS_OK,
                  "load: %s", err.message);
    ck_assert_int_eq(rg_runtime_n_tensors(back), 3);
    ck_assert_str_eq(rg_runtime_tensor_name(back, 0), "W");
    ck_assert(rg_shape_equal(rg_runtime_tensor_shape(back, 0),
                             shape2(3, 4)));
    ck_assert_int_eq(rg_runtime_tensor_shape(back, 2).rank, 0);
    ck_assert_int_eq(rg_runtime_read(back, "W", w, 12, &err), RG_STATUS_OK);
    for (int i = 0; i < 12; i++) {
        ck_assert_float_eq(w[i], 0.25f * (float)i - 1.0f);
    }
    ck_assert_int_eq(rg_runtime_read(back, "temperature", &t, 1, &err),
                     RG_STATUS_OK);
    ck_assert_float_eq(t, 2.5f);
    ck_assert_uint_eq(meta.seed, 5);
    ck_assert_uint_eq(meta.step, 123);
    ck_assert_uint_eq(meta.epoch, 4);
    ck_assert_str_eq(meta.model_source, model_text);
    free((char *)meta.model_source);
    rg_runtime_free(back);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_shape_mismatch_changes_nothing)
{
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    char path[512];
    rg_runtime *rt = make_runtime();
    rg_runtime *other = NULL;
    rg_error err;

    save_ok(rt, tmp_path("shape.npz", path, sizeof(path)));
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &other, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_runtime_add_tensor(other, "W", shape2(4, 3), zeros,
                                           &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_checkpoint_load(other, path, NULL, &err),
                     RG_STATUS_SHAPE);
    ck_assert_msg(strstr(err.message,
                         "tensor 'W' has shape [3, 4] in the file but "
                         "[4, 3] in the runtime")
                      != NULL,
                  "message: %s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    /* bv comes later in the file but must not have been created. */
    ck_assert_int_eq(rg_runtime_n_tensors(other), 1);
    rg_runtime_free(other);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_failed_save_keeps_old_file)
{
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    char path[512];
    rg_runtime *rt = make_runtime();
    rg_error err;
    size_t n_before = 0;
    size_t n_after = 0;
    unsigned char *before;
    unsigned char *after;

    tmp_path("atomic.npz", path, sizeof(path));
    save_ok(rt, path);
    save_ok(rt, path);
    ck_assert_int_eq(count_files_with(".tmp-"), 0);
    before = read_whole(path, &n_before);

    /* The reserved name fails after W, bv and more have been written. */
    ck_assert_int_eq(rg_runtime_add_tensor(rt, "__hidden", shape2(1, 1),
                                           zeros, &err),
                     RG_STATUS_OK);
    ck_assert_int_eq(rg_checkpoint_save(rt, path, NULL, &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "'__hidden'"));
    ck_assert_int_eq(count_files_with(".tmp-"), 0);
    after = read_whole(path, &n_after);
    ck_assert_uint_eq(n_before, n_after);
    ck_assert_mem_eq(before, after, n_before);
    free(before);
    free(after);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_save_into_missing_folder)
{
    char path[512];
    rg_runtime *rt = make_runtime();
    rg_error err;

    tmp_path("no-such-folder/ck.npz", path, sizeof(path));
    ck_assert_int_eq(rg_checkpoint_save(rt, path, NULL, &err),
                     RG_STATUS_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_truncated_file_rejected)
{
    char path[512];
    char cut[512];
    rg_runtime *rt = make_runtime();
    rg_runtime *back = NULL;
    rg_error err;
    size_t n = 0;
    unsigned char *bytes;

    save_ok(rt, tmp_path("whole.npz", path, sizeof(path)));
    bytes = read_whole(path, &n);
    write_file(tmp_path("half.npz", cut, sizeof(cut)), bytes, n / 2);
    free(bytes);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &back, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_checkpoint_load(back, cut, NULL, &err),
                     RG_STATUS_DATA);
    ck_assert_ptr_nonnull(strstr(err.message, cut));
    ck_assert_int_eq(rg_runtime_n_tensors(back), 0);
    rg_runtime_free(back);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_numpy_reads_checkpoint)
{
    static const char script[] =
        "import sys, numpy\n"
        "d = numpy.load(sys.argv[1])\n"
        "w = d['W']\n"
        "assert w.dtype == numpy.float32 and w.shape == (3, 4)\n"
        "expected = (numpy.arange(12, dtype=numpy.float32) * 0.25 - 1)\n"
        "assert numpy.array_equal(w, expected.reshape(3, 4)), w\n"
        "assert d['bv'].shape == (3,) and not d['bv'].any()\n"
        "assert d['temperature'].shape == () and"
        " float(d['temperature']) == 2.5\n"
        "assert int(d['__seed__']) == 5 and int(d['__step__']) == 123\n"
        "assert int(d['__epoch__']) == 4 and int(d['__format__']) == 1\n"
        "assert d['__model__'].tobytes().decode() == 'model: x\\n'\n";
    const char *python = python_with_numpy();
    char path[512];
    rg_runtime *rt;

    if (python == NULL) {
        return; /* python3 with NumPy is not installed */
    }
    rt = make_runtime();
    save_ok(rt, tmp_path("for_numpy_ckpt.npz", path, sizeof(path)));
    ck_assert_int_eq(run_python(python, script, path), 0);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_loads_numpy_savez)
{
    static const char script[] =
        "import sys, numpy\n"
        "numpy.savez(sys.argv[1], W=numpy.arange(6.0).reshape(2, 3),\n"
        "            bh=numpy.full(3, 0.5, dtype=numpy.float32),\n"
        "            __step__=numpy.int64(77))\n";
    const char *python = python_with_numpy();
    char path[512];
    rg_runtime *rt = NULL;
    rg_checkpoint_meta meta;
    rg_error err;
    float w[6];
    float bh[3];

    if (python == NULL) {
        return; /* python3 with NumPy is not installed */
    }
    tmp_path("from_numpy.npz", path, sizeof(path));
    ck_assert_int_eq(run_python(python, script, path), 0);
    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    ck_assert_msg(rg_checkpoint_load(rt, path, &meta, &err) == RG_STATUS_OK,
                  "load: %s", err.message);
    ck_assert_int_eq(rg_runtime_read(rt, "W", w, 6, &err), RG_STATUS_OK);
    for (int i = 0; i < 6; i++) {
        ck_assert_float_eq(w[i], (float)i);
    }
    ck_assert_int_eq(rg_runtime_read(rt, "bh", bh, 3, &err), RG_STATUS_OK);
    ck_assert_float_eq(bh[2], 0.5f);
    ck_assert_uint_eq(meta.step, 77);
    ck_assert_ptr_null(meta.model_source);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(ckpt_metadata_round_trip)
{
    static const float mean[3] = {0.5f, -1.0f, 2.0f};
    static const float std[3] = {1.0f, 0.25f, 3.0f};
    rg_checkpoint_meta meta = {
        .model_source = model_text, .seed = 9, .step = 40, .epoch = 2,
        .dims = "batch=10\nvisible=3\n", .hypers = "lr=0.05\n",
        .data = "path=x.npy\nbinarize=0\n", .n_columns = 3,
        .data_mean = mean, .data_std = std};
    rg_checkpoint_meta back;
    rg_runtime *rt = make_runtime();
    rg_error err;
    char path[512];

    tmp_path("meta.npz", path, sizeof(path));
    ck_assert_msg(rg_checkpoint_save(rt, path, &meta, &err) == RG_STATUS_OK,
                  "save: %s", err.message);
    ck_assert_msg(rg_checkpoint_load(rt, path, &back, &err) == RG_STATUS_OK,
                  "load: %s", err.message);
    ck_assert_str_eq(back.dims, meta.dims);
    ck_assert_str_eq(back.hypers, meta.hypers);
    ck_assert_str_eq(back.data, meta.data);
    ck_assert_int_eq(back.n_columns, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(back.data_mean[i], mean[i]);
        ck_assert_float_eq(back.data_std[i], std[i]);
    }
    rg_checkpoint_meta_clear(&back);
    ck_assert_ptr_null(back.dims);
    ck_assert_int_eq(back.n_columns, 0);
    rg_runtime_free(rt);
}
END_TEST

START_TEST(npy_save_writes_header_and_data)
{
    static const float values[6] = {1, 2, 3, 4, 5, 6};
    static const char header[] =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    const int64_t shape[2] = {3, 2};
    char path[512];
    rg_error err;
    size_t n;

    tmp_path("array.npy", path, sizeof(path));
    ck_assert_msg(rg_npy_save(path, 2, shape, values, &err) == RG_STATUS_OK,
                  "save: %s", err.message);
    unsigned char *bytes = read_whole(path, &n);
    ck_assert_uint_eq(n, 128 + sizeof(values));
    ck_assert_int_eq(memcmp(bytes, "\x93NUMPY\x01\x00", 8), 0);
    ck_assert_int_eq(memcmp(bytes + 10, header, strlen(header)), 0);
    ck_assert_int_eq(bytes[127], '\n');
    ck_assert_int_eq(memcmp(bytes + 128, values, sizeof(values)), 0);
    free(bytes);
    ck_assert_int_eq(count_files_with(".tmp-"), 0);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc_npz = tcase_create("npz");
    TCase *tc_ckpt = tcase_create("checkpoint");

    tcase_add_test(tc_npz, npz_round_trip);
    tcase_add_test(tc_npz, npz_writer_rejects_bad_members);
    tcase_add_test(tc_npz, npz_every_truncation_rejected);
    tcase_add_test(tc_npz, npz_every_byte_flip_caught);
    tcase_add_test(tc_npz, npz_specific_damage_messages);
    tcase_add_test(tc_npz, npz_numpy_reads_ours);
    suite_add_tcase(s, tc_npz);

    tcase_add_test(tc_ckpt, ckpt_round_trip);
    tcase_add_test(tc_ckpt, ckpt_shape_mismatch_changes_nothing);
    tcase_add_test(tc_ckpt, ckpt_failed_save_keeps_old_file);
    tcase_add_test(tc_ckpt, ckpt_save_into_missing_folder);
    tcase_add_test(tc_ckpt, ckpt_truncated_file_rejected);
    tcase_add_test(tc_ckpt, ckpt_numpy_reads_checkpoint);
    tcase_add_test(tc_ckpt, ckpt_loads_numpy_savez);
    tcase_add_test(tc_ckpt, ckpt_metadata_round_trip);
    tcase_add_test(tc_ckpt, npy_save_writes_header_and_data);
    suite_add_tcase(s, tc_ckpt);
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

    snprintf(g_dir, sizeof(g_dir), "%s/rg-test-ckpt-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    sr = srunner_create(checkpoint_suite());
    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmp_dir();
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
