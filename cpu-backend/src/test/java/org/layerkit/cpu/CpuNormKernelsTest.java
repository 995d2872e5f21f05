package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.layerkit.cpu.Numerics.assertClose;
import static org.layerkit.cpu.Numerics.gaussian;
import static org.layerkit.cpu.Numerics.toDouble;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NormBounds;
import org.layerkit.conformance.NumericalGradient;
import org.layerkit.conformance.Reference.NormForward;

/**
 * The CPU backend's normalizations against float64 references under the derived bounds of docs/tolerances.md: the
 * kit's NORM_* with the mean kept wider than float32 (NORM_*_WIDE_MEAN, the head-and-tail mean this backend promises),
 * and central differences with their own error (NUMERICAL_GRADIENT).
 */
class CpuNormKernelsTest {
    private static final float EPS = 1e-5f;
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    /** Forward and backward of one normalization kind on the backend. */
    private interface Kind {
        NormResult forward(Tensor x, Tensor gamma, Tensor beta);

        NormGrads backward(Tensor dOut, NormResult r, Tensor gamma);
    }

    private Kind batchNorm(int features) {
        return new Kind() {
            @Override
            public NormResult forward(Tensor x, Tensor gamma, Tensor beta) {
                try (Tensor rm = be.zeros(Shape.of(features)); Tensor rv = be.zeros(Shape.of(features))) {
                    return be.batchNormForward(x, gamma, beta, rm, rv, new BatchNormParams(EPS, 0.9f, false),
                            Mode.TRAIN);
                }
            }

            @Override
            public NormGrads backward(Tensor dOut, NormResult r, Tensor gamma) {
                return be.batchNormBackward(dOut, r.cache(), gamma);
            }
        };
    }

    private Kind spatialBatchNorm(int channels) {
        return new Kind() {
            @Override
            public NormResult forward(Tensor x, Tensor gamma, Tensor beta) {
                try (Tensor rm = be.zeros(Shape.of(channels)); Tensor rv = be.zeros(Shape.of(channels))) {
                    return be.spatialBatchNormForward(x, gamma, beta, rm, rv, new BatchNormParams(EPS, 0.9f, false),
                            Mode.TRAIN);
                }
            }

            @Override
            public NormGrads backward(Tensor dOut, NormResult r, Tensor gamma) {
                return be.spatialBatchNormBackward(dOut, r.cache(), gamma);
            }
        };
    }

    private Kind layerNorm() {
        return new Kind() {
            @Override
            public NormResult forward(Tensor x, Tensor gamma, Tensor beta) {
                return be.layerNormForward(x, gamma, beta, EPS);
            }

            @Override
            public NormGrads backward(Tensor dOut, NormResult r, Tensor gamma) {
                return be.layerNormBackward(dOut, r.cache(), gamma);
            }
        };
    }

    private Kind groupNorm(int groups) {
        return new Kind() {
            @Override
            public NormResult forward(Tensor x, Tensor gamma, Tensor beta) {
                return be.groupNormForward(x, gamma, beta, groups, EPS);
            }

            @Override
            public NormGrads backward(Tensor dOut, NormResult r, Tensor gamma) {
                return be.groupNormBackward(dOut, r.cache(), gamma);
            }
        };
    }

