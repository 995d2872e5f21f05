package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.abs;
import static org.layerkit.conformance.Reference.widen;

import java.util.ArrayList;
import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.Conv2dCache;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Reference.Conv2dBackward;
import org.layerkit.conformance.Reference.Conv2dShape;

/**
 * Cases of conv2d: forward and backward over odd and non-square sizes, strides 1–3, padding 0, 1, 2 and larger
 * than the kernel, 1×1 to 7×7 kernels, C = 1, N = 1, no bias, dX skipped, two shapes large enough to reach every
 * blocking path of a backend, inputs left untouched, and the cache's rules (x closed or changed after the forward).
 *
 * <p>Bounds (derivation in {@code docs/ops/conv2d.md}): every value is a sum of n products, n = C·KH·KW + 1 for out,
 * N·H'·W' for dW and dB, F·KH·KW for dX; the tolerance is c(n)·max Σ|t| with c(n) = min(γ_n, γ̃_n(10)) and the
 * magnitudes Σ|t| from the reference run on |x|, |w|, |dOut|.
 */
final class ConvCases {
    /** The unit roundoff of float32, 2⁻²⁴. */
    static final double U = 0x1p-24;
    /** λ of the probabilistic bound: a value fails it with probability below 2n·e^(−λ²/2) ≈ 4·10⁻²²·n. */
    static final double LAMBDA = 10;

    private ConvCases() {
    }

    // ============================================================================================== error bounds

    /**
     * c(n) = min(γ_n, γ̃_n(λ)): the factor that bounds the error of a float32 sum of n terms relative to Σ|t|, the
     * worst case γ_n = n·u/(1 − n·u) (Higham §3.1, any order of summation) or, smaller from n ≈ 100 on, the
     * probabilistic γ̃_n(λ) = exp(λ·√n·u + n·u²/(1 − u)) − 1 (Higham and Mary 2019, independent rounding errors).
     */
    static double sumFactor(long n) {
        double nu = n * U;
        double worst = nu < 1 ? nu / (1 - nu) : Double.POSITIVE_INFINITY;
        double probabilistic = Math.expm1(LAMBDA * Math.sqrt(n) * U + n * U * U / (1 - U));
        return Math.min(worst, probabilistic);
    }

    /** The tolerance of values that are float32 sums of n terms whose magnitudes Σ|t| are {@code magnitudes}. */
    static Tolerance sumTolerance(long n, double[] magnitudes) {
        double max = 0;
        for (double m : magnitudes) {
            max = Math.max(max, m);
        }
        return new Tolerance(sumFactor(n) * max, 0);
    }

    // ================================================================================================== geometry

    /** One conv2d geometry: x [N,C,H,W], w [F,C,KH,KW], stride and padding per axis, with or without bias. */
    record Geometry(int n, int c, int h, int w, int f, int kh, int kw, int sh, int sw, int ph, int pw, boolean bias) {
        static Geometry square(int n, int c, int hw, int f, int k, int stride, int pad) {
            return new Geometry(n, c, hw, hw, f, k, k, stride, stride, pad, pad, true);
        }

        Geometry noBias() {
            return new Geometry(n, c, h, w, f, kh, kw, sh, sw, ph, pw, false);
        }

        Conv2dParams params() {
            return Conv2dParams.of(sh, sw, ph, pw);
        }

        Conv2dShape shape() {
            return new Conv2dShape(n, c, h, w, f, kh, kw, params());
        }

        Shape xShape() {
            return Shape.of(n, c, h, w);
        }

        Shape wShape() {
            return Shape.of(f, c, kh, kw);
        }

        Shape outShape() {
            return shape().outputShape();
        }

        ConformanceCase.Builder builder(String what) {
            ConformanceCase.Builder b = ConformanceCase.builder("conv2d." + what, Op.CONV2D).shape(n, c, h, w)
                    .shape(f, c, kh, kw).param("N", n).param("C", c).param("H", h).param("W", w).param("F", f)
                    .param("K", kh + "x" + kw).param("stride", sh == sw ? String.valueOf(sh) : sh + "x" + sw)
                    .param("pad", ph == pw ? String.valueOf(ph) : ph + "x" + pw);
            if (!bias) {
                b.param("bias", false);
            }
            return b;
        }
    }

    /** Seeded inputs of one call and their tensors. */
    static final class Inputs {
        final float[] x;
        final float[] w;
        final float[] b;
        final Tensor tx;
        final Tensor tw;
        final Tensor tb;

        Inputs(CaseContext ctx, Geometry g) {
            x = ctx.normal(g.xShape().size(), 0, 1);
            w = ctx.normal(g.wShape().size(), 0, 1);
            b = g.bias() ? ctx.normal(g.f(), 0, 1) : null;
            tx = ctx.upload(x, g.xShape());
            tw = ctx.upload(w, g.wShape());
            tb = g.bias() ? ctx.upload(b, Shape.of(g.f())) : null;
        }

