package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Locale;
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
 * {@code eval_numerical_gradient_array}, h = 1e-5) within the numerical gradient's own derived error bound
 * (NUMERICAL_GRADIENT in docs/tolerances.md: Richardson's estimate of the truncation plus the roundoff of two float64
 * evaluations, each good to ε, over 2h). ε comes from the magnitudes of each function's terms; the float64 analytic
 * gradient's own error is smaller than ε/h by h/|x| ≤ 1e-4 and is covered by the safety factor.
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

    /**
     * |analytic − numerical| ≤ SAFETY·(the numerical gradient's error bound) element-wise; a failure reports the
     * length, max error, its bound, the bound's name, the first bad index and CS231N's relative error.
     */
    static void assertGradient(String what, double[] analytic, Function<double[], double[]> f, double[] x,
                               double[] dout, double evalError) {
        NumericalGradient.Estimate est = NumericalGradient.evalArrayWithError(f, x, dout, NumericalGradient.H,
                evalError);
        assertWithin(what, analytic, est);
    }

    static void assertWithin(String what, double[] analytic, NumericalGradient.Estimate est) {
        double maxErr = 0;
        int maxAt = -1;
        int firstBad = -1;
        for (int i = 0; i < analytic.length; i++) {
            double err = Math.abs(analytic[i] - est.grad()[i]);
            if (!(err <= maxErr)) {
                maxErr = err;
                maxAt = i;
            }
            if (firstBad < 0 && !(err <= Tolerance.SAFETY * est.error()[i])) {
                firstBad = i;
            }
        }
        if (firstBad >= 0) {
            fail(String.format(Locale.ROOT, "%s [%d]: max abs error %.3e at %d (bound %.3e); first bad index %d: "
                            + "analytic %.12g, numerical %.12g, error %.3e > bound NUMERICAL_GRADIENT %.3e; "
                            + "CS231N relative error %.2e", what, analytic.length, maxErr, maxAt,
                    Tolerance.SAFETY * est.error()[maxAt], firstBad, analytic[firstBad], est.grad()[firstBad],
                    Math.abs(analytic[firstBad] - est.grad()[firstBad]), Tolerance.SAFETY * est.error()[firstBad],
                    NumericalGradient.relativeError(analytic, est.grad())));
        }
    }

    /** ε of Σ dout·f for an element-wise f of a few roundings: γ64(k)·Σ|dout·f|. */
    static double elementwiseEvalError(double[] f, double[] dout, int roundings) {
        double m = 0;
        for (int i = 0; i < f.length; i++) {
            m += Math.abs(dout[i] * f[i]);
        }
        return Tolerance.gamma64(roundings + f.length) * m;
    }

    /** Checks dx, dγ and dβ of a normalization given its forward as a function of (x, γ, β). */
    private static void assertNormGradients(String what, NormBackward g, double[] x, double[] gamma, double[] beta,
                                            double[] dout, NormFn f, NormBounds.Layout layout) {
        double e = NormBounds.float64EvalError(layout, x, gamma, beta, dout, EPS);
        assertGradient(what + " dx", g.dx(), v -> f.out(v, gamma, beta), x, dout, e);
        assertGradient(what + " dgamma", g.dgamma(), v -> f.out(x, v, beta), gamma, dout, e);
        assertGradient(what + " dbeta", g.dbeta(), v -> f.out(x, gamma, v), beta, dout, e);
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
                (xv, gv, bv) -> Reference.batchNormTrain(xv, n, d, gv, bv, EPS).out(),
                NormBounds.Layout.batchNorm(n, d));
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
                (xv, gv, bv) -> Reference.batchNormEval(xv, n, d, gv, bv, rm, rv, EPS).out(),
                NormBounds.Layout.batchNorm(n, d));
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
        assertNormGradients("spatial batchnorm", g, x, gamma, beta, dout, fn,
                NormBounds.Layout.spatialBatchNorm(n, c, hw));
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
                (xv, gv, bv) -> Reference.layerNormForward(xv, n, d, gv, bv, EPS).out(),
                NormBounds.Layout.layerNorm(n, d));
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
                (xv, gv, bv) -> Reference.groupNormForward(xv, n, c, hw, groups, gv, bv, EPS).out(),
                NormBounds.Layout.groupNorm(n, c, hw, groups));
    }

    @Test
    void dropoutBackwardMatchesNumericalGradients() {
        float[] mask = Reference.dropoutMask(37, 0.6, 12345, 1L << 40);
        double[] x = normal(37, 0, 1);
        double[] dout = normal(37, 0, 1);
        assertGradient("dropout", Reference.dropoutBackward(dout, mask), v -> Reference.dropoutForward(v, mask), x,
                dout, elementwiseEvalError(Reference.dropoutForward(x, mask), dout, 1));
    }

    @Test
    void reluBackwardMatchesNumericalGradientsAwayFromZero() {
        double[] x = normal(50, 0, 1);
        for (int i = 0; i < x.length; i++) {
            x[i] += Math.signum(x[i]) * 0.1; // keep every x at least 0.1 from the kink
        }
        double[] dout = normal(50, 0, 1);
        assertGradient("relu", Reference.reluBackward(dout, x), Reference::relu, x, dout,
                elementwiseEvalError(Reference.relu(x), dout, 0));
    }

    @Test
    void softmaxCrossEntropyGradientMatchesNumericalGradients() {
        int n = 6;
        int k = 5;
        double[] logits = normal(n * k, 0, 2);
        int[] labels = {0, 4, 2, 2, 1, 3};
        Reference.Loss l = Reference.softmaxCrossEntropy(logits, labels, n, k);
        // ε: per row, z − max, K exponentials, their sum, a log and the label's term, each relative to the row's
        // magnitudes |log S| + max|z − max z|; then the mean over N rows
        double rows = 0;
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            double min = Double.POSITIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, logits[i * k + j]);
                min = Math.min(min, logits[i * k + j]);
            }
            rows += Math.log(k) + 2 * (max - min);
        }
        double evalError = Tolerance.gamma64(2 * k + n + 10) * rows / n;
        assertWithin("softmax CE dlogits", l.dlogits(), NumericalGradient.evalScalarWithError(
                v -> Reference.softmaxCrossEntropy(v, labels, n, k).loss(), logits, NumericalGradient.H, evalError));
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
        // ε: each output a dot product of K terms plus β·c, weighted by |dout|
        double[] absA = a.clone();
        double[] absB = b.clone();
        double[] absC = c.clone();
        for (double[] v : new double[][] {absA, absB, absC}) {
            for (int i = 0; i < v.length; i++) {
                v[i] = Math.abs(v[i]);
            }
        }
        double[] mag = Reference.gemm(absA, aRows, aCols, ta, absB, bRows, bCols, tb, absC, Math.abs(alpha),
                Math.abs(beta));
        double e = elementwiseEvalError(mag, dout, k + 3);
        assertGradient("gemm dA", g.da(), v -> Reference.gemm(v, aRows, aCols, ta, b, bRows, bCols, tb, c, alpha,
                beta), a, dout, e);
        assertGradient("gemm dB", g.db(), v -> Reference.gemm(a, aRows, aCols, ta, v, bRows, bCols, tb, c, alpha,
                beta), b, dout, e);
        assertGradient("gemm dC", g.dc(), v -> Reference.gemm(a, aRows, aCols, ta, b, bRows, bCols, tb, v, alpha,
                beta), c, dout, e);
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
        // ε: each output a dot product of C·KH·KW terms plus the bias, weighted by |dout|
        double e = elementwiseEvalError(Reference.conv2dForward(Reference.abs(x), Reference.abs(wt),
                Reference.abs(b), g), dout, c * kh * kw + 1);
        String what = "conv2d " + g;
        assertGradient(what + " dx", grads.dx(), v -> Reference.conv2dForward(v, wt, b, g), x, dout, e);
        assertGradient(what + " dw", grads.dw(), v -> Reference.conv2dForward(x, v, b, g), wt, dout, e);
        if (bias) {
            assertGradient(what + " db", grads.db(), v -> Reference.conv2dForward(x, wt, v, g), b, dout, e);
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
            // ε: a maximum rounds nothing, so only the weighted sum over dout
            assertGradient("maxpool " + p, Reference.maxPool2dBackward(dout, f.argmax(), n, c, h, w, p),
                    v -> Reference.maxPool2dForward(v, n, c, h, w, p).out(), x, dout,
                    elementwiseEvalError(f.out(), dout, 0));
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
        // ε: each output a sum of H·W terms and a division, weighted by |dout|
        assertGradient("global avgpool", Reference.globalAvgPoolBackward(dout, 2, 3, 20),
                v -> Reference.globalAvgPoolForward(v, 2, 3, 20), x, dout,
                elementwiseEvalError(Reference.globalAvgPoolForward(Reference.abs(x), 2, 3, 20), dout, 20 + 1));
    }

    @Test
    void spatialDropoutBackwardMatchesNumericalGradientsAndItsMaskIsDropoutsOverPlanes() {
        org.layerkit.api.DropoutOptions o = new org.layerkit.api.DropoutOptions(0.6, 99, 1L << 33);
        float[] mask = Reference.spatialDropoutMask(3, 5, o);
        org.junit.jupiter.api.Assertions.assertArrayEquals(Reference.dropoutMask(15, o), mask);
        double[] x = normal(3 * 5 * 6, 0, 1);
        double[] dout = normal(x.length, 0, 1);
        assertGradient("spatial dropout", Reference.spatialDropoutBackward(dout, mask, 6),
                v -> Reference.spatialDropoutForward(v, mask, 6), x, dout,
                elementwiseEvalError(Reference.spatialDropoutForward(x, mask, 6), dout, 1));
    }

    @Test
    void relativeErrorIsCs231nsElementwiseMaximum() {
        assertEquals(0.0, NumericalGradient.relativeError(new double[] {1, 0}, new double[] {1, 0}));
        // |1 − 2| / (1 + 2): the same two float64 operations as 1.0 / 3, so the same bits
        assertEquals(1.0 / 3, NumericalGradient.relativeError(new double[] {1, 5}, new double[] {2, 5}));
        assertTrue(Double.isNaN(NumericalGradient.relativeError(new double[] {1, Double.NaN}, new double[] {1, 1})));
    }

    @Test
    void gradientCheckerRejectsAWrongGradient() {
        double[] x = normal(10, 0, 1);
        double[] dout = normal(10, 0, 1);
        double[] wrong = Reference.reluBackward(dout, x);
        wrong[3] += 1e-4;
        NumericalGradient.Estimate est = NumericalGradient.evalArrayWithError(Reference::relu, x, dout,
                NumericalGradient.H, elementwiseEvalError(Reference.relu(x), dout, 0));
        assertTrue(Math.abs(wrong[3] - est.grad()[3]) > Tolerance.SAFETY * est.error()[3],
                "a gradient off by 1e-4 must exceed the derived bound " + Tolerance.SAFETY * est.error()[3]);
        assertTrue(NumericalGradient.relativeError(wrong, est.grad()) > NumericalGradient.MAX_RELATIVE_ERROR);
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
            double absX = 0;
            double absXhat = 0;
            for (int i = 0; i < n; i++) {
                s += f.out()[i * d + j];
                q += f.out()[i * d + j] * f.out()[i * d + j];
                absX += Math.abs(x[i * d + j]) / n;
                absXhat += Math.abs(f.out()[i * d + j]) / n;
            }
            // REFERENCE_MOMENTS (float64): μ off by γ64(n+1)·mean|x|, so x̂ by r times that (common to all of them),
            // plus γ64(3)·|x̂| each; their mean adds γ64(n+1), their mean square twice the x̂ errors and γ64(n+2)
            double r = f.rstd()[j];
            double xhatErr = Tolerance.gamma64(n + 1) * absX * r;
            double meanBound = Tolerance.SAFETY * (xhatErr + Tolerance.gamma64(n + 4) * absXhat);
            double varBound = Tolerance.SAFETY * (2 * absXhat * (xhatErr + Tolerance.gamma64(3) * absXhat)
                    + Tolerance.gamma64(2 * n + 6) * (q / n));
            assertEquals(0, s / n, meanBound, "REFERENCE_MOMENTS: mean of x̂, feature " + j);
            assertEquals(1, q / n, varBound, "REFERENCE_MOMENTS: variance of x̂, feature " + j);
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
