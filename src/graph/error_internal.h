/*
 * Internal helpers to fill rg_error records and to log. Shared by every
 * layer of the library.
 */
#ifndef RG_ERROR_INTERNAL_H
#define RG_ERROR_INTERNAL_H

#include <stdarg.h>

#include "rbmgraph/error.h"

/*
 * Sets `err` (which may be NULL) to `code` with a printf-style message and
 * no source location. Returns `code`.
 */
rg_status rg_error_set(rg_error *err, rg_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, with a model-file location; `file` may be NULL. */
rg_status rg_error_set_at(rg_error *err, rg_status code, const char *file,
                          int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

rg_status rg_error_vset_at(rg_error *err, rg_status code, const char *file,
                           int line, int column, const char *fmt,
                           va_list args);

/* Sends a message to the log sink when `level` is enabled. */
void rg_log(rg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Invariant check that stays on in release builds. Never for user input. */
#define RG_ASSERT(cond)                                                     \
    do {                                                                    \
        if (!(cond)) {                                                      \
            rg_assert_fail(#cond, __FILE__, __LINE__);                      \
        }                                                                   \
    } while (0)

_Noreturn void rg_assert_fail(const char *cond, const char *file, int line);

#endif
