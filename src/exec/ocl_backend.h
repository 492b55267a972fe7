/*
 * Internal layout of the OpenCL backend, shared by backend_opencl.c
 * (buffers, transfers, products, launches, opening) and ocl_kernels.c
 * (preparing a plan's kernel programs, the byte-to-float conversion).
 */
#ifndef RG_OCL_BACKEND_H
#define RG_OCL_BACKEND_H

#include "exec/backend.h"
#include "exec/ocl_internal.h"
#include "kernels/kprog_opencl.h"

struct backend_buffer {
    cl_mem mem;
    int64_t bytes;
};

/* One built OpenCL program, shared by the plans whose source it is. */
typedef struct ocl_compiled {
    uint64_t hash;
    size_t length;
    cl_program program;
    int refs;
} ocl_compiled;

/* The kernels of one prepared kernel program. */
typedef struct ocl_entry {
    const kp_program *program;
    kp_ocl_launch launch;
    cl_kernel main;
    cl_kernel finish;       /* NULL when the program does not reduce */
    ocl_compiled *compiled;
    int refs;               /* executors that prepared this program */
} ocl_entry;

/* A host copy that an enqueued write reads until `done` completes. */
typedef struct ocl_pending {
    cl_event done;
    void *host;
} ocl_pending;

typedef struct ocl_backend {
    backend base;
    ocl_device device;
    cl_context context;
    cl_command_queue queue;
    ocl_builder builder;
    kp_ocl_target target;
    char build_options[96];
    char description[320];
    int64_t allocated_bytes;

    ocl_entry **entries;
    int n_entries;
    ocl_compiled **compiled;
    int n_compiled;
    cl_mem scratch;          /* reduction partials, shared by all kernels */
    int64_t scratch_bytes;

    cl_program convert_program;
    cl_kernel convert_kernel;
    cl_mem staging;          /* bytes of rg_exec_set_input_u8 */
    int64_t staging_bytes;

    ocl_pending *pending;
    int n_pending;
    int max_pending;
} ocl_backend;

static inline ocl_backend *ocl_of(backend *b)
{
    return (ocl_backend *)b;
}

/* Enqueues a write of a private copy of `src`, freed once the device has
 * read it. */
rg_status ocl_enqueue_write(ocl_backend *ob, cl_mem mem, size_t offset,
                            const void *src, size_t bytes, rg_error *err);

/* The prepared kernels of `p`, or NULL. */
ocl_entry *ocl_find_entry(const ocl_backend *ob, const kp_program *p);

/* The backend_ops slots that ocl_kernels.c implements. */
rg_status ocl_prepare_kernels(backend *b, const kp_program *const *kernels,
                              int n_kernels, rg_error *err);
void ocl_release_kernels(backend *b, const kp_program *const *kernels,
                         int n_kernels);
rg_status ocl_write_u8(backend *b, backend_buffer *buf, int64_t offset_bytes,
                       const uint8_t *src, int64_t n, float scale,
                       rg_error *err);

/* Releases every prepared program, the scratch and staging buffers and
 * the conversion kernel. */
void ocl_kernels_destroy(ocl_backend *ob);

#endif
