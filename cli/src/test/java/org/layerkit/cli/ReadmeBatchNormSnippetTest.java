package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendUnavailableException;
import org.layerkit.api.Backends;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NormBounds;
import org.layerkit.conformance.Reference;
import org.layerkit.conformance.Tolerance;

/** The README's library snippets, compiled and run so they cannot rot. */
class ReadmeBatchNormSnippetTest {

    @Test
    void readmeBatchNormSnippetRunsAndNormalizesEachFeature() {
        float[] out;
        float[] dGamma;
        // --- as in README.md, "As a library: a batchnorm forward and backward" (backend named for determinism)
        try (Backend backend = Backends.get("cpu")) {
            int n = 4, d = 3;
            float[] xs = new float[n * d];
            for (int i = 0; i < xs.length; i++) xs[i] = (float) Math.sin(i);
            try (Tensor x = backend.upload(xs, Shape.of(n, d));
                 Tensor gamma = backend.upload(new float[] {1, 1, 1}, Shape.of(d));
                 Tensor beta = backend.zeros(Shape.of(d));
                 RunningStats running = RunningStats.initial(backend, d);
                 NormResult y = backend.batchNormForward(x, gamma, beta, running, BatchNormOptions.defaults(), Mode.TRAIN);
                 Tensor dOut = backend.upload(new float[n * d], Shape.of(n, d));
                 NormGrads g = backend.batchNormBackward(dOut, y.cache(), gamma)) {
                out = y.out().toArray();
                dGamma = g.dGamma().toArray();
                assertEquals(1, running.batchesTracked());
            }
        }
        // --- end of snippet: each feature of the output has mean 0 and (biased) variance σ²/(σ²+ε) ≈ 1, within
        // MOMENTS_OF_NORM_OUT: outputs each within NORM_OUT (E) of the exact ones, so their mean within E and their
        // variance within 2·max|x̂|·E + E²
        double[] xd = new double[12];
        for (int i = 0; i < 12; i++) xd[i] = (float) Math.sin(i);
        double[] ones = {1, 1, 1};
        float eps = BatchNormOptions.defaults().eps();
        Reference.NormForward ref = Reference.batchNormTrain(xd, 4, 3, ones, new double[3], eps);
        double e = NormBounds.train(NormBounds.Layout.batchNorm(4, 3), xd, ref).out(ones, new double[3]).atol();
        double maxXhat = Tolerance.maxAbs(ref.xhat());
        for (int f = 0; f < 3; f++) {
            double mean = 0, var = 0;
            for (int r = 0; r < 4; r++) mean += out[r * 3 + f] / 4.0;
            for (int r = 0; r < 4; r++) var += Math.pow(out[r * 3 + f] - mean, 2) / 4.0;
            double expectedVar = ref.var()[f] / (ref.var()[f] + eps);
            assertEquals(0.0, mean, e, "mean of feature " + f + " (MOMENTS_OF_NORM_OUT)");
            assertEquals(expectedVar, var, 2 * maxXhat * e + e * e + Tolerance.gamma64(8),
                    "variance of feature " + f + " (MOMENTS_OF_NORM_OUT)");
            assertEquals(0f, dGamma[f], "dGamma of a zero dOut, feature " + f);
        }
    }

    @Test
    void readmeErrorExampleIsTheRealMessage() {
        try (Backend backend = Backends.get("cpu");
             Tensor x = backend.zeros(Shape.of(4, 3));
             Tensor gamma = backend.zeros(Shape.of(4));
             Tensor beta = backend.zeros(Shape.of(3));
             RunningStats running = RunningStats.initial(backend, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                    backend.batchNormForward(x, gamma, beta, running, BatchNormOptions.defaults(), Mode.TRAIN));
            assertEquals("batchnorm.forward: gamma expected shape [3], got shape [4]", e.getMessage());
        }
    }

    @Test
    void unknownBackendListsInstalledOnes() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.get("nope"));
        assertTrue(e.getMessage().startsWith("unknown backend 'nope'; installed: "), e.getMessage());
        assertTrue(e.getMessage().contains("cpu (available)"), e.getMessage());
        assertTrue(e.getMessage().contains("opencl ("), e.getMessage());
    }
}
