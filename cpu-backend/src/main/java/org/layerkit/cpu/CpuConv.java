package org.layerkit.cpu;

import java.util.Arrays;
import org.layerkit.api.Contracts;
import org.layerkit.api.Conv2dCache;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * conv2d as im2col + GEMM (derivation in {@code docs/ops/conv2d.md}). Shape letters: x [N,C,H,W], w [F,C,KH,KW],
 * out [N,F,H',W']; K = C·KH·KW, the length of a window; an <em>output row</em> r = n·H' + i is the W' outputs
 * (n, ·, i, ·) of one sample and one output height.
 *
 * <p>The output rows are taken a block at a time, as many as keep the block's columns ({@code cols}, K × m with
 * m = rows·W') and its [F,m] product within {@link #BLOCK_FLOATS} — several samples of a small CNN's layer, part of
 * one sample of a large one — so the unfolded input is still in cache when the GEMM reads it, and the workspace is
 * bounded whatever the input (it comes from {@link CpuScratch} and is reused from call to call). Per block:
 * <pre>
 *   forward    cols[K,m]  = im2col(x, block)                      unfold, zero padding written as zeros
 *              outT[F,m]  = W[F,K] · cols                          GEMM (native BLAS, its own threads)
 *              out[n,f,i,·] = outT[f, ·] + bias[f]                  back to NCHW, adding the bias
 *   backward   cols, dOutT[F,m] = dOut gathered from NCHW           dB[f] += Σ dOutT[f,·] (in double)
 *              dWᵀ[K,F]  += cols · dOutTᵀ                           GEMM, accumulated over the blocks in order
 *              dcols[K,m] = Wᵀ · dOutT                              GEMM (only when dX is wanted)
 *              dX         += col2im(dcols)                          each column entry added back to its x
 * </pre>
 * The unfolding, folding and the NCHW copies run on both cores ({@link CpuParallel}); the GEMMs use BLAS's threads.
 * The backward unfolds x again rather than keeping the forward's columns: they are KH·KW·H'·W'/(H·W) times larger
 * than x (9 times for a 3×3 kernel at stride 1), so storing them would cost more memory traffic than recomputing
 * them from x, block by block in cache. The cache therefore keeps x itself ({@link CpuConvInput}: pinned,
 * version-checked).
 */
final class CpuConv {
    /**
     * Workspace budget of one block, in floats: its columns and its [F,m] product, (K + F) × m. 2¹⁹ (2 MiB, the L2 of
     * the development machine) and 2²⁰ measured alike and better than 2¹⁸ or 2²¹ for both layers of a small CNN
     * (best of many runs): about 12 800 columns for K = 9, F = 32 (the dW GEMM, a long reduction, wants many),
     * about 1 500 for K = 288, F = 64.
     */
    static final int BLOCK_FLOATS = 1 << 19;

    private CpuConv() {
    }

    /** The geometry of a checked call, with the blocking. All sizes fit an int once Contracts accepted the call. */
    record Geometry(int n, int c, int h, int w, int f, int kh, int kw, int sh, int sw, int ph, int pw, int oh,
                    int ow) {
        static Geometry of(String op, Shape x, Shape wt, Conv2dParams p) {
            Geometry g = new Geometry(x.dim(0), x.dim(1), x.dim(2), x.dim(3), wt.dim(0), wt.dim(2), wt.dim(3),
                    p.strideH(), p.strideW(), p.padH(), p.padW(), (int) p.outputHeight(x.dim(2), wt.dim(2)),
                    (int) p.outputWidth(x.dim(3), wt.dim(3)));
            long oneRow = (long) g.k() * g.ow();
            if (oneRow > Contracts.MAX_ELEMENTS) {
                throw Contracts.bad(op, "x", "C·KH·KW·W' <= 2^31-9 (the cpu backend unfolds at least one output row "
                        + "of the input at a time)", "C·KH·KW·W' = " + oneRow + " (x " + x + ", w " + wt + ")");
            }
            return g;
        }

        /** The window length K = C·KH·KW. */
        int k() {
            return c * kh * kw;
        }

        /** Output rows in all, N·H'. */
        int rows() {
            return n * oh;
        }

        /** Output rows per block: the block's columns and product stay within the budget (at least one row). */
        int blockRows() {
            long byBudget = BLOCK_FLOATS / ((long) (k() + f) * ow);
            return (int) Math.max(1, Math.min(rows(), byBudget));
        }

        /**
         * Whether output rows are input rows shifted: stride 1 and W' = W ("same" padding, KW = 2·pw + 1 &lt; 2W).
         * Then the columns of a window row kr over consecutive output rows of one sample are x's consecutive rows,
         * shifted by q − pw: one contiguous copy (or add) per sample instead of one per output row.
         */
        boolean rowsContiguous() {
            return sh == 1 && sw == 1 && ow == w && kw == 2 * pw + 1 && pw < w;
        }

        /** The first output row i whose tap p reads inside x: i + p − ph ≥ 0 (stride 1). */
        int firstRow(int p) {
            return Math.max(0, ph - p);
        }

        /** One past the last output row i whose tap p reads inside x: i + p − ph &lt; H (stride 1). */
        int endRow(int p) {
            return Math.max(0, Math.min(oh, h + ph - p));
        }

        /** The first output column j whose tap q reads inside x: j·sw + q − pw ≥ 0. */
        int firstCol(int q) {
            return Math.max(0, Math.floorDiv(pw - q + sw - 1, sw));
        }

        /** One past the last output column j whose tap q reads inside x: j·sw + q − pw &lt; W. */
        int endCol(int q) {
            return Math.max(0, Math.min(ow, Math.floorDiv(w - 1 + pw - q, sw) + 1));
        }
    }

