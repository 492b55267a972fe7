/*
 * Data sets: a matrix of examples loaded from an IDX file (MNIST's format,
 * gzip-compressed or plain), a NumPy .npy file (uint8 or float32) or a CSV
 * file. Every example is one row; image files are flattened row-major.
 * Values are scaled to [0, 1] when the file contains bytes (multiplied by
 * RG_BYTE_SCALE, the float nearest 1 / 255) and kept as they are for
 * float32 files.
 */
#ifndef RBMGRAPH_DATA_H
#define RBMGRAPH_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "rbmgraph/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rg_dataset rg_dataset;

typedef struct rg_data_options {
    bool binarize;    /* replace each value v by (v > threshold) */
    float threshold;  /* used when binarize is set; 0.5 by default */
    int64_t max_rows; /* keep only the first rows; 0 keeps all */
} rg_data_options;

/* Returns the options that load every row unchanged. */
rg_data_options rg_data_options_default(void);

/*
 * Loads the file at `path`. The format comes from the contents: the NumPy
 * magic for .npy, the IDX magic (after gzip decompression where the file is
 * compressed) for IDX, otherwise CSV. Malformed files (wrong magic, rank,
 * sizes, truncated data, damaged gzip) give RG_STATUS_DATA with a message
 * naming the file and the fault.
 */
rg_status rg_dataset_load(const char *path, const rg_data_options *options,
                          rg_dataset **out, rg_error *err);
void rg_dataset_free(rg_dataset *ds);

int64_t rg_dataset_n_rows(const rg_dataset *ds);
int64_t rg_dataset_n_cols(const rg_dataset *ds);

/*
 * Copies the rows listed in `rows` (each < n_rows) into `dst`, which has
 * room for n_selected * n_cols floats, scaled as described above.
 */
void rg_dataset_gather(const rg_dataset *ds, const int64_t *rows,
                       int64_t n_selected, float *dst);

/*
 * Computes each column's mean and standard deviation over all rows, in
 * double precision, from the values as scaled and binarized (any
 * standardisation set on `ds` is ignored). A standard deviation below
 * `min_std` is stored as `min_std`, so that a column that is almost
 * constant, such as an image's border pixel, is not blown up by
 * standardisation. `mean` and `std` hold n_cols floats each. Fails with
 * RG_STATUS_INVALID_ARGUMENT unless min_std is finite and positive.
 */
rg_status rg_dataset_column_stats(const rg_dataset *ds, double min_std,
                                  float *mean, float *std, rg_error *err);

/*
 * Makes rg_dataset_gather return (v - mean[c]) / std[c] for column c.
 * The n_cols values of each array are copied; every std must be finite
 * and positive. NULL for both clears the standardisation.
 */
rg_status rg_dataset_set_standardize(rg_dataset *ds, const float *mean,
                                     const float *std, rg_error *err);

/* Byte data is scaled by this float (the one nearest 1 / 255). */
#define RG_BYTE_SCALE (1.0f / 255.0f)

/*
 * Copies the raw bytes of the listed rows into `dst` (n_selected * n_cols
 * bytes) when the data set contains bytes and no transformation (binarize,
 * standardise) applies; returns false, copying nothing, otherwise. The
 * values rg_dataset_gather gives are these bytes times RG_BYTE_SCALE.
 */
bool rg_dataset_gather_bytes(const rg_dataset *ds, const int64_t *rows,
                             int64_t n_selected, uint8_t *dst);

/*
 * Fills `perm` with a permutation of 0..n-1 that depends only on `seed`
 * and `epoch` (Fisher-Yates over the Philox stream).
 */
void rg_shuffle(uint64_t seed, uint64_t epoch, int64_t n, int64_t *perm);

#ifdef __cplusplus
}
#endif

#endif
