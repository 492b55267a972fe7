/*
 * Checkpoints: a runtime's persistent tensors and the training position
 * as a NumPy .npz archive, written atomically.
 *
 * Layout. Every member is a .npy array, stored without compression:
 *   <tensor>.npy    '<f4', the tensor's shape; one per runtime tensor
 *   __format__.npy  '<i8' scalar, the layout version (1)
 *   __seed__.npy    '<u8' scalar, rg_checkpoint_meta.seed
 *   __step__.npy    '<u8' scalar, train steps run so far
 *   __epoch__.npy   '<u8' scalar, epochs completed
 *   __model__.npy   '|u1' 1-D array, the model file text
 *   __dims__.npy    '|u1' 1-D array, "name=value" lines of the dims used
 *   __hyper__.npy   '|u1' 1-D array, the same for hyperparameters
 *   __data__.npy    '|u1' 1-D array, "key=value" lines naming the
 *                   training data and how it was read
 *   __data_mean__.npy, __data_std__.npy
 *                   '<f4' [n_columns], the standardisation of the data
 * The members from __model__ on are absent when the metadata lacks them.
 * In Python: d = numpy.load(path); d["W"]; int(d["__step__"]);
 * d["__model__"].tobytes().decode().
 *
 * Tensor names starting with "__" are reserved for metadata and rejected
 * on save. Loading accepts any .npz of '<f4' or '<f8' arrays of rank 0 to
 * 2, so weights saved with numpy.savez load too. The metadata members are
 * optional on load, and other "__" members are ignored.
 *
 * Invariant: rg_checkpoint_save leaves at `path` either the previous file
 * or the complete new one, and no temporary file on any error path.
 * rg_checkpoint_load changes the runtime only after every member has been
 * read and checked.
 */
#include "rbmgraph/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/atomic_file.h"
#include "exec/npz.h"
#include "graph/error_internal.h"

#define CKPT_FORMAT_VERSION 1
#define CKPT_MEMBER_SUFFIX ".npy"
#define CKPT_RESERVED_PREFIX "__"

/* --- save ----------------------------------------------------------------- */

static rg_status write_u64_scalar(npz_writer *w, const char *name,
                                  uint64_t value, rg_error *err)
{
    return npz_writer_add(w, name, NPZ_DTYPE_U64, 0, NULL, &value, err);
}

/* Stores `text` as a 1-D '|u1' array; NULL stores nothing. */
static rg_status write_text(npz_writer *w, const char *name, const char *text,
                            rg_error *err)
{
    int64_t n;

    if (text == NULL) {
        return RG_STATUS_OK;
    }
    n = (int64_t)strlen(text);
    return npz_writer_add(w, name, NPZ_DTYPE_U8, 1, &n, text, err);
}

