/*
 * Data set loaders (IDX, NumPy .npy, CSV), row gathering and the epoch
 * shuffle.
 *
 * Every file is read through zlib's gz reader, which passes plain files
 * through unchanged, so each format may also be gzip-compressed. Byte
 * data (IDX, '|u1' .npy) stays as bytes in memory and becomes floats only
 * in rg_dataset_gather. Invariant: a loaded data set has n_rows >= 1 and
 * n_cols >= 1, and exactly one of `bytes` and `floats` is set, holding
 * [n_rows, n_cols] finite values.
 */
#include "rbmgraph/data.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "exec/npz.h"
#include "graph/error_internal.h"
#include "kernels/philox.h"

/*
 * Philox stream id of rg_shuffle. Graph draws use node ids as streams, so
 * a high id keeps the two apart.
 */
#define DATA_SHUFFLE_STREAM 0xffff0001u

#define DATA_IDX_MAX_RANK 4
#define DATA_IDX_TYPE_UBYTE 0x08
#define DATA_CHUNK_BYTES 65536
#define DATA_GZ_BUFFER_BYTES (128u * 1024u)
/* First allocation for a payload, which then doubles as data arrives. */
#define DATA_FIRST_BUFFER_BYTES (1u << 20)

struct rg_dataset {
    int64_t n_rows;
    int64_t n_cols;
    uint8_t *bytes;  /* [n_rows, n_cols] raw bytes, or NULL */
    float *floats;   /* [n_rows, n_cols] values, or NULL */
    bool binarize;
    float threshold;
    float byte_values[256]; /* gathered value of each byte */
    float *std_mean;        /* [n_cols] standardisation, or NULL */
    float *std_scale;       /* [n_cols] divisors, set with std_mean */
};

rg_data_options rg_data_options_default(void)
{
    rg_data_options o = {false, 0.5f, 0};

    return o;
}

/* --- byte source ---------------------------------------------------------- */

/*
 * A gz stream with a few bytes of look-ahead, which format detection
 * reads and then hands back to the format's parser.
 */
typedef struct data_source {
    gzFile gz;
    const char *path;
    unsigned char pending[8];
    size_t n_pending;
    size_t pending_pos;
} data_source;

/* Turns a short gzread into an error when zlib recorded one. */
static rg_status check_gz_error(data_source *src, rg_error *err)
{
    int code = Z_OK;
    const char *msg = gzerror(src->gz, &code);
    size_t path_len = strlen(src->path);

    if (code == Z_OK) {
        return RG_STATUS_OK;
    }
    /* zlib starts its message with "<path>: ", which ours has already. */
    if (strncmp(msg, src->path, path_len) == 0
        && strncmp(msg + path_len, ": ", 2) == 0) {
        msg += path_len + 2;
    }
    if (code == Z_ERRNO) {
        return rg_error_set(err, RG_STATUS_IO, "%s: read failed: %s",
                            src->path, strerror(errno));
    }
    if (code == Z_BUF_ERROR) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: truncated gzip stream: %s", src->path, msg);
    }
    if (code == Z_MEM_ERROR) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory while decompressing",
                            src->path);
    }
    return rg_error_set(err, RG_STATUS_DATA, "%s: damaged gzip data: %s",
                        src->path, msg);
}

/* npz_read_fn over a data_source: look-ahead bytes first, then gzread. */
static rg_status source_read(void *ctx, void *buf, size_t n_bytes,
                             size_t *n_read, rg_error *err)
{
    data_source *src = ctx;
    unsigned char *out = buf;
    size_t done = 0;

    while (done < n_bytes && src->pending_pos < src->n_pending) {
        out[done++] = src->pending[src->pending_pos++];
    }
    while (done < n_bytes) {
        size_t want = n_bytes - done;
        int got;

        if (want > INT_MAX / 2) {
            want = INT_MAX / 2;
        }
        got = gzread(src->gz, out + done, (unsigned)want);
        if (got <= 0) {
            break;
        }
        done += (size_t)got;
    }
    *n_read = done;
    return done < n_bytes ? check_gz_error(src, err) : RG_STATUS_OK;
}

/* Reads and discards up to `n_bytes`, counting what was there. */
static rg_status source_skip(data_source *src, uint64_t n_bytes,
                             uint64_t *n_skipped, rg_error *err)
{
    unsigned char chunk[DATA_CHUNK_BYTES];
    rg_status st = RG_STATUS_OK;

    *n_skipped = 0;
    while (*n_skipped < n_bytes && st == RG_STATUS_OK) {
        uint64_t left = n_bytes - *n_skipped;
        size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
        size_t got = 0;

        st = source_read(src, chunk, want, &got, err);
        *n_skipped += got;
        if (got < want) {
            break;
        }
    }
    return st;
}