    // ================================================================================================== forward

    static Conv2dResult forward(CpuBackend be, Tensor x, Tensor w, Tensor bias, Conv2dParams p) {
        String op = "conv2d.forward";
        Shape outShape = Contracts.conv2dForward(be, x, w, bias, p);
        Geometry g = Geometry.of(op, x.shape(), w.shape(), p);
        float[] xs = CpuBackend.data(x);
        float[] ws = CpuBackend.data(w);
        float[] bs = bias == null ? null : CpuBackend.data(bias);
        CpuTensor out = be.allocate(outShape);
        float[] y = out.data();
        int k = g.k();
        int rb = g.blockRows();
        CpuScratch s = CpuScratch.get();
        float[] cols = s.floats(CpuScratch.CALL, k * rb * g.ow());
        float[] outT = s.floats(CpuScratch.CALL + 1, g.f() * rb * g.ow());
        for (int r0 = 0; r0 < g.rows(); r0 += rb) {
            int r1 = Math.min(g.rows(), r0 + rb);
            int m = (r1 - r0) * g.ow();
            // step 1: unfold the block's windows into columns
            im2col(g, xs, r0, r1, cols);
            // step 2: outT[F,m] = W[F,K]·cols[K,m]
            gemm(false, false, g.f(), m, k, ws, 0, k, cols, 0, m, 0f, outT, 0, m);
            // step 3: back to NCHW, plus the bias
            scatter(g, outT, r0, r1, bs, y);
        }
        Conv2dCache cache = new Conv2dCache(x.shape(), w.shape(), bias != null, p,
                new CpuConvInput(be, (CpuTensor) x));
        return new Conv2dResult(out, cache);
    }

    /**
     * cols[kr, (r − r0)·W' + j] = x̃[n, c, i·sh + p − ph, j·sw + q − pw] for window row kr = (c·KH + p)·KW + q and
     * output row r = n·H' + i in [r0, r1); zero where the window reads padding. Split over window rows.
     */
    static void im2col(Geometry g, float[] x, int r0, int r1, float[] cols) {
        int k = g.k();
        int m = (r1 - r0) * g.ow();
        if (g.rowsContiguous()) {
            CpuParallel.forRows(k, m, (chunk, from, to) -> {
                for (int kr = from; kr < to; kr++) {
                    im2colRuns(g, x, r0, r1, kr, cols);
                }
            });
            return;
        }
        CpuParallel.forRows(k, m, (chunk, from, to) -> {
            for (int kr = from; kr < to; kr++) {
                int c = kr / (g.kh() * g.kw());
                int p = kr / g.kw() % g.kh();
                int q = kr % g.kw();
                int jLo = g.firstCol(q);
                int jHi = Math.max(jLo, g.endCol(q));
                int dst = kr * m;
                int n = r0 / g.oh();
                int i = r0 % g.oh();
                for (int r = r0; r < r1; r++, dst += g.ow()) {
                    int hh = i * g.sh() + p - g.ph();
                    if (hh < 0 || hh >= g.h()) {
                        Arrays.fill(cols, dst, dst + g.ow(), 0f);
                    } else {
                        int src = ((n * g.c() + c) * g.h() + hh) * g.w() + q - g.pw();
                        Arrays.fill(cols, dst, dst + jLo, 0f);
                        if (g.sw() == 1) {
                            System.arraycopy(x, src + jLo, cols, dst + jLo, jHi - jLo);
                        } else {
                            for (int j = jLo; j < jHi; j++) {
                                cols[dst + j] = x[src + j * g.sw()];
                            }
                        }
                        Arrays.fill(cols, dst + jHi, dst + g.ow(), 0f);
                    }
                    if (++i == g.oh()) {
                        i = 0;
                        n++;
                    }
                }
            }
        });
    }

