// maxpool2d and the global average pool's backward (docs/ops/pooling.md); the global average pool's forward is the
// segment_sum reduction of elementwise.cl over each plane.
//
// Shape letters: planes = N·C planes of H×W, window KH×KW moved by SH, SW (no padding), output planes HO×WO. The
// ops refuse planes above 2^24 positions, so every coordinate within a plane is an int and a position h·W + w is an
// exact float; plane offsets are formed in size_t. Work-items run along a row (dimension 0, no division per element)
// and over rows (dimension 1, one division per row, striding by the range's height).

// out[plane, i, j] = the window's maximum, argmax[plane, i, j] = its position h·W + w in the input plane. The scan
// starts from the window's first element and takes a value that is strictly greater, or the first NaN (so ties keep
// the first position in row-major window order, and a NaN is never lost).
__kernel void maxpool_forward(__global const float* x, __global float* out, __global float* argmax, int H, int W,
                              int KH, int KW, int SH, int SW, int HO, int WO, long planes) {
    int j = get_global_id(0);
    if (j >= WO) {
        return;
    }
    long rows = planes * HO;
    for (long t = get_global_id(1); t < rows; t += get_global_size(1)) {
        long plane = t / HO;
        int i = (int)(t - plane * HO);
        __global const float* xp = x + (size_t)plane * H * W;
        int top = i * SH, left = j * SW;
        int arg = top * W + left;
        float best = xp[arg];
        for (int p = 0; p < KH; p++) {
            int row = (top + p) * W;
            for (int q = 0; q < KW; q++) {
                float v = xp[row + left + q];
                if (v > best || (v != v && best == best)) {
                    best = v;
                    arg = row + left + q;
                }
            }
        }
        size_t at = (size_t)t * WO + j;
        out[at] = best;
        argmax[at] = (float)arg;
    }
}

// ⌊a / d⌋ for a ≥ 0, d ≥ 1, without a division for strides 1 and 2.
inline int lk_pool_div(int a, int d) {
    return d == 1 ? a : d == 2 ? a >> 1 : a / d;
}

// dX[plane, h, w] = Σ dOut[plane, i, j] over the windows (i, j) that cover (h, w) and whose argmax is h·W + w: a
// gather in the fixed order (i, then j ascending), so overlapping windows (stride < kernel) that picked the same
// element add up deterministically, without atomics. Windows covering (h, w): i·SH ≤ h < i·SH + KH, likewise j.
__kernel void maxpool_backward(__global const float* dOut, __global const float* argmax, __global float* dX, int H,
                               int W, int KH, int KW, int SH, int SW, int HO, int WO, long planes) {
    int w = get_global_id(0);
    if (w >= W) {
        return;
    }
    int jLo = w < KW ? 0 : lk_pool_div(w - KW, SW) + 1;
    int jHi = min(lk_pool_div(w, SW), WO - 1);
    long rows = planes * H;
    for (long t = get_global_id(1); t < rows; t += get_global_size(1)) {
        long plane = t / H;
        int h = (int)(t - plane * H);
        int iLo = h < KH ? 0 : lk_pool_div(h - KH, SH) + 1;
        int iHi = min(lk_pool_div(h, SH), HO - 1);
        float pos = (float)(h * W + w);
        size_t o = (size_t)plane * HO * WO;
        float acc = 0.0f;
        for (int i = iLo; i <= iHi; i++) {
            for (int j = jLo; j <= jHi; j++) {
                size_t at = o + (size_t)i * WO + j;
                if (argmax[at] == pos) {
                    acc += dOut[at];
                }
            }
        }
        dX[(size_t)t * W + w] = acc;
    }
}

// global average pool backward: dX[plane, q] = dOut[plane]·scale, scale = 1/(H·W) rounded to float once on the host;
// range HW × planes.
__kernel void avgpool_backward(__global const float* dOut, __global float* dX, int HW, float scale, long planes) {
    int q = get_global_id(0);
    if (q >= HW) {
        return;
    }
    for (long plane = get_global_id(1); plane < planes; plane += get_global_size(1)) {
        dX[(size_t)plane * HW + q] = dOut[plane] * scale;
    }
}
