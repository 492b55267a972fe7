/*
 * NumPy .npy headers and .npz archives: the header parser shared with the
 * data loaders, a zip writer and a validating zip reader.
 *
 * Invariant: the reader hands out no byte of a member before its local
 * header, sizes and offsets have been checked against the central
 * directory and the file size, and no array before its CRC-32 matched.
 * The zip layout follows PKWARE's APPNOTE.TXT (local file header,
 * central directory header, end of central directory record).
 */
#include "exec/npz.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "graph/error_internal.h"

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_END_SIG 0x06054b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP_LOCAL_BYTES 30
#define ZIP_CENTRAL_BYTES 46
#define ZIP_END_BYTES 22
#define ZIP64_LOCATOR_BYTES 20
#define ZIP_MAX_COMMENT_BYTES 65535
/* Zip specification version 2.0, written in both version fields. */
#define ZIP_VERSION 20
#define ZIP_FLAG_ENCRYPTED 0x0001u
#define ZIP_FLAG_UTF8 0x0800u
#define ZIP_METHOD_STORED 0
#define ZIP_METHOD_DEFLATE 8
/* DOS date of 1980-01-01, time 00:00, so equal inputs give equal files. */
#define ZIP_DOS_DATE 0x0021u
#define ZIP_DOS_TIME 0x0000u
/* Sizes and offsets at or above this need zip64, which is not written. */
#define ZIP_LIMIT 0xffffffffu
#define ZIP_MAX_MEMBERS 0xffff

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_BYTES 6
/* numpy pads the preamble and header to a multiple of 64 bytes. */
#define NPY_ALIGN 64
/* Maximum header text length, far above what numpy writes for any shape. */
#define NPY_MAX_HEADER_BYTES (1u << 20)

#define NPZ_CHUNK_BYTES 65536
#define NPZ_WHERE_BYTES 512

/* --- little-endian byte access ------------------------------------------ */

static void put_u16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)((v >> (8 * i)) & 0xff);
    }
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)((v >> (8 * i)) & 0xff);
    }
}

static unsigned get_u16(const unsigned char *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16)
           | ((uint32_t)p[3] << 24);
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;

    memcpy(&first, &one, 1);
    return first == 1;
}

/* --- dtypes --------------------------------------------------------------- */

size_t npz_dtype_size(npz_dtype dtype)
{
    switch (dtype) {
    case NPZ_DTYPE_U8: return 1;
    case NPZ_DTYPE_F32: return 4;
    case NPZ_DTYPE_F64: return 8;
    case NPZ_DTYPE_I64: return 8;
    case NPZ_DTYPE_U64: return 8;
    }
    return 0;
}

const char *npz_dtype_descr(npz_dtype dtype)
{
    switch (dtype) {
    case NPZ_DTYPE_U8: return "|u1";
    case NPZ_DTYPE_F32: return "<f4";
    case NPZ_DTYPE_F64: return "<f8";
    case NPZ_DTYPE_I64: return "<i8";
    case NPZ_DTYPE_U64: return "<u8";
    }
    return "?";
}

/* Maps a descr to a dtype. "<u1" is accepted as a spelling of "|u1". */
static bool dtype_from_descr(const char *descr, npz_dtype *out)
{
    static const struct {
        const char *descr;
        npz_dtype dtype;
    } table[] = {
        {"|u1", NPZ_DTYPE_U8},  {"<u1", NPZ_DTYPE_U8},
        {"<f4", NPZ_DTYPE_F32}, {"<f8", NPZ_DTYPE_F64},
        {"<i8", NPZ_DTYPE_I64}, {"<u8", NPZ_DTYPE_U64},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(descr, table[i].descr) == 0) {
            *out = table[i].dtype;
            return true;
        }
    }
    return false;
}

void npz_decode_le(npz_dtype dtype, void *data, int64_t n_elements)
{
    size_t size = npz_dtype_size(dtype);
    unsigned char *p = data;

    if (host_is_little_endian() || size == 1) {
        return;
    }
    for (int64_t i = 0; i < n_elements; i++, p += size) {
        for (size_t lo = 0, hi = size - 1; lo < hi; lo++, hi--) {
            unsigned char t = p[lo];
            p[lo] = p[hi];
            p[hi] = t;
        }
    }
}

/* Converts `n_elements` host-order elements to little-endian at `dst`. */
static void encode_le(npz_dtype dtype, const void *src, size_t n_elements,
                      unsigned char *dst)
{
    size_t size = npz_dtype_size(dtype);
    const unsigned char *s = src;

    if (host_is_little_endian() || size == 1) {
        memcpy(dst, src, n_elements * size);
        return;
    }
    for (size_t i = 0; i < n_elements; i++) {
        if (size == 4) {
            uint32_t v;
            memcpy(&v, s + 4 * i, 4);
            put_u32(dst + 4 * i, v);
        } else {
            uint64_t v;
            memcpy(&v, s + 8 * i, 8);
            put_u64(dst + 8 * i, v);
        }
    }
}

/*
 * Multiplies the dimensions and the element size, checking for overflow.
 * Returns false when a dimension is negative or a product exceeds
 * INT64_MAX.
 */
static bool shape_sizes(int rank, const int64_t *shape, size_t elem_size,
                        int64_t *n_elements, uint64_t *n_bytes)
{
    int64_t n = 1;

    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) {
            return false;
        }
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) {
            return false;
        }
        n *= shape[i];
    }
    if ((uint64_t)n > (uint64_t)INT64_MAX / elem_size) {
        return false;
    }
    *n_elements = n;
    *n_bytes = (uint64_t)n * elem_size;
    return true;
}

/* --- .npy header parsing ---------------------------------------------- */

