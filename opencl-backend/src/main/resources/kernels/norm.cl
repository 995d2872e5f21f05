// Normalizations: batchnorm [N,D], spatial batchnorm [N,C,H,W], layernorm [N,D], groupnorm [N,C,H,W].
//
// Shape letters: N batch, D features, C channels, H×W spatial (HW = H·W), G groups, M elements per statistic.
// The host views [N,D] as [N,C=D,1,1], so one set of kernels serves all four ops:
//   per-channel statistics (batchnorm, spatial batchnorm): statistic c over M = N·HW elements;
//   per-group statistics   (layernorm = groupnorm with G = 1, groupnorm): statistic n·G+g over M = (C/G)·HW.
// Reductions use a 2-D work-group (LX statistics side by side × LY work-items per statistic, see lk_sum_y): for
// batchnorm [N,D] the LX work-items read neighbouring features of one row (coalesced on GPUs). A statistic may be
// split into chunks, one work-group row each (get_group_id(1)), that the host merges or adds up.

// The element-wise kernels run on a 2-D range: dimension 0 is j over the C·HW elements of a sample, dimension 1 the
// samples n (striding by the range's height when N exceeds it), so i = n·C·HW + j without a division. The channel
// c = j/HW and the statistic need one only for spatial inputs (HW > 1) and groups (1 < G).
inline int lk_channel(int j, int HW) {
    return HW == 1 ? j : j / HW;
}

inline int lk_stat(int n, int c, int C, int G, int perChannel) {
    return perChannel ? c : (G == 1 ? n : n * G + c / (C / G));
}

// x̂ = ((x − hi) − lo)·r, x − μ with μ = hi + lo as the forward forms it. Where x − hi overflows (x and μ more than
// FLT_MAX apart: data spanning the float range, issue 19) the same in halves, which cannot overflow; a NaN or ±∞ x
// gives NaN or ±∞ as IEEE arithmetic does.
inline float lk_xhat(float x, float hi, float lo, float r) {
    float d = (x - hi) - lo;
    return isinf(d) && isfinite(x) ? ((0.5f * x - 0.5f * hi) - 0.5f * lo) * (2.0f * r) : d * r;
}

inline float4 lk_xhat4(float4 x, float hi, float lo, float r) {
    float4 d = (x - hi) - lo;
    float4 halves = ((0.5f * x - 0.5f * hi) - 0.5f * lo) * (2.0f * r);
    return select(d * r, halves, isinf(d) && isfinite(x));
}

// The running variance r = decay·r + (1−decay)·σ²·u (u = M/(M−1) for an unbiased one) from the batch's standard
// deviation, without forming σ² itself: with float accumulators σ² may pass the float range (σ above 1.8e19) while
// (1−decay)·σ² does not.
inline float lk_running_var(float r, acc_t sd, float decay, int unbiased, int M) {
    acc_t t = sd * sqrt((1 - (acc_t)decay) * (unbiased ? (acc_t)M / (M - 1) : (acc_t)1));
    return (float)(decay * (acc_t)r + t * t);
}

#if !LK_FP64
// Float accumulators only (devices without cl_khr_fp64, or option accumulator=float): the mean and standard
// deviation √(M2/n) of elements [from, to) of a statistic, computed on x·sc with sc the power of two that brings the
// largest |x| into [1, 2). For when the plain float sums overflowed — deviations beyond about 1.8e19, whose squares
// pass FLT_MAX — so that everything the float range holds comes out right: the mean, and the deviation, which is at
// most (max − min)/2 ≤ FLT_MAX for finite data. Every work-item of the work-group must call it, unconditionally (it
// reduces with barriers, and PoCL miscompiled barriers under a branch here: code after them ran twice); only those
// with active = true read x, so a work-group with nothing to redo pays a few reductions of zeros.
inline void lk_scaled_stats(__global const float* x, bool active, size_t base, int from, int to, int inner,
                            int outerStride, __local acc_t* scratch, acc_t* mu, acc_t* sd) {
    int ly = get_local_id(1), LY = get_local_size(1);
    acc_t p = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            p = fmax(p, fabs(x[cur.at]));
        }
    }
    acc_t amax = lk_max_y(scratch, p);
    acc_t sc = amax > 0 && isfinite(amax) ? ldexp((acc_t)1, -ilogb(amax)) : (acc_t)1;
    acc_t shift = active ? x[lk_at(base, from, inner, outerStride)] * sc : 0;
    p = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            p += x[cur.at] * sc - shift;
        }
    }
    acc_t n = (acc_t)(to - from);
    acc_t m = shift + lk_sum_y(scratch, p) / n;
    p = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            acc_t d = x[cur.at] * sc - m;
            p += d * d;
        }
    }
    acc_t m2 = lk_sum_y(scratch, p);
    *mu = m / sc;
    *sd = sqrt(m2 / n) / sc;
}

