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
            try (Tensor tz = be.upload(z, Shape.of(n, k)); Tensor tl = be.upload(labels, Shape.of(n));
                 LossResult res = be.softmaxCrossEntropy(tz, tl)) {
                assertEquals(Shape.of(1), res.loss().shape());
                assertClose("softmax_cross_entropy loss (offset " + offset + ")", Shape.of(1),
                        new double[] {loss / n}, res.loss().toArray(), 1e-6, 1e-6);
                assertClose("softmax_cross_entropy dLogits (offset " + offset + ")", Shape.of(n, k), dz,
                        res.dLogits().toArray(), 1e-7, 1e-5);
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
            assertEquals(expected, d[0], Math.abs(expected) * 1e-6, "dLogits[0,0]");
            assertEquals(e * p0 / 2, d[1], e * p0 / 2 * 1e-5, "dLogits[0,1]");
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
            assertEquals(16777216.0 + (n - 1), s.item(), 2.0);
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
            assertClose("columnSum", Shape.of(33), expected, sum.toArray(), 1e-3, 1e-6);
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

    @Test
    void optimizersFollowCs231nOptim() {
        float[] w0 = {1f, -2f, 0.5f};
        float[] dw = {0.1f, -0.3f, 2f};
        try (Tensor w = be.upload(w0, Shape.of(3)); Tensor g = be.upload(dw, Shape.of(3))) {
            be.sgd(w, g, 0.1f);
            assertClose("sgd", Shape.of(3), new double[] {0.99, -1.97, 0.3}, w.toArray(), 1e-6, 1e-6);
        }
        try (Tensor w = be.upload(w0, Shape.of(3)); Tensor g = be.upload(dw, Shape.of(3));
             Tensor v = be.upload(new float[] {0.5f, 0f, -1f}, Shape.of(3))) {
            be.sgdMomentum(w, g, v, 0.1f, 0.9f);
            double[] ev = {0.9 * 0.5 - 0.01, 0.03, -0.9 - 0.2};
            assertClose("momentum v", Shape.of(3), ev, v.toArray(), 1e-6, 1e-6);
            assertClose("momentum w", Shape.of(3), new double[] {1 + ev[0], -2 + ev[1], 0.5 + ev[2]}, w.toArray(),
                    1e-6, 1e-6);
        }
        try (Tensor w = be.upload(w0, Shape.of(3)); Tensor g = be.upload(dw, Shape.of(3));
             Tensor c = be.upload(new float[] {0.01f, 0f, 1f}, Shape.of(3))) {
            be.rmsprop(w, g, c, 0.01f, 0.99f, 1e-8f);
            double[] ec = new double[3];
            double[] ew = new double[3];
            double[] c0 = {0.01f, 0, 1};
            for (int i = 0; i < 3; i++) {
                ec[i] = 0.99 * c0[i] + 0.01 * dw[i] * (double) dw[i];
                ew[i] = w0[i] - 0.01 * dw[i] / (Math.sqrt(ec[i]) + 1e-8);
            }
            assertClose("rmsprop cache", Shape.of(3), ec, c.toArray(), 1e-7, 1e-6);
            assertClose("rmsprop w", Shape.of(3), ew, w.toArray(), 1e-6, 1e-6);
        }
        try (Tensor w = be.upload(w0, Shape.of(3)); Tensor g = be.upload(dw, Shape.of(3));
             Tensor m = be.upload(new float[] {0.1f, 0.2f, 0f}, Shape.of(3));
             Tensor v = be.upload(new float[] {0.01f, 0f, 0.5f}, Shape.of(3))) {
            int t = 3;
            be.adam(w, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, t);
            double[] m0 = {0.1f, 0.2f, 0f};
            double[] v0 = {0.01f, 0f, 0.5f};
            double[] em = new double[3];
            double[] evv = new double[3];
            double[] ew = new double[3];
            for (int i = 0; i < 3; i++) {
                em[i] = 0.9f * m0[i] + (1 - 0.9f) * dw[i];
                evv[i] = 0.999f * v0[i] + (1 - 0.999f) * dw[i] * (double) dw[i];
                double mh = em[i] / (1 - Math.pow(0.9f, t));
                double vh = evv[i] / (1 - Math.pow(0.999f, t));
                ew[i] = w0[i] - 1e-3f * mh / (Math.sqrt(vh) + 1e-8f);
            }
            assertClose("adam m", Shape.of(3), em, m.toArray(), 1e-7, 1e-6);
            assertClose("adam v", Shape.of(3), evv, v.toArray(), 1e-7, 1e-6);
            assertClose("adam w", Shape.of(3), ew, w.toArray(), 1e-6, 1e-6);
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