static rg_status write_metadata(npz_writer *w, const rg_checkpoint_meta *meta,
                                rg_error *err)
{
    int64_t version = CKPT_FORMAT_VERSION;
    rg_status st;

    st = npz_writer_add(w, "__format__.npy", NPZ_DTYPE_I64, 0, NULL,
                        &version, err);
    if (st == RG_STATUS_OK) {
        st = write_u64_scalar(w, "__seed__.npy", meta->seed, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_u64_scalar(w, "__step__.npy", meta->step, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_u64_scalar(w, "__epoch__.npy", meta->epoch, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_text(w, "__model__.npy", meta->model_source, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_text(w, "__dims__.npy", meta->dims, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_text(w, "__hyper__.npy", meta->hypers, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_text(w, "__data__.npy", meta->data, err);
    }
    if (st == RG_STATUS_OK && meta->n_columns > 0) {
        st = npz_writer_add(w, "__data_mean__.npy", NPZ_DTYPE_F32, 1,
                            &meta->n_columns, meta->data_mean, err);
    }
    if (st == RG_STATUS_OK && meta->n_columns > 0) {
        st = npz_writer_add(w, "__data_std__.npy", NPZ_DTYPE_F32, 1,
                            &meta->n_columns, meta->data_std, err);
    }
    return st;
}

/* Returns the largest element count of the runtime's tensors (at least 1). */
static int64_t max_tensor_elements(const rg_runtime *rt)
{
    int64_t max = 1;

    for (int i = 0; i < rg_runtime_n_tensors(rt); i++) {
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(rt, i));
        max = n > max ? n : max;
    }
    return max;
}

static rg_status write_tensor(npz_writer *w, rg_runtime *rt, int index,
                              const char *path, float *buf, rg_error *err)
{
    const char *name = rg_runtime_tensor_name(rt, index);
    rg_shape shape = rg_runtime_tensor_shape(rt, index);
    size_t name_len = strlen(name);
    char *member;
    rg_status st;

    if (strncmp(name, CKPT_RESERVED_PREFIX, 2) == 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: tensor name '%s' starts with '__', which "
                            "is reserved for checkpoint metadata; rename it",
                            path, name);
    }
    st = rg_runtime_read(rt, name, buf, rg_shape_numel(shape), err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    member = malloc(name_len + sizeof(CKPT_MEMBER_SUFFIX));
    if (member == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            path);
    }
    memcpy(member, name, name_len);
    memcpy(member + name_len, CKPT_MEMBER_SUFFIX, sizeof(CKPT_MEMBER_SUFFIX));
    st = npz_writer_add(w, member, NPZ_DTYPE_F32, shape.rank, shape.dims, buf,
                        err);
    free(member);
    return st;
}

/* Writes the whole archive to `fp`. */
static rg_status write_archive(FILE *fp, rg_runtime *rt, const char *path,
                               const rg_checkpoint_meta *meta, rg_error *err)
{
    npz_writer *w = NULL;
    float *buf = malloc((size_t)max_tensor_elements(rt) * sizeof(float));
    rg_status st;

    if (buf == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for a tensor copy", path);
    }
    st = npz_writer_new(fp, path, &w, err);
    if (st == RG_STATUS_OK) {
        st = write_metadata(w, meta, err);
    }
    for (int i = 0; i < rg_runtime_n_tensors(rt) && st == RG_STATUS_OK; i++) {
        st = write_tensor(w, rt, i, path, buf, err);
    }
    if (st == RG_STATUS_OK) {
        st = npz_writer_finish(w, err);
    }
    npz_writer_free(w);
    free(buf);
    return st;
}

/* Arguments of write_archive, passed through atomic_file_write. */
typedef struct archive_job {
    rg_runtime *rt;
    const char *path;
    const rg_checkpoint_meta *meta;
} archive_job;

static rg_status fill_archive(FILE *fp, void *user, rg_error *err)
{
    const archive_job *job = user;

    return write_archive(fp, job->rt, job->path, job->meta, err);
}

rg_status rg_checkpoint_save(rg_runtime *rt, const char *path,
                             const rg_checkpoint_meta *meta, rg_error *err)
{
    static const rg_checkpoint_meta no_meta = {0};
    rg_error local;
    archive_job job = {rt, path, meta != NULL ? meta : &no_meta};

    err = err != NULL ? err : &local;
    if (rt == NULL || path == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_checkpoint_save: rt and path must not be "
                            "NULL");
    }
    return atomic_file_write(path, fill_archive, &job, err);
}

/* --- load ----------------------------------------------------------------- */

/* A tensor read from the file, waiting to be written into the runtime. */
typedef struct ckpt_tensor {
    char *name;
    rg_shape shape;
    float *values;
} ckpt_tensor;

typedef struct ckpt_contents {
    ckpt_tensor *tensors;
    int n_tensors;
    rg_checkpoint_meta meta;
} ckpt_contents;

static void contents_free(ckpt_contents *c)
{
    for (int i = 0; i < c->n_tensors; i++) {
        free(c->tensors[i].name);
        free(c->tensors[i].values);
    }
    free(c->tensors);
    rg_checkpoint_meta_clear(&c->meta);
    memset(c, 0, sizeof(*c));
}

/* Reads a non-negative integer scalar (or one-element array) member. */
static rg_status read_count(const char *path, const char *member,
                            const npz_array *a, uint64_t *out, rg_error *err)
{
    int64_t signed_value;

    if (a->header.n_elements != 1 || a->header.rank > 1
        || (a->header.dtype != NPZ_DTYPE_U64
            && a->header.dtype != NPZ_DTYPE_I64)) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %s must be one '<u8' or '<i8' "
                            "integer, not '%s' with %lld elements",
                            path, member, npz_dtype_descr(a->header.dtype),
                            (long long)a->header.n_elements);
    }
    if (a->header.dtype == NPZ_DTYPE_U64) {
        memcpy(out, a->data, sizeof(*out));
        return RG_STATUS_OK;
    }
    memcpy(&signed_value, a->data, sizeof(signed_value));
    if (signed_value < 0) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %s is negative (%lld)", path, member,
                            (long long)signed_value);
    }
    *out = (uint64_t)signed_value;
    return RG_STATUS_OK;
}