typedef struct header_parser {
    const char *text;
    const char *pos;
    const char *end;
    const char *where;
    rg_error *err;
} header_parser;

static rg_status parse_fail(header_parser *p, const char *expected)
{
    char shown[96];
    size_t n = (size_t)(p->end - p->text);

    /* Show the start of the header with control bytes masked. */
    if (n > sizeof(shown) - 1) {
        n = sizeof(shown) - 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p->text[i];
        shown[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    shown[n] = '\0';
    return rg_error_set(p->err, RG_STATUS_DATA,
                        "%s: invalid .npy header: expected %s at offset %d "
                        "of \"%s\"",
                        p->where, expected, (int)(p->pos - p->text), shown);
}

static void skip_space(header_parser *p)
{
    while (p->pos < p->end
           && (*p->pos == ' ' || *p->pos == '\t' || *p->pos == '\n'
               || *p->pos == '\r')) {
        p->pos++;
    }
}

/* Skips blanks, then consumes `c` if it is next. */
static bool accept_char(header_parser *p, char c)
{
    skip_space(p);
    if (p->pos < p->end && *p->pos == c) {
        p->pos++;
        return true;
    }
    return false;
}

static bool accept_word(header_parser *p, const char *word)
{
    size_t n = strlen(word);

    skip_space(p);
    if ((size_t)(p->end - p->pos) >= n && memcmp(p->pos, word, n) == 0) {
        p->pos += n;
        return true;
    }
    return false;
}

/* Parses a Python string literal without escapes into `out`. */
static rg_status parse_string(header_parser *p, char *out, size_t size)
{
    char quote;
    size_t n = 0;

    skip_space(p);
    if (p->pos >= p->end || (*p->pos != '\'' && *p->pos != '"')) {
        return parse_fail(p, "a quoted string");
    }
    quote = *p->pos++;
    while (p->pos < p->end && *p->pos != quote) {
        if (*p->pos == '\\' || n + 1 >= size) {
            return parse_fail(p, "a short string without escapes");
        }
        out[n++] = *p->pos++;
    }
    if (p->pos >= p->end) {
        return parse_fail(p, "a closing quote");
    }
    p->pos++;
    out[n] = '\0';
    return RG_STATUS_OK;
}

static rg_status parse_bool(header_parser *p, bool *out)
{
    if (accept_word(p, "True")) {
        *out = true;
    } else if (accept_word(p, "False")) {
        *out = false;
    } else {
        return parse_fail(p, "True or False");
    }
    return RG_STATUS_OK;
}

static rg_status parse_dim(header_parser *p, int64_t *out)
{
    int64_t v = 0;

    skip_space(p);
    if (p->pos >= p->end || *p->pos < '0' || *p->pos > '9') {
        return parse_fail(p, "a non-negative integer dimension");
    }
    while (p->pos < p->end && *p->pos >= '0' && *p->pos <= '9') {
        int digit = *p->pos - '0';
        if (v > (INT64_MAX - digit) / 10) {
            return parse_fail(p, "a dimension below 2^63");
        }
        v = v * 10 + digit;
        p->pos++;
    }
    /* Python 2 wrote long integers with an L suffix. */
    if (p->pos < p->end && *p->pos == 'L') {
        p->pos++;
    }
    *out = v;
    return RG_STATUS_OK;
}

/* Parses a shape tuple: "()", "(5,)", "(2, 3)". A trailing comma is allowed. */
static rg_status parse_shape(header_parser *p, npz_npy_header *h)
{
    rg_status st;

    if (!accept_char(p, '(')) {
        return parse_fail(p, "'(' starting the shape tuple");
    }
    h->rank = 0;
    while (!accept_char(p, ')')) {
        if (h->rank == NPZ_MAX_RANK) {
            return parse_fail(p, "at most 8 dimensions");
        }
        st = parse_dim(p, &h->shape[h->rank]);
        if (st != RG_STATUS_OK) {
            return st;
        }
        h->rank++;
        if (!accept_char(p, ',')) {
            if (!accept_char(p, ')')) {
                return parse_fail(p, "',' or ')' in the shape tuple");
            }
            break;
        }
    }
    return RG_STATUS_OK;
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4, KEY_ALL = 7 };

/* Parses one "key: value" entry of the header dictionary. */
static rg_status parse_entry(header_parser *p, npz_npy_header *h,
                             char *descr, size_t descr_size, int *seen)
{
    char key[32];
    int bit;
    rg_status st = parse_string(p, key, sizeof(key));

    if (st != RG_STATUS_OK) {
        return st;
    }
    if (!accept_char(p, ':')) {
        return parse_fail(p, "':' after a key");
    }
    if (strcmp(key, "descr") == 0) {
        bit = KEY_DESCR;
        st = parse_string(p, descr, descr_size);
    } else if (strcmp(key, "fortran_order") == 0) {
        bit = KEY_FORTRAN;
        st = parse_bool(p, &h->fortran_order);
    } else if (strcmp(key, "shape") == 0) {
        bit = KEY_SHAPE;
        st = parse_shape(p, h);
    } else {
        return parse_fail(p, "only the keys descr, fortran_order and shape");
    }
    if (st == RG_STATUS_OK && (*seen & bit)) {
        return parse_fail(p, "each key once");
    }
    *seen |= bit;
    return st;
}

/* Parses the header dictionary into `h` and the descr string. */
static rg_status parse_dict(header_parser *p, npz_npy_header *h, char *descr,
                            size_t descr_size)
{
    int seen = 0;
    rg_status st;

    if (!accept_char(p, '{')) {
        return parse_fail(p, "'{'");
    }
    while (!accept_char(p, '}')) {
        st = parse_entry(p, h, descr, descr_size, &seen);
        if (st != RG_STATUS_OK) {
            return st;
        }
        if (!accept_char(p, ',')) {
            if (!accept_char(p, '}')) {
                return parse_fail(p, "',' or '}'");
            }
            break;
        }
    }
    if (seen != KEY_ALL) {
        return parse_fail(p, "all of the keys descr, fortran_order, shape");
    }
    skip_space(p);
    if (p->pos != p->end) {
        return parse_fail(p, "only blanks after '}'");
    }
    return RG_STATUS_OK;
}

/* Checks the parsed descr and shape and fills the derived sizes. */
static rg_status check_header(const char *where, const char *descr,
                              npz_npy_header *h, rg_error *err)
{
    if (!dtype_from_descr(descr, &h->dtype)) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: dtype '%s' is not supported; use one of "
                            "'|u1', '<f4', '<f8', '<i8', '<u8'",
                            where, descr);
    }
    if (!shape_sizes(h->rank, h->shape, npz_dtype_size(h->dtype),
                     &h->n_elements, &h->data_bytes)) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: the .npy shape's size overflows 64 bits",
                            where);
    }
    return RG_STATUS_OK;
}