/* --- shared checks -------------------------------------------------------- */

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) {
        return false;
    }
    *out = a * b;
    return true;
}

/* Formats dimensions as "60000 x 28 x 28". */
static const char *format_dims(const uint64_t *dims, int rank, char *buf,
                               size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int i = 0; i < rank && n < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%llu", i > 0 ? " x " : "",
                         (unsigned long long)dims[i]);
        if (w < 0) {
            break;
        }
        n += (size_t)w;
    }
    return buf;
}

/* Layout of the array a header declares. */
typedef struct data_layout {
    uint64_t dims[NPZ_MAX_RANK];
    int rank;
    uint64_t n_rows;    /* dims[0] */
    uint64_t n_cols;    /* product of the other dims, 1 for rank 1 */
    size_t elem_bytes;  /* bytes of one element in the file */
    uint64_t n_keep;    /* rows kept after max_rows */
    uint64_t data_bytes; /* all rows, as the header declares */
} data_layout;

/*
 * Derives rows, columns and sizes from the dimensions in `lay`, checking
 * that there is at least one row and column and that nothing overflows.
 */
static rg_status layout_finish(const char *path, data_layout *lay,
                               int64_t max_rows, rg_error *err)
{
    char dims[160];
    uint64_t cells;

    format_dims(lay->dims, lay->rank, dims, sizeof(dims));
    lay->n_rows = lay->dims[0];
    lay->n_cols = 1;
    for (int i = 1; i < lay->rank; i++) {
        if (!mul_u64(lay->n_cols, lay->dims[i], &lay->n_cols)) {
            return rg_error_set(err, RG_STATUS_NO_MEMORY,
                                "%s: size %s overflows 64 bits", path, dims);
        }
    }
    if (lay->n_rows == 0 || lay->n_cols == 0) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: the header gives %s, which has no "
                            "examples or no values per example",
                            path, dims);
    }
    if (!mul_u64(lay->n_rows, lay->n_cols, &cells)
        || !mul_u64(cells, lay->elem_bytes, &lay->data_bytes)
        || lay->data_bytes > (uint64_t)INT64_MAX
        || lay->data_bytes > SIZE_MAX || cells > SIZE_MAX / sizeof(float)) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: size %s overflows the address space", path,
                            dims);
    }
    lay->n_keep = lay->n_rows;
    if (max_rows > 0 && (uint64_t)max_rows < lay->n_rows) {
        lay->n_keep = (uint64_t)max_rows;
    }
    return RG_STATUS_OK;
}

static rg_status truncated_error(const char *path, const data_layout *lay,
                                 uint64_t found, rg_error *err)
{
    char dims[160];

    format_dims(lay->dims, lay->rank, dims, sizeof(dims));
    return rg_error_set(err, RG_STATUS_DATA,
                        "%s: truncated: the header gives %s (%llu bytes of "
                        "data) but the file contains only %llu",
                        path, dims, (unsigned long long)lay->data_bytes,
                        (unsigned long long)found);
}

/*
 * Reads up to `n_bytes` into a heap buffer that grows as data arrives, so
 * a header that declares more data than the file contains costs no more
 * memory than the file. Stores the buffer in *out (the caller frees it,
 * also on failure) and the count read in *n_read.
 */
static rg_status read_growing(data_source *src, uint64_t n_bytes,
                              unsigned char **out, uint64_t *n_read,
                              rg_error *err)
{
    uint64_t cap = n_bytes < DATA_FIRST_BUFFER_BYTES ? n_bytes
                                                     : DATA_FIRST_BUFFER_BYTES;
    unsigned char *buf = malloc(cap > 0 ? (size_t)cap : 1);
    uint64_t done = 0;
    rg_status st = RG_STATUS_OK;

    while (buf != NULL && done < n_bytes && st == RG_STATUS_OK) {
        size_t want;
        size_t got = 0;

        if (done == cap) {
            uint64_t grown = cap < n_bytes / 2 ? 2 * cap : n_bytes;
            unsigned char *p = realloc(buf, (size_t)grown);
            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap = grown;
        }
        want = (size_t)(cap - done);
        st = source_read(src, buf + done, want, &got, err);
        done += got;
        if (got < want) {
            break;
        }
    }
    *out = buf;
    *n_read = done;
    if (buf == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory after reading %llu of %llu "
                            "bytes of data", src->path,
                            (unsigned long long)done,
                            (unsigned long long)n_bytes);
    }
    return st;
}

