/*
 * Kernel programs on the OpenCL backend. When an executor binds a plan,
 * all of the plan's kernel programs are generated as one OpenCL C source
 * and built, from the binary cache when possible. Executors whose plans
 * give the same source share the built program. Each kernel program then
 * has an entry with its cl_kernel objects, counted by the executors that
 * prepared it and released when the last one goes.
 *
 * Also here: the conversion kernel behind rg_exec_set_input_u8, built the
 * first time it is needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/ocl_backend.h"
#include "graph/error_internal.h"

ocl_entry *ocl_find_entry(const ocl_backend *ob, const kp_program *p)
{
    for (int i = 0; i < ob->n_entries; i++) {
        if (ob->entries[i]->program == p) {
            return ob->entries[i];
        }
    }
    return NULL;
}

/* Writes `source` to $RG_OPENCL_DUMP/rbm-graph-HASH.cl when that
 * variable names a directory, so generated kernels can be read. */
static void dump_source(const char *source, uint64_t hash)
{
    const char *dir = getenv("RG_OPENCL_DUMP");
    char path[1100];

    if (dir == NULL || dir[0] == '\0') {
        return;
    }
    snprintf(path, sizeof(path), "%s/rbm-graph-%016llx.cl", dir,
             (unsigned long long)hash);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(source, f) == EOF) {
        rg_log(RG_LOG_LEVEL_WARN, "opencl: cannot write %s (RG_OPENCL_DUMP)",
               path);
    } else {
        rg_log(RG_LOG_LEVEL_INFO, "opencl: wrote generated source to %s",
               path);
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* Returns the built program of `source`, building it when no executor
 * has yet. The caller takes the reference it needs. */
static ocl_compiled *get_compiled(ocl_backend *ob, const char *source,
                                  int n_kernels, rg_error *err)
{
    size_t length = strlen(source);
    uint64_t hash = ocl_hash(source, length, OCL_HASH_SEED);
    char label[64];

    for (int i = 0; i < ob->n_compiled; i++) {
        ocl_compiled *c = ob->compiled[i];
        if (c->hash == hash && c->length == length) {
            return c;
        }
    }
    dump_source(source, hash);
    ocl_compiled **grown = realloc(ob->compiled, (size_t)(ob->n_compiled + 1) *
                                   sizeof(*grown));
    ocl_compiled *c = calloc(1, sizeof(*c));
    if (grown != NULL) {
        ob->compiled = grown;
    }
    if (grown == NULL || c == NULL) {
        free(c);
        rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
        return NULL;
    }
    snprintf(label, sizeof(label), "%d kernels, source %016llx", n_kernels,
             (unsigned long long)hash);
    if (ocl_program_build(&ob->builder, source, ob->build_options, label,
                          &c->program, err) != RG_STATUS_OK) {
        free(c);
        return NULL;
    }
    c->hash = hash;
    c->length = length;
    ob->compiled[ob->n_compiled++] = c;
    return c;
}

static void drop_compiled(ocl_backend *ob, ocl_compiled *c)
{
    if (--c->refs > 0) {
        return;
    }
    for (int i = 0; i < ob->n_compiled; i++) {
        if (ob->compiled[i] == c) {
            ob->compiled[i] = ob->compiled[--ob->n_compiled];
            break;
        }
    }
    clReleaseProgram(c->program);
    free(c);
}

static void free_entry(ocl_entry *e)
{
    if (e->finish != NULL) {
        clReleaseKernel(e->finish);
    }
    if (e->main != NULL) {
        clReleaseKernel(e->main);
    }
    kp_ocl_launch_clear(&e->launch);
    free(e);
}

/* Creates the entry of `p` from the built program; takes `launch`. */
static rg_status add_entry(ocl_backend *ob, const kp_program *p,
                           kp_ocl_launch *launch, ocl_compiled *c,
                           rg_error *err)
{
    cl_int rc = CL_SUCCESS;
    ocl_entry *e = calloc(1, sizeof(*e));
    ocl_entry **grown = realloc(ob->entries, (size_t)(ob->n_entries + 1) *
                                sizeof(*grown));

    if (grown != NULL) {
        ob->entries = grown;
    }
    if (e == NULL || grown == NULL) {
        free(e);
        kp_ocl_launch_clear(launch);
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    e->program = p;
    e->launch = *launch;
    memset(launch, 0, sizeof(*launch));
    e->main = clCreateKernel(c->program, e->launch.kernel, &rc);
    if (rc == CL_SUCCESS && e->launch.finish[0] != '\0') {
        e->finish = clCreateKernel(c->program, e->launch.finish, &rc);
    }
    if (rc != CL_SUCCESS) {
        free_entry(e);
        return ocl_fail(err, "clCreateKernel", rc);
    }
    e->compiled = c;
    e->refs = 1;
    c->refs++;
    ob->entries[ob->n_entries++] = e;
    return RG_STATUS_OK;
}

/* Grows the shared scratch buffer to `count` accumulators. */
static rg_status reserve_scratch(ocl_backend *ob, int64_t count,
                                 rg_error *err)
{
    int64_t bytes = count * (ob->target.fp64 ? 8 : 4);
    cl_int rc;

    if (bytes <= ob->scratch_bytes) {
        return RG_STATUS_OK;
    }
    cl_mem bigger = clCreateBuffer(ob->context, CL_MEM_READ_WRITE,
                                   (size_t)bytes, NULL, &rc);
    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clCreateBuffer", rc);
    }
    /* Kernels already queued keep the old buffer alive until they end. */
    if (ob->scratch != NULL) {
        clReleaseMemObject(ob->scratch);
    }
    ob->scratch = bigger;
    ob->scratch_bytes = bytes;
    return RG_STATUS_OK;
}

/* Registers every program of the source; on failure, undoes what it did. */
static rg_status add_entries(ocl_backend *ob, const kp_program *const *kernels,
                             int n, kp_ocl_launch *launches, ocl_compiled *c,
                             rg_error *err)
{
    rg_status st = RG_STATUS_OK;
    int64_t max_partials = 0;
    int added = 0;

    /* Hold the program while entries are added, so a failure part-way
     * cannot free it under the entries that exist. */
    c->refs++;
    for (; added < n; added++) {
        ocl_entry *e = ocl_find_entry(ob, kernels[added]);
        kp_ocl_launch *l = &launches[added];

        max_partials = l->partial_count > max_partials ? l->partial_count
                                                       : max_partials;
        if (e != NULL) {
            e->refs++;
            kp_ocl_launch_clear(l);
            continue;
        }
        st = add_entry(ob, kernels[added], l, c, err);
        if (st != RG_STATUS_OK) {
            break;
        }
    }
    if (st == RG_STATUS_OK) {
        st = reserve_scratch(ob, max_partials, err);
    }
    if (st != RG_STATUS_OK) {
        ocl_release_kernels(&ob->base, kernels, added);
    }
    drop_compiled(ob, c);
    return st;
}

rg_status ocl_prepare_kernels(backend *b, const kp_program *const *kernels,
                              int n_kernels, rg_error *err)
{
    ocl_backend *ob = ocl_of(b);

    if (n_kernels == 0) {
        return RG_STATUS_OK;
    }
    kp_ocl_launch *launches = calloc((size_t)n_kernels, sizeof(*launches));
    char *source = launches != NULL
                       ? kp_ocl_generate(kernels, n_kernels, &ob->target,
                                         launches)
                       : NULL;
    if (source == NULL) {
        free(launches);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "out of memory generating OpenCL kernels");
    }
    ocl_compiled *c = get_compiled(ob, source, n_kernels, err);
    rg_status st = c != NULL ? add_entries(ob, kernels, n_kernels, launches,
                                           c, err)
                             : err->code;
    for (int i = 0; i < n_kernels; i++) {
        kp_ocl_launch_clear(&launches[i]);
    }
    free(launches);
    free(source);
    return st;
}

