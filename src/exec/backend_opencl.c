/*
 * The OpenCL backend: buffers are cl_mem objects and matrix products go
 * to CLBlast's SGEMM. The kernel programs of a plan become one OpenCL C
 * program (src/kernels/kprog_opencl.c) when the plan is bound. It is
 * built once and shared by every executor whose plan gives the same
 * source.
 *
 * Everything is enqueued on one in-order queue and nothing waits inside a
 * step: writes copy the caller's data to a host block that is freed once
 * the device has read it, kernels and products run in issue order, and
 * only `read` and `sync` block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/ocl_backend.h"
#include "graph/error_internal.h"

/* After ocl_backend.h, which selects the OpenCL 1.2 API. */
#include <clblast_c.h>

/* Frees the host copies of the writes the device has finished. With
 * `all`, frees every copy, because the caller has waited for the queue. */
static void reap_pending(ocl_backend *ob, bool all)
{
    int kept = 0;

    for (int i = 0; i < ob->n_pending; i++) {
        cl_int status = CL_COMPLETE;
        if (!all) {
            cl_int rc = clGetEventInfo(ob->pending[i].done,
                                       CL_EVENT_COMMAND_EXECUTION_STATUS,
                                       sizeof(status), &status, NULL);
            status = rc != CL_SUCCESS ? CL_COMPLETE : status;
        }
        /* A negative status is an error: the command will not run. */
        if (status == CL_COMPLETE || status < 0) {
            clReleaseEvent(ob->pending[i].done);
            free(ob->pending[i].host);
        } else {
            ob->pending[kept++] = ob->pending[i];
        }
    }
    ob->n_pending = kept;
}

static rg_status add_pending(ocl_backend *ob, cl_event done, void *host,
                             rg_error *err)
{
    if (ob->n_pending == ob->max_pending) {
        int max = ob->max_pending > 0 ? 2 * ob->max_pending : 16;
        ocl_pending *grown = realloc(ob->pending, (size_t)max *
                                     sizeof(*grown));
        if (grown == NULL) {
            /* Keep `host` valid by waiting for the write instead. */
            clWaitForEvents(1, &done);
            clReleaseEvent(done);
            free(host);
            return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        }
        ob->pending = grown;
        ob->max_pending = max;
    }
    ob->pending[ob->n_pending].done = done;
    ob->pending[ob->n_pending].host = host;
    ob->n_pending++;
    return RG_STATUS_OK;
}

rg_status ocl_enqueue_write(ocl_backend *ob, cl_mem mem, size_t offset,
                               const void *src, size_t bytes, rg_error *err)
{
    cl_event done;
    void *host = malloc(bytes > 0 ? bytes : 1);

    if (host == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory copying %zu bytes for the device",
                            bytes);
    }
    memcpy(host, src, bytes);
    reap_pending(ob, false);
    cl_int rc = clEnqueueWriteBuffer(ob->queue, mem, CL_FALSE, offset, bytes,
                                     host, 0, NULL, &done);
    if (rc != CL_SUCCESS) {
        free(host);
        return ocl_fail(err, "clEnqueueWriteBuffer", rc);
    }
    return add_pending(ob, done, host, err);
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

/* Fails before any allocation when `bytes` cannot fit on the device. */
static rg_status check_device_room(const ocl_backend *ob, int64_t bytes,
                                   rg_error *err)
{
    const ocl_device *d = &ob->device;

    if ((cl_ulong)bytes > d->max_alloc_bytes) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "a buffer of %lld bytes (%.1f MiB) is larger than "
                            "the %llu bytes (%.1f MiB) device '%s' allows in "
                            "one buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                            (long long)bytes, (double)bytes / 1048576.0,
                            (unsigned long long)d->max_alloc_bytes,
                            (double)d->max_alloc_bytes / 1048576.0, d->name);
    }
    if ((cl_ulong)(ob->allocated_bytes + bytes) > d->global_mem_bytes) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "a buffer of %lld bytes (%.1f MiB) does not fit "
                            "on device '%s': %lld bytes are in use and its "
                            "global memory is %llu bytes (%.1f MiB)",
                            (long long)bytes,
                            (double)bytes / 1048576.0, d->name,
                            (long long)ob->allocated_bytes,
                            (unsigned long long)d->global_mem_bytes,
                            (double)d->global_mem_bytes / 1048576.0);
    }
    return RG_STATUS_OK;
}