/*
 * Reads the kept rows (n_keep * n_cols elements of elem_bytes) into a new
 * heap buffer stored in *dst, which the caller frees, also on failure.
 * Then reads past the other rows and checks that nothing follows them.
 */
static rg_status read_payload(data_source *src, const data_layout *lay,
                              void **dst, rg_error *err)
{
    uint64_t keep_bytes = lay->n_keep * lay->n_cols * lay->elem_bytes;
    uint64_t skipped = 0;
    uint64_t kept = 0;
    unsigned char *data = NULL;
    size_t got = 0;
    unsigned char extra;
    rg_status st = read_growing(src, keep_bytes, &data, &kept, err);

    *dst = data;
    if (st != RG_STATUS_OK) {
        return st;
    }
    if (kept < keep_bytes) {
        return truncated_error(src->path, lay, kept, err);
    }
    st = source_skip(src, lay->data_bytes - keep_bytes, &skipped, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    if (keep_bytes + skipped < lay->data_bytes) {
        return truncated_error(src->path, lay, keep_bytes + skipped, err);
    }
    st = source_read(src, &extra, 1, &got, err);
    if (st == RG_STATUS_OK && got != 0) {
        char dims[160];
        format_dims(lay->dims, lay->rank, dims, sizeof(dims));
        st = rg_error_set(err, RG_STATUS_DATA,
                          "%s: the file continues after the %llu bytes of "
                          "data that its header gives (%s); the header or "
                          "the file is wrong",
                          src->path, (unsigned long long)lay->data_bytes,
                          dims);
    }
    return st;
}

/*
 * Creates a data set of n_rows x n_cols with no values yet: the loaders
 * set `bytes` or `floats` once the data has been read.
 */
static rg_status alloc_dataset(const char *path, uint64_t n_rows,
                               uint64_t n_cols, rg_dataset **out,
                               rg_error *err)
{
    rg_dataset *ds = calloc(1, sizeof(*ds));

    if (ds == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            path);
    }
    ds->n_rows = (int64_t)n_rows;
    ds->n_cols = (int64_t)n_cols;
    *out = ds;
    return RG_STATUS_OK;
}

/* Rejects NaN and infinite values, naming the first one's position. */
static rg_status check_finite(const char *path, const rg_dataset *ds,
                              rg_error *err)
{
    int64_t n = ds->n_rows * ds->n_cols;

    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(ds->floats[i])) {
            return rg_error_set(err, RG_STATUS_DATA,
                                "%s: row %lld, column %lld is %g; values "
                                "must be finite float32 numbers",
                                path, (long long)(i / ds->n_cols),
                                (long long)(i % ds->n_cols),
                                (double)ds->floats[i]);
        }
    }
    return RG_STATUS_OK;
}

/* --- IDX ------------------------------------------------------------------ */

static const char *idx_type_name(int type)
{
    switch (type) {
    case 0x09: return "signed byte";
    case 0x0b: return "int16";
    case 0x0c: return "int32";
    case 0x0d: return "float32";
    case 0x0e: return "float64";
    }
    return NULL;
}

/* Reads the IDX magic and dimensions into `lay`. */
static rg_status idx_read_header(data_source *src, data_layout *lay,
                                 rg_error *err)
{
    unsigned char magic[4];
    unsigned char dims[4 * DATA_IDX_MAX_RANK];
    size_t got = 0;
    rg_status st = source_read(src, magic, 4, &got, err);

    if (st == RG_STATUS_OK && got < 4) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: truncated: the file ends inside the 4-byte "
                            "IDX magic",
                            src->path);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    if (magic[2] != DATA_IDX_TYPE_UBYTE) {
        const char *name = idx_type_name(magic[2]);
        if (name != NULL) {
            return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                                "%s: IDX element type 0x%02x (%s) is not "
                                "supported; only 0x08 (unsigned byte) is",
                                src->path, magic[2], name);
        }
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: invalid IDX magic 00 00 %02x %02x: type "
                            "0x%02x is not an IDX element type",
                            src->path, magic[2], magic[3], magic[2]);
    }
    lay->rank = magic[3];
    if (lay->rank < 1 || lay->rank > DATA_IDX_MAX_RANK) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: IDX rank %d is invalid; expected 1 to %d "
                            "dimensions",
                            src->path, lay->rank, DATA_IDX_MAX_RANK);
    }
    st = source_read(src, dims, 4 * (size_t)lay->rank, &got, err);
    if (st == RG_STATUS_OK && got < 4 * (size_t)lay->rank) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: truncated: the file ends inside the IDX "
                            "header (%zu of %d dimension bytes present)",
                            src->path, got, 4 * lay->rank);
    }
    for (int i = 0; i < lay->rank && st == RG_STATUS_OK; i++) {
        const unsigned char *p = dims + 4 * i;
        lay->dims[i] = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16)
                       | ((uint64_t)p[2] << 8) | (uint64_t)p[3];
    }
    lay->elem_bytes = 1;
    return st;
}