    /**
     * Runs the kind on random inputs and checks the forward against the float64 reference and the backward against
     * central differences of Σ dOut·y computed in double: each within the float32 bound plus the numerical gradient's
     * own error.
     */
    private void checkAgainstCentralDifferences(String op, Shape shape, int params, Kind kind, NormReference ref,
                                                long seed) {
        Random r = new Random(seed);
        float[] x = gaussian(r, shape.size(), 0.5, 2.0);
        float[] gamma = gaussian(r, params, 1.0, 0.5);
        float[] beta = gaussian(r, params, 0.0, 0.5);
        float[] dOut = gaussian(r, shape.size(), 0.0, 1.0);
        double[] xd = toDouble(x);
        double[] gd = toDouble(gamma);
        double[] bd = toDouble(beta);
        double[] dd = toDouble(dOut);
        try (Tensor tx = be.upload(x, shape); Tensor tg = be.upload(gamma, Shape.of(params));
             Tensor tb = be.upload(beta, Shape.of(params)); Tensor td = be.upload(dOut, shape);
             NormResult res = kind.forward(tx, tg, tb); NormGrads grads = kind.backward(td, res, tg)) {
            NormForward f = ref.record(xd, gd, bd);
            NormBounds b = NormBounds.trainWideMean(ref.layout(), xd, f);
            assertClose(op + ".forward out", shape, f.out(), res.out().toArray(), b.out(gd, bd));
            double evalError = NormBounds.float64EvalError(ref.layout(), xd, gd, bd, dd, ref.eps);
            NumericalGradient.Estimate numDx = NormReference.numericalGradient(v -> ref.forward(v, gd, bd), xd, dd,
                    evalError);
            NumericalGradient.Estimate numDg = NormReference.numericalGradient(v -> ref.forward(xd, v, bd), gd, dd,
                    evalError);
            NumericalGradient.Estimate numDb = NormReference.numericalGradient(v -> ref.forward(xd, gd, v), bd, dd,
                    evalError);
            assertClose(op + ".backward dX", shape, numDx.grad(), grads.dX().toArray(), b.dXTrain(dd, gd),
                    numDx.error());
            assertClose(op + ".backward dGamma", Shape.of(params), numDg.grad(), grads.dGamma().toArray(),
                    b.dGamma(dd), numDg.error());
            assertClose(op + ".backward dBeta", Shape.of(params), numDb.grad(), grads.dBeta().toArray(), b.dBeta(dd),
                    numDb.error());
        }
    }

    @Test
    void batchNormBackwardMatchesCentralDifferences() {
        Shape s = Shape.of(5, 4);
        checkAgainstCentralDifferences("batchnorm", s, 4, batchNorm(4), NormReference.batchNorm(s, EPS), 1);
    }

    @Test
    void spatialBatchNormBackwardMatchesCentralDifferences() {
        Shape s = Shape.of(3, 2, 2, 3);
        checkAgainstCentralDifferences("spatial_batchnorm", s, 2, spatialBatchNorm(2),
                NormReference.spatialBatchNorm(s, EPS), 2);
    }

    @Test
    void layerNormBackwardMatchesCentralDifferences() {
        Shape s = Shape.of(4, 6);
        checkAgainstCentralDifferences("layernorm", s, 6, layerNorm(), NormReference.layerNorm(s, EPS), 3);
    }

    @Test
    void groupNormBackwardMatchesCentralDifferences() {
        Shape s = Shape.of(2, 6, 2, 2);
        checkAgainstCentralDifferences("groupnorm", s, 6, groupNorm(3), NormReference.groupNorm(s, 3, EPS), 4);
    }

    @Test
    void groupNormWithOneGroupAndWithInstanceGroupsMatchesCentralDifferences() {
        Shape s = Shape.of(2, 4, 3, 1);
        checkAgainstCentralDifferences("groupnorm G=1", s, 4, groupNorm(1), NormReference.groupNorm(s, 1, EPS), 5);
        checkAgainstCentralDifferences("groupnorm G=C", s, 4, groupNorm(4), NormReference.groupNorm(s, 4, EPS), 6);
    }

