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
 * out [N,F,H',W']; K = C·KH·KW, the length of a window; P = H'·W', an output plane; an <em>output row</em>
 * r = n·H' + i is the W' outputs (n, ·, i, ·) of one sample and one output height.
 *
 * <p>The work is cut into <em>units</em>: one sample's output rows, or a run of them when one sample's columns
 * (K × P) would exceed {@link #BLOCK_FLOATS}. Per unit of sample n, m = its rows·W' outputs, whose [F, m] part of
 * out (and of dOut) is read and written in place — F rows of m floats, P apart — so NCHW needs no copy:
 * <pre>
 *   forward    cols[K,m]   = im2col(x, unit)                       unfold, zero padding written as zeros
 *              out[n][F,m] = W[F,K] · cols  (+ bias[f] on row f)   GEMM straight into NCHW
 *   backward   cols[K,m]   = im2col(x, unit) again                 (see below)
 *              dB[f]      += Σ dOut[n][f,·]                         in double
 *              dWᵀ[K,F]   += cols · dOut[n]ᵀ                        GEMM, into the unit's chunk's partial sum
 *              dcols[K,m]  = Wᵀ · dOut[n]                           GEMM (only when dX is wanted)
 *              dX[n]      += col2im(dcols)                          each column entry added back to its x
 * </pre>
 * The samples are split into chunks ({@link Geometry#chunks()}: a count fixed by the shape and the machine's thread
 * count, {@link CpuParallel#THREADS}, not by which threads run them or how BLAS is threaded) and the
 * chunks run on both cores, each GEMM on its own calling thread — when BLAS runs single-threaded, as the launcher
 * has OpenBLAS do ({@link CpuGemm#blasThreaded()}). Two cores each unfolding and multiplying their own samples, the
 * columns in their own L2, beat OpenBLAS's threads splitting the skinny products of a whole block, and degrade gently
 * when another process holds a core, where OpenBLAS's spinning threads do not (docs/benchmarks.md, "Training: the
 * Fashion-MNIST CNN"). Where BLAS runs threads of its own, the same chunks run one after another on the calling
 * thread and BLAS threads each GEMM: the same products and partial sums either way (OpenBLAS itself may pick other
 * kernels, and round differently, with another thread count). Each chunk sums its own dWᵀ and dB,
 * added in chunk order at the end (deterministic); a sample never spans two chunks, so no two threads add into the
 * same element of dX.
 *
 * <p>At stride 1 with the Vector API, the forward and dX are direct convolutions instead ({@link #forwardDirect},
 * {@link #inputGradDirect}, {@link CpuConvVector#convGrid}): the same products per output, no columns; dW and dB
 * keep im2col + GEMM.
 *
 * <p>The backward unfolds x again rather than keeping the forward's columns: they are KH·KW·H'·W'/(H·W) times larger
 * than x (9 times for a 3×3 kernel at stride 1), so storing them would cost more memory traffic than recomputing them
 * from x, unit by unit in cache. The cache therefore keeps x itself ({@link CpuConvInput}: pinned, version-checked).
 */
final class CpuConv {
    /**
     * Workspace budget of one unit's columns, in floats: 2¹⁸ (1 MiB, half the 2 MiB L2 of the development machine, the
     * GEMM's other operands in the rest): a whole sample for both layers of a small CNN (K·P = 56 448 floats for 32→64
     * at 14×14), a few output rows of a large image.
     */
    static final int BLOCK_FLOATS = 1 << 18;

    /**
     * The shortest sum (K = C·KH·KW forward, F·KH·KW for dX) that the direct path takes: below it the grid's junk,
     * its copy out and the padding copy cost more than unfolding (the CNN's 1→32 layer, K = 9: forward 1.0 ms with
     * im2col + GEMM, 3.0 ms direct; 32→64, K = 288: 10.9 → 9.3 ms).
     */
    static final int DIRECT_MIN_TERMS = 64;

    /**
     * The chunk bodies' scratch slots (below {@link CpuScratch#CALL}, which the calling thread's own partial sums
     * hold): a unit's columns, and in the backward its dcols.
     */
    private static final int COLS_SLOT = 0;
    private static final int DCOLS_SLOT = 1;
    /** The direct path's slots: one sample padded (x, or dOut for dX), its grid of outputs, its tap offsets (ints). */
    private static final int PADDED_SLOT = 2;
    private static final int GRID_SLOT = 3;
    private static final int OFFSETS_SLOT = 0;
    /** The backward's calling-thread slot of the direct dX's weights, [C, F·KH·KW] (above the partial sums'). */
    private static final int WT_SLOT = CpuScratch.CALL + 1;

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
                throw Contracts.bad(op, "x", "C·KH·KW·W' <= " + Contracts.MAX_ELEMENTS + " (the cpu backend unfolds "
                        + "at least one output row of the input at a time)", "C·KH·KW·W' = " + oneRow + " (x " + x
                        + ", w " + wt + ")");
            }
            return g;
        }

        /** The window length K = C·KH·KW. */
        int k() {
            return c * kh * kw;
        }

        /** An output plane, P = H'·W'. */
        int plane() {
            return oh * ow;
        }

        /** Output rows per unit: a whole sample's H', or as many as keep its columns within the budget (≥ 1). */
        int blockRows() {
            long byBudget = BLOCK_FLOATS / ((long) k() * ow);
            return (int) Math.max(1, Math.min(oh, byBudget));
        }

        /**
         * How many chunks the samples are split into: fixed by the shape and {@link CpuParallel#THREADS} (a machine
         * with more cores sums dW in more partial sums; the test matrix's threads-64 leg runs that), the same whether
         * the chunks run on the cores or one after another under a threaded BLAS.
         */
        int chunks() {
            return CpuParallel.chunks(n, (long) k() * plane());
        }

        /**
         * Whether output rows are input rows shifted: stride 1 and W' = W ("same" padding, KW = 2·pw + 1 &lt; 2W).
         * Then the columns of a window row kr over consecutive output rows of one sample are x's consecutive rows,
         * shifted by q − pw: one contiguous copy (or add) per sample instead of one per output row.
         */
        boolean rowsContiguous() {
            return sh == 1 && sw == 1 && ow == w && kw == 2L * pw + 1 && pw < w;
        }

        /**
         * Whether the direct forward applies ({@link #forwardDirect}; the caller also needs the Vector API): stride 1,
         * K at least {@link #DIRECT_MIN_TERMS}, at least 4 filters (the kernel's register block; fewer go a vector at a
         * time), and one padded sample (C planes of (H + 2·ph) × (W + 2·pw)) and its grid (F rows of H'·(W + 2·pw)) each fit
         * the unit budget {@link #BLOCK_FLOATS}.
         */
        boolean directForward() {
            long wp = w + 2L * pw;
            return sh == 1 && sw == 1 && k() >= DIRECT_MIN_TERMS && f >= 4
                    && (long) c * (h + 2L * ph) * wp <= BLOCK_FLOATS && (long) f * oh * wp <= BLOCK_FLOATS;
        }

        /**
         * Whether dX is computed as a direct convolution of dOut ({@link #inputGradDirect}): stride 1, F·KH·KW at
         * least {@link #DIRECT_MIN_TERMS}, C at least 4 (as F for the forward), padding at most the kernel size − 1 (dOut is then padded by KH − 1 − ph, KW − 1 − pw), and one padded dOut sample (F planes
         * of (H + KH − 1) × (W + KW − 1)) and its grid (C rows of H·(W + KW − 1)) each within the unit budget.
         */
        boolean directInputGrad() {
            long wp = w + kw - 1L;
            return sh == 1 && sw == 1 && ph <= kh - 1 && pw <= kw - 1 && (long) f * kh * kw >= DIRECT_MIN_TERMS
                    && c >= 4 && (long) f * (h + kh - 1L) * wp <= BLOCK_FLOATS && (long) c * h * wp <= BLOCK_FLOATS;
        }

        // Window coordinates are formed in long: a stride or padding near 2^31 passes the int range although the
        // output is small (i·sh + p − ph, pw − q + sw − 1), and each bound is clipped to [0, H'] or [0, W'], so that
        // a window wider than the input and one side's padding (first > end) fills nothing twice.

        /** The first output row i whose tap p reads inside x: i + p − ph ≥ 0 (stride 1), at most H'. */
        int firstRow(int p) {
            return (int) Math.min(oh, Math.max(0, (long) ph - p));
        }

        /** One past the last output row i whose tap p reads inside x: i + p − ph &lt; H (stride 1). */
        int endRow(int p) {
            return (int) Math.max(0, Math.min(oh, (long) h + ph - p));
        }

        /** The first output column j whose tap q reads inside x: j·sw + q − pw ≥ 0, at most W'. */
        int firstCol(int q) {
            return (int) Math.min(ow, Math.max(0, Math.floorDiv((long) pw - q + sw - 1, sw)));
        }

        /** One past the last output column j whose tap q reads inside x: j·sw + q − pw &lt; W, at least 0. */
        int endCol(int q) {
            return (int) Math.max(0, Math.min(ow, Math.floorDiv((long) w - 1 + pw - q, sw) + 1));
        }

        /** The row of x that tap p of output row i reads, i·sh + p − ph; outside [0, H) it is padding. */
        long inputRow(int i, int p) {
            return (long) i * sh + p - ph;
        }

        /** The element of x that tap q of output column j reads in a row starting at {@code rowStart}. */
        int inputAt(int rowStart, int j, int q) {
            return rowStart + (int) ((long) j * sw + q - pw); // inside the row for j in [firstCol(q), endCol(q))
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
        int k = g.k();
        int plane = g.plane();
        int rb = g.blockRows();
        int colsLength = columns(op, x.shape(), k, rb, g);   // refused before anything is allocated
        CpuTensor out = be.allocate(outShape);
        float[] y = out.data();
        if (be.vectorApi() && g.directForward()) {
            forwardDirect(g, xs, ws, bs, y);
            return new Conv2dResult(out, new Conv2dCache(x.shape(), w.shape(), bias != null, p,
                    new CpuConvInput(be, (CpuTensor) x)));
        }
        CpuParallel.forChunks(g.chunks(), g.n(), !CpuGemm.blasThreaded(), (chunk, from, to) -> {
            float[] cols = CpuScratch.get().floats(COLS_SLOT, colsLength);
            for (int n = from; n < to; n++) {
                for (int i0 = 0; i0 < g.oh(); i0 += rb) {
                    int i1 = Math.min(g.oh(), i0 + rb);
                    int m = (i1 - i0) * g.ow();
                    int at = n * g.f() * plane + i0 * g.ow();   // out[n, 0, i0, 0]: row f of [F,m] at at + f·P
                    // step 1: unfold the unit's windows into columns
                    im2col(g, xs, n * g.oh() + i0, n * g.oh() + i1, cols);
                    // step 2: out[n][F,m] = W[F,K]·cols[K,m], in place in NCHW (leading dimension P)
                    gemm(false, false, g.f(), m, k, ws, 0, k, cols, 0, m, 0f, y, at, plane);
                    // step 3: plus the bias, row by row
                    if (bs != null) {
                        for (int f = 0; f < g.f(); f++) {
                            float b = bs[f];
                            for (int t = at + f * plane, end = t + m; t < end; t++) {
                                y[t] += b;
                            }
                        }
                    }
                }
            }
        });
        Conv2dCache cache = new Conv2dCache(x.shape(), w.shape(), bias != null, p,
                new CpuConvInput(be, (CpuTensor) x));
        return new Conv2dResult(out, cache);
    }

    /**
     * The stride-1 forward as a direct convolution on the Vector API (when {@link Geometry#directForward()}): per
     * sample, x is copied into a zero-bordered padded buffer x̃ [C, HP, WP] (HP = H + 2·ph = H' + KH − 1, WP = W + 2·pw
     * = W' + KW − 1), and the outputs are computed on a <em>grid</em> of H' rows of WP positions, s = i·WP + j: output
     * (i, j)'s window tap (c, p, q) reads x̃ at c·HP·WP + p·WP + q + s, so every tap of every channel is x̃ shifted by
     * a constant, and {@link CpuConvVector#convGrid} sums the K = C·KH·KW products of each position as one FMA chain.
     * The grid's last KW − 1 positions of each row (j ≥ W') read across a row end: junk, not copied out. Each output's
     * products are exactly those of im2col + GEMM (x̃'s zeros included), summed in another order: within CONV2D_OUT.
     *
     * <p>Why: at the CNN's 32→64 layer ([128,32,14,14], 3×3) the im2col + GEMM forward spent 1.7 ms unfolding and
     * 8.5 ms in OpenBLAS's per-sample [64,288]·[288,196] products (109 GFLOP/s, one thread); this kernel keeps 4
     * channels × 6 vectors of outputs in registers and reads x̃ straight from L1 (docs/benchmarks.md, "Direct
     * convolution on the Vector API").
     */
    private static void forwardDirect(Geometry g, float[] xs, float[] ws, float[] bs, float[] y) {
        int wp = g.w() + 2 * g.pw();
        int plane = (g.h() + 2 * g.ph()) * wp;
        int m = g.oh() * wp;
        int lanes = CpuConvVector.lanes();
        int ldd = (m + lanes - 1) / lanes * lanes;
        int padded = g.c() * plane + g.kw() + lanes;   // the last tap reads up to KW − 1 + (ldd − m) past C planes
        int k = g.k();
        int sample = g.c() * g.h() * g.w();
        int outSample = g.f() * g.plane();
        CpuParallel.forChunks(g.chunks(), g.n(), (chunk, from, to) -> {
            CpuScratch s = CpuScratch.get();
            float[] src = s.zeroedFloats(PADDED_SLOT, padded);   // the border stays zero: samples fill the inside
            float[] grid = s.floats(GRID_SLOT, g.f() * ldd + lanes);   // copyRows reads a vector past a row
            int[] off = s.ints(OFFSETS_SLOT, k);
            tapOffsets(off, g.c(), plane, wp, g.kh(), g.kw(), false);
            for (int n = from; n < to; n++) {
                // step 1: x[n] into x̃'s inside
                padInto(xs, n * sample, g.c(), g.h(), g.w(), src, plane, wp, g.ph(), g.pw());
                // step 2: the grid of outputs, K products each
                CpuConvVector.convGrid(src, off, k, ws, g.f(), grid, ldd, m);
                // step 3: the grid's rows without their junk, plus the bias, into out[n] (NCHW), filters in order
                for (int f = 0; f < g.f(); f++) {
                    CpuConvVector.copyRows(grid, f * ldd, wp, y, n * outSample + f * g.plane(), g.ow(), g.oh(),
                            (n + 1) * outSample, bs == null ? 0f : bs[f], bs != null);
                }
            }
        });
    }

    /**
     * The grid convolution's tap table: off[ch·KH·KW + p·KW + q] = ch·plane + p·wp + q for the planes ch of a padded
     * buffer (wp wide, plane apart); with {@code flipped}, the taps of the kernel turned by 180°
     * (off[ch·KH·KW + p·KW + q] = ch·plane + (KH − 1 − p)·wp + KW − 1 − q).
     */
    private static void tapOffsets(int[] off, int channels, int plane, int wp, int kh, int kw, boolean flipped) {
        int e = 0;
        for (int ch = 0; ch < channels; ch++) {
            for (int p = 0; p < kh; p++) {
                for (int q = 0; q < kw; q++) {
                    off[e++] = ch * plane + (flipped ? kh - 1 - p : p) * wp + (flipped ? kw - 1 - q : q);
                }
            }
        }
    }

    /**
     * Copies {@code channels} planes of hh × ww from a (from aOff on) into the inside of padded planes of b (wp wide,
     * plane apart), top rows and left columns in; b's border stays zero (the direct path only: the Vector API).
     */
    private static void padInto(float[] a, int aOff, int channels, int hh, int ww, float[] b, int plane, int wp,
                                int top, int left) {
        for (int ch = 0; ch < channels; ch++) {
            CpuConvVector.padRows(a, aOff + ch * hh * ww, hh, ww, b, ch * plane + top * wp + left, wp);
        }
    }

    /**
     * The floats of a unit's workspace of {@code height} rows (K for columns) of {@code rows} output rows:
     * height·rows·W', formed in long and refused (naming x's shape) if no array could hold it.
     */
    static int columns(String op, Shape x, int height, int rows, Geometry g) {
        return CpuSizes.length(op, x, "workspace of a unit (" + height + "·" + rows + "·" + g.ow() + " floats)",
                (long) height * rows * g.ow());
    }

    /**
     * cols[kr, (r − r0)·W' + j] = x̃[n, c, i·sh + p − ph, j·sw + q − pw] for window row kr = (c·KH + p)·KW + q and
     * output row r = n·H' + i in [r0, r1); zero where the window reads padding. On the calling thread (a unit's).
     */
    static void im2col(Geometry g, float[] x, int r0, int r1, float[] cols) {
        int k = g.k();
        int m = (r1 - r0) * g.ow();
        if (g.rowsContiguous()) {
            for (int kr = 0; kr < k; kr++) {
                im2colRuns(g, x, r0, r1, kr, cols);
            }
            return;
        }
        for (int kr = 0; kr < k; kr++) {
            int c = kr / (g.kh() * g.kw());
            int p = kr / g.kw() % g.kh();
            int q = kr % g.kw();
            int jLo = g.firstCol(q);
            int jHi = Math.max(jLo, g.endCol(q));
            int dst = kr * m;
            int n = r0 / g.oh();
            int i = r0 % g.oh();
            for (int r = r0; r < r1; r++, dst += g.ow()) {
                long hh = g.inputRow(i, p);
                if (hh < 0 || hh >= g.h() || jLo == jHi) {
                    Arrays.fill(cols, dst, dst + g.ow(), 0f);
                } else {
                    int row = ((n * g.c() + c) * g.h() + (int) hh) * g.w();
                    Arrays.fill(cols, dst, dst + jLo, 0f);
                    if (g.sw() == 1) {
                        System.arraycopy(x, g.inputAt(row, jLo, q), cols, dst + jLo, jHi - jLo);
                    } else {
                        long at = g.inputAt(row, jLo, q); // long: a step sw near 2^31 passes the int range
                        for (int j = jLo; j < jHi; j++, at += g.sw()) {
                            cols[dst + j] = x[(int) at];
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
        int f = g.f();
        int plane = g.plane();
        int rb = g.blockRows();
        int chunks = g.chunks();
        Shape xShape = cache.inputShape();
        // the sizes, formed in long and refused by name before anything is allocated
        int colsLength = columns(op, xShape, k, rb, g);
        int partials = CpuSizes.length(op, xShape, "dWᵀ partial sums (" + chunks + " chunks·C·KH·KW·F floats)",
                (long) chunks * k * f);
        CpuTensor dW = be.allocate(cache.weightShape());
        CpuTensor dB = cache.hasBias() ? be.allocate(Shape.of(f)) : null;
        CpuTensor dX = inputGrad ? be.allocate(cache.inputShape()) : null;   // zeroed sample by sample below
        float[] dx = dX == null ? null : dX.data();
        boolean vector = be.vectorApi();
        boolean directDx = dx != null && vector && g.directInputGrad();
        CpuScratch s = CpuScratch.get();
        // the direct dX's weights: wt[c, f·KH·KW + t] = w[f, c, t], one row of terms per input channel
        float[] wt = directDx ? s.floats(WT_SLOT, k * f) : null;
        if (directDx) {
            int taps = g.kh() * g.kw();
            for (int ff = 0; ff < f; ff++) {
                for (int c = 0; c < g.c(); c++) {
                    System.arraycopy(ws, (ff * g.c() + c) * taps, wt, (c * f + ff) * taps, taps);
                }
            }
        }
        int wpD = g.w() + g.kw() - 1;                           // the direct dX's padded dOut: planes HPd × wpD
        int planeD = (g.h() + g.kh() - 1) * wpD;
        int mD = g.h() * wpD;
        int lanes = directDx ? CpuConvVector.lanes() : 0;
        int lddD = directDx ? (mD + lanes - 1) / lanes * lanes : 0;
        int paddedD = f * planeD + g.kw() + lanes;
        // each chunk's dWᵀ [K,F] and dB [F] partial sums: the call's slots, which the chunk bodies (on this thread
        // too) leave alone
        float[] dWt = s.floats(CpuScratch.CALL, partials);
        double[] db = s.zeroedDoubles(CpuScratch.CALL, chunks * f);   // ≤ partials, so an int
        CpuParallel.forChunks(chunks, g.n(), !CpuGemm.blasThreaded(), (chunk, from, to) -> {
            CpuScratch cs = CpuScratch.get();
            float[] cols = cs.floats(COLS_SLOT, colsLength);
            float[] dcols = dx == null || directDx ? null : cs.floats(DCOLS_SLOT, colsLength);
            float[] dsrc = directDx ? cs.zeroedFloats(PADDED_SLOT, paddedD) : null;   // border zero throughout
            float[] dgrid = directDx ? cs.floats(GRID_SLOT, g.c() * lddD + lanes) : null;   // copyRows' slack
            int[] offD = directDx ? cs.ints(OFFSETS_SLOT, f * g.kh() * g.kw()) : null;
            if (directDx) {
                tapOffsets(offD, f, planeD, wpD, g.kh(), g.kw(), true);
            }
            boolean first = true;
            int sample = g.c() * g.h() * g.w();
            for (int n = from; n < to; n++) {
                if (directDx) {
                    inputGradDirect(g, dy, n, wt, dsrc, planeD, wpD, offD, dgrid, lddD, mD, dx);
                } else if (dx != null) {
                    Arrays.fill(dx, n * sample, (n + 1) * sample, 0f);   // dX[n] = 0, then the folds add into it
                }
                for (int i0 = 0; i0 < g.oh(); i0 += rb) {
                    int i1 = Math.min(g.oh(), i0 + rb);
                    int m = (i1 - i0) * g.ow();
                    int at = n * f * plane + i0 * g.ow();   // dOut[n, 0, i0, 0]: row f of [F,m] at at + f·P
                    int r0 = n * g.oh() + i0;
                    int r1 = n * g.oh() + i1;
                    // step 1: the unit's columns again; dB += Σ dOut over the unit
                    im2col(g, xs, r0, r1, cols);
                    if (dB != null) {
                        for (int ff = 0; ff < f; ff++) {
                            db[chunk * f + ff] += sum(dy, at + ff * plane, m);
                        }
                    }
                    // step 2: dWᵀ (+)= cols[K,m]·dOut[n]ᵀ[m,F], the chunk's first unit writes, the others add (this
                    // orientation of the product measured faster in OpenBLAS than dOut·colsᵀ, most for short windows)
                    gemm(false, true, k, f, m, cols, 0, m, dy, at, plane, first ? 0f : 1f, dWt, chunk * k * f, f);
                    first = false;
                    if (dcols != null) {
                        // step 3: dcols[K,m] = Wᵀ[K,F]·dOut[n][F,m], folded back onto x's positions
                        gemm(true, false, k, m, f, ws, 0, k, dy, at, plane, 0f, dcols, 0, m);
                        col2im(g, dcols, r0, r1, dx, vector);
                    }
                }
            }
        });
        // dW = (Σ over the chunks of dWᵀ)ᵀ, in chunk order
        float[] dw = dW.data();
        for (int ff = 0; ff < f; ff++) {
            for (int kr = 0; kr < k; kr++) {
                float acc = dWt[kr * f + ff];
                for (int c = 1; c < chunks; c++) {
                    acc += dWt[(c * k + kr) * f + ff];
                }
                dw[ff * k + kr] = acc;
            }
        }
        if (dB != null) {
            float[] b = dB.data();
            for (int ff = 0; ff < f; ff++) {
                double acc = 0;
                for (int c = 0; c < chunks; c++) {
                    acc += db[c * f + ff];
                }
                b[ff] = (float) acc;
            }
        }
        return new Conv2dGrads(dX, dW, dB);
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
     * dX[n] of the stride-1 backward as a direct convolution (when {@link Geometry#directInputGrad()}), the transposed
     * convolution written as a forward one: dX[n,c,h,w] = Σ_f Σ_{p,q} w[f,c,p,q] · d̃[f, h + KH − 1 − p, w + KW − 1 − q],
     * d̃ being dOut[n] padded by KH − 1 − ph rows and KW − 1 − pw columns of zeros ([F, H + KH − 1, W + KW − 1]: d̃ at
     * (h + KH − 1 − p, w + KW − 1 − q) is dOut[n, f, h + ph − p, w + pw − q], or 0 where that output does not exist).
     * So {@link CpuConvVector#convGrid} computes it with wt (w as [C, F·KH·KW]) and the kernel's taps flipped in the
     * offsets, on a grid of H rows of W + KW − 1 positions; dX[n] is the grid without its junk. Each element sums
     * F·KH·KW products, dOut's padding zeros among them (0·w, as the forward multiplies x̃'s zeros): within
     * CONV2D_DX, in place of dcols = Wᵀ·dOut and col2im's fold (docs/benchmarks.md, "Direct convolution on the
     * Vector API").
     */
    private static void inputGradDirect(Geometry g, float[] dy, int n, float[] wt, float[] dsrc, int planeD, int wpD,
                                        int[] offD, float[] dgrid, int lddD, int mD, float[] dx) {
        padInto(dy, n * g.f() * g.plane(), g.f(), g.oh(), g.ow(), dsrc, planeD, wpD, g.kh() - 1 - g.ph(),
                g.kw() - 1 - g.pw());
        CpuConvVector.convGrid(dsrc, offD, g.f() * g.kh() * g.kw(), wt, g.c(), dgrid, lddD, mD);
        int sample = g.c() * g.h() * g.w();
        for (int c = 0; c < g.c(); c++) {
            CpuConvVector.copyRows(dgrid, c * lddD, wpD, dx, n * sample + c * g.h() * g.w(), g.w(), g.h(),
                    (n + 1) * sample, 0f, false);
        }
    }

    /**
     * dX[n, c, i·sh + p − ph, j·sw + q − pw] += dcols[kr, (r − r0)·W' + j], the adjoint of {@link #im2col}: every
     * column entry that was read from x is added back to it (padding entries are dropped). On the calling thread (a
     * unit's), plane by plane of the (sample, channel) planes the rows touch.
     */
    static void col2im(Geometry g, float[] dcols, int r0, int r1, float[] dX, boolean vector) {
        int khw = g.kh() * g.kw();
        int n0 = r0 / g.oh();
        int samples = (r1 - 1) / g.oh() - n0 + 1;
        for (int unit = 0; unit < samples * g.c(); unit++) {
            int n = n0 + unit / g.c();
            int c = unit % g.c();
            // the rows of sample n
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
                int src = kr * (r1 - r0) * g.ow() + (rFrom - r0) * g.ow();
                for (int r = rFrom; r < rTo; r++, src += g.ow()) {
                    long hh = g.inputRow(r - n * g.oh(), p);
                    if (hh >= 0 && hh < g.h()) {
                        int row = ((n * g.c() + c) * g.h() + (int) hh) * g.w();
                        long at = g.inputAt(row, jLo, q);
                        for (int j = jLo; j < jHi; j++, at += g.sw()) {
                            dX[(int) at] += dcols[src + j];
                        }
                    }
                }
            }
        }
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
