package org.layerkit.models.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Backends;
import org.layerkit.api.Collective;
import org.layerkit.api.InProcessCollective;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NormBounds;
import org.layerkit.conformance.Reference;
import org.layerkit.conformance.Reference.NormBackward;
import org.layerkit.conformance.Reference.NormForward;
import org.layerkit.conformance.Tolerance;

/**
 * Issue 20's first "done when": R = 2 replicas on threads, each with its own backend instance, split an 8-row batch
 * (4,4), (5,3), (1,7), (8,0), and a spatial [4,3,5,5] one; SyncBatchNorm equals one batch norm on the whole batch —
 * out, dX, summed dγ/dβ, running mean and variance — within the bounds of merged statistics (NORM_MERGED_STATS in
 * docs/tolerances.md), the replicas' running statistics are bitwise equal, two runs are bitwise identical, and plain
 * per-replica batch norm on a skewed split misses the same bounds by far.
 */
class SyncBatchNormTest {
    private static final BatchNormParams PARAMS = new BatchNormParams(1e-5f, 0.9f, true);
    private static final ExecutorService POOL = Executors.newFixedThreadPool(2);

    @AfterAll
    static void shutdown() {
        POOL.shutdownNow();
    }

    /** The batch: x (replica 1's rows shifted by {@code shift}), γ, β, dOut, running statistics. */
    record Batch(boolean spatial, int n, int c, int hw, float[] x, float[] gamma, float[] beta, float[] dOut,
                 float[] runningMean, float[] runningVar) {
        static Batch of(boolean spatial, int[] rows, double shift) {
            int n = Arrays.stream(rows).sum();
            int c = spatial ? 3 : 5;
            int hw = spatial ? 25 : 1;
            Random r = new Random(20);
            float[] x = new float[n * c * hw];
            for (int i = 0; i < x.length; i++) {
                int ch = (i / hw) % c;
                x[i] = (float) (ch - 1 + (0.5 + ch) * r.nextGaussian() + (i >= rows[0] * c * hw ? shift : 0));
            }
            float[] dOut = new float[x.length];
            for (int i = 0; i < dOut.length; i++) {
                dOut[i] = (float) r.nextGaussian();
            }
            float[] g = new float[c];
            float[] b = new float[c];
            float[] rm = new float[c];
            float[] rv = new float[c];
            for (int k = 0; k < c; k++) {
                g[k] = (float) (0.5 + r.nextDouble());
                b[k] = (float) r.nextGaussian();
                rm[k] = (float) r.nextGaussian();
                rv[k] = (float) (0.5 + r.nextDouble());
            }
            return new Batch(spatial, n, c, hw, x, g, b, dOut, rm, rv);
        }

        Shape shape(int rows) {
            return spatial ? Shape.of(rows, c, 5, 5) : Shape.of(rows, c);
        }
    }

    /** What one replica returns, as host arrays (out and dX null without rows). */
    record Replica(float[] out, float[] dX, float[] dGamma, float[] dBeta, float[] runningMean, float[] runningVar) {
    }

    /** Runs both replicas on threads; {@code sync} false: each its own plain (fused) batch norm instead. */
    static List<Replica> run(String backendName, Batch batch, int[] rows, boolean sync) throws Exception {
        List<Collective> group = InProcessCollective.group(rows.length);
        List<Future<Replica>> futures = new ArrayList<>();
        int row = batch.c() * batch.hw();
        for (int rank = 0; rank < rows.length; rank++) {
            int r = rank;
            int r0 = Arrays.stream(rows, 0, rank).sum();
            futures.add(POOL.submit(() -> {
                try (Backend b = Backends.get(backendName)) {
                    Shape cs = Shape.of(batch.c());
                    Tensor gamma = b.upload(batch.gamma(), cs);
                    Tensor beta = b.upload(batch.beta(), cs);
                    Tensor rm = b.upload(batch.runningMean(), cs);
                    Tensor rv = b.upload(batch.runningVar(), cs);
                    Tensor x = rows[r] == 0 ? null : b.upload(Arrays.copyOfRange(batch.x(), r0 * row,
                            (r0 + rows[r]) * row), batch.shape(rows[r]));
                    Tensor dOut = rows[r] == 0 ? null : b.upload(Arrays.copyOfRange(batch.dOut(), r0 * row,
                            (r0 + rows[r]) * row), batch.shape(rows[r]));
                    if (!sync) {
                        NormResult f = batch.spatial()
                                ? b.spatialBatchNormForward(x, gamma, beta, rm, rv, PARAMS, Mode.TRAIN)
                                : b.batchNormForward(x, gamma, beta, rm, rv, PARAMS, Mode.TRAIN);
                        NormGrads g = batch.spatial() ? b.spatialBatchNormBackward(dOut, f.cache(), gamma)
                                : b.batchNormBackward(dOut, f.cache(), gamma);
                        return new Replica(f.out().toArray(), g.dX().toArray(), g.dGamma().toArray(),
                                g.dBeta().toArray(), rm.toArray(), rv.toArray());
                    }
                    SyncBatchNorm bn = new SyncBatchNorm(b, group.get(r), batch.spatial(), batch.c());
                    try (SyncBatchNorm.Step step = bn.forward(x, gamma, beta, rm, rv, PARAMS)) {
                        NormGrads g = bn.backward(dOut, step, gamma);
                        return new Replica(x == null ? null : step.out().toArray(),
                                x == null ? null : g.dX().toArray(), g.dGamma().toArray(), g.dBeta().toArray(),
                                rm.toArray(), rv.toArray());
                    }
                }
            }));
        }
        List<Replica> out = new ArrayList<>();
        for (Future<Replica> f : futures) {
            out.add(f.get(120, TimeUnit.SECONDS));
        }
        return out;
    }