    @Test
    void batchNormEvalUsesRunningStatsAndTreatsThemAsConstants() {
        Shape s = Shape.of(1, 3); // N = 1 is fine in EVAL
        float[] x = {1f, -2f, 0.5f};
        float[] rmean = {0.5f, -1f, 2f};
        float[] rvar = {4f, 0.25f, 1f};
        float[] gamma = {1.5f, -0.5f, 2f};
        float[] beta = {0.1f, 0.2f, 0.3f};
        float[] dOut = {0.3f, -1.2f, 0.7f};
        NormReference ref = NormReference.batchNorm(s, EPS);
        double[] rm = toDouble(rmean);
        double[] rv = toDouble(rvar);
        double[] bd = toDouble(beta);
        double[] gd = toDouble(gamma);
        try (Tensor tx = be.upload(x, s); Tensor tg = be.upload(gamma, Shape.of(3)); Tensor tb = be.upload(beta,
                Shape.of(3)); Tensor trm = be.upload(rmean, Shape.of(3)); Tensor trv = be.upload(rvar, Shape.of(3));
             Tensor td = be.upload(dOut, s);
             NormResult res = be.batchNormForward(tx, tg, tb, trm, trv, new BatchNormParams(EPS, 0.9f, false),
                     Mode.EVAL);
             NormGrads grads = be.batchNormBackward(td, res.cache(), tg)) {
            NormForward f = ref.recordWith(toDouble(x), gd, bd, rm, rv);
            NormBounds b = NormBounds.eval(ref.layout(), f);
            assertClose("batchnorm.forward EVAL", s, f.out(), res.out().toArray(), b.out(gd, bd));
            assertArrayEquals(rmean, trm.toArray(), "EVAL must leave the running mean untouched");
            assertArrayEquals(rvar, trv.toArray(), "EVAL must leave the running variance untouched");
            assertArrayEquals(rmean, res.cache().mean().toArray(), "EVAL cache mean is the running mean");
            double[] dd = toDouble(dOut);
            NumericalGradient.Estimate numDx = NormReference.numericalGradient(v -> ref.forwardWith(v, gd, bd, rm, rv),
                    toDouble(x), dd, NormBounds.float64EvalError(ref.layout(), toDouble(x), gd, bd, dd, ref.eps));
            assertClose("batchnorm.backward EVAL dX", s, numDx.grad(), grads.dX().toArray(), b.dXEval(dd, gd),
                    numDx.error());
        }
    }

    @Test
    void batchNormUpdatesRunningStatsWithDecayAndOptionallyUnbiasedVariance() {
        Shape s = Shape.of(4, 2);
        float[] x = {1, 10, 2, 20, 3, 30, 6, 40};
        // feature 0: mean 3, biased var (4+1+0+9)/4 = 3.5, unbiased 14/3; feature 1: mean 25, var 125, unbiased 500/3
        for (boolean unbiased : new boolean[] {false, true}) {
            try (Tensor tx = be.upload(x, s); Tensor tg = be.upload(new float[] {1, 1}, Shape.of(2));
                 Tensor tb = be.zeros(Shape.of(2)); Tensor rm = be.upload(new float[] {1, 2}, Shape.of(2));
                 Tensor rv = be.upload(new float[] {1, 1}, Shape.of(2));
                 NormResult res = be.batchNormForward(tx, tg, tb, rm, rv, new BatchNormParams(EPS, 0.75f, unbiased),
                         Mode.TRAIN)) {
                double v0 = unbiased ? 14.0 / 3 : 3.5;
                double v1 = unbiased ? 500.0 / 3 : 125;
                NormReference ref = NormReference.batchNorm(s, EPS);
                NormBounds b = NormBounds.trainWideMean(ref.layout(), toDouble(x),
                        ref.record(toDouble(x), new double[] {1, 1}, new double[2]));
                assertClose("running mean", Shape.of(2), new double[] {0.75 * 1 + 0.25 * 3, 0.75 * 2 + 0.25 * 25},
                        rm.toArray(), NormBounds.runningTolerance("NORM_RUNNING_MEAN",
                                b.runningMeanErrors(new double[] {1, 2}, 0.75)));
                assertClose("running var (unbiased=" + unbiased + ")", Shape.of(2),
                        new double[] {0.75 + 0.25 * v0, 0.75 + 0.25 * v1}, rv.toArray(), NormBounds.runningTolerance(
                                "NORM_RUNNING_VAR", b.runningVarErrors(new double[] {1, 1}, 0.75, unbiased)));
                assertClose("cache rstd uses the biased variance", Shape.of(2),
                        new double[] {1 / Math.sqrt(3.5 + EPS), 1 / Math.sqrt(125 + EPS)},
                        res.cache().rstd().toArray(), b.rstd());
                assertEquals(Shape.of(2), res.cache().mean().shape());
            }
        }
    }

