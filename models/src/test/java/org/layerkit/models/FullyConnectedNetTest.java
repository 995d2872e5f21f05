package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.layers.WeightInit;

class FullyConnectedNetTest {
    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    private static Tensor randn(int n, int d, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return backend.upload(x, Shape.of(n, d));
    }

    @Test
    void layersFollowCs231nOrderAndParametersAreNamedByLayerIndex() {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 3).hidden(7, 5)
                .normalization(Normalization.BATCH).dropoutKeep(0.5).build();
        try (SequentialNet net = new SequentialNet(backend, c)) {
            assertEquals(List.of("affine", "batchnorm", "relu", "dropout", "affine", "batchnorm", "relu", "dropout", "affine"),
                    net.layers().stream().map(Layer::type).toList());
            assertEquals(List.of("0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b", "5.gamma", "5.beta", "8.W", "8.b"),
                    List.copyOf(net.parameters().keySet()));
            assertEquals(List.of("1.running_mean", "1.running_var", "5.running_mean", "5.running_var"),
                    List.copyOf(net.buffers().keySet()));
            assertEquals(List.of("1.batches_tracked", "3.offset", "5.batches_tracked", "7.offset"),
                    List.copyOf(net.counters().keySet()));
            assertEquals(6 * 7 + 7 + 14 + 7 * 5 + 5 + 10 + 5 * 3 + 3, net.parameterCount());
            assertEquals(Shape.of(6), net.inputShape());
            assertEquals(Shape.of(4, 3), net.outputShape(8, 4));
        }
    }

    @Test
    void legacyNamesMapCs231nNamesOntoTheNetsNames() {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 3).hidden(7, 5)
                .normalization(Normalization.BATCH).dropoutKeep(0.5).build();
        Map<String, String> m = c.legacyNames();
        assertEquals(List.of("W1", "b1", "gamma1", "beta1", "running_mean1", "running_var1",
                "batchnorm1.batches_tracked", "dropout1.offset", "W2", "b2", "gamma2", "beta2", "running_mean2",
                "running_var2", "batchnorm2.batches_tracked", "dropout2.offset", "W3", "b3"), List.copyOf(m.keySet()));
        try (SequentialNet net = new SequentialNet(backend, c)) {
            java.util.Set<String> all = new java.util.HashSet<>(net.parameters().keySet());
            all.addAll(net.buffers().keySet());
            all.addAll(net.counters().keySet());
            assertEquals(all, java.util.Set.copyOf(m.values()), "every name of the net, once");
        }
        FullyConnectedNetConfig ln = FullyConnectedNetConfig.builder(6, 3).hidden(7).normalization(Normalization.LAYER)
                .build();
        assertEquals(Map.of("W1", "0.W", "b1", "0.b", "gamma1", "1.gamma", "beta1", "1.beta", "W2", "3.W", "b2", "3.b"),
                ln.legacyNames());
    }

    @Test
    void groupNormalizationIsRefusedForAnMlpWithTheReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FullyConnectedNetConfig.builder(6, 3).hidden(7).normalization(Normalization.GROUP).build());
        assertTrue(e.getMessage().contains("group normalization needs channels"), e.getMessage());
    }

    @Test
    void sameSeedGivesSameWeightsAndHeInitHasTheRightSpread() {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(400, 10).hidden(300).heInit().seed(9).build();
        try (SequentialNet a = new SequentialNet(backend, c);
             SequentialNet b = new SequentialNet(backend, c)) {
            float[] w = a.parameters().get("0.W").value().toArray();
            assertArrayEquals(w, b.parameters().get("0.W").value().toArray());
            double sq = 0;
            for (float v : w) {
                sq += v * v;
            }
            assertEquals(2.0 / 400, sq / w.length, 0.1 * 2.0 / 400);
            assertArrayEquals(new float[300], a.parameters().get("0.b").value().toArray());
        }
    }

    @Test
    void regularizationAddsHalfRegTimesSumOfSquaredWeightsToTheLoss() {
        FullyConnectedNetConfig plain = FullyConnectedNetConfig.builder(6, 3).hidden(7).seed(2).weightScale(0.3).build();
        FullyConnectedNetConfig reg = plain.toBuilder().reg(0.25).build();
        try (SequentialNet a = new SequentialNet(backend, plain);
             SequentialNet b = new SequentialNet(backend, reg);
             Tensor x = randn(5, 6, 1);
             Tensor y = backend.upload(new float[] {0, 1, 2, 0, 1}, Shape.of(5))) {
            double sumSq = 0;
            for (String w : List.of("0.W", "2.W")) {
                for (float v : a.parameters().get(w).value().toArray()) {
                    sumSq += v * v;
                }
            }
            float la = a.loss(x, y).item();
            float lb = b.loss(x, y).item();
            // REG_LOSS: both nets compute the same data loss (same backend, same inputs); b adds 0.125·ΣW² per
            // weight matrix: a sum of squares (sum(P) + U), a product by 0.125 (exact) and an add to the total
            // (U of it) for each of the two matrices
            double regBound = Tolerance.SAFETY * (0.5 * 0.25 * sumSq * (Tolerance.sum(6 * 7) + Tolerance.U)
                    + Tolerance.gamma(2) * (Math.abs(la) + 0.5 * 0.25 * sumSq));
            assertEquals(la + 0.5 * 0.25 * sumSq, lb, regBound, "loss with reg outside REG_LOSS");
            float[] wa = a.parameters().get("2.W").value().toArray();
            float[] ga = a.parameters().get("2.W").grad().toArray();
            float[] gb = b.parameters().get("2.W").grad().toArray();
            for (int i = 0; i < ga.length; i++) {
                // dW + reg·W: 0.25·W is exact, the add one rounding of the result (ONE_ROUNDING)
                double expected = ga[i] + 0.25 * wa[i];
                assertEquals(expected, gb[i], Tolerance.SAFETY * Tolerance.U * Math.abs(expected),
                        "dW2[" + i + "] outside ONE_ROUNDING");
            }
        }
    }

    @Test
    void scoresUseEvalModeSoTheyAreDeterministicDespiteDropout() {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 3).hidden(16)
                .normalization(Normalization.BATCH).dropoutKeep(0.5).seed(1).build();
        try (SequentialNet net = new SequentialNet(backend, c); Tensor x = randn(8, 6, 3)) {
            float[] s1 = net.scores(x).toArray();
            float[] s2 = net.scores(x).toArray();
            assertArrayEquals(s1, s2);
            assertEquals(Shape.of(8, 3), net.scores(x).shape());
            int[] p = net.predict(x);
            for (int i = 0; i < 8; i++) {
                int best = 0;
                for (int k = 1; k < 3; k++) {
                    if (s1[i * 3 + k] > s1[i * 3 + best]) {
                        best = k;
                    }
                }
                assertEquals(best, p[i]);
            }
        }
    }

    @Test
    void lossOverwritesGradientsInsteadOfAccumulating() {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 3).hidden(7).normalization(Normalization.LAYER)
                .seed(1).build();
        try (SequentialNet net = new SequentialNet(backend, c); Tensor x = randn(4, 6, 5);
             Tensor y = backend.upload(new float[] {0, 1, 2, 1}, Shape.of(4))) {
            net.loss(x, y);
            float[] g1 = net.parameters().get("0.W").grad().toArray();
            Tensor loss1 = net.loss(x, y);
            assertArrayEquals(g1, net.parameters().get("0.W").grad().toArray());
            assertEquals(Shape.of(1), loss1.shape());
        }
    }

    @Test
    void configRoundTripsThroughItsMapForm() {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(784, 10).hidden(256, 128, 100)
                .normalization(Normalization.BATCH).dropoutKeep(0.85).heInit().reg(1e-4).seed(-7).build();
        assertEquals(c, FullyConnectedNetConfig.fromMap(c.toMap()));
        FullyConnectedNetConfig s = FullyConnectedNetConfig.builder(3, 2).weightInit(WeightInit.gaussian(0.05)).build();
        assertEquals(s, FullyConnectedNetConfig.fromMap(s.toMap()));
        assertNotEquals(c, s);
    }

    @Test
    void badConfigurationsAreRejectedWithTheArgumentNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FullyConnectedNetConfig.builder(6, 3).dropoutKeep(0).build());
        assertTrue(e.getMessage().contains("dropoutKeep"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FullyConnectedNetConfig.builder(6, 1).build());
        assertTrue(e.getMessage().contains("numClasses"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FullyConnectedNetConfig.builder(6, 3).reg(-1).build());
        assertTrue(e.getMessage().contains("reg"), e.getMessage());
    }
}
