package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.widen;

import java.util.ArrayList;
import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Reference.NormBackward;
import org.layerkit.conformance.Reference.NormForward;

/** Cases of the four normalizations: batchnorm, spatial batchnorm, layernorm and groupnorm. */
final class NormCases {
    static final float EPS = 1e-5f;

    /**
     * The input distribution of a case: x = mean + shift + std·scale·N(0,1), with a random shift per statistic when
     * {@code shift}, scale uniform in [0.5, 3) per statistic, normalized with {@code eps}; or, when {@code huge}, values
     * of magnitude 1e38 … 3e38 with random signs.
     *
     * @param name   shown in the case name ({@code mean=1e4}, {@code std=1e-3,eps=1e-4}); empty for ordinary data
     * @param mean   the common mean
     * @param std    the common scale factor
     * @param shift  whether each statistic gets its own shift in [−2, 2)
     * @param eps    the ε of the case
     * @param huge   values ±[1e38, 3e38) instead: variances near 1e76, beyond the float range
     */
    record Data(String name, double mean, double std, boolean shift, float eps, boolean huge) {
        /** Order-1 data with distinct statistics per feature. */
        static final Data ORDINARY = new Data("", 0, 1, true, EPS, false);
        /** 1e4 + N(0,1): a one-pass float32 variance fails. */
        static final Data LARGE_MEAN = new Data("mean=1e4", 1e4, 1, false, EPS, false);
        /** Variance 1e-6 below ε = 1e-4: ε inside the root, and ε honoured rather than a default. */
        static final Data SMALL_VARIANCE = new Data("std=1e-3,eps=1e-4", 0, 1e-3, false, 1e-4f, false);
        /**
         * 1e20 + 1e19·N(0,1): the mean, rstd (near 1e-19), x̂ and every output fit a float (the variance, up to 9e38,
         * need not: it is stored only through the running variance, a tenth of it), but squares of deviations near
         * 1e19 summed in float32 pass FLT_MAX = 3.4e38 (issue 19).
         */
        static final Data SQUARES_OVERFLOW = new Data("mean=1e20,std=1e19", 1e20, 1e19, false, EPS, false);
        /**
         * ±[1e38, 3e38): x̂ and the outputs fit a float, the mean too, rstd only as a subnormal near 3e-39, and the
         * variance (near 1e76) not at all: the running variance of batch norm becomes +∞, the float that IEEE
         * rounding gives it (issue 19: these inputs gave all-zero outputs).
         */
        static final Data HUGE = new Data("magnitude=3e38", 0, 3e38, false, EPS, true);

        ConformanceCase.Builder label(ConformanceCase.Builder b) {
            if (!name.isEmpty()) {
                for (String kv : name.split(",")) {
                    String[] p = kv.split("=");
                    b.param(p[0], p[1]);
                }
            }
            return b;
        }

        /** One value: mean + shift + scale·N(0,1), or a huge one. */
        float value(CaseContext ctx, double shift, double scale) {
            if (huge) {
                double m = 1e38 + 2e38 * ctx.random().nextDouble();
                return (float) (ctx.random().nextBoolean() ? m : -m);
            }
            return (float) (mean + shift + scale * ctx.random().nextGaussian());
        }

        /** {@code rows} runs of {@code len} values, each run with its own shift and scale. */
        float[] runs(CaseContext ctx, int rows, int len) {
            float[] x = new float[rows * len];
            for (int i = 0; i < rows; i++) {
                double sh = shift ? ctx.random().nextDouble(-2, 2) : 0;
                double sc = std * ctx.random().nextDouble(0.5, 3);
                for (int j = 0; j < len; j++) {
                    x[i * len + j] = value(ctx, sh, sc);
                }
            }
            return x;
        }
    }

    /**
     * The exact values a float tensor should hold, with those beyond the float range as the float that IEEE rounding
     * gives them (±∞); the others stay exact, since each bound is derived against the exact value.
     */
    static double[] floatRange(double[] v) {
        double[] r = v.clone();
        for (int i = 0; i < v.length; i++) {
            if (Math.abs(v[i]) > Float.MAX_VALUE) {
                r[i] = (float) v[i];
            }
        }
        return r;
    }