    @Test
    void statisticsStayAccurateForLargeOffsetInputs() {
        // 1e4 + N(0,1): a one-pass E[x²] − E[x]² in float loses every digit of the variance
        Random r = new Random(42);
        int n = 4096;
        int d = 8;
        Shape s = Shape.of(n, d);
        float[] x = gaussian(r, n * d, 1e4, 1.0);
        NormReference ref = NormReference.batchNorm(s, EPS);
        double[] xd = toDouble(x);
        double[] var = ref.var(xd, ref.mean(xd));
        double[] ones8 = {1, 1, 1, 1, 1, 1, 1, 1};
        NormBounds bb = NormBounds.trainWideMean(ref.layout(), xd, ref.record(xd, ones8, new double[d]));
        try (Tensor tx = be.upload(x, s); Tensor tg = be.upload(new float[] {1, 1, 1, 1, 1, 1, 1, 1}, Shape.of(d));
             Tensor tb = be.zeros(Shape.of(d)); Tensor rm = be.zeros(Shape.of(d)); Tensor rv = be.zeros(Shape.of(d));
             NormResult res = be.batchNormForward(tx, tg, tb, rm, rv, new BatchNormParams(EPS, 0f, false),
                     Mode.TRAIN)) {
            assertClose("batchnorm running var (decay 0 = batch var) of 1e4+N(0,1)", Shape.of(d), var, rv.toArray(),
                    NormBounds.runningTolerance("NORM_RUNNING_VAR", bb.runningVarErrors(new double[d], 0, false)));
            // the mean is split into float head + tail, so x̂ keeps float precision (a plain float x − μ would be
            // off by up to half an ulp of 1e4, ~5e-4, outside NORM_OUT_WIDE_MEAN)
            assertClose("batchnorm x̂ of 1e4+N(0,1)", s, ref.forward(xd, ones8, new double[d]), res.out().toArray(),
                    bb.out(ones8, new double[d]));
        }
        // layernorm and groupnorm over rows of 1e4 + N(0,1)
        Shape ls = Shape.of(8, 4096);
        NormReference lref = NormReference.layerNorm(ls, EPS);
        float[] ones = new float[4096];
        java.util.Arrays.fill(ones, 1f);
        try (Tensor tx = be.upload(x, ls); Tensor tg = be.upload(ones, Shape.of(4096));
             Tensor tb = be.zeros(Shape.of(4096)); NormResult res = be.layerNormForward(tx, tg, tb, EPS)) {
            double[] lvar = lref.var(xd, lref.mean(xd));
            double[] rstd = new double[8];
            for (int i = 0; i < 8; i++) {
                rstd[i] = 1 / Math.sqrt(lvar[i] + EPS);
            }
            assertClose("layernorm rstd of 1e4+N(0,1)", Shape.of(8), rstd, res.cache().rstd().toArray(),
                    rstdBound(lref, xd));
        }
        Shape gs = Shape.of(2, 4, 64, 64);
        NormReference gref = NormReference.groupNorm(gs, 2, EPS);
        float[] gx = gaussian(r, gs.size(), 1e4, 1.0);
        try (Tensor tx = be.upload(gx, gs); Tensor tg = be.upload(new float[] {1, 1, 1, 1}, Shape.of(4));
             Tensor tb = be.zeros(Shape.of(4)); NormResult res = be.groupNormForward(tx, tg, tb, 2, EPS)) {
            double[] gxd = toDouble(gx);
            double[] gvar = gref.var(gxd, gref.mean(gxd));
            double[] rstd = new double[4];
            for (int i = 0; i < 4; i++) {
                rstd[i] = 1 / Math.sqrt(gvar[i] + EPS);
            }
            assertClose("groupnorm rstd of 1e4+N(0,1)", Shape.of(2, 2), rstd, res.cache().rstd().toArray(),
                    rstdBound(gref, gxd));
        }
    }

