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
        assertGradient(what, analytic, f, x, dout, NumericalGradient.H);
    }

    /**
     * With step {@code h}: for functions linear in the perturbed argument (convolution in x, w or b alone; pooling
     * away from ties) central differences have no truncation error at any step, and a step larger than CS231N's
     * 1e-5 only shrinks the cancellation error of f(x + h) − f(x − h).
     */
    private static void assertGradient(String what, double[] analytic, Function<double[], double[]> f, double[] x,
                                       double[] dout, double h) {
        double[] numeric = NumericalGradient.evalArray(f, x, dout, h);
        double err = NumericalGradient.relativeError(analytic, numeric);
        assertTrue(err <= NumericalGradient.MAX_RELATIVE_ERROR, what + ": relative error " + err);
    }

    /** The step for the linear ops of convolution and pooling (see {@link #assertGradient}). */
    private static final double LINEAR_H = 1e-3;

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

    @ParameterizedTest(name = "N={0} C={1} {2}x{3} F={4} k{5}x{6} stride {7},{8} pad {9},{10} bias={11}")
    @CsvSource({
        "2,3,5,6,4,3,3,1,1,1,1,true",    // odd, non-square, padding 1
        "1,2,7,5,3,3,2,2,2,0,1,true",    // stride 2 on both axes, non-square kernel, padding on W only
        "2,1,6,6,2,1,1,1,1,0,0,false",   // 1×1 kernel, C = 1, no bias
        "1,2,4,4,2,3,3,2,1,2,2,true",    // padding 2 (outer outputs see only padding), unequal strides
        "1,1,9,9,1,7,7,1,1,0,0,true"})   // 7×7 kernel
    void conv2dBackwardMatchesNumericalGradients(int n, int c, int h, int w, int f, int kh, int kw, int sh, int sw,
                                                 int ph, int pw, boolean bias) {
        Reference.Conv2dShape g = new Reference.Conv2dShape(n, c, h, w, f, kh, kw,
                org.layerkit.api.Conv2dParams.of(sh, sw, ph, pw));
        double[] x = normal(n * c * h * w, 0, 1);
        double[] wt = normal(f * c * kh * kw, 0, 1);
        double[] b = bias ? normal(f, 0, 1) : null;
        double[] dout = normal(g.outputShape().size(), 0, 1);
        Reference.Conv2dBackward grads = Reference.conv2dBackward(dout, x, wt, bias, g);
        String what = "conv2d " + g;
        assertGradient(what + " dx", grads.dx(), v -> Reference.conv2dForward(v, wt, b, g), x, dout, LINEAR_H);
        assertGradient(what + " dw", grads.dw(), v -> Reference.conv2dForward(x, v, b, g), wt, dout, LINEAR_H);
        if (bias) {
            assertGradient(what + " db", grads.db(), v -> Reference.conv2dForward(x, wt, v, g), b, dout, LINEAR_H);
        } else {
            assertEquals(null, grads.db(), what + ": no bias, no db");
        }
    }

    @Test
    void conv2dForwardMatchesAHandComputedExample() {
        // x = 1..9 as 3×3, w = [[1,0],[0,-1]] (x[i][j] − x[i+1][j+1] = −4 everywhere inside), padding 1, stride 2
        double[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        double[] w = {1, 0, 0, -1};
        Reference.Conv2dShape g = new Reference.Conv2dShape(1, 1, 3, 3, 1, 2, 2,
                org.layerkit.api.Conv2dParams.of(2, 1));
        // H' = ⌊(3 + 2 − 2)/2⌋ + 1 = 2; window (i,j) reads x̃ rows 2i, 2i+1 and columns 2j, 2j+1 (x̃ padded by 1)
        double[] out = Reference.conv2dForward(x, w, new double[] {10}, g);
        // (0,0): 0 − x[0][0] = −1; (0,1): 0 − x[0][2] = −3; (1,0): 0 − x[2][0] = −7; (1,1): x[1][1] − x[2][2] = −4
        org.junit.jupiter.api.Assertions.assertArrayEquals(new double[] {9, 7, 3, 6}, out);
    }

    @Test
    void maxPoolBackwardMatchesNumericalGradientsAwayFromTies() {
        int n = 2;
        int c = 3;
        int h = 7;
        int w = 6;
        for (org.layerkit.api.Pool2dParams p : new org.layerkit.api.Pool2dParams[] {
            org.layerkit.api.Pool2dParams.of(2, 2), org.layerkit.api.Pool2dParams.of(3, 2),
            new org.layerkit.api.Pool2dParams(3, 2, 1, 2)}) {
            // a random permutation scaled by 0.1: every pair of values differs by far more than h = 1e-5
            java.util.List<Double> values = new java.util.ArrayList<>();
            for (int i = 0; i < n * c * h * w; i++) {
                values.add(0.1 * i);
            }
            java.util.Collections.shuffle(values, random);
            double[] x = values.stream().mapToDouble(Double::doubleValue).toArray();
            Reference.MaxPool f = Reference.maxPool2dForward(x, n, c, h, w, p);
            double[] dout = normal(f.out().length, 0, 1);
            assertGradient("maxpool " + p, Reference.maxPool2dBackward(dout, f.argmax(), n, c, h, w, p),
                    v -> Reference.maxPool2dForward(v, n, c, h, w, p).out(), x, dout, LINEAR_H);
        }
    }

    @Test
    void maxPoolTiesGoToTheFirstElementAndNanWins() {
        org.layerkit.api.Pool2dParams p = org.layerkit.api.Pool2dParams.of(2, 2);
        // windows of a 2×4 plane: {1,3 | 3,1} tie → position 1; {NaN,2 | NaN,5} → the first NaN, position 2
        double[] x = {1, 3, Double.NaN, 2, 3, 1, Double.NaN, 5};
        Reference.MaxPool f = Reference.maxPool2dForward(x, 1, 1, 2, 4, p);
        assertEquals(3.0, f.out()[0]);
        assertEquals(1, f.argmax()[0]);
        assertTrue(Double.isNaN(f.out()[1]));
        assertEquals(2, f.argmax()[1]);
    }

    @Test
    void globalAvgPoolBackwardMatchesNumericalGradients() {
        double[] x = normal(2 * 3 * 5 * 4, 1, 2);
        double[] dout = normal(2 * 3, 0, 1);
        assertGradient("global avgpool", Reference.globalAvgPoolBackward(dout, 2, 3, 20),
                v -> Reference.globalAvgPoolForward(v, 2, 3, 20), x, dout, LINEAR_H);
    }

    @Test
    void spatialDropoutBackwardMatchesNumericalGradientsAndItsMaskIsDropoutsOverPlanes() {
        org.layerkit.api.DropoutOptions o = new org.layerkit.api.DropoutOptions(0.6, 99, 1L << 33);
        float[] mask = Reference.spatialDropoutMask(3, 5, o);
        org.junit.jupiter.api.Assertions.assertArrayEquals(Reference.dropoutMask(15, o), mask);
        double[] x = normal(3 * 5 * 6, 0, 1);
        double[] dout = normal(x.length, 0, 1);
        assertGradient("spatial dropout", Reference.spatialDropoutBackward(dout, mask, 6),
                v -> Reference.spatialDropoutForward(v, mask, 6), x, dout, LINEAR_H);
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