    /** The replicas' outputs, and their summed parameter gradients, against one batch norm of the whole batch. */
    static final class Check {
        final double worstRatio;
        final String report;

        Check(Batch batch, int[] rows, List<Replica> reps) {
            double[] x = Reference.widen(batch.x());
            double[] g = Reference.widen(batch.gamma());
            double[] be = Reference.widen(batch.beta());
            double[] dy = Reference.widen(batch.dOut());
            int n = batch.n();
            int c = batch.c();
            int hw = batch.hw();
            NormForward f = batch.spatial() ? Reference.spatialBatchNormTrain(x, n, c, hw, g, be, PARAMS.eps())
                    : Reference.batchNormTrain(x, n, c, g, be, PARAMS.eps());
            NormBackward e = batch.spatial() ? Reference.spatialBatchNormBackward(dy, f.xhat(), f.rstd(), g, n, c, hw,
                    true) : Reference.batchNormBackward(dy, f.xhat(), f.rstd(), g, n, c);
            NormBounds.Layout layout = batch.spatial() ? NormBounds.Layout.spatialBatchNorm(n, c, hw)
                    : NormBounds.Layout.batchNorm(n, c);
            NormBounds.MergedErrors err = NormBounds.mergedErrors(batch.spatial(), rows, c, hw, x, f);
            NormBounds bounds = NormBounds.eval(layout, f, err.mean(), err.var());
            float[] out = new float[x.length];
            float[] dx = new float[x.length];
            double[] dGamma = new double[c];
            double[] dBeta = new double[c];
            double[] gammaMag = new double[c];
            double[] betaMag = new double[c];
            int at = 0;
            for (Replica r : reps) {
                if (r.out() != null) {
                    System.arraycopy(r.out(), 0, out, at, r.out().length);
                    System.arraycopy(r.dX(), 0, dx, at, r.dX().length);
                    at += r.out().length;
                }
                for (int k = 0; k < c; k++) {
                    dGamma[k] += r.dGamma()[k];
                    dBeta[k] += r.dBeta()[k];
                    gammaMag[k] += Math.abs(r.dGamma()[k]);
                    betaMag[k] += Math.abs(r.dBeta()[k]);
                }
            }
            // each replica's dγ, dβ is its double sum rounded once to float (ONE_ROUNDING of each)
            Tolerance gammaRound = Tolerance.derived("ONE_ROUNDING", Tolerance.U * Tolerance.maxAbs(gammaMag), 0);
            Tolerance betaRound = Tolerance.derived("ONE_ROUNDING", Tolerance.U * Tolerance.maxAbs(betaMag), 0);
            double[] rm0 = Reference.widen(batch.runningMean());
            double[] rv0 = Reference.widen(batch.runningVar());
            double[] rmExp = Reference.runningUpdate(rm0, f.mean(), PARAMS.decay());
            double[] rvExp = Reference.runningUpdate(rv0, Reference.runningVarianceInput(f.var(), (long) n * hw, true),
                    PARAMS.decay());
            StringBuilder sb = new StringBuilder();
            double w = 0;
            w = Math.max(w, ratio(sb, "out", out, f.out(), bounds.out(g, be)));
            w = Math.max(w, ratio(sb, "dX", dx, e.dx(), bounds.dXTrain(dy, g)));
            w = Math.max(w, ratio(sb, "dGamma (summed)", dGamma, e.dgamma(), bounds.dGamma(dy).plus(gammaRound)));
            w = Math.max(w, ratio(sb, "dBeta (summed)", dBeta, e.dbeta(), bounds.dBeta(dy).plus(betaRound)));
            for (Replica r : reps) {
                w = Math.max(w, ratio(sb, "runningMean", Reference.widen(r.runningMean()), rmExp, NormBounds
                        .runningTolerance("NORM_RUNNING_MEAN", bounds.runningMeanErrors(rm0, PARAMS.decay()))));
                w = Math.max(w, ratio(sb, "runningVar", Reference.widen(r.runningVar()), rvExp, NormBounds
                        .runningTolerance("NORM_RUNNING_VAR", bounds.runningVarErrors(rv0, PARAMS.decay(), true))));
            }
            worstRatio = w;
            report = sb.toString();
        }