// rstd = 1/√(sd² + ε) without squaring sd, whose square may pass the float range: 1/(sd·√(1 + ε/sd²)).
inline acc_t lk_rstd_of_sd(acc_t sd, float eps) {
    return sd > 0 ? 1 / (sd * sqrt(1 + (acc_t)eps / (sd * sd))) : 1 / sqrt((acc_t)eps);
}
#endif

// ------------------------------------------------------------------------------------------------ forward

// The statistics in two stages, so that even a few statistics over many elements (spatial batchnorm with C = 3)
// keep the whole device busy: the host splits each statistic into P chunks of chunkLen elements (P = 1 when there
// are enough statistics), stage 1 reduces every chunk, stage 2 merges the chunks of a statistic.

// Stage 1, chunk c (the work-group row get_group_id(1)) of statistic s, two-pass for stability with inputs like
// 1e4 + N(0,1):
//   pass 1: μ_c = K + Σ(x−K)/n_c, shifted by K = the chunk's first element so the sum is of small numbers;
//   pass 2: M2_c = Σ(x−μ_c)², centred on the μ_c of pass 1.
// μ_c is stored as a float pair hi + lo (lo = the part float rounding of hi dropped), and M2_c as the chunk's
// standard deviation √(M2_c/n_c), which a float holds for all finite data (it is at most (max − min)/2), where M2_c
// itself passes FLT_MAX for data near 1e19 and beyond (issue 19). With float accumulators, a chunk whose sums
// overflowed is measured again in a scaled domain (lk_scaled_stats).
// (Measured on an H100: a one-sweep variant — blocks of 8 or 16 values in registers, each two-pass, merged with
// Chan's formula — was 3–10 % slower at [4096,4096] and [65536,256]: the second pass here reads from cache, and the
// merges cost double-precision divisions. See docs/benchmarks.md.)
__kernel void norm_partial_stats(__global const float* x, int S, int M, int sBase, int inner, int outerStride,
                                 int chunkLen, __global float* pMean, __global float* pMeanLo, __global float* pStd,
                                 __local acc_t* scratch) {
    int s = get_group_id(0) * get_local_size(0) + get_local_id(0);
    int chunk = get_group_id(1);
    int ly = get_local_id(1), LY = get_local_size(1);
    bool active = s < S;
    size_t base = active ? (size_t)s * (size_t)sBase : 0;
    int from = chunk * chunkLen;
    int to = min(M - from, chunkLen) + from; // chunks are never empty: the host sets P = ⌈M/chunkLen⌉
    int n = to - from;

    // pass 1: shifted sum
    acc_t shift = active ? (acc_t)x[lk_at(base, from, inner, outerStride)] : 0;
    acc_t partial = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            partial += (acc_t)x[cur.at] - shift;
        }
    }
    acc_t mu = shift + lk_sum_y(scratch, partial) / n;

    // pass 2: centred sum of squares
    partial = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            acc_t d = (acc_t)x[cur.at] - mu;
            partial += d * d;
        }
    }
    acc_t m2 = lk_sum_y(scratch, partial);
    acc_t sd = sqrt(m2 / n);
