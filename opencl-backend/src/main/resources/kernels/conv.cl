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
// and padding may pass 2^31 although the output is small.
//
// Launches (ClLaunch.runGrid): one work-item per value on a 3-D range (x along a row, y over rows, z over planes),
// no loop around the work, conditions combined with & and | rather than && and || — the form PoCL vectorizes across
// work-items (a grid-stride loop or a short-circuit branch in the body made its kernels 2–3× slower). NVIDIA allows
// 65,535 work-groups along y and z, so the host may launch a range in slabs and passes each slab's first y and z
// (y0, z0, the last two arguments).

// ------------------------------------------------------------------------------------------------ forward

// cols[(c·KH + kh)·KW + kw, jc] = x̃[n, c, i·SH + kh − PH, jw·SW + kw − PW] (0 in the padding) for the chunk's
// columns jc = (g − g0)·WO + jw, J = R·WO columns per row of cols. Range WO × R × C: work-item (jw, g − g0, c) writes
// the KH·KW values of its window in channel c (on PoCL 1.2× faster than a work-item per window row, 4× faster than
// one per value: the setup is shared).
__kernel void conv_im2col(__global const float* x, __global float* cols, int C, int H, int W, int KH, int KW,
                          int SH, int SW, int PH, int PW, int HO, int WO, long g0, int R, long y0, long z0) {
    int jw = get_global_id(0);
    long gc = y0 + get_global_id(1);      // output row within the chunk
    long c = z0 + get_global_id(2);
    if (jw >= WO || gc >= R || c >= C) {
        return;
    }
    long g = g0 + gc;
    long n = g / HO;
    int i = (int)(g - n * HO);
    long h0 = (long)i * SH - PH;          // the window's top row in x (outside x: padding)
    long w0 = (long)jw * SW - PW;         // the window's left column
    size_t J = (size_t)R * WO;
    __global float* out = cols + (size_t)c * KH * KW * J + (size_t)gc * WO + jw;
    __global const float* xc = x + (size_t)(n * C + c) * H * W;
    for (int kh = 0; kh < KH; kh++) {
        long h = h0 + kh;
        int rowIn = (h >= 0) & (h < H);
        __global const float* xr = xc + (rowIn ? (size_t)h * W : 0);
        for (int kw = 0; kw < KW; kw++) {
            long w = w0 + kw;
            out[(size_t)(kh * KW + kw) * J] = (rowIn & (w >= 0) & (w < W)) ? xr[w] : 0.0f;
        }
    }
}

// out[n, f, p] = prod[f, j − j0] (+ bias[f]) for the chunk's columns j0 .. j0+J−1, where prod = W·cols is [F, J].
// Range P × F × samples of the chunk: work-item (p, f, n − n0); positions outside the chunk (a chunk that covers part
// of a sample) are skipped.
__kernel void conv_scatter_out(__global const float* prod, __global const float* bias, int hasBias,
                               __global float* out, int F, int P, long j0, int J, long n0, int samples, long y0,
                               long z0) {
    int p = get_global_id(0);
    long f = y0 + get_global_id(1);
    long s = z0 + get_global_id(2);
    if (p >= P || f >= F || s >= samples) {
        return;
    }
    long n = n0 + s;
    long jc = n * P + p - j0;             // the column within the chunk
    if (jc < 0 || jc >= J) {
        return;
    }
    float v = prod[(size_t)f * J + (size_t)jc];
    out[((size_t)n * F + (size_t)f) * P + p] = hasBias ? v + bias[f] : v;
}

// ------------------------------------------------------------------------------------------------ backward