    @Test
    void statisticsStayAccurateWhenTheFirstValuesAreOutliers() {
        // The one-pass statistics shift by the first value of a run (layernorm, groupnorm) or the first row of a
        // chunk (batchnorm); an outlier there must not cost precision. Rows of 1e4 + N(0,1) whose first value is
        // 1e4 + 1000, and a batch whose first row is 1000 standard deviations off.
        Random r = new Random(8);
        int n = 64;
        int d = 2048;
        float[] x = gaussian(r, n * d, 1e4, 1.0);
        for (int i = 0; i < n; i++) {
            x[i * d] = 1e4f + 1000f;
        }
        double[] xd = toDouble(x);
        Shape ls = Shape.of(n, d);
        NormReference lref = NormReference.layerNorm(ls, EPS);
        double[] lvar = lref.var(xd, lref.mean(xd));
        float[] ones = new float[d];
        java.util.Arrays.fill(ones, 1f);
        try (Tensor tx = be.upload(x, ls); Tensor tg = be.upload(ones, Shape.of(d)); Tensor tb = be.zeros(Shape.of(d));
             NormResult res = be.layerNormForward(tx, tg, tb, EPS)) {
            double[] rstd = new double[n];
            for (int i = 0; i < n; i++) {
                rstd[i] = 1 / Math.sqrt(lvar[i] + EPS);
            }
            assertClose("layernorm rstd, outlier first value", Shape.of(n), rstd, res.cache().rstd().toArray(),
                    rstdBound(lref, xd));
        }
        // batchnorm [N,D] with an outlier first row: transpose the picture, 2048 rows of 64 features
        Shape bs = Shape.of(d, n);
        float[] bx = gaussian(r, d * n, 1e4, 1.0);
        for (int j = 0; j < n; j++) {
            bx[j] = 1e4f + 1000f;
        }
        NormReference bref = NormReference.batchNorm(bs, EPS);
        double[] bxd = toDouble(bx);
        double[] bvar = bref.var(bxd, bref.mean(bxd));
        float[] g = new float[n];
        java.util.Arrays.fill(g, 1f);
        try (Tensor tx = be.upload(bx, bs); Tensor tg = be.upload(g, Shape.of(n)); Tensor tb = be.zeros(Shape.of(n));
             Tensor rm = be.zeros(Shape.of(n)); Tensor rv = be.zeros(Shape.of(n));
             NormResult res = be.batchNormForward(tx, tg, tb, rm, rv, new BatchNormParams(EPS, 0f, false),
                     Mode.TRAIN)) {
            NormBounds ob = NormBounds.trainWideMean(bref.layout(), bxd, bref.record(bxd, toDouble(g), new double[n]));
            assertClose("batchnorm running var (decay 0), outlier first row", Shape.of(n), bvar, rv.toArray(),
                    NormBounds.runningTolerance("NORM_RUNNING_VAR", ob.runningVarErrors(new double[n], 0, false)));
        }
    }

    /** NORM_RSTD_WIDE_MEAN of a reference's batch statistics of x (γ = 1, β = 0 do not enter rstd). */
    private static org.layerkit.conformance.Tolerance rstdBound(NormReference ref, double[] x) {
        double[] ones = new double[ref.params];
        java.util.Arrays.fill(ones, 1);
        return NormBounds.trainWideMean(ref.layout(), x, ref.record(x, ones, new double[ref.params])).rstd();
    }

