/*
 * OpenCL C generator for kernel programs. A list of programs becomes one
 * self-contained OpenCL C source (philox.h and the helper templates are
 * embedded, so there is no #include) with one kernel per program, plus a
 * finishing kernel for programs that reduce. The text depends only on the
 * programs and the target, so equal plans give equal sources and the
 * source hash can key a binary cache.
 *
 * How a program runs: the [rows, cols] space is cut into tiles of
 * tile_cols x tile_rows work-items, one element per work-item. Plain
 * stores are written where they are computed. Each reduction store sums
 * its tile in local memory with a fixed tree and writes one partial per
 * tile and output element to a scratch buffer. A finishing kernel then
 * adds the partials in tile order, scales and stores. No atomics are
 * used, so sums are the same from run to run.
 *
 * NOTE: work-items run in no fixed order, while the CPU evaluator walks
 * rows in order. A plain store must therefore not overwrite an element
 * that the loads of another element read. The planner's in-place rule
 * keeps to this: a result overwrites an operand only when the kernel
 * reads that operand at the element being written and nowhere else.
 */
#ifndef RG_KPROG_OPENCL_H
#define RG_KPROG_OPENCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kprog.h"

/* The texts embedded at build time (NUL-terminated). */
extern const char kp_ocl_philox_text[];
extern const char kp_ocl_ops_text[];
extern const char kp_ocl_convert_text[];

/* What the generated source may assume about the device. */
typedef struct kp_ocl_target {
    int tile_cols;  /* work-group width, a power of two */
    int tile_rows;  /* work-group height, a power of two */
    bool fp64;      /* cl_khr_fp64: accumulate sums in double, else float */
} kp_ocl_target;

/*
 * How to launch one generated program. Kernel arguments, in order: the
 * buffers in `buffers` (cl_mem of plan buffer buffers[i]); the scratch
 * buffer when partial_count > 0; the runtime scalars in `scalars` (float,
 * by slot); seed and step (ulong) when `random`. The finishing kernel
 * takes the scratch buffer, then the same buffers.
 */
typedef struct kp_ocl_launch {
    char kernel[64];        /* main kernel's name */
    char finish[64];        /* finishing kernel's name; "" when none */
    size_t global[2];       /* main NDRange: cols and rows, padded */
    size_t finish_global;   /* finishing NDRange, one dimension */
    int64_t partial_count;  /* accumulators the scratch buffer must hold */
    int *buffers;           /* plan buffer numbers, ascending */
    int n_buffers;
    uint32_t *scalars;      /* scalar slots, ascending */
    int n_scalars;
    bool random;
} kp_ocl_launch;

void kp_ocl_launch_clear(kp_ocl_launch *launch);

/*
 * Generates the source of `programs` for `target`. Kernel i is named
 * "rg_k<i>_<name>". Fills launches[i] for each program (release them with
 * kp_ocl_launch_clear). Returns a malloc'd NUL-terminated text, or NULL
 * when out of memory.
 */
char *kp_ocl_generate(const kp_program *const *programs, int n_programs,
                      const kp_ocl_target *target, kp_ocl_launch *launches);

#endif
