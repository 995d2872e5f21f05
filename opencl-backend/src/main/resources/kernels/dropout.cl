// Inverted dropout with Philox4x32-10 masks, bit-identical to org.layerkit.api.Philox4x32:
//   key = (seed lo32, seed hi32); element i uses counter (⌊i/4⌋ lo32, ⌊i/4⌋ hi32, offset lo32, offset hi32) and
//   output word i mod 4; it is kept iff (word >> 8) < threshold (threshold = ⌊keep·2²⁴⌋ from the host).
// One work-item computes one Philox block, i.e. four neighbouring elements.

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// Ten rounds: (c0,c1,c2,c3) → (hi(M1·c2)⊕c1⊕k0, lo(M1·c2), hi(M0·c0)⊕c3⊕k1, lo(M0·c0)), the key bumped between
// rounds. The 32×32→64-bit products are written as ulong multiplies on scalars: GPUs compile them to mul.hi/mul.lo
// like mul_hi, and PoCL vectorizes this form across work-items (4× faster there than mul_hi on uint4 lanes).
inline uint4 philox4x32_10(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1) {
    for (int round = 0; round < 10; round++) {
        ulong p0 = (ulong)PHILOX_M0 * c0; // M0·c0
        ulong p1 = (ulong)PHILOX_M1 * c2; // M1·c2
        uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
        uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint)p1;
        c3 = (uint)p0;
        c0 = n0;
        c2 = n2;
        // key schedule for the next round
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    return (uint4)(c0, c1, c2, c3);
}

// The mask values of Philox block `block` (elements 4·block .. 4·block+3): scale where kept, else exactly 0. Every
// kernel below derives its mask from here, so the forward, the deferred mask write and the regenerating backward
// cannot disagree by a bit.
inline float4 dropout_block_mask(size_t block, uint seedLo, uint seedHi, uint offsetLo, uint offsetHi,
                                 uint threshold, float scale) {
    uint4 w = philox4x32_10((uint)block, (uint)((ulong)block >> 32), offsetLo, offsetHi, seedLo, seedHi);
    // kept iff (word >> 8) < threshold
    int4 kept = (w >> 8) < (uint4)(threshold);
    return select((float4)(0.0f), (float4)(scale), kept);
}

// ------------------------------------------------------------------------------------------------ forward

// out = in·mask (the float product, as on every backend: in·0 when dropped) with the mask computed, not read or
// written. The forward (in = x, out = out) when the host keeps the mask pending (option dropoutMask=pending, the
// default on GPUs: it writes the mask with dropout_mask only if something reads it, see ClTensor), and the backward
// of a still-pending mask (in = dOut, out = dX), which regenerates the mask instead of reading it. A whole block reads
// and writes four floats at once (vload4/vstore4); the last, partial block goes element-wise.
__kernel void dropout_multiply(__global const float* in, __global float* out, int total,
                               uint seedLo, uint seedHi, uint offsetLo, uint offsetHi, uint threshold,
                               float scale) {
    size_t block = get_global_id(0);
    ulong first = (ulong)block * 4;
    if (first >= (ulong)total) {
        return;
    }
    float4 m = dropout_block_mask(block, seedLo, seedHi, offsetLo, offsetHi, threshold, scale);
    if (first + 4 <= (ulong)total) {
        vstore4(vload4(block, in) * m, block, out);
    } else {
        float ms[4] = {m.x, m.y, m.z, m.w};
        for (int k = 0; first + k < (ulong)total; k++) {
            out[first + k] = in[first + k] * ms[k];
        }
    }
}

