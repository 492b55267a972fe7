/*
 * CPU evaluator of kernel programs. The iteration space is walked row by
 * row in blocks of up to KP_BLOCK columns; each instruction is applied to
 * a whole block before the next one, so the per-instruction dispatch costs
 * little, the loops vectorise, and the registers of one block
 * (n_instrs * KP_BLOCK floats) stay in the L1 or L2 cache. Sums
 * accumulate in double. A caller may split the rows among threads: each
 * part keeps its own sums, which kp_cpu_sums_store adds in part order.
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
    float *regs;          /* [n_instrs, KP_BLOCK] */
    double *const *sums;  /* per store: NULL, or its accumulator */
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

/* Uniform draws for elements [first, first + n), one Philox block per
 * four elements. */
static void eval_uniform(const cpu_ctx *ctx, uint32_t stream, uint64_t first,
                         int n, float *dst)
{
    uint64_t index = first;
    int i = 0;

    while (i < n) {
        rg_philox_u4 b = rg_philox_draw_block(ctx->seed, ctx->step, stream,
                                              index >> 2);
        for (unsigned w = (unsigned)(index & 3); w < 4 && i < n; w++) {
            dst[i++] = rg_philox_word_to_unit(b.v[w]);
            index++;
        }
    }
}

static void eval_normal(const cpu_ctx *ctx, uint32_t stream, uint64_t first,
                        int n, float *dst)
{
    for (int i = 0; i < n; i++) {
        dst[i] = rg_philox_normal(ctx->seed, ctx->step, stream,
                                  first + (uint64_t)i);
    }
}

/* Loop bodies over one block; `a`, `b`, `c` are operand registers. */
#define KP_LOOP(expr)                                                      \
    for (int i = 0; i < n; i++) {                                          \
        dst[i] = (expr);                                                   \
    }                                                                      \
    break

static void eval_op(const kp_instr *in, const float *a, const float *b,
                    const float *c, int n, float *dst)
{
    switch (in->op) {
    case KP_ADD: KP_LOOP(a[i] + b[i]);
    case KP_SUB: KP_LOOP(a[i] - b[i]);
    case KP_MUL: KP_LOOP(a[i] * b[i]);
    case KP_DIV: KP_LOOP(a[i] / b[i]);
    case KP_LT: KP_LOOP(a[i] < b[i] ? 1.0f : 0.0f);
    case KP_LE: KP_LOOP(a[i] <= b[i] ? 1.0f : 0.0f);
    case KP_GT: KP_LOOP(a[i] > b[i] ? 1.0f : 0.0f);
    case KP_GE: KP_LOOP(a[i] >= b[i] ? 1.0f : 0.0f);
    case KP_NEG: KP_LOOP(-a[i]);
    case KP_SQUARE: KP_LOOP(a[i] * a[i]);
    case KP_RELU: KP_LOOP(a[i] > 0.0f ? a[i] : 0.0f);
    case KP_EQ: KP_LOOP(a[i] == b[i] ? 1.0f : 0.0f);
    case KP_NE: KP_LOOP(a[i] != b[i] ? 1.0f : 0.0f);
    case KP_MIN: KP_LOOP(fminf(a[i], b[i]));
    case KP_MAX: KP_LOOP(fmaxf(a[i], b[i]));
    case KP_SIGMOID: KP_LOOP(kp_sigmoidf(a[i]));
    case KP_SOFTPLUS: KP_LOOP(kp_softplusf(a[i]));
    case KP_EXP: KP_LOOP(expf(a[i]));
    case KP_LOG: KP_LOOP(logf(a[i]));
    case KP_ABS: KP_LOOP(fabsf(a[i]));
    case KP_SQRT: KP_LOOP(sqrtf(a[i]));
    case KP_WHERE: KP_LOOP(a[i] != 0.0f ? b[i] : c[i]);
    default: KP_LOOP(kp_apply(in->op, a[i], b[i], c[i]));
    }
}

#undef KP_LOOP