/* Reads a 1-D '|u1' member as a NUL-terminated heap string into *out. */
static rg_status read_text(const char *path, const char *member,
                           npz_array *a, const char **out, rg_error *err)
{
    size_t n = (size_t)a->header.n_elements;
    char *text;

    if (a->header.dtype != NPZ_DTYPE_U8 || a->header.rank != 1) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %s must be a 1-D '|u1' array of text",
                            path, member);
    }
    if (memchr(a->data, '\0', n) != NULL) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %s contains a NUL byte; it must be "
                            "text", path, member);
    }
    text = malloc(n + 1);
    if (text == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            path);
    }
    memcpy(text, a->data, n);
    text[n] = '\0';
    free((char *)*out);
    *out = text;
    return RG_STATUS_OK;
}

/* Reads a 1-D '<f4' member of the data's standardisation into *out. */
static rg_status read_columns(const char *path, const char *member,
                              npz_array *a, ckpt_contents *c,
                              const float **out, rg_error *err)
{
    int64_t n = a->header.n_elements;

    if (a->header.dtype != NPZ_DTYPE_F32 || a->header.rank != 1 || n < 1) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %s must be a non-empty 1-D '<f4' "
                            "array", path, member);
    }
    if (c->meta.n_columns != 0 && c->meta.n_columns != n) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: __data_mean__ and __data_std__ differ in "
                            "length (%lld and %lld)", path,
                            (long long)c->meta.n_columns, (long long)n);
    }
    c->meta.n_columns = n;
    free((float *)*out);
    *out = a->data;
    a->data = NULL;
    return RG_STATUS_OK;
}

/* Interprets one "__name__.npy" member; unknown names are ignored. */
static rg_status read_metadata(const char *path, const char *member,
                               npz_array *a, ckpt_contents *c, rg_error *err)
{
    uint64_t value = 0;
    rg_status st = RG_STATUS_OK;

    if (strcmp(member, "__model__.npy") == 0) {
        return read_text(path, member, a, &c->meta.model_source, err);
    }
    if (strcmp(member, "__dims__.npy") == 0) {
        return read_text(path, member, a, &c->meta.dims, err);
    }
    if (strcmp(member, "__hyper__.npy") == 0) {
        return read_text(path, member, a, &c->meta.hypers, err);
    }
    if (strcmp(member, "__data__.npy") == 0) {
        return read_text(path, member, a, &c->meta.data, err);
    }
    if (strcmp(member, "__data_mean__.npy") == 0) {
        return read_columns(path, member, a, c, &c->meta.data_mean, err);
    }
    if (strcmp(member, "__data_std__.npy") == 0) {
        return read_columns(path, member, a, c, &c->meta.data_std, err);
    }
    if (strcmp(member, "__format__.npy") == 0) {
        st = read_count(path, member, a, &value, err);
        if (st == RG_STATUS_OK && value != CKPT_FORMAT_VERSION) {
            st = rg_error_set(err, RG_STATUS_UNSUPPORTED,
                              "%s: checkpoint layout version %llu is not "
                              "supported; this build reads version %d",
                              path, (unsigned long long)value,
                              CKPT_FORMAT_VERSION);
        }
    } else if (strcmp(member, "__seed__.npy") == 0) {
        st = read_count(path, member, a, &c->meta.seed, err);
    } else if (strcmp(member, "__step__.npy") == 0) {
        st = read_count(path, member, a, &c->meta.step, err);
    } else if (strcmp(member, "__epoch__.npy") == 0) {
        st = read_count(path, member, a, &c->meta.epoch, err);
    }
    return st;
}

