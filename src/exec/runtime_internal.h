/*
 * Internal layout of rg_runtime: the backend and the persistent tensors
 * (params and state), each in its own backend buffer.
 */
#ifndef RG_RUNTIME_INTERNAL_H
#define RG_RUNTIME_INTERNAL_H

#include "exec/backend.h"
#include "rbmgraph/exec.h"

typedef struct runtime_tensor {
    char *name;
    rg_shape shape;
    backend_buffer *buffer;
} runtime_tensor;

struct rg_runtime {
    backend *backend;
    uint64_t seed;
    runtime_tensor *tensors;
    int n_tensors;
};

/* Philox step index reserved for initial values of persistent tensors. */
#define RUNTIME_INIT_STEP UINT64_C(0xffffffffffffffff)

#endif