/* Reads exactly `n` bytes or reports the truncation as `what`. */
static rg_status read_exact(npz_read_fn read, void *ctx, void *buf, size_t n,
                            const char *where, const char *what,
                            rg_error *err)
{
    size_t got = 0;
    rg_status st = read(ctx, buf, n, &got, err);

    if (st != RG_STATUS_OK) {
        return st;
    }
    if (got < n) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: truncated: the data ends inside the %s "
                            "(%zu of %zu bytes present)",
                            where, what, got, n);
    }
    return RG_STATUS_OK;
}

/* Reads the magic, version and header length field. */
static rg_status read_preamble(npz_read_fn read, void *ctx, const char *where,
                               size_t *preamble_bytes, uint32_t *text_bytes,
                               rg_error *err)
{
    unsigned char pre[12];
    size_t len_bytes;
    rg_status st = read_exact(read, ctx, pre, 8, where, ".npy magic", err);

    if (st != RG_STATUS_OK) {
        return st;
    }
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_BYTES) != 0) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: not a .npy file (the magic \\x93NUMPY is "
                            "missing)",
                            where);
    }
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: .npy version %u.%u is not supported; "
                            "versions 1.0, 2.0 and 3.0 are",
                            where, pre[6], pre[7]);
    }
    len_bytes = pre[6] == 1 ? 2 : 4;
    st = read_exact(read, ctx, pre + 8, len_bytes, where,
                    ".npy header length", err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    *text_bytes = len_bytes == 2 ? get_u16(pre + 8) : get_u32(pre + 8);
    *preamble_bytes = 8 + len_bytes;
    return RG_STATUS_OK;
}

rg_status npz_npy_read_header(npz_read_fn read, void *ctx, const char *where,
                              npz_npy_header *out, rg_error *err)
{
    size_t preamble_bytes = 0;
    uint32_t text_bytes = 0;
    char *text;
    char descr[16];
    header_parser p;
    rg_status st;

    memset(out, 0, sizeof(*out));
    st = read_preamble(read, ctx, where, &preamble_bytes, &text_bytes, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    if (text_bytes > NPY_MAX_HEADER_BYTES) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: .npy header length %u exceeds the limit of "
                            "%u bytes",
                            where, (unsigned)text_bytes,
                            (unsigned)NPY_MAX_HEADER_BYTES);
    }
    text = malloc((size_t)text_bytes + 1);
    if (text == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for the .npy header", where);
    }
    st = read_exact(read, ctx, text, text_bytes, where, ".npy header", err);
    if (st == RG_STATUS_OK) {
        p = (header_parser){text, text, text + text_bytes, where, err};
        st = parse_dict(&p, out, descr, sizeof(descr));
    }
    if (st == RG_STATUS_OK) {
        st = check_header(where, descr, out, err);
    }
    free(text);
    out->header_bytes = preamble_bytes + text_bytes;
    return st;
}

/*
 * Formats a version 1.0 preamble and header for a C-order array into
 * `buf`, padded with blanks and a newline to a multiple of 64 bytes.
 * Returns the length. `buf` must hold 512 bytes, which fits any rank up
 * to NPZ_MAX_RANK.
 */
static size_t format_npy_header(npz_dtype dtype, int rank,
                                const int64_t *shape, unsigned char *buf)
{
    char dict[448];
    int n;
    size_t total;

    n = snprintf(dict, sizeof(dict),
                 "{'descr': '%s', 'fortran_order': False, 'shape': (",
                 npz_dtype_descr(dtype));
    for (int i = 0; i < rank; i++) {
        n += snprintf(dict + n, sizeof(dict) - (size_t)n, "%s%lld",
                      i > 0 ? ", " : "", (long long)shape[i]);
    }
    n += snprintf(dict + n, sizeof(dict) - (size_t)n, "%s), }",
                  rank == 1 ? "," : "");

    /* Preamble (10 bytes) + dict + blanks + '\n' is a multiple of 64. */
    total = ((size_t)NPY_MAGIC_BYTES + 4 + (size_t)n + 1 + NPY_ALIGN - 1)
            / NPY_ALIGN * NPY_ALIGN;
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_BYTES);
    buf[6] = 1;
    buf[7] = 0;
    put_u16(buf + 8, (unsigned)(total - 10));
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

