/*
 * NumPy files: .npy array headers and .npz archives (zip files of .npy
 * members, stored without compression), as written by numpy.save and
 * numpy.savez and read by numpy.load.
 *
 * The writer emits only what the reader accepts: little-endian dtypes,
 * C order, .npy version 1.0, stored zip members with CRC-32, no zip64. The reader checks every signature, size,
 * offset and CRC before it hands out data, so a damaged or truncated file
 * gives RG_STATUS_DATA and never out-of-bounds reads.
 */
#ifndef RG_EXEC_NPZ_H
#define RG_EXEC_NPZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rbmgraph/error.h"

/* Highest array rank this module reads or writes. */
#define NPZ_MAX_RANK 8

/* Element types, named by their .npy descr. */
typedef enum npz_dtype {
    NPZ_DTYPE_U8,  /* '|u1' */
    NPZ_DTYPE_F32, /* '<f4' */
    NPZ_DTYPE_F64, /* '<f8' */
    NPZ_DTYPE_I64, /* '<i8' */
    NPZ_DTYPE_U64, /* '<u8' */
} npz_dtype;

/* Returns the size of one element in bytes. */
size_t npz_dtype_size(npz_dtype dtype);

/* Returns the .npy descr string, for example "<f4". */
const char *npz_dtype_descr(npz_dtype dtype);

/* A parsed .npy header. */
typedef struct npz_npy_header {
    npz_dtype dtype;
    bool fortran_order;
    int rank;
    int64_t shape[NPZ_MAX_RANK];
    int64_t n_elements;  /* product of shape; 1 for rank 0 */
    uint64_t data_bytes; /* n_elements * element size */
    size_t header_bytes; /* magic, version, length field and header text */
} npz_npy_header;

/*
 * Source of bytes for npz_npy_read_header. Reads up to `n_bytes` into
 * `buf` and stores the count in `*n_read`, which is less than `n_bytes`
 * only at the end of the data. Returns non-OK (with `err` filled) only on
 * a read error.
 */
typedef rg_status (*npz_read_fn)(void *ctx, void *buf, size_t n_bytes,
                                 size_t *n_read, rg_error *err);

/*
 * Reads and validates a .npy preamble and header (versions 1.0, 2.0 and
 * 3.0) through `read`, leaving the source at the first data byte.
 * `where` starts every error message (a file name, or "archive: member").
 * Errors: RG_STATUS_DATA for a malformed or truncated header,
 * RG_STATUS_UNSUPPORTED for a valid dtype outside npz_dtype, and
 * RG_STATUS_NO_MEMORY when the sizes overflow. Fortran order is reported
 * in `out`, not rejected.
 */
rg_status npz_npy_read_header(npz_read_fn read, void *ctx, const char *where,
                              npz_npy_header *out, rg_error *err);

/*
 * Converts `n_elements` little-endian elements at `data` to host order in
 * place. Does nothing on a little-endian host.
 */
void npz_decode_le(npz_dtype dtype, void *data, int64_t n_elements);

/*
 * Writes a standalone .npy file (version 1.0, C order) of `dtype` with
 * `rank` dimensions `shape` from `data` in host order to `fp`, which
 * stays owned by the caller and is not flushed. `where` names the file in
 * errors. A failed write gives RG_STATUS_IO.
 */
rg_status npz_npy_write(FILE *fp, const char *where, npz_dtype dtype,
                        int rank, const int64_t *shape, const void *data,
                        rg_error *err);

/* An array read from an archive. `data` is heap memory in host order. */
typedef struct npz_array {
    npz_npy_header header;
    void *data;
} npz_array;

/* Frees the array's data and zeroes it. NULL does nothing. */
void npz_array_clear(npz_array *array);

typedef struct npz_writer npz_writer;

/*
 * Starts an archive on `fp`, which must be positioned at offset 0 and
 * stays owned by the caller. `where` (copied) names the file in errors.
 */
rg_status npz_writer_new(FILE *fp, const char *where, npz_writer **out,
                         rg_error *err);

/* Frees the writer without finishing the archive. NULL does nothing. */
void npz_writer_free(npz_writer *w);

/*
 * Appends member `name` (conventionally ending in ".npy") holding an
 * array of `dtype` with `rank` dimensions `shape` (C order) from `data`
 * in host order. Rank 0 is a scalar. A repeated name gives
 * RG_STATUS_INVALID_ARGUMENT. A member or archive that needs zip64
 * (4 GiB and up, or 65535 members) gives RG_STATUS_UNSUPPORTED, and a
 * failed write RG_STATUS_IO.
 */
rg_status npz_writer_add(npz_writer *w, const char *name, npz_dtype dtype,
                         int rank, const int64_t *shape, const void *data,
                         rg_error *err);

/* Writes the central directory and end record. Does not flush `fp`. */
rg_status npz_writer_finish(npz_writer *w, rg_error *err);

typedef struct npz_reader npz_reader;

/*
 * Opens and validates the archive at `path`: end record, central
 * directory and every local header. Member data and CRCs are checked by
 * npz_reader_read. Errors: RG_STATUS_NOT_FOUND or RG_STATUS_IO when the
 * file cannot be opened or read, RG_STATUS_DATA when it is malformed,
 * RG_STATUS_UNSUPPORTED for zip64, encrypted or compressed members.
 */
rg_status npz_reader_open(const char *path, npz_reader **out, rg_error *err);

/* Closes the file and frees the reader. NULL does nothing. */
void npz_reader_free(npz_reader *r);

int npz_reader_n_members(const npz_reader *r);

/* Returns the member's name, owned by the reader. */
const char *npz_reader_member_name(const npz_reader *r, int index);

/* Returns the index of member `name`, or -1 when absent. */
int npz_reader_find(const npz_reader *r, const char *name);

/*
 * Reads member `index` as a .npy array into `out` (which the caller clears
 * with npz_array_clear), checking the header, that the header and data
 * fill the member exactly, and the CRC-32. Fortran-order arrays give
 * RG_STATUS_UNSUPPORTED.
 */
rg_status npz_reader_read(npz_reader *r, int index, npz_array *out,
                          rg_error *err);

#endif