static backend_buffer *ocl_buffer_new(backend *b, int64_t bytes,
                                      rg_error *err)
{
    ocl_backend *ob = ocl_of(b);
    const cl_uchar zero = 0;
    cl_int rc;

    if (check_device_room(ob, bytes, err) != RG_STATUS_OK) {
        return NULL;
    }
    backend_buffer *buf = malloc(sizeof(*buf));
    if (buf == NULL) {
        rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        return NULL;
    }
    buf->bytes = bytes;
    buf->mem = clCreateBuffer(ob->context, CL_MEM_READ_WRITE, (size_t)bytes,
                              NULL, &rc);
    if (rc != CL_SUCCESS) {
        free(buf);
        ocl_fail(err, "clCreateBuffer", rc);
        return NULL;
    }
    rc = clEnqueueFillBuffer(ob->queue, buf->mem, &zero, sizeof(zero), 0,
                             (size_t)bytes, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        clReleaseMemObject(buf->mem);
        free(buf);
        ocl_fail(err, "clEnqueueFillBuffer", rc);
        return NULL;
    }
    ob->allocated_bytes += bytes;
    return buf;
}

static void ocl_buffer_free(backend *b, backend_buffer *buf)
{
    if (buf == NULL) {
        return;
    }
    /* OpenCL keeps the memory until queued commands that use it finish. */
    clReleaseMemObject(buf->mem);
    ocl_of(b)->allocated_bytes -= buf->bytes;
    free(buf);
}

static rg_status ocl_write(backend *b, backend_buffer *buf, int64_t offset,
                           const void *src, int64_t bytes, rg_error *err)
{
    if (check_range(buf, offset, bytes, err) != RG_STATUS_OK) {
        return err->code;
    }
    if (bytes == 0) {
        return RG_STATUS_OK;
    }
    return ocl_enqueue_write(ocl_of(b), buf->mem, (size_t)offset, src,
                         (size_t)bytes, err);
}

static rg_status ocl_read(backend *b, backend_buffer *buf, int64_t offset,
                          void *dst, int64_t bytes, rg_error *err)
{
    ocl_backend *ob = ocl_of(b);

    if (check_range(buf, offset, bytes, err) != RG_STATUS_OK) {
        return err->code;
    }
    if (bytes == 0) {
        return RG_STATUS_OK;
    }
    cl_int rc = clEnqueueReadBuffer(ob->queue, buf->mem, CL_TRUE,
                                    (size_t)offset, (size_t)bytes, dst, 0,
                                    NULL, NULL);
    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clEnqueueReadBuffer", rc);
    }
    reap_pending(ob, false);
    return RG_STATUS_OK;
}

static rg_status ocl_gemm(backend *b, const kp_gemm *gm,
                          backend_buffer *const *buffers,
                          const float *scalars, rg_error *err)
{
    ocl_backend *ob = ocl_of(b);
    float alpha = gm->alpha;
    float beta = gm->beta;

    /* The scalars live on the host, so their products go in as values. */
    if (gm->alpha_scalar >= 0) {
        alpha *= scalars[gm->alpha_scalar];
    }
    if (gm->beta_scalar >= 0) {
        beta *= scalars[gm->beta_scalar];
    }
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor,
        gm->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        gm->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
        (size_t)gm->m, (size_t)gm->n, (size_t)gm->k, alpha,
        buffers[gm->a.buffer]->mem, (size_t)gm->a.offset, (size_t)gm->a.ld,
        buffers[gm->b.buffer]->mem, (size_t)gm->b.offset, (size_t)gm->b.ld,
        beta, buffers[gm->c.buffer]->mem, (size_t)gm->c.offset,
        (size_t)gm->c.ld, &ob->queue, NULL);
    if (st != CLBlastSuccess) {
        return rg_error_set(err, RG_STATUS_BACKEND,
                            "CLBlastSgemm failed: %s (%d) for a [%lld x %lld "
                            "x %lld] product", ocl_clblast_status_name(st),
                            (int)st, (long long)gm->m, (long long)gm->n,
                            (long long)gm->k);
    }
    return RG_STATUS_OK;
}

/* Sets argument `index` of `kernel`; names the call in errors. */
static rg_status set_arg(cl_kernel kernel, cl_uint index, size_t size,
                         const void *value, rg_error *err)
{
    cl_int rc = clSetKernelArg(kernel, index, size, value);

    return rc == CL_SUCCESS ? RG_STATUS_OK
                            : ocl_fail(err, "clSetKernelArg", rc);
}

