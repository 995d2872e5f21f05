// conv2d as im2col + GEMM (docs/ops/conv2d.md): the host unfolds x into columns, multiplies with the backend's GEMM
// (CLBlast or gemm.cl) and moves the product into NCHW; the backward gathers dOut into the product's layout and folds
// the columns' gradient back onto x (col2im). These kernels only move data; the arithmetic is in the GEMM.
//
// Shape letters: N batch, C input channels, H×W input plane, F filters, KH×KW kernel, SH, SW strides, PH, PW zero
// padding, HO×WO output plane (H', W'), P = HO·WO output positions per sample, K = C·KH·KW rows of the columns.
// Column j of the whole batch is output position (n, i, jw): j = n·P + i·WO + jw = g·WO + jw, where g = n·HO + i is
// the "output row" of the batch. The host works through the batch in chunks of whole output rows g0 .. g0+R−1 (so a
// chunk's columns J = R·WO are contiguous: j0 = g0·WO), sized to a bounded workspace; a chunk usually holds whole
// samples, but one sample may span several chunks when one sample's columns exceed the workspace.
//
// Index arithmetic: tensors hold fewer than 2^31 elements, so an element index fits an int, but products such as
// (n·C + c)·H·W are formed in size_t; window coordinates (i·SH − PH + kh) are formed in long, since a huge stride
// and padding may pass 2^31 although the output is small. Work-items run along an output or input row (dimension 0,
// no division per element) and over rows (dimension 1, one division per row, striding by the range's height).

// ------------------------------------------------------------------------------------------------ forward

// cols[(c·KH + kh)·KW + kw, jc] = x̃[n, c, i·SH + kh − PH, jw·SW + kw − PW] (0 in the padding) for the chunk's
// columns jc = (g − g0)·WO + jw, J = R·WO columns per row of cols. The range is WO × (R·rSplit): work-item
// (jw, t) covers output row g = g0 + t / rSplit and the column rows (c, kh) ≡ t mod rSplit, KW values each; the
// host picks rSplit = 1 on CPU devices (one work-item writes a whole column, its setup once) and more on GPUs.
__kernel void conv_im2col(__global const float* x, __global float* cols, int C, int H, int W, int KH, int KW,
                          int SH, int SW, int PH, int PW, int HO, int WO, long g0, int R, int rSplit) {
    int jw = get_global_id(0);
    if (jw >= WO) {
        return;
    }
    long rows = (long)R * rSplit;
    size_t J = (size_t)R * WO;
    int CKH = C * KH;
    for (long t = get_global_id(1); t < rows; t += get_global_size(1)) {
        int gc = (int)(t / rSplit);       // output row within the chunk
        int first = (int)(t - (long)gc * rSplit);
        long g = g0 + gc;
        long n = g / HO;
        int i = (int)(g - n * HO);
        long h0 = (long)i * SH - PH;      // the window's top row in x (may be negative: padding)
        long w0 = (long)jw * SW - PW;     // the window's left column
        size_t jc = (size_t)gc * WO + jw; // this column of cols
        int c = first / KH;               // (c, kh) of column row r, stepped without dividing
        int kh = first - c * KH;
        for (int r = first; r < CKH; r += rSplit) {
            long h = h0 + kh;
            __global float* out = cols + (size_t)r * KW * J + jc;
            if (h < 0 || h >= H) {
                for (int kw = 0; kw < KW; kw++) {
                    out[(size_t)kw * J] = 0.0f;
                }
            } else {
                __global const float* xr = x + ((size_t)(n * C + c) * H + (size_t)h) * W;
                for (int kw = 0; kw < KW; kw++) {
                    long w = w0 + kw;
                    out[(size_t)kw * J] = (w >= 0 && w < W) ? xr[w] : 0.0f;
                }
            }
            for (kh += rSplit; kh >= KH; kh -= KH) {
                c++;
            }
        }
    }
}

// out[n, f, p] = prod[f, j − j0] (+ bias[f]) for the chunk's columns j0 .. j0+J−1, where prod = W·cols is [F, J].
// Range P × (samples of the chunk · F): work-item (p, (n − n0)·F + f); positions of a sample outside the chunk (a
// chunk that covers part of a sample) are skipped.
__kernel void conv_scatter_out(__global const float* prod, __global const float* bias, int hasBias,
                               __global float* out, int F, int P, long j0, int J, long n0, int samples) {
    int p = get_global_id(0);
    if (p >= P) {
        return;
    }
    long rows = (long)samples * F;
    for (long t = get_global_id(1); t < rows; t += get_global_size(1)) {
        long s = t / F;
        int f = (int)(t - s * F);
        long n = n0 + s;
        long jc = n * P + p - j0;         // the column within the chunk
        if (jc < 0 || jc >= J) {
            continue;
        }
        float v = prod[(size_t)f * J + (size_t)jc];
        out[((size_t)n * F + f) * P + p] = hasBias ? v + bias[f] : v;
    }
}

