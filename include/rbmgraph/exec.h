/*
 * Execution. A runtime owns one backend (CPU or an OpenCL device) and the
 * persistent tensors (params and state) shared by every plan run on it. An
 * executor binds one plan to a runtime: it owns the plan's arena and runs
 * steps. Neither has any RBM-specific code.
 *
 * Thread safety: a runtime and its executors are used from one thread.
 */
#ifndef RBMGRAPH_EXEC_H
#define RBMGRAPH_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"
#include "rbmgraph/model.h"
#include "rbmgraph/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rg_runtime rg_runtime;
typedef struct rg_exec rg_exec;

/*
 * Opens a runtime on `device`, one of:
 *   "cpu"         the CPU backend (OpenBLAS); NULL means the same;
 *   "opencl"      the first OpenCL GPU of any platform, else the first
 *                 OpenCL device;
 *   "opencl:P:D"  device D of OpenCL platform P, counting from 0, in the
 *                 order rg_device_list gives;
 *   "auto"        the first OpenCL GPU, else the CPU backend.
 * `seed` keys every random draw and the initial values of params and
 * state, so a seed gives the same uniforms on every device. Fails with
 * RG_STATUS_INVALID_ARGUMENT for a malformed spec, RG_STATUS_NOT_FOUND
 * when the platform or device does not exist (the message lists those
 * that do) and RG_STATUS_BACKEND when OpenCL fails. The OpenCL program
 * cache is on unless the environment variable RG_NO_CACHE is 1. When
 * RG_OPENCL_DUMP names a directory, every generated OpenCL source is
 * written there as rbm-graph-HASH.cl.
 */
rg_status rg_runtime_new(const char *device, uint64_t seed, rg_runtime **out,
                         rg_error *err);
void rg_runtime_free(rg_runtime *rt);

/* A device rg_runtime_new can open, as rg_device_list describes it. */
typedef struct rg_device_info {
    char spec[32];           /* "cpu" or "opencl:P:D" */
    char name[256];          /* the CPU model, or CL_DEVICE_NAME */
    char platform[256];      /* CL_PLATFORM_NAME; "" for the CPU backend */
    char type[16];           /* "cpu", "gpu", "accelerator" or "other" */
    int compute_units;       /* threads of the CPU backend */
    int64_t global_mem_bytes;
    int64_t max_alloc_bytes; /* largest single buffer */
    char driver_version[128];
} rg_device_info;

/*
 * Lists the CPU backend first, then every device of every OpenCL
 * platform. Stores a malloc'd array in *out (free with
 * rg_device_list_free) and its length in *n_devices. A machine with no
 * OpenCL platform gives the CPU backend alone.
 */
rg_status rg_device_list(rg_device_info **out, int *n_devices,
                         rg_error *err);
void rg_device_list_free(rg_device_info *devices);

/* The device the runtime runs on, as a spec and a name ("cpu" or
 * "opencl:0:0 (NAME)"); valid while the runtime lives. */
const char *rg_runtime_device(const rg_runtime *rt);

/*
 * Turns the OpenCL program-binary cache on or off for executors bound
 * after the call, and sets its directory (NULL: $XDG_CACHE_HOME/rbm-graph,
 * else ~/.cache/rbm-graph). Entries are keyed by device name, driver
 * version and source hash. Other backends ignore it.
 */
rg_status rg_runtime_set_cache(rg_runtime *rt, bool enabled,
                               const char *dir, rg_error *err);

/* Counters of the device programs a runtime has made so far. */
typedef struct rg_runtime_stats {
    int64_t programs_built;  /* compiled from generated source */
    int64_t programs_loaded; /* loaded from the program cache */
} rg_runtime_stats;

/* Fills `out`; all zero for backends that compile nothing. */
void rg_runtime_get_stats(const rg_runtime *rt, rg_runtime_stats *out);

/*
 * Sets how many threads the backend uses (OpenBLAS and the CPU kernels);
 * 0 restores the default: the environment variable RG_THREADS when it is
 * set, else one per core this process may run on. Other backends ignore
 * it.
 */
rg_status rg_runtime_set_threads(rg_runtime *rt, int n_threads,
                                 rg_error *err);