    /**
     * Window row kr of {@link #im2col} when {@link Geometry#rowsContiguous()}: per sample, the output rows whose tap p
     * lands inside x read x's rows i + p − ph, consecutive in memory, shifted by s = q − pw; one copy moves them all,
     * then the |s| entries of each row that the shift carried across a row end (padding) are zeroed. Rows whose tap
     * lands in the padding are zero.
     */
    private static void im2colRuns(Geometry g, float[] x, int r0, int r1, int kr, float[] cols) {
        int w = g.w();
        int c = kr / (g.kh() * g.kw());
        int p = kr / g.kw() % g.kh();
        int shift = kr % g.kw() - g.pw();
        int m = (r1 - r0) * w;
        for (int r = r0; r < r1; ) {
            int n = r / g.oh();
            int iFrom = r - n * g.oh();
            int iTo = Math.min(r1 - n * g.oh(), g.oh());
            int a = Math.min(iTo, Math.max(iFrom, g.firstRow(p)));
            int b = Math.max(a, Math.min(iTo, g.endRow(p)));
            int rowDst = kr * m + (r - r0) * w;   // cols position of output row iFrom
            Arrays.fill(cols, rowDst, rowDst + (a - iFrom) * w, 0f);
            if (b > a) {
                int dst = rowDst + (a - iFrom) * w;
                int src = ((n * g.c() + c) * g.h() + a + p - g.ph()) * w;
                int len = (b - a) * w;
                // cols[dst + t] = x[src + t + shift] for t in the run, then the entries that crossed a row end → 0
                if (shift >= 0) {
                    System.arraycopy(x, src + shift, cols, dst, len - shift);
                    zeroRowEdges(cols, dst + w - shift, dst + len, w, shift);
                } else {
                    System.arraycopy(x, src, cols, dst - shift, len + shift);
                    zeroRowEdges(cols, dst, dst + len, w, -shift);
                }
            }
            Arrays.fill(cols, rowDst + (b - iFrom) * w, rowDst + (iTo - iFrom) * w, 0f);
            r += iTo - iFrom;
        }
    }

    /** out[n,f,i,·] = outT[f, (r − r0)·W' + ·] + bias[f] for the block's output rows; split over f. */
    private static void scatter(Geometry g, float[] outT, int r0, int r1, float[] bias, float[] out) {
        int m = (r1 - r0) * g.ow();
        int plane = g.oh() * g.ow();
        CpuParallel.forRows(g.f(), m, (chunk, from, to) -> {
            for (int f = from; f < to; f++) {
                float b = bias == null ? 0f : bias[f];
                // the block's rows come in runs of one sample each, contiguous in out
                for (int r = r0; r < r1; ) {
                    int n = r / g.oh();
                    int runEnd = Math.min(r1, (n + 1) * g.oh());
                    int src = f * m + (r - r0) * g.ow();
                    int dst = (n * g.f() + f) * plane + (r - n * g.oh()) * g.ow();
                    int len = (runEnd - r) * g.ow();
                    // a copy and a loop over out alone: both vectorize, the fused out[dst + t] = outT[src + t] + b
                    // (two index forms) would not
                    System.arraycopy(outT, src, out, dst, len);
                    if (b != 0f) {
                        for (int t = dst; t < dst + len; t++) {
                            out[t] += b;
                        }
                    }
                    r = runEnd;
                }
            }
        });
    }

    // ================================================================================================= backward