        double[] bias() {
            return b == null ? null : widen(b);
        }
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        List<Geometry> shapes = List.of(
                new Geometry(2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, true),     // odd, non-square input
                Geometry.square(2, 3, 9, 5, 3, 2, 1),                    // stride 2
                new Geometry(3, 2, 6, 7, 3, 3, 3, 1, 1, 0, 0, true),     // padding 0
                Geometry.square(2, 3, 5, 4, 3, 1, 2),                    // padding 2
                new Geometry(1, 2, 4, 3, 2, 1, 1, 1, 1, 1, 1, true),     // padding larger than a 1×1 kernel: the border is bias only
                Geometry.square(4, 16, 8, 8, 1, 1, 0),                   // 1×1 kernel
                Geometry.square(2, 3, 16, 4, 7, 2, 3),                   // 7×7 kernel, stride 2, padding 3 (a ResNet stem)
                Geometry.square(8, 1, 28, 32, 3, 1, 1),                  // C = 1 (the first layer of an MNIST net)
                Geometry.square(1, 4, 6, 3, 3, 1, 1),                    // N = 1
                new Geometry(2, 3, 8, 10, 2, 3, 5, 1, 2, 1, 2, true),    // non-square kernel, stride and padding per axis
                new Geometry(2, 2, 3, 3, 3, 5, 5, 1, 1, 1, 1, true),     // kernel as large as the padded input: 1×1 output
                Geometry.square(1, 2, 9, 2, 2, 3, 0),                    // stride larger than the kernel
                Geometry.square(2, 3, 6, 4, 3, 1, 1).noBias(),           // no bias
                Geometry.square(8, 16, 33, 24, 3, 1, 1),                 // large and odd: every blocking path
                Geometry.square(128, 32, 14, 64, 3, 1, 1));              // the second layer of a small CNN at N = 128
        for (Geometry g : shapes) {
            cases.add(forward(g));
        }
        for (Geometry g : shapes) {
            cases.add(backward(g, true));
        }
        cases.add(backward(Geometry.square(2, 1, 12, 4, 3, 1, 1), false));
        cases.add(backward(new Geometry(3, 2, 7, 6, 3, 3, 3, 2, 2, 1, 1, true).noBias(), false));
        cases.add(backwardTwice(Geometry.square(2, 3, 6, 4, 3, 2, 1)));
        cases.add(lifetime(Geometry.square(2, 3, 6, 4, 3, 1, 1), false));
        cases.add(lifetime(Geometry.square(2, 3, 6, 4, 3, 1, 1), true));
        return cases;
    }

    // =================================================================================================== forward

    private static ConformanceCase forward(Geometry g) {
        return g.builder("forward").check(ctx -> {
            Inputs in = new Inputs(ctx, g);
            Conv2dResult r = ctx.track(ctx.backend().conv2dForward(in.tx, in.tw, in.tb, g.params()));
            expectForward(ctx, g, in, r.out());
            expectInputsUntouched(ctx, g, in);
            Conv2dCache cache = r.cache();
            ctx.check(cache != null && cache.inputShape().equals(g.xShape()) && cache.weightShape().equals(g.wShape())
                            && cache.hasBias() == g.bias() && cache.params().equals(g.params()),
                    "cache: expected x " + g.xShape() + ", w " + g.wShape() + ", bias " + g.bias() + ", " + g.params()
                            + ", got " + cache);
        });
    }

    /** out against the reference under c(C·KH·KW + 1)·max(conv(|x|, |w|) + |bias|). */
    static void expectForward(CaseContext ctx, Geometry g, Inputs in, Tensor out) {
        Conv2dShape s = g.shape();
        double[] e = Reference.conv2dForward(widen(in.x), widen(in.w), in.bias(), s);
        double[] magnitude = Reference.conv2dForward(abs(widen(in.x)), abs(widen(in.w)), abs(in.bias()), s);
        ctx.expectClose("out", out, g.outShape(), e, sumTolerance((long) g.c() * g.kh() * g.kw() + 1, magnitude));
    }

    static void expectInputsUntouched(CaseContext ctx, Geometry g, Inputs in) {
        ctx.expectIdentical("x (an input, must be left untouched)", in.tx, g.xShape(), in.x);
        ctx.expectIdentical("w (an input, must be left untouched)", in.tw, g.wShape(), in.w);
        if (in.tb != null) {
            ctx.expectIdentical("bias (an input, must be left untouched)", in.tb, Shape.of(g.f()), in.b);
        }
    }

    // ================================================================================================== backward

    private static ConformanceCase backward(Geometry g, boolean inputGrad) {
        ConformanceCase.Builder b = g.builder(inputGrad ? "backward" : "backward.no_input_grad");
        return b.check(ctx -> {
            Inputs in = new Inputs(ctx, g);
            Conv2dResult r = ctx.track(ctx.backend().conv2dForward(in.tx, in.tw, in.tb, g.params()));
            float[] dOut = ctx.normal(g.outShape().size(), 0, 1);
            Tensor tdOut = ctx.upload(dOut, g.outShape());
            Conv2dGrads grads = ctx.track(ctx.backend().conv2dBackward(tdOut, r.cache(), in.tw, inputGrad));
            expectGrads(ctx, g, in, dOut, grads, inputGrad, "");
            ctx.expectIdentical("dOut (an input, must be left untouched)", tdOut, g.outShape(), dOut);
            expectInputsUntouched(ctx, g, in);
            ctx.check(!r.cache().isClosed(), "cache: the backward closed it; the caller owns it");
        });
    }

