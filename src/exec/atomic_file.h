/*
 * Atomic file replacement, shared by checkpoints, .npy arrays and PNG
 * pictures: the contents go to a temporary file in the target's folder,
 * which is flushed with fsync and renamed over the target, so a crash
 * leaves either the old file or the complete new one.
 */
#ifndef RG_EXEC_ATOMIC_FILE_H
#define RG_EXEC_ATOMIC_FILE_H

#include <stdio.h>

#include "rbmgraph/error.h"

/* Writes the whole contents to `fp`; the caller owns `fp`. */
typedef rg_status (*atomic_file_fill_fn)(FILE *fp, void *user,
                                         rg_error *err);

/*
 * Creates or replaces `path` with what `fill` writes. The new file gets
 * mode 0644. On any error `path` is unchanged, no temporary file is left
 * behind and `err` says what failed.
 */
rg_status atomic_file_write(const char *path, atomic_file_fill_fn fill,
                            void *user, rg_error *err);

#endif
