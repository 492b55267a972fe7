/*
 * The runtime: one backend and the persistent tensors every plan on it
 * shares. Initial values are drawn on the host from the Philox stream
 * keyed by the runtime's seed and a hash of the tensor's name, so they do
 * not depend on the device or on the order in which plans are bound.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/runtime_internal.h"
#include "graph/error_internal.h"
#include "kernels/philox.h"

/* Opens the backend `device` names; see rg_runtime_new for the specs. */
static rg_status open_backend(const char *device, backend **out,
                              rg_error *err)
{
    if (device == NULL || strcmp(device, "cpu") == 0) {
        return cpu_backend_open(out, err);
    }
    if (strcmp(device, "auto") == 0) {
        rg_error quiet;
        rg_status st = ocl_backend_open("auto", out, &quiet);
        if (st == RG_STATUS_OK) {
            return st;
        }
        rg_log(st == RG_STATUS_NOT_FOUND ? RG_LOG_LEVEL_INFO
                                         : RG_LOG_LEVEL_WARN,
               "device auto: using the CPU backend: %s", quiet.message);
        return cpu_backend_open(out, err);
    }
    if (strncmp(device, "opencl", strlen("opencl")) == 0) {
        return ocl_backend_open(device, out, err);
    }
    return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                        "invalid device '%s'; expected cpu, auto, opencl or "
                        "opencl:PLATFORM:DEVICE ('rbm-graph devices' lists "
                        "them)", device);
}

rg_status rg_runtime_new(const char *device, uint64_t seed, rg_runtime **out,
                         rg_error *err)
{
    rg_runtime *rt;
    rg_status st;

    *out = NULL;
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    st = open_backend(device, &rt->backend, err);
    if (st != RG_STATUS_OK) {
        free(rt);
        return st;
    }
    rt->seed = seed;
    *out = rt;
    return RG_STATUS_OK;
}

void rg_runtime_free(rg_runtime *rt)
{
    if (rt == NULL) {
        return;
    }
    for (int i = 0; i < rt->n_tensors; i++) {
        rt->backend->ops->buffer_free(rt->backend, rt->tensors[i].buffer);
        free(rt->tensors[i].name);
    }
    free(rt->tensors);
    rt->backend->ops->destroy(rt->backend);
    free(rt);
}

rg_status rg_runtime_set_threads(rg_runtime *rt, int n_threads,
                                 rg_error *err)
{
    if (n_threads < 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "thread count %d is negative; use 0 for one per "
                            "core", n_threads);
    }
    if (rt->backend->ops->set_threads == NULL) {
        return RG_STATUS_OK;
    }
    return rt->backend->ops->set_threads(rt->backend, n_threads, err);
}

const char *rg_runtime_device(const rg_runtime *rt)
{
    const backend_ops *ops = rt->backend->ops;

    return ops->describe != NULL ? ops->describe(rt->backend) : ops->name;
}

rg_status rg_runtime_set_cache(rg_runtime *rt, bool enabled,
                               const char *dir, rg_error *err)
{
    if (rt->backend->ops->set_cache == NULL) {
        return RG_STATUS_OK;
    }
    return rt->backend->ops->set_cache(rt->backend, enabled, dir, err);
}

void rg_runtime_get_stats(const rg_runtime *rt, rg_runtime_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (rt->backend->ops->get_stats != NULL) {
        rt->backend->ops->get_stats(rt->backend, out);
    }
}

int rg_runtime_n_tensors(const rg_runtime *rt)
{
    return rt->n_tensors;
}

const char *rg_runtime_tensor_name(const rg_runtime *rt, int index)
{
    RG_ASSERT(index >= 0 && index < rt->n_tensors);
    return rt->tensors[index].name;
}

rg_shape rg_runtime_tensor_shape(const rg_runtime *rt, int index)
{
    RG_ASSERT(index >= 0 && index < rt->n_tensors);
    return rt->tensors[index].shape;
}

