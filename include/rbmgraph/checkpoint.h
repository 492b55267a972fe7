/*
 * Checkpoints: every persistent tensor of a runtime (params and state) plus
 * metadata, in NumPy's .npz format (a zip archive of .npy members, stored
 * without compression) so that `numpy.load` reads it with no other package.
 * Files are written atomically: a temporary file in the same folder is
 * written, flushed with fsync and renamed over the target, so a crash
 * leaves either the old file or the new one, complete.
 */
#ifndef RBMGRAPH_CHECKPOINT_H
#define RBMGRAPH_CHECKPOINT_H

#include <stdint.h>

#include "rbmgraph/error.h"
#include "rbmgraph/exec.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Metadata stored beside the tensors. Every pointer may be NULL (or
 * n_columns 0), which stores nothing for that field. The text fields are
 * "name=value" lines, one per line, each ending in a newline.
 */
typedef struct rg_checkpoint_meta {
    const char *model_source; /* model file text */
    uint64_t seed;
    uint64_t step;  /* train steps run so far */
    uint64_t epoch; /* epochs completed */
    const char *dims;   /* every dim as used, after overrides */
    const char *hypers; /* every hyperparameter as used, after overrides */
    const char *data;   /* how the training data was read: path, options */
    int64_t n_columns;       /* entries of data_mean and data_std */
    const float *data_mean;  /* [n_columns] standardisation of the data */
    const float *data_std;   /* [n_columns] */
} rg_checkpoint_meta;

/* Writes every tensor of `rt` and `meta` to `path`, atomically. */
rg_status rg_checkpoint_save(rg_runtime *rt, const char *path,
                             const rg_checkpoint_meta *meta, rg_error *err);

/*
 * Reads the checkpoint at `path` into `rt`: each tensor in the file is
 * written into the runtime's tensor of the same name (created if absent,
 * shape checked otherwise). `meta` may be NULL; otherwise it receives the
 * metadata, with absent fields NULL or 0. Its pointers are heap memory
 * that the caller releases with rg_checkpoint_meta_clear (model_source
 * alone may also be passed to free(), as before the other fields
 * existed).
 */
rg_status rg_checkpoint_load(rg_runtime *rt, const char *path,
                             rg_checkpoint_meta *meta, rg_error *err);

/*
 * Reads only the metadata of the checkpoint at `path` into `meta`, which
 * the caller releases with rg_checkpoint_meta_clear. Tensors are not read,
 * so this is how a caller learns the seed and the model before it creates
 * the runtime to load them into.
 */
rg_status rg_checkpoint_read_meta(const char *path, rg_checkpoint_meta *meta,
                                  rg_error *err);

/* Frees every pointer of metadata filled by rg_checkpoint_load or
 * rg_checkpoint_read_meta and zeroes it. NULL does nothing. */
void rg_checkpoint_meta_clear(rg_checkpoint_meta *meta);

/*
 * Writes `data`, an array of `rank` (0 to 8) dimensions `shape` in C
 * order, as a NumPy .npy file of '<f4' values, atomically like a
 * checkpoint.
 */
rg_status rg_npy_save(const char *path, int rank, const int64_t *shape,
                      const float *data, rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
