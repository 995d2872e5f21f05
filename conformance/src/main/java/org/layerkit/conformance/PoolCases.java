package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.abs;
import static org.layerkit.conformance.Reference.widen;

import java.util.ArrayList;
import java.util.List;
import org.layerkit.api.MaxPool2dCache;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Op;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Reference.MaxPool;

/**
 * Cases of max pooling (forward values and argmax bit for bit, ties, NaN and infinities, overlapping windows whose
 * backward adds up) and of global average pooling. Bounds in {@code docs/ops/pooling.md}.
 */
final class PoolCases {
    /** dX of global average pooling: one or two roundings of dOut/(H·W), γ₂ = 2u/(1 − 2u). */
    static final Tolerance AVG_BACKWARD = new Tolerance(0, 2 * ConvCases.U / (1 - 2 * ConvCases.U));

    private PoolCases() {
    }

    /** The input values of a max-pool case. */
    enum Values {
        /** N(0,1): ties have probability zero. */
        GAUSSIAN,
        /** Integers 0..2: most windows hold ties, which must go to the first in row-major window order. */
        TIES,
        /** N(0,1) with NaN, +∞ and −∞ sprinkled in, and some windows of −∞ only. */
        SPECIAL
    }

    /** One max-pool geometry: x [N,C,H,W] and the window. */
    record Geometry(int n, int c, int h, int w, Pool2dParams p) {
        Shape xShape() {
            return Shape.of(n, c, h, w);
        }

        Shape outShape() {
            return Shape.of(n, c, (int) p.outputHeight(h), (int) p.outputWidth(w));
        }

        /** Windows that can cover one input element: 1 without overlap, more where stride &lt; kernel. */
        long overlap() {
            return (long) ceilDiv(p.kernelH(), p.strideH()) * ceilDiv(p.kernelW(), p.strideW());
        }

        private static int ceilDiv(int a, int b) {
            return (a + b - 1) / b;
        }

        ConformanceCase.Builder builder(String what, Values v) {
            ConformanceCase.Builder b = ConformanceCase.builder("maxpool2d." + what, Op.MAXPOOL2D)
                    .shape(n, c, h, w).param("N", n).param("C", c).param("H", h).param("W", w)
                    .param("K", p.kernelH() + "x" + p.kernelW())
                    .param("stride", p.strideH() == p.strideW() ? String.valueOf(p.strideH())
                            : p.strideH() + "x" + p.strideW());
            if (v != Values.GAUSSIAN) {
                b.param("values", v.name().toLowerCase(java.util.Locale.ROOT));
            }
            return b.tolerance(Tolerance.EXACT);
        }