void ocl_release_kernels(backend *b, const kp_program *const *kernels,
                         int n_kernels)
{
    ocl_backend *ob = ocl_of(b);

    for (int i = 0; i < n_kernels; i++) {
        ocl_entry *e = ocl_find_entry(ob, kernels[i]);
        if (e == NULL || --e->refs > 0) {
            continue;
        }
        for (int k = 0; k < ob->n_entries; k++) {
            if (ob->entries[k] == e) {
                ob->entries[k] = ob->entries[--ob->n_entries];
                break;
            }
        }
        ocl_compiled *c = e->compiled;
        free_entry(e);
        drop_compiled(ob, c);
    }
}

/* Builds the conversion kernel the first time it is needed. */
static rg_status ensure_convert(ocl_backend *ob, rg_error *err)
{
    cl_int rc;

    if (ob->convert_kernel != NULL) {
        return RG_STATUS_OK;
    }
    if (ob->convert_program == NULL &&
        ocl_program_build(&ob->builder, kp_ocl_convert_text,
                          ob->build_options, "convert_u8",
                          &ob->convert_program, err) != RG_STATUS_OK) {
        return err->code;
    }
    ob->convert_kernel = clCreateKernel(ob->convert_program, "rg_convert_u8",
                                        &rc);
    if (rc != CL_SUCCESS) {
        ob->convert_kernel = NULL;
        return ocl_fail(err, "clCreateKernel", rc);
    }
    return RG_STATUS_OK;
}