#if !LK_FP64
    // a float sum overflowed for some statistic of this work-group: all of it measures again, scaled
    __local int redo;
    if (get_local_id(0) == 0 && ly == 0) {
        redo = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    bool overflowed = active && (!isfinite(mu) || !isfinite(m2));
    if (overflowed) {
        redo = 1;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    acc_t smu, ssd;
    lk_scaled_stats(x, active && redo, base, from, to, inner, outerStride, scratch, &smu, &ssd);
    if (overflowed) {
        mu = smu;
        sd = ssd;
    }
#endif

    if (active && ly == 0) {
        size_t at = (size_t)chunk * S + s;
        float hi = (float)mu;
        pMean[at] = hi;
        pMeanLo[at] = (float)(mu - (acc_t)hi);
        pStd[at] = (float)sd;
    }
}

// Stage 2, one work-item per statistic: Chan et al.'s pairwise merge of the P chunks (M2_b = n_b·sd_b²),
//   δ = μ_b − μ_a, n = n_a + n_b, μ = μ_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n,
// then σ² = M2/M (biased) and rstd = 1/√(σ²+ε). μ is written as mean[s] = (float)μ and meanLo[s] = the rest, so that
// norm_apply's x − μ keeps double accuracy (x − mean is exact for x near μ; then − meanLo).
// With updateRunning (batchnorm TRAIN), also r = decay·r + (1−decay)·batch for the running mean and variance, the
// variance unbiased (σ²·M/(M−1)) when asked. A variance beyond the float range gives a running variance of +∞ and
// a subnormal rstd, as float rounding has them.
inline void lk_merge(__global const float* pMean, __global const float* pMeanLo, __global const float* pStd, int s,
                     int S, int M, int P, int chunkLen, acc_t sc, acc_t* mu, acc_t* m2) {
    acc_t n = 0;
    *mu = 0;
    *m2 = 0;
    for (int c = 0; c < P; c++) {
        size_t at = (size_t)c * S + s;
        acc_t nb = (acc_t)(min(M - c * chunkLen, chunkLen));
        acc_t mb = ((acc_t)pMean[at] + (acc_t)pMeanLo[at]) * sc;
        acc_t sb = (acc_t)pStd[at] * sc;
        acc_t delta = mb - *mu;
        acc_t nab = n + nb;
        *mu += delta * (nb / nab);
        *m2 += nb * sb * sb + delta * delta * (n * nb / nab);
        n = nab;
    }
}

__kernel void norm_merge_stats(__global const float* pMean, __global const float* pMeanLo,
                               __global const float* pStd, int S, int M, int P, int chunkLen, float eps,
                               __global float* mean, __global float* meanLo, __global float* rstd,
                               int updateRunning, float decay, int unbiased,
                               __global float* runningMean, __global float* runningVar) {
    int s = get_global_id(0);
    if (s >= S) {
        return;
    }
    acc_t mu, m2;
    lk_merge(pMean, pMeanLo, pStd, s, S, M, P, chunkLen, (acc_t)1, &mu, &m2);
    acc_t var = m2 / M;
    acc_t sd = sqrt(var);
    acc_t r = 1 / sqrt(var + (acc_t)eps);
#if !LK_FP64
    if (!isfinite(mu) || !isfinite(m2)) {
        // float accumulators overflowed: merge again scaled by a power of two of the largest mean or deviation
        acc_t amax = 0;
        for (int c = 0; c < P; c++) {
            size_t at = (size_t)c * S + s;
            amax = fmax(amax, fmax(fabs((acc_t)pMean[at]), (acc_t)pStd[at]));
        }
        acc_t sc = amax > 0 && isfinite(amax) ? ldexp((acc_t)1, -ilogb(amax)) : (acc_t)1;
        lk_merge(pMean, pMeanLo, pStd, s, S, M, P, chunkLen, sc, &mu, &m2);
        acc_t vs = m2 / M;                       // σ²·sc²
        mu = mu / sc;
        sd = sqrt(vs) / sc;
        r = sc / sqrt(vs + (acc_t)eps * sc * sc);
    }
#endif
    float hi = (float)mu;
    mean[s] = hi;
    meanLo[s] = (float)(mu - (acc_t)hi);
    rstd[s] = (float)r;
    if (updateRunning) {
        runningMean[s] = (float)(decay * (acc_t)runningMean[s] + (1 - (acc_t)decay) * mu);
        runningVar[s] = lk_running_var(runningVar[s], sd, decay, unbiased, M);
    }
}

// EVAL batchnorm: the statistics are the running ones, mean = r_μ, rstd = 1/√(r_σ² + ε).
__kernel void norm_eval_stats(__global const float* runningMean, __global const float* runningVar, float eps,
                              __global float* mean, __global float* meanLo, __global float* rstd, int S) {
    int s = get_global_id(0);
    if (s >= S) {
        return;
    }
    mean[s] = runningMean[s];
    meanLo[s] = 0.0f;
    rstd[s] = (float)(1 / sqrt((acc_t)runningVar[s] + (acc_t)eps));
}

// Element-wise: x̂ = (x − μ)·rstd, y = γ[c]·x̂ + β[c]. perChannel selects the statistic c, else n·G + c/(C/G).
__kernel void norm_apply(__global const float* x, __global const float* mean, __global const float* meanLo,
                         __global const float* rstd, __global const float* gamma, __global const float* beta,
                         __global float* xhat, __global float* out, int N, int C, int HW, int G,
                         int perChannel) {
    int j = get_global_id(0);
    int CHW = C * HW;
    if (j >= CHW) {
        return;
    }
    int c = lk_channel(j, HW);
    if (perChannel) {
        // the statistic is the channel: its five values once per work-item, which the host gives several rows
        float mu = mean[c], muLo = meanLo[c], r = rstd[c], g = gamma[c], b = beta[c];
        for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
            size_t i = (size_t)n * CHW + j;
            float xh = lk_xhat(x[i], mu, muLo, r); // x − μ with μ = mean + meanLo
            xhat[i] = xh;
            out[i] = g * xh + b;
        }
        return;
    }
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        size_t i = (size_t)n * CHW + j;
        int s = lk_stat(n, c, C, G, perChannel);
        float xh = lk_xhat(x[i], mean[s], meanLo[s], rstd[s]); // x − μ with μ = mean + meanLo
        xhat[i] = xh;
        out[i] = gamma[c] * xh + beta[c];
    }
}

