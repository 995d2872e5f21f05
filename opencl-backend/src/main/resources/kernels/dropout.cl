// Inverted dropout with Philox4x32-10 masks, bit-identical to org.layerkit.api.Philox4x32:
//   key = (seed lo32, seed hi32); element i uses counter (⌊i/4⌋ lo32, ⌊i/4⌋ hi32, offset lo32, offset hi32) and
//   output word i mod 4; it is kept iff (word >> 8) < threshold (threshold = ⌊keep·2²⁴⌋ from the host).
// One work-item computes one Philox block, i.e. four neighbouring elements.

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// Ten rounds: (c0,c1,c2,c3) → (hi(M1·c2)⊕c1⊕k0, lo(M1·c2), hi(M0·c0)⊕c3⊕k1, lo(M0·c0)), key bumped between rounds.
inline uint4 philox4x32_10(uint4 c, uint k0, uint k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
    }
    return c;
}

// ------------------------------------------------------------------------------------------------ forward

// mask = scale where kept, else exactly 0; out = x·mask.
__kernel void dropout_forward(__global const float* x, __global float* out, __global float* mask, int total,
                              uint seedLo, uint seedHi, uint offsetLo, uint offsetHi, uint threshold,
                              float scale) {
    ulong block = get_global_id(0);
    ulong first = block * 4;
    if (first >= (ulong)total) {
        return;
    }
    uint4 w = philox4x32_10((uint4)((uint)block, (uint)(block >> 32), offsetLo, offsetHi), seedLo, seedHi);
    uint words[4] = {w.x, w.y, w.z, w.w};
    for (int k = 0; k < 4; k++) {
        ulong i = first + k;
        if (i < (ulong)total) {
            float m = (words[k] >> 8) < threshold ? scale : 0.0f;
            mask[i] = m;
            out[i] = x[i] * m; // out = x ⊙ mask, the same float product as on every backend (x·0 when dropped)
        }
    }
}

// ------------------------------------------------------------------------------------------------ backward

// dX = dOut ⊙ mask.
__kernel void dropout_backward(__global const float* dOut, __global const float* mask, __global float* dX,
                               int total) {
    int i = get_global_id(0);
    if (i < total) {
        dX[i] = dOut[i] * mask[i];
    }
}
