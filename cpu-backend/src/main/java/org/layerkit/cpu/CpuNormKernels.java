package org.layerkit.cpu;

import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Contracts;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Batch, spatial batch, layer and group normalization, each forward next to its backward. Derivations are in
 * {@code docs/ops/batchnorm.md}, {@code layernorm.md} and {@code groupnorm.md}.
 *
 * <p>Shape letters: N batch, D features, C channels, H×W spatial with S = H·W, G groups; M is the number of
 * elements behind one statistic (N for batchnorm, N·S for spatial batchnorm, D for layernorm, (C/G)·S for
 * groupnorm). A "slab" is the S contiguous values of one (n, c) of an {@code [N,C,H,W]} tensor; a "segment" is the
 * (C/G)·S contiguous values of one (n, group).
 *
 * <p><b>Passes over memory.</b> Every forward reads x twice (statistics, then y) and writes only y: the cache keeps x
 * (see {@link CpuSavedInput}) and every backward reads dOut and x twice (the two sums, then dX), re-forming x̂ from x
 * as it goes; the second pass needs the finished statistics of the first. Each pass does all its work in one sweep —
 * the mean and the variance together, Σ dOut and Σ dOut·x̂ together, dγ and dβ along with the sums dX needs — and
 * works on one row (or block) at a time, so for layernorm and groupnorm the second pass reads from L1 or L2.
 *
 * <p><b>Two implementations of the sweeps.</b> With the Vector API ({@link CpuBackend#vectorApi()}) they read the
 * tensors in place ({@link CpuVector}); otherwise they stage rows through L1 buffers for the loops of {@link CpuLoops},
 * which C2 vectorizes only in that form. The statistics, the merges and the coefficients below are shared.
 *
 * <p><b>Numerics.</b> Statistics are computed in one pass over memory but stay as stable as two-pass: a run of values
 * (a row, a block of a slab) is staged in L1 and Σ(x − c), Σ(x − c)² are formed around a shift c, its first value —
 * and formed again around its float mean when that first value lies more than two standard deviations away (see
 * {@link #stagedStats}); in batchnorm's column statistics the shift is the column mean of a block of rows kept in L2
 * (see {@link #columnStats}). Partial results
 * (count, mean, M2 = Σ(x − mean)²) are merged in double with Chan's formula
 * M2 = M2a + M2b + δ²·na·nb/(na + nb), δ = meanb − meana. The float sums are short (blocks of
 * {@link #BLOCK_ROWS} rows, or lanes of a {@link CpuLoops#sum fold}) and flushed into double, so inputs like
 * 1e4 + N(0,1) keep their variance. Parallel work is split into chunks whose partials are combined in chunk order, so
 * results do not depend on thread timing.
 *
 * <p>The element-wise passes (x̂ and y; dX) run in float, because C2 vectorizes float loops but not float↔double
 * conversions. Precision is kept by splitting the mean into a float head and tail, μ = hi + lo: x − hi is exact for x
 * within a factor 2 of hi (Sterbenz), so x̂ = ((x − hi) − lo)·rstd loses only a few float ulps even for
 * 1e4 + N(0,1). dX is rewritten as a·g − (b + c·x̂) with per-statistic coefficients formed in double from the double
 * sums. How the loops are written so that C2 vectorizes them is in {@link CpuLoops}.
 *
 * <p><b>Memory.</b> Outputs come from the backend's pool; everything else (row buffers, per-chunk partials,
 * coefficients) from {@link CpuScratch}, so a warm kernel allocates nothing.
 */
final class CpuNormKernels {
    /** Rows accumulated in float before a flush into double (backward column sums; the row blocks of columnStats). */
    static final int BLOCK_ROWS = 64;
    /** Values of a slab or segment staged in L1 at a time for its statistics. */
    static final int STATS_BLOCK = 2048;

    // Scratch slots. Float and double slots are separate namespaces. Chunk bodies use slots below CpuScratch.CALL;
    // runStats/stagedStats own STAT_*, which may coincide with ROW_W and SHIFT because no body that uses those
    // calls them. Call-level slots (from CpuScratch.CALL) hold what the calling thread keeps across a call.
    private static final int ROW_T = 0;
    private static final int ROW_U = 1;
    private static final int ACC_1 = 2;
    private static final int ACC_2 = 3;
    private static final int ROW_V = 4;
    private static final int ROW_W = 5;
    private static final int SHIFT = 6;
    private static final int STAT_T = 5;
    private static final int STAT_V = 6;
    private static final int STAT_W = 7;
    // call-level scratch slots
    private static final int PART = CpuScratch.CALL;
    private static final int STATS = CpuScratch.CALL + 1;
    private static final int HI = CpuScratch.CALL;
    private static final int LO = CpuScratch.CALL + 1;
    private static final int RS = CpuScratch.CALL + 2;
    private static final int CA = CpuScratch.CALL + 3;
    private static final int CB = CpuScratch.CALL + 4;
    private static final int CC = CpuScratch.CALL + 5;
    private static final int ID_ZERO = CpuScratch.CALL + 6;
    private static final int ID_RS = CpuScratch.CALL + 7;

    private CpuNormKernels() {
    }

    // ================================================================ batchnorm [N,D]

    static NormResult batchNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                       Tensor runningVar, BatchNormParams p, Mode mode) {
        Contracts.batchNormForward(be, x, gamma, beta, runningMean, runningVar, p, mode);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        CpuScratch scratch = CpuScratch.get();
        String op = "batchnorm.forward";
        // mean [0,D), variance [D,2D), rstd [2D,3D)
        double[] stats = scratch.doubles(STATS, CpuSizes.length(op, x.shape(), "3·D doubles of statistics", 3L * d));
        if (mode == Mode.TRAIN) {
            // steps 1 and 2: column mean and M2; statistics beyond what the float sweeps hold (sums of squares near
            // FLT_MAX) are computed again in double
            columnMoments(be, x, op, stats);
            for (int j = 0; j < d; j++) {
                if (!CpuWideNorm.fits(stats[j], stats[d + j], n)) {
                    return CpuWideNorm.forward(be, NormKind.BATCHNORM, x, gamma, beta, 1, p.eps(), runningMean,
                            runningVar, p);
                }
            }
            for (int j = 0; j < d; j++) {
                stats[d + j] /= n;
                stats[2 * d + j] = 1.0 / Math.sqrt(stats[d + j] + p.eps());
            }
            // step 3: running statistics in place, r = decay·r + (1−decay)·batch
            updateRunning(runningMean, runningVar, stats, d, n, p);
        } else {
            // EVAL: the running statistics stand in for the batch's
            runningAsStats(runningMean, runningVar, stats, d, p.eps());
        }
        return columnsApply(be, x, gamma, beta, stats, mode);
    }

    /**
     * Steps 1 and 2 of the TRAIN statistics of x [N,D]: column mean into stats[0, D) and M2 into stats[D, 2D).
     * Step 1: per chunk of rows, one pass: column mean and M2 around the chunk's first row (few chunks for wide rows,
     * so that their partials stay small). Step 2: the chunks merged in order (Chan).
     */
    private static void columnMoments(CpuBackend be, Tensor x, String op, double[] stats) {
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        int chunks = CpuSizes.partialChunks(n, d, 2L * d);
        double[] part = CpuScratch.get().doubles(PART, CpuSizes.length(op, x.shape(),
                "2·D doubles of column partials", 2L * chunks * d));
        boolean vector = be.vectorApi();
        CpuParallel.forChunks(chunks, n,
                (k, from, to) -> columnStats(xs, d, from, to, part, k * 2 * d, vector));
        mergeColumnStats(part, chunks, n, d, stats);
    }

    /** Step 4 of the forward of x [N,D] with mean at stats[0, D) and rstd at stats[2D, 3D); the cache keeps x. */
    private static NormResult columnsApply(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, double[] stats,
                                           Mode mode) {
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        CpuScratch scratch = CpuScratch.get();
        // step 4: x̂ = ((x − hi) − lo)·rstd and y = γ·x̂ + β, a block of rows at a time through an L1 buffer; the
        // per-feature constants are repeated once per row of a block, so one loop covers the block
        int rb = rowsPerBlock(d);
        float[] hi = scratch.floats(HI, rb * d);
        float[] lo = scratch.floats(LO, rb * d);
        float[] rs = scratch.floats(RS, rb * d);
        split(stats, 0, 2 * d, d, hi, lo, rs);
        float[] g = repeated(CpuBackend.data(gamma), d, rb, scratch.floats(CA, rb * d));
        float[] b = repeated(CpuBackend.data(beta), d, rb, scratch.floats(CB, rb * d));
        repeated(hi, d, rb, hi);
        repeated(lo, d, rb, lo);
        repeated(rs, d, rb, rs);
        CpuTensor out = be.allocate(x.shape());
        float[] y = out.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(n, d, (k, from, to) -> {
            if (vector) {
                // read in place, one row at a time (no staging, so no per-row loop start-up to spread over a block);
                // the first D entries of the repeated constants are the per-feature ones
                for (int row = from; row < to; row++) {
                    CpuVector.normalizeAffine(xs, y, row * d, d, hi, lo, rs, g, b);
                }
                return;
            }
            float[] t = CpuScratch.get().floats(ROW_T, rb * d);
            for (int row = from; row < to; row += rb) {
                int off = row * d;
                int len = Math.min(rb, to - row) * d;
                System.arraycopy(xs, off, t, 0, len);
                CpuLoops.normalizeAffine(t, hi, lo, rs, g, b, len);
                System.arraycopy(t, 0, y, off, len);
            }
        });
        // the cache keeps x (and lo) rather than x̂: backward recomputes x̂ as it reads x
        NormCache cache = NormCache.recomputing(NormKind.BATCHNORM, mode, 1, saved(be, x, lo, Shape.of(d)),
                be.fromDoubles(stats, 0, Shape.of(d)), be.fromDoubles(stats, 2 * d, Shape.of(d)));
        return new NormResult(out, cache);
    }

    /**
     * Column mean and M2 of rows [from, to) of x [·,D], into part[at, at+D) and part[at+D, at+2D): one pass over
     * memory, in blocks of R ≤ {@link #BLOCK_ROWS} rows small enough (R·D ≤ 64 Ki floats) to stay in L2. Per block,
     * Σu and Σu² of u = x − c are accumulated in float around a per-column shift c: the previous block's mean, or
     * for the first block its own mean (an extra sweep over the block in L2). The block's mean c + Σu/R and
     * M2 = Σu² − (Σu)²/R lose nothing to cancellation while c lies within a standard deviation of the block's mean;
     * if any column's does not (a trend, an outlier row), the block is swept again around its own mean. Blocks are
     * merged in double with Chan's formula, in row order.
     */
    private static void columnStats(float[] xs, int d, int from, int to, double[] part, int at, boolean vector) {
        CpuScratch s = CpuScratch.get();
        float[] t = s.floats(ROW_T, d);
        float[] c = s.floats(SHIFT, d);
        float[] s1 = s.floats(ACC_1, d);
        float[] s2 = s.floats(ACC_2, d);
        int blockRows = Math.max(1, Math.min(BLOCK_ROWS, (1 << 16) / Math.max(1, d)));
        double count = 0;
        for (int b0 = from; b0 < to; b0 += blockRows) {
            int b1 = Math.min(to, b0 + blockRows);
            int r = b1 - b0;
            double invR = 1.0 / r;
            if (b0 == from) {
                blockMeans(xs, d, b0, b1, t, c, vector);
            }
            for (int attempt = 0; ; attempt++) {
                // term 1: Σu and Σu² of u = x − c over the block, in float
                java.util.Arrays.fill(s1, 0, d, 0f);
                java.util.Arrays.fill(s2, 0, d, 0f);
                for (int row = b0; row < b1; row++) {
                    if (vector) {
                        CpuVector.addShiftedAndSquares(xs, row * d, c, s1, s2, d);
                    } else {
                        System.arraycopy(xs, row * d, t, 0, d);
                        CpuLoops.addShiftedTo(s1, t, c, d);
                        CpuLoops.addShiftedSquaresTo(s2, t, c, d);
                    }
                }
                // term 2: a shift more than a standard deviation off, (mean − c)² > M2/R: again around the mean
                boolean far = false;
                for (int j = 0; j < d && attempt == 0 && r > 1; j++) {
                    double su = s1[j];
                    far |= su * su * invR > s2[j] - su * su * invR;
                }
                if (!far) {
                    break;
                }
                blockMeans(xs, d, b0, b1, t, c, vector);
            }
            // term 3: the block's (mean, M2) in double, merged into the chunk's (Chan); its mean shifts the next block
            double total = count + r;
            double wNew = r / total;
            double wCross = count * r / total;
            for (int j = 0; j < d; j++) {
                double su = s1[j];
                double bMean = c[j] + su * invR;
                double bM2 = Math.max(0.0, s2[j] - su * su * invR);
                if (count == 0) {
                    part[at + j] = bMean;
                    part[at + d + j] = bM2;
                } else {
                    double delta = bMean - part[at + j];
                    part[at + j] += delta * wNew;
                    part[at + d + j] += bM2 + delta * delta * wCross;
                }
                c[j] = (float) bMean;
            }
            count = total;
        }
    }

    /** c[j] = the float mean of column j over rows [b0, b1) (a sweep, in place or through t). */
    private static void blockMeans(float[] xs, int d, int b0, int b1, float[] t, float[] c, boolean vector) {
        java.util.Arrays.fill(c, 0, d, 0f);
        for (int row = b0; row < b1; row++) {
            if (vector) {
                CpuVector.addTo(c, xs, row * d, d);
            } else {
                System.arraycopy(xs, row * d, t, 0, d);
                CpuLoops.addTo(c, t, d);
            }
        }
        CpuLoops.scale(c, 1f / (b1 - b0), d);
    }

    /** Chan's merge of per-chunk (mean, M2) over the row split of [0, rows) into stats[0, D) and stats[D, 2D). */
    private static void mergeColumnStats(double[] part, int chunks, int rows, int d, double[] stats) {
        System.arraycopy(part, 0, stats, 0, 2 * d);
        double na = CpuParallel.chunkStart(1, chunks, rows);
        for (int k = 1; k < chunks; k++) {
            double nb = CpuParallel.chunkStart(k + 1, chunks, rows) - CpuParallel.chunkStart(k, chunks, rows);
            int at = k * 2 * d;
            double w = na * nb / (na + nb);
            for (int j = 0; j < d; j++) {
                double delta = part[at + j] - stats[j];
                stats[j] += delta * nb / (na + nb);
                stats[d + j] += part[at + d + j] + delta * delta * w;
            }
            na += nb;
        }
    }

    static NormGrads batchNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.BATCHNORM, dOut, cache, gamma);
        int n = dOut.shape().dim(0);
        int d = dOut.shape().dim(1);
        XhatSource src = xhatSource("batchnorm.backward", cache, d);
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        // x̂ = ((x − hi) − lo)·rs is not formed: per feature only hi is applied to x in the loops, and lo and rs are
        // folded into the sums and the coefficients (fewer per-feature arrays in L1 than a separate x̂ loop needs)
        double[] part = columnGradSums(be, dOut, src);
        CpuTensor dX = columnsDx(be, dOut, src, g, rstd, part, n, cache.mode());
        return new NormGrads(dX, be.fromDoubles(part, d, Shape.of(d)), be.fromDoubles(part, 0, Shape.of(d)));
    }

    /**
     * Step 1 of the backward of [N,D]: Σ_N dOut (dβ) at [0, D) and Σ_N dOut·x̂ (dγ) at [D, 2D) of the returned
     * scratch array. Σ dOut and Σ dOut·(x − hi) in one pass, per chunk, then in chunk order; then
     * Σ_N dOut·x̂ = rs·(Σ dOut·(x − hi) − lo·Σ dOut).
     */
    private static double[] columnGradSums(CpuBackend be, Tensor dOut, XhatSource src) {
        int n = dOut.shape().dim(0);
        int d = dOut.shape().dim(1);
        float[] dy = CpuBackend.data(dOut);
        float[] xs = src.x();
        CpuScratch scratch = CpuScratch.get();
        int rb = rowsPerBlock(d);
        float[] hi = repeated(src.hi(), d, rb, scratch.floats(HI, rb * d));
        float[] lo = src.lo();
        float[] rs = src.rs();
        int chunks = CpuSizes.partialChunks(n, d, 2L * d);
        double[] part = scratch.doubles(PART, CpuSizes.length("batchnorm.backward", dOut.shape(),
                "2·D doubles of column partials", 2L * chunks * d));
        boolean vector = be.vectorApi();
        CpuParallel.forChunks(chunks, n,
                (k, from, to) -> columnDyAndDyXc(dy, xs, hi, d, from, to, part, k * 2 * d, vector));
        for (int k = 1; k < chunks; k++) {
            for (int j = 0, at = k * 2 * d; j < 2 * d; j++) {
                part[j] += part[at + j];
            }
        }
        for (int j = 0; j < d; j++) {
            part[d + j] = rs[j] * (part[d + j] - lo[j] * part[j]);
        }
        return part;
    }

    /**
     * Step 2 of the backward of [N,D]: dX from the sums (Σ dOut at sums[0, D), Σ dOut·x̂ at sums[D, 2D)) over
     * {@code m} rows (this batch's N, or a whole distributed batch's count).
     */
    private static CpuTensor columnsDx(CpuBackend be, Tensor dOut, XhatSource src, float[] g, float[] rstd,
                                       double[] part, long m, Mode mode) {
        int n = dOut.shape().dim(0);
        int d = dOut.shape().dim(1);
        float[] dy = CpuBackend.data(dOut);
        float[] xs = src.x();
        CpuScratch scratch = CpuScratch.get();
        int rb = rowsPerBlock(d);
        float[] hi = repeated(src.hi(), d, rb, scratch.floats(HI, rb * d));
        float[] lo = src.lo();
        float[] rs = src.rs();
        boolean vector = be.vectorApi();
        // step 2: dX. TRAIN: (γ·rstd/N)·(N·dOut − Σdout − x̂·Σ(dout·x̂)); EVAL: μ and rstd are constants, γ·rstd·dOut;
        // as a·dOut − (b + c·x̂) = a·dOut − ((b − c·rs·lo) + (c·rs)·(x − hi))
        float[] ca = scratch.floats(CA, rb * d);
        float[] cb = scratch.floats(CB, rb * d);
        float[] cc = scratch.floats(CC, rb * d);
        batchNormCoefficients(g, rstd, part, 0, d, m, mode, ca, cb, cc);
        for (int j = 0; j < d; j++) {
            double cr = (double) cc[j] * rs[j];
            cb[j] = (float) (cb[j] - cr * lo[j]);
            cc[j] = (float) cr;
        }
        repeated(ca, d, rb, ca);
        repeated(cb, d, rb, cb);
        repeated(cc, d, rb, cc);
        CpuTensor dX = be.allocate(dOut.shape());
        float[] dx = dX.data();
        CpuParallel.forRows(n, d, (k, from, to) -> {
            if (vector) {
                for (int row = from; row < to; row++) {
                    CpuVector.batchNormRowDx(dy, xs, dx, row * d, d, hi, ca, cb, cc);
                }
                return;
            }
            CpuScratch s = CpuScratch.get();
            float[] t = s.floats(ROW_T, rb * d);
            float[] u = s.floats(ROW_U, rb * d);
            for (int row = from; row < to; row += rb) {
                int off = row * d;
                int len = Math.min(rb, to - row) * d;
                System.arraycopy(dy, off, t, 0, len);
                System.arraycopy(xs, off, u, 0, len);
                CpuLoops.dx(t, u, hi, ca, cb, cc, len);
                System.arraycopy(t, 0, dx, off, len);
            }
        });
        return dX;
    }

    /**
     * Σ dOut and Σ dOut·(x − hi) over rows [from, to) into part[at, at+D) and part[at+D, at+2D), hi per feature;
     * float blocks, double sums.
     */
    private static void columnDyAndDyXc(float[] dy, float[] xs, float[] hi, int d, int from, int to, double[] part,
                                        int at, boolean vector) {
        CpuScratch s = CpuScratch.get();
        float[] t = s.floats(ROW_T, d);
        float[] u = s.floats(ROW_U, d);
        float[] s1 = s.zeroedFloats(ACC_1, d);
        float[] s2 = s.zeroedFloats(ACC_2, d);
        java.util.Arrays.fill(part, at, at + 2 * d, 0.0);
        for (int row = from; row < to; row++) {
            if (vector) {
                CpuVector.addDyAndShiftedProducts(dy, xs, row * d, hi, s1, s2, d);
            } else {
                System.arraycopy(dy, row * d, t, 0, d);
                System.arraycopy(xs, row * d, u, 0, d);
                CpuLoops.addTo(s1, t, d);
                CpuLoops.addShiftedProductsTo(s2, t, u, hi, d);
            }
            if ((row - from + 1) % BLOCK_ROWS == 0 || row == to - 1) {
                CpuLoops.flush(part, at, s1, d);
                CpuLoops.flush(part, at + d, s2, d);
                java.util.Arrays.fill(s1, 0, d, 0f);
                java.util.Arrays.fill(s2, 0, d, 0f);
            }
        }
    }

    // ================================================================ spatial batchnorm [N,C,H,W]

    static NormResult spatialBatchNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta,
                                              Tensor runningMean, Tensor runningVar, BatchNormParams p, Mode mode) {
        Contracts.spatialBatchNormForward(be, x, gamma, beta, runningMean, runningVar, p, mode);
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        long m = (long) n * sp;
        float[] xs = CpuBackend.data(x);
        CpuScratch scratch = CpuScratch.get();
        String op = "spatial_batchnorm.forward";
        // mean, variance, rstd per channel
        double[] stats = scratch.doubles(STATS, CpuSizes.length(op, s, "3·C doubles of statistics", 3L * c));
        if (mode == Mode.TRAIN) {
            // steps 1 and 2: mean and M2 per channel; statistics beyond what the float sweeps hold are computed
            // again in double
            slabMoments(be, x, op, stats);
            boolean wide = false;
            for (int ch = 0; ch < c; ch++) {
                wide |= !CpuWideNorm.fits(stats[ch], stats[c + ch], m);
                stats[c + ch] /= m;
                stats[2 * c + ch] = 1.0 / Math.sqrt(stats[c + ch] + p.eps());
            }
            if (wide) {
                return CpuWideNorm.forward(be, NormKind.SPATIAL_BATCHNORM, x, gamma, beta, 1, p.eps(), runningMean,
                        runningVar, p);
            }
            // step 3: running statistics in place
            updateRunning(runningMean, runningVar, stats, c, m, p);
        } else {
            // EVAL: the running statistics stand in for the batch's
            runningAsStats(runningMean, runningVar, stats, c, p.eps());
        }
        return slabsApply(be, x, gamma, beta, stats, mode);
    }

    /**
     * Steps 1 and 2 of the TRAIN statistics of x [N,C,H,W]: per channel mean into stats[0, C) and M2 into
     * stats[C, 2C). Step 1: mean and M2 of every slab, one pass each (parallel over slabs). Step 2: per channel, its
     * N slabs merged in order of n (Chan, equal counts S).
     */
    private static void slabMoments(CpuBackend be, Tensor x, String op, double[] stats) {
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        float[] xs = CpuBackend.data(x);
        double[] slab = CpuScratch.get().doubles(PART, CpuSizes.length(op, s, "2·N·C doubles of slab statistics",
                2L * n * c));
        boolean vector = be.vectorApi();
        CpuParallel.forRows(n * c, sp, (k, from, to) -> {
            for (int sl = from; sl < to; sl++) {
                runStats(vector, xs, sl * sp, sp, slab, 2 * sl);
            }
        });
        for (int ch = 0; ch < c; ch++) {
            double mean = slab[2 * ch];
            double m2 = slab[2 * ch + 1];
            for (int i = 1; i < n; i++) {
                int at = 2 * (i * c + ch);
                double delta = slab[at] - mean;
                mean += delta / (i + 1);
                m2 += slab[at + 1] + delta * delta * ((double) i * sp / (i + 1));
            }
            stats[ch] = mean;
            stats[c + ch] = m2;
        }
    }

    /** Step 4 of the forward of x [N,C,H,W] with mean at stats[0, C) and rstd at stats[2C, 3C); the cache keeps x. */
    private static NormResult slabsApply(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, double[] stats,
                                         Mode mode) {
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        float[] xs = CpuBackend.data(x);
        CpuScratch scratch = CpuScratch.get();
        // step 4: y = γ·x̂ + β, slab by slab (the constants are scalars within a slab); the cache keeps x, not x̂
        float[] hi = scratch.floats(HI, c);
        float[] lo = scratch.floats(LO, c);
        float[] rs = scratch.floats(RS, c);
        split(stats, 0, 2 * c, c, hi, lo, rs);
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor out = be.allocate(s);
        float[] y = out.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(n * c, sp, (k, from, to) -> {
            for (int slab = from; slab < to; slab++) {
                int ch = slab % c;
                int off = slab * sp;
                normalizeAffine(vector, xs, y, off, off + sp, hi[ch], lo[ch], rs[ch], g[ch], b[ch]);
            }
        });
        NormCache cache = NormCache.recomputing(NormKind.SPATIAL_BATCHNORM, mode, 1, saved(be, x, lo, Shape.of(c)),
                be.fromDoubles(stats, 0, Shape.of(c)), be.fromDoubles(stats, 2 * c, Shape.of(c)));
        return new NormResult(out, cache);
    }

    static NormGrads spatialBatchNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.SPATIAL_BATCHNORM, dOut, cache, gamma);
        Shape s = dOut.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        long m = (long) n * sp;
        XhatSource src = xhatSource("spatial_batchnorm.backward", cache, c);
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        double[] sums = slabGradSums(be, dOut, src);
        CpuTensor dX = slabsDx(be, dOut, src, g, rstd, sums, m, cache.mode());
        return new NormGrads(dX, be.fromDoubles(sums, c, Shape.of(c)), be.fromDoubles(sums, 0, Shape.of(c)));
    }

    /**
     * Step 1 of the backward of [N,C,H,W]: Σ dOut at [0, C) and Σ dOut·x̂ at [C, 2C) of the returned scratch array:
     * both sums of every slab in one pass, then per channel in order of n.
     */
    private static double[] slabGradSums(CpuBackend be, Tensor dOut, XhatSource src) {
        Shape s = dOut.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        float[] dy = CpuBackend.data(dOut);
        CpuScratch scratch = CpuScratch.get();
        double[] slab = scratch.doubles(PART, CpuSizes.length("spatial_batchnorm.backward", s,
                "2·N·C doubles of slab sums", 2L * n * c));
        slabDyAndDyXhat(dy, src, n * c, sp, sl -> sl % c, slab, be.vectorApi());
        double[] sums = scratch.zeroedDoubles(STATS, 2 * c); // Σdy [0,C), Σdy·x̂ [C,2C)
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                sums[ch] += slab[2 * (i * c + ch)];
                sums[c + ch] += slab[2 * (i * c + ch) + 1];
            }
        }
        return sums;
    }

    /** Step 2 of the backward of [N,C,H,W]: dX from the sums as {@link #slabGradSums} lays them out, over m values. */
    private static CpuTensor slabsDx(CpuBackend be, Tensor dOut, XhatSource src, float[] g, float[] rstd,
                                     double[] sums, long m, Mode mode) {
        Shape s = dOut.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        float[] dy = CpuBackend.data(dOut);
        CpuScratch scratch = CpuScratch.get();
        // step 2: dX as for batchnorm with M = N·S in place of N, scalar coefficients per slab
        float[] ca = scratch.floats(CA, c);
        float[] cb = scratch.floats(CB, c);
        float[] cc = scratch.floats(CC, c);
        batchNormCoefficients(g, rstd, sums, 0, c, m, mode, ca, cb, cc);
        CpuTensor dX = be.allocate(s);
        float[] dx = dX.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(n * c, sp, (k, from, to) -> {
            for (int sl = from; sl < to; sl++) {
                int ch = sl % c;
                dx(vector, dy, src, dx, sl * sp, (sl + 1) * sp, ca[ch], cb[ch], cc[ch], ch);
            }
        });
        return dX;
    }

    // ================================================================ batchnorm in parts (both layouts)

    /** Count, mean and M2 per channel of x [N,D] or [N,C,H,W]: the TRAIN forward's steps 1 and 2. */
    static BatchNormStats localStats(CpuBackend be, Tensor x, boolean spatial) {
        Contracts.batchNormLocalStats(be, x, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".local_stats";
        Shape s = x.shape();
        int c = s.dim(1);
        long m = spatial ? (long) s.dim(0) * s.dim(2) * s.dim(3) : s.dim(0);
        double[] stats = CpuScratch.get().doubles(STATS, CpuSizes.length(op, s, "3·C doubles of statistics",
                3L * c));
        if (spatial) {
            slabMoments(be, x, op, stats);
        } else {
            columnMoments(be, x, op, stats);
        }
        for (int ch = 0; ch < c; ch++) {
            if (!CpuWideNorm.fits(stats[ch], stats[c + ch], m)) {
                // beyond what the float sweeps hold: two passes in double
                return CpuWideNorm.moments(x, spatial);
            }
        }
        return new BatchNormStats(m, java.util.Arrays.copyOfRange(stats, 0, c),
                java.util.Arrays.copyOfRange(stats, c, 2 * c));
    }

    /** The forward's step 4 with given statistics; the cache is a TRAIN one. */
    static NormResult normalize(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd,
                                boolean spatial) {
        Contracts.batchNormNormalize(be, x, gamma, beta, mean, invstd, spatial);
        int c = x.shape().dim(1);
        for (int ch = 0; ch < c; ch++) {
            // a variance at or beyond the wide bound (or a mean beyond the float range): x̂ in double
            double var = 1 / (invstd[ch] * invstd[ch]);
            if (!Double.isFinite(mean[ch]) || Math.abs(mean[ch]) > Float.MAX_VALUE
                    || !(var < CpuWideNorm.WIDE_VARIANCE)) {
                return CpuWideNorm.normalize(be, x, gamma, beta, mean, invstd, spatial);
            }
        }
        double[] stats = CpuScratch.get().doubles(STATS, 3 * c);
        System.arraycopy(mean, 0, stats, 0, c);
        System.arraycopy(invstd, 0, stats, 2 * c, c);
        return spatial ? slabsApply(be, x, gamma, beta, stats, Mode.TRAIN)
                : columnsApply(be, x, gamma, beta, stats, Mode.TRAIN);
    }

    /** The backward's step 1: Σ dOut and Σ dOut·x̂ per channel. */
    static BatchNormGradSums backwardReduce(CpuBackend be, Tensor dOut, NormCache cache, boolean spatial) {
        Contracts.batchNormBackwardReduce(be, dOut, cache, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".backward_reduce";
        int c = dOut.shape().dim(1);
        XhatSource src = xhatSource(op, cache, c);
        double[] sums = spatial ? slabGradSums(be, dOut, src) : columnGradSums(be, dOut, src);
        return new BatchNormGradSums(java.util.Arrays.copyOfRange(sums, 0, c),
                java.util.Arrays.copyOfRange(sums, c, 2 * c));
    }

    /** The backward's step 2 with the whole batch's sums and count. */
    static Tensor backwardElementwise(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma,
                                      BatchNormGradSums global, long count, boolean spatial) {
        Contracts.batchNormBackwardElementwise(be, dOut, cache, gamma, global, count, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".backward_elementwise";
        int c = dOut.shape().dim(1);
        XhatSource src = xhatSource(op, cache, c);
        double[] sums = global.toArray();
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        return spatial ? slabsDx(be, dOut, src, g, rstd, sums, count, Mode.TRAIN)
                : columnsDx(be, dOut, src, g, rstd, sums, count, Mode.TRAIN);
    }

    // ================================================================ layernorm [N,D]

    static NormResult layerNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, float eps) {
        Contracts.layerNormForward(be, x, gamma, beta, eps);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor out = be.allocate(x.shape());
        CpuTensor meanT = be.allocate(Shape.of(n));
        CpuTensor rstdT = be.allocate(Shape.of(n));
        CpuTensor loT = be.allocate(Shape.of(n));
        float[] y = out.data();
        float[] means = meanT.data();
        float[] rstds = rstdT.data();
        float[] los = loT.data();
        boolean vector = be.vectorApi();
        java.util.concurrent.atomic.AtomicBoolean wide = new java.util.concurrent.atomic.AtomicBoolean();
        CpuParallel.forRows(n, d, (k, from, to) -> {
            CpuScratch s = CpuScratch.get();
            float[] t = s.floats(ROW_T, d);
            double[] st = s.doubles(0, 2);
            for (int row = from; row < to; row++) {
                int off = row * d;
                // step 1: mean and M2 over D: read in place (Vector API), or the row staged in L1 (one pass over
                // memory either way)
                if (vector) {
                    CpuVector.runStats(xs, off, d, st, 0);
                } else {
                    System.arraycopy(xs, off, t, 0, d);
                    stagedStats(t, d, st);
                }
                double mean = st[0];
                double rstd = 1.0 / Math.sqrt(st[1] / d + eps);
                if (!CpuWideNorm.fits(mean, st[1], d)) {
                    wide.set(true); // beyond what the float sweeps hold: the whole op again in double, below
                }
                // step 2: x̂ = ((x − hi) − lo)·rstd with μ = hi + lo
                float hi = (float) mean;
                float lo = (float) (mean - hi);
                // step 3: y = γ·x̂ + β in the same loop (x̂ is not written: the cache keeps x and lo, and backward
                // recomputes it)
                if (vector) {
                    CpuVector.normalizeAffine(xs, y, off, d, hi, lo, (float) rstd, g, b);
                } else {
                    CpuLoops.normalizeAffine(t, hi, lo, (float) rstd, g, b, d);
                    System.arraycopy(t, 0, y, off, d);
                }
                means[row] = hi;
                los[row] = lo;
                rstds[row] = (float) rstd;
            }
        });
        if (wide.get()) {
            closeAll(out, meanT, rstdT, loT);
            return CpuWideNorm.forward(be, NormKind.LAYERNORM, x, gamma, beta, 1, eps, null, null, null);
        }
        return new NormResult(out, NormCache.recomputing(NormKind.LAYERNORM, Mode.TRAIN, 1,
                new CpuSavedInput(be, (CpuTensor) x, loT), meanT, rstdT));
    }

    static NormGrads layerNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.LAYERNORM, dOut, cache, gamma);
        int n = dOut.shape().dim(0);
        int d = dOut.shape().dim(1);
        float[] dy = CpuBackend.data(dOut);
        XhatSource src = xhatSource("layernorm.backward", cache, n);
        float[] xs = src.x();
        float[] hi = src.hi();
        float[] lo = src.lo();
        float[] rs = src.rs();
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        CpuTensor dX = be.allocate(dOut.shape());
        float[] dx = dX.data();
        // one pass: per row x̂ = ((x − hi) − lo)·rstd re-formed from x, dX, and per chunk the column sums
        // dβ = Σ_N dOut, dγ = Σ_N dOut·x̂
        boolean vector = be.vectorApi();
        int chunks = CpuSizes.partialChunks(n, d, 2L * d);
        double[] part = CpuScratch.get().doubles(PART, CpuSizes.length("layernorm.backward", dOut.shape(),
                "2·D doubles of column partials", 2L * chunks * d));
        CpuParallel.forChunks(chunks, n, (k, from, to) -> {
            CpuScratch s = CpuScratch.get();
            float[] t = s.floats(ROW_T, d);
            float[] u = s.floats(ROW_U, d);
            float[] v = s.floats(ROW_V, d);
            float[] w = s.floats(ROW_W, d);
            float[] s1 = s.zeroedFloats(ACC_1, d);
            float[] s2 = s.zeroedFloats(ACC_2, d);
            int at = k * 2 * d;
            java.util.Arrays.fill(part, at, at + 2 * d, 0.0);
            double[] st = s.doubles(0, 2);
            for (int row = from; row < to; row++) {
                int off = row * d;
                // steps 1–2: this row's share of dβ and dγ (float block, flushed into double), and with g = dOut·γ
                // the row's Σ_D g and Σ_D g·x̂ — read in place (Vector API), or through L1 buffers
                double sumG;
                double sumGXhat;
                if (vector) {
                    CpuVector.layerNormRowSums(dy, xs, off, d, hi[row], lo[row], rs[row], g, s1, s2, st);
                    sumG = st[0];
                    sumGXhat = st[1];
                } else {
                    System.arraycopy(dy, off, t, 0, d);
                    System.arraycopy(xs, off, u, 0, d);
                    CpuLoops.normalize(u, hi[row], lo[row], rs[row], d);
                    CpuLoops.addTo(s1, t, d);
                    CpuLoops.addProductsTo(s2, t, u, d);
                    if (CpuLoops.fused(d)) {
                        // the products inside the folds: two loops instead of four (bit-identical)
                        sumG = CpuLoops.sumProducts(t, g, w, d);
                        sumGXhat = CpuLoops.sumProducts(t, g, u, v, d);
                    } else {
                        // g in w (t keeps dOut); the folds consume w and v
                        CpuLoops.product(w, t, g, d);
                        CpuLoops.product(v, w, u, d);
                        sumG = CpuLoops.sum(w, d);
                        sumGXhat = CpuLoops.sum(v, d);
                    }
                }
                if ((row - from + 1) % BLOCK_ROWS == 0 || row == to - 1) {
                    CpuLoops.flush(part, at, s1, d);
                    CpuLoops.flush(part, at + d, s2, d);
                    java.util.Arrays.fill(s1, 0, d, 0f);
                    java.util.Arrays.fill(s2, 0, d, 0f);
                }
                // step 3: dX = rstd·g − (rstd/D)·(Σg + x̂·Σ(g·x̂)) = a·(γ·dOut) − (b + c·x̂)
                float a = rstd[row];
                float bb = (float) (rstd[row] * sumG / d);
                float cc = (float) (rstd[row] * sumGXhat / d);
                if (vector) {
                    CpuVector.layerNormRowDx(dy, xs, dx, off, d, hi[row], lo[row], rs[row], g, a, bb, cc);
                } else {
                    CpuLoops.dx(t, g, u, a, bb, cc, d);
                    System.arraycopy(t, 0, dx, off, d);
                }
            }
        });
        for (int k = 1; k < chunks; k++) {
            for (int j = 0, at = k * 2 * d; j < 2 * d; j++) {
                part[j] += part[at + j];
            }
        }
        return new NormGrads(dX, be.fromDoubles(part, d, Shape.of(d)), be.fromDoubles(part, 0, Shape.of(d)));
    }

    // ================================================================ groupnorm [N,C,H,W]

    static NormResult groupNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        Contracts.groupNormForward(be, x, gamma, beta, groups, eps);
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        int cpg = c / groups;          // channels per group
        int len = cpg * sp;            // M: elements of one (n, group) segment, contiguous
        float[] xs = CpuBackend.data(x);
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor out = be.allocate(s);
        CpuTensor meanT = be.allocate(Shape.of(n, groups));
        CpuTensor rstdT = be.allocate(Shape.of(n, groups));
        CpuTensor loT = be.allocate(Shape.of(n, groups));
        float[] y = out.data();
        float[] means = meanT.data();
        float[] rstds = rstdT.data();
        float[] los = loT.data();
        boolean vector = be.vectorApi();
        java.util.concurrent.atomic.AtomicBoolean wide = new java.util.concurrent.atomic.AtomicBoolean();
        CpuParallel.forRows(n * groups, len, (k, from, to) -> {
            double[] st = CpuScratch.get().doubles(0, 2);
            for (int seg = from; seg < to; seg++) {
                int off = seg * len;
                // step 1: mean and M2 over the segment, one pass over memory
                runStats(vector, xs, off, len, st, 0);
                double mean = st[0];
                double rstd = 1.0 / Math.sqrt(st[1] / len + eps);
                if (!CpuWideNorm.fits(mean, st[1], len)) {
                    wide.set(true); // beyond what the float sweeps hold: the whole op again in double, below
                }
                // step 2: y = γ[c]·x̂ + β[c] channel by channel, x̂ = ((x − hi) − lo)·rstd with μ = hi + lo formed on
                // the way (not written: the cache keeps x and lo, and backward recomputes it)
                float hi = (float) mean;
                float lo = (float) (mean - hi);
                float rs = (float) rstd;
                int c0 = (seg % groups) * cpg;
                for (int cc = 0; cc < cpg; cc++) {
                    int from2 = off + cc * sp;
                    normalizeAffine(vector, xs, y, from2, from2 + sp, hi, lo, rs, g[c0 + cc], b[c0 + cc]);
                }
                means[seg] = hi;
                los[seg] = lo;
                rstds[seg] = rs;
            }
        });
        if (wide.get()) {
            closeAll(out, meanT, rstdT, loT);
            return CpuWideNorm.forward(be, NormKind.GROUPNORM, x, gamma, beta, groups, eps, null, null, null);
        }
        return new NormResult(out, NormCache.recomputing(NormKind.GROUPNORM, Mode.TRAIN, groups,
                new CpuSavedInput(be, (CpuTensor) x, loT), meanT, rstdT));
    }

    static NormGrads groupNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.GROUPNORM, dOut, cache, gamma);
        Shape s = dOut.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int groups = cache.groups();
        if (groups < 1 || c % groups != 0 || !cache.rstd().shape().equals(Shape.of(n, groups))) {
            throw Contracts.bad("groupnorm.backward", "cache", "groups dividing C = " + c + " and rstd of shape ["
                    + n + "," + groups + "]", "groups = " + groups + ", rstd of shape " + cache.rstd().shape());
        }
        int sp = s.dim(2) * s.dim(3);
        int cpg = c / groups;
        int len = cpg * sp;
        float[] dy = CpuBackend.data(dOut);
        XhatSource src = xhatSource("groupnorm.backward", cache, n * groups);
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        CpuScratch scratch = CpuScratch.get();
        // step 1: Σ dOut and Σ dOut·x̂ of every slab, in one pass (x̂ with the constants of the slab's segment)
        double[] slab = scratch.doubles(PART, CpuSizes.length("groupnorm.backward", s, "2·N·C doubles of slab sums",
                2L * n * c));
        slabDyAndDyXhat(dy, src, n * c, sp, sl -> (sl / c) * groups + (sl % c) / cpg, slab, be.vectorApi());
        // step 2: dβ[c], dγ[c]: the slab sums over n, in order
        double[] sums = scratch.zeroedDoubles(STATS, 2 * c);
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                sums[ch] += slab[2 * (i * c + ch)];
                sums[c + ch] += slab[2 * (i * c + ch) + 1];
            }
        }
        // step 3: per segment, with g = dOut·γ[c]: Σg = Σ_c γ[c]·Σdy and Σg·x̂ = Σ_c γ[c]·Σdy·x̂ over its slabs;
        // dX = rstd·g − (rstd/M)·(Σg + x̂·Σ(g·x̂)), per slab a·dy − (b + c·x̂) with a = rstd·γ[c]
        float[] ca = scratch.floats(CA, n * c);
        float[] cb = scratch.floats(CB, n * groups);
        float[] cx = scratch.floats(CC, n * groups);
        for (int seg = 0; seg < n * groups; seg++) {
            int i = seg / groups;
            int c0 = (seg % groups) * cpg;
            double sumG = 0;
            double sumGXhat = 0;
            for (int cc = 0; cc < cpg; cc++) {
                int at = 2 * (i * c + c0 + cc);
                sumG += g[c0 + cc] * slab[at];
                sumGXhat += g[c0 + cc] * slab[at + 1];
                ca[i * c + c0 + cc] = (float) ((double) rstd[seg] * g[c0 + cc]);
            }
            cb[seg] = (float) (rstd[seg] * sumG / len);
            cx[seg] = (float) (rstd[seg] * sumGXhat / len);
        }
        CpuTensor dX = be.allocate(s);
        float[] dx = dX.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(n * c, sp, (k, from, to) -> {
            for (int sl = from; sl < to; sl++) {
                int seg = (sl / c) * groups + (sl % c) / cpg;
                dx(vector, dy, src, dx, sl * sp, (sl + 1) * sp, ca[sl], cb[seg], cx[seg], seg);
            }
        });
        return new NormGrads(dX, be.fromDoubles(sums, c, Shape.of(c)), be.fromDoubles(sums, 0, Shape.of(c)));
    }

    // ================================================================ x̂ from the cache

    /**
     * Where a backward reads x̂ from: x̂ = ((x − hi) − lo)·rs with the constants of each statistic (hi the cache's float
     * mean, rs its float rstd, lo the mean's float tail), the same float operations as the forward's, so the
     * recomputed x̂ is bit-identical to the one the forward used.
     */
    private record XhatSource(float[] x, float[] hi, float[] lo, float[] rs) {
    }

    /**
     * The x̂ source of a cache with {@code stats} statistics: the kept input (checked unchanged since the forward), or
     * for a cache that stores x̂ (one built by hand) x̂ itself with the constants 0, 0, 1, which reproduce it exactly.
     */
    private static XhatSource xhatSource(String op, NormCache cache, int stats) {
        if (cache.savedInput() instanceof CpuSavedInput saved) {
            return new XhatSource(saved.input(op), CpuBackend.data(cache.mean()), saved.lo(),
                    CpuBackend.data(cache.rstd()));
        }
        CpuScratch s = CpuScratch.get();
        float[] ones = s.floats(ID_RS, stats);
        java.util.Arrays.fill(ones, 0, stats, 1f);
        float[] zeros = s.zeroedFloats(ID_ZERO, stats);
        return new XhatSource(CpuBackend.data(cache.xhat()), zeros, zeros, ones);
    }

    /** A cache's kept input: pins x, and keeps lo[0, k) (the mean's float tails) in a new tensor of shape statShape. */
    private static CpuSavedInput saved(CpuBackend be, Tensor x, float[] lo, Shape statShape) {
        CpuTensor loT = be.allocate(statShape);
        System.arraycopy(lo, 0, loT.data(), 0, statShape.size());
        return new CpuSavedInput(be, (CpuTensor) x, loT);
    }

    /** x̂ of a cache that keeps its input, as a new tensor: the forward's float operations, recomputed. */
    static Tensor normalized(CpuBackend be, NormCache cache, CpuSavedInput saved) {
        Shape s = saved.shape();
        float[] xs = saved.input(cache.kind().id() + ".xhat");
        float[] hi = CpuBackend.data(cache.mean());
        float[] lo = saved.lo();
        float[] rs = CpuBackend.data(cache.rstd());
        CpuTensor xhat = be.allocate(s);
        float[] xh = xhat.data();
        if (cache.kind() == NormKind.BATCHNORM) {
            // per feature j of each row
            int d = s.dim(1);
            for (int off = 0; off < xs.length; off += d) {
                for (int j = 0; j < d; j++) {
                    xh[off + j] = ((xs[off + j] - hi[j]) - lo[j]) * rs[j];
                }
            }
            return xhat;
        }
        // runs of contiguous values sharing a statistic: a slab of a channel, a row, a (n, group) segment
        int run = switch (cache.kind()) {
            case SPATIAL_BATCHNORM -> s.dim(2) * s.dim(3);
            case LAYERNORM -> s.dim(1);
            default -> s.dim(1) / cache.groups() * s.dim(2) * s.dim(3);
        };
        int c = cache.kind() == NormKind.SPATIAL_BATCHNORM ? s.dim(1) : Integer.MAX_VALUE;
        for (int r = 0, runs = xs.length / Math.max(1, run); r < runs; r++) {
            int st = r % c;
            CpuLoops.normalize(xs, xh, r * run, (r + 1) * run, hi[st], lo[st], rs[st]);
        }
        return xhat;
    }

    // ================================================================ shared helpers

    /** Closes results a forward no longer returns. */
    private static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            t.close();
        }
    }

    /** Mean and M2 of xs[off, off+len) into out[at], out[at+1]: {@link CpuVector#runStats} or the staged loops. */
    private static void runStats(boolean vector, float[] xs, int off, int len, double[] out, int at) {
        if (vector) {
            CpuVector.runStats(xs, off, len, out, at);
        } else {
            runStats(xs, off, len, out, at);
        }
    }

    /** y[i] = g·(((x[i] − hi) − lo)·rs) + b over one run [from, to), on the Vector API or the loops. */
    private static void normalizeAffine(boolean vector, float[] xs, float[] y, int from, int to, float hi, float lo,
                                        float rs, float g, float b) {
        if (vector) {
            CpuVector.normalizeAffine(xs, y, from, to, hi, lo, rs, g, b);
        } else {
            CpuLoops.normalizeAffine(xs, y, from, to, hi, lo, rs, g, b);
        }
    }

    /** dX = a·dOut − (b + c·x̂) over one run [from, to), x̂ re-formed with the constants of statistic st. */
    private static void dx(boolean vector, float[] dy, XhatSource src, float[] dx, int from, int to, float a, float b,
                           float c, int st) {
        if (vector) {
            CpuVector.dx(dy, src.x(), dx, from, to, a, b, c, src.hi()[st], src.lo()[st], src.rs()[st]);
        } else {
            CpuLoops.dx(dy, src.x(), dx, from, to, a, b, c, src.hi()[st], src.lo()[st], src.rs()[st]);
        }
    }

    /**
     * Mean and M2 = Σ(x − mean)² of the run xs[off, off+len), into out[at] and out[at+1]: one pass over memory.
     * Blocks of up to {@link #STATS_BLOCK} values are staged in L1 and measured by {@link #stagedStats}; the blocks'
     * (count, mean, M2) are merged with Chan's formula.
     */
    static void runStats(float[] xs, int off, int len, double[] out, int at) {
        CpuScratch s = CpuScratch.get();
        float[] t = s.floats(STAT_T, Math.min(len, STATS_BLOCK));
        double[] st = s.doubles(1, 2);
        double count = 0;
        double mean = 0;
        double m2 = 0;
        for (int b0 = off, end = off + len; b0 < end; b0 += STATS_BLOCK) {
            int lb = Math.min(STATS_BLOCK, end - b0);
            System.arraycopy(xs, b0, t, 0, lb);
            stagedStats(t, lb, st);
            if (count == 0) {
                mean = st[0];
                m2 = st[1];
            } else {
                double delta = st[0] - mean;
                double total = count + lb;
                mean += delta * lb / total;
                m2 += st[1] + delta * delta * count * lb / total;
            }
            count += lb;
        }
        out[at] = mean;
        out[at + 1] = m2;
    }

    /**
     * Mean and M2 of t[0, len) (left unchanged) into out[0], out[1]. Step 1: Σu and Σu² of u = t − c around the shift
     * c = t[0], in float lanes finished in double; mean = c + Σu/len and M2 = Σu² − (Σu)²/len. That subtraction is
     * exact enough while c lies within a few standard deviations of the mean (the float error of Σu² is relative to
     * M2 + len·(mean − c)²), so step 2, taken only when (mean − c)² exceeds 4 variances, repeats step 1 around
     * c = the float mean: then mean − c is at most an ulp of the mean and M2 is as good as two-pass.
     */
    static void stagedStats(float[] t, int len, double[] out) {
        CpuScratch s = CpuScratch.get();
        float[] v = s.floats(STAT_V, len);
        float[] w = s.floats(STAT_W, len);
        float c = t[0];
        for (int attempt = 0; ; attempt++) {
            double su;
            double suu;
            if (CpuLoops.fused(len)) {
                // the shift and the square inside the folds: two loops instead of four (bit-identical)
                su = CpuLoops.sumShifted(t, c, v, len);
                suu = CpuLoops.sumShiftedSquares(t, c, w, len);
            } else {
                CpuLoops.shifted(v, t, c, len);
                CpuLoops.squared(w, v, len);
                su = CpuLoops.sum(v, len);
                suu = CpuLoops.sum(w, len);
            }
            double shiftSq = su * su / len;      // len·(mean − c)²
            double m2 = Math.max(0.0, suu - shiftSq);
            if (attempt == 0 && shiftSq > 4 * m2 && len > 1) {
                c = (float) (c + su / len);
                continue;
            }
            out[0] = c + su / len;
            out[1] = m2;
            return;
        }
    }

    /**
     * Per slab of {@code len} values: {Σ dOut, Σ dOut·x̂} into out[2·slab], out[2·slab + 1], parallel over slabs; x̂ is
     * formed in L1 from the source with the constants of statistic {@code statOf(slab)}.
     */
    private static void slabDyAndDyXhat(float[] dy, XhatSource src, int slabs, int len,
                                        java.util.function.IntUnaryOperator statOf, double[] out, boolean vector) {
        float[] xs = src.x();
        if (vector) {
            CpuParallel.forRows(slabs, len, (k, from, to) -> {
                for (int sl = from; sl < to; sl++) {
                    int st = statOf.applyAsInt(sl);
                    CpuVector.runDyAndDyXhat(dy, xs, sl * len, (sl + 1) * len, src.hi()[st], src.lo()[st],
                            src.rs()[st], out, 2 * sl);
                }
            });
            return;
        }
        CpuParallel.forRows(slabs, len, (k, from, to) -> {
            CpuScratch s = CpuScratch.get();
            int cap = Math.min(len, STATS_BLOCK);
            float[] t = s.floats(ROW_T, cap);
            float[] u = s.floats(ROW_U, cap);
            float[] v = s.floats(ROW_V, cap);
            for (int sl = from; sl < to; sl++) {
                int st = statOf.applyAsInt(sl);
                float hi = src.hi()[st];
                float lo = src.lo()[st];
                float rs = src.rs()[st];
                double sumDy = 0;
                double sumDyXhat = 0;
                for (int b0 = sl * len, end = b0 + len; b0 < end; b0 += STATS_BLOCK) {
                    int lb = Math.min(STATS_BLOCK, end - b0);
                    System.arraycopy(dy, b0, t, 0, lb);
                    System.arraycopy(xs, b0, u, 0, lb);
                    CpuLoops.normalize(u, hi, lo, rs, lb);
                    CpuLoops.product(v, t, u, lb);
                    sumDy += CpuLoops.sum(t, lb);
                    sumDyXhat += CpuLoops.sum(v, lb);
                }
                out[2 * sl] = sumDy;
                out[2 * sl + 1] = sumDyXhat;
            }
        });
    }

    /**
     * Rows per block of batchnorm's element-wise passes: enough that a block holds about 1 024 values, so that narrow
     * rows (D = 256 and less) do not pay a loop start-up per row; 1 for D ≥ 1 024.
     */
    static int rowsPerBlock(int d) {
        return Math.max(1, 1024 / Math.max(1, d));
    }

    /** dst[r·D + j] = src[j] for r &lt; rows (dst may be src, whose first D values are then repeated); returns dst. */
    static float[] repeated(float[] src, int d, int rows, float[] dst) {
        if (dst != src) {
            System.arraycopy(src, 0, dst, 0, d);
        }
        for (int r = 1; r < rows; r++) {
            System.arraycopy(dst, 0, dst, r * d, d);
        }
        return dst;
    }

    /**
     * The float constants of the x̂ pass from stats (mean at {@code meanAt}, rstd at {@code rstdAt}, {@code k} each):
     * the mean split as μ = hi + lo (hi = μ rounded to float, lo = the rest rounded to float) and rstd rounded to
     * float; x̂ = ((x − hi) − lo)·rstd.
     */
    private static void split(double[] stats, int meanAt, int rstdAt, int k, float[] hi, float[] lo, float[] rs) {
        for (int i = 0; i < k; i++) {
            double mu = stats[meanAt + i];
            hi[i] = (float) mu;
            lo[i] = (float) (mu - hi[i]);
            rs[i] = (float) stats[rstdAt + i];
        }
    }

    /**
     * Per-statistic float coefficients of dX = a·dOut − (b + c·x̂), formed in double from the double sums (Σdout at
     * sums[at, at+k), Σ(dout·x̂) at sums[at+k, at+2k)): TRAIN a = γ·rstd, b = γ·rstd·Σdout/M, c = γ·rstd·Σ(dout·x̂)/M
     * — the expanded (γ·rstd/M)·(M·dout − Σdout − x̂·Σ(dout·x̂)); EVAL a = γ·rstd, b = c = 0.
     */
    private static void batchNormCoefficients(float[] gamma, float[] rstd, double[] sums, int at, int k, long m,
                                              Mode mode, float[] a, float[] b, float[] c) {
        for (int j = 0; j < k; j++) {
            double gr = (double) gamma[j] * rstd[j];
            a[j] = (float) gr;
            b[j] = mode == Mode.TRAIN ? (float) (gr * sums[at + j] / m) : 0f;
            c[j] = mode == Mode.TRAIN ? (float) (gr * sums[at + k + j] / m) : 0f;
        }
    }

    /** EVAL statistics of (spatial) batch norm: mean = running mean, rstd = 1/√(running var + ε), per feature f. */
    private static void runningAsStats(Tensor runningMean, Tensor runningVar, double[] stats, int f, float eps) {
        float[] rm = CpuBackend.data(runningMean);
        float[] rv = CpuBackend.data(runningVar);
        for (int j = 0; j < f; j++) {
            stats[j] = rm[j];
            stats[2 * f + j] = 1.0 / Math.sqrt(rv[j] + eps);
        }
    }

    /**
     * r = decay·r + (1−decay)·batch (mean at stats[0, k), variance at stats[k, 2k)), the variance optionally unbiased.
     * Atomic per pair of running tensors (under the running mean's lock), so that TRAIN forwards on several threads
     * sharing running statistics lose no update (the {@link org.layerkit.api.Backend} thread-safety contract).
     */
    static void updateRunning(Tensor runningMean, Tensor runningVar, double[] stats, int k, long m,
                              BatchNormParams p) {
        synchronized (runningMean) {
            float[] rm = CpuBackend.written(runningMean);
            float[] rv = CpuBackend.written(runningVar);
            double decay = p.decay();
            double unbias = p.unbiasedRunningVar() ? (double) m / (m - 1) : 1.0;
            for (int j = 0; j < k; j++) {
                rm[j] = (float) (decay * rm[j] + (1 - decay) * stats[j]);
                rv[j] = (float) (decay * rv[j] + (1 - decay) * stats[k + j] * unbias);
            }
        }
    }
}