/* Converts a float array member into a pending tensor. */
static rg_status take_tensor(const char *path, const char *member,
                             npz_array *a, ckpt_tensor *t, rg_error *err)
{
    const npz_npy_header *h = &a->header;
    size_t name_len = strlen(member) - strlen(CKPT_MEMBER_SUFFIX);

    if (h->dtype != NPZ_DTYPE_F32 && h->dtype != NPZ_DTYPE_F64) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %s has dtype '%s'; tensors must be "
                            "'<f4' or '<f8'",
                            path, member, npz_dtype_descr(h->dtype));
    }
    if (h->rank > RG_MAX_RANK) {
        return rg_error_set(err, RG_STATUS_SHAPE,
                            "%s: member %s has rank %d; tensors have rank "
                            "0 to %d",
                            path, member, h->rank, RG_MAX_RANK);
    }
    t->shape.rank = h->rank;
    for (int i = 0; i < h->rank; i++) {
        t->shape.dims[i] = h->shape[i];
    }
    t->name = malloc(name_len + 1);
    if (t->name == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            path);
    }
    memcpy(t->name, member, name_len);
    t->name[name_len] = '\0';
    if (h->dtype == NPZ_DTYPE_F32) {
        t->values = a->data;
        a->data = NULL;
        return RG_STATUS_OK;
    }
    t->values = malloc((size_t)(h->n_elements > 0 ? h->n_elements : 1)
                       * sizeof(float));
    if (t->values == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            path);
    }
    for (int64_t i = 0; i < h->n_elements; i++) {
        t->values[i] = (float)((const double *)a->data)[i];
    }
    return RG_STATUS_OK;
}

/* Checks a pending tensor against the runtime's tensor of the same name. */
static rg_status check_against_runtime(const rg_runtime *rt, const char *path,
                                       const ckpt_tensor *t, rg_error *err)
{
    char have[64];
    char want[64];
    int index = rg_runtime_find_tensor(rt, t->name);
    rg_shape shape;

    if (index < 0) {
        return RG_STATUS_OK;
    }
    shape = rg_runtime_tensor_shape(rt, index);
    if (!rg_shape_equal(shape, t->shape)) {
        return rg_error_set(err, RG_STATUS_SHAPE,
                            "%s: tensor '%s' has shape %s in the file but "
                            "%s in the runtime; the checkpoint was written "
                            "for other dims (use the same --set values)",
                            path, t->name,
                            rg_shape_str(t->shape, want, sizeof(want)),
                            rg_shape_str(shape, have, sizeof(have)));
    }
    return RG_STATUS_OK;
}

/* Reads member `index` into `c`, as metadata or as a tensor. With `rt`
 * NULL only metadata is read and tensors are skipped. */
static rg_status read_member(npz_reader *r, int index, const char *path,
                             const rg_runtime *rt, ckpt_contents *c,
                             rg_error *err)
{
    const char *member = npz_reader_member_name(r, index);
    size_t len = strlen(member);
    size_t suffix_len = strlen(CKPT_MEMBER_SUFFIX);
    npz_array a = {0};
    rg_status st;

    if (len <= suffix_len
        || strcmp(member + len - suffix_len, CKPT_MEMBER_SUFFIX) != 0) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member '%s' is not a .npy array", path,
                            member);
    }
    if (rt == NULL && strncmp(member, CKPT_RESERVED_PREFIX, 2) != 0) {
        return RG_STATUS_OK;
    }
    st = npz_reader_read(r, index, &a, err);
    if (st == RG_STATUS_OK
        && strncmp(member, CKPT_RESERVED_PREFIX, 2) == 0) {
        st = read_metadata(path, member, &a, c, err);
    } else if (st == RG_STATUS_OK) {
        ckpt_tensor *t = &c->tensors[c->n_tensors];
        st = take_tensor(path, member, &a, t, err);
        c->n_tensors += t->name != NULL ? 1 : 0;
        if (st == RG_STATUS_OK) {
            st = check_against_runtime(rt, path, t, err);
        }
    }
    npz_array_clear(&a);
    return st;
}

