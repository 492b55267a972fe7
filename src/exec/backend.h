/*
 * The backend interface: the few operations an executor needs from a
 * device, as a table of functions. The executor walks a plan and calls
 * these; it never knows which backend it drives. Buffers are opaque
 * handles owned by the backend that made them.
 *
 * Operations may be asynchronous: `read` and `sync` are the only calls
 * after which the caller may rely on results being complete.
 */
#ifndef RG_BACKEND_H
#define RG_BACKEND_H

#include <stdint.h>

#include "kernels/kprog.h"
#include "rbmgraph/error.h"

typedef struct backend backend;
typedef struct backend_buffer backend_buffer;

typedef struct backend_ops {
    const char *name;
    void (*destroy)(backend *b);
    /* Allocates `bytes` (> 0) of device memory, zero-filled. */
    backend_buffer *(*buffer_new)(backend *b, int64_t bytes, rg_error *err);
    void (*buffer_free)(backend *b, backend_buffer *buf);
    rg_status (*write)(backend *b, backend_buffer *buf, int64_t offset_bytes,
                       const void *src, int64_t bytes, rg_error *err);
    rg_status (*read)(backend *b, backend_buffer *buf, int64_t offset_bytes,
                      void *dst, int64_t bytes, rg_error *err);
    /* C = alpha * op(A) @ op(B) + beta * C over the buffers in `buffers`. */
    rg_status (*gemm)(backend *b, const kp_gemm *gemm,
                      backend_buffer *const *buffers, const float *scalars,
                      rg_error *err);
    rg_status (*run_kernel)(backend *b, const kp_program *kernel,
                            backend_buffer *const *buffers,
                            const float *scalars, uint64_t seed,
                            uint64_t step, rg_error *err);
    /* Waits until every operation issued so far has finished. */
    rg_status (*sync)(backend *b, rg_error *err);
    /* Optional (NULL: ignored): threads to use, 0 for the default. */
    rg_status (*set_threads)(backend *b, int n_threads, rg_error *err);
} backend_ops;

/* Every backend instance starts with this header. */
struct backend {
    const backend_ops *ops;
};

/* Opens the CPU backend (OpenBLAS plus the kernel-program evaluator). */
rg_status cpu_backend_open(backend **out, rg_error *err);

#endif
