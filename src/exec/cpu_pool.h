/*
 * A small fixed pool of worker threads for the CPU backend's kernels. The
 * calling thread runs part 0 of every job itself, so a pool of n threads
 * starts n - 1 workers. Workers spin briefly between jobs (kernels follow
 * each other within microseconds) and then sleep on a condition variable,
 * so an idle pool does not compete with OpenBLAS for the cores.
 */
#ifndef RG_CPU_POOL_H
#define RG_CPU_POOL_H

typedef struct cpu_pool cpu_pool;

/* Runs part `part` of `n_parts` of a job. */
typedef void (*cpu_pool_fn)(void *arg, int part, int n_parts);

/* Starts a pool of `n_threads` (>= 1) threads; NULL on failure. */
cpu_pool *cpu_pool_new(int n_threads);

/* Stops and joins the workers. NULL does nothing. */
void cpu_pool_free(cpu_pool *pool);

int cpu_pool_size(const cpu_pool *pool);

/* Runs fn(arg, part, n) for every part 0..n-1 (n = pool size) and returns
 * when all have finished. Not reentrant. */
void cpu_pool_run(cpu_pool *pool, cpu_pool_fn fn, void *arg);

#endif
