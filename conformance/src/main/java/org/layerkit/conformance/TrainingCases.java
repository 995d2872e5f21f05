package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.widen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.layerkit.api.LossResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Cases of the training ops: gemm, bias, relu, softmax cross-entropy, argmax, sum of squares, optimizers, copies. */
final class TrainingCases {
    /**
     * One float operation per element of exact float inputs (bias add, scale): a correctly rounded result is within
     * U·|exact|.
     */
    static final Tolerance ONE_ROUNDING = Tolerance.derived("ONE_ROUNDING", 0, Tolerance.U);

    private TrainingCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        gemm(cases);
        bias(cases);
        relu(cases);
        softmax(cases);
        argmax(cases);
        sumOfSquares(cases);
        optimizers(cases);
        elementwise(cases);
        return cases;
    }

    // ======================================================================================================== gemm

    private static void gemm(List<ConformanceCase> cases) {
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                cases.add(gemmCase("gemm", 37, 53, 29, ta, tb, 1f, 0f, false));
            }
        }
        cases.add(gemmCase("gemm.alpha_beta", 33, 17, 65, false, false, 0.5f, 2f, false));
        cases.add(gemmCase("gemm.alpha_beta", 33, 17, 65, true, true, -1.25f, 0.75f, false));
        cases.add(gemmCase("gemm.alpha_beta", 9, 4, 7, true, false, 1f, 1f, false));
        cases.add(gemmCase("gemm.beta0_ignores_nan", 8, 5, 3, false, false, 1f, 0f, true));
        cases.add(gemmCase("gemm.beta0_ignores_nan", 8, 5, 3, false, true, 2f, 0f, true));
        cases.add(gemmCase("gemm", 1, 1, 1, false, false, 1f, 0f, false));
        cases.add(gemmCase("gemm", 1000, 333, 1, false, false, 1f, 0f, false));
        cases.add(gemmCase("gemm", 128, 784, 256, false, false, 1f, 0f, false));
        cases.add(gemmCase("gemm", 128, 256, 784, false, true, 1f, 0f, false));
        cases.add(matmulCase(31, 19, 23));
    }

    /** C = α·op(A)·op(B) + β·C for op(A) [M,K], op(B) [K,N]; with nanC, C starts as NaN and β must be 0. */
    private static ConformanceCase gemmCase(String base, int m, int k, int n, boolean ta, boolean tb, float alpha,
                                            float beta, boolean nanC) {
        int aRows = ta ? k : m;
        int aCols = ta ? m : k;
        int bRows = tb ? n : k;
        int bCols = tb ? k : n;
        ConformanceCase.Builder b = ConformanceCase.builder(base, Op.GEMM).shape(aRows, aCols).shape(bRows, bCols)
                .shape(m, n).param("M", m).param("K", k).param("N", n).param("transA", ta).param("transB", tb);
        if (alpha != 1f || beta != 0f) {
            b.param("alpha", alpha).param("beta", beta);
        }
        return b.check(ctx -> {
            float[] a = ctx.normal(aRows * aCols, 0, 1);
            float[] bm = ctx.normal(bRows * bCols, 0, 1);
            float[] c = nanC ? nans(m * n) : ctx.normal(m * n, 0, 1);
            Tensor tc = ctx.upload(c, Shape.of(m, n));
            Tensor tA = ctx.upload(a, Shape.of(aRows, aCols));
            Tensor tB = ctx.upload(bm, Shape.of(bRows, bCols));
            ctx.backend().gemm(tA, ta, tB, tb, tc, alpha, beta);
            double[] e = Reference.gemm(widen(a), aRows, aCols, ta, widen(bm), bRows, bCols, tb, widen(c), alpha,
                    beta);
            ctx.expectClose("C", tc, Shape.of(m, n), e, Bounds.gemm(a, aRows, aCols, ta, bm, bRows, bCols, tb, c,
                    alpha, beta));
            ctx.expectIdentical("A (an input, must be left untouched)", tA, Shape.of(aRows, aCols), a);
            ctx.expectIdentical("B (an input, must be left untouched)", tB, Shape.of(bRows, bCols), bm);
        });
    }

    private static ConformanceCase matmulCase(int m, int k, int n) {
        return ConformanceCase.builder("gemm.matmul", Op.GEMM).shape(k, m).shape(k, n).param("M", m).param("K", k)
                .param("N", n).param("transA", true).param("transB", false)
                .check(ctx -> {
                    float[] a = ctx.normal(k * m, 0, 1);
                    float[] bm = ctx.normal(k * n, 0, 1);
                    Tensor c = ctx.track(ctx.backend().matmul(ctx.upload(a, Shape.of(k, m)), true,
                            ctx.upload(bm, Shape.of(k, n)), false));
                    ctx.expectClose("A^T·B", c, Shape.of(m, n),
                            Reference.gemm(widen(a), k, m, true, widen(bm), k, n, false, null, 1, 0),
                            Bounds.gemm(a, k, m, true, bm, k, n, false, null, 1, 0));
                });
    }

    private static float[] nans(int n) {
        float[] v = new float[n];
        Arrays.fill(v, Float.NaN);
        return v;
    }

    // ======================================================================================================== bias

    private static void bias(List<ConformanceCase> cases) {
        for (int[] s : new int[][] {{1000, 333}, {2, 1}, {1, 7}}) {
            int n = s[0];
            int d = s[1];
            cases.add(ConformanceCase.builder("bias.add", Op.BIAS).shape(n, d).shape(d).param("N", n).param("D", d)
                    .tolerance(ONE_ROUNDING).check(ctx -> {
                        float[] x = ctx.normal(n * d, 0, 1);
                        float[] bias = ctx.normal(d, 0, 1);
                        Tensor tx = ctx.upload(x, Shape.of(n, d));
                        Tensor tb = ctx.upload(bias, Shape.of(d));
                        ctx.backend().addBias(tx, tb);
                        ctx.expectClose("x + bias", tx, Shape.of(n, d),
                                Reference.addBias(widen(x), n, d, widen(bias)));
                        ctx.expectIdentical("bias (an input, must be left untouched)", tb, Shape.of(d), bias);
                    }));
        }
        for (int[] s : new int[][] {{1000, 333}, {65536, 64}, {1, 7}, {5, 1}}) {
            int n = s[0];
            int d = s[1];
            cases.add(ConformanceCase.builder("bias.column_sum", Op.BIAS).shape(n, d).param("N", n).param("D", d)
                    .check(ctx -> {
                        float[] x = ctx.normal(n * d, 0, 1);
                        Tensor sum = ctx.track(ctx.backend().columnSum(ctx.upload(x, Shape.of(n, d))));
                        ctx.expectClose("column sum", sum, Shape.of(d), Reference.columnSum(widen(x), n, d),
                                Bounds.columnSum(x, n, d));
                    }));
        }
    }

    // ======================================================================================================== relu

    /** Inputs with exact zeros and negative zeros among N(0,1) values: relu and its gradient are zero there. */
    private static float[] withZeros(CaseContext ctx, int size) {
        float[] x = ctx.normal(size, 0, 1);
        for (int i = 0; i < size; i += 7) {
            x[i] = (i / 7) % 2 == 0 ? 0f : -0f;
        }
        return x;
    }

    private static void relu(List<ConformanceCase> cases) {
        for (int[] dims : new int[][] {{1000, 333}, {8, 3, 5, 7}, {1}}) {
            Shape s = Shape.of(dims);
            cases.add(ConformanceCase.builder("relu.forward", Op.RELU).shape(dims).param("shape", s)
                    .tolerance(Tolerance.EXACT).check(ctx -> {
                        float[] x = withZeros(ctx, s.size());
                        Tensor tx = ctx.upload(x, s);
                        Tensor y = ctx.track(ctx.backend().relu(tx));
                        ctx.expectClose("relu(x)", y, s, Reference.relu(widen(x)));
                        ctx.expectIdentical("x (an input, must be left untouched)", tx, s, x);
                    }));
            cases.add(ConformanceCase.builder("relu.backward", Op.RELU).shape(dims).param("shape", s)
                    .tolerance(Tolerance.EXACT).check(ctx -> {
                        float[] x = withZeros(ctx, s.size());
                        float[] dOut = ctx.normal(s.size(), 0, 1);
                        Tensor dx = ctx.track(ctx.backend().reluBackward(ctx.upload(dOut, s), ctx.upload(x, s)));
                        ctx.expectClose("dX", dx, s, Reference.reluBackward(widen(dOut), widen(x)));
                    }));
        }
        // IEEE special values among normal ones (every position of a vector loop and its tail): NaN propagates
        // (relu(NaN) = NaN, never 0), relu(−∞) = 0, relu(+∞) = +∞; the gradient is dOut wherever x is not ≤ 0 (NaN
        // and +∞ included), as PyTorch's threshold_backward
        Shape s = Shape.of(67, 31);
        cases.add(ConformanceCase.builder("relu.forward", Op.RELU).shape(67, 31).param("values", "nan,inf")
                .tolerance(Tolerance.EXACT).check(ctx -> {
                    float[] x = withSpecials(ctx, s.size());
                    Tensor y = ctx.track(ctx.backend().relu(ctx.upload(x, s)));
                    ctx.expectClose("relu(x)", y, s, Reference.relu(widen(x)));
                }));
        cases.add(ConformanceCase.builder("relu.backward", Op.RELU).shape(67, 31).param("values", "nan,inf")
                .tolerance(Tolerance.EXACT).check(ctx -> {
                    float[] x = withSpecials(ctx, s.size());
                    float[] dOut = ctx.normal(s.size(), 0, 1);
                    Tensor dx = ctx.track(ctx.backend().reluBackward(ctx.upload(dOut, s), ctx.upload(x, s)));
                    ctx.expectClose("dX", dx, s, Reference.reluBackward(widen(dOut), widen(x)));
                }));
    }

    /** Quiet NaN, a negative NaN, ±∞, ±0, the smallest subnormals and the largest finite values. */
    static final float[] SPECIALS = {Float.NaN, Float.intBitsToFloat(0xFFC00001), Float.NEGATIVE_INFINITY,
        Float.POSITIVE_INFINITY, -0f, 0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE};

    /** N(0,1) values with the {@link #SPECIALS} at every fifth position, cycling, so each lands at many offsets. */
    private static float[] withSpecials(CaseContext ctx, int size) {
        float[] x = ctx.normal(size, 0, 1);
        for (int i = 0, k = 0; i < size; i += 5, k++) {
            x[i] = SPECIALS[k % SPECIALS.length];
        }
        return x;
    }

    // ===================================================================================================== softmax

    private static void softmax(List<ConformanceCase> cases) {
        for (int[] s : new int[][] {{64, 10}, {1000, 333}, {7, 3}, {1, 1}}) {
            cases.add(softmaxCase("softmax_cross_entropy", s[0], s[1], 3.0));
        }
        // logits spread over ±1e4: exp overflows in float unless the row maximum is subtracted first
        cases.add(softmaxCase("softmax_cross_entropy.huge_logits", 16, 10, 1e4));
    }

    /** The loss and dLogits under SOFTMAX_LOSS and SOFTMAX_DLOGITS, derived from the instance's logits. */
    private static ConformanceCase softmaxCase(String base, int n, int k, double spread) {
        ConformanceCase.Builder b = ConformanceCase.builder(base, Op.SOFTMAX_CROSS_ENTROPY).shape(n, k).shape(n)
                .param("N", n).param("K", k);
        if (spread >= 1e4) {
            b.param("scale", "1e4");
        }
        return b.check(ctx -> {
            float[] logits = ctx.uniform(n * k, -spread, spread);
            int[] labels = new int[n];
            float[] fl = new float[n];
            for (int i = 0; i < n; i++) {
                labels[i] = ctx.random().nextInt(k);
                fl[i] = labels[i];
            }
            if (spread >= 1e4 && n >= 3 && k >= 2) {
                // row 0: all logits equal (uniform softmax); row 1: the label's logit lowest by 2e4
                Arrays.fill(logits, 0, k, 1e4f);
                for (int j = 0; j < k; j++) {
                    logits[k + j] = j == labels[1] ? -1e4f : 1e4f;
                }
            }
            Tensor tLogits = ctx.upload(logits, Shape.of(n, k));
            LossResult r = ctx.track(ctx.backend().softmaxCrossEntropy(tLogits, ctx.upload(fl, Shape.of(n))));
            Reference.Loss e = Reference.softmaxCrossEntropy(widen(logits), labels, n, k);
            ctx.expectIdentical("logits (an input, must be left untouched)", tLogits, Shape.of(n, k), logits);
            Tolerance[] tol = Bounds.softmax(widen(logits), labels, n, k);
            ctx.expectClose("loss", r.loss(), Shape.of(1), new double[] {e.loss()}, tol[0]);
            ctx.expectClose("dLogits", r.dLogits(), Shape.of(n, k), e.dlogits(), tol[1]);
        });
    }

    // ====================================================================================================== argmax

    private static void argmax(List<ConformanceCase> cases) {
        for (int[] s : new int[][] {{100, 17}, {1000, 10}, {1, 1}, {3, 1}}) {
            int n = s[0];
            int k = s[1];
            cases.add(ConformanceCase.builder("argmax", Op.ARGMAX).shape(n, k).param("N", n).param("K", k)
                    .tolerance(Tolerance.EXACT).check(ctx -> {
                        float[] x = ctx.normal(n * k, 0, 1);
                        Tensor idx = ctx.track(ctx.backend().argmax(ctx.upload(x, Shape.of(n, k))));
                        expectIndices(ctx, idx, Reference.argmax(widen(x), n, k));
                    }));
        }
        cases.add(ConformanceCase.builder("argmax.ties_first", Op.ARGMAX).shape(6, 5).param("N", 6).param("K", 5)
                .tolerance(Tolerance.EXACT).check(ctx -> {
                    float[] x = {
                        2, 2, 2, 2, 2,          // all equal: 0
                        1, 5, 3, 5, 0,          // tie at 1 and 3: 1
                        9, 0, 0, 0, 9,          // tie at the ends: 0
                        -3, -1, -2, -1, -1,     // negative tie: 1
                        0, -0f, 0, 0, 0,        // zero and negative zero compare equal: 0
                        -7, -7, -7, 4, 4        // tie at 3 and 4: 3
                    };
                    Tensor idx = ctx.track(ctx.backend().argmax(ctx.upload(x, Shape.of(6, 5))));
                    expectIndices(ctx, idx, new int[] {0, 1, 0, 1, 0, 3});
                }));
    }

    private static void expectIndices(CaseContext ctx, Tensor idx, int[] expected) {
        float[] e = new float[expected.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = expected[i];
        }
        ctx.expectIdentical("argmax", idx, Shape.of(expected.length), e);
    }

    // =============================================================================================== sum of squares

    private static void sumOfSquares(List<ConformanceCase> cases) {
        for (int[] dims : new int[][] {{1000, 333}, {65536, 64}, {1}, {3, 4, 5, 6}}) {
            Shape s = Shape.of(dims);
            cases.add(ConformanceCase.builder("sum_of_squares", Op.ELEMENTWISE).shape(dims).param("shape", s)
                    .tolerance(Bounds.sumOfSquares(s.size())).check(ctx -> {
                        float[] x = ctx.normal(s.size(), 0.25, 1);
                        Tensor r = ctx.track(ctx.backend().sumOfSquares(ctx.upload(x, s)));
                        ctx.expectClose("sum of squares", r, Shape.of(1),
                                new double[] {Reference.sumOfSquares(widen(x))});
                    }));
        }
    }

    // ================================================================================================== optimizers

    private static final float LR = 1e-2f;

    /**
     * Optimizer hyperparameters: CS231N's defaults, and a set where every value differs from them and ε is large
     * enough to matter (√v ≈ 1), so a kernel with a hard-coded default or ε in the wrong place fails.
     */
    record Hyper(String name, float momentum, float decay, float beta1, float beta2, float eps) {
        static final Hyper DEFAULTS = new Hyper("defaults", 0.9f, 0.99f, 0.9f, 0.999f, 1e-8f);
        static final Hyper CUSTOM = new Hyper("custom", 0.75f, 0.9f, 0.8f, 0.95f, 0.25f);
    }

    private static void optimizers(List<ConformanceCase> cases) {
        for (String kind : new String[] {"sgd", "sgd_momentum", "rmsprop", "adam"}) {
            cases.add(optimizerCase(kind, 1, 1000, 33, Hyper.DEFAULTS));
            cases.add(optimizerCase(kind, 5, 7, 3, Hyper.DEFAULTS));
            if (!kind.equals("sgd")) {
                cases.add(optimizerCase(kind, 5, 7, 3, Hyper.CUSTOM));
            }
        }
    }

    /** {@code steps} updates with fresh gradients; the state starts at zero, Adam's t counts 1, 2, …. */
    private static ConformanceCase optimizerCase(String kind, int steps, int n, int d, Hyper h) {
        Shape s = Shape.of(n, d);
        ConformanceCase.Builder b = ConformanceCase.builder("optimizer." + kind, Op.OPTIMIZER).shape(n, d)
                .param("N", n).param("D", d).param("steps", steps);
        if (!kind.equals("sgd")) {
            b.param("hyper", h.name());
        }
        return b.check(ctx -> {
                    float momentum = h.momentum();
                    float decay = h.decay();
                    float beta1 = h.beta1();
                    float beta2 = h.beta2();
                    float eps = h.eps();
                    float[] w0 = ctx.normal(s.size(), 0, 1);
                    Tensor w = ctx.upload(w0, s);
                    Tensor state1 = ctx.upload(new float[s.size()], s);
                    Tensor state2 = ctx.upload(new float[s.size()], s);
                    double[] ew = widen(w0);
                    double[] e1 = new double[s.size()];
                    double[] e2 = new double[s.size()];
                    Bounds.OptimizerErrors err = new Bounds.OptimizerErrors(s.size());
                    for (int t = 1; t <= steps; t++) {
                        float[] dw = ctx.normal(s.size(), 0, 1);
                        Tensor tdw = ctx.upload(dw, s);
                        err.step(kind, ew, e1, e2, widen(dw), LR, momentum, decay, beta1, beta2, eps, t);
                        switch (kind) {
                            case "sgd" -> {
                                ctx.backend().sgd(w, tdw, LR);
                                Reference.sgd(ew, widen(dw), LR);
                            }
                            case "sgd_momentum" -> {
                                ctx.backend().sgdMomentum(w, tdw, state1, LR, momentum);
                                Reference.sgdMomentum(ew, widen(dw), e1, LR, momentum);
                            }
                            case "rmsprop" -> {
                                ctx.backend().rmsprop(w, tdw, state1, LR, decay, eps);
                                Reference.rmsprop(ew, widen(dw), e1, LR, decay, eps);
                            }
                            case "adam" -> {
                                ctx.backend().adam(w, tdw, state1, state2, LR, beta1, beta2, eps, t);
                                Reference.adam(ew, widen(dw), e1, e2, LR, beta1, beta2, eps, t);
                            }
                            default -> throw new IllegalStateException("unknown optimizer " + kind);
                        }
                    }
                    ctx.expectClose("w after " + steps + " step(s)", w, s, ew,
                            Tolerance.derived("OPTIMIZER_W", Tolerance.maxAbs(err.w), 0));
                    Tolerance state1Tol = Tolerance.derived("OPTIMIZER_STATE", Tolerance.maxAbs(err.s1), 0);
                    switch (kind) {
                        case "sgd_momentum" -> ctx.expectClose("velocity", state1, s, e1, state1Tol);
                        case "rmsprop" -> ctx.expectClose("cache", state1, s, e1, state1Tol);
                        case "adam" -> {
                            ctx.expectClose("m", state1, s, e1, state1Tol);
                            ctx.expectClose("v", state2, s, e2,
                                    Tolerance.derived("OPTIMIZER_STATE", Tolerance.maxAbs(err.s2), 0));
                        }
                        default -> {
                        }
                    }
                });
    }

    // ================================================================================================= elementwise

    private static void elementwise(List<ConformanceCase> cases) {
        Shape s = Shape.of(123, 45);
        cases.add(ConformanceCase.builder("elementwise.upload_roundtrip", Op.ELEMENTWISE).shape(s.dims())
                .param("shape", s).tolerance(Tolerance.EXACT).check(ctx -> {
                    float[] x = ctx.normal(s.size(), 0, 1e3);
                    float[] special = {0f, -0f, Float.MIN_VALUE, -Float.MIN_NORMAL / 3, Float.MAX_VALUE,
                        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
                    System.arraycopy(special, 0, x, 0, special.length);
                    ctx.expectIdentical("toArray(upload(x))", ctx.upload(x, s), s, x);
                }));
        cases.add(ConformanceCase.builder("elementwise.zeros", Op.ELEMENTWISE).shape(s.dims()).param("shape", s)
                .tolerance(Tolerance.EXACT).check(ctx ->
                        ctx.expectIdentical("zeros", ctx.track(ctx.backend().zeros(s)), s, new float[s.size()])));
        for (float value : new float[] {3.25f, -0f}) {
            cases.add(ConformanceCase.builder("elementwise.fill", Op.ELEMENTWISE).shape(s.dims()).param("shape", s)
                    .param("value", value).tolerance(Tolerance.EXACT).check(ctx -> {
                        Tensor t = ctx.upload(ctx.normal(s.size(), 0, 1), s);
                        ctx.backend().fill(t, value);
                        ctx.expectClose("filled", t, s, Reference.fill(s.size(), value));
                        float[] bits = t.toArray();
                        for (int i = 0; i < bits.length; i++) {
                            if (Float.floatToRawIntBits(bits[i]) != Float.floatToRawIntBits(value)) {
                                ctx.fail("filled " + CaseContext.index(i, s) + ": expected the bits of " + value
                                        + ", got " + bits[i]);
                                break;
                            }
                        }
                    }));
        }
        cases.add(ConformanceCase.builder("elementwise.copy", Op.ELEMENTWISE).shape(s.dims()).param("shape", s)
                .tolerance(Tolerance.EXACT).check(ctx -> {
                    float[] x = ctx.normal(s.size(), 0, 1);
                    Tensor src = ctx.upload(x, s);
                    Tensor dst = ctx.upload(ctx.normal(s.size(), 5, 1), s);
                    ctx.backend().copy(src, dst);
                    ctx.expectClose("dst", dst, s, Reference.copy(widen(x)));
                    Tensor c = ctx.track(ctx.backend().copyOf(src));
                    ctx.expectIdentical("copyOf(src)", c, s, x);
                    // the copy is independent storage: changing it leaves the source alone
                    ctx.backend().fill(c, 7f);
                    ctx.expectIdentical("src after filling its copy", src, s, x);
                }));
        for (float alpha : new float[] {-1.5f, 0f, 1e-3f}) {
            cases.add(ConformanceCase.builder("elementwise.scale", Op.ELEMENTWISE).shape(s.dims()).param("shape", s)
                    .param("alpha", alpha).tolerance(ONE_ROUNDING).check(ctx -> {
                        float[] x = ctx.normal(s.size(), 0, 1);
                        Tensor t = ctx.upload(x, s);
                        ctx.backend().scale(t, alpha);
                        ctx.expectClose("alpha·t", t, s, Reference.scale(widen(x), alpha));
                    }));
        }
        for (float alpha : new float[] {0.3f, -2f}) {
            cases.add(ConformanceCase.builder("elementwise.axpy", Op.ELEMENTWISE).shape(s.dims()).param("shape", s)
                    .param("alpha", alpha).check(ctx -> {
                        float[] x = ctx.normal(s.size(), 0, 1);
                        float[] y = ctx.normal(s.size(), 0, 1);
                        Tensor tx = ctx.upload(x, s);
                        Tensor ty = ctx.upload(y, s);
                        ctx.backend().axpy(alpha, tx, ty);
                        // AXPY: α·x and the sum, γ(2)·(|y| + |α·x|), when the two nearly cancel
                        double mag = 0;
                        for (int i = 0; i < x.length; i++) {
                            mag = Math.max(mag, Math.abs(y[i]) + Math.abs(alpha * x[i]));
                        }
                        ctx.expectClose("y + alpha·x", ty, s, Reference.axpy(alpha, widen(x), widen(y)),
                                Tolerance.derived("AXPY", Tolerance.gamma(2) * mag, 0));
                        ctx.expectIdentical("x (an input, must be left untouched)", tx, s, x);
                    }));
        }
    }
}