rg_status npz_npy_write(FILE *fp, const char *where, npz_dtype dtype,
                        int rank, const int64_t *shape, const void *data,
                        rg_error *err)
{
    size_t size = npz_dtype_size(dtype);
    size_t per_chunk = NPZ_CHUNK_BYTES / size;
    const unsigned char *src = data;
    unsigned char header[512];
    unsigned char *chunk;
    size_t header_bytes;
    int64_t n_elements;
    uint64_t n_bytes;
    bool ok;

    if (rank < 0 || rank > NPZ_MAX_RANK
        || !shape_sizes(rank, shape, size, &n_elements, &n_bytes)) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: invalid array rank %d or shape", where,
                            rank);
    }
    chunk = malloc(NPZ_CHUNK_BYTES);
    if (chunk == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for a write buffer", where);
    }
    header_bytes = format_npy_header(dtype, rank, shape, header);
    ok = fwrite(header, 1, header_bytes, fp) == header_bytes;
    for (int64_t done = 0; done < n_elements && ok;) {
        size_t n = (size_t)(n_elements - done) < per_chunk
                       ? (size_t)(n_elements - done)
                       : per_chunk;
        encode_le(dtype, src + (size_t)done * size, n, chunk);
        ok = fwrite(chunk, 1, n * size, fp) == n * size;
        done += (int64_t)n;
    }
    free(chunk);
    if (!ok) {
        return rg_error_set(err, RG_STATUS_IO, "%s: write failed: %s", where,
                            strerror(errno));
    }
    return RG_STATUS_OK;
}

/* --- writer --------------------------------------------------------------- */

typedef struct zip_entry {
    char *name;
    uint32_t crc;
    uint32_t size;
    uint32_t offset;
    unsigned flags;
} zip_entry;

struct npz_writer {
    FILE *fp;
    char *where;
    uint64_t offset; /* bytes written so far */
    zip_entry *entries;
    int n_entries;
    int cap_entries;
    bool failed; /* a write failed; the archive is unusable */
};

rg_status npz_writer_new(FILE *fp, const char *where, npz_writer **out,
                         rg_error *err)
{
    npz_writer *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL || (w->where = strdup(where)) == NULL) {
        free(w);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for the archive writer",
                            where);
    }
    w->fp = fp;
    *out = w;
    return RG_STATUS_OK;
}

void npz_writer_free(npz_writer *w)
{
    if (w == NULL) {
        return;
    }
    for (int i = 0; i < w->n_entries; i++) {
        free(w->entries[i].name);
    }
    free(w->entries);
    free(w->where);
    free(w);
}

static rg_status write_bytes(npz_writer *w, const void *buf, size_t n,
                             rg_error *err)
{
    if (n > 0 && fwrite(buf, 1, n, w->fp) != n) {
        w->failed = true;
        return rg_error_set(err, RG_STATUS_IO, "%s: write failed: %s",
                            w->where, strerror(errno));
    }
    w->offset += n;
    return RG_STATUS_OK;
}

/* Runs `data` through encode_le in chunks, updating the CRC or writing. */
static rg_status stream_data(npz_writer *w, npz_dtype dtype,
                             const void *data, int64_t n_elements,
                             uLong *crc, rg_error *err)
{
    size_t size = npz_dtype_size(dtype);
    size_t per_chunk = NPZ_CHUNK_BYTES / size;
    const unsigned char *src = data;
    unsigned char *chunk = malloc(NPZ_CHUNK_BYTES);
    rg_status st = RG_STATUS_OK;

    if (chunk == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for a write buffer",
                            w->where);
    }
    for (int64_t done = 0; done < n_elements && st == RG_STATUS_OK;) {
        size_t n = (size_t)(n_elements - done) < per_chunk
                       ? (size_t)(n_elements - done)
                       : per_chunk;
        encode_le(dtype, src + (size_t)done * size, n, chunk);
        if (crc != NULL) {
            *crc = crc32(*crc, chunk, (uInt)(n * size));
        } else {
            st = write_bytes(w, chunk, n * size, err);
        }
        done += (int64_t)n;
    }
    free(chunk);
    return st;
}

/* Checks the name and shape of a member about to be added. */
static rg_status check_member(const npz_writer *w, const char *name, int rank,
                              const int64_t *shape, size_t elem_size,
                              int64_t *n_elements, uint64_t *data_bytes,
                              rg_error *err)
{
    size_t name_len = strlen(name);

    if (w->failed) {
        return rg_error_set(err, RG_STATUS_IO,
                            "%s: an earlier write failed", w->where);
    }
    if (name_len == 0 || name_len > 0xffff) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: member name length %zu is outside 1..65535",
                            w->where, name_len);
    }
    for (int i = 0; i < w->n_entries; i++) {
        if (strcmp(w->entries[i].name, name) == 0) {
            return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                                "%s: duplicate member name '%s'", w->where,
                                name);
        }
    }
    if (rank < 0 || rank > NPZ_MAX_RANK
        || !shape_sizes(rank, shape, elem_size, n_elements, data_bytes)) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: member '%s' has an invalid shape (rank %d)",
                            w->where, name, rank);
    }
    if (w->n_entries >= ZIP_MAX_MEMBERS - 1) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: more than %d members need zip64, which is "
                            "not supported",
                            w->where, ZIP_MAX_MEMBERS - 1);
    }
    return RG_STATUS_OK;
}

static rg_status grow_entries(npz_writer *w, rg_error *err)
{
    int cap = w->cap_entries == 0 ? 16 : 2 * w->cap_entries;
    zip_entry *e;

    if (w->n_entries < w->cap_entries) {
        return RG_STATUS_OK;
    }
    e = realloc(w->entries, (size_t)cap * sizeof(*e));
    if (e == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for the member list",
                            w->where);
    }
    w->entries = e;
    w->cap_entries = cap;
    return RG_STATUS_OK;
}

static bool name_is_ascii(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p >= 0x80) {
            return false;
        }
    }
    return true;
}

