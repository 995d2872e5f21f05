package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.layerkit.api.Philox4x32;
import org.layerkit.conformance.Reference.NormBackward;
import org.layerkit.conformance.Reference.NormForward;

/**
 * Every backward of the float64 reference agrees with central-difference numerical gradients (CS231N
 * {@code eval_numerical_gradient_array}, h = 1e-5) to a relative error of at most 1e-7.
 */
class ReferenceGradientTest {
    private static final double EPS = 1e-5;
    private final Random random = new Random(231);

    private double[] normal(int n, double mean, double std) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = mean + std * random.nextGaussian();
        }
        return v;
    }

    private static void assertGradient(String what, double[] analytic, Function<double[], double[]> f, double[] x,
                                       double[] dout) {
        double[] numeric = NumericalGradient.evalArray(f, x, dout);
        double err = NumericalGradient.relativeError(analytic, numeric);
        assertTrue(err <= NumericalGradient.MAX_RELATIVE_ERROR, what + ": relative error " + err);
    }

    /** Checks dx, dγ and dβ of a normalization given its forward as a function of (x, γ, β). */
    private static void assertNormGradients(String what, NormBackward g, double[] x, double[] gamma, double[] beta,
                                            double[] dout, NormFn f) {
        assertGradient(what + " dx", g.dx(), v -> f.out(v, gamma, beta), x, dout);
        assertGradient(what + " dgamma", g.dgamma(), v -> f.out(x, v, beta), gamma, dout);
        assertGradient(what + " dbeta", g.dbeta(), v -> f.out(x, gamma, v), beta, dout);
    }

    @FunctionalInterface
    private interface NormFn {
        double[] out(double[] x, double[] gamma, double[] beta);
    }

    @Test
    void batchNormTrainBackwardMatchesNumericalGradients() {
        int n = 5;
        int d = 4;
        double[] x = normal(n * d, 3, 2);
        double[] gamma = normal(d, 1, 0.3);
        double[] beta = normal(d, 0, 1);
        double[] dout = normal(n * d, 0, 1);
        NormForward f = Reference.batchNormTrain(x, n, d, gamma, beta, EPS);
        NormBackward g = Reference.batchNormBackward(dout, f.xhat(), f.rstd(), gamma, n, d);
        assertNormGradients("batchnorm train", g, x, gamma, beta, dout,
                (xv, gv, bv) -> Reference.batchNormTrain(xv, n, d, gv, bv, EPS).out());
    }

    @Test
    void batchNormEvalBackwardTreatsRunningStatisticsAsConstants() {
        int n = 3;
        int d = 4;
        double[] x = normal(n * d, 0, 1);
        double[] gamma = normal(d, 1, 0.3);
        double[] beta = normal(d, 0, 1);
        double[] rm = normal(d, 0, 1);
        double[] rv = normal(d, 2, 0.3);
        double[] dout = normal(n * d, 0, 1);
        NormForward f = Reference.batchNormEval(x, n, d, gamma, beta, rm, rv, EPS);
        NormBackward g = Reference.batchNormBackwardEval(dout, f.xhat(), f.rstd(), gamma, n, d);
        assertNormGradients("batchnorm eval", g, x, gamma, beta, dout,
                (xv, gv, bv) -> Reference.batchNormEval(xv, n, d, gv, bv, rm, rv, EPS).out());
    }

    @ParameterizedTest(name = "train={0}")
    @CsvSource({"true", "false"})
    void spatialBatchNormBackwardMatchesNumericalGradients(boolean train) {
        int n = 2;
        int c = 3;
        int hw = 4 * 5;
        double[] x = normal(n * c * hw, -1, 3);
        double[] gamma = normal(c, 1, 0.3);
        double[] beta = normal(c, 0, 1);
        double[] rm = normal(c, 0, 1);
        double[] rv = normal(c, 2, 0.3);
        double[] dout = normal(x.length, 0, 1);
        NormFn fn = train ? (xv, gv, bv) -> Reference.spatialBatchNormTrain(xv, n, c, hw, gv, bv, EPS).out()
                : (xv, gv, bv) -> Reference.spatialBatchNormEval(xv, n, c, hw, gv, bv, rm, rv, EPS).out();
        NormForward f = train ? Reference.spatialBatchNormTrain(x, n, c, hw, gamma, beta, EPS)
                : Reference.spatialBatchNormEval(x, n, c, hw, gamma, beta, rm, rv, EPS);
        NormBackward g = Reference.spatialBatchNormBackward(dout, f.xhat(), f.rstd(), gamma, n, c, hw, train);
        assertNormGradients("spatial batchnorm", g, x, gamma, beta, dout, fn);
    }

    @Test
    void layerNormBackwardMatchesNumericalGradients() {
        int n = 4;
        int d = 5;
        double[] x = normal(n * d, 2, 3);
        double[] gamma = normal(d, 1, 0.3);
        double[] beta = normal(d, 0, 1);
        double[] dout = normal(n * d, 0, 1);
        NormForward f = Reference.layerNormForward(x, n, d, gamma, beta, EPS);
        NormBackward g = Reference.layerNormBackward(dout, f.xhat(), f.rstd(), gamma, n, d);
        assertNormGradients("layernorm", g, x, gamma, beta, dout,
                (xv, gv, bv) -> Reference.layerNormForward(xv, n, d, gv, bv, EPS).out());
    }

    @ParameterizedTest(name = "G={0}")
    @CsvSource({"1", "2", "3", "6"})
    void groupNormBackwardMatchesNumericalGradients(int groups) {
        int n = 2;
        int c = 6;
        int hw = 2 * 3;
        double[] x = normal(n * c * hw, 1, 2);
        double[] gamma = normal(c, 1, 0.3);
        double[] beta = normal(c, 0, 1);
        double[] dout = normal(x.length, 0, 1);
        NormForward f = Reference.groupNormForward(x, n, c, hw, groups, gamma, beta, EPS);
        NormBackward g = Reference.groupNormBackward(dout, f.xhat(), f.rstd(), gamma, n, c, hw, groups);
        assertNormGradients("groupnorm G=" + groups, g, x, gamma, beta, dout,
                (xv, gv, bv) -> Reference.groupNormForward(xv, n, c, hw, groups, gv, bv, EPS).out());
    }

    @Test
    void dropoutBackwardMatchesNumericalGradients() {
        float[] mask = Reference.dropoutMask(37, 0.6, 12345, 1L << 40);
        double[] x = normal(37, 0, 1);
        double[] dout = normal(37, 0, 1);
        assertGradient("dropout", Reference.dropoutBackward(dout, mask), v -> Reference.dropoutForward(v, mask), x,
                dout);
    }

    @Test
    void reluBackwardMatchesNumericalGradientsAwayFromZero() {
        double[] x = normal(50, 0, 1);
        for (int i = 0; i < x.length; i++) {
            x[i] += Math.signum(x[i]) * 0.1; // keep every x at least 0.1 from the kink
        }
        double[] dout = normal(50, 0, 1);
        assertGradient("relu", Reference.reluBackward(dout, x), Reference::relu, x, dout);
    }

    @Test
    void softmaxCrossEntropyGradientMatchesNumericalGradients() {
        int n = 6;
        int k = 5;
        double[] logits = normal(n * k, 0, 2);
        int[] labels = {0, 4, 2, 2, 1, 3};
        Reference.Loss l = Reference.softmaxCrossEntropy(logits, labels, n, k);
        double[] numeric = NumericalGradient.evalScalar(
                v -> Reference.softmaxCrossEntropy(v, labels, n, k).loss(), logits, NumericalGradient.H);
        double err = NumericalGradient.relativeError(l.dlogits(), numeric);
        assertTrue(err <= NumericalGradient.MAX_RELATIVE_ERROR, "softmax CE relative error " + err);
    }

    @ParameterizedTest(name = "transA={0}, transB={1}")
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void gemmBackwardMatchesNumericalGradients(boolean ta, boolean tb) {
        int m = 3;
        int k = 4;
        int n = 5;
        int aRows = ta ? k : m;
        int aCols = ta ? m : k;
        int bRows = tb ? n : k;
        int bCols = tb ? k : n;
        double alpha = 0.7;
        double beta = -1.3;
        double[] a = normal(m * k, 0, 1);
        double[] b = normal(k * n, 0, 1);
        double[] c = normal(m * n, 0, 1);
        double[] dout = normal(m * n, 0, 1);
        Reference.GemmBackward g = Reference.gemmBackward(dout, a, aRows, aCols, ta, b, bRows, bCols, tb, alpha, beta);
        assertGradient("gemm dA", g.da(), v -> Reference.gemm(v, aRows, aCols, ta, b, bRows, bCols, tb, c, alpha,
                beta), a, dout);
        assertGradient("gemm dB", g.db(), v -> Reference.gemm(a, aRows, aCols, ta, v, bRows, bCols, tb, c, alpha,
                beta), b, dout);
        assertGradient("gemm dC", g.dc(), v -> Reference.gemm(a, aRows, aCols, ta, b, bRows, bCols, tb, v, alpha,
                beta), c, dout);
    }

    @Test
    void relativeErrorIsCs231nsElementwiseMaximum() {
        assertEquals(0.0, NumericalGradient.relativeError(new double[] {1, 0}, new double[] {1, 0}));
        assertEquals(1.0 / 3, NumericalGradient.relativeError(new double[] {1, 5}, new double[] {2, 5}), 1e-15);
        assertTrue(Double.isNaN(NumericalGradient.relativeError(new double[] {1, Double.NaN}, new double[] {1, 1})));
    }

    @Test
    void gradientCheckerRejectsAWrongGradient() {
        double[] x = normal(10, 0, 1);
        double[] dout = normal(10, 0, 1);
        double[] wrong = Reference.reluBackward(dout, x);
        wrong[3] += 1e-4;
        double[] numeric = NumericalGradient.evalArray(Reference::relu, x, dout);
        assertTrue(NumericalGradient.relativeError(wrong, numeric) > NumericalGradient.MAX_RELATIVE_ERROR);
    }

    @Test
    void batchNormTrainOutputHasZeroMeanUnitVariancePerFeatureBeforeTheAffineStep() {
        int n = 200;
        int d = 3;
        double[] x = normal(n * d, 1e4, 1);
        NormForward f = Reference.batchNormTrain(x, n, d, new double[] {1, 1, 1}, new double[3], 0);
        for (int j = 0; j < d; j++) {
            double s = 0;
            double q = 0;
            for (int i = 0; i < n; i++) {
                s += f.out()[i * d + j];
                q += f.out()[i * d + j] * f.out()[i * d + j];
            }
            assertEquals(0, s / n, 1e-10);
            assertEquals(1, q / n, 1e-10);
        }
    }

    @Test
    void referenceDropoutMaskAgreesWithTheApisPhiloxMapping() {
        long[][] seedsOffsets = {{0, 0}, {-1, -1}, {0xDEADBEEFCAFEF00DL, 1L << 40}, {7, (1L << 32) + 5}};
        for (long[] so : seedsOffsets) {
            int size = 1001;
            double keep = 0.37;
            int threshold = (int) Math.floor(keep * (1 << 24));
            float[] mask = Reference.dropoutMask(size, keep, so[0], so[1]);
            for (int i = 0; i < size; i++) {
                boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(so[0], so[1], i), threshold);
                assertEquals(kept ? (float) (1 / keep) : 0f, mask[i], "element " + i + " of " + so[0] + "/" + so[1]);
            }
        }
    }
}
