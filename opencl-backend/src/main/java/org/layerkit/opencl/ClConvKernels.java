package org.layerkit.opencl;

import org.layerkit.api.BackendException;
import org.layerkit.api.Contracts;
import org.layerkit.api.Conv2dCache;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * conv2d as im2col + the backend's GEMM (CLBlast or the tiled kernel, {@link ClGemmKernels}), with the data movement
 * in {@code kernels/conv.cl} (docs/ops/conv2d.md, "As matrices").
 *
 * <p>Shape letters: x [N,C,H,W], w [F,C,KH,KW] viewed as [F,K] with K = C·KH·KW, out [N,F,HO,WO], P = HO·WO. The
 * batch's output positions are columns j = n·P + i·WO + jw; the work goes through them in chunks of whole output rows
 * (R rows, J = R·WO columns), so the workspaces stay within {@link #workspaceBytes} each whatever the batch:
 * <pre>
 *   forward   cols[K,J] = im2col(x)           prod[F,J] = W·cols           out ← prod (+ bias)      per chunk
 *   backward  dProd[F,J] ← dOut               cols[K,J] = im2col(x)
 *             dW += dProd·colsᵀ               dCols[K,J] = Wᵀ·dProd        dX ← col2im(dCols)     per chunk
 *             dB = Σ_{n,p} dOut                                                                     once
 * </pre>
 * One GEMM per chunk over all its samples (rather than one per sample) keeps the products large: at the
 * Fashion-MNIST CNN's second layer (N = 128, 32→64 channels at 14×14) a chunk is the whole batch, a [64,288]·[288,25088]
 * product. The workspaces come from the context's buffer pool and go back to it after the call, so a training loop
 * allocates nothing new after its first step. A chunk normally holds whole samples; when one sample's columns do not
 * fit the workspace, chunks split samples and col2im adds into a zeroed dX instead of writing it.
 *
 * <p>The forward's cache keeps a device copy of x ({@link Conv2dCache.SavedTensor}): the caller may close or
 * overwrite x before the backward, which unfolds the copy again instead of keeping K/C times more columns.
 */
final class ClConvKernels {
    private static final String CL = "conv";
    private final ClBackend b;
    /** The most bytes one workspace (cols, the product, its gradient) may take; chunks are sized to fit. */
    private final long workspaceBytes;

    ClConvKernels(ClBackend b, long workspaceBytes) {
        this.b = b;
        this.workspaceBytes = workspaceBytes;
    }

    /** The bytes one workspace may take. */
    long workspaceBytes() {
        return workspaceBytes;
    }

    /** The geometry of one convolution, every size that a product could push past 2³¹ in long. */
    record Geometry(int n, int c, int h, int w, int f, int kh, int kw, Conv2dParams p, int ho, int wo) {
        static Geometry of(Shape x, Shape w, Conv2dParams p) {
            return new Geometry(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), p,
                    (int) p.outputHeight(x.dim(2), w.dim(2)), (int) p.outputWidth(x.dim(3), w.dim(3)));
        }

        /** Rows of the columns: C·KH·KW (w holds F·K elements, so K is an int). */
        int k() {
            return c * kh * kw;
        }

        /** Output positions per sample (out holds N·F·P elements, so P is an int). */
        int positions() {
            return ho * wo;
        }

        /** Output rows of the whole batch, N·HO. */
        long outputRows() {
            return (long) n * ho;
        }
    }

    /**
     * How the batch is cut: {@code rows} output rows per chunk (the last may have fewer); {@code aligned} when every
     * chunk holds whole samples.
     */
    record Plan(long rows, boolean aligned) {
    }

    /**
     * Output rows per chunk so that each workspace of {@code max(K, F)} rows of J = rows·WO columns fits
     * {@link #workspaceBytes}: whole samples when one sample fits, else as many output rows as fit (at least one).
     */
    Plan plan(String op, Geometry g) {
        long widest = Math.max(g.k(), g.f());
        long perRow = widest * g.wo();
        if (perRow > Contracts.MAX_ELEMENTS) {
            throw new BackendException(op + ": the columns of one output row need max(K, F)·W' = " + widest + "·"
                    + g.wo() + " = " + perRow + " floats, more than one buffer of this backend may hold (2^31-9); "
                    + "x [" + g.n() + "," + g.c() + "," + g.h() + "," + g.w() + "], w [" + g.f() + "," + g.c() + ","
                    + g.kh() + "," + g.kw() + "]");
        }
        long rows = Math.max(1, Math.min(workspaceBytes / (4 * perRow), Contracts.MAX_ELEMENTS / perRow));
        if (rows >= g.ho()) {
            rows = rows / g.ho() * g.ho();
        }
        rows = Math.min(rows, g.outputRows());
        return new Plan(rows, rows % g.ho() == 0);
    }

    /** A workspace of {@code height} rows of the plan's widest chunk (J = rows·WO columns), from the pool. */
    private ClTensor workspace(String op, int height, Plan plan, Geometry g) {
        return b.allocate(Shape.of(height, (int) (plan.rows() * g.wo())), op);
    }

    // ---------------------------------------------------------------- forward

    Conv2dResult forward(Tensor x, Tensor w, Tensor bias, Conv2dParams p) {
        Shape outShape = Contracts.conv2dForward(b, x, w, bias, p);
        String op = "conv2d.forward";
        Geometry g = Geometry.of(x.shape(), w.shape(), p);
        Plan plan = plan(op, g);
        ClTensor out = null;
        ClTensor saved = null;
        try {
            out = b.allocate(outShape, op);
            // the cache's own copy of x (the caller may close or overwrite x)
            saved = b.allocate(x.shape(), op);
            b.elementwise().copyInto(op, b.cl(x), saved);
            try (ClTensor cols = workspace(op, g.k(), plan, g); ClTensor prod = workspace(op, g.f(), plan, g)) {
                for (long g0 = 0; g0 < g.outputRows(); g0 += plan.rows()) {
                    int rows = (int) Math.min(plan.rows(), g.outputRows() - g0);
                    int cols1 = rows * g.wo();
                    // cols[K,J] = im2col(x) for this chunk's output rows
                    im2col(op, b.cl(x), cols, g, g0, rows);
                    // prod[F,J] = W[F,K]·cols[K,J]
                    b.gemmKernels().gemm(op, b.cl(w), false, cols, false, prod, g.f(), cols1, g.k(), 1f, 0f);
                    // out[n,f,p] = prod[f, j] + bias[f]
                    long n0 = g0 / g.ho();
                    long samples = (g0 + rows - 1) / g.ho() - n0 + 1;
                    ClTensor biasT = bias == null ? prod : b.cl(bias); // an unread stand-in when there is no bias
                    b.context().launch(op, CL, "conv_scatter_out").mem(prod).mem(biasT).i(bias == null ? 0 : 1)
                            .mem(out).i(g.f()).i(g.positions()).l(g0 * g.wo()).i(cols1).l(n0).i((int) samples)
                            .runPackedRows(g.positions(), samples * g.f());
                }
            }
            Conv2dCache cache = new Conv2dCache(x.shape(), w.shape(), bias != null, p,
                    new Conv2dCache.SavedTensor(saved));
            return new Conv2dResult(out, cache);
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, saved);
            throw e;
        }
    }

    /**
     * cols = the chunk's columns of x: one work-item per output column jw and output row, looping over the K rows of
     * the column on CPU devices (its setup once per column), or over a share of them on GPUs (more work-items).
     */
    private void im2col(String op, ClTensor x, ClTensor cols, Geometry g, long g0, int rows) {
        int ckh = g.c() * g.kh();
        int split = b.context().device().gpu() ? ckh : 1;
        Conv2dParams p = g.p();
        b.context().launch(op, CL, "conv_im2col").mem(x).mem(cols).i(g.c()).i(g.h()).i(g.w()).i(g.kh()).i(g.kw())
                .i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho()).i(g.wo()).l(g0).i(rows).i(split)
                .runPackedRows(g.wo(), (long) rows * split);
    }

    // ---------------------------------------------------------------- backward

    Conv2dGrads backward(Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad) {
        Contracts.conv2dBackward(b, dOut, cache, w);
        String op = "conv2d.backward";
        ClTensor x = savedInput(op, cache);
        Geometry g = Geometry.of(cache.inputShape(), cache.weightShape(), cache.params());
        Plan plan = plan(op, g);
        ClTensor dX = null;
        ClTensor dW = null;
        ClTensor dB = null;
        try {
            dW = b.allocate(w.shape(), op);
            if (cache.hasBias()) {
                // dB[f] = Σ_{n,p} dOut[n,f,p]: the per-channel sums of the normalizations' reduction layout
                dB = b.allocate(Shape.of(g.f()), op);
                b.elementwise().segmentSum(op, b.cl(dOut).mem(), ClLayout.perChannel(g.n(), g.f(), g.positions()),
                        1f, dB.mem());
            }
            if (inputGrad) {
                dX = b.allocate(cache.inputShape(), op);
                if (!plan.aligned()) {
                    b.elementwise().fillInto(op, dX, 0f); // chunks split samples: col2im adds up
                }
            }
            try (ClTensor dProd = workspace(op, g.f(), plan, g); ClTensor cols = workspace(op, g.k(), plan, g);
                 ClTensor dCols = inputGrad ? workspace(op, g.k(), plan, g) : null) {
                for (long g0 = 0; g0 < g.outputRows(); g0 += plan.rows()) {
                    int rows = (int) Math.min(plan.rows(), g.outputRows() - g0);
                    int cols1 = rows * g.wo();
                    long n0 = g0 / g.ho();
                    long samples = (g0 + rows - 1) / g.ho() - n0 + 1;
                    // dProd[F,J] = the chunk's dOut in the product's layout
                    b.context().launch(op, CL, "conv_gather_dout").mem(b.cl(dOut)).mem(dProd).i(g.f())
                            .i(g.positions()).l(g0 * g.wo()).i(cols1).l(n0).i((int) samples)
                            .runPackedRows(g.positions(), samples * g.f());
                    // cols[K,J] = im2col(x) again, from the cache's copy
                    im2col(op, x, cols, g, g0, rows);
                    // dW[F,K] (+)= dProd[F,J]·cols[K,J]ᵀ
                    b.gemmKernels().gemm(op, dProd, false, cols, true, dW, g.f(), g.k(), cols1, 1f,
                            g0 == 0 ? 0f : 1f);
                    if (inputGrad) {
                        // dCols[K,J] = W[F,K]ᵀ·dProd[F,J], then folded back onto x
                        b.gemmKernels().gemm(op, b.cl(w), true, dProd, false, dCols, g.k(), cols1, g.f(), 1f, 0f);
                        col2im(op, dCols, dX, g, g0, rows, n0, samples, !plan.aligned());
                    }
                }
            }
            return new Conv2dGrads(dX, dW, dB);
        } catch (RuntimeException e) {
            ClBackend.closeAll(dX, dW, dB);
            throw e;
        }
    }

    /** dX (+)= col2im(dCols) for the samples n0 .. n0+samples−1 that the chunk's output rows touch. */
    private void col2im(String op, ClTensor dCols, ClTensor dX, Geometry g, long g0, int rows, long n0, long samples,
                        boolean accumulate) {
        Conv2dParams p = g.p();
        b.context().launch(op, CL, "conv_col2im").mem(dCols).mem(dX).i(g.c()).i(g.h()).i(g.w()).i(g.kh())
                .i(g.kw()).i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho()).i(g.wo()).l(g0).i(rows)
                .l(n0).i((int) samples).i(accumulate ? 1 : 0)
                .runPackedRows(g.w(), samples * g.c() * g.h());
    }

    /** The device copy of x that this backend's forward put into the cache. */
    private ClTensor savedInput(String op, Conv2dCache cache) {
        if (cache.saved() instanceof Conv2dCache.SavedTensor st && st.tensor() instanceof ClTensor x
                && x.backend() == b && x.shape().equals(cache.inputShape())) {
            return x;
        }
        throw Contracts.bad(op, "cache", "the Conv2dCache of an opencl conv2d forward (holding its copy of x "
                + cache.inputShape() + ")", "a cache holding " + cache.saved());
    }
}