// ------------------------------------------------------------------------------------------------ backward

// Per statistic: sumA = Σ a and sumAX = Σ a·x̂ with a = dOut·γ[c] (useGamma, per-group layouts only) or a = dOut,
// over chunk c = get_group_id(1) of chunkLen elements, written to [c·S + s] (the host adds the chunks up when P > 1).
//   per-channel layout, no γ:  sumA = dβ, sumAX = dγ (also the terms of batchnorm's dX);
//   per-group layout, with γ:  the Σ_g g and Σ_g g·x̂ of layer/group norm's dX.
__kernel void norm_grad_sums(__global const float* dOut, __global const float* xhat, __global const float* gamma,
                             int useGamma, int C, int HW, int G,
                             int S, int M, int sBase, int inner, int outerStride, int chunkLen,
                             __global float* sumA, __global float* sumAX, __local acc_t* scratch) {
    int s = get_group_id(0) * get_local_size(0) + get_local_id(0);
    int chunk = get_group_id(1);
    int ly = get_local_id(1), LY = get_local_size(1);
    bool active = s < S;
    size_t base = active ? (size_t)s * (size_t)sBase : 0;
    int from = chunk * chunkLen;
    int to = min(M - from, chunkLen) + from;
    acc_t pa = 0, pax = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            size_t i = cur.at;
            acc_t a = (acc_t)dOut[i];
            if (useGamma) {
                // per-group layout: element cur.j of statistic s = n·G + g is channel g·(C/G) + cur.j/HW
                int c = (G == 1 ? 0 : (s % G) * (C / G)) + lk_channel(cur.j, HW);
                a *= (acc_t)gamma[c];
            }
            pa += a;
            pax += a * (acc_t)xhat[i];
        }
    }
    acc_t ta = lk_sum_y(scratch, pa);
    acc_t tax = lk_sum_y(scratch, pax);
    if (active && ly == 0) {
        sumA[(size_t)chunk * S + s] = (float)ta;
        sumAX[(size_t)chunk * S + s] = (float)tax;
    }
}