/* Grows the device buffer that receives uploaded bytes. */
static rg_status reserve_staging(ocl_backend *ob, int64_t bytes,
                                 rg_error *err)
{
    cl_int rc;

    if (bytes <= ob->staging_bytes) {
        return RG_STATUS_OK;
    }
    cl_mem bigger = clCreateBuffer(ob->context, CL_MEM_READ_ONLY,
                                   (size_t)bytes, NULL, &rc);
    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clCreateBuffer", rc);
    }
    if (ob->staging != NULL) {
        clReleaseMemObject(ob->staging);
    }
    ob->staging = bigger;
    ob->staging_bytes = bytes;
    return RG_STATUS_OK;
}

static rg_status set_convert_args(ocl_backend *ob, backend_buffer *buf,
                                  int64_t offset_bytes, int64_t n,
                                  float scale, rg_error *err)
{
    cl_ulong offset = (cl_ulong)(offset_bytes / (int64_t)sizeof(float));
    cl_ulong count = (cl_ulong)n;
    cl_float factor = scale;
    const struct {
        size_t size;
        const void *value;
    } args[] = {
        {sizeof(cl_mem), &buf->mem}, {sizeof(offset), &offset},
        {sizeof(cl_mem), &ob->staging}, {sizeof(count), &count},
        {sizeof(factor), &factor},
    };

    for (cl_uint i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        cl_int rc = clSetKernelArg(ob->convert_kernel, i, args[i].size,
                                   args[i].value);
        if (rc != CL_SUCCESS) {
            return ocl_fail(err, "clSetKernelArg", rc);
        }
    }
    return RG_STATUS_OK;
}

rg_status ocl_write_u8(backend *b, backend_buffer *buf, int64_t offset_bytes,
                       const uint8_t *src, int64_t n, float scale,
                       rg_error *err)
{
    ocl_backend *ob = ocl_of(b);

    if (offset_bytes < 0 || offset_bytes % (int64_t)sizeof(float) != 0 ||
        n < 0 || offset_bytes + n * (int64_t)sizeof(float) > buf->bytes) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%lld floats at byte %lld do not fit a buffer of "
                            "%lld bytes", (long long)n,
                            (long long)offset_bytes, (long long)buf->bytes);
    }
    if (n == 0) {
        return RG_STATUS_OK;
    }
    rg_status st = ensure_convert(ob, err);
    if (st == RG_STATUS_OK) {
        st = reserve_staging(ob, n, err);
    }
    if (st == RG_STATUS_OK) {
        st = ocl_enqueue_write(ob, ob->staging, 0, src, (size_t)n, err);
    }
    if (st == RG_STATUS_OK) {
        st = set_convert_args(ob, buf, offset_bytes, n, scale, err);
    }
    if (st != RG_STATUS_OK) {
        return st;
    }
    size_t global = (size_t)n;
    cl_int rc = clEnqueueNDRangeKernel(ob->queue, ob->convert_kernel, 1, NULL,
                                       &global, NULL, 0, NULL, NULL);
    return rc == CL_SUCCESS ? RG_STATUS_OK
                            : ocl_fail(err, "clEnqueueNDRangeKernel", rc);
}

void ocl_kernels_destroy(ocl_backend *ob)
{
    for (int i = 0; i < ob->n_entries; i++) {
        free_entry(ob->entries[i]);
    }
    for (int i = 0; i < ob->n_compiled; i++) {
        clReleaseProgram(ob->compiled[i]->program);
        free(ob->compiled[i]);
    }
    free(ob->entries);
    free(ob->compiled);
    ob->entries = NULL;
    ob->compiled = NULL;
    ob->n_entries = ob->n_compiled = 0;
    if (ob->scratch != NULL) {
        clReleaseMemObject(ob->scratch);
    }
    if (ob->staging != NULL) {
        clReleaseMemObject(ob->staging);
    }
    if (ob->convert_kernel != NULL) {
        clReleaseKernel(ob->convert_kernel);
    }
    if (ob->convert_program != NULL) {
        clReleaseProgram(ob->convert_program);
    }
}