/* Fills the fields shared by local and central headers, from "version". */
static void put_common_fields(unsigned char *p, const zip_entry *e,
                              size_t name_len)
{
    put_u16(p, ZIP_VERSION);
    put_u16(p + 2, e->flags);
    put_u16(p + 4, ZIP_METHOD_STORED);
    put_u16(p + 6, ZIP_DOS_TIME);
    put_u16(p + 8, ZIP_DOS_DATE);
    put_u32(p + 10, e->crc);
    put_u32(p + 14, e->size);
    put_u32(p + 18, e->size);
    put_u16(p + 22, (unsigned)name_len);
    put_u16(p + 24, 0);
}

rg_status npz_writer_add(npz_writer *w, const char *name, npz_dtype dtype,
                         int rank, const int64_t *shape, const void *data,
                         rg_error *err)
{
    unsigned char npy[512];
    unsigned char local[ZIP_LOCAL_BYTES];
    size_t name_len = strlen(name);
    int64_t n_elements = 0;
    uint64_t data_bytes = 0;
    size_t npy_bytes;
    uLong crc;
    zip_entry e;
    rg_status st;

    st = check_member(w, name, rank, shape, npz_dtype_size(dtype),
                      &n_elements, &data_bytes, err);
    if (st == RG_STATUS_OK) {
        st = grow_entries(w, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    npy_bytes = format_npy_header(dtype, rank, shape, npy);

    /* Everything up to the end of this member must stay below 4 GiB. */
    if (data_bytes >= ZIP_LIMIT
        || w->offset + ZIP_LOCAL_BYTES + name_len + npy_bytes + data_bytes
               >= ZIP_LIMIT) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: member '%s' (%llu bytes) would end past "
                            "4 GiB, which needs zip64 (not supported)",
                            w->where, name, (unsigned long long)data_bytes);
    }

    /* First pass: the CRC-32 of the member, which the local header needs. */
    crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, npy, (uInt)npy_bytes);
    st = stream_data(w, dtype, data, n_elements, &crc, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    e.name = NULL;
    e.crc = (uint32_t)crc;
    e.size = (uint32_t)(npy_bytes + data_bytes);
    e.offset = (uint32_t)w->offset;
    e.flags = name_is_ascii(name) ? 0 : ZIP_FLAG_UTF8;

    /* Second pass: local header, name, .npy header and data. */
    put_u32(local, ZIP_LOCAL_SIG);
    put_common_fields(local + 4, &e, name_len);
    st = write_bytes(w, local, sizeof(local), err);
    if (st == RG_STATUS_OK) {
        st = write_bytes(w, name, name_len, err);
    }
    if (st == RG_STATUS_OK) {
        st = write_bytes(w, npy, npy_bytes, err);
    }
    if (st == RG_STATUS_OK) {
        st = stream_data(w, dtype, data, n_elements, NULL, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    e.name = strdup(name);
    if (e.name == NULL) {
        w->failed = true;
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for a member name", w->where);
    }
    w->entries[w->n_entries++] = e;
    return RG_STATUS_OK;
}

static rg_status write_central_entry(npz_writer *w, const zip_entry *e,
                                     rg_error *err)
{
    unsigned char hdr[ZIP_CENTRAL_BYTES];
    size_t name_len = strlen(e->name);
    rg_status st;

    put_u32(hdr, ZIP_CENTRAL_SIG);
    put_u16(hdr + 4, ZIP_VERSION); /* version made by: MS-DOS, 2.0 */
    put_common_fields(hdr + 6, e, name_len);
    put_u16(hdr + 32, 0); /* comment length */
    put_u16(hdr + 34, 0); /* disk number */
    put_u16(hdr + 36, 0); /* internal attributes */
    put_u32(hdr + 38, 0); /* external attributes */
    put_u32(hdr + 42, e->offset);
    st = write_bytes(w, hdr, sizeof(hdr), err);
    if (st == RG_STATUS_OK) {
        st = write_bytes(w, e->name, name_len, err);
    }
    return st;
}

rg_status npz_writer_finish(npz_writer *w, rg_error *err)
{
    unsigned char end[ZIP_END_BYTES];
    uint64_t cd_offset = w->offset;
    uint64_t cd_bytes;
    rg_status st = RG_STATUS_OK;

    if (w->failed) {
        return rg_error_set(err, RG_STATUS_IO,
                            "%s: an earlier write failed", w->where);
    }
    for (int i = 0; i < w->n_entries && st == RG_STATUS_OK; i++) {
        st = write_central_entry(w, &w->entries[i], err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    cd_bytes = w->offset - cd_offset;
    if (w->offset >= ZIP_LIMIT) {
        w->failed = true;
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: the central directory would end past 4 GiB, "
                            "which needs zip64 (not supported)",
                            w->where);
    }
    put_u32(end, ZIP_END_SIG);
    put_u16(end + 4, 0); /* this disk */
    put_u16(end + 6, 0); /* disk of the central directory */
    put_u16(end + 8, (unsigned)w->n_entries);
    put_u16(end + 10, (unsigned)w->n_entries);
    put_u32(end + 12, (uint32_t)cd_bytes);
    put_u32(end + 16, (uint32_t)cd_offset);
    put_u16(end + 20, 0); /* comment length */
    return write_bytes(w, end, sizeof(end), err);
}

/* --- reader --------------------------------------------------------------- */

typedef struct zip_member {
    char *name;
    uint32_t crc;
    uint32_t size;
    uint64_t data_offset;
} zip_member;

struct npz_reader {
    FILE *fp;
    char *path;
    uint64_t file_bytes;
    zip_member *members;
    int n_members;
};

/* Central directory entry fields the reader checks. */
typedef struct central_entry {
    unsigned flags;
    unsigned method;
    uint32_t crc;
    uint32_t packed_size;
    uint32_t size;
    size_t name_len;
    const char *name;
    uint32_t local_offset;
    size_t entry_bytes; /* fixed part, name, extra field and comment */
} central_entry;

static rg_status read_at(npz_reader *r, uint64_t offset, void *buf, size_t n,
                         rg_error *err)
{
    if (offset > (uint64_t)INT64_MAX || n > r->file_bytes
        || offset > r->file_bytes - n) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: truncated: a record at offset %llu "
                            "(%zu bytes) runs past the end of the %llu-byte "
                            "file",
                            r->path, (unsigned long long)offset, n,
                            (unsigned long long)r->file_bytes);
    }
    if (fseeko(r->fp, (off_t)offset, SEEK_SET) != 0
        || fread(buf, 1, n, r->fp) != n) {
        return rg_error_set(err, RG_STATUS_IO, "%s: read failed: %s",
                            r->path,
                            ferror(r->fp) ? strerror(errno) : "short read");
    }
    return RG_STATUS_OK;
}

static rg_status open_file(npz_reader *r, rg_error *err)
{
    off_t size;

    r->fp = fopen(r->path, "rb");
    if (r->fp == NULL) {
        return rg_error_set(err,
                            errno == ENOENT ? RG_STATUS_NOT_FOUND
                                            : RG_STATUS_IO,
                            "%s: cannot open: %s", r->path, strerror(errno));
    }
    if (fseeko(r->fp, 0, SEEK_END) != 0 || (size = ftello(r->fp)) < 0) {
        return rg_error_set(err, RG_STATUS_IO, "%s: cannot seek: %s",
                            r->path, strerror(errno));
    }
    r->file_bytes = (uint64_t)size;
    if (size < ZIP_END_BYTES) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: not a .npz (zip) archive: the file is %lld "
                            "bytes, shorter than a zip end record",
                            r->path, (long long)size);
    }
    return RG_STATUS_OK;
}