    /**
     * dX, dW, dB against the reference: dW and dB under c(N·H'·W')·max Σ|dOut|·|x̃| (resp. Σ|dOut|), dX under
     * c(F·KH·KW)·max Σ|dOut|·|w|. Without {@code inputGrad}, dX must be null; without a bias, dB.
     */
    static void expectGrads(CaseContext ctx, Geometry g, Inputs in, float[] dOut, Conv2dGrads grads,
                            boolean inputGrad, String after) {
        Conv2dShape s = g.shape();
        Conv2dBackward e = Reference.conv2dBackward(widen(dOut), widen(in.x), widen(in.w), g.bias(), s);
        Conv2dBackward m = Reference.conv2dBackward(abs(widen(dOut)), abs(widen(in.x)), abs(widen(in.w)), g.bias(),
                s);
        long perWeight = (long) g.n() * s.outH() * s.outW();
        if (inputGrad) {
            ctx.expectClose("dX" + after, grads.dX(), g.xShape(), e.dx(),
                    sumTolerance((long) g.f() * g.kh() * g.kw(), m.dx()));
        } else {
            ctx.check(grads.dX() == null, "dX: expected null (inputGrad = false), got " + grads.dX());
        }
        ctx.expectClose("dW" + after, grads.dW(), g.wShape(), e.dw(), sumTolerance(perWeight, m.dw()));
        if (g.bias()) {
            ctx.expectClose("dB" + after, grads.dB(), Shape.of(g.f()), e.db(), sumTolerance(perWeight, m.db()));
        } else {
            ctx.check(grads.dB() == null, "dB: expected null (the forward had no bias), got " + grads.dB());
        }
    }

    /** The cache serves any number of backwards: a second one gives the same gradients bit for bit. */
    private static ConformanceCase backwardTwice(Geometry g) {
        return g.builder("backward.twice").tolerance(Tolerance.EXACT).check(ctx -> {
            Inputs in = new Inputs(ctx, g);
            Conv2dResult r = ctx.track(ctx.backend().conv2dForward(in.tx, in.tw, in.tb, g.params()));
            Tensor tdOut = ctx.upload(ctx.normal(g.outShape().size(), 0, 1), g.outShape());
            Conv2dGrads first = ctx.track(ctx.backend().conv2dBackward(tdOut, r.cache(), in.tw));
            float[] dX = first.dX().toArray();
            float[] dW = first.dW().toArray();
            float[] dB = first.dB().toArray();
            first.close();
            Conv2dGrads second = ctx.track(ctx.backend().conv2dBackward(tdOut, r.cache(), in.tw));
            ctx.expectIdentical("dX of the second backward", second.dX(), g.xShape(), dX);
            ctx.expectIdentical("dW of the second backward", second.dW(), g.wShape(), dW);
            ctx.expectIdentical("dB of the second backward", second.dB(), Shape.of(g.f()), dB);
        });
    }

    /**
     * The cache's rules ({@link Conv2dCache}): the caller may close x after the forward (the backward still sees x
     * as it was, even once x's storage could have been handed out again), and an in-place change of x before the
     * backward gives the gradients of the forward's x or an {@link IllegalStateException} naming the op and the
     * cache — never gradients of another input.
     */
    private static ConformanceCase lifetime(Geometry g, boolean modify) {
        String what = modify ? "backward.after_x_modified_in_place" : "backward.after_x_closed";
        return g.builder(what).check(ctx -> {
            Backend b = ctx.backend();
            Inputs in = new Inputs(ctx, g);
            float[] dOut = ctx.normal(g.outShape().size(), 0, 1);
            Tensor tdOut = ctx.upload(dOut, g.outShape());
            Tensor tx = b.upload(in.x, g.xShape());
            Conv2dResult r = ctx.track(b.conv2dForward(tx, in.tw, in.tb, g.params()));
            Conv2dGrads grads;
            if (modify) {
                ctx.track(tx);
                b.fill(tx, 7f);
                try {
                    grads = ctx.track(b.conv2dBackward(tdOut, r.cache(), in.tw));
                } catch (IllegalStateException refused) {
                    ctx.expectError(IllegalStateException.class, "conv2d\\.backward", "cache", () -> {
                        throw refused;
                    });
                    return;
                }
            } else {
                tx.close();
                // new tensors of x's shape: a backend that recycled x's storage would hand it out here
                for (int i = 0; i < 3; i++) {
                    b.fill(ctx.track(b.zeros(g.xShape())), 7f);
                }
                grads = ctx.track(b.conv2dBackward(tdOut, r.cache(), in.tw));
            }
            expectGrads(ctx, g, in, dOut, grads, true, modify ? " after x was modified in place" : " after x was closed");
        });
    }
}