static rg_status idx_load(data_source *src, const rg_data_options *opt,
                          rg_dataset **out, rg_error *err)
{
    data_layout lay = {0};
    rg_dataset *ds = NULL;
    rg_status st = idx_read_header(src, &lay, err);

    if (st == RG_STATUS_OK) {
        st = layout_finish(src->path, &lay, opt->max_rows, err);
    }
    if (st == RG_STATUS_OK) {
        st = alloc_dataset(src->path, lay.n_keep, lay.n_cols, &ds, err);
    }
    if (st == RG_STATUS_OK) {
        void *data = NULL;
        st = read_payload(src, &lay, &data, err);
        ds->bytes = data;
    }
    if (st != RG_STATUS_OK) {
        rg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return RG_STATUS_OK;
}

/* --- NumPy .npy ----------------------------------------------------------- */

/* Reads float64 payload rows into floats, rejecting values beyond float. */
static rg_status npy_read_f64(data_source *src, const data_layout *lay,
                              rg_dataset *ds, rg_error *err)
{
    uint64_t n = lay->n_keep * lay->n_cols;
    void *data = NULL;
    rg_status st = read_payload(src, lay, &data, err);
    double *tmp = data;

    if (st == RG_STATUS_OK) {
        ds->floats = malloc((size_t)n * sizeof(float));
        if (ds->floats == NULL) {
            st = rg_error_set(err, RG_STATUS_NO_MEMORY,
                              "%s: out of memory for %llu values",
                              src->path, (unsigned long long)n);
        }
    }
    if (st == RG_STATUS_OK) {
        npz_decode_le(NPZ_DTYPE_F64, tmp, (int64_t)n);
    }
    for (uint64_t i = 0; i < n && st == RG_STATUS_OK; i++) {
        if (isfinite(tmp[i]) && fabs(tmp[i]) > FLT_MAX) {
            st = rg_error_set(err, RG_STATUS_DATA,
                              "%s: row %llu, column %llu is %g, beyond the "
                              "float32 range",
                              src->path,
                              (unsigned long long)(i / lay->n_cols),
                              (unsigned long long)(i % lay->n_cols), tmp[i]);
        }
        ds->floats[i] = (float)tmp[i];
    }
    free(tmp);
    return st;
}

/* Checks the parsed .npy header and copies its shape into `lay`. */
static rg_status npy_layout(const char *path, const npz_npy_header *h,
                            data_layout *lay, rg_error *err)
{
    if (h->fortran_order) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: Fortran-order arrays are not supported; "
                            "save a C-order array "
                            "(numpy.ascontiguousarray)",
                            path);
    }
    if (h->dtype != NPZ_DTYPE_U8 && h->dtype != NPZ_DTYPE_F32
        && h->dtype != NPZ_DTYPE_F64) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: dtype '%s' is not supported for data; use "
                            "'|u1', '<f4' or '<f8'",
                            path, npz_dtype_descr(h->dtype));
    }
    if (h->rank < 1) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: the array is a scalar; expected at least "
                            "one dimension (rows)",
                            path);
    }
    lay->rank = h->rank;
    for (int i = 0; i < h->rank; i++) {
        lay->dims[i] = (uint64_t)h->shape[i];
    }
    lay->elem_bytes = npz_dtype_size(h->dtype);
    return RG_STATUS_OK;
}

