/*
 * Internal pieces of the OpenCL backend shared by its files: device
 * discovery and description (ocl_device.c), OpenCL and CLBlast error
 * names, and program building through the on-disk binary cache
 * (ocl_program.c, ocl_cache.c). Every cl_int that comes back from OpenCL
 * is turned into an rg_status here, with the call's name and the code's
 * name in the message.
 */
#ifndef RG_OCL_INTERNAL_H
#define RG_OCL_INTERNAL_H

/* The 1.2 API: clCreateCommandQueue and no 2.0 calls. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbmgraph/error.h"
#include "rbmgraph/exec.h"

/* One OpenCL device and the properties the backend uses. */
typedef struct ocl_device {
    cl_platform_id platform;
    cl_device_id id;
    int platform_index;
    int device_index;
    char name[256];
    char platform_name[256];
    char driver_version[128];
    char version[128];            /* CL_DEVICE_VERSION */
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem_bytes;
    cl_ulong max_alloc_bytes;     /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    size_t max_work_group;        /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_item_sizes[3];     /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
    cl_ulong local_mem_bytes;
    bool fp64;                    /* cl_khr_fp64 */
    bool correct_div_sqrt;        /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT */
} ocl_device;

/* Returns the symbolic name of an OpenCL error code, such as
 * "CL_OUT_OF_HOST_MEMORY", or "unknown OpenCL error" for codes that
 * ocl_device.c does not list. */
const char *ocl_error_name(cl_int code);

/* Returns the name of a CLBlast status code; OpenCL codes give their
 * OpenCL names. */
const char *ocl_clblast_status_name(int status);

/* Fills `err` with RG_STATUS_BACKEND: "CALL failed: NAME (CODE)". */
rg_status ocl_fail(rg_error *err, const char *call, cl_int code);

/* Returns "cpu", "gpu", "accelerator" or "other". */
const char *ocl_device_type_name(cl_device_type type);

/*
 * Finds the device that a device spec names: "opencl" (the first GPU of
 * any platform, else the first device), "opencl:P:D" (platform P, device
 * D, counting from 0) or "auto" (the first GPU only; RG_STATUS_NOT_FOUND
 * when there is none). Errors list the platforms and devices that exist.
 */
rg_status ocl_device_find(const char *spec, ocl_device *out, rg_error *err);

/* Appends every OpenCL device of every platform to `*list` (grown with
 * realloc). No platform at all is not an error. */
rg_status ocl_device_list_append(rg_device_info **list, int *n_devices,
                                 rg_error *err);

/* Builds programs for one device, through the binary cache. */
typedef struct ocl_builder {
    cl_context context;
    const ocl_device *device;
    bool cache_enabled;
    char cache_dir[1024];         /* "" when no directory is known */
    int64_t n_built;              /* programs compiled from source */
    int64_t n_loaded;             /* programs loaded from the cache */
} ocl_builder;

/*
 * Makes a built program from `source` compiled with `options`. It comes
 * from the cache when the cache contains a valid binary for this device,
 * driver and source. Otherwise the source is compiled and the binary
 * stored. A failed compile returns
 * RG_STATUS_BACKEND with the build log in the message. `label` names the
 * program in errors and logs.
 */
rg_status ocl_program_build(ocl_builder *b, const char *source,
                            const char *options, const char *label,
                            cl_program *out, rg_error *err);

/* 64-bit FNV-1a of `n` bytes, continuing from `hash` (start with
 * OCL_HASH_SEED). */
#define OCL_HASH_SEED UINT64_C(0xcbf29ce484222325)
uint64_t ocl_hash(const void *data, size_t n, uint64_t hash);

/* Sets `dir` to $XDG_CACHE_HOME/rbm-graph, else $HOME/.cache/rbm-graph,
 * else "". */
void ocl_cache_default_dir(char *dir, size_t size);

/*
 * Reads the cache entry of `key` in `dir`. Returns a malloc'd binary and
 * its size, or NULL when there is no entry or the entry is stale (another
 * key) or corrupt (bad header, size or checksum). The reason for a NULL is
 * logged at debug level.
 */
unsigned char *ocl_cache_load(const char *dir, const char *key,
                              size_t *size);

/*
 * Writes the cache entry of `key` atomically (a temporary file renamed
 * over the entry), creating `dir` when needed. A failure is logged as a
 * warning and otherwise ignored: the cache only saves time.
 */
void ocl_cache_store(const char *dir, const char *key,
                     const unsigned char *binary, size_t size);

/* Writes the path of the file of `key` in `dir` to `path`. */
void ocl_cache_path(const char *dir, const char *key, char *path,
                    size_t size);

#endif
