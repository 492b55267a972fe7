/*
 * Worker pool. A job is published by bumping `generation`; each worker
 * runs its part and decrements `pending`. Workers that see no new job for
 * SPIN_ROUNDS checks go to sleep on `wake`, and the publisher broadcasts
 * it, so the mutex is the only point of contact after a quiet period.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "exec/cpu_pool.h"

enum { SPIN_ROUNDS = 200 };

struct cpu_pool {
    int n_threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint generation;
    atomic_int pending;
    atomic_bool stop;
    cpu_pool_fn fn;
    void *arg;
};

typedef struct worker_arg {
    cpu_pool *pool;
    int part;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits until `generation` differs from `seen`; returns the new value. */
static unsigned wait_for_job(cpu_pool *pool, unsigned seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&pool->generation,
                                          memory_order_acquire);
        if (g != seen) {
            return g;
        }
        cpu_relax();
    }
    pthread_mutex_lock(&pool->lock);
    unsigned g = atomic_load(&pool->generation);
    while (g == seen) {
        pthread_cond_wait(&pool->wake, &pool->lock);
        g = atomic_load(&pool->generation);
    }
    pthread_mutex_unlock(&pool->lock);
    return g;
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    cpu_pool *pool = wa->pool;
    int part = wa->part;
    unsigned seen = 0;

    free(wa);
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load(&pool->stop)) {
            return NULL;
        }
        pool->fn(pool->arg, part, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
}

cpu_pool *cpu_pool_new(int n_threads)
{
    cpu_pool *pool = calloc(1, sizeof(*pool));

    if (pool == NULL || n_threads < 1) {
        free(pool);
        return NULL;
    }
    pool->n_threads = 1;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->workers = calloc((size_t)n_threads, sizeof(pthread_t));
    if (pool->workers == NULL) {
        cpu_pool_free(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof(*wa));
        if (wa == NULL) {
            cpu_pool_free(pool);
            return NULL;
        }
        wa->pool = pool;
        wa->part = i;
        if (pthread_create(&pool->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            cpu_pool_free(pool);
            return NULL;
        }
        pool->n_threads = i + 1;
    }
    return pool;
}

/* Publishes the current fn and arg to every worker. */
static void publish(cpu_pool *pool)
{
    atomic_store(&pool->pending, pool->n_threads - 1);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
}

void cpu_pool_free(cpu_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    atomic_store(&pool->stop, true);
    publish(pool);
    for (int i = 1; i < pool->n_threads; i++) {
        pthread_join(pool->workers[i], NULL);
    }
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->workers);
    free(pool);
}

int cpu_pool_size(const cpu_pool *pool)
{
    return pool->n_threads;
}

void cpu_pool_run(cpu_pool *pool, cpu_pool_fn fn, void *arg)
{
    pool->fn = fn;
    pool->arg = arg;
    if (pool->n_threads > 1) {
        publish(pool);
    }
    fn(arg, 0, pool->n_threads);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        cpu_relax();
    }
}
