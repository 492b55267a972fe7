/*
 * CPU evaluator of kernel programs. The iteration space is walked row by
 * row in blocks of up to KP_BLOCK columns; each instruction is applied to
 * a whole block before the next one, so the per-instruction switch costs
 * little and the registers of one block (n_instrs * KP_BLOCK floats) stay
 * in the L1 or L2 cache. Sums accumulate in double.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kprog.h"
#include "kernels/philox.h"

#define KP_BLOCK 256

typedef struct cpu_ctx {
    const kp_program *p;
    float *const *buffers;
    const float *scalars;
    uint64_t seed;
    uint64_t step;
    float *regs;     /* [n_instrs, KP_BLOCK] */
    double **sums;   /* per store: NULL, or its accumulator */
} cpu_ctx;

static void eval_load(const cpu_ctx *ctx, const kp_access *a, int64_t row,
                      int64_t col, int n, float *dst)
{
    const float *src = ctx->buffers[a->buffer] + a->offset +
                       row * a->row_stride + col * a->col_stride;

    if (a->col_stride == 1) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (a->col_stride == 0) {
        for (int i = 0; i < n; i++) {
            dst[i] = src[0];
        }
    } else {
        for (int i = 0; i < n; i++) {
            dst[i] = src[i * a->col_stride];
        }
    }
}

static void eval_random(const cpu_ctx *ctx, const kp_instr *in, int64_t row,
                        int64_t col, int n, float *dst)
{
    uint64_t index = (uint64_t)(row * ctx->p->cols + col);

    if (in->op == KP_UNIFORM) {
        for (int i = 0; i < n; i++) {
            dst[i] = rg_philox_uniform(ctx->seed, ctx->step, in->arg,
                                       index + (uint64_t)i);
        }
    } else {
        for (int i = 0; i < n; i++) {
            dst[i] = rg_philox_normal(ctx->seed, ctx->step, in->arg,
                                      index + (uint64_t)i);
        }
    }
}

/* Computes every instruction over columns [col, col + n) of `row`. */
static void eval_block(const cpu_ctx *ctx, int64_t row, int64_t col, int n)
{
    const kp_program *p = ctx->p;

    for (int k = 0; k < p->n_instrs; k++) {
        const kp_instr *in = &p->instrs[k];
        float *dst = ctx->regs + (size_t)k * KP_BLOCK;
        const float *a = ctx->regs + (size_t)in->a * KP_BLOCK;
        const float *b = ctx->regs + (size_t)in->b * KP_BLOCK;
        const float *c = ctx->regs + (size_t)in->c * KP_BLOCK;

        switch (in->op) {
        case KP_LOAD:
            eval_load(ctx, &p->loads[in->a], row, col, n, dst);
            break;
        case KP_CONST:
        case KP_SCALAR: {
            float v = in->op == KP_CONST ? in->imm : ctx->scalars[in->arg];
            for (int i = 0; i < n; i++) {
                dst[i] = v;
            }
            break;
        }
        case KP_UNIFORM:
        case KP_NORMAL:
            eval_random(ctx, in, row, col, n, dst);
            break;
        /* The hot binary ops get plain loops the compiler vectorises. */
        case KP_ADD:
            for (int i = 0; i < n; i++) {
                dst[i] = a[i] + b[i];
            }
            break;
        case KP_SUB:
            for (int i = 0; i < n; i++) {
                dst[i] = a[i] - b[i];
            }
            break;
        case KP_MUL:
            for (int i = 0; i < n; i++) {
                dst[i] = a[i] * b[i];
            }
            break;
        default:
            for (int i = 0; i < n; i++) {
                dst[i] = kp_apply(in->op, a[i], b[i], c[i]);
            }
        }
    }
}

static void store_block(const cpu_ctx *ctx, int64_t row, int64_t col, int n)
{
    const kp_program *p = ctx->p;

    for (int s = 0; s < p->n_stores; s++) {
        const kp_store *st = &p->stores[s];
        const float *v = ctx->regs + (size_t)st->src * KP_BLOCK;
        double *acc = ctx->sums[s];

        switch (st->reduce) {
        case KP_REDUCE_NONE: {
            const kp_access *d = &st->dst;
            float *dst = ctx->buffers[d->buffer] + d->offset +
                         row * d->row_stride + col * d->col_stride;
            for (int i = 0; i < n; i++) {
                dst[i * d->col_stride] = v[i];
            }
            break;
        }
        case KP_REDUCE_ROWS:
            for (int i = 0; i < n; i++) {
                acc[col + i] += v[i];
            }
            break;
        case KP_REDUCE_COLS:
            for (int i = 0; i < n; i++) {
                acc[row] += v[i];
            }
            break;
        case KP_REDUCE_ALL:
            for (int i = 0; i < n; i++) {
                acc[0] += v[i];
            }
            break;
        }
    }
}

static int64_t sum_length(const kp_program *p, kp_reduce reduce)
{
    switch (reduce) {
    case KP_REDUCE_ROWS: return p->cols;
    case KP_REDUCE_COLS: return p->rows;
    case KP_REDUCE_ALL: return 1;
    default: return 0;
    }
}

/* Writes finished sums, scaled, to their destinations. */
static void store_sums(const cpu_ctx *ctx)
{
    const kp_program *p = ctx->p;

    for (int s = 0; s < p->n_stores; s++) {
        const kp_store *st = &p->stores[s];
        int64_t len = sum_length(p, st->reduce);
        const kp_access *d = &st->dst;
        float *dst = ctx->buffers[d->buffer] + d->offset;

        for (int64_t i = 0; i < len; i++) {
            dst[i * d->col_stride] = (float)(ctx->sums[s][i] * st->scale);
        }
    }
}

static void free_sums(double **sums, int n)
{
    if (sums == NULL) {
        return;
    }
    for (int s = 0; s < n; s++) {
        free(sums[s]);
    }
    free(sums);
}

bool kp_cpu_run(const kp_program *p, float *const *buffers,
                const float *scalars, uint64_t seed, uint64_t step)
{
    cpu_ctx ctx = {p, buffers, scalars, seed, step, NULL, NULL};
    size_t n_regs = (size_t)(p->n_instrs > 0 ? p->n_instrs : 1);

    ctx.regs = malloc(n_regs * KP_BLOCK * sizeof(float));
    ctx.sums = calloc((size_t)(p->n_stores > 0 ? p->n_stores : 1),
                      sizeof(double *));
    if (ctx.regs == NULL || ctx.sums == NULL) {
        free(ctx.regs);
        free(ctx.sums);
        return false;
    }
    for (int s = 0; s < p->n_stores; s++) {
        int64_t len = sum_length(p, p->stores[s].reduce);
        if (len > 0) {
            ctx.sums[s] = calloc((size_t)len, sizeof(double));
            if (ctx.sums[s] == NULL) {
                free_sums(ctx.sums, p->n_stores);
                free(ctx.regs);
                return false;
            }
        }
    }

    for (int64_t row = 0; row < p->rows; row++) {
        for (int64_t col = 0; col < p->cols; col += KP_BLOCK) {
            int64_t left = p->cols - col;
            int n = left < KP_BLOCK ? (int)left : KP_BLOCK;

            eval_block(&ctx, row, col, n);
            store_block(&ctx, row, col, n);
        }
    }
    store_sums(&ctx);

    free_sums(ctx.sums, p->n_stores);
    free(ctx.regs);
    return true;
}