/* Computes every instruction over columns [col, col + n) of `row`. */
static void eval_block(const cpu_ctx *ctx, int64_t row, int64_t col, int n)
{
    const kp_program *p = ctx->p;
    uint64_t first = (uint64_t)(row * p->cols + col);

    for (int k = 0; k < p->n_instrs; k++) {
        const kp_instr *in = &p->instrs[k];
        float *dst = ctx->regs + (size_t)k * KP_BLOCK;

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
            eval_uniform(ctx, in->arg, first, n, dst);
            break;
        case KP_NORMAL:
            eval_normal(ctx, in->arg, first, n, dst);
            break;
        default:
            eval_op(in, ctx->regs + (size_t)in->a * KP_BLOCK,
                    ctx->regs + (size_t)in->b * KP_BLOCK,
                    ctx->regs + (size_t)in->c * KP_BLOCK, n, dst);
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
            if (d->col_stride == 1) {
                memcpy(dst, v, (size_t)n * sizeof(float));
            } else {
                for (int i = 0; i < n; i++) {
                    dst[i * d->col_stride] = v[i];
                }
            }
            break;
        }
        case KP_REDUCE_ROWS:
            for (int i = 0; i < n; i++) {
                acc[col + i] += v[i];
            }
            break;
        case KP_REDUCE_COLS: {
            double sum = 0.0;
            for (int i = 0; i < n; i++) {
                sum += v[i];
            }
            acc[row] += sum;
            break;
        }
        case KP_REDUCE_ALL: {
            double sum = 0.0;
            for (int i = 0; i < n; i++) {
                sum += v[i];
            }
            acc[0] += sum;
            break;
        }
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

double **kp_cpu_sums_new(const kp_program *p)
{
    double **sums = calloc((size_t)p->n_stores + 1, sizeof(double *));

    if (sums == NULL) {
        return NULL;
    }
    for (int s = 0; s < p->n_stores; s++) {
        int64_t len = sum_length(p, p->stores[s].reduce);
        if (len > 0 && (sums[s] = calloc((size_t)len, sizeof(double))) ==
                           NULL) {
            kp_cpu_sums_free(p, sums);
            return NULL;
        }
    }
    return sums;
}

void kp_cpu_sums_free(const kp_program *p, double **sums)
{
    if (sums == NULL) {
        return;
    }
    for (int s = 0; s < p->n_stores; s++) {
        free(sums[s]);
    }
    free(sums);
}

bool kp_cpu_run_rows(const kp_program *p, float *const *buffers,
                     const float *scalars, uint64_t seed, uint64_t step,
                     int64_t row_begin, int64_t row_end, double *const *sums)
{
    size_t n_regs = (size_t)(p->n_instrs > 0 ? p->n_instrs : 1);
    cpu_ctx ctx = {p, buffers, scalars, seed, step, NULL, sums};

    ctx.regs = malloc(n_regs * KP_BLOCK * sizeof(float));
    if (ctx.regs == NULL) {
        return false;
    }
    for (int64_t row = row_begin; row < row_end; row++) {
        for (int64_t col = 0; col < p->cols; col += KP_BLOCK) {
            int64_t left = p->cols - col;
            int n = left < KP_BLOCK ? (int)left : KP_BLOCK;

            eval_block(&ctx, row, col, n);
            store_block(&ctx, row, col, n);
        }
    }
    free(ctx.regs);
    return true;
}

void kp_cpu_sums_store(const kp_program *p, float *const *buffers,
                       double **const *parts, int n_parts)
{
    for (int s = 0; s < p->n_stores; s++) {
        const kp_store *st = &p->stores[s];
        int64_t len = sum_length(p, st->reduce);
        const kp_access *d = &st->dst;
        float *dst = buffers[d->buffer] + d->offset;

        for (int64_t i = 0; i < len; i++) {
            double total = 0.0;
            for (int k = 0; k < n_parts; k++) {
                total += parts[k][s][i];
            }
            dst[i * d->col_stride] = (float)(total * st->scale);
        }
    }
}

bool kp_cpu_run(const kp_program *p, float *const *buffers,
                const float *scalars, uint64_t seed, uint64_t step)
{
    double **sums = kp_cpu_sums_new(p);
    bool ok = sums != NULL &&
              kp_cpu_run_rows(p, buffers, scalars, seed, step, 0, p->rows,
                              sums);

    if (ok) {
        double **const parts[1] = {sums};
        kp_cpu_sums_store(p, buffers, parts, 1);
    }
    kp_cpu_sums_free(p, sums);
    return ok;
}
