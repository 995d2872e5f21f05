package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntUnaryOperator;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.LossResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Outcome.Status;

/**
 * The cases can fail: backends with one planted bug each fail exactly the cases aimed at that bug, with messages
 * that locate it, while the unaffected cases still pass.
 */
class PlantedBugsTest {

    /** The outcome of each case matching {@code include} on {@code backend}, by name (also PlantedConvBugsTest's). */
    static Map<String, Outcome> run(ReferenceBackend backend, String include) {
        ConformanceReport report = new ConformanceRunner(backend).include(include).run();
        Map<String, Outcome> byName = new LinkedHashMap<>();
        for (ConformanceReport.Entry e : report.entries()) {
            byName.put(e.name(), e.outcome());
        }
        assertFalse(byName.isEmpty(), "no case matches " + include);
        return byName;
    }

    /** Every case of {@code results} whose name matches {@code nameRegex} (at least one) ended {@code expected}. */
    static void assertStatus(Map<String, Outcome> results, Status expected, String nameRegex) {
        Pattern p = Pattern.compile(nameRegex);
        int matched = 0;
        for (Map.Entry<String, Outcome> e : results.entrySet()) {
            if (p.matcher(e.getKey()).find()) {
                matched++;
                assertEquals(expected, e.getValue().status(), e.getKey() + ": " + e.getValue().message());
            }
        }
        assertTrue(matched > 0, "no case matches " + nameRegex + " among " + results.keySet());
    }

    // ------------------------------------------------------------------------------------------------- numerics

    /** Normalizes with float32 one-pass statistics E[x²] − E[x]², the textbook unstable formula. */
    static class OnePassFloat32 extends ReferenceBackend {
        NormResult onePass(Tensor x, Tensor gamma, Tensor beta, int stats, IntUnaryOperator statOf,
                           IntUnaryOperator channelOf, Shape statShape, NormKind kind, int groups, float eps) {
            float[] xs = data(x);
            float[] sum = new float[stats];
            float[] sumSq = new float[stats];
            int[] count = new int[stats];
            for (int i = 0; i < xs.length; i++) {
                int s = statOf.applyAsInt(i);
                sum[s] += xs[i];
                sumSq[s] += xs[i] * xs[i];
                count[s]++;
            }
            float[] mean = new float[stats];
            float[] rstd = new float[stats];
            for (int s = 0; s < stats; s++) {
                mean[s] = sum[s] / count[s];
                float var = sumSq[s] / count[s] - mean[s] * mean[s];
                rstd[s] = (float) (1 / Math.sqrt(var + eps));
            }
            float[] xhat = new float[xs.length];
            float[] out = new float[xs.length];
            for (int i = 0; i < xs.length; i++) {
                int s = statOf.applyAsInt(i);
                int ch = channelOf.applyAsInt(i);
                xhat[i] = (xs[i] - mean[s]) * rstd[s];
                out[i] = data(gamma)[ch] * xhat[i] + data(beta)[ch];
            }
            return new NormResult(of(out, x.shape()), new NormCache(kind, Mode.TRAIN, groups, of(xhat, x.shape()),
                    of(mean, statShape), of(rstd, statShape)));
        }

        @Override
        public NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                           Tensor runningVar, BatchNormParams p, Mode mode) {
            int d = x.shape().dim(1);
            return mode == Mode.EVAL ? super.batchNormForward(x, gamma, beta, runningMean, runningVar, p, mode)
                    : onePass(x, gamma, beta, d, i -> i % d, i -> i % d, Shape.of(d), NormKind.BATCHNORM, 1, p.eps());
        }

