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

typedef struct rg_checkpoint_meta {
    const char *model_source; /* model file text; NULL stores none */
    uint64_t seed;
    uint64_t step;  /* train steps run so far */
    uint64_t epoch; /* epochs completed */
} rg_checkpoint_meta;

/* Writes every tensor of `rt` and `meta` to `path`, atomically. */
rg_status rg_checkpoint_save(rg_runtime *rt, const char *path,
                             const rg_checkpoint_meta *meta, rg_error *err);

/*
 * Reads the checkpoint at `path` into `rt`: each tensor in the file is
 * written into the runtime's tensor of the same name (created if absent,
 * shape checked otherwise). `meta` receives the metadata; its model_source
 * is a heap string the caller frees with free(). `meta` may be NULL.
 */
rg_status rg_checkpoint_load(rg_runtime *rt, const char *path,
                             rg_checkpoint_meta *meta, rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