// Element-wise dX from the sums of norm_grad_sums (2-D range as norm_apply):
//   per channel, TRAIN (batchnorm): dX = (γ·rstd/M)·(M·dOut − Σ dOut − x̂·Σ dOut·x̂)
//   per channel, EVAL:              dX = γ·rstd·dOut (the running statistics are constants)
//   per group (layer/group norm):   g = dOut·γ[c], dX = (rstd/M)·(M·g − Σ g − x̂·Σ g·x̂)
__kernel void norm_backward_apply(__global const float* dOut, __global const float* xhat,
                                  __global const float* gamma, __global const float* rstd,
                                  __global const float* sumA, __global const float* sumAX, __global float* dX,
                                  int N, int C, int HW, int G, int perChannel, int M, int eval) {
    int j = get_global_id(0);
    int CHW = C * HW;
    if (j >= CHW) {
        return;
    }
    int c = lk_channel(j, HW);
    if (perChannel) {
        // per-channel values once per work-item (the host gives each several rows)
        float k = gamma[c] * rstd[c];
        float km = k / M, fm = (float)M, sa = sumA[c], sax = sumAX[c];
        for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
            size_t i = (size_t)n * CHW + j;
            // term 1: M·dOut, term 2: −Σ dOut, term 3: −x̂·Σ dOut·x̂ (EVAL: γ·rstd·dOut)
            dX[i] = eval ? k * dOut[i] : km * (fm * dOut[i] - sa - xhat[i] * sax);
        }
        return;
    }
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        size_t i = (size_t)n * CHW + j;
        int s = lk_stat(n, c, C, G, 0);
        float g = dOut[i] * gamma[c];
        // term 1: M·g, term 2: −Σ g, term 3: −x̂·Σ g·x̂
        dX[i] = (rstd[s] / M) * ((float)M * g - sumA[s] - xhat[i] * sumAX[s]);
    }
}

// Batchnorm in parts (synchronized batchnorm, docs/ops/batchnorm_parts.md): dX of one part of a batch from the
// whole batch's sums and count, folded on the host (in double) into per-channel a = γ·rstd, b = a·Σ dOut/M,
// k = a·Σ dOut·x̂/M:  dX = a·dOut − (b + k·x̂), the expanded (γ·rstd/M)·(M·dOut − Σ dOut − x̂·Σ dOut·x̂).
__kernel void bn_parts_dx(__global const float* dOut, __global const float* xhat, __global const float* ca,
                          __global const float* cb, __global const float* ck, __global float* dX, int N, int C,
                          int HW) {
    int j = get_global_id(0);
    int CHW = C * HW;
    if (j >= CHW) {
        return;
    }
    int c = lk_channel(j, HW);
    float a = ca[c], b = cb[c], k = ck[c];
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        size_t i = (size_t)n * CHW + j;
        dX[i] = a * dOut[i] - (b + k * xhat[i]);
    }
}

// ------------------------------------------------------------------------------------------------ fused, one launch

// When the statistics alone fill the device (the host's plan needs no chunks), one work-group owns whole statistics
// and does everything in one launch: the statistic's two-pass reduction, then the element-wise part over the same
// elements (which the work-group has just read, so the re-reads mostly hit the cache).

// Elements before the first 16-byte aligned one of a run starting at element `base` of a 16-byte aligned buffer.
inline int lk_head(size_t base, int M) {
    return min((int)((4 - (base & 3)) & 3), M);
}