static rg_status npy_load(data_source *src, const rg_data_options *opt,
                          rg_dataset **out, rg_error *err)
{
    npz_npy_header h;
    data_layout lay = {0};
    rg_dataset *ds = NULL;
    rg_status st = npz_npy_read_header(source_read, src, src->path, &h, err);

    if (st == RG_STATUS_OK) {
        st = npy_layout(src->path, &h, &lay, err);
    }
    if (st == RG_STATUS_OK) {
        st = layout_finish(src->path, &lay, opt->max_rows, err);
    }
    if (st == RG_STATUS_OK) {
        st = alloc_dataset(src->path, lay.n_keep, lay.n_cols, &ds, err);
    }
    if (st == RG_STATUS_OK && h.dtype == NPZ_DTYPE_F64) {
        st = npy_read_f64(src, &lay, ds, err);
    } else if (st == RG_STATUS_OK) {
        void *data = NULL;
        st = read_payload(src, &lay, &data, err);
        if (h.dtype == NPZ_DTYPE_U8) {
            ds->bytes = data;
        } else {
            ds->floats = data;
        }
    }
    if (st == RG_STATUS_OK && ds->floats != NULL) {
        npz_decode_le(NPZ_DTYPE_F32, ds->floats, ds->n_rows * ds->n_cols);
        st = check_finite(src->path, ds, err);
    }
    if (st != RG_STATUS_OK) {
        rg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return RG_STATUS_OK;
}

/* --- CSV ------------------------------------------------------------------ */

/* Reads the rest of the source into a NUL-terminated heap buffer. */
static rg_status slurp(data_source *src, char **out, size_t *out_len,
                       rg_error *err)
{
    size_t cap = DATA_CHUNK_BYTES;
    size_t len = 0;
    char *buf = malloc(cap);
    rg_status st = RG_STATUS_OK;

    while (buf != NULL && st == RG_STATUS_OK) {
        size_t got = 0;
        st = source_read(src, buf + len, cap - len - 1, &got, err);
        len += got;
        if (st != RG_STATUS_OK || len < cap - 1) {
            break;
        }
        char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, 2 * cap) : NULL;
        if (grown == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    if (buf == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory reading the file", src->path);
    }
    if (st != RG_STATUS_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return RG_STATUS_OK;
}

/* Values parsed so far: a growing [n_rows, n_cols] float matrix. */
typedef struct csv_table {
    float *values;
    size_t n_values;
    size_t cap_values;
    int64_t n_rows;    /* data rows seen, kept or not */
    int64_t n_keep;    /* rows stored */
    int64_t n_cols;    /* 0 until the first data row */
    long first_line;   /* line of the first data row */
    int64_t max_rows;
} csv_table;

typedef enum csv_field_kind {
    CSV_FIELD_NUMBER,
    CSV_FIELD_EMPTY,
    CSV_FIELD_TEXT,
} csv_field_kind;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Parses the field that starts at `*pos` in the line ending at `end`.
 * Leaves `*pos` after the field's comma and sets `*more` when a comma
 * ended the field, so "1,2," has a third, empty field.
 */
static csv_field_kind csv_field(const char **pos, const char *end,
                                bool *more, double *value,
                                const char **text, int *text_len)
{
    const char *p = *pos;
    const char *stop;
    char *num_end;
    csv_field_kind kind = CSV_FIELD_EMPTY;

    while (p < end && is_blank(*p)) {
        p++;
    }
    stop = p < end ? memchr(p, ',', (size_t)(end - p)) : NULL;
    stop = stop != NULL ? stop : end;
    *text = p;
    *text_len = (int)(stop - p);
    if (p < stop) {
        /* strtod cannot run past the field: ',' and '\n' end a number. */
        *value = strtod(p, &num_end);
        while (num_end < stop && is_blank(*num_end)) {
            num_end++;
        }
        kind = (num_end == stop && num_end != p) ? CSV_FIELD_NUMBER
                                                 : CSV_FIELD_TEXT;
    }
    *more = stop < end;
    *pos = *more ? stop + 1 : end;
    return kind;
}

/* Returns whether any field of the line is non-empty text (a header). */
static bool csv_line_is_header(const char *line, const char *end)
{
    const char *pos = line;
    bool more = true;
    double v;
    const char *text;
    int len;

    while (more) {
        if (csv_field(&pos, end, &more, &v, &text, &len) == CSV_FIELD_TEXT) {
            return true;
        }
    }
    return false;
}

static rg_status csv_push(const char *path, csv_table *t, float v,
                          rg_error *err)
{
    if (t->n_values == t->cap_values) {
        size_t cap = t->cap_values == 0 ? 1024 : 2 * t->cap_values;
        float *grown = cap <= SIZE_MAX / sizeof(float) / 2
                           ? realloc(t->values, cap * sizeof(float))
                           : NULL;
        if (grown == NULL) {
            return rg_error_set(err, RG_STATUS_NO_MEMORY,
                                "%s: out of memory for %zu values", path,
                                cap);
        }
        t->values = grown;
        t->cap_values = cap;
    }
    t->values[t->n_values++] = v;
    return RG_STATUS_OK;
}

static rg_status csv_field_error(const char *path, long line, int column,
                                 const char *text, int len, const char *why,
                                 rg_error *err)
{
    char shown[48];
    int n = len < (int)sizeof(shown) - 1 ? len : (int)sizeof(shown) - 1;

    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        shown[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    shown[n] = '\0';
    return rg_error_set(err, RG_STATUS_DATA,
                        "%s:%ld: column %d: '%s' %s", path, line, column,
                        shown, why);
}

/* Parses one data line into the table, checking every field. */
static rg_status csv_data_line(const char *path, csv_table *t, long line,
                               const char *start, const char *end,
                               rg_error *err)
{
    const char *pos = start;
    bool keep = t->max_rows <= 0 || t->n_rows < t->max_rows;
    bool more = true;
    int64_t n_fields = 0;
    rg_status st = RG_STATUS_OK;

    while (more && st == RG_STATUS_OK) {
        double v = 0.0;
        const char *text;
        int len;
        csv_field_kind kind = csv_field(&pos, end, &more, &v, &text, &len);
        int column = (int)(n_fields + 1);

        if (kind == CSV_FIELD_EMPTY) {
            return csv_field_error(path, line, column, text, len,
                                   "is empty; expected a number", err);
        }
        if (kind == CSV_FIELD_TEXT) {
            return csv_field_error(path, line, column, text, len,
                                   "is not a number", err);
        }
        if (!isfinite(v) || fabs(v) > FLT_MAX) {
            return csv_field_error(path, line, column, text, len,
                                   "is not a finite float32 number", err);
        }
        if (keep) {
            st = csv_push(path, t, (float)v, err);
        }
        n_fields++;
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    if (t->n_cols == 0) {
        t->n_cols = n_fields;
        t->first_line = line;
    } else if (n_fields != t->n_cols) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s:%ld: %lld columns, but line %ld has %lld",
                            path, line, (long long)n_fields, t->first_line,
                            (long long)t->n_cols);
    }
    t->n_rows++;
    t->n_keep += keep ? 1 : 0;
    return RG_STATUS_OK;
}

/* Returns the end of the line at `p`, not counting "\r\n" or "\n". */
static const char *line_end(const char *p, const char *buf_end,
                            const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(buf_end - p));
    const char *end = nl != NULL ? nl : buf_end;

    *next = nl != NULL ? nl + 1 : buf_end;
    while (end > p && is_blank(end[-1])) {
        end--;
    }
    return end;
}

static rg_status csv_parse(const char *path, const char *buf, size_t len,
                           csv_table *t, rg_error *err)
{
    const char *p = buf;
    const char *buf_end = buf + len;
    bool first = true;
    long line = 0;
    rg_status st = RG_STATUS_OK;

    while (p < buf_end && st == RG_STATUS_OK) {
        const char *next;
        const char *end = line_end(p, buf_end, &next);
        const char *start = p;

        line++;
        p = next;
        while (start < end && is_blank(*start)) {
            start++;
        }
        if (start == end) {
            continue; /* blank line */
        }
        if (first && csv_line_is_header(start, end)) {
            first = false;
            continue;
        }
        first = false;
        st = csv_data_line(path, t, line, start, end, err);
    }
    if (st == RG_STATUS_OK && t->n_rows == 0) {
        st = rg_error_set(err, RG_STATUS_DATA,
                          "%s: no data rows (a CSV file needs at least one "
                          "line of numbers)",
                          path);
    }
    return st;
}

static rg_status csv_load(data_source *src, const rg_data_options *opt,
                          rg_dataset **out, rg_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    csv_table t = {0};
    rg_dataset *ds;
    rg_status st = slurp(src, &buf, &len, err);

    t.max_rows = opt->max_rows;
    if (st == RG_STATUS_OK && memchr(buf, '\0', len) != NULL) {
        st = rg_error_set(err, RG_STATUS_DATA,
                          "%s: not an IDX, .npy or CSV file (it contains "
                          "NUL bytes but no IDX or NumPy magic)",
                          src->path);
    }
    if (st == RG_STATUS_OK) {
        st = csv_parse(src->path, buf, len, &t, err);
    }
    free(buf);
    if (st != RG_STATUS_OK) {
        free(t.values);
        return st;
    }
    ds = calloc(1, sizeof(*ds));
    if (ds == NULL) {
        free(t.values);
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            src->path);
    }
    ds->floats = t.values;
    ds->n_rows = t.n_keep;
    ds->n_cols = t.n_cols;
    *out = ds;
    return RG_STATUS_OK;
}

/* --- public API ----------------------------------------------------------- */

static rg_status check_options(const rg_data_options *opt, rg_error *err)
{
    if (opt->max_rows < 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "max_rows is %lld; expected 0 (all rows) or a "
                            "positive count",
                            (long long)opt->max_rows);
    }
    if (opt->binarize && !isfinite(opt->threshold)) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "binarize threshold %g is not finite",
                            (double)opt->threshold);
    }
    return RG_STATUS_OK;
}

