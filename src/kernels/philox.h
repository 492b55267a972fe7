/*
 * Philox4x32-10, the counter-based random number generator of Salmon,
 * Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3"
 * (SC11), and the uniform and normal draws built on it.
 *
 * This header compiles unchanged as C11 and as OpenCL C 1.2, so that the
 * CPU backend and generated OpenCL kernels draw the same numbers. The core
 * uses only 32- and 64-bit integer arithmetic and calls no library
 * function; only rg_philox_normal needs log, sqrt and cos.
 *
 * How a draw is addressed. Draws are keyed by (seed, step, stream, index):
 * `seed` is the runtime's seed, `step` the train step (or the epoch for a
 * shuffle), `stream` tells apart the users of one step (graph nodes, the
 * shuffler) and `index` is the element. The Philox block of (seed, step,
 * stream, b) is
 *
 *     counter = { b & 0xffffffff, b >> 32, stream, step & 0xffffffff }
 *     key     = { seed & 0xffffffff, (seed >> 32) ^ (step >> 32) }
 *
 * A uniform draw takes word (index & 3) of block b = index >> 2, so four
 * neighbouring elements share one block. A normal draw takes words 0 and 1
 * of block b = index. Distinct (step, stream, b) under one seed give
 * distinct counters while step < 2^32; steps that differ only above bit 31
 * are told apart by the key.
 */
#ifndef RG_KERNELS_PHILOX_H
#define RG_KERNELS_PHILOX_H

#ifdef __OPENCL_VERSION__
typedef uint rg_u32;
typedef ulong rg_u64;
#define RG_PHILOX_LOGF(x) log(x)
#define RG_PHILOX_SQRTF(x) sqrt(x)
#define RG_PHILOX_COSF(x) cos(x)
#else
#include <math.h>
#include <stdint.h>
typedef uint32_t rg_u32;
typedef uint64_t rg_u64;
#define RG_PHILOX_LOGF(x) logf(x)
#define RG_PHILOX_SQRTF(x) sqrtf(x)
#define RG_PHILOX_COSF(x) cosf(x)
#endif

/* Round multipliers and key increments (the Weyl constants) of Philox4x32. */
#define RG_PHILOX_M0 0xD2511F53u
#define RG_PHILOX_M1 0xCD9E8D57u
#define RG_PHILOX_W0 0x9E3779B9u
#define RG_PHILOX_W1 0xBB67AE85u

/* 2^-24: turns the top 24 bits of a word into a float in [0, 1). */
#define RG_PHILOX_INV_2_24 5.9604644775390625e-08f
#define RG_PHILOX_TWO_PI 6.28318530717958647692f

/* Four 32-bit words: a counter or an output block. */
typedef struct rg_philox_u4 {
    rg_u32 v[4];
} rg_philox_u4;

/* Returns the high 32 bits of the 64-bit product a * b. */
static inline rg_u32 rg_philox_mulhi(rg_u32 a, rg_u32 b)
{
#ifdef __OPENCL_VERSION__
    return mul_hi(a, b);
#else
    return (rg_u32)(((rg_u64)a * (rg_u64)b) >> 32);
#endif
}

/* Applies one Philox S-box round to `x` under the round key (k0, k1). */
static inline rg_philox_u4 rg_philox_round(rg_philox_u4 x, rg_u32 k0,
                                           rg_u32 k1)
{
    rg_u32 hi0 = rg_philox_mulhi(RG_PHILOX_M0, x.v[0]);
    rg_u32 lo0 = (rg_u32)((rg_u64)RG_PHILOX_M0 * x.v[0]);
    rg_u32 hi1 = rg_philox_mulhi(RG_PHILOX_M1, x.v[2]);
    rg_u32 lo1 = (rg_u32)((rg_u64)RG_PHILOX_M1 * x.v[2]);
    rg_philox_u4 y;

    y.v[0] = hi1 ^ x.v[1] ^ k0;
    y.v[1] = lo1;
    y.v[2] = hi0 ^ x.v[3] ^ k1;
    y.v[3] = lo0;
    return y;
}