// Per-group (layernorm: a row; groupnorm: one (n, g)), one work-group (1×LY) per statistic s = get_group_id(0).
// The run of M contiguous elements is read as an unaligned head, float4s and a scalar tail.
//   pass 1: μ = K + Σ(x−K)/M with K = the first element; pass 2: M2 = Σ(x−μ)²; rstd = 1/√(M2/M + ε);
//   pass 3: x̂ = (x − μ)·rstd, y = γ[c]·x̂ + β[c] with c = g·(C/G) + j/HW.
__kernel void norm_rows_forward(__global const float* x, __global const float* gamma, __global const float* beta,
                                int M, int C, int HW, int G, float eps, __global float* xhat, __global float* out,
                                __global float* mean, __global float* rstd, __local acc_t* scratch) {
    int s = get_group_id(0);
    int l = get_local_id(1), L = get_local_size(1);
    size_t base = (size_t)s * (size_t)M;
    __global const float* xs = x + base;
    int head = lk_head(base, M);
    int nv = (M - head) / 4;
    int tail = head + 4 * nv;
    __global const float4* xv = (__global const float4*)(xs + head);

    // pass 1: shifted sum
    acc_t shift = (acc_t)xs[0];
    acc_t p = 0;
    for (int j = l; j < head; j += L) {
        p += (acc_t)xs[j] - shift;
    }
    for (int k = l; k < nv; k += L) {
        float4 v = xv[k];
        p += (((acc_t)v.x - shift) + ((acc_t)v.y - shift)) + (((acc_t)v.z - shift) + ((acc_t)v.w - shift));
    }
    for (int j = tail + l; j < M; j += L) {
        p += (acc_t)xs[j] - shift;
    }
    acc_t mu = shift + lk_sum_y(scratch, p) / M;

    // pass 2: centred sum of squares
    p = 0;
    for (int j = l; j < head; j += L) {
        acc_t d = (acc_t)xs[j] - mu;
        p += d * d;
    }
    for (int k = l; k < nv; k += L) {
        float4 v = xv[k];
        acc_t d0 = (acc_t)v.x - mu, d1 = (acc_t)v.y - mu, d2 = (acc_t)v.z - mu, d3 = (acc_t)v.w - mu;
        p += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
    }
    for (int j = tail + l; j < M; j += L) {
        acc_t d = (acc_t)xs[j] - mu;
        p += d * d;
    }
    acc_t var = lk_sum_y(scratch, p) / M;
    float r = (float)(1 / sqrt(var + (acc_t)eps));
#if !LK_FP64
    // float accumulators overflowed (one statistic per work-group, so every work-item agrees)
    bool redo = !isfinite(mu) || !isfinite(var);
    acc_t smu, ssd;
    lk_scaled_stats(x, redo, base, 0, M, M, 0, scratch, &smu, &ssd);
    if (redo) {
        mu = smu;
        r = (float)lk_rstd_of_sd(ssd, eps);
    }
#endif
    float muHi = (float)mu;
    float muLo = (float)(mu - (acc_t)muHi); // x − μ as (x − muHi) − muLo keeps the wide mean's accuracy
    if (l == 0) {
        mean[s] = muHi;
        rstd[s] = r;
    }

    // pass 3: x̂ and y
    int cBase = G == 1 ? 0 : (s % G) * (C / G);
    __global float* xh = xhat + base;
    __global float* ys = out + base;
    for (int j = l; j < head; j += L) {
        int c = cBase + lk_channel(j, HW);
        float h = lk_xhat(xs[j], muHi, muLo, r);
        xh[j] = h;
        ys[j] = gamma[c] * h + beta[c];
    }
    __global float4* xhv = (__global float4*)(xh + head);
    __global float4* yv = (__global float4*)(ys + head);
    for (int k = l; k < nv; k += L) {
        int j = head + 4 * k;
        float4 h = lk_xhat4(xv[k], muHi, muLo, r);
        int c0 = cBase + lk_channel(j, HW), c1 = cBase + lk_channel(j + 1, HW);
        int c2 = cBase + lk_channel(j + 2, HW), c3 = cBase + lk_channel(j + 3, HW);
        float4 g = (float4)(gamma[c0], gamma[c1], gamma[c2], gamma[c3]);
        float4 b = (float4)(beta[c0], beta[c1], beta[c2], beta[c3]);
        xhv[k] = h;
        yv[k] = g * h + b;
    }
    for (int j = tail + l; j < M; j += L) {
        int c = cBase + lk_channel(j, HW);
        float h = lk_xhat(xs[j], muHi, muLo, r);
        xh[j] = h;
        ys[j] = gamma[c] * h + beta[c];
    }
}