    static Conv2dGrads backward(CpuBackend be, Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad) {
        String op = "conv2d.backward";
        Contracts.conv2dBackward(be, dOut, cache, w);
        if (!(cache.saved() instanceof CpuConvInput input)) {
            throw Contracts.bad(op, "cache", "the cache of a cpu conv2d forward", cache.saved().getClass().getName());
        }
        float[] xs = input.input(op);
        Geometry g = Geometry.of(op, cache.inputShape(), cache.weightShape(), cache.params());
        float[] dy = CpuBackend.data(dOut);
        float[] ws = CpuBackend.data(w);
        int k = g.k();
        CpuTensor dW = be.allocate(cache.weightShape());
        CpuTensor dB = cache.hasBias() ? be.allocate(Shape.of(g.f())) : null;
        CpuTensor dX = inputGrad ? (CpuTensor) be.zeros(cache.inputShape()) : null;
        int rb = g.blockRows();
        CpuScratch s = CpuScratch.get();
        float[] cols = s.floats(CpuScratch.CALL, k * rb * g.ow());
        float[] dOutT = s.floats(CpuScratch.CALL + 1, g.f() * rb * g.ow());
        float[] dcols = inputGrad ? s.floats(CpuScratch.CALL + 2, k * rb * g.ow()) : null;
        float[] dWt = s.floats(CpuScratch.CALL + 3, k * g.f());
        double[] db = s.zeroedDoubles(CpuScratch.CALL, g.f());
        for (int r0 = 0; r0 < g.rows(); r0 += rb) {
            int r1 = Math.min(g.rows(), r0 + rb);
            int m = (r1 - r0) * g.ow();
            // step 1: the block's columns again, and its dOut as [F,m]; dB += Σ dOut over the block
            im2col(g, xs, r0, r1, cols);
            gather(g, dy, r0, r1, dOutT, db);
            // step 2: dWᵀ (+)= cols[K,m]·dOutTᵀ[m,F], the first block writes, the others add (this orientation of
            // the product measured faster in OpenBLAS than dOutT·colsᵀ, most for short windows)
            gemm(false, true, k, g.f(), m, cols, 0, m, dOutT, 0, m, r0 == 0 ? 0f : 1f, dWt, 0, g.f());
            if (dX != null) {
                // step 3: dcols[K,m] = Wᵀ[K,F]·dOutT[F,m], folded back onto x's positions
                gemm(true, false, k, m, g.f(), ws, 0, k, dOutT, 0, m, 0f, dcols, 0, m);
                col2im(g, dcols, r0, r1, dX.data(), be.vectorApi());
            }
        }
        // dW = (dWᵀ)ᵀ
        float[] dw = dW.data();
        for (int f = 0; f < g.f(); f++) {
            for (int kr = 0; kr < k; kr++) {
                dw[f * k + kr] = dWt[kr * g.f() + f];
            }
        }
        if (dB != null) {
            float[] b = dB.data();
            for (int f = 0; f < g.f(); f++) {
                b[f] = (float) db[f];
            }
        }
        return new Conv2dGrads(dX, dW, dB);
    }

    /** dOutT[f, (r − r0)·W' + ·] = dOut[n,f,i,·] for the block's rows, and db[f] += their sum; split over f. */
    private static void gather(Geometry g, float[] dOut, int r0, int r1, float[] dOutT, double[] db) {
        int m = (r1 - r0) * g.ow();
        int plane = g.oh() * g.ow();
        CpuParallel.forRows(g.f(), m, (chunk, from, to) -> {
            for (int f = from; f < to; f++) {
                double sum = 0;
                for (int r = r0; r < r1; ) {
                    int n = r / g.oh();
                    int runEnd = Math.min(r1, (n + 1) * g.oh());
                    int src = (n * g.f() + f) * plane + (r - n * g.oh()) * g.ow();
                    int dst = f * m + (r - r0) * g.ow();
                    int len = (runEnd - r) * g.ow();
                    System.arraycopy(dOut, src, dOutT, dst, len);
                    sum += sum(dOut, src, len);
                    r = runEnd;
                }
                db[f] += sum;
            }
        });
    }

