/*
 * Status names, error records and the log sink.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"

const char *rg_status_str(rg_status status)
{
    switch (status) {
    case RG_STATUS_OK: return "ok";
    case RG_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case RG_STATUS_SYNTAX: return "syntax error";
    case RG_STATUS_MODEL: return "model error";
    case RG_STATUS_SHAPE: return "shape error";
    case RG_STATUS_NOT_FOUND: return "not found";
    case RG_STATUS_IO: return "I/O error";
    case RG_STATUS_DATA: return "data error";
    case RG_STATUS_NO_MEMORY: return "out of memory";
    case RG_STATUS_BACKEND: return "backend error";
    case RG_STATUS_NUMERIC: return "numeric error";
    case RG_STATUS_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

void rg_error_clear(rg_error *err)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
}

rg_status rg_error_vset_at(rg_error *err, rg_status code, const char *file,
                           int line, int column, const char *fmt,
                           va_list args)
{
    if (err == NULL) {
        return code;
    }
    rg_error_clear(err);
    err->code = code;
    err->line = line;
    err->column = column;
    if (file != NULL) {
        snprintf(err->file, sizeof(err->file), "%s", file);
    }
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    return code;
}

rg_status rg_error_set_at(rg_error *err, rg_status code, const char *file,
                          int line, int column, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    rg_error_vset_at(err, code, file, line, column, fmt, args);
    va_end(args);
    return code;
}

rg_status rg_error_set(rg_error *err, rg_status code, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    rg_error_vset_at(err, code, NULL, 0, 0, fmt, args);
    va_end(args);
    return code;
}

const char *rg_error_format(const rg_error *err, char *buf, size_t size)
{
    if (size == 0) {
        return buf;
    }
    if (err == NULL) {
        snprintf(buf, size, "unknown error");
    } else if (err->file[0] != '\0' && err->line > 0) {
        snprintf(buf, size, "%s:%d:%d: %s", err->file, err->line,
                 err->column, err->message);
    } else if (err->file[0] != '\0') {
        snprintf(buf, size, "%s: %s", err->file, err->message);
    } else {
        snprintf(buf, size, "%s", err->message);
    }
    return buf;
}

/* Log sink. */

static rg_log_fn log_fn;
static void *log_user;
static rg_log_level log_max_level = RG_LOG_LEVEL_INFO;

void rg_log_set(rg_log_fn fn, void *user, rg_log_level max_level)
{
    log_fn = fn;
    log_user = user;
    log_max_level = max_level;
}

void rg_log(rg_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char message[1024];
    va_list args;

    if (level > log_max_level) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    if (log_fn != NULL) {
        log_fn(level, message, log_user);
    } else {
        fprintf(stderr, "rbm-graph: %s: %s\n", names[level], message);
    }
}

_Noreturn void rg_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "rbm-graph: internal error: %s:%d: assertion '%s' failed\n",
            file, line, cond);
    abort();
}