/*
 * Finds the end of central directory record: the last signature whose
 * comment length reaches exactly to the end of the file. Stores its
 * offset and copies its 22 bytes into `end`.
 */
static rg_status find_end_record(npz_reader *r, unsigned char *end,
                                 uint64_t *end_offset, rg_error *err)
{
    size_t tail_bytes = ZIP_END_BYTES + ZIP_MAX_COMMENT_BYTES;
    unsigned char *tail;
    rg_status st;

    if (tail_bytes > r->file_bytes) {
        tail_bytes = (size_t)r->file_bytes;
    }
    tail = malloc(tail_bytes);
    if (tail == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory", r->path);
    }
    st = read_at(r, r->file_bytes - tail_bytes, tail, tail_bytes, err);
    for (size_t i = tail_bytes - ZIP_END_BYTES + 1;
         st == RG_STATUS_OK && i-- > 0;) {
        if (get_u32(tail + i) == ZIP_END_SIG
            && get_u16(tail + i + 20) == tail_bytes - i - ZIP_END_BYTES) {
            memcpy(end, tail + i, ZIP_END_BYTES);
            *end_offset = r->file_bytes - tail_bytes + i;
            if (i >= ZIP64_LOCATOR_BYTES
                && get_u32(tail + i - ZIP64_LOCATOR_BYTES)
                       == ZIP64_LOCATOR_SIG) {
                st = rg_error_set(err, RG_STATUS_UNSUPPORTED,
                                  "%s: zip64 archives are not supported",
                                  r->path);
            }
            free(tail);
            return st;
        }
    }
    free(tail);
    if (st != RG_STATUS_OK) {
        return st;
    }
    return rg_error_set(err, RG_STATUS_DATA,
                        "%s: not a .npz (zip) archive, or truncated: no end "
                        "of central directory record",
                        r->path);
}

/* Decodes one central directory entry at `p` with `avail` bytes left. */
static rg_status parse_central_entry(const npz_reader *r,
                                     const unsigned char *p, size_t avail,
                                     int index, central_entry *e,
                                     rg_error *err)
{
    if (avail < ZIP_CENTRAL_BYTES || get_u32(p) != ZIP_CENTRAL_SIG) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: central directory entry %d is damaged (bad "
                            "signature or size)",
                            r->path, index);
    }
    e->flags = get_u16(p + 8);
    e->method = get_u16(p + 10);
    e->crc = get_u32(p + 16);
    e->packed_size = get_u32(p + 20);
    e->size = get_u32(p + 24);
    e->name_len = get_u16(p + 28);
    e->local_offset = get_u32(p + 42);
    e->entry_bytes = ZIP_CENTRAL_BYTES + e->name_len + get_u16(p + 30)
                     + get_u16(p + 32);
    e->name = (const char *)p + ZIP_CENTRAL_BYTES;
    if (e->entry_bytes > avail) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: central directory entry %d runs past the "
                            "end of the directory",
                            r->path, index);
    }
    return RG_STATUS_OK;
}

/* Rejects features this reader does not implement. */
static rg_status check_central_entry(const npz_reader *r,
                                     const central_entry *e, rg_error *err)
{
    int name_len = (int)e->name_len;

    if (e->flags & ZIP_FLAG_ENCRYPTED) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: member '%.*s' is encrypted", r->path,
                            name_len, e->name);
    }
    if (e->method == ZIP_METHOD_DEFLATE) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: member '%.*s' is compressed (as written by "
                            "numpy.savez_compressed); only stored members "
                            "(numpy.savez) are supported",
                            r->path, name_len, e->name);
    }
    if (e->method != ZIP_METHOD_STORED) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: member '%.*s' uses compression method %u; "
                            "only stored members are supported",
                            r->path, name_len, e->name, e->method);
    }
    if (e->size == ZIP_LIMIT || e->local_offset == ZIP_LIMIT) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: member '%.*s' needs zip64, which is not "
                            "supported",
                            r->path, name_len, e->name);
    }
    if (e->packed_size != e->size || e->name_len == 0) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member %.*s is damaged: stored size %u "
                            "differs from its size %u, or the name is empty",
                            r->path, name_len, e->name,
                            (unsigned)e->packed_size, (unsigned)e->size);
    }
    return RG_STATUS_OK;
}