/* Stores the options that rg_dataset_gather applies. */
static void apply_options(rg_dataset *ds, const rg_data_options *opt)
{
    ds->binarize = opt->binarize;
    ds->threshold = opt->threshold;
    for (int b = 0; b < 256; b++) {
        /* A product, not a quotient, because the OpenCL upload path
         * converts bytes on the device, where only the product is
         * correctly rounded; both paths then give the same floats. */
        float v = (float)b * RG_BYTE_SCALE;
        ds->byte_values[b] = opt->binarize ? (v > opt->threshold ? 1.0f : 0.0f)
                                           : v;
    }
}

static rg_status open_source(const char *path, data_source *src,
                             rg_error *err)
{
    size_t got = 0;
    rg_status st;

    memset(src, 0, sizeof(*src));
    src->path = path;
    errno = 0;
    src->gz = gzopen(path, "rb");
    if (src->gz == NULL) {
        int e = errno;
        return rg_error_set(err,
                            e == ENOENT ? RG_STATUS_NOT_FOUND : RG_STATUS_IO,
                            "%s: cannot open: %s", path,
                            e != 0 ? strerror(e) : "out of memory");
    }
    gzbuffer(src->gz, DATA_GZ_BUFFER_BYTES);
    st = source_read(src, src->pending, sizeof(src->pending), &got, err);
    src->n_pending = got;
    if (st == RG_STATUS_OK && got == 0) {
        st = rg_error_set(err, RG_STATUS_DATA, "%s: the file is empty",
                          path);
    }
    return st;
}

