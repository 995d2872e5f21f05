package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.layerkit.cpu.Numerics.assertClose;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.LossResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Bounds;
import org.layerkit.conformance.Tolerance;

class CpuTrainingKernelsTest {
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    @Test
    void softmaxCrossEntropyMatchesTheDefinitionAndSurvivesHugeLogits() {
        for (double offset : new double[] {0, 1e4}) {
            int n = 6;
            int k = 5;
            Random r = new Random(7);
            float[] z = Numerics.gaussian(r, n * k, offset, 3);
            float[] labels = {0, 4, 2, 2, 1, 3};
            double loss = 0;
            double[] dz = new double[n * k];
            for (int i = 0; i < n; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k; j++) {
                    max = Math.max(max, z[i * k + j]);
                }
                double sum = 0;
                for (int j = 0; j < k; j++) {
                    sum += Math.exp(z[i * k + j] - max);
                }
                for (int j = 0; j < k; j++) {
                    double p = Math.exp(z[i * k + j] - max) / sum;
                    dz[i * k + j] = (p - (j == (int) labels[i] ? 1 : 0)) / n;
                }
                loss -= Math.log(Math.exp(z[i * k + (int) labels[i]] - max) / sum);
            }
            int[] y = new int[n];
            for (int i = 0; i < n; i++) {
                y[i] = (int) labels[i];
            }
            Tolerance[] tol = Bounds.softmax(Numerics.toDouble(z), y, n, k);
            try (Tensor tz = be.upload(z, Shape.of(n, k)); Tensor tl = be.upload(labels, Shape.of(n));
                 LossResult res = be.softmaxCrossEntropy(tz, tl)) {
                assertEquals(Shape.of(1), res.loss().shape());
                assertClose("softmax_cross_entropy loss (offset " + offset + ")", Shape.of(1),
                        new double[] {loss / n}, res.loss().toArray(), tol[0]);
                assertClose("softmax_cross_entropy dLogits (offset " + offset + ")", Shape.of(n, k), dz,
                        res.dLogits().toArray(), tol[1]);
            }
        }
    }

    @Test
    void softmaxCrossEntropyKeepsTheGradientOfAConfidentCorrectRowAccurate() {
        // p ≈ 1 − 2e-13 for the label: p − 1 must not cancel to 0 or to float rounding noise
        float[] z = {30f, 0f, 0f, 1f, 2f, 3f};
        float[] labels = {0f, 2f};
        double e = Math.exp(-30);
        double p0 = 1 / (1 + 2 * e);
        try (Tensor tz = be.upload(z, Shape.of(2, 3)); Tensor tl = be.upload(labels, Shape.of(2));
             LossResult res = be.softmaxCrossEntropy(tz, tl)) {
            float[] d = res.dLogits().toArray();
            double expected = -2 * e / (1 + 2 * e) / 2; // (p0 − 1)/N, written without the cancellation
            // SOFTMAX_DLOGITS_CONFIDENT: formed as −Σ_{j≠y} p_j, the label's entry keeps the relative accuracy of
            // each p_j: exp and the exponent's rounding (EXP·U + U·|t_j|, t_j = −30), the row sum (sum(K) + EXP·U),
            // the division by S and by N (2·DIV·U) and the sum over j ≠ y (sum(K−1))
            double rel = Tolerance.SAFETY * ((2 * Tolerance.EXP + 2 * Tolerance.DIV + 30) * Tolerance.U
                    + 2 * Tolerance.sum(3));
            assertEquals(expected, d[0], Math.abs(expected) * rel, "dLogits[0,0] outside SOFTMAX_DLOGITS_CONFIDENT");
            assertEquals(e * p0 / 2, d[1], e * p0 / 2 * rel, "dLogits[0,1] outside SOFTMAX_DLOGITS_CONFIDENT");
        }
    }

    @Test
    void argmaxTakesTheFirstMaximumOnTies() {
        float[] x = {1, 3, 3, 0, /**/ -1, -1, -1, -1, /**/ 0, 0, 0, 5};
        try (Tensor t = be.upload(x, Shape.of(3, 4)); Tensor a = be.argmax(t)) {
            assertArrayEquals(new float[] {1, 0, 3}, a.toArray());
        }
    }

    @Test
    void sumOfSquaresAccumulatesInDouble() {
        int n = 1 << 20;
        float[] x = new float[n];
        java.util.Arrays.fill(x, 1f);
        x[0] = 4096f; // 2^24 + (2^20 − 1): a float accumulator would stall at 2^24
        try (Tensor t = be.upload(x, Shape.of(n)); Tensor s = be.sumOfSquares(t)) {
            // every partial sum is an integer below 2^53, exact in double; the float result is one rounding of it
            // (ONE_ROUNDING: within U·2^24 ≈ 1.06); a float accumulator would be 2^20 − 1 short
            assertClose("sumOfSquares accumulated in double", Shape.of(1), new double[] {16777216.0 + (n - 1)},
                    s.toArray(), Tolerance.derived("ONE_ROUNDING", 0, Tolerance.U));
        }
    }

    @Test
    void biasAddAndColumnSumAreInverseShapes() {
        float[] x = {1, 2, 3, 4, 5, 6};
        try (Tensor t = be.upload(x, Shape.of(3, 2)); Tensor b = be.upload(new float[] {10, 20}, Shape.of(2))) {
            be.addBias(t, b);
            assertArrayEquals(new float[] {11, 22, 13, 24, 15, 26}, t.toArray());
            try (Tensor s = be.columnSum(t)) {
                assertArrayEquals(new float[] {39, 72}, s.toArray());
            }
        }
        // a large column sum takes the parallel path
        Random r = new Random(9);
        Shape s = Shape.of(4099, 33);
        float[] big = Numerics.gaussian(r, s.size(), 1, 1);
        double[] expected = new double[33];
        for (int i = 0; i < big.length; i++) {
            expected[i % 33] += big[i];
        }
        try (Tensor t = be.upload(big, s); Tensor sum = be.columnSum(t)) {
            assertClose("columnSum", Shape.of(33), expected, sum.toArray(), Bounds.columnSum(big, 4099, 33));
        }
    }

    @Test
    void reluAndItsBackwardGateOnPositiveInputs() {
        float[] x = {-1, 0, 2, -0.5f, 3};
        float[] d = {1, 2, 3, 4, 5};
        try (Tensor t = be.upload(x, Shape.of(5)); Tensor td = be.upload(d, Shape.of(5)); Tensor y = be.relu(t);
             Tensor dx = be.reluBackward(td, t)) {
            assertArrayEquals(new float[] {0, 0, 2, 0, 3}, y.toArray());
            assertArrayEquals(new float[] {0, 0, 3, 0, 5}, dx.toArray());
        }
    }

    @Test
    void reluPropagatesNanAndIsZeroWhereXIsAtMostZero() {
        float[] x = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0xFFC00000),
            Float.intBitsToFloat(0x7F800001), Float.intBitsToFloat(0xFFFFFFFF), 1.5f, -2f};
        float[] d = new float[x.length];
        java.util.Arrays.fill(d, 3f);
        // long enough for the vectorized body as well as the scalar tail
        int n = 16 * x.length + 3;
        float[] xs = new float[n];
        float[] ds = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = x[i % x.length];
            ds[i] = d[i % x.length];
        }
        try (Tensor t = be.upload(xs, Shape.of(n)); Tensor td = be.upload(ds, Shape.of(n));
             Tensor y = be.relu(t); Tensor dx = be.reluBackward(td, t)) {
            float[] yy = y.toArray();
            float[] dd = dx.toArray();
            for (int i = 0; i < n; i++) {
                // NaN keeps its own bits; x ≤ 0 (−0 and −∞ too) gives +0
                float expected = xs[i] <= 0f ? 0f : xs[i];
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(yy[i]),
                        "relu(" + xs[i] + ") at index " + i + ": expected " + expected + ", got " + yy[i]);
                // PyTorch's threshold_backward: dOut wherever x is not ≤ 0, NaN included
                assertEquals(xs[i] <= 0f ? 0f : 3f, dd[i], "reluBackward at x = " + xs[i] + ", index " + i);
            }
        }
    }

    /**
     * One step of each rule from given states, against CS231N's formulas evaluated in double from exactly the float
     * arguments the backend gets, within OPTIMIZER_W and OPTIMIZER_STATE.
     */
    @Test
    void optimizersFollowCs231nOptim() {
        float[] w0 = {1f, -2f, 0.5f};
        float[] dw = {0.1f, -0.3f, 2f};
        double[] w0d = Numerics.toDouble(w0);
        double[] dwd = Numerics.toDouble(dw);
        Shape s = Shape.of(3);
        try (Tensor w = be.upload(w0, s); Tensor g = be.upload(dw, s)) {
            be.sgd(w, g, 0.1f);
            double[] ew = w0d.clone();
            org.layerkit.conformance.Reference.sgd(ew, dwd, 0.1f);
            Bounds.OptimizerErrors err = new Bounds.OptimizerErrors(3);
            err.step("sgd", w0d, new double[3], new double[3], dwd, 0.1f, 0, 0, 0, 0, 0, 1);
            assertClose("sgd", s, ew, w.toArray(), Tolerance.derived("OPTIMIZER_W", Tolerance.maxAbs(err.w), 0));
        }
        float[] v0 = {0.5f, 0f, -1f};
        try (Tensor w = be.upload(w0, s); Tensor g = be.upload(dw, s); Tensor v = be.upload(v0, s)) {
            be.sgdMomentum(w, g, v, 0.1f, 0.9f);
            double[] ew = w0d.clone();
            double[] ev = Numerics.toDouble(v0);
            Bounds.OptimizerErrors err = new Bounds.OptimizerErrors(3);
            err.step("sgd_momentum", ew, ev, new double[3], dwd, 0.1f, 0.9f, 0, 0, 0, 0, 1);
            org.layerkit.conformance.Reference.sgdMomentum(ew, dwd, ev, 0.1f, 0.9f);
            assertClose("momentum v", s, ev, v.toArray(),
                    Tolerance.derived("OPTIMIZER_STATE", Tolerance.maxAbs(err.s1), 0));
            assertClose("momentum w", s, ew, w.toArray(),
                    Tolerance.derived("OPTIMIZER_W", Tolerance.maxAbs(err.w), 0));
        }
        float[] c0 = {0.01f, 0f, 1f};
        try (Tensor w = be.upload(w0, s); Tensor g = be.upload(dw, s); Tensor c = be.upload(c0, s)) {
            be.rmsprop(w, g, c, 0.01f, 0.99f, 1e-8f);
            double[] ew = w0d.clone();
            double[] ec = Numerics.toDouble(c0);
            Bounds.OptimizerErrors err = new Bounds.OptimizerErrors(3);
            err.step("rmsprop", ew, ec, new double[3], dwd, 0.01f, 0, 0.99f, 0, 0, 1e-8f, 1);
            org.layerkit.conformance.Reference.rmsprop(ew, dwd, ec, 0.01f, 0.99f, 1e-8f);
            assertClose("rmsprop cache", s, ec, c.toArray(),
                    Tolerance.derived("OPTIMIZER_STATE", Tolerance.maxAbs(err.s1), 0));
            assertClose("rmsprop w", s, ew, w.toArray(),
                    Tolerance.derived("OPTIMIZER_W", Tolerance.maxAbs(err.w), 0));
        }
        float[] m0 = {0.1f, 0.2f, 0f};
        float[] vv0 = {0.01f, 0f, 0.5f};
        try (Tensor w = be.upload(w0, s); Tensor g = be.upload(dw, s); Tensor m = be.upload(m0, s);
             Tensor v = be.upload(vv0, s)) {
            int t = 3;
            be.adam(w, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, t);
            double[] ew = w0d.clone();
            double[] em = Numerics.toDouble(m0);
            double[] ev = Numerics.toDouble(vv0);
            Bounds.OptimizerErrors err = new Bounds.OptimizerErrors(3);
            err.step("adam", ew, em, ev, dwd, 1e-3f, 0, 0, 0.9f, 0.999f, 1e-8f, t);
            org.layerkit.conformance.Reference.adam(ew, dwd, em, ev, 1e-3f, 0.9f, 0.999f, 1e-8f, t);
            assertClose("adam m", s, em, m.toArray(), Tolerance.derived("OPTIMIZER_STATE", Tolerance.maxAbs(err.s1), 0));
            assertClose("adam v", s, ev, v.toArray(), Tolerance.derived("OPTIMIZER_STATE", Tolerance.maxAbs(err.s2), 0));
            assertClose("adam w", s, ew, w.toArray(), Tolerance.derived("OPTIMIZER_W", Tolerance.maxAbs(err.w), 0));
        }
    }

    @Test
    void elementwiseOpsWorkInPlace() {
        try (Tensor x = be.upload(new float[] {1, 2, 3}, Shape.of(3)); Tensor y = be.zeros(Shape.of(3))) {
            be.axpy(2f, x, y);
            assertArrayEquals(new float[] {2, 4, 6}, y.toArray());
            be.scale(y, 0.5f);
            assertArrayEquals(new float[] {1, 2, 3}, y.toArray());
            be.fill(y, 7f);
            assertArrayEquals(new float[] {7, 7, 7}, y.toArray());
            be.copy(x, y);
            assertArrayEquals(new float[] {1, 2, 3}, y.toArray());
            try (Tensor c = be.copyOf(x)) {
                assertArrayEquals(new float[] {1, 2, 3}, c.toArray());
            }
        }
    }
}