/*
 * Encrypts counter `ctr` under key (k0, k1) with ten rounds. The key grows
 * by the Weyl constants before each round after the first.
 */
static inline rg_philox_u4 rg_philox4x32_10_block(rg_philox_u4 ctr,
                                                  rg_u32 k0, rg_u32 k1)
{
    rg_philox_u4 x = rg_philox_round(ctr, k0, k1);

    for (int r = 1; r < 10; r++) {
        k0 += RG_PHILOX_W0;
        k1 += RG_PHILOX_W1;
        x = rg_philox_round(x, k0, k1);
    }
    return x;
}

/*
 * Array form of rg_philox4x32_10_block: out = Philox4x32-10(ctr, key).
 * `out` may alias `ctr`.
 */
static inline void rg_philox4x32_10(const rg_u32 ctr[4], const rg_u32 key[2],
                                    rg_u32 out[4])
{
    rg_philox_u4 x;

    for (int i = 0; i < 4; i++) {
        x.v[i] = ctr[i];
    }
    x = rg_philox4x32_10_block(x, key[0], key[1]);
    for (int i = 0; i < 4; i++) {
        out[i] = x.v[i];
    }
}

/* Returns block `block` of (seed, step, stream), mapped as above. */
static inline rg_philox_u4 rg_philox_draw_block(rg_u64 seed, rg_u64 step,
                                                rg_u32 stream, rg_u64 block)
{
    rg_philox_u4 ctr;

    ctr.v[0] = (rg_u32)block;
    ctr.v[1] = (rg_u32)(block >> 32);
    ctr.v[2] = stream;
    ctr.v[3] = (rg_u32)step;
    return rg_philox4x32_10_block(ctr, (rg_u32)seed,
                                  (rg_u32)(seed >> 32) ^ (rg_u32)(step >> 32));
}

/* Maps a word to [0, 1) from its top 24 bits, exactly in float. */
static inline float rg_philox_word_to_unit(rg_u32 w)
{
    return (float)(w >> 8) * RG_PHILOX_INV_2_24;
}

/*
 * Returns uniform draw `index` in [0, 1): (word >> 8) * 2^-24 of word
 * (index & 3) of block (index >> 2), so every value is a multiple of 2^-24
 * and the largest is 1 - 2^-24. Bit-identical in C and OpenCL C.
 */
static inline float rg_philox_uniform(rg_u64 seed, rg_u64 step, rg_u32 stream,
                                      rg_u64 index)
{
    rg_philox_u4 b = rg_philox_draw_block(seed, step, stream, index >> 2);

    return rg_philox_word_to_unit(b.v[index & 3]);
}

/*
 * Returns a standard normal float by the Box-Muller transform on words 0
 * and 1 of block `index`: u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1],
 * u2 = (w1 >> 8) * 2^-24 in [0, 1), z = sqrt(-2 ln u1) * cos(2 pi u2),
 * all in float. |z| is at most sqrt(-2 ln 2^-24), about 5.77.
 * NOTE: log, sqrt and cos may round differently in OpenCL C than in the
 * C library, so normals (unlike uniforms) can differ in the last bits
 * between backends.
 */
static inline float rg_philox_normal(rg_u64 seed, rg_u64 step, rg_u32 stream,
                                     rg_u64 index)
{
    rg_philox_u4 b = rg_philox_draw_block(seed, step, stream, index);
    float u1 = (float)((b.v[0] >> 8) + 1u) * RG_PHILOX_INV_2_24;
    float u2 = rg_philox_word_to_unit(b.v[1]);
    float radius = RG_PHILOX_SQRTF(-2.0f * RG_PHILOX_LOGF(u1));

    return radius * RG_PHILOX_COSF(RG_PHILOX_TWO_PI * u2);
}

#endif
