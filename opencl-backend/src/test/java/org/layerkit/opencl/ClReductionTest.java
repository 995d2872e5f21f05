package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Reductions are right for every size, not only multiples of the work-group, and stable far from zero. */
class ClReductionTest {

    private static float[] data(int n, double offset, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (offset + r.nextGaussian());
        }
        return x;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7, 255, 256, 257, 1023, 4097, 100_003})
    void sumOfSquaresAndColumnSumsAreExactToFloatPrecision(int n) {
        ClBackend b = ClTestBackend.backend();
        float[] x = data(n, 0.5, n);
        double ssq = 0;
        for (float v : x) {
            ssq += (double) v * v;
        }
        try (Tensor t = b.upload(x, Shape.of(n)); Tensor s = b.sumOfSquares(t)) {
            assertEquals(ssq, s.item(), 1e-6 * ssq);
        }
        int cols = 3;
        try (Tensor t = b.upload(x, Shape.of(1, n)); Tensor rows = b.upload(data(n * cols, 0, 1), Shape.of(n, cols));
             Tensor s1 = b.columnSum(t); Tensor s2 = b.columnSum(rows)) {
            float[] one = s1.toArray();
            for (int i = 0; i < n; i++) {
                assertEquals(x[i], one[i]);
            }
            float[] r = data(n * cols, 0, 1);
            float[] got = s2.toArray();
            for (int c = 0; c < cols; c++) {
                double e = 0;
                for (int i = 0; i < n; i++) {
                    e += r[i * cols + c];
                }
                assertEquals(e, got[c], 1e-5 * Math.sqrt(n) + 1e-6, "column " + c);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 255, 257, 4097})
    void layerNormStatisticsAreStableFarFromZero(int d) {
        ClBackend b = ClTestBackend.backend();
        int n = 3;
        float[] x = data(n * d, 1e4, d);
        float[] ones = new float[d];
        java.util.Arrays.fill(ones, 1f);
        try (Tensor xt = b.upload(x, Shape.of(n, d)); Tensor g = b.upload(ones, Shape.of(d));
             Tensor be = b.zeros(Shape.of(d)); NormResult r = b.layerNormForward(xt, g, be, 1e-5f)) {
            float[] out = r.out().toArray();
            float[] mean = r.cache().mean().toArray();
            for (int row = 0; row < n; row++) {
                double mu = 0;
                for (int j = 0; j < d; j++) {
                    mu += x[row * d + j];
                }
                mu /= d;
                double var = 0;
                for (int j = 0; j < d; j++) {
                    var += (x[row * d + j] - mu) * (x[row * d + j] - mu);
                }
                var /= d;
                assertEquals(mu, mean[row], Math.ulp((float) mu));
                for (int j = 0; j < d; j++) {
                    double e = (x[row * d + j] - mu) / Math.sqrt(var + 1e-5);
                    assertEquals(e, out[row * d + j], 1e-5 * (1 + Math.abs(e)), "row " + row + " column " + j);
                }
            }
        }
    }

    @Test
    void fewStatisticsOverManyElementsAreSplitIntoChunksAndMergedExactly() {
        ClBackend b = ClTestBackend.backend();
        int n = 64;
        int c = 2;
        int h = 33;
        int w = 31;
        int hw = h * w;
        ClLayout layout = ClLayout.perChannel(n, c, hw);
        int chunks = layout.plan(b.context(), "norm", "norm_partial_stats").chunks();
        assertTrue(chunks > 1, "two channels over 65,472 elements each should be split, got " + chunks + " chunk");
        float[] x = data(n * c * hw, 1e4, 11);
        float[] dOut = data(n * c * hw, 0, 12);
        try (Tensor xt = b.upload(x, Shape.of(n, c, h, w)); Tensor g = b.upload(new float[] {1.5f, -2f}, Shape.of(c));
             Tensor be = b.zeros(Shape.of(c)); RunningStats running = RunningStats.initial(b, c);
             NormResult r = b.spatialBatchNormForward(xt, g, be, running.mean(), running.var(),
                     new BatchNormParams(1e-5f, 0.9f, true), Mode.TRAIN);
             Tensor d = b.upload(dOut, Shape.of(n, c, h, w));
             NormGrads grads = b.spatialBatchNormBackward(d, r.cache(), g)) {
            float[] mean = r.cache().mean().toArray();
            float[] rstd = r.cache().rstd().toArray();
            float[] runVar = running.var().toArray();
            float[] dBeta = grads.dBeta().toArray();
            int m = n * hw;
            for (int ch = 0; ch < c; ch++) {
                double mu = 0;
                double sumD = 0;
                for (int k = 0; k < n; k++) {
                    for (int s = 0; s < hw; s++) {
                        mu += x[(k * c + ch) * hw + s];
                        sumD += dOut[(k * c + ch) * hw + s];
                    }
                }
                mu /= m;
                double var = 0;
                for (int k = 0; k < n; k++) {
                    for (int s = 0; s < hw; s++) {
                        double q = x[(k * c + ch) * hw + s] - mu;
                        var += q * q;
                    }
                }
                var /= m;
                assertEquals(mu, mean[ch], Math.ulp((float) mu), "mean of channel " + ch);
                assertEquals(1 / Math.sqrt(var + 1e-5), rstd[ch], 1e-6, "rstd of channel " + ch);
                assertEquals(0.9 + 0.1 * var * m / (m - 1), runVar[ch], 1e-6, "running variance of channel " + ch);
                assertEquals(sumD, dBeta[ch], 1e-6 * Math.sqrt(m), "dBeta of channel " + ch);
            }
        }
    }
}