/* Sets the main kernel's arguments in the order kprog_opencl.h gives. */
static rg_status set_main_args(ocl_backend *ob, const ocl_entry *e,
                               backend_buffer *const *buffers,
                               const float *scalars, uint64_t seed,
                               uint64_t step, rg_error *err)
{
    const kp_ocl_launch *l = &e->launch;
    cl_uint arg = 0;
    rg_status st = RG_STATUS_OK;

    for (int i = 0; i < l->n_buffers && st == RG_STATUS_OK; i++) {
        st = set_arg(e->main, arg++, sizeof(cl_mem),
                     &buffers[l->buffers[i]]->mem, err);
    }
    if (st == RG_STATUS_OK && l->partial_count > 0) {
        st = set_arg(e->main, arg++, sizeof(cl_mem), &ob->scratch, err);
    }
    for (int i = 0; i < l->n_scalars && st == RG_STATUS_OK; i++) {
        cl_float value = scalars[l->scalars[i]];
        st = set_arg(e->main, arg++, sizeof(value), &value, err);
    }
    if (st == RG_STATUS_OK && l->random) {
        cl_ulong values[2] = {seed, step};
        st = set_arg(e->main, arg++, sizeof(cl_ulong), &values[0], err);
        if (st == RG_STATUS_OK) {
            st = set_arg(e->main, arg++, sizeof(cl_ulong), &values[1], err);
        }
    }
    return st;
}

/* Enqueues the finishing kernel of a program that reduces. */
static rg_status enqueue_finish(ocl_backend *ob, const ocl_entry *e,
                                backend_buffer *const *buffers,
                                rg_error *err)
{
    const kp_ocl_launch *l = &e->launch;
    rg_status st = set_arg(e->finish, 0, sizeof(cl_mem), &ob->scratch, err);

    for (int i = 0; i < l->n_buffers && st == RG_STATUS_OK; i++) {
        st = set_arg(e->finish, (cl_uint)(i + 1), sizeof(cl_mem),
                     &buffers[l->buffers[i]]->mem, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    size_t global = l->finish_global;
    cl_int rc = clEnqueueNDRangeKernel(ob->queue, e->finish, 1, NULL, &global,
                                       NULL, 0, NULL, NULL);
    return rc == CL_SUCCESS ? RG_STATUS_OK
                            : ocl_fail(err, "clEnqueueNDRangeKernel", rc);
}

static rg_status ocl_run_kernel(backend *b, const kp_program *kernel,
                                backend_buffer *const *buffers,
                                const float *scalars, uint64_t seed,
                                uint64_t step, rg_error *err)
{
    ocl_backend *ob = ocl_of(b);
    const ocl_entry *e = ocl_find_entry(ob, kernel);

    if (e == NULL) {
        return rg_error_set(err, RG_STATUS_BACKEND,
                            "kernel '%s' runs on the OpenCL backend without "
                            "having been prepared", kernel->name);
    }
    rg_status st = set_main_args(ob, e, buffers, scalars, seed, step, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    size_t local[2] = {(size_t)ob->target.tile_cols,
                       (size_t)ob->target.tile_rows};
    cl_int rc = clEnqueueNDRangeKernel(ob->queue, e->main, 2, NULL,
                                       e->launch.global, local, 0, NULL,
                                       NULL);
    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clEnqueueNDRangeKernel", rc);
    }
    return e->finish != NULL ? enqueue_finish(ob, e, buffers, err)
                             : RG_STATUS_OK;
}

static rg_status ocl_sync(backend *b, rg_error *err)
{
    ocl_backend *ob = ocl_of(b);
    cl_int rc = clFinish(ob->queue);

    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clFinish", rc);
    }
    reap_pending(ob, true);
    return RG_STATUS_OK;
}


static void ocl_destroy(backend *b)
{
    ocl_backend *ob = ocl_of(b);

    if (ob->queue != NULL) {
        clFinish(ob->queue);
    }
    reap_pending(ob, true);
    free(ob->pending);
    ocl_kernels_destroy(ob);
    if (ob->queue != NULL) {
        clReleaseCommandQueue(ob->queue);
    }
    if (ob->context != NULL) {
        clReleaseContext(ob->context);
    }
    free(ob);
}

static rg_status ocl_set_cache(backend *b, bool enabled, const char *dir,
                               rg_error *err)
{
    ocl_builder *builder = &ocl_of(b)->builder;

    if (dir != NULL && strlen(dir) >= sizeof(builder->cache_dir) - 32) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "cache directory '%.64s...' is longer than %zu "
                            "bytes", dir, sizeof(builder->cache_dir) - 32);
    }
    builder->cache_enabled = enabled;
    if (dir != NULL) {
        snprintf(builder->cache_dir, sizeof(builder->cache_dir), "%s", dir);
    } else {
        ocl_cache_default_dir(builder->cache_dir,
                              sizeof(builder->cache_dir));
    }
    return RG_STATUS_OK;
}

static void ocl_get_stats(const backend *b, rg_runtime_stats *out)
{
    const ocl_backend *ob = (const ocl_backend *)b;

    out->programs_built = ob->builder.n_built;
    out->programs_loaded = ob->builder.n_loaded;
}

static const char *ocl_describe(const backend *b)
{
    return ((const ocl_backend *)b)->description;
}

