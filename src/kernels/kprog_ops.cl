/*
 * OpenCL C helpers of generated kernel programs: the math functions whose
 * results must match the CPU evaluator (src/kernels/kprog_cpu.c) bit for
 * bit, and the work-group sums behind reductions. The generator puts this
 * text after philox.h and after defining RG_TILE_COLS, RG_TILE_ROWS (work-
 * group width and height, powers of two) and the accumulator type rg_acc.
 *
 * Bit-identical results need the same float operations in the same order
 * with no fused multiply-adds: the CPU code is compiled as ISO C11, where
 * GCC does not contract, and FP_CONTRACT is off here.
 */
#pragma OPENCL FP_CONTRACT OFF

/*
 * e^x as the CPU evaluator's block_expf computes it: x = k ln 2 + r,
 * e^r by its Taylor series to degree 7, 2^k built from its exponent bits,
 * arguments clamped to [-87, 88].
 */
float rg_block_exp(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145752f;
    const float ln2_lo = 1.42860677e-6f;

    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
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
    return p * as_float((uint)((int)k + 127) << 23);
}

float rg_exp(float x)
{
    return isnan(x) ? x : rg_block_exp(x);
}

/* The logistic function as the CPU evaluator's block_sigmoidf. */
float rg_sigmoid(float x)
{
    float t = rg_block_exp(-fabs(x));
    float s = 1.0f / (1.0f + t);

    return x >= 0.0f ? s : t * s;
}

/* log(1 + e^x) as max(x, 0) + log1p(e^-|x|), like kp_softplusf. */
float rg_softplus(float x)
{
    return fmax(x, 0.0f) + log1p(exp(-fabs(x)));
}

float rg_pow(float a, float b)
{
    return b == 2.0f ? a * a : pow(a, b);
}

/*
 * Work-group sums over a tile of RG_TILE_COLS x RG_TILE_ROWS work-items.
 * Every work-item of the group must call them, in the same order, because
 * they contain barriers. The tree of additions is fixed, so a sum depends
 * only on the inputs and the tile shape, never on scheduling. Each
 * function leaves `scratch` free for the next call.
 */

/* Sums `x` over the tile's rows; the column's total is returned to the
 * work-items of local row 0. */
rg_acc rg_tile_sum_rows(__local rg_acc *scratch, rg_acc x)
{
    const int lx = (int)get_local_id(0);
    const int ly = (int)get_local_id(1);

    scratch[ly * RG_TILE_COLS + lx] = x;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RG_TILE_ROWS / 2; s > 0; s >>= 1) {
        if (ly < s) {
            scratch[ly * RG_TILE_COLS + lx] +=
                scratch[(ly + s) * RG_TILE_COLS + lx];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    rg_acc total = scratch[lx];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

/* Sums `x` over the tile's columns; the row's total is returned to the
 * work-items of local column 0. */
rg_acc rg_tile_sum_cols(__local rg_acc *scratch, rg_acc x)
{
    const int lx = (int)get_local_id(0);
    const int ly = (int)get_local_id(1);

    scratch[ly * RG_TILE_COLS + lx] = x;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RG_TILE_COLS / 2; s > 0; s >>= 1) {
        if (lx < s) {
            scratch[ly * RG_TILE_COLS + lx] +=
                scratch[ly * RG_TILE_COLS + lx + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    rg_acc total = scratch[ly * RG_TILE_COLS];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

/* Sums `x` over the whole tile; the total is returned to every work-item
 * and is meant for local item (0, 0). */
rg_acc rg_tile_sum_all(__local rg_acc *scratch, rg_acc x)
{
    const int id = (int)(get_local_id(1) * RG_TILE_COLS + get_local_id(0));

    scratch[id] = x;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RG_TILE_COLS * RG_TILE_ROWS / 2; s > 0; s >>= 1) {
        if (id < s) {
            scratch[id] += scratch[id + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    rg_acc total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}
