/*
 * The backend interface: the few operations an executor needs from a
 * device, as a table of functions. The executor walks a plan and calls
 * these; it does not depend on which backend it drives. Buffers are opaque
 * handles owned by the backend that made them.
 *
 * Operations may be asynchronous: `read` and `sync` are the only calls
 * after which the caller may rely on results being complete.
 */
#ifndef RG_BACKEND_H
#define RG_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kprog.h"
#include "rbmgraph/error.h"
#include "rbmgraph/exec.h"

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
    /*
     * Optional (NULL: nothing to prepare): readies the kernel programs of
     * a plan being bound, so that run_kernel finds them compiled. The
     * programs must stay alive until release_kernels is called on them.
     */
    rg_status (*prepare_kernels)(backend *b, const kp_program *const *kernels,
                                 int n_kernels, rg_error *err);
    void (*release_kernels)(backend *b, const kp_program *const *kernels,
                            int n_kernels);
    /* Optional (NULL: the caller converts on the host): writes `n` floats
     * src[i] * scale from bytes. */
    rg_status (*write_u8)(backend *b, backend_buffer *buf,
                          int64_t offset_bytes, const uint8_t *src, int64_t n,
                          float scale, rg_error *err);
    /* Optional: program cache settings (dir NULL: the default) and the
     * counters of programs built and loaded. */
    rg_status (*set_cache)(backend *b, bool enabled, const char *dir,
                           rg_error *err);
    void (*get_stats)(const backend *b, rg_runtime_stats *out);
    /* Optional: "opencl:P:D (NAME)" or similar; NULL means `name`. */
    const char *(*describe)(const backend *b);
} backend_ops;

/* Every backend instance starts with this header. */
struct backend {
    const backend_ops *ops;
};

/* Opens the CPU backend (OpenBLAS plus the kernel-program evaluator). */
rg_status cpu_backend_open(backend **out, rg_error *err);

/*
 * Opens the OpenCL backend on the device `spec` names ("opencl",
 * "opencl:P:D" or "auto"; see rg_runtime_new). For "auto", returns
 * RG_STATUS_NOT_FOUND when no GPU exists.
 */
rg_status ocl_backend_open(const char *spec, backend **out, rg_error *err);

#endif