// dProd[f, j − j0] = dOut[n, f, p]: the chunk's part of dOut in the product's layout [F, J], the inverse of
// conv_scatter_out (same range).
__kernel void conv_gather_dout(__global const float* dOut, __global float* dProd, int F, int P, long j0, int J,
                               long n0, int samples, long y0, long z0) {
    int p = get_global_id(0);
    long f = y0 + get_global_id(1);
    long s = z0 + get_global_id(2);
    if (p >= P || f >= F || s >= samples) {
        return;
    }
    long n = n0 + s;
    long jc = n * P + p - j0;
    if (jc < 0 || jc >= J) {
        return;
    }
    dProd[(size_t)f * J + (size_t)jc] = dOut[((size_t)n * F + (size_t)f) * P + p];
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
// Range W × H × (samples·C) from sample n0: work-item (w, h, (n − n0)·C + c). accumulate = 0 writes dX (the chunk
// holds every output row of these samples), 1 adds to it (the host zeroed dX, and a sample spans chunks).
__kernel void conv_col2im(__global const float* dCols, __global float* dX, int C, int H, int W, int KH, int KW,
                          int SH, int SW, int PH, int PW, int HO, int WO, long g0, int R, long n0, int samples,
                          int accumulate, long y0, long z0) {
    int w = get_global_id(0);
    long h = y0 + get_global_id(1);
    long plane = z0 + get_global_id(2);   // (n − n0)·C + c
    if (w >= W || h >= H || plane >= (long)samples * C) {
        return;
    }
    long s = plane / C;
    int c = (int)(plane - s * C);
    long n = n0 + s;
    size_t J = (size_t)R * WO;
    // the windows covering (h, w): i·SH ≤ h + PH < i·SH + KH, likewise jw; rows clipped to the chunk's
    long hp = h + PH;
    long wp = (long)w + PW;
    long iLo = max(hp < KH ? 0 : lk_div_stride(hp - KH, SH) + 1, g0 - n * HO);
    long iHi = min(min(lk_div_stride(hp, SH), (long)HO - 1), g0 + R - 1 - n * HO);
    long jwLo = wp < KW ? 0 : lk_div_stride(wp - KW, SW) + 1;
    long jwHi = min(lk_div_stride(wp, SW), (long)WO - 1);
    float acc = 0.0f;
    for (long i = iLo; i <= iHi; i++) {
        size_t at = ((size_t)(c * KH + (int)(hp - i * SH)) * KW) * J + (size_t)(n * HO + i - g0) * WO;
        for (long jw = jwLo; jw <= jwHi; jw++) {
            acc += dCols[at + (size_t)(wp - jw * SW) * J + (size_t)jw];
        }
    }
    size_t x = ((size_t)(n * C + c) * H + (size_t)h) * W + w;
    dX[x] = accumulate ? dX[x] + acc : acc;
}

// ------------------------------------------------------------------------------------------------ direct kernels

// The same op without columns or GEMM (option conv=direct): each value is its defining sum, formed by one work-item
// (dW: by a work-group). Kept to time against im2col + GEMM on each new device (docs/benchmarks.md).

// out[n, f, i, jw] = bias[f] + Σ_{c, kh, kw} w[f, c, kh, kw]·x̃[n, c, i·SH + kh − PH, jw·SW + kw − PW].
// Range WO × HO × N·F: work-item (jw, i, n·F + f).
__kernel void conv_direct_forward(__global const float* x, __global const float* w, __global const float* bias,
                                  int hasBias, __global float* out, int N, int C, int H, int W, int F, int KH, int KW,
                                  int SH, int SW, int PH, int PW, int HO, int WO, long y0, long z0) {
    int jw = get_global_id(0);
    long i = y0 + get_global_id(1);
    long nf = z0 + get_global_id(2);
    if (jw >= WO || i >= HO || nf >= (long)N * F) {
        return;
    }
    long n = nf / F;
    int f = (int)(nf - n * F);
    long h0 = i * SH - PH;
    long w0 = (long)jw * SW - PW;
    __global const float* wf = w + (size_t)f * C * KH * KW;
    float acc = 0.0f;
    for (int c = 0; c < C; c++) {
        __global const float* xc = x + (size_t)(n * C + c) * H * W;
        for (int kh = 0; kh < KH; kh++) {
            long h = h0 + kh;
            int rowIn = (h >= 0) & (h < H);
            __global const float* xr = xc + (rowIn ? (size_t)h * W : 0);
            __global const float* wr = wf + (c * KH + kh) * KW;
            for (int kw = 0; kw < KW; kw++) {
                long ww = w0 + kw;
                acc += (rowIn & (ww >= 0) & (ww < W)) ? wr[kw] * xr[ww] : 0.0f;
            }
        }
    }
    out[((size_t)nf * HO + (size_t)i) * WO + jw] = hasBias ? acc + bias[f] : acc;
}

// dX[n, c, h, w] = Σ_f Σ_{windows (i, jw) covering (h, w)} dOut[n, f, i, jw]·w[f, c, h + PH − i·SH, w + PW − jw·SW].
// Range W × H × N·C: work-item (w, h, n·C + c).
__kernel void conv_direct_dx(__global const float* dOut, __global const float* w, __global float* dX, int N, int C,
                             int H, int W, int F, int KH, int KW, int SH, int SW, int PH, int PW, int HO, int WO,
                             long y0, long z0) {
    int xw = get_global_id(0);
    long h = y0 + get_global_id(1);
    long plane = z0 + get_global_id(2);
    if (xw >= W || h >= H || plane >= (long)N * C) {
        return;
    }
    long n = plane / C;
    int c = (int)(plane - n * C);
    long hp = h + PH;
    long wp = (long)xw + PW;
    long iLo = hp < KH ? 0 : lk_div_stride(hp - KH, SH) + 1;
    long iHi = min(lk_div_stride(hp, SH), (long)HO - 1);
    long jwLo = wp < KW ? 0 : lk_div_stride(wp - KW, SW) + 1;
    long jwHi = min(lk_div_stride(wp, SW), (long)WO - 1);
    float acc = 0.0f;
    for (int f = 0; f < F; f++) {
        __global const float* d = dOut + (size_t)(n * F + f) * HO * WO;
        __global const float* wfc = w + (size_t)(f * C + c) * KH * KW;
        for (long i = iLo; i <= iHi; i++) {
            int kh = (int)(hp - i * SH);
            for (long jw = jwLo; jw <= jwHi; jw++) {
                acc += d[i * WO + jw] * wfc[kh * KW + (int)(wp - jw * SW)];
            }
        }
    }
    dX[(size_t)plane * H * W + (size_t)h * W + xw] = acc;
}

// dW[f, c, kh, kw] = Σ_{n, i, jw} dOut[n, f, i, jw]·x̃[n, c, i·SH + kh − PH, jw·SW + kw − PW] (and, with hasBias,
// dB[f] = Σ dOut by the work-groups of c = kh = kw = 0): one work-group of 1×LY work-items per dW element, each
// work-item summing the output rows (n, i) ≡ ly mod LY, then a tree over LY (lk_sum_y).
__kernel void conv_direct_dw(__global const float* dOut, __global const float* x, __global float* dW,
                             __global float* dB, int hasBias, int N, int C, int H, int W, int F, int KH, int KW,
                             int SH, int SW, int PH, int PW, int HO, int WO, __local acc_t* scratch) {
    long e = get_group_id(0);             // (f·C + c)·KH·KW + kh·KW + kw
    int kw = (int)(e % KW);
    int kh = (int)((e / KW) % KH);
    int c = (int)((e / ((long)KW * KH)) % C);
    int f = (int)(e / ((long)KW * KH * C));
    int ly = get_local_id(1), LY = get_local_size(1);
    bool bias = hasBias && c == 0 && kh == 0 && kw == 0;
    float acc = 0.0f;
    float accB = 0.0f;
    long rows = (long)N * HO;
    for (long g = ly; g < rows; g += LY) {
        long n = g / HO;
        int i = (int)(g - n * HO);
        __global const float* d = dOut + ((size_t)(n * F + f) * HO + i) * WO;
        long h = (long)i * SH + kh - PH;
        if (bias) {
            for (int jw = 0; jw < WO; jw++) {
                accB += d[jw];
            }
        }
        if (h < 0 || h >= H) {
            continue;
        }
        __global const float* xr = x + ((size_t)(n * C + c) * H + (size_t)h) * W;
        for (int jw = 0; jw < WO; jw++) {
            long ww = (long)jw * SW + kw - PW;
            if (ww >= 0 && ww < W) {
                acc += d[jw] * xr[ww];
            }
        }
    }
    acc_t total = lk_sum_y(scratch, (acc_t)acc);
    if (ly == 0) {
        dW[e] = (float)total;
    }
    if (hasBias && c == 0 && kh == 0 && kw == 0) {
        acc_t totalB = lk_sum_y(scratch, (acc_t)accB);
        if (ly == 0) {
            dB[f] = (float)totalB;
        }
    }
}