        private static double ratio(StringBuilder sb, String what, float[] a, double[] e, Tolerance t) {
            return ratio(sb, what, Reference.widen(a), e, t);
        }

        /** The largest error/allowance over the values; appends "what: max ratio r at i (expected, actual, bound)". */
        private static double ratio(StringBuilder sb, String what, double[] a, double[] e, Tolerance t) {
            double worst = 0;
            int at = -1;
            for (int i = 0; i < a.length; i++) {
                double r = Math.abs(a[i] - e[i]) / t.allowance(e[i]);
                if (!(r <= worst)) {
                    worst = r;
                    at = i;
                }
            }
            if (at >= 0) {
                sb.append(String.format("%n  %s [%d values]: max error/bound %.3g at %d (expected %.9g, actual %.9g,"
                        + " bound %.3e, %s)", what, a.length, worst, at, e[at], a[at], t.allowance(e[at]), t));
            }
            return worst;
        }
    }

    private static void syncEqualsWholeBatch(String backend, boolean spatial, int[] rows) throws Exception {
        Batch batch = Batch.of(spatial, rows, 0);
        List<Replica> first = run(backend, batch, rows, true);
        Check check = new Check(batch, rows, first);
        assertTrue(check.worstRatio <= 1, backend + " split " + Arrays.toString(rows) + ": outside the bounds:"
                + check.report);
        // the replicas' running statistics are the same bits
        for (Replica r : first) {
            assertArrayEquals(first.get(0).runningMean(), r.runningMean(), "runningMean differs between replicas");
            assertArrayEquals(first.get(0).runningVar(), r.runningVar(), "runningVar differs between replicas");
        }
        // a second run gives the same bits
        List<Replica> second = run(backend, batch, rows, true);
        for (int k = 0; k < first.size(); k++) {
            Replica a = first.get(k);
            Replica b = second.get(k);
            assertArrayEquals(a.out(), b.out(), "out of replica " + k + " differs between two runs");
            assertArrayEquals(a.dX(), b.dX(), "dX of replica " + k + " differs between two runs");
            assertArrayEquals(a.dGamma(), b.dGamma(), "dGamma of replica " + k + " differs between two runs");
            assertArrayEquals(a.dBeta(), b.dBeta(), "dBeta of replica " + k + " differs between two runs");
            assertArrayEquals(a.runningVar(), b.runningVar(), "runningVar of replica " + k + " differs");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "opencl"})
    void syncBatchNormOfTwoReplicasEqualsOneBatchNormOnTheWholeBatch(String backend) throws Exception {
        for (int[] rows : new int[][] {{4, 4}, {5, 3}, {1, 7}, {8, 0}}) {
            syncEqualsWholeBatch(backend, false, rows);
        }
        for (int[] rows : new int[][] {{2, 2}, {1, 3}}) {
            syncEqualsWholeBatch(backend, true, rows);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "opencl"})
    void perReplicaBatchNormOnASkewedSplitMissesTheSameBoundsByFar(String backend) throws Exception {
        int[] rows = {4, 4};
        Batch skewed = Batch.of(false, rows, 3);
        Check sync = new Check(skewed, rows, run(backend, skewed, rows, true));
        assertTrue(sync.worstRatio <= 1, "SyncBatchNorm on the skewed split: outside the bounds:" + sync.report);
        Check plain = new Check(skewed, rows, run(backend, skewed, rows, false));
        assertTrue(plain.worstRatio > 1e3, "per-replica batch norm should miss the bounds by far, max error/bound "
                + plain.worstRatio + plain.report);
    }

    @Test
    void aGlobalCountOfOneFailsOnEveryReplica() {
        int[] rows = {1, 0};
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> run("cpu", Batch.of(false, rows, 0), rows, true));
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("at least 2 values per channel over all 2 replicas"),
                e.getCause().getMessage());
        // a local count of 1 is fine: the (1,7) split of the main test
    }
}