        @Override
        public NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                                  Tensor runningVar, BatchNormParams p, Mode mode) {
            int c = x.shape().dim(1);
            int hw = x.shape().dim(2) * x.shape().dim(3);
            IntUnaryOperator ch = i -> (i / hw) % c;
            return mode == Mode.EVAL ? super.spatialBatchNormForward(x, gamma, beta, runningMean, runningVar, p, mode)
                    : onePass(x, gamma, beta, c, ch, ch, Shape.of(c), NormKind.SPATIAL_BATCHNORM, 1, p.eps());
        }

        @Override
        public NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
            int n = x.shape().dim(0);
            int d = x.shape().dim(1);
            return onePass(x, gamma, beta, n, i -> i / d, i -> i % d, Shape.of(n), NormKind.LAYERNORM, 1, eps);
        }

        @Override
        public NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
            Shape s = x.shape();
            int c = s.dim(1);
            int hw = s.dim(2) * s.dim(3);
            int len = c / groups * hw;
            return onePass(x, gamma, beta, s.dim(0) * groups, i -> i / len, i -> (i / hw) % c,
                    Shape.of(s.dim(0), groups), NormKind.GROUPNORM, groups, eps);
        }
    }

    @Test
    void onePassFloat32VarianceFailsEveryStabilityCaseButPassesOrdinaryData() {
        Map<String, Outcome> r = run(new OnePassFloat32(), "^(batchnorm|spatial_batchnorm|layernorm|groupnorm)\\.");
        assertStatus(r, Status.FAILED, "^batchnorm\\.forward\\.train\\[N=1000,D=16,mean=1e4\\]");
        assertStatus(r, Status.FAILED, "^batchnorm\\.backward\\[N=1000,D=16,mean=1e4\\]");
        assertStatus(r, Status.FAILED, "^spatial_batchnorm\\..*mean=1e4");
        assertStatus(r, Status.FAILED, "^layernorm\\..*mean=1e4");
        assertStatus(r, Status.FAILED, "^groupnorm\\..*mean=1e4");
        assertStatus(r, Status.PASSED, "^layernorm\\.(forward|backward)\\[N=7,D=3\\]");
        assertStatus(r, Status.PASSED, "^groupnorm\\.forward\\[N=2,C=6,H=4,W=5,G=3\\]");
        String msg = r.get("layernorm.forward[N=64,D=1000,mean=1e4]").message();
        assertTrue(msg.contains("out [64,1000]") && msg.contains("max abs err") && msg.contains("first bad index"),
                msg);
    }

    /** Backward without the variance path, term 3 of dx. */
    static class BatchNormBackwardWithoutTerm3 extends ReferenceBackend {
        @Override
        public NormGrads batchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
            NormGrads g = super.batchNormBackward(dOut, cache, gamma);
            if (cache.mode() == Mode.EVAL) {
                return g;
            }
            int n = dOut.shape().dim(0);
            int d = dOut.shape().dim(1);
            float[] dx = new float[n * d];
            float[] dbeta = data(g.dBeta());
            for (int i = 0; i < n * d; i++) {
                int j = i % d;
                dx[i] = data(gamma)[j] * data(cache.rstd())[j] / n * (n * data(dOut)[i] - dbeta[j]);
            }
            return new NormGrads(of(dx, dOut.shape()), g.dGamma(), g.dBeta());
        }
    }

    @Test
    void batchNormBackwardMissingTheVariancePathFailsTrainBackwardOnly() {
        Map<String, Outcome> r = run(new BatchNormBackwardWithoutTerm3(), "^batchnorm\\.(backward|forward)");
        assertStatus(r, Status.FAILED, "^batchnorm\\.backward\\[N=1000,D=333\\]");
        assertStatus(r, Status.FAILED, "^batchnorm\\.backward\\[N=7,D=3\\]");
        assertStatus(r, Status.PASSED, "^batchnorm\\.backward\\.eval");
        assertStatus(r, Status.PASSED, "^batchnorm\\.forward");
        assertTrue(r.get("batchnorm.backward[N=7,D=3]").message().startsWith("dX [7,3]: "));
    }

    /** The running statistics blended the PyTorch way round: r = (1−decay)·r + decay·batch. */
    static class SwappedDecay extends ReferenceBackend {
        @Override
        void updateRunning(Tensor runningMean, Tensor runningVar, Reference.NormForward f, long m,
                           BatchNormParams p) {
            super.updateRunning(runningMean, runningVar, f, m,
                    new BatchNormParams(p.eps(), 1 - p.decay(), p.unbiasedRunningVar()));
        }
    }

    @Test
    void runningStatisticsWithTheDecayConventionSwappedFail() {
        Map<String, Outcome> r = run(new SwappedDecay(), "^(spatial_)?batchnorm\\.(running_stats|forward)");
        assertStatus(r, Status.FAILED, "^batchnorm\\.running_stats\\[N=8,D=5,decay=0\\.0");
        assertStatus(r, Status.FAILED, "^batchnorm\\.running_stats\\[N=8,D=5,decay=1\\.0");
        assertStatus(r, Status.FAILED, "^batchnorm\\.forward\\.train\\[N=1000,D=333\\]");
        assertStatus(r, Status.FAILED, "^spatial_batchnorm\\.forward\\.eval_after_train");
        // decay 0.5 is symmetric, and EVAL never updates
        assertStatus(r, Status.PASSED, "^batchnorm\\.running_stats\\[N=8,D=5,decay=0\\.5");
        assertStatus(r, Status.PASSED, "^batchnorm\\.forward\\.eval\\[N=1000,D=333\\]");
    }

    /** Ignores the unbiased option. */
    static class AlwaysBiased extends ReferenceBackend {
        @Override
        void updateRunning(Tensor runningMean, Tensor runningVar, Reference.NormForward f, long m,
                           BatchNormParams p) {
            super.updateRunning(runningMean, runningVar, f, m, new BatchNormParams(p.eps(), p.decay(), false));
        }
    }

    @Test
    void ignoringTheUnbiasedRunningVarianceOptionFails() {
        Map<String, Outcome> r = run(new AlwaysBiased(), "running_stats");
        assertStatus(r, Status.FAILED, "var=unbiased");
        assertStatus(r, Status.PASSED, "var=biased");
    }

    /** EVAL normalizes with the batch statistics instead of the running ones. */
    static class EvalWithBatchStatistics extends ReferenceBackend {
        @Override
        public NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                           Tensor runningVar, BatchNormParams p, Mode mode) {
            if (mode == Mode.EVAL && x.shape().dim(0) > 1) {
                Tensor m = copyOf(runningMean);
                Tensor v = copyOf(runningVar);
                return super.batchNormForward(x, gamma, beta, m, v, p, Mode.TRAIN);
            }
            return super.batchNormForward(x, gamma, beta, runningMean, runningVar, p, mode);
        }
    }

    @Test
    void evalWithBatchStatisticsFails() {
        Map<String, Outcome> r = run(new EvalWithBatchStatistics(), "^batchnorm\\.forward\\.eval");
        assertStatus(r, Status.FAILED, "^batchnorm\\.forward\\.eval\\[N=1000,D=333\\]");
        assertStatus(r, Status.FAILED, "^batchnorm\\.forward\\.eval_after_train");
    }

    /** Layer norm with ε outside the root, 1/(σ + ε), or with ε fixed at the default whatever it is given. */
    static class LayerNormEpsMisplaced extends ReferenceBackend {
        private final boolean outsideRoot;

        LayerNormEpsMisplaced(boolean outsideRoot) {
            this.outsideRoot = outsideRoot;
        }

        @Override
        public NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
            if (!outsideRoot) {
                return super.layerNormForward(x, gamma, beta, 1e-5f);
            }
            int n = x.shape().dim(0);
            int d = x.shape().dim(1);
            Reference.NormForward f = Reference.layerNormForward(d(x), n, d, d(gamma), d(beta), eps);
            double[] xs = d(x);
            double[] g = d(gamma);
            double[] be = d(beta);
            double[] rstd = new double[n];
            double[] xhat = new double[n * d];
            double[] out = new double[n * d];
            for (int i = 0; i < n; i++) {
                rstd[i] = 1 / (Math.sqrt(f.var()[i]) + eps);
                for (int j = 0; j < d; j++) {
                    xhat[i * d + j] = (xs[i * d + j] - f.mean()[i]) * rstd[i];
                    out[i * d + j] = g[j] * xhat[i * d + j] + be[j];
                }
            }
            return result(new Reference.NormForward(out, xhat, f.mean(), f.var(), rstd), x.shape(), Shape.of(n),
                    NormKind.LAYERNORM, Mode.TRAIN, 1);
        }
    }

    @Test
    void epsOutsideTheRootOrIgnoredFailsTheSmallVarianceCases() {
        for (boolean outside : new boolean[] {true, false}) {
            Map<String, Outcome> r = run(new LayerNormEpsMisplaced(outside), "^layernorm\\.(forward|backward)\\[");
            assertStatus(r, Status.FAILED, "^layernorm\\.forward\\[N=16,D=30,std=1e-3,eps=1e-4\\]");
            assertStatus(r, Status.FAILED, "^layernorm\\.backward\\[N=16,D=30,std=1e-3,eps=1e-4\\]");
            assertStatus(r, Status.PASSED, "^layernorm\\.forward\\[N=1000,D=333\\]");
        }
    }

    /** Layer-norm backward that works in dOut's storage (g = dOut·γ in place). */
    static class BackwardClobberingDOut extends ReferenceBackend {
        @Override
        public NormGrads layerNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
            NormGrads g = super.layerNormBackward(dOut, cache, gamma);
            int d = dOut.shape().dim(1);
            float[] dy = data(dOut);
            for (int i = 0; i < dy.length; i++) {
                dy[i] *= data(gamma)[i % d];
            }
            return g;
        }
    }

    @Test
    void backwardChangingDOutFails() {
        Map<String, Outcome> r = run(new BackwardClobberingDOut(), "^layernorm\\.backward\\[N=7,D=3\\]");
        String msg = r.get("layernorm.backward[N=7,D=3]").message();
        assertTrue(msg.startsWith("dOut (an input, must be left untouched) [7,3]: "), msg);
    }

    // -------------------------------------------------------------------------------------------------- dropout

    /** A dropout whose counter drops some bits of the offset or seed, or uses another mapping. */
    static class MangledDropout extends ReferenceBackend {
        private final long offsetMask;
        private final long seedMask;
        private final int laneShift;

        MangledDropout(long offsetMask, long seedMask, int laneShift) {
            this.offsetMask = offsetMask;
            this.seedMask = seedMask;
            this.laneShift = laneShift;
        }

        @Override
        public DropoutResult dropoutForward(Tensor x, DropoutOptions o, Mode mode) {
            if (mode == Mode.EVAL) {
                return super.dropoutForward(x, o, mode);
            }
            Contracts.dropoutForward(this, x, o, mode);
            int n = x.size();
            float[] m = Reference.dropoutMask(n + laneShift,
                    new DropoutOptions(o.keep(), o.seed() & seedMask, o.offset() & offsetMask));
            float[] mask = java.util.Arrays.copyOfRange(m, laneShift, laneShift + n);
            return new DropoutResult(of(Reference.dropoutForward(d(x), mask), x.shape()), of(mask, x.shape()));
        }
    }

    @Test
    void dropoutIgnoringTheOffsetsHighWordFailsLargeOffsetCases() {
        Map<String, Outcome> r = run(new MangledDropout(0xFFFFFFFFL, -1L, 0), "^dropout\\.");
        assertStatus(r, Status.FAILED, "offset=2\\^40");
        assertStatus(r, Status.FAILED, "offset=2\\^32\\+5");
        assertStatus(r, Status.FAILED, "offset=2\\^64-1");
        assertStatus(r, Status.FAILED, "^dropout\\.mask\\.different_offset_high_bits");
        assertStatus(r, Status.PASSED, "^dropout\\.mask\\.bit_identical\\[N=4096,keep=0\\.7,offset=0,shape=\\[64,64\\]\\]");
        assertStatus(r, Status.PASSED, "^dropout\\.mask\\.statistics");
        assertTrue(r.get("dropout.mask.different_offset_high_bits_different_mask[N=4096,keep=0.5]").message()
                .contains("differing places"));
    }

    @Test
    void dropoutIgnoringTheSeedsHighWordFails() {
        Map<String, Outcome> r = run(new MangledDropout(-1L, 0xFFFFFFFFL, 0), "^dropout\\.mask");
        assertStatus(r, Status.FAILED, "^dropout\\.mask\\.different_seed_high_bits");
        assertStatus(r, Status.FAILED, "seed=0xdeadbeefcafef00d");
        assertStatus(r, Status.PASSED, "^dropout\\.mask\\.different_seed_different_mask");
    }

    @Test
    void dropoutWithElementsShiftedByOneFailsBitIdentityAndTheKnownAnswer() {
        Map<String, Outcome> r = run(new MangledDropout(-1L, -1L, 1), "^dropout\\.");
        assertStatus(r, Status.FAILED, "^dropout\\.mask\\.bit_identical");
        assertStatus(r, Status.FAILED, "^dropout\\.mask\\.matches_known_answer");
        assertStatus(r, Status.FAILED, "^dropout\\.backward\\[");
        // the statistics of a shifted mask are still fine: only the mapping is wrong
        assertStatus(r, Status.PASSED, "^dropout\\.mask\\.statistics");
        String msg = r.get("dropout.mask.bit_identical[N=21,keep=0.3,offset=0,shape=[7,3],seed=0x1]").message();
        assertTrue(msg.contains("bit-identical required") && msg.contains("first bad index"), msg);
    }

    // --------------------------------------------------------------------------------------------- training ops

    /** β = 0 still reads C, so NaN there propagates. */
    static class GemmReadingC extends ReferenceBackend {
        @Override
        public void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
            Contracts.gemm(this, a, transA, b, transB, c);
            double[] ab = Reference.gemm(d(a), a.shape().dim(0), a.shape().dim(1), transA, d(b), b.shape().dim(0),
                    b.shape().dim(1), transB, null, alpha, 0);
            double[] old = d(c);
            for (int i = 0; i < ab.length; i++) {
                ab[i] += beta * old[i];
            }
            store(c, ab);
        }
    }

    @Test
    void gemmPropagatingNanFromCWithBetaZeroFails() {
        Map<String, Outcome> r = run(new GemmReadingC(), "^gemm");
        assertStatus(r, Status.FAILED, "^gemm\\.beta0_ignores_nan");
        assertStatus(r, Status.PASSED, "^gemm\\[");
        assertStatus(r, Status.PASSED, "^gemm\\.alpha_beta");
    }

    /** Softmax in float32 without subtracting the row maximum. */
    static class SoftmaxWithoutShift extends ReferenceBackend {
        @Override
        public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels) {
            int n = logits.shape().dim(0);
            int k = logits.shape().dim(1);
            float[] z = data(logits);
            float loss = 0;
            float[] dz = new float[n * k];
            for (int i = 0; i < n; i++) {
                float sum = 0;
                for (int j = 0; j < k; j++) {
                    sum += (float) Math.exp(z[i * k + j]);
                }
                int y = (int) data(labels)[i];
                loss += (float) -Math.log(Math.exp(z[i * k + y]) / sum);
                for (int j = 0; j < k; j++) {
                    dz[i * k + j] = ((float) Math.exp(z[i * k + j]) / sum - (j == y ? 1 : 0)) / n;
                }
            }
            return new LossResult(of(new float[] {loss / n}, Shape.of(1)), of(dz, logits.shape()));
        }
    }

    @Test
    void softmaxWithoutTheMaxShiftFailsHugeLogits() {
        Map<String, Outcome> r = run(new SoftmaxWithoutShift(), "^softmax_cross_entropy\\.huge|^softmax_cross_entropy\\[N=64");
        assertStatus(r, Status.FAILED, "huge_logits");
        assertStatus(r, Status.PASSED, "^softmax_cross_entropy\\[N=64,K=10\\]");
    }

    /** Picks the last maximum on ties. */
    static class ArgmaxLastOnTies extends ReferenceBackend {
        @Override
        public Tensor argmax(Tensor x) {
            int n = x.shape().dim(0);
            int k = x.shape().dim(1);
            float[] v = data(x);
            float[] idx = new float[n];
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int j = 1; j < k; j++) {
                    if (v[i * k + j] >= v[i * k + best]) {
                        best = j;
                    }
                }
                idx[i] = best;
            }
            return of(idx, Shape.of(n));
        }
    }

    @Test
    void argmaxPickingTheLastMaximumFailsTies() {
        Map<String, Outcome> r = run(new ArgmaxLastOnTies(), "^argmax");
        assertStatus(r, Status.FAILED, "^argmax\\.ties_first");
        assertStatus(r, Status.PASSED, "^argmax\\[N=100,K=17\\]");
    }

    /** Adam without bias correction. */
    static class AdamWithoutBiasCorrection extends ReferenceBackend {
        @Override
        public void adam(Tensor w, Tensor dw, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                         int t) {
            super.adam(w, dw, m, v, lr, beta1, beta2, eps, 1_000_000);
        }
    }

    @Test
    void adamWithoutBiasCorrectionFails() {
        Map<String, Outcome> r = run(new AdamWithoutBiasCorrection(), "^optimizer\\.");
        assertStatus(r, Status.FAILED, "^optimizer\\.adam\\[");
        assertStatus(r, Status.PASSED, "^optimizer\\.rmsprop\\[");
    }

    /** Momentum with μ hard-coded to CS231N's default 0.9. */
    static class HardCodedMomentum extends ReferenceBackend {
        @Override
        public void sgdMomentum(Tensor w, Tensor dw, Tensor velocity, float learningRate, float momentum) {
            super.sgdMomentum(w, dw, velocity, learningRate, 0.9f);
        }
    }

    @Test
    void optimizerIgnoringItsHyperparameterFailsTheCustomCase() {
        Map<String, Outcome> r = run(new HardCodedMomentum(), "^optimizer\\.sgd_momentum\\[");
        assertStatus(r, Status.FAILED, "hyper=custom");
        assertStatus(r, Status.PASSED, "hyper=defaults");
    }

    /** ReLU as {@code x > 0 ? x : 0}: NaN becomes 0, and its gradient is dropped where x is NaN. */
    static class ReluLaunderingNan extends ReferenceBackend {
        @Override
        public Tensor relu(Tensor x) {
            double[] v = d(x);
            for (int i = 0; i < v.length; i++) {
                v[i] = v[i] > 0 ? v[i] : 0;
            }
            return of(v, x.shape());
        }

        @Override
        public Tensor reluBackward(Tensor dOut, Tensor x) {
            double[] g = d(dOut);
            double[] v = d(x);
            for (int i = 0; i < v.length; i++) {
                g[i] = v[i] > 0 ? g[i] : 0;
            }
            return of(g, x.shape());
        }
    }

    @Test
    void reluThatMapsNanToZeroFailsTheSpecialValueCases() {
        Map<String, Outcome> r = run(new ReluLaunderingNan(), "^relu\\.(forward|backward)\\[");
        assertStatus(r, Status.FAILED, "values=nan,inf");
        assertStatus(r, Status.PASSED, "shape=");
        String msg = r.get("relu.forward[values=nan,inf]").message();
        assertTrue(msg.contains("expected NaN actual 0"), msg);
    }

    /** Its close() leaves the tensors readable, as the cpu backend did before issue 19. */
    static class CloseLeavesTensorsOpen extends ReferenceBackend {
        private boolean shut;

        @Override
        public void close() {
            shut = true;
        }

        @Override
        public boolean isClosed() {
            return shut;
        }
    }

    @Test
    void aBackendWhoseTensorsOutliveItFailsTheLifecycleCase() {
        ConformanceReport report = new ConformanceRunner(new ReferenceBackend()).include("backend_closed")
                .freshBackends(CloseLeavesTensorsOpen::new).run();
        Outcome o = report.entries().get(0).outcome();
        assertEquals(Status.FAILED, o.status(), o.message());
        assertTrue(o.message().contains("expected isClosed() true, got false"), o.message());
        assertTrue(o.message().contains("toArray() of a result: expected IllegalStateException naming the closed "
                + "backend, but the call returned normally"), o.message());
    }

    @Test
    void theLifecycleCaseIsUnsupportedWithoutAWayToCreateASecondBackend() {
        Map<String, Outcome> r = run(new ReferenceBackend(), "backend_closed");
        assertStatus(r, Status.UNSUPPORTED, "backend_closed");
        assertTrue(r.values().iterator().next().message().contains("ConformanceRunner.freshBackends"));
    }

    // ------------------------------------------------------------------------------------------------ arguments

    /** Misses argument checks, or throws with a message outside the contract's format. */
    static class SloppyArguments extends ReferenceBackend {
        @Override
        public NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
            return super.layerNormForward(x, gamma, beta, eps > 0 ? eps : 1e-5f);
        }

        @Override
        public NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                           Tensor runningVar, BatchNormParams p, Mode mode) {
            if (mode == Mode.TRAIN && x.shape().dim(0) == 1) {
                throw new IllegalArgumentException("batch too small");
            }
            return super.batchNormForward(x, gamma, beta, runningMean, runningVar, p, mode);
        }

        @Override
        public NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
            if (groups < 1 || x.shape().rank() == 4 && x.shape().dim(1) % groups != 0) {
                throw new IllegalStateException("groupnorm.forward: groups expected a divisor of C, got " + groups);
            }
            return super.groupNormForward(x, gamma, beta, groups, eps);
        }

        @Override
        public Tensor relu(Tensor x) {
            return of(Reference.relu(d(x)), x.shape());
        }
    }

    @Test
    void missingOrMiswordedArgumentErrorsFailWithWhatWasWrong() {
        Map<String, Outcome> r = run(new SloppyArguments(), "\\.rejects");
        String eps = r.get("layernorm.forward.rejects[eps=0.0]").message();
        assertTrue(eps.contains("returned normally"), eps);
        String n1 = r.get("batchnorm.forward.rejects[N=1,mode=TRAIN]").message();
        assertTrue(n1.contains("in the form") && n1.contains("batch too small"), n1);
        String groups = r.get("groupnorm.forward.rejects[G=4,C=6]").message();
        assertTrue(groups.contains("expected IllegalArgumentException") && groups.contains("IllegalStateException"),
                groups);
        String closed = r.get("relu.forward.rejects[x=closed]").message();
        assertTrue(closed.contains("returned normally"), closed);
        assertStatus(r, Status.PASSED, "^batchnorm\\.forward\\.rejects\\[eps=");
        assertStatus(r, Status.PASSED, "^dropout\\.forward\\.rejects");
    }

    // ------------------------------------------------------------------------------------- outcomes themselves

    /** Lacks dropout, and its relu throws. */
    static class PartialBackend extends ReferenceBackend {
        @Override
        public boolean supports(Op op) {
            return op != Op.DROPOUT;
        }

        @Override
        public Tensor relu(Tensor x) {
            throw new UnsupportedOperationException("relu kernel not built");
        }
    }

    @Test
    void unsupportedOpsAreReportedUnsupportedAndUnexpectedExceptionsFailed() {
        Map<String, Outcome> r = run(new PartialBackend(), "^(dropout|relu)\\.");
        assertStatus(r, Status.UNSUPPORTED, "^dropout\\.");
        assertTrue(r.get("dropout.backward[N=8385,keep=0.6]").message().contains("does not support op family 'dropout'"));
        assertStatus(r, Status.FAILED, "^relu\\.forward\\[");
        assertStatus(r, Status.PASSED, "^relu\\.backward\\[");
        String msg = r.get("relu.forward[shape=[1]]").message();
        assertTrue(msg.startsWith("unexpected java.lang.UnsupportedOperationException: relu kernel not built"), msg);
    }
}