        float[] input(CaseContext ctx, Values v) {
            int size = xShape().size();
            float[] x = ctx.normal(size, 0, 1);
            if (v == Values.TIES) {
                for (int i = 0; i < size; i++) {
                    x[i] = ctx.random().nextInt(3);
                }
            } else if (v == Values.SPECIAL) {
                for (int i = 0; i < size; i++) {
                    double u = ctx.random().nextDouble();
                    if (u < 0.04) {
                        x[i] = Float.NaN;
                    } else if (u < 0.08) {
                        x[i] = Float.POSITIVE_INFINITY;
                    } else if (u < 0.15) {
                        x[i] = Float.NEGATIVE_INFINITY;
                    }
                }
                // the first plane's first rows all −∞: windows whose maximum is −∞, at their first position
                for (int i = 0; i < Math.min(size, p.kernelH() * w); i++) {
                    x[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return x;
        }
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        List<Geometry> shapes = List.of(
                new Geometry(2, 3, 8, 8, Pool2dParams.of(2, 2)),               // the usual 2×2 pool
                new Geometry(2, 3, 7, 9, Pool2dParams.of(2, 2)),               // odd: the last row and column dropped
                new Geometry(2, 3, 9, 9, Pool2dParams.of(3, 2)),               // overlapping windows
                new Geometry(1, 2, 6, 5, Pool2dParams.of(3, 1)),               // stride 1, N = 1
                new Geometry(2, 2, 7, 10, new Pool2dParams(2, 3, 1, 2)),       // non-square window, stride per axis
                new Geometry(1, 1, 5, 5, Pool2dParams.of(2, 3)),               // stride larger than the window, C = 1
                new Geometry(2, 4, 5, 5, Pool2dParams.of(5, 5)),               // one window over the whole plane
                new Geometry(3, 5, 1, 1, Pool2dParams.of(1, 1)),               // 1×1 input
                new Geometry(128, 32, 28, 28, Pool2dParams.of(2, 2)));         // a CNN's first pool at N = 128
        for (Geometry g : shapes) {
            cases.add(maxPool(g, Values.GAUSSIAN, false));
        }
        for (Geometry g : shapes) {
            cases.add(maxPool(g, Values.GAUSSIAN, true));
        }
        for (boolean backward : new boolean[] {false, true}) {
            cases.add(maxPool(new Geometry(2, 3, 8, 8, Pool2dParams.of(2, 2)), Values.TIES, backward));
            cases.add(maxPool(new Geometry(2, 3, 9, 9, Pool2dParams.of(3, 2)), Values.TIES, backward));
            cases.add(maxPool(new Geometry(2, 3, 8, 9, Pool2dParams.of(2, 2)), Values.SPECIAL, backward));
            cases.add(maxPool(new Geometry(2, 3, 9, 9, Pool2dParams.of(3, 2)), Values.SPECIAL, backward));
        }
        for (int[] s : new int[][] {{2, 3, 5, 7}, {1, 1, 1, 1}, {4, 8, 33, 33}, {128, 64, 7, 7}}) {
            cases.add(avgPool(s, false));
            cases.add(avgPool(s, true));
        }
        return cases;
    }

    // =================================================================================================== maxpool

    /**
     * Forward: out and argmax bit for bit (a maximum rounds nothing), x untouched, the cache's shape and window.
     * Backward: dX against the reference, exact without overlap, else under c(m)·Σ|dOut| for sums of at most m
     * windows; dOut and the cache untouched.
     */
    private static ConformanceCase maxPool(Geometry g, Values v, boolean backward) {
        return g.builder(backward ? "backward" : "forward", v).check(ctx -> {
            float[] x = g.input(ctx, v);
            Tensor tx = ctx.upload(x, g.xShape());
            MaxPool2dResult r = ctx.track(ctx.backend().maxPool2dForward(tx, g.p()));
            MaxPool e = Reference.maxPool2dForward(widen(x), g.n(), g.c(), g.h(), g.w(), g.p());
            if (!backward) {
                ctx.expectIdentical("out", r.out(), g.outShape(), floats(e.out()));
                ctx.expectIdentical("cache.argmax (h·W + w of each window's maximum; ties → first, NaN wins)",
                        r.cache().argmax(), g.outShape(), floats(e.argmax()));
                MaxPool2dCache c = r.cache();
                ctx.check(c.inputShape().equals(g.xShape()) && c.params().equals(g.p()), "cache: expected x "
                        + g.xShape() + " and " + g.p() + ", got " + c.inputShape() + " and " + c.params());
                ctx.expectIdentical("x (an input, must be left untouched)", tx, g.xShape(), x);
                return;
            }
            float[] dOut = ctx.normal(g.outShape().size(), 0, 1);
            Tensor tdOut = ctx.upload(dOut, g.outShape());
            float[] argmax = r.cache().argmax().toArray();
            Tensor dX = ctx.track(ctx.backend().maxPool2dBackward(tdOut, r.cache()));
            double[] ed = Reference.maxPool2dBackward(widen(dOut), e.argmax(), g.n(), g.c(), g.h(), g.w(), g.p());
            Tolerance tol = g.overlap() == 1 ? Tolerance.EXACT : ConvCases.sumTolerance(g.overlap(),
                    Reference.maxPool2dBackward(abs(widen(dOut)), e.argmax(), g.n(), g.c(), g.h(), g.w(), g.p()));
            ctx.expectClose("dX", dX, g.xShape(), ed, tol);
            ctx.expectIdentical("dOut (an input, must be left untouched)", tdOut, g.outShape(), dOut);
            ctx.expectIdentical("cache.argmax after backward (an input)", r.cache().argmax(), g.outShape(), argmax);
        });
    }

    private static float[] floats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    private static float[] floats(int[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = v[i];
        }
        return f;
    }

    // ================================================================================================ global avg

    /**
     * Forward: out [N,C] under c(H·W + 1)·max mean|x| (a sum of H·W terms and a scaling); backward: dX = dOut/(H·W)
     * broadcast, within γ₂ relative. Inputs untouched.
     */
    private static ConformanceCase avgPool(int[] s, boolean backward) {
        int n = s[0];
        int c = s[1];
        int hw = s[2] * s[3];
        Shape xs = Shape.of(n, c, s[2], s[3]);
        Shape os = Shape.of(n, c);
        return ConformanceCase.builder(backward ? "global_avgpool.backward" : "global_avgpool.forward",
                        Op.GLOBAL_AVGPOOL).shape(s).param("N", n).param("C", c).param("H", s[2]).param("W", s[3])
                .tolerance(AVG_BACKWARD).check(ctx -> {
                    if (!backward) {
                        // a common offset per plane: the mean is not near zero, so a sum that loses bits shows
                        float[] x = new float[xs.size()];
                        for (int p = 0; p < n * c; p++) {
                            double shift = ctx.random().nextDouble(-3, 3);
                            for (int k = 0; k < hw; k++) {
                                x[p * hw + k] = (float) (shift + ctx.random().nextGaussian());
                            }
                        }
                        Tensor tx = ctx.upload(x, xs);
                        Tensor out = ctx.track(ctx.backend().globalAvgPoolForward(tx));
                        ctx.expectClose("out", out, os, Reference.globalAvgPoolForward(widen(x), n, c, hw),
                                ConvCases.sumTolerance(hw + 1L,
                                        Reference.globalAvgPoolForward(abs(widen(x)), n, c, hw)));
                        ctx.expectIdentical("x (an input, must be left untouched)", tx, xs, x);
                        return;
                    }
                    float[] dOut = ctx.normal(os.size(), 0, 1);
                    Tensor tdOut = ctx.upload(dOut, os);
                    Tensor dX = ctx.track(ctx.backend().globalAvgPoolBackward(tdOut, xs));
                    ctx.expectClose("dX", dX, xs, Reference.globalAvgPoolBackward(widen(dOut), n, c, hw));
                    ctx.expectIdentical("dOut (an input, must be left untouched)", tdOut, os, dOut);
                });
    }
}