// Per-group backward, one work-group per statistic like norm_rows_forward: with g = dOut·γ[c],
//   Σ g and Σ g·x̂ over the statistic, then dX = (rstd/M)·(M·g − Σ g − x̂·Σ g·x̂).
__kernel void norm_rows_backward(__global const float* dOut, __global const float* xhat,
                                 __global const float* gamma, __global const float* rstd, int M, int C, int HW,
                                 int G, __global float* dX, __local acc_t* scratch) {
    int s = get_group_id(0);
    int l = get_local_id(1), L = get_local_size(1);
    size_t base = (size_t)s * (size_t)M;
    __global const float* dy = dOut + base;
    __global const float* xh = xhat + base;
    __global float* dx = dX + base;
    int head = lk_head(base, M);
    int nv = (M - head) / 4;
    int tail = head + 4 * nv;
    int cBase = G == 1 ? 0 : (s % G) * (C / G);
    __global const float4* dyv = (__global const float4*)(dy + head);
    __global const float4* xhv = (__global const float4*)(xh + head);
    __global float4* dxv = (__global float4*)(dx + head);

    acc_t pa = 0, pax = 0;
    for (int j = l; j < head; j += L) {
        acc_t a = (acc_t)(dy[j] * gamma[cBase + lk_channel(j, HW)]);
        pa += a;
        pax += a * (acc_t)xh[j];
    }
    for (int k = l; k < nv; k += L) {
        int j = head + 4 * k;
        float4 g = (float4)(gamma[cBase + lk_channel(j, HW)], gamma[cBase + lk_channel(j + 1, HW)],
                            gamma[cBase + lk_channel(j + 2, HW)], gamma[cBase + lk_channel(j + 3, HW)]);
        float4 a = dyv[k] * g;
        float4 h = xhv[k];
        pa += ((acc_t)a.x + (acc_t)a.y) + ((acc_t)a.z + (acc_t)a.w);
        pax += ((acc_t)a.x * (acc_t)h.x + (acc_t)a.y * (acc_t)h.y) + ((acc_t)a.z * (acc_t)h.z + (acc_t)a.w * (acc_t)h.w);
    }
    for (int j = tail + l; j < M; j += L) {
        acc_t a = (acc_t)(dy[j] * gamma[cBase + lk_channel(j, HW)]);
        pa += a;
        pax += a * (acc_t)xh[j];
    }
    float sumA = (float)lk_sum_y(scratch, pa);
    float sumAX = (float)lk_sum_y(scratch, pax);
    float k = rstd[s] / M;
    float fm = (float)M;

    for (int j = l; j < head; j += L) {
        float g = dy[j] * gamma[cBase + lk_channel(j, HW)];
        dx[j] = k * (fm * g - sumA - xh[j] * sumAX);
    }
    for (int q = l; q < nv; q += L) {
        int j = head + 4 * q;
        float4 g = (float4)(gamma[cBase + lk_channel(j, HW)], gamma[cBase + lk_channel(j + 1, HW)],
                            gamma[cBase + lk_channel(j + 2, HW)], gamma[cBase + lk_channel(j + 3, HW)]);
        dxv[q] = k * (fm * (dyv[q] * g) - sumA - xhv[q] * sumAX);
    }
    for (int j = tail + l; j < M; j += L) {
        float g = dy[j] * gamma[cBase + lk_channel(j, HW)];
        dx[j] = k * (fm * g - sumA - xh[j] * sumAX);
    }
}

// Per-channel (batchnorm, spatial batchnorm) forward in one launch: a work-group of LX channels × LY work-items owns
// whole channels (layout as in common.cl), so stats, running-stat update and x̂, y need no second kernel.
// updateRunning as in norm_merge_stats; in EVAL the host uses the split path (the statistics are given).
__kernel void norm_columns_forward(__global const float* x, __global const float* gamma,
                                   __global const float* beta, int S, int M, int sBase, int inner,
                                   int outerStride, float eps, __global float* xhat, __global float* out,
                                   __global float* mean, __global float* rstd, int updateRunning, float decay,
                                   int unbiased, __global float* runningMean, __global float* runningVar,
                                   __local acc_t* scratch) {
    int s = get_group_id(0) * get_local_size(0) + get_local_id(0);
    int ly = get_local_id(1), LY = get_local_size(1);
    bool active = s < S;
    size_t base = active ? (size_t)s * (size_t)sBase : 0;

    acc_t shift = active ? (acc_t)x[base] : 0;
    acc_t p = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, ly, inner, outerStride); cur.j < M;
             lk_next(&cur, LY, inner, outerStride)) {
            p += (acc_t)x[cur.at] - shift;
        }
    }
    acc_t mu = shift + lk_sum_y(scratch, p) / M;
    p = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, ly, inner, outerStride); cur.j < M;
             lk_next(&cur, LY, inner, outerStride)) {
            acc_t d = (acc_t)x[cur.at] - mu;
            p += d * d;
        }
    }
    acc_t var = lk_sum_y(scratch, p) / M;
    acc_t sd = sqrt(var);
    acc_t rs = 1 / sqrt(var + (acc_t)eps);