rg_status rg_dataset_load(const char *path, const rg_data_options *options,
                          rg_dataset **out, rg_error *err)
{
    rg_data_options opt =
        options != NULL ? *options : rg_data_options_default();
    data_source src = {0};
    rg_dataset *ds = NULL;
    rg_status st;

    if (path == NULL || out == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_dataset_load: path and out must not be NULL");
    }
    *out = NULL;
    st = check_options(&opt, err);
    if (st == RG_STATUS_OK) {
        st = open_source(path, &src, err);
    }
    if (st == RG_STATUS_OK) {
        /* The format comes from the first bytes, after decompression. */
        if (src.n_pending >= 6 && memcmp(src.pending, "\x93NUMPY", 6) == 0) {
            st = npy_load(&src, &opt, &ds, err);
        } else if (src.n_pending >= 2 && src.pending[0] == 0
                   && src.pending[1] == 0) {
            st = idx_load(&src, &opt, &ds, err);
        } else {
            st = csv_load(&src, &opt, &ds, err);
        }
    }
    if (src.gz != NULL) {
        gzclose_r(src.gz);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    apply_options(ds, &opt);
    *out = ds;
    return RG_STATUS_OK;
}

void rg_dataset_free(rg_dataset *ds)
{
    if (ds == NULL) {
        return;
    }
    free(ds->bytes);
    free(ds->floats);
    free(ds->std_mean);
    free(ds->std_scale);
    free(ds);
}

int64_t rg_dataset_n_rows(const rg_dataset *ds)
{
    return ds->n_rows;
}

int64_t rg_dataset_n_cols(const rg_dataset *ds)
{
    return ds->n_cols;
}

/* Copies row `r`, scaled and binarized but not standardised, to `out`. */
static void gather_raw(const rg_dataset *ds, int64_t r, float *out)
{
    int64_t n_cols = ds->n_cols;

    RG_ASSERT(r >= 0 && r < ds->n_rows);
    if (ds->bytes != NULL) {
        const uint8_t *in = ds->bytes + r * n_cols;
        for (int64_t c = 0; c < n_cols; c++) {
            out[c] = ds->byte_values[in[c]];
        }
    } else if (ds->binarize) {
        const float *in = ds->floats + r * n_cols;
        for (int64_t c = 0; c < n_cols; c++) {
            out[c] = in[c] > ds->threshold ? 1.0f : 0.0f;
        }
    } else {
        memcpy(out, ds->floats + r * n_cols, (size_t)n_cols * sizeof(float));
    }
}

bool rg_dataset_gather_bytes(const rg_dataset *ds, const int64_t *rows,
                             int64_t n_selected, uint8_t *dst)
{
    if (ds->bytes == NULL || ds->binarize || ds->std_mean != NULL) {
        return false;
    }
    for (int64_t s = 0; s < n_selected; s++) {
        memcpy(dst + s * ds->n_cols, ds->bytes + rows[s] * ds->n_cols,
               (size_t)ds->n_cols);
    }
    return true;
}

void rg_dataset_gather(const rg_dataset *ds, const int64_t *rows,
                       int64_t n_selected, float *dst)
{
    int64_t n_cols = ds->n_cols;

    for (int64_t s = 0; s < n_selected; s++) {
        float *out = dst + s * n_cols;

        gather_raw(ds, rows[s], out);
        if (ds->std_mean != NULL) {
            for (int64_t c = 0; c < n_cols; c++) {
                out[c] = (out[c] - ds->std_mean[c]) / ds->std_scale[c];
            }
        }
    }
}

/* --- standardisation ------------------------------------------------------ */

rg_status rg_dataset_column_stats(const rg_dataset *ds, double min_std,
                                  float *mean, float *std, rg_error *err)
{
    size_t n_cols = (size_t)ds->n_cols;
    double *sum = calloc(n_cols, sizeof(double));
    double *sum_sq = calloc(n_cols, sizeof(double));
    float *row = malloc(n_cols * sizeof(float));

    if (!(isfinite(min_std) && min_std > 0.0)) {
        free(sum);
        free(sum_sq);
        free(row);
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "min_std is %g; expected a finite number above 0",
                            min_std);
    }
    if (sum == NULL || sum_sq == NULL || row == NULL) {
        free(sum);
        free(sum_sq);
        free(row);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory for column statistics");
    }

    /* Shifting by the first row keeps the variance accurate when a
     * column's mean is large next to its spread. */
    float *shift = mean;
    gather_raw(ds, 0, shift);
    for (int64_t r = 0; r < ds->n_rows; r++) {
        gather_raw(ds, r, row);
        for (size_t c = 0; c < n_cols; c++) {
            double d = (double)row[c] - (double)shift[c];
            sum[c] += d;
            sum_sq[c] += d * d;
        }
    }
    for (size_t c = 0; c < n_cols; c++) {
        double n = (double)ds->n_rows;
        double d_mean = sum[c] / n;
        double var = sum_sq[c] / n - d_mean * d_mean;
        double sd = sqrt(var > 0.0 ? var : 0.0);

        mean[c] = (float)((double)shift[c] + d_mean);
        std[c] = (float)(sd > min_std ? sd : min_std);
    }
    free(sum);
    free(sum_sq);
    free(row);
    return RG_STATUS_OK;
}