/*
 * Checks the local header of `e` against its central entry and returns
 * where the member's data starts. Data must end before `limit`, the
 * start of the central directory.
 */
static rg_status check_local_header(npz_reader *r, const central_entry *e,
                                    uint64_t limit, uint64_t *data_offset,
                                    rg_error *err)
{
    unsigned char hdr[ZIP_LOCAL_BYTES];
    int name_len = (int)e->name_len;
    char *name = NULL;
    rg_status st = read_at(r, e->local_offset, hdr, sizeof(hdr), err);

    if (st != RG_STATUS_OK) {
        return st;
    }
    if (get_u32(hdr) != ZIP_LOCAL_SIG || get_u16(hdr + 8) != e->method
        || get_u16(hdr + 26) != e->name_len) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: the local header of member '%.*s' at "
                            "offset %u is damaged or does not match the "
                            "central directory",
                            r->path, name_len, e->name,
                            (unsigned)e->local_offset);
    }
    *data_offset = (uint64_t)e->local_offset + ZIP_LOCAL_BYTES + e->name_len
                   + get_u16(hdr + 28);
    if (*data_offset + e->size > limit) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: member '%.*s' (%u bytes at offset %llu) "
                            "overlaps the central directory at %llu",
                            r->path, name_len, e->name, (unsigned)e->size,
                            (unsigned long long)*data_offset,
                            (unsigned long long)limit);
    }
    name = malloc(e->name_len);
    if (name == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            r->path);
    }
    st = read_at(r, (uint64_t)e->local_offset + ZIP_LOCAL_BYTES, name,
                 e->name_len, err);
    if (st == RG_STATUS_OK && memcmp(name, e->name, e->name_len) != 0) {
        st = rg_error_set(err, RG_STATUS_DATA,
                          "%s: member '%.*s': the local header names a "
                          "different file",
                          r->path, name_len, e->name);
    }
    free(name);
    return st;
}

/* Adds a validated member, rejecting names with NUL bytes or repeats. */
static rg_status add_member(npz_reader *r, const central_entry *e,
                            uint64_t data_offset, rg_error *err)
{
    zip_member *m = &r->members[r->n_members];

    if (memchr(e->name, '\0', e->name_len) != NULL) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: a member name contains a NUL byte",
                            r->path);
    }
    m->name = malloc(e->name_len + 1);
    if (m->name == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            r->path);
    }
    memcpy(m->name, e->name, e->name_len);
    m->name[e->name_len] = '\0';
    m->crc = e->crc;
    m->size = e->size;
    m->data_offset = data_offset;
    r->n_members++;
    for (int i = 0; i + 1 < r->n_members; i++) {
        if (strcmp(r->members[i].name, m->name) == 0) {
            return rg_error_set(err, RG_STATUS_DATA,
                                "%s: member '%s' appears twice", r->path,
                                m->name);
        }
    }
    return RG_STATUS_OK;
}

/* Walks the central directory of `n` entries in `cd` of `cd_bytes`. */
static rg_status parse_central_directory(npz_reader *r,
                                         const unsigned char *cd,
                                         size_t cd_bytes, int n,
                                         uint64_t cd_offset, rg_error *err)
{
    size_t pos = 0;
    central_entry e = {0};
    uint64_t data_offset = 0;
    rg_status st = RG_STATUS_OK;

    for (int i = 0; i < n && st == RG_STATUS_OK; i++) {
        st = parse_central_entry(r, cd + pos, cd_bytes - pos, i, &e, err);
        if (st == RG_STATUS_OK) {
            st = check_central_entry(r, &e, err);
        }
        if (st == RG_STATUS_OK) {
            st = check_local_header(r, &e, cd_offset, &data_offset, err);
        }
        if (st == RG_STATUS_OK) {
            st = add_member(r, &e, data_offset, err);
        }
        pos += st == RG_STATUS_OK ? e.entry_bytes : 0;
    }
    if (st == RG_STATUS_OK && pos != cd_bytes) {
        st = rg_error_set(err, RG_STATUS_DATA,
                          "%s: the central directory is %zu bytes but its "
                          "%d entries fill %zu",
                          r->path, cd_bytes, n, pos);
    }
    return st;
}

/* Reads and checks the end record, then the central directory. */
static rg_status read_directory(npz_reader *r, rg_error *err)
{
    unsigned char end[ZIP_END_BYTES] = {0};
    uint64_t end_offset = 0;
    uint64_t cd_offset;
    size_t cd_bytes;
    unsigned n;
    unsigned char *cd;
    rg_status st = find_end_record(r, end, &end_offset, err);

    if (st != RG_STATUS_OK) {
        return st;
    }
    n = get_u16(end + 10);
    cd_bytes = get_u32(end + 12);
    cd_offset = get_u32(end + 16);
    if (get_u16(end + 4) != 0 || get_u16(end + 6) != 0
        || get_u16(end + 8) != n) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "%s: multi-disk zip archives are not supported",
                            r->path);
    }
    if (cd_offset + cd_bytes > end_offset) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: truncated or damaged: the central directory "
                            "(%zu bytes at offset %llu) runs past its end "
                            "record at offset %llu",
                            r->path, cd_bytes, (unsigned long long)cd_offset,
                            (unsigned long long)end_offset);
    }
    r->members = calloc(n > 0 ? n : 1, sizeof(*r->members));
    cd = malloc(cd_bytes > 0 ? cd_bytes : 1);
    if (r->members == NULL || cd == NULL) {
        free(cd);
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            r->path);
    }
    st = read_at(r, cd_offset, cd, cd_bytes, err);
    if (st == RG_STATUS_OK) {
        st = parse_central_directory(r, cd, cd_bytes, (int)n, cd_offset,
                                     err);
    }
    free(cd);
    return st;
}

