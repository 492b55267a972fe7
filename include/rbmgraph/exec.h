/*
 * Execution. A runtime owns one backend (CPU or an OpenCL device) and the
 * persistent tensors (params and state) shared by every plan run on it. An
 * executor binds one plan to a runtime: it holds the plan's arena and runs
 * steps. Neither knows anything about RBMs.
 *
 * Thread safety: a runtime and its executors are used from one thread.
 */
#ifndef RBMGRAPH_EXEC_H
#define RBMGRAPH_EXEC_H

#include <stdint.h>

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"
#include "rbmgraph/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rg_runtime rg_runtime;
typedef struct rg_exec rg_exec;

/*
 * Opens a runtime on `device` ("cpu" is the only device of this build;
 * NULL means "cpu"). `seed` keys every random draw and the initial values
 * of params and state.
 */
rg_status rg_runtime_new(const char *device, uint64_t seed, rg_runtime **out,
                         rg_error *err);
void rg_runtime_free(rg_runtime *rt);

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