    /** Σ a[from .. from + len) in double, four partial sums so that the additions do not wait on each other. */
    static double sum(float[] a, int from, int len) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int t = from;
        for (int end = from + (len & ~3); t < end; t += 4) {
            s0 += a[t];
            s1 += a[t + 1];
            s2 += a[t + 2];
            s3 += a[t + 3];
        }
        for (int end = from + len; t < end; t++) {
            s0 += a[t];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * dX[n, c, i·sh + p − ph, j·sw + q − pw] += dcols[kr, (r − r0)·W' + j], the adjoint of {@link #im2col}: every
     * column entry that was read from x is added back to it (padding entries are dropped). Split over the (sample,
     * channel) planes the block touches, so that no two threads add into the same element of dX (windows of
     * neighbouring output rows overlap in x, but only within one plane).
     */
    static void col2im(Geometry g, float[] dcols, int r0, int r1, float[] dX, boolean vector) {
        int m = (r1 - r0) * g.ow();
        int khw = g.kh() * g.kw();
        int n0 = r0 / g.oh();
        int samples = (r1 - 1) / g.oh() - n0 + 1;
        CpuParallel.forRows(samples * g.c(), (long) khw * m / samples, (chunk, from, to) -> {
            for (int unit = from; unit < to; unit++) {
                int n = n0 + unit / g.c();
                int c = unit % g.c();
                // the block's output rows of sample n
                int rFrom = Math.max(r0, n * g.oh());
                int rTo = Math.min(r1, (n + 1) * g.oh());
                if (g.rowsContiguous()) {
                    col2imRuns(g, dcols, r0, r1, n, c, rFrom, rTo, dX, vector);
                    continue;
                }
                for (int kr = c * khw; kr < (c + 1) * khw; kr++) {
                    int p = kr / g.kw() % g.kh();
                    int q = kr % g.kw();
                    int jLo = g.firstCol(q);
                    int jHi = g.endCol(q);
                    int src = kr * m + (rFrom - r0) * g.ow();
                    for (int r = rFrom; r < rTo; r++, src += g.ow()) {
                        int hh = (r - n * g.oh()) * g.sh() + p - g.ph();
                        if (hh >= 0 && hh < g.h()) {
                            int dst = ((n * g.c() + c) * g.h() + hh) * g.w() + q - g.pw();
                            for (int j = jLo; j < jHi; j++) {
                                dX[dst + j * g.sw()] += dcols[src + j];
                            }
                        }
                    }
                }
            }
        });
    }

    /**
     * Plane (n, c) of {@link #col2im} when {@link Geometry#rowsContiguous()}: for each window row of channel c, the
     * output rows whose tap lands inside x add into x's consecutive rows, shifted by s = q − pw, in one loop. The
     * entries that the shift would carry across a row end (padding; their gradient is dropped) are zeroed in dcols
     * first — dcols is this call's scratch, and this plane's part of it is read by nobody else — so they add +0.
     */
    private static void col2imRuns(Geometry g, float[] dcols, int r0, int r1, int n, int c, int rFrom, int rTo,
                                   float[] dX, boolean vector) {
        int w = g.w();
        int m = (r1 - r0) * w;
        int khw = g.kh() * g.kw();
        int iFrom = rFrom - n * g.oh();
        int iTo = rTo - n * g.oh();
        for (int kr = c * khw; kr < (c + 1) * khw; kr++) {
            int p = kr / g.kw() % g.kh();
            int shift = kr % g.kw() - g.pw();
            int a = Math.min(iTo, Math.max(iFrom, g.firstRow(p)));
            int b = Math.max(a, Math.min(iTo, g.endRow(p)));
            if (b == a) {
                continue;
            }
            int src = kr * m + (rFrom - r0 + a - iFrom) * w;
            int dst = ((n * g.c() + c) * g.h() + a + p - g.ph()) * w;
            int len = (b - a) * w;
            // dX[dst + t + shift] += dcols[src + t]
            if (shift >= 0) {
                zeroRowEdges(dcols, src + w - shift, src + len, w, shift);
                addInto(dX, dst + shift, dcols, src, len - shift, vector);
            } else {
                zeroRowEdges(dcols, src, src + len, w, -shift);
                addInto(dX, dst, dcols, src - shift, len + shift, vector);
            }
        }
    }

    /**
     * a[e .. e + count) = 0 for e = from, from + w, … below to: the few entries per row that a shifted run carried
     * across a row end (a plain loop: Arrays.fill's call costs more than one or two stores).
     */
    private static void zeroRowEdges(float[] a, int from, int to, int w, int count) {
        for (int row = from; row < to; row += w) {
            for (int e = row; e < row + count; e++) {
                a[e] = 0f;
            }
        }
    }

    /** dst[dOff + t] += src[sOff + t], t in [0, len): the Vector API where the JVM has it (C2 leaves this scalar). */
    private static void addInto(float[] dst, int dOff, float[] src, int sOff, int len, boolean vector) {
        if (vector) {
            CpuConvVector.addInto(dst, dOff, src, sOff, len);
            return;
        }
        for (int t = 0; t < len; t++) {
            dst[dOff + t] += src[sOff + t];
        }
    }

    // ===================================================================================================== GEMM

    /**
     * Row-major C[M,N] (leading dimension ldc, from offset cOff) = op(A)·op(B) + β·C, op(X) = Xᵀ when its flag is
     * set, A and B stored row-major with leading dimensions lda, ldb from their offsets; through BLAS's
     * column-major sgemm as Cᵀ = op(B)ᵀ·op(A)ᵀ (see {@link CpuGemm}). With β = 0 BLAS ignores C's old contents.
     */
    static void gemm(boolean ta, boolean tb, int m, int n, int k, float[] a, int aOff, int lda, float[] b,
                     int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        CpuGemm.blas().sgemm(tb ? "T" : "N", ta ? "T" : "N", n, m, k, 1f, b, bOff, ldb, a, aOff, lda, beta, c,
                cOff, ldc);
    }
}
