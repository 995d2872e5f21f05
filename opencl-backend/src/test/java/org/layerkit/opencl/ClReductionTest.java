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
import org.layerkit.conformance.Bounds;
import org.layerkit.conformance.NormBounds;
import org.layerkit.conformance.Reference;
import org.layerkit.conformance.Tolerance;

/**
 * Reductions are right for every size, not only multiples of the work-group, and stable far from zero, within the
 * derived bounds of docs/tolerances.md (on a device with cl_khr_fp64 the mean is kept as a float head and tail, so
 * the NORM_*_WIDE_MEAN bounds apply; without it the kit's NORM_* ones).
 */
class ClReductionTest {

    /** The derived normalization bounds for this backend's device. */
    private static NormBounds bounds(ClBackend b, NormBounds.Layout l, double[] x, Reference.NormForward f) {
        return b.context().hasFp64() ? NormBounds.trainWideMean(l, x, f) : NormBounds.train(l, x, f);
    }

    private static void assertWithin(double expected, double actual, Tolerance tol, String what) {
        assertTrue(tol.accepts(actual, expected), () -> what + ": expected " + expected + ", got " + actual
                + ", error " + Math.abs(actual - expected) + " > bound " + tol.allowance(expected) + " of " + tol);
    }

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
            assertWithin(ssq, s.item(), Bounds.sumOfSquares(n), "sum of squares of " + n);
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
            Tolerance tol = Bounds.columnSum(r, n, cols);
            for (int c = 0; c < cols; c++) {
                double e = 0;
                for (int i = 0; i < n; i++) {
                    e += r[i * cols + c];
                }
                assertWithin(e, got[c], tol, "column " + c);
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
            double[] xd = Reference.widen(x);
            double[] onesD = Reference.widen(ones);
            NormBounds nb = bounds(b, NormBounds.Layout.layerNorm(n, d), xd,
                    Reference.layerNormForward(xd, n, d, onesD, new double[d], 1e-5f));
            Tolerance meanTol = nb.mean();
            Tolerance outTol = nb.out(onesD, new double[d]);
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
                assertWithin(mu, mean[row], meanTol, "mean of row " + row);
                for (int j = 0; j < d; j++) {
                    double e = (x[row * d + j] - mu) / Math.sqrt(var + 1e-5f);
                    assertWithin(e, out[row * d + j], outTol, "row " + row + " column " + j);
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
            double[] xd = Reference.widen(x);
            NormBounds nb = bounds(b, NormBounds.Layout.spatialBatchNorm(n, c, hw), xd,
                    Reference.spatialBatchNormTrain(xd, n, c, hw, new double[] {1.5, -2}, new double[c], 1e-5f));
            Tolerance runVarTol = NormBounds.runningTolerance("NORM_RUNNING_VAR",
                    nb.runningVarErrors(new double[] {1, 1}, 0.9f, true));
            Tolerance dBetaTol = nb.dBeta(Reference.widen(dOut));
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
                assertWithin(mu, mean[ch], nb.mean(), "mean of channel " + ch);
                assertWithin(1 / Math.sqrt(var + 1e-5f), rstd[ch], nb.rstd(), "rstd of channel " + ch);
                assertWithin(0.9f + (1 - 0.9f) * var * m / (m - 1), runVar[ch], runVarTol,
                        "running variance of channel " + ch);
                assertWithin(sumD, dBeta[ch], dBetaTol, "dBeta of channel " + ch);
            }
        }
    }
}