static const backend_ops ocl_ops = {
    .name = "opencl",
    .destroy = ocl_destroy,
    .buffer_new = ocl_buffer_new,
    .buffer_free = ocl_buffer_free,
    .write = ocl_write,
    .read = ocl_read,
    .gemm = ocl_gemm,
    .run_kernel = ocl_run_kernel,
    .sync = ocl_sync,
    .prepare_kernels = ocl_prepare_kernels,
    .release_kernels = ocl_release_kernels,
    .write_u8 = ocl_write_u8,
    .set_cache = ocl_set_cache,
    .get_stats = ocl_get_stats,
    .describe = ocl_describe,
};

/*
 * Picks the work-group tile: 16 x 16 where the device allows 256 work-
 * items, halved (the larger side first) until it fits the device's
 * work-group, work-item and local-memory limits.
 */
static kp_ocl_target choose_target(const ocl_device *d)
{
    kp_ocl_target t = {16, 16, d->fp64};
    size_t acc_bytes = d->fp64 ? 8 : 4;

    while (t.tile_cols * t.tile_rows > 1 &&
           ((size_t)(t.tile_cols * t.tile_rows) > d->max_work_group ||
            (size_t)t.tile_cols > d->max_item_sizes[0] ||
            (size_t)t.tile_rows > d->max_item_sizes[1] ||
            (cl_ulong)(t.tile_cols * t.tile_rows) * acc_bytes >
                d->local_mem_bytes / 2)) {
        if (t.tile_rows >= t.tile_cols) {
            t.tile_rows /= 2;
        } else {
            t.tile_cols /= 2;
        }
    }
    return t;
}

/* Fails unless the device speaks OpenCL 1.2 or later. */
static rg_status check_version(const ocl_device *d, rg_error *err)
{
    int major = 0, minor = 0;

    if (sscanf(d->version, "OpenCL %d.%d", &major, &minor) != 2 ||
        major * 100 + minor < 102) {
        return rg_error_set(err, RG_STATUS_UNSUPPORTED,
                            "device '%s' reports '%s'; rbm-graph needs "
                            "OpenCL 1.2 or later", d->name, d->version);
    }
    return RG_STATUS_OK;
}

/* Creates the context and the in-order queue. */
static rg_status open_queue(ocl_backend *ob, rg_error *err)
{
    cl_context_properties props[] = {
        CL_CONTEXT_PLATFORM, (cl_context_properties)ob->device.platform, 0,
    };
    cl_int rc;

    ob->context = clCreateContext(props, 1, &ob->device.id, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
        ob->context = NULL;
        return ocl_fail(err, "clCreateContext", rc);
    }
    ob->queue = clCreateCommandQueue(ob->context, ob->device.id, 0, &rc);
    if (rc != CL_SUCCESS) {
        ob->queue = NULL;
        return ocl_fail(err, "clCreateCommandQueue", rc);
    }
    return RG_STATUS_OK;
}

static void init_settings(ocl_backend *ob)
{
    const char *no_cache = getenv("RG_NO_CACHE");
    const ocl_device *d = &ob->device;

    ob->builder.context = ob->context;
    ob->builder.device = &ob->device;
    ob->builder.cache_enabled = no_cache == NULL || strcmp(no_cache, "1") != 0;
    ocl_cache_default_dir(ob->builder.cache_dir,
                          sizeof(ob->builder.cache_dir));
    ob->target = choose_target(d);
    /* Division and square root must round like the host's for sigmoid
     * values, and so samples, to match the CPU backend. */
    snprintf(ob->build_options, sizeof(ob->build_options), "%s",
             d->correct_div_sqrt ? "-cl-fp32-correctly-rounded-divide-sqrt"
                                 : "");
    snprintf(ob->description, sizeof(ob->description), "opencl:%d:%d (%s)",
             d->platform_index, d->device_index, d->name);
}

rg_status ocl_backend_open(const char *spec, backend **out, rg_error *err)
{
    ocl_backend *ob = calloc(1, sizeof(*ob));
    rg_status st;

    *out = NULL;
    if (ob == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    ob->base.ops = &ocl_ops;
    st = ocl_device_find(spec, &ob->device, err);
    if (st == RG_STATUS_OK) {
        st = check_version(&ob->device, err);
    }
    if (st == RG_STATUS_OK) {
        st = open_queue(ob, err);
    }
    if (st != RG_STATUS_OK) {
        ocl_destroy(&ob->base);
        return st;
    }
    init_settings(ob);
    rg_log(RG_LOG_LEVEL_DEBUG, "opencl: opened %s, driver %s, tiles %d x %d, "
           "sums in %s", ob->description, ob->device.driver_version,
           ob->target.tile_cols, ob->target.tile_rows,
           ob->target.fp64 ? "double" : "float");
    *out = &ob->base;
    return RG_STATUS_OK;
}