#if !LK_FP64
    // a float sum overflowed for some column of this work-group: all of it measures again, scaled
    __local int redo;
    if (get_local_id(0) == 0 && ly == 0) {
        redo = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    bool overflowed = active && (!isfinite(mu) || !isfinite(var));
    if (overflowed) {
        redo = 1;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    acc_t smu, ssd;
    lk_scaled_stats(x, active && redo, base, 0, M, inner, outerStride, scratch, &smu, &ssd);
    if (overflowed) {
        mu = smu;
        sd = ssd;
        rs = lk_rstd_of_sd(ssd, eps);
    }
#endif
    if (!active) {
        return; // after the last barrier
    }
    float r = (float)rs;
    float muHi = (float)mu;
    float muLo = (float)(mu - (acc_t)muHi);
    if (ly == 0) {
        mean[s] = muHi;
        rstd[s] = r;
        if (updateRunning) {
            runningMean[s] = (float)(decay * (acc_t)runningMean[s] + (1 - (acc_t)decay) * mu);
            runningVar[s] = lk_running_var(runningVar[s], sd, decay, unbiased, M);
        }
    }
    float g = gamma[s], b = beta[s];
    for (lk_cursor cur = lk_begin(base, ly, inner, outerStride); cur.j < M;
         lk_next(&cur, LY, inner, outerStride)) {
        size_t i = cur.at;
        float h = lk_xhat(x[i], muHi, muLo, r);
        xhat[i] = h;
        out[i] = g * h + b;
    }
}

// Per-channel backward in one launch, work-groups as norm_columns_forward: dβ = Σ dOut, dγ = Σ dOut·x̂ per channel,
// then dX = (γ·rstd/M)·(M·dOut − dβ − x̂·dγ) in TRAIN, γ·rstd·dOut in EVAL.
__kernel void norm_columns_backward(__global const float* dOut, __global const float* xhat,
                                    __global const float* gamma, __global const float* rstd, int S, int M,
                                    int sBase, int inner, int outerStride, int eval, __global float* dX,
                                    __global float* dGamma, __global float* dBeta, __local acc_t* scratch) {
    int s = get_group_id(0) * get_local_size(0) + get_local_id(0);
    int ly = get_local_id(1), LY = get_local_size(1);
    bool active = s < S;
    size_t base = active ? (size_t)s * (size_t)sBase : 0;
    acc_t pa = 0, pax = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, ly, inner, outerStride); cur.j < M;
             lk_next(&cur, LY, inner, outerStride)) {
            size_t i = cur.at;
            acc_t a = (acc_t)dOut[i];
            pa += a;
            pax += a * (acc_t)xhat[i];
        }
    }
    float sumA = (float)lk_sum_y(scratch, pa);
    float sumAX = (float)lk_sum_y(scratch, pax);
    if (!active) {
        return;
    }
    if (ly == 0) {
        dBeta[s] = sumA;
        dGamma[s] = sumAX;
    }
    float k = gamma[s] * rstd[s];
    if (eval) {
        for (lk_cursor cur = lk_begin(base, ly, inner, outerStride); cur.j < M;
             lk_next(&cur, LY, inner, outerStride)) {
            size_t i = cur.at;
            dX[i] = k * dOut[i];
        }
    } else {
        float km = k / M;
        float fm = (float)M;
        for (lk_cursor cur = lk_begin(base, ly, inner, outerStride); cur.j < M;
             lk_next(&cur, LY, inner, outerStride)) {
            size_t i = cur.at;
            dX[i] = km * (fm * dOut[i] - sumA - xhat[i] * sumAX);
        }
    }
}

// Chunked sums of norm_grad_sums (P > 1): sumA[s] = Σ_c pA[c·S + s] and sumAX likewise, both in one launch.
__kernel void norm_merge_sums(__global const float* pA, __global const float* pAX, int S, int P,
                              __global float* sumA, __global float* sumAX) {
    int s = get_global_id(0);
    if (s >= S) {
        return;
    }
    acc_t a = 0, ax = 0;
    for (int c = 0; c < P; c++) {
        a += (acc_t)pA[(size_t)c * S + s];
        ax += (acc_t)pAX[(size_t)c * S + s];
    }
    sumA[s] = (float)a;
    sumAX[s] = (float)ax;
}