/* Persistent tensors, in creation order. */
int rg_runtime_n_tensors(const rg_runtime *rt);
const char *rg_runtime_tensor_name(const rg_runtime *rt, int index);
rg_shape rg_runtime_tensor_shape(const rg_runtime *rt, int index);
/* Returns the tensor's index, or -1 when absent. */
int rg_runtime_find_tensor(const rg_runtime *rt, const char *name);

/*
 * Creates a persistent tensor filled per `init` (drawn from the runtime's
 * seed and the tensor's name). An existing tensor of the same name and
 * shape is left as it is; a different shape gives RG_STATUS_SHAPE.
 */
rg_status rg_runtime_add_tensor(rg_runtime *rt, const char *name,
                                rg_shape shape, rg_init init, rg_error *err);

/*
 * Copies a persistent tensor to or from host memory of exactly `n_elements`
 * floats. Returns RG_STATUS_NOT_FOUND or RG_STATUS_SHAPE on a wrong name or
 * size.
 */
rg_status rg_runtime_read(rg_runtime *rt, const char *name, float *dst,
                          int64_t n_elements, rg_error *err);
rg_status rg_runtime_write(rg_runtime *rt, const char *name,
                           const float *src, int64_t n_elements,
                           rg_error *err);

/*
 * Binds `plan` to `rt`. Params and state the plan uses are created and
 * initialised (from their init spec and the runtime's seed) if the runtime
 * does not hold them yet, and checked for the same shape otherwise. The
 * plan must outlive the executor.
 */
rg_status rg_exec_new(rg_runtime *rt, const rg_plan *plan, rg_exec **out,
                      rg_error *err);
void rg_exec_free(rg_exec *ex);

/* Copies an input's values (row-major, exactly its element count). */
rg_status rg_exec_set_input(rg_exec *ex, const char *name, const float *src,
                            int64_t n_elements, rg_error *err);

/*
 * Copies an input given as bytes: element i becomes src[i] * scale (for
 * pixels, scale 1/255 gives [0, 1]). An OpenCL device receives the bytes
 * and converts them itself, so a minibatch crosses the bus at a quarter
 * of its float size. The CPU backend converts on the host.
 */
rg_status rg_exec_set_input_u8(rg_exec *ex, const char *name,
                               const uint8_t *src, int64_t n_elements,
                               float scale, rg_error *err);

/*
 * Sets every hyperparameter the plan reads to its current value in `m`
 * (after rg_model_set). Hyperparameters of `m` the plan does not read are
 * skipped.
 */
void rg_exec_set_model_hypers(rg_exec *ex, const rg_model *m);

/* Sets a hyperparameter; unknown names are ignored and return NOT_FOUND. */
rg_status rg_exec_set_hyper(rg_exec *ex, const char *name, double value,
                            rg_error *err);

/*
 * Runs the plan once. `step` indexes the random stream: the same seed,
 * step and inputs give the same draws on every backend. Updates of params
 * and state are applied together at the end of the run.
 */
rg_status rg_exec_run(rg_exec *ex, uint64_t step, rg_error *err);

/* Copies an output of the last run into `dst` (exactly its element count). */
rg_status rg_exec_get_output(rg_exec *ex, const char *name, float *dst,
                             int64_t n_elements, rg_error *err);

/* Timings of one plan, measured in one process by rg_exec_bench. */
typedef struct rg_bench_result {
    int n_steps;
    double step_seconds; /* mean wall time of one full run */
    double gemm_seconds; /* mean wall time of the run's GEMMs alone */
} rg_bench_result;

/*
 * Times `n_steps` full runs and then the same matrix products alone, in
 * alternating rounds, keeping the fastest round of each so that noise
 * from other processes weighs on both the same. Inputs and
 * hyperparameters must be set; params change as in training.
 */
rg_status rg_exec_bench(rg_exec *ex, int n_steps, rg_bench_result *out,
                        rg_error *err);

/*
 * Runs the plan `n_runs` times, synchronising after every step, and stores
 * the mean seconds of each plan step in `seconds` (one entry per step, in
 * the order rg_plan_print lists them).
 */
rg_status rg_exec_profile(rg_exec *ex, int n_runs, double *seconds,
                          rg_error *err);

/* Number of backend steps of the bound plan. */
int rg_exec_n_steps(const rg_exec *ex);
const char *rg_exec_step_label(const rg_exec *ex, int step);

#ifdef __cplusplus
}
#endif

#endif
