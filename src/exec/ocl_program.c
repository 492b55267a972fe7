/*
 * Building OpenCL programs for one device, through the binary cache of
 * ocl_cache.c. The cache key names everything that changes the binary:
 * device, platform, driver version, build options and the source (by
 * hash and length), so a driver upgrade or a changed kernel misses the
 * cache instead of loading a wrong binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/ocl_internal.h"
#include "graph/error_internal.h"

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void make_key(const ocl_builder *b, const char *source,
                     const char *options, char *key, size_t size)
{
    size_t length = strlen(source);
    uint64_t h = ocl_hash(source, length, OCL_HASH_SEED);

    snprintf(key, size, "device=%s\nplatform=%s\ndriver=%s\noptions=%s\n"
             "source=%016llx:%zu\n", b->device->name,
             b->device->platform_name, b->device->driver_version, options,
             (unsigned long long)h, length);
}

/* Creates and builds a program from a cached binary. Returns NULL on any
 * failure, logged at debug level, and the caller then compiles the
 * source. */
static cl_program program_from_binary(ocl_builder *b, const char *options,
                                      const unsigned char *binary,
                                      size_t size, const char *label)
{
    cl_int status = CL_SUCCESS;
    cl_int rc;
    cl_device_id device = b->device->id;
    cl_program program = clCreateProgramWithBinary(
        b->context, 1, &device, &size, &binary, &status, &rc);

    if (rc == CL_SUCCESS && status == CL_SUCCESS) {
        rc = clBuildProgram(program, 1, &device, options, NULL, NULL);
        if (rc == CL_SUCCESS) {
            return program;
        }
    }
    rg_log(RG_LOG_LEVEL_DEBUG, "opencl: cached binary of program '%s' "
           "rejected: %s (%d); rebuilding", label,
           ocl_error_name(rc != CL_SUCCESS ? rc : status),
           (int)(rc != CL_SUCCESS ? rc : status));
    if (program != NULL) {
        clReleaseProgram(program);
    }
    return NULL;
}

/* Fills `err` with the build failure and its log. */
static rg_status build_failure(const ocl_builder *b, cl_program program,
                               cl_int rc, const char *label, rg_error *err)
{
    size_t size = 0;
    char *log = NULL;

    if (clGetProgramBuildInfo(program, b->device->id, CL_PROGRAM_BUILD_LOG, 0,
                              NULL, &size) == CL_SUCCESS &&
        (log = malloc(size + 1)) != NULL &&
        clGetProgramBuildInfo(program, b->device->id, CL_PROGRAM_BUILD_LOG,
                              size, log, NULL) == CL_SUCCESS) {
        log[size] = '\0';
    } else if (log != NULL) {
        log[0] = '\0';
    }
    const char *text = log != NULL && log[0] != '\0' ? log : "(empty)";
    rg_log(RG_LOG_LEVEL_ERROR, "opencl: build log of program '%s':\n%s",
           label, text);
    rg_error_set(err, RG_STATUS_BACKEND,
                 "building OpenCL program '%s' for device '%s' failed: %s "
                 "(%d); build log: %s", label, b->device->name,
                 ocl_error_name(rc), (int)rc, text);
    free(log);
    return RG_STATUS_BACKEND;
}

/* Compiles `source`; counts and times the build. */
static rg_status program_from_source(ocl_builder *b, const char *source,
                                     const char *options, const char *label,
                                     cl_program *out, rg_error *err)
{
    cl_int rc;
    cl_device_id device = b->device->id;
    double start = seconds_now();
    cl_program program = clCreateProgramWithSource(b->context, 1, &source,
                                                   NULL, &rc);

    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clCreateProgramWithSource", rc);
    }
    rc = clBuildProgram(program, 1, &device, options, NULL, NULL);
    if (rc != CL_SUCCESS) {
        rg_status st = rc == CL_BUILD_PROGRAM_FAILURE
                           ? build_failure(b, program, rc, label, err)
                           : ocl_fail(err, "clBuildProgram", rc);
        clReleaseProgram(program);
        return st;
    }
    b->n_built++;
    rg_log(RG_LOG_LEVEL_DEBUG, "opencl: built program '%s' in %.2f s", label,
           seconds_now() - start);
    *out = program;
    return RG_STATUS_OK;
}

/* Stores the binary of a built program. A failure only loses the cache
 * entry. */
static void store_binary(const ocl_builder *b, cl_program program,
                         const char *key)
{
    size_t size = 0;
    cl_int rc = clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES,
                                 sizeof(size), &size, NULL);

    if (rc != CL_SUCCESS || size == 0) {
        rg_log(RG_LOG_LEVEL_DEBUG, "opencl: the device gives no program "
               "binary (%s); nothing cached", ocl_error_name(rc));
        return;
    }
    unsigned char *binary = malloc(size);
    if (binary == NULL) {
        return;
    }
    rc = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(binary),
                          &binary, NULL);
    if (rc == CL_SUCCESS) {
        ocl_cache_store(b->cache_dir, key, binary, size);
    } else {
        rg_log(RG_LOG_LEVEL_WARN, "opencl: reading a program binary failed: "
               "%s (%d)", ocl_error_name(rc), (int)rc);
    }
    free(binary);
}

rg_status ocl_program_build(ocl_builder *b, const char *source,
                            const char *options, const char *label,
                            cl_program *out, rg_error *err)
{
    char key[1024];
    bool use_cache = b->cache_enabled && b->cache_dir[0] != '\0';

    make_key(b, source, options, key, sizeof(key));
    if (use_cache) {
        size_t size = 0;
        unsigned char *binary = ocl_cache_load(b->cache_dir, key, &size);

        if (binary != NULL) {
            cl_program program = program_from_binary(b, options, binary,
                                                     size, label);
            free(binary);
            if (program != NULL) {
                char path[1200];
                ocl_cache_path(b->cache_dir, key, path, sizeof(path));
                b->n_loaded++;
                rg_log(RG_LOG_LEVEL_DEBUG, "opencl: program '%s' loaded from "
                       "cache %s", label, path);
                *out = program;
                return RG_STATUS_OK;
            }
        }
    }
    rg_status st = program_from_source(b, source, options, label, out, err);
    if (st == RG_STATUS_OK && use_cache) {
        store_binary(b, *out, key);
    }
    return st;
}