int rg_runtime_find_tensor(const rg_runtime *rt, const char *name)
{
    for (int i = 0; i < rt->n_tensors; i++) {
        if (strcmp(rt->tensors[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* FNV-1a: a stable 32-bit stream id for a tensor name. */
static uint32_t name_stream(const char *name)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

static void fill_init(float *dst, int64_t n, rg_init init, uint64_t seed,
                      uint32_t stream)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t index = (uint64_t)i;

        switch (init.kind) {
        case RG_INIT_ZEROS:
            dst[i] = 0.0f;
            break;
        case RG_INIT_CONSTANT:
            dst[i] = (float)init.a;
            break;
        case RG_INIT_NORMAL:
            dst[i] = (float)(init.a + init.b * rg_philox_normal(
                                 seed, RUNTIME_INIT_STEP, stream, index));
            break;
        case RG_INIT_UNIFORM:
            dst[i] = (float)(init.a + (init.b - init.a) * rg_philox_uniform(
                                 seed, RUNTIME_INIT_STEP, stream, index));
            break;
        case RG_INIT_BERNOULLI:
            dst[i] = rg_philox_uniform(seed, RUNTIME_INIT_STEP, stream,
                                       index) < init.a ? 1.0f : 0.0f;
            break;
        }
    }
}

rg_status rg_runtime_add_tensor(rg_runtime *rt, const char *name,
                                rg_shape shape, rg_init init, rg_error *err)
{
    char have[64], want[64];
    int index = rg_runtime_find_tensor(rt, name);
    int64_t n = rg_shape_numel(shape);
    int64_t bytes = (n > 0 ? n : 1) * (int64_t)sizeof(float);

    if (index >= 0) {
        if (!rg_shape_equal(rt->tensors[index].shape, shape)) {
            return rg_error_set(err, RG_STATUS_SHAPE,
                                "tensor '%s' has shape %s but shape %s was "
                                "requested; a loaded or trained tensor keeps "
                                "its shape, so do not change its dims with "
                                "--set", name,
                                rg_shape_str(rt->tensors[index].shape, have,
                                             sizeof(have)),
                                rg_shape_str(shape, want, sizeof(want)));
        }
        return RG_STATUS_OK;
    }

    /* Draw the initial values on the host, then upload them. */
    float *host = malloc((size_t)bytes);
    runtime_tensor *grown = realloc(rt->tensors, (size_t)(rt->n_tensors + 1) *
                                    sizeof(*grown));
    char *copy = strdup(name);
    if (host == NULL || grown == NULL || copy == NULL) {
        free(host);
        free(copy);
        if (grown != NULL) {
            rt->tensors = grown;
        }
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory creating tensor '%s' of %lld "
                            "bytes", name, (long long)bytes);
    }
    rt->tensors = grown;
    fill_init(host, n, init, rt->seed, name_stream(name));

    backend *b = rt->backend;
    backend_buffer *buf = b->ops->buffer_new(b, bytes, err);
    if (buf == NULL || b->ops->write(b, buf, 0, host, bytes, err) !=
                           RG_STATUS_OK) {
        b->ops->buffer_free(b, buf);
        free(host);
        free(copy);
        return err->code;
    }
    free(host);
    rt->tensors[rt->n_tensors].name = copy;
    rt->tensors[rt->n_tensors].shape = shape;
    rt->tensors[rt->n_tensors].buffer = buf;
    rt->n_tensors++;
    return RG_STATUS_OK;
}

/* Finds tensor `name` holding exactly `n_elements`; fills `err` if not. */
static runtime_tensor *find_sized(rg_runtime *rt, const char *name,
                                  int64_t n_elements, rg_error *err)
{
    char buf[64];
    int index = rg_runtime_find_tensor(rt, name);

    if (index < 0) {
        rg_error_set(err, RG_STATUS_NOT_FOUND, "no tensor named '%s'", name);
        return NULL;
    }
    runtime_tensor *t = &rt->tensors[index];
    if (rg_shape_numel(t->shape) != n_elements) {
        rg_error_set(err, RG_STATUS_SHAPE,
                     "tensor '%s' has shape %s (%lld elements) but %lld "
                     "elements were given", name,
                     rg_shape_str(t->shape, buf, sizeof(buf)),
                     (long long)rg_shape_numel(t->shape),
                     (long long)n_elements);
        return NULL;
    }
    return t;
}

rg_status rg_runtime_read(rg_runtime *rt, const char *name, float *dst,
                          int64_t n_elements, rg_error *err)
{
    runtime_tensor *t = find_sized(rt, name, n_elements, err);

    if (t == NULL) {
        return err->code;
    }
    return rt->backend->ops->read(rt->backend, t->buffer, 0, dst,
                                  n_elements * (int64_t)sizeof(float), err);
}

rg_status rg_runtime_write(rg_runtime *rt, const char *name,
                           const float *src, int64_t n_elements,
                           rg_error *err)
{
    runtime_tensor *t = find_sized(rt, name, n_elements, err);

    if (t == NULL) {
        return err->code;
    }
    return rt->backend->ops->write(rt->backend, t->buffer, 0, src,
                                   n_elements * (int64_t)sizeof(float), err);
}