// out = x·mask and the mask, in one pass: for devices where Philox, not memory, dominates (option dropoutMask=eager,
// the default on CPU devices), so that the backward reads the mask instead of computing Philox again.
__kernel void dropout_forward_mask(__global const float* x, __global float* out, __global float* mask, int total,
                                   uint seedLo, uint seedHi, uint offsetLo, uint offsetHi, uint threshold,
                                   float scale) {
    size_t block = get_global_id(0);
    ulong first = (ulong)block * 4;
    if (first >= (ulong)total) {
        return;
    }
    float4 m = dropout_block_mask(block, seedLo, seedHi, offsetLo, offsetHi, threshold, scale);
    if (first + 4 <= (ulong)total) {
        vstore4(m, block, mask);
        vstore4(vload4(block, x) * m, block, out);
    } else {
        float ms[4] = {m.x, m.y, m.z, m.w};
        for (int k = 0; first + k < (ulong)total; k++) {
            mask[first + k] = ms[k];
            out[first + k] = x[first + k] * ms[k];
        }
    }
}

// The mask itself, written on its first read: scale where kept, else exactly 0.
__kernel void dropout_mask(__global float* mask, int total, uint seedLo, uint seedHi, uint offsetLo, uint offsetHi,
                           uint threshold, float scale) {
    size_t block = get_global_id(0);
    ulong first = (ulong)block * 4;
    if (first >= (ulong)total) {
        return;
    }
    float4 m = dropout_block_mask(block, seedLo, seedHi, offsetLo, offsetHi, threshold, scale);
    if (first + 4 <= (ulong)total) {
        vstore4(m, block, mask);
    } else {
        float ms[4] = {m.x, m.y, m.z, m.w};
        for (int k = 0; first + k < (ulong)total; k++) {
            mask[first + k] = ms[k];
        }
    }
}

// The mask of a slice of a larger tensor (data-parallel rows): element i draws global element g = start + i, i.e.
// word g mod 4 of Philox block ⌊g/4⌋. One work-item per element (a block may straddle the slice's start, so blocks
// are not aligned with the buffer); used only when start ≠ 0.
__kernel void dropout_mask_from(__global float* mask, int total, uint startLo, uint startHi, uint seedLo,
                                uint seedHi, uint offsetLo, uint offsetHi, uint threshold, float scale) {
    size_t i = get_global_id(0);
    if (i >= (size_t)total) {
        return;
    }
    ulong g = (((ulong)startHi << 32) | (ulong)startLo) + (ulong)i;
    float4 m = dropout_block_mask((size_t)(g >> 2), seedLo, seedHi, offsetLo, offsetHi, threshold, scale);
    float ms[4] = {m.x, m.y, m.z, m.w};
    mask[i] = ms[g & 3];
}

// ------------------------------------------------------------------------------------------------ backward

// dX = dOut ⊙ mask, one work-item per four elements (float4; the buffers are 16-byte aligned), a scalar tail.
__kernel void dropout_backward(__global const float* dOut, __global const float* mask, __global float* dX,
                               int total) {
    size_t q = get_global_id(0);
    size_t first = q * 4;
    if (first + 4 <= (size_t)total) {
        ((__global float4*)dX)[q] = ((__global const float4*)dOut)[q] * ((__global const float4*)mask)[q];
    } else {
        for (size_t i = first; i < (size_t)total; i++) {
            dX[i] = dOut[i] * mask[i];
        }
    }
}

// (dX of a still-pending mask: dropout_multiply with in = dOut, out = dX, above.)

// ------------------------------------------------------------------------------------------------ spatial dropout

// out[plane, q] = in[plane, q]·mask[plane] over planes = N·C planes of HW elements: the forward (in = x) and the
// backward (in = dOut, out = dX) of spatial dropout, whose [N,C] mask dropout_mask writes (docs/ops/spatial_dropout.md:
// its bits are dropout's over N·C elements). Range HW × planes (ClLaunch.runGrid: y0, z0 the slab's first y and z).
__kernel void spatial_dropout_multiply(__global const float* in, __global const float* mask, __global float* out,
                                       int HW, long planes, long y0, long z0) {
    int q = get_global_id(0);
    long plane = y0 + get_global_id(1);
    if (q >= HW || plane >= planes) {
        return;
    }
    size_t at = (size_t)plane * HW + q;
    out[at] = in[at] * mask[plane];
}
