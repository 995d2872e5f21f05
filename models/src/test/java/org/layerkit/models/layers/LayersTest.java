package org.layerkit.models.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.Layers;
import org.layerkit.api.Mode;
import org.layerkit.api.Philox4x32;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NormBounds;
import org.layerkit.conformance.Reference;
import org.layerkit.conformance.Tolerance;

class LayersTest {
    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    private static float[] randn(int size, long seed, double mean) {
        Random r = new Random(seed);
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) (mean + r.nextGaussian());
        }
        return x;
    }

    @Test
    void everyLayerTypeIsRegisteredByOneServiceLine() {
        assertEquals(Set.of("affine", "relu", "batchnorm", "spatial_batchnorm", "layernorm", "groupnorm", "dropout",
                "conv2d", "maxpool", "global_avgpool", "flatten", "spatial_dropout"), Layers.factories().keySet());
        try (Layer a = Layers.create("affine", backend, LayerConfig.of("in", 4, "out", 3, "init", "he", "seed", 1));
             Layer b = Layers.create("batchnorm", backend, LayerConfig.of("features", 3, "decay", 0.8, "eps", 1e-3));
             Layer s = Layers.create("spatial_batchnorm", backend, LayerConfig.of("channels", 2));
             Layer l = Layers.create("layernorm", backend, LayerConfig.of("features", 3));
             Layer g = Layers.create("groupnorm", backend, LayerConfig.of("channels", 4, "groups", 2));
             Layer d = Layers.create("dropout", backend, LayerConfig.of("keep", 0.5, "seed", 3));
             Layer r = Layers.create("relu", backend, LayerConfig.of())) {
            assertEquals(2, a.parameters().size());
            assertEquals(0.8f, ((BatchNormLayer) b).options().decay());
            assertEquals(Set.of("running_mean", "running_var"), s.buffers().keySet());
            assertEquals(2, l.parameters().size());
            assertEquals(2, ((GroupNormLayer) g).groups());
            assertEquals(3, ((DropoutLayer) d).seed());
            assertTrue(r.parameters().isEmpty());
        }
    }

    @Test
    void factoryNamesAMissingKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Layers.create("affine", backend, LayerConfig.of("in", 4)));
        assertTrue(e.getMessage().contains("'out'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Layers.create("groupnorm", backend, LayerConfig.of("channels", 6, "groups", 4)));
        assertTrue(e.getMessage().contains("groups"), e.getMessage());
    }

    @Test
    void affineComputesXWPlusBAndItsGradients() {
        try (AffineLayer a = new AffineLayer(backend, 3, 2, WeightInit.gaussian(1), 7);
             Tensor x = backend.upload(new float[] {1, 2, 3, -1, 0, 2}, Shape.of(2, 3));
             Tensor dOut = backend.upload(new float[] {1, -1, 0.5f, 2}, Shape.of(2, 2))) {
            backend.copy(upload(new float[] {0.5f, -1}), a.bias().value());
            float[] w = a.weight().value().toArray();
            float[] out = a.forward(x, Mode.TRAIN).toArray();
            float[] xs = x.toArray();
            // each a dot product of K terms (and a bias): within GEMM, SAFETY·(sum(K) + γ(3))·Σ|terms|
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 2; j++) {
                    double s = j == 0 ? 0.5 : -1;
                    double mag = Math.abs(s);
                    for (int k = 0; k < 3; k++) {
                        s += xs[i * 3 + k] * w[k * 2 + j];
                        mag += Math.abs(xs[i * 3 + k] * w[k * 2 + j]);
                    }
                    assertEquals(s, out[i * 2 + j], gemmBound(3, mag), "out[" + i + "," + j + "] outside GEMM");
                }
            }
            float[] dx = a.backward(dOut).toArray();
            float[] d = dOut.toArray();
            float[] dw = a.weight().grad().toArray();
            for (int k = 0; k < 3; k++) {
                for (int j = 0; j < 2; j++) {
                    assertEquals(xs[k] * d[j] + xs[3 + k] * d[2 + j], dw[k * 2 + j],
                            gemmBound(2, Math.abs(xs[k] * d[j]) + Math.abs(xs[3 + k] * d[2 + j])),
                            "dW[" + k + "," + j + "] outside GEMM");
                }
            }
            // 1 + 0.5 and −1 + 2: exact in float
            assertArrayEquals(new float[] {1.5f, 1}, a.bias().grad().toArray(), 0f);
            for (int i = 0; i < 2; i++) {
                for (int k = 0; k < 3; k++) {
                    assertEquals(d[i * 2] * w[k * 2] + d[i * 2 + 1] * w[k * 2 + 1], dx[i * 3 + k],
                            gemmBound(2, Math.abs(d[i * 2] * w[k * 2]) + Math.abs(d[i * 2 + 1] * w[k * 2 + 1])),
                            "dX[" + i + "," + k + "] outside GEMM");
                }
            }
        }
    }

    /** GEMM (docs/tolerances.md) for one dot product of k terms whose absolute values sum to mag. */
    private static double gemmBound(int k, double mag) {
        return Tolerance.ofSum("GEMM", k, 3, mag).atol();
    }

    /**
     * MOMENTS_OF_NORM_OUT: outputs each within E (NORM_OUT) of exact values whose mean is 0 and whose biased
     * variance is σ²/(σ²+ε): their mean is within E, their variance within 2·max|x̂|·E + E², plus the float64
     * rounding of those sums (γ64(n + 2) of mean x̂², negligible).
     */
    private static void assertMoments(String what, float[] out, double[] xhatExact, double expectedVar, double e,
                                      int[] idx) {
        int n = idx.length;
        double m = 0;
        for (int i : idx) {
            m += out[i];
        }
        m /= n;
        double v = 0;
        double maxXhat = 0;
        for (int i : idx) {
            v += (out[i] - m) * (out[i] - m);
            maxXhat = Math.max(maxXhat, Math.abs(xhatExact[i]));
        }
        v /= n;
        assertEquals(0, m, e, what + ": mean outside MOMENTS_OF_NORM_OUT");
        if (expectedVar >= 0) {
            double vb = 2 * maxXhat * e + e * e + Tolerance.gamma64(n + 2) * (1 + expectedVar);
            assertEquals(expectedVar, v, vb, what + ": variance outside MOMENTS_OF_NORM_OUT");
        }
    }

    private static Tensor upload(float[] v) {
        return backend.upload(v, Shape.of(v.length));
    }

    @Test
    void affineReusesItsOutputStorageWhileTheBatchSizeRepeats() {
        try (AffineLayer a = new AffineLayer(backend, 3, 2, WeightInit.he(), 1);
             Tensor x = backend.upload(randn(12, 1, 0), Shape.of(4, 3));
             Tensor x2 = backend.upload(randn(6, 2, 0), Shape.of(2, 3))) {
            Tensor o1 = a.forward(x, Mode.TRAIN);
            assertSame(o1, a.forward(x, Mode.TRAIN));
            Tensor o2 = a.forward(x2, Mode.EVAL);
            assertEquals(Shape.of(2, 2), o2.shape());
        }
    }

    @Test
    void batchNormUsesBatchStatisticsInTrainAndRunningStatisticsInEval() {
        int n = 64;
        int d = 3;
        float[] xs = randn(n * d, 5, 4.0);
        double[] xd = Reference.widen(xs);
        double[] ones = {1, 1, 1};
        float eps = BatchNormOptions.defaults().eps();
        NormBounds.Layout layout = NormBounds.Layout.batchNorm(n, d);
        Reference.NormForward f = Reference.batchNormTrain(xd, n, d, ones, new double[d], eps);
        NormBounds b = NormBounds.train(layout, xd, f);
        try (BatchNormLayer bn = new BatchNormLayer(backend, d, BatchNormOptions.defaults().withDecay(0.0f));
             Tensor x = backend.upload(xs, Shape.of(n, d))) {
            float[] out = bn.forward(x, Mode.TRAIN).toArray();
            Tolerance train = b.out(ones, new double[d]);
            for (int j = 0; j < d; j++) {
                int[] idx = new int[n];
                for (int i = 0; i < n; i++) {
                    idx[i] = i * d + j;
                }
                assertMoments("feature " + j, out, f.xhat(), f.var()[j] / (f.var()[j] + eps), train.atol(), idx);
            }
            assertEquals(1L, bn.counters().get(BatchNormLayer.BATCHES_TRACKED));
            // decay 0 makes the running statistics the last batch's (as float), so EVAL reproduces TRAIN: both
            // within their NORM_OUT of the exact output, EVAL's with the stored statistics' errors
            Tolerance eval = NormBounds.eval(layout, f, b.runningMeanErrors(new double[d], 0),
                    b.runningVarErrors(ones, 0, false)).out(ones, new double[d]);
            Tolerance between = train.plus(eval);
            float[] evalOut = bn.forward(x, Mode.EVAL).toArray();
            for (int i = 0; i < out.length; i++) {
                assertTrue(between.accepts(evalOut[i], out[i]), "EVAL " + evalOut[i] + " vs TRAIN " + out[i]
                        + " at " + i + " outside " + between);
            }
            assertEquals(1L, bn.counters().get(BatchNormLayer.BATCHES_TRACKED), "EVAL leaves the statistics alone");
        }
    }

    @Test
    void layerNormIsTheSameInTrainAndEval() {
        try (LayerNormLayer ln = new LayerNormLayer(backend, 5, 1e-5f);
             Tensor x = backend.upload(randn(15, 2, 1.0), Shape.of(3, 5))) {
            float[] t = ln.forward(x, Mode.TRAIN).toArray();
            assertArrayEquals(t, ln.forward(x, Mode.EVAL).toArray(), 0f);
        }
    }

    @Test
    void normBackwardOverwritesGammaAndBetaGradients() {
        try (GroupNormLayer gn = new GroupNormLayer(backend, 4, 2, 1e-5f);
             Tensor x = backend.upload(randn(2 * 4 * 3 * 3, 3, 0), Shape.of(2, 4, 3, 3));
             Tensor dOut = backend.upload(randn(2 * 4 * 3 * 3, 4, 0), Shape.of(2, 4, 3, 3))) {
            gn.forward(x, Mode.TRAIN);
            Tensor dx = gn.backward(dOut);
            assertEquals(x.shape(), dx.shape());
            float[] dg = gn.gamma().grad().toArray();
            float[] db = gn.beta().grad().toArray();
            gn.forward(x, Mode.TRAIN);
            gn.backward(dOut);
            assertArrayEquals(dg, gn.gamma().grad().toArray(), 0f);
            assertArrayEquals(db, gn.beta().grad().toArray(), 0f);
            float[] d = dOut.toArray();
            double sum0 = 0;
            double abs0 = 0;
            for (int nn = 0; nn < 2; nn++) {
                for (int s = 0; s < 9; s++) {
                    sum0 += d[nn * 36 + s];
                    abs0 += Math.abs(d[nn * 36 + s]);
                }
            }
            // NORM_DBETA: a sum of N·H·W = 18 terms
            assertEquals(sum0, db[0], Tolerance.derived("NORM_DBETA", Tolerance.sum(18) * abs0, 0).atol(),
                    "dβ of channel 0 sums dOut over N, H, W (NORM_DBETA)");
        }
    }

    @Test
    void spatialBatchNormNormalizesEachChannelOverBatchAndSpace() {
        float[] xs = randn(4 * 2 * 5 * 5, 8, 3.0);
        double[] xd = Reference.widen(xs);
        double[] ones = {1, 1};
        BatchNormOptions o = BatchNormOptions.defaults();
        Reference.NormForward f = Reference.spatialBatchNormTrain(xd, 4, 2, 25, ones, new double[2], o.eps());
        NormBounds b = NormBounds.train(NormBounds.Layout.spatialBatchNorm(4, 2, 25), xd, f);
        try (SpatialBatchNormLayer sbn = new SpatialBatchNormLayer(backend, 2, o);
             Tensor x = backend.upload(xs, Shape.of(4, 2, 5, 5))) {
            float[] out = sbn.forward(x, Mode.TRAIN).toArray();
            for (int c = 0; c < 2; c++) {
                int[] idx = new int[100];
                int k = 0;
                for (int n = 0; n < 4; n++) {
                    for (int s = 0; s < 25; s++) {
                        idx[k++] = (n * 2 + c) * 25 + s;
                    }
                }
                assertMoments("channel " + c, out, f.xhat(), -1, b.out(ones, new double[2]).atol(), idx);
            }
            // the running mean (from 0) moved by (1 − decay) towards the batch mean
            float[] rm = sbn.running().mean().toArray();
            Tolerance t = NormBounds.runningTolerance("NORM_RUNNING_MEAN", b.runningMeanErrors(new double[2],
                    o.decay()));
            assertTrue(t.accepts(rm[0], (1 - o.decay()) * f.mean()[0]), "running mean " + rm[0] + ", expected "
                    + (1 - o.decay()) * f.mean()[0] + " within " + t);
        }
    }

    @Test
    void dropoutMasksMatchPhiloxAndTheOffsetAdvancesPerTrainForward() {
        float[] ones = new float[40];
        Arrays.fill(ones, 1f);
        try (DropoutLayer d = new DropoutLayer(backend, 0.6, 1234);
             Tensor x = backend.upload(ones, Shape.of(4, 10))) {
            float[] first = d.forward(x, Mode.TRAIN).toArray();
            assertEquals(1, d.offset());
            DropoutOptions o = new DropoutOptions(0.6, 1234, 0);
            for (int i = 0; i < 40; i++) {
                boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(1234, 0, i), o.threshold());
                assertEquals(kept ? o.scale() : 0f, first[i], "element " + i);
            }
            float[] second = d.forward(x, Mode.TRAIN).toArray();
            assertEquals(2, d.offset());
            assertNotEquals(Arrays.toString(first), Arrays.toString(second), "a fresh mask per training batch");
            assertArrayEquals(ones, d.forward(x, Mode.EVAL).toArray(), "EVAL is the identity");
            assertEquals(2, d.offset(), "EVAL does not advance the offset");
            Tensor dx = d.backward(x);
            assertEquals(x.shape(), dx.shape());
            d.setCounter(DropoutLayer.OFFSET, 0);
            assertArrayEquals(first, d.forward(x, Mode.TRAIN).toArray(), "restoring the offset replays the mask");
        }
    }

    @Test
    void reluBackwardPassesGradientWhereTheInputWasPositive() {
        try (ReluLayer r = new ReluLayer(backend);
             Tensor x = backend.upload(new float[] {-1, 2, 0, 3}, Shape.of(2, 2));
             Tensor d = backend.upload(new float[] {5, 6, 7, 8}, Shape.of(2, 2))) {
            assertArrayEquals(new float[] {0, 2, 0, 3}, r.forward(x, Mode.TRAIN).toArray());
            assertArrayEquals(new float[] {0, 6, 0, 8}, r.backward(d).toArray());
        }
    }

    @Test
    void backwardBeforeForwardIsAClearError() {
        try (AffineLayer a = new AffineLayer(backend, 2, 2, WeightInit.he(), 0);
             Tensor d = backend.zeros(Shape.of(1, 2))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.backward(d));
            assertTrue(e.getMessage().contains("before any forward"), e.getMessage());
        }
        try (AffineLayer a = new AffineLayer(backend, 2, 2, WeightInit.he(), 0);
             Tensor x = backend.zeros(Shape.of(1, 3))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.forward(x, Mode.TRAIN));
            assertTrue(e.getMessage().contains("affine.forward"), e.getMessage());
        }
        assertEquals(Map.of(), new ReluLayer(backend).buffers());
    }
}
