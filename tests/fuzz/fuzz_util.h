/*
 * Helpers shared by the fuzz targets: silencing the library's log, giving
 * an input a file path without touching the disk, and checking that a
 * failed call filled its error record.
 */
#ifndef RG_FUZZ_UTIL_H
#define RG_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "rbmgraph/error.h"

/* Drops every log message, so fuzzing output shows only findings. */
void fuzz_quiet_log(void);

/*
 * Copies `size` bytes into an anonymous in-memory file and writes a path
 * that opens it ("/proc/self/fd/N") into `path`. Returns the descriptor
 * for fuzz_file_close. Aborts when the file cannot be made, which is a
 * fault of the harness, not a finding.
 */
int fuzz_file_open(const uint8_t *data, size_t size, char *path,
                   size_t path_size);
void fuzz_file_close(int fd);

/*
 * Aborts unless `err` describes the failure `status`: the codes agree,
 * the message is non-empty and NUL-terminated, and the location is
 * either absent or a 1-based line and column.
 */
void fuzz_check_error(rg_status status, const rg_error *err);

#endif
