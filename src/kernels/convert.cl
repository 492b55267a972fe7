/*
 * Conversion of uploaded bytes to floats: dst[offset + i] = src[i] * scale
 * for i < n. Minibatches of 8-bit pixels cross the bus as bytes, a quarter
 * of their float size, and become floats on the device. The product is
 * one correctly rounded float multiplication, as on the host.
 */
__kernel void rg_convert_u8(__global float *dst, ulong offset,
                            __global const uchar *src, ulong n, float scale)
{
    const ulong i = get_global_id(0);

    if (i < n) {
        dst[offset + i] = (float)src[i] * scale;
    }
}