    private NormCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        batchNorm(cases);
        layerNorm(cases);
        groupNorm(cases);
        cacheLifetime(cases);
        return cases;
    }

    // ================================================================================= batchnorm and spatial batchnorm

    /** The geometry of a (spatial) batch norm case: [N,D] is spatial batch norm with H = W = 1 but its own ops. */
    record Bn(boolean spatial, int n, int c, int h, int w) {
        static Bn plain(int n, int d) {
            return new Bn(false, n, d, 1, 1);
        }

        static Bn spatial(int n, int c, int h, int w) {
            return new Bn(true, n, c, h, w);
        }

        Shape xShape() {
            return spatial ? Shape.of(n, c, h, w) : Shape.of(n, c);
        }

        Shape statShape() {
            return Shape.of(c);
        }

        int hw() {
            return h * w;
        }

        /** Elements per statistic, M = N·H·W. */
        long m() {
            return (long) n * h * w;
        }

        Op op() {
            return spatial ? Op.SPATIAL_BATCHNORM : Op.BATCHNORM;
        }

        NormBounds.Layout layout() {
            return spatial ? NormBounds.Layout.spatialBatchNorm(n, c, hw()) : NormBounds.Layout.batchNorm(n, c);
        }

        NormKind kind() {
            return spatial ? NormKind.SPATIAL_BATCHNORM : NormKind.BATCHNORM;
        }

        ConformanceCase.Builder builder(String what, Mode mode) {
            ConformanceCase.Builder b = ConformanceCase.builder(op().id() + "." + what, op()).mode(mode)
                    .shape(xShape().dims()).param("N", n);
            if (spatial) {
                b.param("C", c).param("H", h).param("W", w);
            } else {
                b.param("D", c);
            }
            return b;
        }

        /** x[n,c,...] = mean + shift_c + std·scale_c·N(0,1): distinct per-feature statistics expose a wrong axis. */
        float[] input(CaseContext ctx, Data data) {
            double[] shift = new double[c];
            double[] scale = new double[c];
            for (int j = 0; j < c; j++) {
                shift[j] = data.shift() ? ctx.random().nextDouble(-2, 2) : 0;
                scale[j] = data.std() * ctx.random().nextDouble(0.5, 3);
            }
            float[] x = new float[xShape().size()];
            for (int i = 0; i < x.length; i++) {
                int ch = (i / hw()) % c;
                x[i] = data.value(ctx, shift[ch], scale[ch]);
            }
            return x;
        }

        NormResult forward(Backend b, Tensor x, Tensor g, Tensor be, Tensor rm, Tensor rv, BatchNormParams p,
                           Mode mode) {
            return spatial ? b.spatialBatchNormForward(x, g, be, rm, rv, p, mode)
                    : b.batchNormForward(x, g, be, rm, rv, p, mode);
        }

        NormResult forward(Backend b, Tensor x, Tensor g, Tensor be, RunningStats rs, BatchNormOptions o) {
            return spatial ? b.spatialBatchNormForward(x, g, be, rs, o, Mode.TRAIN)
                    : b.batchNormForward(x, g, be, rs, o, Mode.TRAIN);
        }

        NormGrads backward(Backend b, Tensor dOut, NormCache cache, Tensor gamma) {
            return spatial ? b.spatialBatchNormBackward(dOut, cache, gamma) : b.batchNormBackward(dOut, cache, gamma);
        }

        NormForward refTrain(double[] x, double[] g, double[] be, double eps) {
            return spatial ? Reference.spatialBatchNormTrain(x, n, c, hw(), g, be, eps)
                    : Reference.batchNormTrain(x, n, c, g, be, eps);
        }

        NormForward refEval(double[] x, double[] g, double[] be, double[] rm, double[] rv, double eps) {
            return spatial ? Reference.spatialBatchNormEval(x, n, c, hw(), g, be, rm, rv, eps)
                    : Reference.batchNormEval(x, n, c, g, be, rm, rv, eps);
        }

        NormBackward refBackward(double[] dout, NormForward f, double[] g, boolean train) {
            if (spatial) {
                return Reference.spatialBatchNormBackward(dout, f.xhat(), f.rstd(), g, n, c, hw(), train);
            }
            return train ? Reference.batchNormBackward(dout, f.xhat(), f.rstd(), g, n, c)
                    : Reference.batchNormBackwardEval(dout, f.xhat(), f.rstd(), g, n, c);
        }
    }

    /** The tensors of one batch-norm call and their host copies. */
    static final class BnInputs {
        final float[] x;
        final float[] gamma;
        final float[] beta;
        final float[] runningMean;
        final float[] runningVar;
        final Tensor tx;
        final Tensor tGamma;
        final Tensor tBeta;
        final Tensor tMean;
        final Tensor tVar;

        BnInputs(CaseContext ctx, Bn g, Data data) {
            x = g.input(ctx, data);
            gamma = ctx.uniform(g.c(), 0.5, 1.5);
            beta = ctx.normal(g.c(), 0, 0.5);
            runningMean = ctx.normal(g.c(), data.mean(), 1);
            runningVar = ctx.uniform(g.c(), 0.5, 2);
            tx = ctx.upload(x, g.xShape());
            tGamma = ctx.upload(gamma, g.statShape());
            tBeta = ctx.upload(beta, g.statShape());
            tMean = ctx.upload(runningMean, g.statShape());
            tVar = ctx.upload(runningVar, g.statShape());
        }
    }

    private static void batchNorm(List<ConformanceCase> cases) {
        List<Bn> shapes = List.of(Bn.plain(1000, 333), Bn.plain(7, 3), Bn.plain(2, 1), Bn.plain(65536, 64),
                Bn.spatial(8, 3, 5, 7), Bn.spatial(2, 4, 1, 1), Bn.spatial(1, 3, 2, 2), Bn.spatial(16, 8, 15, 17));
        for (Bn g : shapes) {
            cases.add(bnForwardTrain(g, Data.ORDINARY));
        }
        for (Bn g : shapes) {
            cases.add(bnBackwardTrain(g, Data.ORDINARY));
        }
        for (Bn g : List.of(Bn.plain(1000, 333), Bn.plain(1, 5), Bn.spatial(8, 3, 5, 7), Bn.spatial(1, 3, 1, 1))) {
            cases.add(bnForwardEval(g));
        }
        for (Bn g : List.of(Bn.plain(16, 8), Bn.spatial(4, 3, 5, 7))) {
            cases.add(bnBackwardEval(g));
        }
        cases.add(bnEvalAfterTraining(Bn.plain(64, 10), 3));
        cases.add(bnEvalAfterTraining(Bn.spatial(4, 3, 5, 7), 3));
        for (float decay : new float[] {0f, 0.5f, 1f}) {
            cases.add(bnRunningStats(Bn.plain(8, 5), decay, false));
        }
        cases.add(bnRunningStats(Bn.plain(8, 5), 0.9f, true));
        cases.add(bnRunningStats(Bn.spatial(2, 3, 2, 2), 0.9f, true));
        cases.add(bnCumulative(Bn.plain(16, 6), 4, false));
        cases.add(bnCumulative(Bn.spatial(2, 3, 4, 4), 4, true));
        for (Bn g : List.of(Bn.plain(1000, 16), Bn.spatial(8, 3, 5, 7))) {
            cases.add(bnForwardTrain(g, Data.LARGE_MEAN));
            cases.add(bnBackwardTrain(g, Data.LARGE_MEAN));
        }
        for (Bn g : List.of(Bn.plain(64, 8), Bn.spatial(4, 3, 3, 5))) {
            cases.add(bnForwardTrain(g, Data.SMALL_VARIANCE));
            cases.add(bnBackwardTrain(g, Data.SMALL_VARIANCE));
        }
        // near the float range: statistics that float32 sums of squares overflow (issue 19)
        for (Data d : List.of(Data.SQUARES_OVERFLOW, Data.HUGE)) {
            for (Bn g : List.of(Bn.plain(64, 8), Bn.plain(1000, 40), Bn.spatial(4, 3, 3, 5))) {
                cases.add(bnForwardTrain(g, d));
                cases.add(bnBackwardTrain(g, d));
            }
        }
    }

    private static ConformanceCase bnForwardTrain(Bn g, Data data) {
        return data.label(g.builder("forward.train", Mode.TRAIN)).check(ctx -> {
            BnInputs in = new BnInputs(ctx, g, data);
            BatchNormParams p = new BatchNormParams(data.eps(), 0.9f, false);
            NormResult r = ctx.track(g.forward(ctx.backend(), in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar, p,
                    Mode.TRAIN));
            double[] x = widen(in.x);
            NormForward e = g.refTrain(x, widen(in.gamma), widen(in.beta), data.eps());
            NormBounds bounds = NormBounds.train(g.layout(), x, e);
            expectForward(ctx, r, e, g.xShape(), g.statShape(), g.kind(), Mode.TRAIN, 1, bounds, widen(in.gamma),
                    widen(in.beta));
            // running statistics: r = decay·r + (1−decay)·batch, biased variance by default; a variance beyond the
            // float range makes the running variance +∞, the float IEEE rounding gives it
            double[] rm = widen(in.runningMean);
            double[] rv = widen(in.runningVar);
            ctx.expectClose("runningMean", in.tMean, g.statShape(), floatRange(Reference.runningUpdate(rm, e.mean(), p.decay())),
                    NormBounds.runningTolerance("NORM_RUNNING_MEAN", bounds.runningMeanErrors(rm, p.decay())));
            ctx.expectClose("runningVar", in.tVar, g.statShape(), floatRange(Reference.runningUpdate(rv, e.var(), p.decay())),
                    NormBounds.runningTolerance("NORM_RUNNING_VAR", bounds.runningVarErrors(rv, p.decay(), false)));
            ctx.expectIdentical("x (an input, must be left untouched)", in.tx, g.xShape(), in.x);
        });
    }

    private static ConformanceCase bnBackwardTrain(Bn g, Data data) {
        return data.label(g.builder("backward", Mode.TRAIN)).check(ctx -> {
            BnInputs in = new BnInputs(ctx, g, data);
            float[] dOut = ctx.normal(g.xShape().size(), 0, 1);
            BatchNormParams p = new BatchNormParams(data.eps(), 0.9f, false);
            NormResult r = ctx.track(g.forward(ctx.backend(), in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar, p,
                    Mode.TRAIN));
            Tensor tdOut = ctx.upload(dOut, g.xShape());
            CacheSnapshot before = new CacheSnapshot(r.cache());
            NormGrads grads = ctx.track(g.backward(ctx.backend(), tdOut, r.cache(), in.tGamma));
            double[] x = widen(in.x);
            NormForward f = g.refTrain(x, widen(in.gamma), widen(in.beta), data.eps());
            NormBackward e = g.refBackward(widen(dOut), f, widen(in.gamma), true);
            NormBounds bounds = NormBounds.train(g.layout(), x, f);
            expectGrads(ctx, grads, e, g.xShape(), g.statShape(), bounds.dXTrain(widen(dOut), widen(in.gamma)),
                    bounds, widen(dOut));
            expectInputsUntouched(ctx, before, tdOut, dOut);
        });
    }

    private static ConformanceCase bnForwardEval(Bn g) {
        return g.builder("forward.eval", Mode.EVAL).check(ctx -> {
            BnInputs in = new BnInputs(ctx, g, Data.ORDINARY);
            BatchNormParams p = new BatchNormParams(EPS, 0.9f, false);
            NormResult r = ctx.track(g.forward(ctx.backend(), in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar, p,
                    Mode.EVAL));
            NormForward e = g.refEval(widen(in.x), widen(in.gamma), widen(in.beta), widen(in.runningMean),
                    widen(in.runningVar), EPS);
            expectForward(ctx, r, e, g.xShape(), g.statShape(), g.kind(), Mode.EVAL, 1,
                    NormBounds.eval(g.layout(), e), widen(in.gamma), widen(in.beta));
            ctx.expectIdentical("runningMean (EVAL must not update it)", in.tMean, g.statShape(), in.runningMean);
            ctx.expectIdentical("runningVar (EVAL must not update it)", in.tVar, g.statShape(), in.runningVar);
        });
    }

    private static ConformanceCase bnBackwardEval(Bn g) {
        return g.builder("backward.eval", Mode.EVAL).check(ctx -> {
            BnInputs in = new BnInputs(ctx, g, Data.ORDINARY);
            float[] dOut = ctx.normal(g.xShape().size(), 0, 1);
            BatchNormParams p = new BatchNormParams(EPS, 0.9f, false);
            NormResult r = ctx.track(g.forward(ctx.backend(), in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar, p,
                    Mode.EVAL));
            NormGrads grads = ctx.track(g.backward(ctx.backend(), ctx.upload(dOut, g.xShape()), r.cache(),
                    in.tGamma));
            NormForward f = g.refEval(widen(in.x), widen(in.gamma), widen(in.beta), widen(in.runningMean),
                    widen(in.runningVar), EPS);
            NormBounds bounds = NormBounds.eval(g.layout(), f);
            expectGrads(ctx, grads, g.refBackward(widen(dOut), f, widen(in.gamma), false), g.xShape(),
                    g.statShape(), bounds.dXEval(widen(dOut), widen(in.gamma)), bounds, widen(dOut));
        });
    }

    /**
     * Several TRAIN steps on fresh batches move the running statistics; EVAL then normalizes with them. Each step's
     * error bound adds to the running statistics' (r' = d·r + (1−d)·b carries d·δr forward, d ≤ 1), and the EVAL
     * output's bound takes those errors as the errors of its μ and σ².
     */
    private static ConformanceCase bnEvalAfterTraining(Bn g, int steps) {
        return g.builder("forward.eval_after_train", Mode.EVAL).param("steps", steps)
                .check(ctx -> {
                    BnInputs in = new BnInputs(ctx, g, Data.ORDINARY);
                    BatchNormParams p = new BatchNormParams(EPS, 0.8f, false);
                    double[] rm = widen(in.runningMean);
                    double[] rv = widen(in.runningVar);
                    double[] meanErr = new double[g.c()];
                    double[] varErr = new double[g.c()];
                    for (int s = 0; s < steps; s++) {
                        float[] x = g.input(ctx, Data.ORDINARY);
                        ctx.track(g.forward(ctx.backend(), ctx.upload(x, g.xShape()), in.tGamma, in.tBeta, in.tMean,
                                in.tVar, p, Mode.TRAIN));
                        double[] xd = widen(x);
                        NormForward f = g.refTrain(xd, widen(in.gamma), widen(in.beta), EPS);
                        NormBounds b = NormBounds.train(g.layout(), xd, f);
                        add(meanErr, b.runningMeanErrors(rm, p.decay()));
                        add(varErr, b.runningVarErrors(rv, p.decay(), false));
                        rm = Reference.runningUpdate(rm, f.mean(), p.decay());
                        rv = Reference.runningUpdate(rv, f.var(), p.decay());
                    }
                    ctx.expectClose("runningMean after " + steps + " TRAIN steps", in.tMean, g.statShape(), rm,
                            NormBounds.runningTolerance("NORM_RUNNING_MEAN", meanErr));
                    ctx.expectClose("runningVar after " + steps + " TRAIN steps", in.tVar, g.statShape(), rv,
                            NormBounds.runningTolerance("NORM_RUNNING_VAR", varErr));
                    float[] x = g.input(ctx, Data.ORDINARY);
                    NormResult r = ctx.track(g.forward(ctx.backend(), ctx.upload(x, g.xShape()), in.tGamma,
                            in.tBeta, in.tMean, in.tVar, p, Mode.EVAL));
                    NormForward e = g.refEval(widen(x), widen(in.gamma), widen(in.beta), rm, rv, EPS);
                    ctx.expectClose("out (EVAL)", r.out(), g.xShape(), e.out(),
                            NormBounds.eval(g.layout(), e, meanErr, varErr).out(widen(in.gamma), widen(in.beta)));
                });
    }

    private static void add(double[] acc, double[] v) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += v[i];
        }
    }

    /** One TRAIN step with a given decay, biased or unbiased running variance. */
    private static ConformanceCase bnRunningStats(Bn g, float decay, boolean unbiased) {
        return g.builder("running_stats", Mode.TRAIN).param("decay", decay)
                .param("var", unbiased ? "unbiased" : "biased").check(ctx -> {
                    BnInputs in = new BnInputs(ctx, g, Data.ORDINARY);
                    BatchNormParams p = new BatchNormParams(EPS, decay, unbiased);
                    NormResult r = ctx.track(g.forward(ctx.backend(), in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar,
                            p, Mode.TRAIN));
                    double[] x = widen(in.x);
                    NormForward e = g.refTrain(x, widen(in.gamma), widen(in.beta), EPS);
                    NormBounds b = NormBounds.train(g.layout(), x, e);
                    double[] rm = widen(in.runningMean);
                    double[] rv = widen(in.runningVar);
                    ctx.expectClose("runningMean", in.tMean, g.statShape(), Reference.runningUpdate(rm, e.mean(), decay),
                            NormBounds.runningTolerance("NORM_RUNNING_MEAN", b.runningMeanErrors(rm, decay)));
                    // the running variance may be unbiased; normalization always uses the biased one
                    ctx.expectClose("runningVar", in.tVar, g.statShape(), Reference.runningUpdate(rv,
                                    Reference.runningVarianceInput(e.var(), g.m(), unbiased), decay),
                            NormBounds.runningTolerance("NORM_RUNNING_VAR", b.runningVarErrors(rv, decay, unbiased)));
                    ctx.expectClose("out", r.out(), g.xShape(), e.out(), b.out(widen(in.gamma), widen(in.beta)));
                });
    }

    /**
     * The convenience overload with cumulative averaging: after k steps the running stats are plain averages. Step k
     * is r = r + (b − r)/k or an equivalent weighting (1 − 1/k)·r + (1/k)·b: its error is (1/k)·δb + (1 − 1/k)·δr
     * plus γ(3 + DIV)·(|r| + |b|) for the weight, the product and the sum; the bound adds these over the steps.
     */
    private static ConformanceCase bnCumulative(Bn g, int steps, boolean unbiased) {
        return g.builder("running_stats.cumulative", Mode.TRAIN).param("steps", steps)
                .param("var", unbiased ? "unbiased" : "biased").check(ctx -> {
                    Tensor gamma = ctx.upload(ctx.uniform(g.c(), 0.5, 1.5), g.statShape());
                    Tensor beta = ctx.upload(ctx.normal(g.c(), 0, 0.5), g.statShape());
                    float[] ones = new float[g.c()];
                    java.util.Arrays.fill(ones, 1f);
                    RunningStats rs = new RunningStats(ctx.upload(new float[g.c()], g.statShape()),
                            ctx.upload(ones, g.statShape()), 0);
                    BatchNormOptions o = new BatchNormOptions(EPS, 0.9f, unbiased, true);
                    // the exact running statistics (the average so far) and their error bounds
                    double[] runMean = new double[g.c()];
                    double[] runVar = new double[g.c()];
                    java.util.Arrays.fill(runVar, 1);
                    double[] meanErr = new double[g.c()];
                    double[] varErr = new double[g.c()];
                    double unb = unbiased ? g.m() / (double) (g.m() - 1) : 1;
                    double rounding = Tolerance.gamma(3 + Tolerance.DIV);
                    for (int s = 0; s < steps; s++) {
                        float[] x = g.input(ctx, Data.ORDINARY);
                        ctx.track(g.forward(ctx.backend(), ctx.upload(x, g.xShape()), gamma, beta, rs, o));
                        double[] xd = widen(x);
                        NormForward f = g.refTrain(xd, new double[g.c()], new double[g.c()], EPS);
                        NormBounds b = NormBounds.train(g.layout(), xd, f);
                        double[] v = Reference.runningVarianceInput(f.var(), g.m(), unbiased);
                        double[] em = b.meanErrors();
                        double[] ev = b.varErrors();
                        double w = 1.0 / (s + 1);
                        for (int j = 0; j < g.c(); j++) {
                            meanErr[j] = (1 - w) * meanErr[j] + w * em[j]
                                    + rounding * (Math.abs(runMean[j]) + Math.abs(f.mean()[j]));
                            varErr[j] = (1 - w) * varErr[j]
                                    + w * (ev[j] * unb + (unbiased ? Tolerance.gamma(1 + Tolerance.DIV) * v[j] : 0))
                                    + rounding * (Math.abs(runVar[j]) + Math.abs(v[j]));
                            runMean[j] = (1 - w) * runMean[j] + w * f.mean()[j];
                            runVar[j] = (1 - w) * runVar[j] + w * v[j];
                        }
                    }
                    ctx.check(rs.batchesTracked() == steps,
                            "batchesTracked: expected " + steps + ", got " + rs.batchesTracked());
                    ctx.expectClose("runningMean (average of " + steps + " batch means)", rs.mean(), g.statShape(),
                            runMean, NormBounds.runningTolerance("NORM_RUNNING_MEAN", meanErr));
                    ctx.expectClose("runningVar (average of " + steps + " batch variances)", rs.var(),
                            g.statShape(), runVar, NormBounds.runningTolerance("NORM_RUNNING_VAR", varErr));
                });
    }

    // =================================================================================================== layernorm

    private static void layerNorm(List<ConformanceCase> cases) {
        int[][] shapes = {{1000, 333}, {7, 3}, {2, 1}, {1, 5}, {65536, 64}};
        for (boolean backward : new boolean[] {false, true}) {
            for (int[] s : shapes) {
                cases.add(layerNormCase(s[0], s[1], backward, Data.ORDINARY));
            }
            cases.add(layerNormCase(64, 1000, backward, Data.LARGE_MEAN));
            cases.add(layerNormCase(16, 30, backward, Data.SMALL_VARIANCE));
            cases.add(layerNormCase(16, 300, backward, Data.SQUARES_OVERFLOW));
            cases.add(layerNormCase(16, 300, backward, Data.HUGE));
        }
    }

    private static ConformanceCase layerNormCase(int n, int d, boolean backward, Data data) {
        ConformanceCase.Builder b = ConformanceCase.builder(backward ? "layernorm.backward" : "layernorm.forward",
                Op.LAYERNORM).shape(n, d).param("N", n).param("D", d);
        float eps = data.eps();
        return data.label(b).check(ctx -> {
            Shape xs = Shape.of(n, d);
            // each row has its own statistics
            float[] x = data.runs(ctx, n, d);
            float[] gamma = ctx.uniform(d, 0.5, 1.5);
            float[] beta = ctx.normal(d, 0, 0.5);
            Tensor tx = ctx.upload(x, xs);
            Tensor tGamma = ctx.upload(gamma, Shape.of(d));
            NormResult r = ctx.track(ctx.backend().layerNormForward(tx, tGamma, ctx.upload(beta, Shape.of(d)), eps));
            NormForward e = Reference.layerNormForward(widen(x), n, d, widen(gamma), widen(beta), eps);
            NormBounds bounds = NormBounds.train(NormBounds.Layout.layerNorm(n, d), widen(x), e);
            if (!backward) {
                expectForward(ctx, r, e, xs, Shape.of(n), NormKind.LAYERNORM, null, 1, bounds, widen(gamma),
                        widen(beta));
                ctx.expectIdentical("x (an input, must be left untouched)", tx, xs, x);
                return;
            }
            float[] dOut = ctx.normal(n * d, 0, 1);
            Tensor tdOut = ctx.upload(dOut, xs);
            CacheSnapshot before = new CacheSnapshot(r.cache());
            NormGrads grads = ctx.track(ctx.backend().layerNormBackward(tdOut, r.cache(), tGamma));
            NormBackward eg = Reference.layerNormBackward(widen(dOut), e.xhat(), e.rstd(), widen(gamma), n, d);
            expectGrads(ctx, grads, eg, xs, Shape.of(d), bounds.dXTrain(widen(dOut), widen(gamma)), bounds,
                    widen(dOut));
            expectInputsUntouched(ctx, before, tdOut, dOut);
        });
    }

    // =================================================================================================== groupnorm

    private static void groupNorm(List<ConformanceCase> cases) {
        int[][] shapes = {{2, 6, 4, 5, 3}, {2, 6, 4, 5, 1}, {2, 6, 4, 5, 6}, {3, 5, 7, 3, 5}, {1, 4, 3, 3, 2},
            {8, 32, 8, 8, 8}};
        for (boolean backward : new boolean[] {false, true}) {
            for (int[] s : shapes) {
                cases.add(groupNormCase(s, backward, Data.ORDINARY));
            }
            cases.add(groupNormCase(new int[] {4, 6, 5, 5, 2}, backward, Data.LARGE_MEAN));
            cases.add(groupNormCase(new int[] {2, 6, 3, 3, 3}, backward, Data.SMALL_VARIANCE));
            cases.add(groupNormCase(new int[] {2, 6, 4, 5, 3}, backward, Data.SQUARES_OVERFLOW));
            cases.add(groupNormCase(new int[] {2, 6, 4, 5, 3}, backward, Data.HUGE));
        }
    }

    /** s = {N, C, H, W, G}. */
    private static ConformanceCase groupNormCase(int[] s, boolean backward, Data data) {
        int n = s[0];
        int c = s[1];
        int hw = s[2] * s[3];
        int groups = s[4];
        ConformanceCase.Builder b = ConformanceCase.builder(backward ? "groupnorm.backward" : "groupnorm.forward",
                Op.GROUPNORM).shape(n, c, s[2], s[3]).param("N", n).param("C", c).param("H", s[2]).param("W", s[3])
                .param("G", groups);
        float eps = data.eps();
        return data.label(b).check(ctx -> {
            Shape xs = Shape.of(n, c, s[2], s[3]);
            // each (n, group) gets its own shift and scale
            float[] x = data.runs(ctx, n * groups, (c / groups) * hw);
            float[] gamma = ctx.uniform(c, 0.5, 1.5);
            float[] beta = ctx.normal(c, 0, 0.5);
            Tensor tx = ctx.upload(x, xs);
            Tensor tGamma = ctx.upload(gamma, Shape.of(c));
            NormResult r = ctx.track(ctx.backend().groupNormForward(tx, tGamma, ctx.upload(beta, Shape.of(c)),
                    groups, eps));
            NormForward e = Reference.groupNormForward(widen(x), n, c, hw, groups, widen(gamma), widen(beta), eps);
            NormBounds bounds = NormBounds.train(NormBounds.Layout.groupNorm(n, c, hw, groups), widen(x), e);
            if (!backward) {
                expectForward(ctx, r, e, xs, Shape.of(n, groups), NormKind.GROUPNORM, null, groups, bounds,
                        widen(gamma), widen(beta));
                ctx.expectIdentical("x (an input, must be left untouched)", tx, xs, x);
                return;
            }
            float[] dOut = ctx.normal(xs.size(), 0, 1);
            Tensor tdOut = ctx.upload(dOut, xs);
            CacheSnapshot before = new CacheSnapshot(r.cache());
            NormGrads grads = ctx.track(ctx.backend().groupNormBackward(tdOut, r.cache(), tGamma));
            NormBackward eg = Reference.groupNormBackward(widen(dOut), e.xhat(), e.rstd(), widen(gamma), n, c, hw,
                    groups);
            expectGrads(ctx, grads, eg, xs, Shape.of(c), bounds.dXTrain(widen(dOut), widen(gamma)), bounds,
                    widen(dOut));
            expectInputsUntouched(ctx, before, tdOut, dOut);
        });
    }

    // ============================================================================================== cache lifetime

    /**
     * A cache may keep x instead of x̂ (see {@link NormCache}). Then the caller may close x after the forward (the
     * backward must still see x as it was, even once the storage of x could have been handed out again), and an
     * in-place change of x before the backward must give either the gradients of the unchanged x (a cache that stores
     * x̂) or an {@link IllegalStateException} naming the op and the cache — never gradients of another input.
     */
    private static void cacheLifetime(List<ConformanceCase> cases) {
        for (NormKind kind : NormKind.values()) {
            cases.add(lifetimeCase(kind, false));
            cases.add(lifetimeCase(kind, true));
        }
    }

    private static ConformanceCase lifetimeCase(NormKind kind, boolean modify) {
        boolean flat = kind == NormKind.BATCHNORM || kind == NormKind.LAYERNORM;
        Shape xs = flat ? Shape.of(6, 8) : Shape.of(2, 4, 3, 3);
        Shape params = Shape.of(xs.dim(1));
        Op op = switch (kind) {
            case BATCHNORM -> Op.BATCHNORM;
            case SPATIAL_BATCHNORM -> Op.SPATIAL_BATCHNORM;
            case LAYERNORM -> Op.LAYERNORM;
            case GROUPNORM -> Op.GROUPNORM;
        };
        String what = modify ? "backward.after_x_modified_in_place" : "backward.after_x_closed";
        return ConformanceCase.builder(kind.id() + "." + what, op).shape(xs.dims()).check(ctx -> {
            Backend b = ctx.backend();
            float[] x = ctx.normal(xs.size(), 1, 2);
            float[] gamma = ctx.uniform(params.size(), 0.5, 1.5);
            float[] dOut;
            Tensor tGamma = ctx.upload(gamma, params);
            Tensor tBeta = ctx.upload(ctx.normal(params.size(), 0, 0.5), params);
            Tensor tdOut = ctx.upload(dOut = ctx.normal(xs.size(), 0, 1), xs);
            // the expected gradients: the same forward and backward with x left alone
            NormResult r0 = ctx.track(lifetimeForward(ctx, kind, ctx.upload(x, xs), tGamma, tBeta));
            NormGrads e = ctx.track(lifetimeBackward(b, kind, tdOut, r0.cache(), tGamma));
            Tensor tx = b.upload(x, xs);
            NormResult r = ctx.track(lifetimeForward(ctx, kind, tx, tGamma, tBeta));
            NormGrads g;
            if (modify) {
                ctx.track(tx);
                b.fill(tx, 7f);
                try {
                    g = ctx.track(lifetimeBackward(b, kind, tdOut, r.cache(), tGamma));
                } catch (IllegalStateException refused) {
                    ctx.expectError(IllegalStateException.class, kind.id() + "\\.backward", "cache", () -> {
                        throw refused;
                    });
                    return;
                }
            } else {
                tx.close();
                // new tensors of x's shape: a backend that recycled x's storage would hand it out here
                for (int i = 0; i < 3; i++) {
                    b.fill(ctx.track(b.zeros(xs)), 7f);
                }
                g = ctx.track(lifetimeBackward(b, kind, tdOut, r.cache(), tGamma));
            }
            // two results of the backend, each within the derived bound of the exact gradients
            NormBounds bounds = lifetimeBounds(kind, xs, widen(x), widen(gamma));
            String after = modify ? " after x was modified in place" : " after x was closed";
            ctx.expectClose("dX" + after, g.dX(), xs, widen(e.dX().toArray()),
                    bounds.dXTrain(widen(dOut), widen(gamma)).betweenTwoResults());
            ctx.expectClose("dGamma" + after, g.dGamma(), params, widen(e.dGamma().toArray()),
                    bounds.dGamma(widen(dOut)).betweenTwoResults());
            ctx.expectClose("dBeta" + after, g.dBeta(), params, widen(e.dBeta().toArray()),
                    bounds.dBeta(widen(dOut)).betweenTwoResults());
        });
    }

    /** The derived bounds of a lifetime case's TRAIN forward (groupnorm with G = 2, as lifetimeForward). */
    private static NormBounds lifetimeBounds(NormKind kind, Shape xs, double[] x, double[] gamma) {
        int n = xs.dim(0);
        int c = xs.dim(1);
        int hw = xs.rank() == 4 ? xs.dim(2) * xs.dim(3) : 1;
        double[] beta = new double[c];
        return switch (kind) {
            case BATCHNORM -> NormBounds.train(NormBounds.Layout.batchNorm(n, c), x,
                    Reference.batchNormTrain(x, n, c, gamma, beta, EPS));
            case SPATIAL_BATCHNORM -> NormBounds.train(NormBounds.Layout.spatialBatchNorm(n, c, hw), x,
                    Reference.spatialBatchNormTrain(x, n, c, hw, gamma, beta, EPS));
            case LAYERNORM -> NormBounds.train(NormBounds.Layout.layerNorm(n, c), x,
                    Reference.layerNormForward(x, n, c, gamma, beta, EPS));
            case GROUPNORM -> NormBounds.train(NormBounds.Layout.groupNorm(n, c, hw, 2), x,
                    Reference.groupNormForward(x, n, c, hw, 2, gamma, beta, EPS));
        };
    }

    private static NormResult lifetimeForward(CaseContext ctx, NormKind kind, Tensor x, Tensor gamma, Tensor beta) {
        Backend b = ctx.backend();
        Shape stats = gamma.shape();
        BatchNormParams p = new BatchNormParams(EPS, 0.9f, false);
        return switch (kind) {
            case BATCHNORM -> b.batchNormForward(x, gamma, beta, ctx.upload(new float[stats.size()], stats),
                    ctx.upload(ones(stats.size()), stats), p, Mode.TRAIN);
            case SPATIAL_BATCHNORM -> b.spatialBatchNormForward(x, gamma, beta,
                    ctx.upload(new float[stats.size()], stats), ctx.upload(ones(stats.size()), stats), p, Mode.TRAIN);
            case LAYERNORM -> b.layerNormForward(x, gamma, beta, EPS);
            case GROUPNORM -> b.groupNormForward(x, gamma, beta, 2, EPS);
        };
    }

    private static NormGrads lifetimeBackward(Backend b, NormKind kind, Tensor dOut, NormCache cache, Tensor gamma) {
        return switch (kind) {
            case BATCHNORM -> b.batchNormBackward(dOut, cache, gamma);
            case SPATIAL_BATCHNORM -> b.spatialBatchNormBackward(dOut, cache, gamma);
            case LAYERNORM -> b.layerNormBackward(dOut, cache, gamma);
            case GROUPNORM -> b.groupNormBackward(dOut, cache, gamma);
        };
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    // ===================================================================================================== shared

    /**
     * Checks a forward's output and cache against the reference under the instance's derived bounds (NORM_OUT,
     * NORM_XHAT, NORM_MEAN, NORM_RSTD), and the cache's kind, mode and groups.
     */
    static void expectForward(CaseContext ctx, NormResult r, NormForward e, Shape xs, Shape stats, NormKind kind,
                              Mode mode, int groups, NormBounds bounds, double[] gamma, double[] beta) {
        ctx.expectClose("out", r.out(), xs, e.out(), bounds.out(gamma, beta));
        NormCache cache = r.cache();
        ctx.check(cache.kind() == kind, "cache.kind: expected " + kind + ", got " + cache.kind());
        if (mode != null) {
            ctx.check(cache.mode() == mode, "cache.mode: expected " + mode + ", got " + cache.mode());
        }
        ctx.check(cache.groups() == groups, "cache.groups: expected " + groups + ", got " + cache.groups());
        ctx.expectClose("cache.xhat", cache.xhat(), xs, e.xhat(), bounds.xhat());
        ctx.expectClose("cache.mean", cache.mean(), stats, e.mean(), bounds.mean());
        ctx.expectClose("cache.rstd", cache.rstd(), stats, e.rstd(), bounds.rstd());
    }

    /** The host copy of a cache before a backward, which must leave it (and dOut) untouched. */
    static final class CacheSnapshot {
        final NormCache cache;
        final float[] xhat;
        final float[] mean;
        final float[] rstd;

        CacheSnapshot(NormCache cache) {
            this.cache = cache;
            this.xhat = cache.xhat().toArray();
            this.mean = cache.mean().toArray();
            this.rstd = cache.rstd().toArray();
        }
    }

    /** Backward takes its inputs read-only: dOut and the cache hold what they held before, and stay open. */
    static void expectInputsUntouched(CaseContext ctx, CacheSnapshot before, Tensor dOut, float[] dOutValues) {
        NormCache c = before.cache;
        if (c.isClosed() || c.xhat().isClosed() || dOut.isClosed()) {
            ctx.fail("backward closed one of its inputs (the cache or dOut); the caller owns them");
            return;
        }
        ctx.expectIdentical("dOut (an input, must be left untouched)", dOut, dOut.shape(), dOutValues);
        ctx.expectIdentical("cache.xhat after backward (an input)", c.xhat(), c.xhat().shape(), before.xhat);
        ctx.expectIdentical("cache.mean after backward (an input)", c.mean(), c.mean().shape(), before.mean);
        ctx.expectIdentical("cache.rstd after backward (an input)", c.rstd(), c.rstd().shape(), before.rstd);
    }

    /** dX under its derived bound (NORM_DX or NORM_DX_EVAL), dγ and dβ under NORM_DGAMMA and NORM_DBETA. */
    static void expectGrads(CaseContext ctx, NormGrads g, NormBackward e, Shape xs, Shape params, Tolerance dx,
                            NormBounds bounds, double[] dOut) {
        ctx.expectClose("dX", g.dX(), xs, e.dx(), dx);
        ctx.expectClose("dGamma", g.dGamma(), params, e.dgamma(), bounds.dGamma(dOut));
        ctx.expectClose("dBeta", g.dBeta(), params, e.dbeta(), bounds.dBeta(dOut));
    }
}
