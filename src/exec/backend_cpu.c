/*
 * The CPU backend: buffers are host memory, matrix products go to
 * OpenBLAS's cblas_sgemm with transposes passed as flags, and kernel
 * programs run on the block evaluator of src/kernels, their rows split
 * among a worker pool. OpenBLAS and the pool use the same thread count and
 * never run at the same time, so together they keep one thread per core.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "exec/backend.h"
#include "exec/cpu_pool.h"
#include "graph/error_internal.h"

/* Splitting a kernel smaller than this costs more than it saves. */
enum { MIN_PARALLEL_ELEMENTS = 8192, MAX_THREADS = 64 };

struct backend_buffer {
    float *data;
    int64_t bytes;
};

typedef struct cpu_backend {
    backend base;
    cpu_pool *pool;
} cpu_backend;

/* RG_THREADS when set to a positive integer, else the cores this
 * process may run on. */
static int default_threads(void)
{
    const char *env = getenv("RG_THREADS");
    cpu_set_t set;

    if (env != NULL && atoi(env) > 0) {
        return atoi(env);
    }
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
        return CPU_COUNT(&set);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void cpu_destroy(backend *b)
{
    cpu_backend *cb = (cpu_backend *)b;

    cpu_pool_free(cb->pool);
    free(cb);
}

static rg_status cpu_set_threads(backend *b, int n_threads, rg_error *err)
{
    cpu_backend *cb = (cpu_backend *)b;
    int n = n_threads > 0 ? n_threads : default_threads();

    if (n > MAX_THREADS) {
        n = MAX_THREADS;
    }
    cpu_pool *pool = cpu_pool_new(n);
    if (pool == NULL) {
        return rg_error_set(err, RG_STATUS_BACKEND,
                            "cannot start %d worker threads", n);
    }
    cpu_pool_free(cb->pool);
    cb->pool = pool;
    openblas_set_num_threads(n);
    return RG_STATUS_OK;
}

/* This machine's RAM plus swap in bytes, or 0 when sysinfo fails. */
static uint64_t machine_memory_bytes(void)
{
    struct sysinfo info;

    if (sysinfo(&info) != 0) {
        return 0;
    }
    return ((uint64_t)info.totalram + (uint64_t)info.totalswap)
           * info.mem_unit;
}

static backend_buffer *cpu_buffer_new(backend *b, int64_t bytes,
                                      rg_error *err)
{
    const double gib = 1024.0 * 1024.0 * 1024.0;
    uint64_t limit = machine_memory_bytes();
    backend_buffer *buf;

    (void)b;
    /* Linux may grant such a request and kill the process when the memset
     * below touches the pages, so it is rejected before allocating. */
    if (limit > 0 && (uint64_t)bytes > limit) {
        rg_error_set(err, RG_STATUS_NO_MEMORY,
                     "%lld bytes (%.1f GiB) of host memory requested, more "
                     "than this machine's %.1f GiB of RAM and swap",
                     (long long)bytes, (double)bytes / gib,
                     (double)limit / gib);
        return NULL;
    }
    buf = malloc(sizeof(*buf));
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
                     "out of memory allocating %lld bytes (%.1f GiB) of host "
                     "memory", (long long)bytes, (double)bytes / gib);
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

/* One kernel launch split by rows among the pool's threads. */
typedef struct kernel_job {
    const kp_program *kernel;
    float *const *bases;
    const float *scalars;
    uint64_t seed;
    uint64_t step;
    int n_parts;
    double **sums[MAX_THREADS];
    bool ok[MAX_THREADS];
} kernel_job;

static void run_part(void *arg, int part, int n_threads)
{
    kernel_job *job = arg;
    const kp_program *k = job->kernel;

    (void)n_threads;
    if (part >= job->n_parts) {
        return;
    }
    int64_t begin = k->rows * part / job->n_parts;
    int64_t end = k->rows * (part + 1) / job->n_parts;
    job->ok[part] = kp_cpu_run_rows(k, job->bases, job->scalars, job->seed,
                                    job->step, begin, end, job->sums[part]);
}

/* Parts a kernel is split into: one per thread when it is big enough. */
static int kernel_parts(const cpu_backend *cb, const kp_program *k)
{
    int n = cb->pool != NULL ? cpu_pool_size(cb->pool) : 1;

    if (k->rows * k->cols < MIN_PARALLEL_ELEMENTS || k->rows < n) {
        return 1;
    }
    return n;
}

static rg_status cpu_run_kernel(backend *b, const kp_program *kernel,
                                backend_buffer *const *buffers,
                                const float *scalars, uint64_t seed,
                                uint64_t step, rg_error *err)
{
    /* Kernels name a handful of buffers; the plan bounds the count. */
    enum { MAX_BUFFERS = 256 };
    cpu_backend *cb = (cpu_backend *)b;
    float *bases[MAX_BUFFERS];
    kernel_job job = {kernel, bases, scalars, seed, step, 1, {NULL}, {false}};
    int n = 0;
    bool ok = true;

    for (int i = 0; i < kernel->n_loads; i++) {
        n = kernel->loads[i].buffer + 1 > n ? kernel->loads[i].buffer + 1 : n;
    }
    for (int i = 0; i < kernel->n_stores; i++) {
        int used = kernel->stores[i].dst.buffer + 1;
        n = used > n ? used : n;
    }
    if (n > MAX_BUFFERS) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "kernel '%s' names %d buffers; at most %d are "
                            "supported", kernel->name, n, MAX_BUFFERS);
    }
    for (int i = 0; i < n; i++) {
        bases[i] = buffers[i]->data;
    }

    job.n_parts = kernel_parts(cb, kernel);
    for (int p = 0; p < job.n_parts; p++) {
        job.sums[p] = kp_cpu_sums_new(kernel);
        ok = ok && job.sums[p] != NULL;
    }
    if (ok && job.n_parts > 1) {
        cpu_pool_run(cb->pool, run_part, &job);
    } else if (ok) {
        run_part(&job, 0, 1);
    }
    for (int p = 0; p < job.n_parts; p++) {
        ok = ok && job.ok[p];
    }
    if (ok) {
        kp_cpu_sums_store(kernel, bases, job.sums, job.n_parts);
    }
    for (int p = 0; p < job.n_parts; p++) {
        kp_cpu_sums_free(kernel, job.sums[p]);
    }
    if (!ok) {
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
    .set_threads = cpu_set_threads,
};

rg_status cpu_backend_open(backend **out, rg_error *err)
{
    cpu_backend *cb = calloc(1, sizeof(*cb));

    if (cb == NULL) {
        *out = NULL;
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    cb->base.ops = &cpu_ops;
    if (cpu_set_threads(&cb->base, 0, err) != RG_STATUS_OK) {
        free(cb);
        *out = NULL;
        return err->code;
    }
    *out = &cb->base;
    return RG_STATUS_OK;
}
