/*
 * CPU evaluator of kernel programs. The iteration space is walked row by
 * row in blocks of up to KP_BLOCK columns. Each instruction is applied to
 * a whole block before the next one, so the per-instruction dispatch costs
 * little, the loops vectorise, and the registers of one block
 * (n_instrs * KP_BLOCK floats) stay in the L1 or L2 cache. Sums
 * accumulate in double. A caller may split the rows among threads. Each
 * part then keeps its own sums, which kp_cpu_sums_store adds in part order.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kprog.h"
#include "kernels/philox.h"

#define KP_BLOCK 256

/*
 * On x86-64 the hot loops are compiled twice, for AVX2 and for the
 * baseline, and the loader picks the one the processor supports.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KP_CLONES
#endif

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

/*
 * Uniform draws for elements [first, first + n): word (index & 3) of
 * Philox block index >> 2, as rg_philox_uniform defines them. The blocks
 * of a whole register block are computed together, one round at a time
 * over arrays, so that the 32 x 32 -> 64-bit products vectorise; the
 * result is bit-identical to rg_philox_uniform.
 */
KP_CLONES
static void eval_uniform(const cpu_ctx *ctx, uint32_t stream, uint64_t first,
                         int n, float *restrict dst)
{
    enum { MAX_BLOCKS = KP_BLOCK / 4 + 2 };
    uint32_t x0[MAX_BLOCKS], x1[MAX_BLOCKS], x2[MAX_BLOCKS], x3[MAX_BLOCKS];
    uint64_t block0 = first >> 2;
    int nb = (int)(((first + (uint64_t)n + 3) >> 2) - block0);
    uint32_t k0 = (uint32_t)ctx->seed;
    uint32_t k1 = (uint32_t)(ctx->seed >> 32) ^ (uint32_t)(ctx->step >> 32);

    for (int j = 0; j < nb; j++) {
        uint64_t b = block0 + (uint64_t)j;
        x0[j] = (uint32_t)b;
        x1[j] = (uint32_t)(b >> 32);
        x2[j] = stream;
        x3[j] = (uint32_t)ctx->step;
    }
    for (int r = 0; r < 10; r++) {
        for (int j = 0; j < nb; j++) {
            uint64_t p0 = (uint64_t)RG_PHILOX_M0 * x0[j];
            uint64_t p1 = (uint64_t)RG_PHILOX_M1 * x2[j];
            uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1[j] ^ k0;
            uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3[j] ^ k1;

            x1[j] = (uint32_t)p1;
            x3[j] = (uint32_t)p0;
            x0[j] = y0;
            x2[j] = y2;
        }
        k0 += RG_PHILOX_W0;
        k1 += RG_PHILOX_W1;
    }

    /* Element first + i is word (first + i) & 3 of block j. */
    unsigned skip = (unsigned)(first & 3);
    if (skip == 0 && n % 4 == 0) {
        for (int j = 0; j < n / 4; j++) {
            dst[4 * j] = rg_philox_word_to_unit(x0[j]);
            dst[4 * j + 1] = rg_philox_word_to_unit(x1[j]);
            dst[4 * j + 2] = rg_philox_word_to_unit(x2[j]);
            dst[4 * j + 3] = rg_philox_word_to_unit(x3[j]);
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        unsigned e = skip + (unsigned)i;
        unsigned j = e >> 2;
        uint32_t w = (e & 3) == 0 ? x0[j] : (e & 3) == 1 ? x1[j]
                   : (e & 3) == 2 ? x2[j] : x3[j];
        dst[i] = rg_philox_word_to_unit(w);
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

/*
 * e^x without branches or library calls, so that loops over it vectorise.
 * x = k ln 2 + r with |r| <= ln(2) / 2, and e^r from its Taylor series to
 * degree 7, whose remainder is below 5e-9; the result is within about two
 * float ulps of expf. Arguments are clamped to [-87, 88], which keeps 2^k
 * a normal float; expf would give 0 or Inf a little further out. The
 * kernels are built with -fno-trapping-math so that the compiler may turn
 * these comparisons into vector selects.
 */
static inline __attribute__((always_inline)) float block_expf(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145752f; /* ln 2 rounded to 16 bits */
    const float ln2_lo = 1.42860677e-6f;

    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* Adding and removing 1.5 * 2^23 rounds to the nearest integer. */
    float k = (x * log2e + 12582912.0f) - 12582912.0f;
    float r = x - k * ln2_hi - k * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = (int32_t)((uint32_t)((int32_t)k + 127) << 23);
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

/* The logistic function through block_expf, branch-free. */
static inline __attribute__((always_inline)) float block_sigmoidf(float x)
{
    float t = block_expf(-fabsf(x));
    float s = 1.0f / (1.0f + t);
    return x >= 0.0f ? s : t * s;
}

/* Loop bodies over one block; `a`, `b`, `c` are operand registers. */
#define KP_LOOP(expr)                                                      \
    for (int i = 0; i < n; i++) {                                          \
        dst[i] = (expr);                                                   \
    }                                                                      \
    break

KP_CLONES
static void eval_op(const kp_instr *in, const float *restrict a,
                    const float *restrict b, const float *restrict c, int n,
                    float *restrict dst)
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
    case KP_SIGMOID: KP_LOOP(block_sigmoidf(a[i]));
    case KP_SOFTPLUS: KP_LOOP(kp_softplusf(a[i]));
    case KP_EXP: KP_LOOP(isnan(a[i]) ? a[i] : block_expf(a[i]));
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

/* Sum of a block in double, over eight lanes so that the loop vectorises;
 * the lanes are added in a fixed order, so the result is reproducible. */
static inline __attribute__((always_inline)) double block_sum(const float *v,
                                                        int n)
{
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;

    for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; k++) {
            lane[k] += v[i + k];
        }
    }
    for (; i < n; i++) {
        lane[0] += v[i];
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

KP_CLONES
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
        case KP_REDUCE_COLS:
            acc[row] += block_sum(v, n);
            break;
        case KP_REDUCE_ALL:
            acc[0] += block_sum(v, n);
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