// ------------------------------------------------------------------------------------------------ backward

// dProd[f, j − j0] = dOut[n, f, p]: the chunk's part of dOut in the product's layout [F, J], the inverse of
// conv_scatter_out (same range).
__kernel void conv_gather_dout(__global const float* dOut, __global float* dProd, int F, int P, long j0, int J,
                               long n0, int samples) {
    int p = get_global_id(0);
    if (p >= P) {
        return;
    }
    long rows = (long)samples * F;
    for (long t = get_global_id(1); t < rows; t += get_global_size(1)) {
        long s = t / F;
        int f = (int)(t - s * F);
        long n = n0 + s;
        long jc = n * P + p - j0;
        if (jc < 0 || jc >= J) {
            continue;
        }
        dProd[(size_t)f * J + (size_t)jc] = dOut[((size_t)n * F + f) * P + p];
    }
}

// ⌊a / d⌋ for a ≥ 0, d ≥ 1, without a division for the common strides 1 and 2 (a division costs tens of cycles, and
// PoCL runs one per lane).
inline long lk_div_stride(long a, int d) {
    return d == 1 ? a : d == 2 ? a >> 1 : a / d;
}

// col2im, the adjoint of conv_im2col, as a deterministic gather: each element of dX adds up the column entries of the
// windows that cover it, in the fixed order (i, then jw ascending) —
//   dX[n, c, h, w] (+)= Σ_{i, jw} dCols[(c·KH + kh)·KW + kw, (n·HO + i − g0)·WO + jw],  kh = h + PH − i·SH,
//                                                                                       kw = w + PW − jw·SW,
// over the windows with 0 ≤ kh < KH, 0 ≤ kw < KW whose output row n·HO + i lies in the chunk g0 .. g0+R−1.
// Range W × (samples · C · H) from sample n0: work-item (w, ((n − n0)·C + c)·H + h). accumulate = 0 writes dX (the
// chunk holds every output row of these samples), 1 adds to it (the host zeroed dX, and a sample spans chunks).
__kernel void conv_col2im(__global const float* dCols, __global float* dX, int C, int H, int W, int KH, int KW,
                          int SH, int SW, int PH, int PW, int HO, int WO, long g0, int R, long n0, int samples,
                          int accumulate) {
    int w = get_global_id(0);
    if (w >= W) {
        return;
    }
    size_t J = (size_t)R * WO;
    // the windows' columns jw covering w: jw·SW ≤ w + PW < jw·SW + KW
    long wp = (long)w + PW;
    long jwLo = wp < KW ? 0 : lk_div_stride(wp - KW, SW) + 1;
    long jwHi = min(lk_div_stride(wp, SW), (long)WO - 1);
    long rows = (long)samples * C * H;
    for (long t = get_global_id(1); t < rows; t += get_global_size(1)) {
        long plane = t / H;               // (n − n0)·C + c
        int h = (int)(t - plane * H);
        long s = plane / C;
        int c = (int)(plane - s * C);
        long n = n0 + s;
        // the windows' rows i covering h, clipped to the chunk's output rows of sample n
        long hp = (long)h + PH;
        long iLo = hp < KH ? 0 : lk_div_stride(hp - KH, SH) + 1;
        long iHi = min(lk_div_stride(hp, SH), (long)HO - 1);
        iLo = max(iLo, g0 - n * HO);
        iHi = min(iHi, g0 + R - 1 - n * HO);
        float acc = 0.0f;
        for (long i = iLo; i <= iHi; i++) {
            int kh = (int)(hp - i * SH);
            size_t rowBase = ((size_t)(c * KH + kh) * KW) * J + (size_t)(n * HO + i - g0) * WO;
            for (long jw = jwLo; jw <= jwHi; jw++) {
                int kw = (int)(wp - jw * SW);
                acc += dCols[rowBase + (size_t)kw * J + (size_t)jw];
            }
        }
        size_t at = ((size_t)(n * C + c) * H + h) * W + w;
        dX[at] = accumulate ? dX[at] + acc : acc;
    }
}
