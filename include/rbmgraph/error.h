/*
 * Status codes, the error record every fallible public call fills, and the
 * logging callback. The library never prints on its own except through the
 * log callback, which writes to stderr until the caller replaces it.
 */
#ifndef RBMGRAPH_ERROR_H
#define RBMGRAPH_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rg_status {
    RG_STATUS_OK = 0,
    RG_STATUS_INVALID_ARGUMENT, /* API misuse or an out-of-range option */
    RG_STATUS_SYNTAX,           /* malformed YAML or expression text */
    RG_STATUS_MODEL,            /* well-formed model with a semantic error */
    RG_STATUS_SHAPE,            /* shapes that do not fit an operation */
    RG_STATUS_NOT_FOUND,        /* unknown name: entry, tensor, file */
    RG_STATUS_IO,               /* a file could not be read or written */
    RG_STATUS_DATA,             /* a data or checkpoint file is malformed */
    RG_STATUS_NO_MEMORY,        /* an allocation failed or a size overflows */
    RG_STATUS_BACKEND,          /* the device or a device library failed */
    RG_STATUS_NUMERIC,          /* a NaN or Inf appeared in a result */
    RG_STATUS_UNSUPPORTED,      /* valid request this build cannot serve */
} rg_status;

/* Returns a static, lower-case name for a status ("shape error"). */
const char *rg_status_str(rg_status status);

/*
 * Error record. Every fallible public call takes an `rg_error *err` that
 * must not be NULL and is filled on failure.
 * `file` is empty and `line`, `column` are 0 unless the error
 * comes from a model file; lines and columns count from 1.
 */
typedef struct rg_error {
    rg_status code;
    int line;
    int column;
    char file[256];
    char message[768];
} rg_error;

/* Clears `err` to RG_STATUS_OK with empty text. NULL is allowed. */
void rg_error_clear(rg_error *err);

/*
 * Formats `err` as "file:line:column: message" (or just the message when no
 * file is set) into `buf` of `size` bytes. Returns `buf`.
 */
const char *rg_error_format(const rg_error *err, char *buf, size_t size);

typedef enum rg_log_level {
    RG_LOG_LEVEL_ERROR = 0,
    RG_LOG_LEVEL_WARN,
    RG_LOG_LEVEL_INFO,
    RG_LOG_LEVEL_DEBUG,
} rg_log_level;

typedef void (*rg_log_fn)(rg_log_level level, const char *message,
                          void *user);

/*
 * Replaces the log sink (NULL restores the stderr sink) and sets the most
 * verbose level that is delivered. Not thread safe: call before other work.
 */
void rg_log_set(rg_log_fn fn, void *user, rg_log_level max_level);

#ifdef __cplusplus
}
#endif

#endif