rg_status rg_dataset_set_standardize(rg_dataset *ds, const float *mean,
                                     const float *std, rg_error *err)
{
    size_t n_bytes = (size_t)ds->n_cols * sizeof(float);
    float *new_mean;
    float *new_scale;

    if (mean == NULL || std == NULL) {
        free(ds->std_mean);
        free(ds->std_scale);
        ds->std_mean = NULL;
        ds->std_scale = NULL;
        return RG_STATUS_OK;
    }
    for (int64_t c = 0; c < ds->n_cols; c++) {
        if (!isfinite(mean[c]) || !isfinite(std[c]) || !(std[c] > 0.0f)) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "standardisation of column %lld has mean %g "
                                "and standard deviation %g; both must be "
                                "finite and the deviation above 0",
                                (long long)c, (double)mean[c],
                                (double)std[c]);
        }
    }
    new_mean = malloc(n_bytes);
    new_scale = malloc(n_bytes);
    if (new_mean == NULL || new_scale == NULL) {
        free(new_mean);
        free(new_scale);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory for standardisation");
    }
    memcpy(new_mean, mean, n_bytes);
    memcpy(new_scale, std, n_bytes);
    free(ds->std_mean);
    free(ds->std_scale);
    ds->std_mean = new_mean;
    ds->std_scale = new_scale;
    return RG_STATUS_OK;
}

/* --- shuffle -------------------------------------------------------------- */

/*
 * Draws an integer uniform on [0, bound) without modulo bias: 64-bit
 * draws below 2^64 mod bound are rejected, so the accepted range is a
 * whole number of copies of [0, bound). `*counter` indexes the draws.
 */
static uint64_t draw_below(uint64_t seed, uint64_t epoch, uint64_t bound,
                           uint64_t *counter)
{
    uint64_t reject_below = (0 - bound) % bound;

    for (;;) {
        rg_philox_u4 b = rg_philox_draw_block(seed, epoch,
                                              DATA_SHUFFLE_STREAM,
                                              (*counter)++);
        uint64_t x = (uint64_t)b.v[0] | ((uint64_t)b.v[1] << 32);

        if (x >= reject_below) {
            return x % bound;
        }
    }
}

void rg_shuffle(uint64_t seed, uint64_t epoch, int64_t n, int64_t *perm)
{
    uint64_t counter = 0;

    for (int64_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    /* Fisher-Yates: position i takes a uniform pick from positions 0..i. */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)draw_below(seed, epoch, (uint64_t)i + 1,
                                        &counter);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