rg_status npz_reader_open(const char *path, npz_reader **out, rg_error *err)
{
    npz_reader *r = calloc(1, sizeof(*r));
    rg_status st;

    *out = NULL;
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for the archive reader",
                            path);
    }
    st = open_file(r, err);
    if (st == RG_STATUS_OK) {
        st = read_directory(r, err);
    }
    if (st != RG_STATUS_OK) {
        npz_reader_free(r);
        return st;
    }
    *out = r;
    return RG_STATUS_OK;
}

void npz_reader_free(npz_reader *r)
{
    if (r == NULL) {
        return;
    }
    for (int i = 0; i < r->n_members; i++) {
        free(r->members[i].name);
    }
    free(r->members);
    if (r->fp != NULL) {
        fclose(r->fp);
    }
    free(r->path);
    free(r);
}

int npz_reader_n_members(const npz_reader *r)
{
    return r->n_members;
}

const char *npz_reader_member_name(const npz_reader *r, int index)
{
    RG_ASSERT(index >= 0 && index < r->n_members);
    return r->members[index].name;
}

int npz_reader_find(const npz_reader *r, const char *name)
{
    for (int i = 0; i < r->n_members; i++) {
        if (strcmp(r->members[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

void npz_array_clear(npz_array *array)
{
    if (array == NULL) {
        return;
    }
    free(array->data);
    memset(array, 0, sizeof(*array));
}

/* Byte source over one member: stops at its end and runs the CRC. */
typedef struct member_source {
    npz_reader *r;
    uint64_t remaining;
    uLong crc;
} member_source;

static rg_status read_member_bytes(void *ctx, void *buf, size_t n_bytes,
                                   size_t *n_read, rg_error *err)
{
    member_source *src = ctx;
    size_t n = n_bytes < src->remaining ? n_bytes : (size_t)src->remaining;
    unsigned char *p = buf;

    *n_read = 0;
    while (*n_read < n) {
        size_t chunk = n - *n_read < (size_t)UINT_MAX ? n - *n_read
                                                       : (size_t)UINT_MAX;
        size_t got = fread(p + *n_read, 1, chunk, src->r->fp);

        if (got == 0) {
            return rg_error_set(err, RG_STATUS_IO, "%s: read failed: %s",
                                src->r->path,
                                ferror(src->r->fp) ? strerror(errno)
                                                   : "file shrank");
        }
        src->crc = crc32(src->crc, p + *n_read, (uInt)got);
        *n_read += got;
    }
    src->remaining -= n;
    return RG_STATUS_OK;
}

/* Reads the array data that follows the header and checks the CRC. */
static rg_status read_member_data(member_source *src, const zip_member *m,
                                  const char *where, npz_array *out,
                                  rg_error *err)
{
    const npz_npy_header *h = &out->header;
    size_t got;
    rg_status st;

    if ((uint64_t)h->header_bytes + h->data_bytes != m->size) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: the .npy header gives %llu bytes of data "
                            "but the member has %llu after the header",
                            where, (unsigned long long)h->data_bytes,
                            (unsigned long long)(m->size - h->header_bytes));
    }
    out->data = malloc(h->data_bytes > 0 ? (size_t)h->data_bytes : 1);
    if (out->data == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for %llu bytes", where,
                            (unsigned long long)h->data_bytes);
    }
    st = read_member_bytes(src, out->data, (size_t)h->data_bytes, &got, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    if ((uint32_t)src->crc != m->crc) {
        return rg_error_set(err, RG_STATUS_DATA,
                            "%s: CRC-32 mismatch (stored %08x, computed "
                            "%08x): the member is damaged",
                            where, (unsigned)m->crc, (unsigned)src->crc);
    }
    npz_decode_le(h->dtype, out->data, h->n_elements);
    return RG_STATUS_OK;
}

rg_status npz_reader_read(npz_reader *r, int index, npz_array *out,
                          rg_error *err)
{
    const zip_member *m;
    char where[NPZ_WHERE_BYTES];
    member_source src;
    rg_status st;

    RG_ASSERT(index >= 0 && index < r->n_members);
    m = &r->members[index];
    memset(out, 0, sizeof(*out));
    snprintf(where, sizeof(where), "%s: %s", r->path, m->name);
    if (fseeko(r->fp, (off_t)m->data_offset, SEEK_SET) != 0) {
        return rg_error_set(err, RG_STATUS_IO, "%s: cannot seek: %s", where,
                            strerror(errno));
    }
    src = (member_source){r, m->size, crc32(0L, Z_NULL, 0)};
    st = npz_npy_read_header(read_member_bytes, &src, where, &out->header,
                             err);
    if (st == RG_STATUS_OK && out->header.fortran_order) {
        st = rg_error_set(err, RG_STATUS_UNSUPPORTED,
                          "%s: Fortran-order arrays are not supported; save "
                          "a C-order array (numpy.ascontiguousarray)",
                          where);
    }
    if (st == RG_STATUS_OK) {
        st = read_member_data(&src, m, where, out, err);
    }
    if (st != RG_STATUS_OK) {
        npz_array_clear(out);
    }
    return st;
}
