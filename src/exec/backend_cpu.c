/*
 * The CPU backend: buffers are host memory, matrix products go to
 * OpenBLAS's cblas_sgemm with transposes passed as flags, and kernel
 * programs run on the block evaluator of src/kernels.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "exec/backend.h"
#include "graph/error_internal.h"

struct backend_buffer {
    float *data;
    int64_t bytes;
};

typedef struct cpu_backend {
    backend base;
} cpu_backend;

static void cpu_destroy(backend *b)
{
    free(b);
}

static backend_buffer *cpu_buffer_new(backend *b, int64_t bytes,
                                      rg_error *err)
{
    backend_buffer *buf = malloc(sizeof(*buf));

    (void)b;
    if (buf == NULL) {
        rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        return NULL;
    }
    /* 64-byte alignment suits every SIMD width OpenBLAS uses. */
    size_t rounded = ((size_t)bytes + 63) / 64 * 64;
    buf->data = aligned_alloc(64, rounded);
    if (buf->data == NULL) {
        free(buf);
        rg_error_set(err, RG_STATUS_NO_MEMORY,
                     "out of memory allocating %lld bytes of host memory",
                     (long long)bytes);
        return NULL;
    }
    memset(buf->data, 0, rounded);
    buf->bytes = bytes;
    return buf;
}

static void cpu_buffer_free(backend *b, backend_buffer *buf)
{
    (void)b;
    if (buf != NULL) {
        free(buf->data);
        free(buf);
    }
}

static rg_status check_range(const backend_buffer *buf, int64_t offset,
                             int64_t bytes, rg_error *err)
{
    if (offset < 0 || bytes < 0 || offset + bytes > buf->bytes) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "byte range [%lld, %lld) is outside a buffer of "
                            "%lld bytes", (long long)offset,
                            (long long)(offset + bytes),
                            (long long)buf->bytes);
    }
    return RG_STATUS_OK;
}

static rg_status cpu_write(backend *b, backend_buffer *buf, int64_t offset,
                           const void *src, int64_t bytes, rg_error *err)
{
    (void)b;
    if (check_range(buf, offset, bytes, err) != RG_STATUS_OK) {
        return err->code;
    }
    memcpy((char *)buf->data + offset, src, (size_t)bytes);
    return RG_STATUS_OK;
}

static rg_status cpu_read(backend *b, backend_buffer *buf, int64_t offset,
                          void *dst, int64_t bytes, rg_error *err)
{
    (void)b;
    if (check_range(buf, offset, bytes, err) != RG_STATUS_OK) {
        return err->code;
    }
    memcpy(dst, (char *)buf->data + offset, (size_t)bytes);
    return RG_STATUS_OK;
}

static rg_status cpu_gemm(backend *b, const kp_gemm *gm,
                          backend_buffer *const *buffers,
                          const float *scalars, rg_error *err)
{
    float alpha = gm->alpha;
    float beta = gm->beta;

    (void)b;
    (void)err;
    if (gm->alpha_scalar >= 0) {
        alpha *= scalars[gm->alpha_scalar];
    }
    if (gm->beta_scalar >= 0) {
        beta *= scalars[gm->beta_scalar];
    }
    cblas_sgemm(CblasRowMajor, gm->trans_a ? CblasTrans : CblasNoTrans,
                gm->trans_b ? CblasTrans : CblasNoTrans, (blasint)gm->m,
                (blasint)gm->n, (blasint)gm->k, alpha,
                buffers[gm->a.buffer]->data + gm->a.offset, (blasint)gm->a.ld,
                buffers[gm->b.buffer]->data + gm->b.offset, (blasint)gm->b.ld,
                beta, buffers[gm->c.buffer]->data + gm->c.offset,
                (blasint)gm->c.ld);
    return RG_STATUS_OK;
}

static rg_status cpu_run_kernel(backend *b, const kp_program *kernel,
                                backend_buffer *const *buffers,
                                const float *scalars, uint64_t seed,
                                uint64_t step, rg_error *err)
{
    /* Kernels name a handful of buffers; the plan bounds the count. */
    enum { MAX_BUFFERS = 256 };
    float *bases[MAX_BUFFERS];
    int n = 0;

    (void)b;
    for (int i = 0; i < kernel->n_loads; i++) {
        n = kernel->loads[i].buffer + 1 > n ? kernel->loads[i].buffer + 1 : n;
    }
    for (int i = 0; i < kernel->n_stores; i++) {
        n = kernel->stores[i].dst.buffer + 1 > n ? kernel->stores[i].dst.buffer
                                                       + 1
                                                 : n;
    }
    if (n > MAX_BUFFERS) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "kernel '%s' names %d buffers; at most %d are "
                            "supported", kernel->name, n, MAX_BUFFERS);
    }
    for (int i = 0; i < n; i++) {
        bases[i] = buffers[i]->data;
    }
    if (!kp_cpu_run(kernel, bases, scalars, seed, step)) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory running kernel '%s'",
                            kernel->name);
    }
    return RG_STATUS_OK;
}

static rg_status cpu_sync(backend *b, rg_error *err)
{
    (void)b;
    (void)err;
    return RG_STATUS_OK;
}

static const backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .buffer_new = cpu_buffer_new,
    .buffer_free = cpu_buffer_free,
    .write = cpu_write,
    .read = cpu_read,
    .gemm = cpu_gemm,
    .run_kernel = cpu_run_kernel,
    .sync = cpu_sync,
};

rg_status cpu_backend_open(backend **out, rg_error *err)
{
    cpu_backend *cb = calloc(1, sizeof(*cb));

    if (cb == NULL) {
        *out = NULL;
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    cb->base.ops = &cpu_ops;
    *out = &cb->base;
    return RG_STATUS_OK;
}