    /** Large shapes take the multi-threaded path; compare against the float64 reference and analytic backward. */
    private void checkLarge(String op, Shape shape, int params, Kind kind, NormReference ref, long seed) {
        Random r = new Random(seed);
        float[] x = gaussian(r, shape.size(), -1.0, 3.0);
        float[] gamma = gaussian(r, params, 1.0, 0.5);
        float[] beta = gaussian(r, params, 0.0, 0.5);
        float[] dOut = gaussian(r, shape.size(), 0.0, 1.0);
        try (Tensor tx = be.upload(x, shape); Tensor tg = be.upload(gamma, Shape.of(params));
             Tensor tb = be.upload(beta, Shape.of(params)); Tensor td = be.upload(dOut, shape);
             NormResult res = kind.forward(tx, tg, tb); NormGrads grads = kind.backward(td, res, tg)) {
            double[] xd = toDouble(x);
            double[] gd = toDouble(gamma);
            double[] dd = toDouble(dOut);
            NormForward f = ref.record(xd, gd, toDouble(beta));
            NormBounds b = NormBounds.trainWideMean(ref.layout(), xd, f);
            assertClose(op + ".forward out", shape, f.out(), res.out().toArray(), b.out(gd, toDouble(beta)));
            double[][] exp = ref.backward(xd, gd, dd, params);
            assertClose(op + ".backward dX", shape, exp[0], grads.dX().toArray(), b.dXTrain(dd, gd));
            assertClose(op + ".backward dGamma", Shape.of(params), exp[1], grads.dGamma().toArray(), b.dGamma(dd));
            assertClose(op + ".backward dBeta", Shape.of(params), exp[2], grads.dBeta().toArray(), b.dBeta(dd));
        }
    }

    @Test
    void parallelReductionsGiveTheSameBitsEveryRun() {
        Shape s = Shape.of(4000, 50);
        Random r = new Random(21);
        float[] x = gaussian(r, s.size(), 3, 2);
        float[] dOut = gaussian(r, s.size(), 0, 1);
        float[][] first = null;
        for (int run = 0; run < 4; run++) {
            try (Tensor tx = be.upload(x, s); Tensor td = be.upload(dOut, s); Tensor g = be.upload(gaussian(
                    new Random(5), 50, 1, 0.1), Shape.of(50)); Tensor b = be.zeros(Shape.of(50));
                 Tensor rm = be.zeros(Shape.of(50)); Tensor rv = be.zeros(Shape.of(50));
                 NormResult res = be.batchNormForward(tx, g, b, rm, rv, new BatchNormParams(EPS, 0.9f, false),
                         Mode.TRAIN); NormGrads grads = be.batchNormBackward(td, res.cache(), g)) {
                float[][] now = {res.out().toArray(), rv.toArray(), grads.dX().toArray(), grads.dGamma().toArray()};
                if (first == null) {
                    first = now;
                } else {
                    for (int i = 0; i < now.length; i++) {
                        assertArrayEquals(first[i], now[i], "run " + run + ", result " + i + " differs from run 0");
                    }
                }
            }
        }
    }

    @Test
    void largeBatchNormMatchesReferenceOnTheParallelPath() {
        Shape s = Shape.of(1000, 333);
        checkLarge("batchnorm", s, 333, batchNorm(333), NormReference.batchNorm(s, EPS), 11);
    }

    @Test
    void largeSpatialBatchNormMatchesReferenceOnTheParallelPath() {
        Shape s = Shape.of(8, 3, 65, 63);
        checkLarge("spatial_batchnorm", s, 3, spatialBatchNorm(3), NormReference.spatialBatchNorm(s, EPS), 12);
    }

    @Test
    void largeLayerNormMatchesReferenceOnTheParallelPath() {
        Shape s = Shape.of(513, 257);
        checkLarge("layernorm", s, 257, layerNorm(), NormReference.layerNorm(s, EPS), 13);
    }

    @Test
    void largeGroupNormMatchesReferenceOnTheParallelPath() {
        Shape s = Shape.of(5, 8, 45, 47);
        checkLarge("groupnorm", s, 8, groupNorm(4), NormReference.groupNorm(s, 4, EPS), 14);
    }
}