/* Reads every member into `c` (tensors only when `rt` is not NULL). */
static rg_status read_members(npz_reader *r, const char *path,
                              const rg_runtime *rt, ckpt_contents *c,
                              rg_error *err)
{
    rg_status st = RG_STATUS_OK;

    for (int i = 0; i < npz_reader_n_members(r) && st == RG_STATUS_OK; i++) {
        st = read_member(r, i, path, rt, c, err);
    }
    if (st == RG_STATUS_OK
        && (c->meta.data_mean == NULL) != (c->meta.data_std == NULL)) {
        st = rg_error_set(err, RG_STATUS_DATA,
                          "%s: the checkpoint has only one of "
                          "__data_mean__ and __data_std__; both or neither "
                          "must be present", path);
    }
    return st;
}

/* Writes every pending tensor into the runtime, creating absent ones. */
static rg_status apply_tensors(rg_runtime *rt, const ckpt_contents *c,
                               rg_error *err)
{
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    rg_status st = RG_STATUS_OK;

    for (int i = 0; i < c->n_tensors && st == RG_STATUS_OK; i++) {
        const ckpt_tensor *t = &c->tensors[i];
        st = rg_runtime_add_tensor(rt, t->name, t->shape, zeros, err);
        if (st == RG_STATUS_OK) {
            st = rg_runtime_write(rt, t->name, t->values,
                                  rg_shape_numel(t->shape), err);
        }
    }
    return st;
}

rg_status rg_checkpoint_load(rg_runtime *rt, const char *path,
                             rg_checkpoint_meta *meta, rg_error *err)
{
    rg_error local;
    npz_reader *r = NULL;
    ckpt_contents c = {0};
    rg_status st;

    err = err != NULL ? err : &local;
    if (rt == NULL || path == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_checkpoint_load: rt and path must not be "
                            "NULL");
    }
    st = npz_reader_open(path, &r, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    c.tensors = calloc((size_t)npz_reader_n_members(r) + 1,
                       sizeof(*c.tensors));
    if (c.tensors == NULL) {
        st = rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                          path);
    }

    /* Read and check everything before the runtime changes. */
    if (st == RG_STATUS_OK) {
        st = read_members(r, path, rt, &c, err);
    }
    npz_reader_free(r);
    if (st == RG_STATUS_OK) {
        st = apply_tensors(rt, &c, err);
    }
    if (st == RG_STATUS_OK && meta != NULL) {
        *meta = c.meta;
        memset(&c.meta, 0, sizeof(c.meta));
    }
    contents_free(&c);
    return st;
}

rg_status rg_checkpoint_read_meta(const char *path, rg_checkpoint_meta *meta,
                                  rg_error *err)
{
    npz_reader *r = NULL;
    ckpt_contents c = {0};
    rg_status st;

    if (path == NULL || meta == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_checkpoint_read_meta: path and meta must not "
                            "be NULL");
    }
    memset(meta, 0, sizeof(*meta));
    st = npz_reader_open(path, &r, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    st = read_members(r, path, NULL, &c, err);
    npz_reader_free(r);
    if (st == RG_STATUS_OK) {
        *meta = c.meta;
        memset(&c.meta, 0, sizeof(c.meta));
    }
    contents_free(&c);
    return st;
}

void rg_checkpoint_meta_clear(rg_checkpoint_meta *meta)
{
    if (meta == NULL) {
        return;
    }
    free((char *)meta->model_source);
    free((char *)meta->dims);
    free((char *)meta->hypers);
    free((char *)meta->data);
    free((float *)meta->data_mean);
    free((float *)meta->data_std);
    memset(meta, 0, sizeof(*meta));
}

/* --- standalone .npy arrays ----------------------------------------------- */

typedef struct npy_job {
    const char *path;
    int rank;
    const int64_t *shape;
    const float *data;
} npy_job;

static rg_status fill_npy(FILE *fp, void *user, rg_error *err)
{
    const npy_job *job = user;

    return npz_npy_write(fp, job->path, NPZ_DTYPE_F32, job->rank,
                         job->shape, job->data, err);
}

rg_status rg_npy_save(const char *path, int rank, const int64_t *shape,
                      const float *data, rg_error *err)
{
    npy_job job = {path, rank, shape, data};

    if (path == NULL || (rank > 0 && (shape == NULL || data == NULL))) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_npy_save: path, shape and data must not be "
                            "NULL");
    }
    return atomic_file_write(path, fill_npy, &job, err);
}
