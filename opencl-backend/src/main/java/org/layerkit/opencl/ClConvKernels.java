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
 * (R rows, J = R·WO columns), so the workspaces stay within a bound each whatever the batch:
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

    /** How conv2d computes (option {@code conv}). */
    enum Algorithm {
        /** im2col + the backend's GEMM, as described above. */
        IM2COL,
        /**
         * Each value as its defining sum, one work-item (dW: one work-group) per value, no workspace
         * ({@code conv_direct_*} in conv.cl): the variant im2col + GEMM was measured against.
         */
        DIRECT
    }

    private final ClBackend b;
    private final Algorithm algorithm;
    /** The most bytes one workspace of the forward (cols, the product) may take; chunks are sized to fit. */
    private final long forwardBytes;
    /**
     * The same for the backward (its gradient, cols, their gradient). Smaller on CPU devices: there the product
     * dW = dProd·colsᵀ sums over a chunk's J columns, and keeping J short keeps its operands in cache (see
     * {@link ClBackendProvider#CONV_WORKSPACE}).
     */
    private final long backwardBytes;

    ClConvKernels(ClBackend b, Algorithm algorithm, long forwardBytes, long backwardBytes) {
        this.b = b;
        this.algorithm = algorithm;
        this.forwardBytes = forwardBytes;
        this.backwardBytes = backwardBytes;
    }

    /** The same workspace bound both ways (tests). */
    ClConvKernels(ClBackend b, Algorithm algorithm, long workspaceBytes) {
        this(b, algorithm, workspaceBytes, workspaceBytes);
    }

    /** The algorithm in use. */
    Algorithm algorithm() {
        return algorithm;
    }

    /** The bytes one workspace of the forward may take. */
    long forwardBytes() {
        return forwardBytes;
    }

    /** The bytes one workspace of the backward may take. */
    long backwardBytes() {
        return backwardBytes;
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
     * {@code workspaceBytes}: whole samples when one sample fits, else as many output rows as fit (at least one).
     */
    Plan plan(String op, Geometry g, long workspaceBytes) {
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
        ClTensor out = null;
        ClTensor saved = null;
        try {
            out = b.allocate(outShape, op);
            // the cache's own copy of x (the caller may close or overwrite x)
            saved = b.allocate(x.shape(), op);
            b.elementwise().copyInto(op, b.cl(x), saved);
            if (algorithm == Algorithm.DIRECT) {
                directForward(op, b.cl(x), b.cl(w), bias == null ? null : b.cl(bias), out, g);
            } else {
                im2colForward(op, b.cl(x), b.cl(w), bias == null ? null : b.cl(bias), out, g);
            }
            Conv2dCache cache = new Conv2dCache(x.shape(), w.shape(), bias != null, p,
                    new Conv2dCache.SavedTensor(saved));
            return new Conv2dResult(out, cache);
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, saved);
            throw e;
        }
    }

    /** Per chunk: cols = im2col(x), prod = W·cols, out ← prod + bias. */
    private void im2colForward(String op, ClTensor x, ClTensor w, ClTensor bias, ClTensor out, Geometry g) {
        Plan plan = plan(op, g, forwardBytes);
        try (ClTensor cols = workspace(op, g.k(), plan, g); ClTensor prod = workspace(op, g.f(), plan, g)) {
            for (long g0 = 0; g0 < g.outputRows(); g0 += plan.rows()) {
                int rows = (int) Math.min(plan.rows(), g.outputRows() - g0);
                int j = rows * g.wo();
                // cols[K,J] = im2col(x) for this chunk's output rows
                im2col(op, x, cols, g, g0, rows);
                // prod[F,J] = W[F,K]·cols[K,J]
                b.gemmKernels().gemm(op, w, false, cols, false, prod, g.f(), j, g.k(), 1f, 0f);
                // out[n,f,p] = prod[f, j] + bias[f]
                long n0 = g0 / g.ho();
                long samples = (g0 + rows - 1) / g.ho() - n0 + 1;
                b.context().launch(op, CL, "conv_scatter_out").mem(prod).mem(bias == null ? prod : bias)
                        .i(bias == null ? 0 : 1).mem(out).i(g.f()).i(g.positions()).l(g0 * g.wo()).i(j).l(n0)
                        .i((int) samples).runGrid(g.positions(), g.f(), samples);
            }
        }
    }

    /** out = bias + the defining sum, one work-item per output. */
    private void directForward(String op, ClTensor x, ClTensor w, ClTensor bias, ClTensor out, Geometry g) {
        Conv2dParams p = g.p();
        b.context().launch(op, CL, "conv_direct_forward").mem(x).mem(w).mem(bias == null ? w : bias)
                .i(bias == null ? 0 : 1).mem(out).i(g.n()).i(g.c()).i(g.h()).i(g.w()).i(g.f()).i(g.kh()).i(g.kw())
                .i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho()).i(g.wo())
                .runGrid(g.wo(), g.ho(), (long) g.n() * g.f());
    }

    /** cols = the chunk's columns of x: one work-item per output column jw, output row and channel. */
    private void im2col(String op, ClTensor x, ClTensor cols, Geometry g, long g0, int rows) {
        Conv2dParams p = g.p();
        b.context().launch(op, CL, "conv_im2col").mem(x).mem(cols).i(g.c()).i(g.h()).i(g.w()).i(g.kh()).i(g.kw())
                .i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho()).i(g.wo()).l(g0).i(rows)
                .runGrid(g.wo(), rows, g.c());
    }

    // ---------------------------------------------------------------- backward

    Conv2dGrads backward(Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad) {
        Contracts.conv2dBackward(b, dOut, cache, w);
        String op = "conv2d.backward";
        ClTensor x = savedInput(op, cache);
        Geometry g = Geometry.of(cache.inputShape(), cache.weightShape(), cache.params());
        ClTensor dX = null;
        ClTensor dW = null;
        ClTensor dB = null;
        try {
            dW = b.allocate(w.shape(), op);
            dB = cache.hasBias() ? b.allocate(Shape.of(g.f()), op) : null;
            dX = inputGrad ? b.allocate(cache.inputShape(), op) : null;
            if (algorithm == Algorithm.DIRECT) {
                directBackward(op, b.cl(dOut), x, b.cl(w), dX, dW, dB, g);
            } else {
                if (dB != null) {
                    // dB[f] = Σ_{n,p} dOut[n,f,p]: the per-channel sums of the normalizations' reduction layout
                    b.elementwise().segmentSum(op, b.cl(dOut).mem(),
                            ClLayout.perChannel(g.n(), g.f(), g.positions()), 1f, dB.mem());
                }
                im2colBackward(op, b.cl(dOut), x, b.cl(w), dX, dW, g);
            }
            return new Conv2dGrads(dX, dW, dB);
        } catch (RuntimeException e) {
            ClBackend.closeAll(dX, dW, dB);
            throw e;
        }
    }

    /** Per chunk: dProd ← dOut, cols = im2col(x), dW (+)= dProd·colsᵀ; with dX: dCols = Wᵀ·dProd, dX ← col2im. */
    private void im2colBackward(String op, ClTensor dOut, ClTensor x, ClTensor w, ClTensor dX, ClTensor dW,
                                Geometry g) {
        Plan plan = plan(op, g, backwardBytes);
        if (dX != null && !plan.aligned()) {
            b.elementwise().fillInto(op, dX, 0f); // chunks split samples: col2im adds up
        }
        try (ClTensor dProd = workspace(op, g.f(), plan, g); ClTensor cols = workspace(op, g.k(), plan, g);
             ClTensor dCols = dX != null ? workspace(op, g.k(), plan, g) : null) {
            for (long g0 = 0; g0 < g.outputRows(); g0 += plan.rows()) {
                int rows = (int) Math.min(plan.rows(), g.outputRows() - g0);
                int j = rows * g.wo();
                long n0 = g0 / g.ho();
                long samples = (g0 + rows - 1) / g.ho() - n0 + 1;
                // dProd[F,J] = the chunk's dOut in the product's layout
                b.context().launch(op, CL, "conv_gather_dout").mem(dOut).mem(dProd).i(g.f()).i(g.positions())
                        .l(g0 * g.wo()).i(j).l(n0).i((int) samples).runGrid(g.positions(), g.f(), samples);
                // cols[K,J] = im2col(x) again, from the cache's copy
                im2col(op, x, cols, g, g0, rows);
                // dW[F,K] (+)= dProd[F,J]·cols[K,J]ᵀ
                b.gemmKernels().gemm(op, dProd, false, cols, true, dW, g.f(), g.k(), j, 1f, g0 == 0 ? 0f : 1f);
                if (dX != null) {
                    // dCols[K,J] = W[F,K]ᵀ·dProd[F,J], then folded back onto x
                    b.gemmKernels().gemm(op, w, true, dProd, false, dCols, g.k(), j, g.f(), 1f, 0f);
                    col2im(op, dCols, dX, g, g0, rows, n0, samples, !plan.aligned());
                }
            }
        }
    }

    /** dW (and dB) by one work-group per value, dX by one work-item per element. */
    private void directBackward(String op, ClTensor dOut, ClTensor x, ClTensor w, ClTensor dX, ClTensor dW,
                                ClTensor dB, Geometry g) {
        ClContext ctx = b.context();
        Conv2dParams p = g.p();
        int ly = Math.min(ctx.reductionGroup(CL, "conv_direct_dw"), ctx.treeWidth());
        ctx.launch(op, CL, "conv_direct_dw").mem(dOut).mem(x).mem(dW).mem(dB == null ? dW : dB)
                .i(dB == null ? 0 : 1).i(g.n()).i(g.c()).i(g.h()).i(g.w()).i(g.f()).i(g.kh()).i(g.kw())
                .i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho()).i(g.wo())
                .local((long) ly * ctx.accBytes()).run2d((long) g.f() * g.k(), ly, 1, ly);
        if (dX != null) {
            ctx.launch(op, CL, "conv_direct_dx").mem(dOut).mem(w).mem(dX).i(g.n()).i(g.c()).i(g.h()).i(g.w())
                    .i(g.f()).i(g.kh()).i(g.kw()).i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho())
                    .i(g.wo()).runGrid(g.w(), g.h(), (long) g.n() * g.c());
        }
    }

    /** dX (+)= col2im(dCols) for the samples n0 .. n0+samples−1 that the chunk's output rows touch. */
    private void col2im(String op, ClTensor dCols, ClTensor dX, Geometry g, long g0, int rows, long n0, long samples,
                        boolean accumulate) {
        Conv2dParams p = g.p();
        b.context().launch(op, CL, "conv_col2im").mem(dCols).mem(dX).i(g.c()).i(g.h()).i(g.w()).i(g.kh())
                .i(g.kw()).i(p.strideH()).i(p.strideW()).i(p.padH()).i(p.padW()).i(g.ho()).i(g.wo()).l(g0).i(rows)
                .l(n0).i((int) samples).i(accumulate ? 1 : 0).runGrid(g.w(), g.h(), samples * g.c());
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
