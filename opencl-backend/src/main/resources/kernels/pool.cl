// maxpool2d and the global average pool's backward (docs/ops/pooling.md); the global average pool's forward is the
// segment_sum reduction of elementwise.cl over each plane.
//
// Shape letters: planes = N·C planes of H×W, window KH×KW moved by SH, SW (no padding), output planes HO×WO. The
// ops refuse planes above 2^24 positions, so every coordinate within a plane is an int and a position h·W + w is an
// exact float; plane offsets are formed in size_t.
//
// Launches (ClLaunch.runGrid): one work-item per value on a 3-D range (x along a row, y over rows, z over planes), no
// loop around the work, conditions combined with & and | — the form PoCL vectorizes across work-items (the NaN test
// written with && made the forward 2–3× slower there). y0, z0: the first y and z of a slab (NVIDIA allows 65,535
// work-groups along y and z).

// out[plane, i, j] = the window's maximum, argmax[plane, i, j] = its position h·W + w in the input plane. The scan
// starts from the window's first element and takes a value that is strictly greater, or the first NaN (so ties keep
// the first position in row-major window order, and a NaN is never lost). Range WO × HO × planes.
__kernel void maxpool_forward(__global const float* x, __global float* out, __global float* argmax, int H, int W,
                              int KH, int KW, int SH, int SW, int HO, int WO, long planes, long y0, long z0) {
    int j = get_global_id(0);
    long i = y0 + get_global_id(1);
    long plane = z0 + get_global_id(2);
    if (j >= WO || i >= HO || plane >= planes) {
        return;
    }
    __global const float* xp = x + (size_t)plane * H * W;
    int top = (int)i * SH, left = j * SW;
    int arg = top * W + left;
    float best = xp[arg];
    for (int p = 0; p < KH; p++) {
        int row = (top + p) * W + left;
        for (int q = 0; q < KW; q++) {
            float v = xp[row + q];
            // v > best, or v the first NaN
            int take = isgreater(v, best) | (isnan(v) & !isnan(best));
            best = take ? v : best;
            arg = take ? row + q : arg;
        }
    }
    size_t at = ((size_t)plane * HO + (size_t)i) * WO + j;
    out[at] = best;
    argmax[at] = (float)arg;
}

// ⌊a / d⌋ for a ≥ 0, d ≥ 1, without a division for strides 1 and 2.
inline int lk_pool_div(int a, int d) {
    return d == 1 ? a : d == 2 ? a >> 1 : a / d;
}

// dX[plane, h, w] = Σ dOut[plane, i, j] over the windows (i, j) that cover (h, w) and whose argmax is h·W + w: a
// gather in the fixed order (i, then j ascending), so overlapping windows (stride < kernel) that picked the same
// element add up deterministically, without atomics. Windows covering (h, w): i·SH ≤ h < i·SH + KH, likewise j.
// Range W × H × planes.
__kernel void maxpool_backward(__global const float* dOut, __global const float* argmax, __global float* dX, int H,
                               int W, int KH, int KW, int SH, int SW, int HO, int WO, long planes, long y0,
                               long z0) {
    int w = get_global_id(0);
    long hl = y0 + get_global_id(1);
    long plane = z0 + get_global_id(2);
    if (w >= W || hl >= H || plane >= planes) {
        return;
    }
    int h = (int)hl;
    int iLo = h < KH ? 0 : lk_pool_div(h - KH, SH) + 1;
    int iHi = min(lk_pool_div(h, SH), HO - 1);
    int jLo = w < KW ? 0 : lk_pool_div(w - KW, SW) + 1;
    int jHi = min(lk_pool_div(w, SW), WO - 1);
    float pos = (float)(h * W + w);
    size_t o = (size_t)plane * HO * WO;
    float acc = 0.0f;
    for (int i = iLo; i <= iHi; i++) {
        for (int j = jLo; j <= jHi; j++) {
            size_t at = o + (size_t)i * WO + j;
            acc += argmax[at] == pos ? dOut[at] : 0.0f;
        }
    }
    dX[((size_t)plane * H + h) * W + w] = acc;
}

// The backward where the windows tile the plane exactly (stride = kernel, HO·SH = H, WO·SW = W; the CNN's 2×2
// pool of even planes): every element lies in one window, so each output writes its whole window, dOut at its argmax
// and 0 elsewhere (3.5× faster than the gather on PoCL). Range WO × HO × planes.
__kernel void maxpool_backward_tiled(__global const float* dOut, __global const float* argmax, __global float* dX,
                                     int H, int W, int KH, int KW, int HO, int WO, long planes, long y0, long z0) {
    int j = get_global_id(0);
    long i = y0 + get_global_id(1);
    long plane = z0 + get_global_id(2);
    if (j >= WO || i >= HO || plane >= planes) {
        return;
    }
    size_t o = ((size_t)plane * HO + (size_t)i) * WO + j;
    int arg = (int)argmax[o];
    float d = dOut[o];
    __global float* xp = dX + (size_t)plane * H * W;
    int top = (int)i * KH, left = j * KW;
    for (int p = 0; p < KH; p++) {
        int row = (top + p) * W + left;
        for (int q = 0; q < KW; q++) {
            xp[row + q] = row + q == arg ? d : 0.0f;
        }
    }
}

// global average pool backward: dX[plane, q] = dOut[plane]·scale, scale = 1/(H·W) rounded to float once on the host.
// Range HW × planes (× 1).
__kernel void avgpool_backward(__global const float* dOut, __global float* dX, int HW, float scale, long planes,
                               long y0, long z0) {
    int q = get_global_id(0);
    long plane = y0 + get_global_id(1);
    if (q >= HW || plane >= planes) {
        return;
    }
    dX[(size_t)plane * HW + q] = dOut[plane] * scale;
}
