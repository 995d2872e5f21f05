package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.widen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NormCases.Bn;
import org.layerkit.conformance.NormCases.Data;
import org.layerkit.conformance.Reference.NormBackward;
import org.layerkit.conformance.Reference.NormForward;

/**
 * Batchnorm in parts (op family {@code batchnorm_parts}, {@code docs/ops/batchnorm_parts.md}): the batch split by
 * rows into P parts as replicas hold it; local statistics of each part, merged in part order with Chan's formula;
 * each part normalized with the merged statistics; each part's backward sums, added; each part's dX from the sums
 * and the whole count. The parts, put together, must equal the float64 reference of one batch norm on the whole
 * batch within bounds derived from the parts' own (NORM_M2, NORM_MERGED_STATS), and the backend's fused
 * forward/backward on the whole batch within the sum of both bounds.
 */
final class BatchNormPartsCases {
    private BatchNormPartsCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        for (Bn g : List.of(Bn.plain(7, 3), Bn.plain(200, 33), Bn.plain(2, 1), Bn.spatial(8, 3, 5, 7),
                Bn.spatial(2, 4, 1, 1))) {
            cases.add(parts(g, 1, Data.ORDINARY));
            cases.add(parts(g, 2, Data.ORDINARY));
        }
        cases.add(parts(Bn.plain(9, 4), 3, Data.ORDINARY));
        for (Data d : List.of(Data.LARGE_MEAN, Data.SMALL_VARIANCE, Data.SQUARES_OVERFLOW, Data.HUGE)) {
            cases.add(parts(Bn.plain(64, 8), 2, d));
            cases.add(parts(Bn.spatial(4, 3, 3, 5), 2, d));
        }
        cases.add(reduceOfEvalCache(Bn.plain(16, 5)));
        cases.add(reduceOfEvalCache(Bn.spatial(3, 4, 5, 6)));
        return cases;
    }

    /** Rows [from(p), from(p+1)) of part p of P. */
    private static int from(int p, int parts, int n) {
        return (int) ((long) p * n / parts);
    }

    private static ConformanceCase parts(Bn g, int parts, Data data) {
        ConformanceCase.Builder b = ConformanceCase.builder(Op.BATCHNORM_PARTS.id() + "."
                + (g.spatial() ? "spatial" : "plain"), Op.BATCHNORM_PARTS).mode(Mode.TRAIN).shape(g.xShape().dims()).param("N", g.n());
        if (g.spatial()) {
            b.param("C", g.c()).param("H", g.h()).param("W", g.w());
        } else {
            b.param("D", g.c());
        }
        b.param("parts", parts);
        return data.label(b).check(ctx -> {
            Backend be = ctx.backend();
            NormCases.BnInputs in = new NormCases.BnInputs(ctx, g, data);
            float[] dOut = ctx.normal(g.xShape().size(), 0, 1);
            int c = g.c();
            int row = c * g.hw();
            Shape cs = Shape.of(c);
            // the parts' tensors, as replicas would hold them
            Tensor[] xs = new Tensor[parts];
            Tensor[] dys = new Tensor[parts];
            for (int p = 0; p < parts; p++) {
                int r0 = from(p, parts, g.n());
                int r1 = from(p + 1, parts, g.n());
                Shape ps = g.spatial() ? Shape.of(r1 - r0, c, g.h(), g.w()) : Shape.of(r1 - r0, c);
                xs[p] = ctx.upload(Arrays.copyOfRange(in.x, r0 * row, r1 * row), ps);
                dys[p] = ctx.upload(Arrays.copyOfRange(dOut, r0 * row, r1 * row), ps);
            }
            // forward: local statistics, merged in part order, then each part normalized
            List<BatchNormStats> local = new ArrayList<>();
            for (Tensor x : xs) {
                local.add(g.spatial() ? be.spatialBatchNormLocalStats(x) : be.batchNormLocalStats(x));
            }
            BatchNormStats global = BatchNormStats.mergeInOrder(local);
            double[] invstd = global.invstd(data.eps());
            NormResult[] fwd = new NormResult[parts];
            for (int p = 0; p < parts; p++) {
                fwd[p] = ctx.track(g.spatial()
                        ? be.spatialBatchNormNormalize(xs[p], in.tGamma, in.tBeta, global.mean(), invstd)
                        : be.batchNormNormalize(xs[p], in.tGamma, in.tBeta, global.mean(), invstd));
            }
            // backward: local sums, added in part order, then each part's dX with the whole count
            double[] sums = new double[2 * c];
            for (int p = 0; p < parts; p++) {
                BatchNormGradSums s = g.spatial() ? be.spatialBatchNormBackwardReduce(dys[p], fwd[p].cache())
                        : be.batchNormBackwardReduce(dys[p], fwd[p].cache());
                double[] a = s.toArray();
                for (int i = 0; i < a.length; i++) {
                    sums[i] += a[i];
                }
            }
            BatchNormGradSums total = BatchNormGradSums.fromArray(sums);
            float[] out = new float[in.x.length];
            float[] dx = new float[in.x.length];
            for (int p = 0; p < parts; p++) {
                int r0 = from(p, parts, g.n());
                Tensor d = ctx.track(g.spatial()
                        ? be.spatialBatchNormBackwardElementwise(dys[p], fwd[p].cache(), in.tGamma, total,
                        global.count())
                        : be.batchNormBackwardElementwise(dys[p], fwd[p].cache(), in.tGamma, total, global.count()));
                System.arraycopy(fwd[p].out().toArray(), 0, out, r0 * row, xs[p].shape().size());
                System.arraycopy(d.toArray(), 0, dx, r0 * row, xs[p].shape().size());
            }

            // expected: one batch norm on the whole batch, in float64
            double[] x = widen(in.x);
            double[] gm = widen(in.gamma);
            double[] bt = widen(in.beta);
            double[] dy = widen(dOut);
            NormForward f = g.refTrain(x, gm, bt, data.eps());
            NormBackward e = g.refBackward(dy, f, gm, true);
            double[] m2 = new double[c];
            for (int k = 0; k < c; k++) {
                m2[k] = f.var()[k] * g.m();
            }
            NormBounds.MergedErrors err = mergedErrors(g, parts, x, f);
            NormBounds bounds = NormBounds.eval(g.layout(), f, err.mean(), err.var());
            ctx.expectIdentical("count", new float[] {global.count()}, Shape.of(1), new float[] {g.m()});
            ctx.expectClose("mean (merged)", global.mean(), cs, f.mean(),
                    Tolerance.derived("NORM_MERGED_STATS", Tolerance.maxAbs(err.mean()), 0));
            ctx.expectClose("M2 (merged)", global.m2(), cs, m2,
                    Tolerance.derived("NORM_M2", Tolerance.maxAbs(err.m2()), 0));
            Tolerance outTol = bounds.out(gm, bt);
            Tolerance dxTol = bounds.dXTrain(dy, gm);
            Tolerance dBetaTol = bounds.dBeta(dy);
            Tolerance dGammaTol = bounds.dGamma(dy);
            ctx.expectClose("out (parts)", out, g.xShape(), f.out(), outTol);
            ctx.expectClose("dX (parts)", dx, g.xShape(), e.dx(), dxTol);
            ctx.expectClose("Σ dOut (parts, dβ)", total.sumDy(), cs, e.dbeta(), dBetaTol);
            ctx.expectClose("Σ dOut·x̂ (parts, dγ)", total.sumDyXhat(), cs, e.dgamma(), dGammaTol);

            // the fused ops on the whole batch: each within its own bound of the exact value, so the two results
            // within the sum of the bounds of each other
            BatchNormParams bp = new BatchNormParams(data.eps(), 0.9f, false);
            NormResult fused = ctx.track(g.forward(be, in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar, bp,
                    Mode.TRAIN));
            NormGrads fg = ctx.track(g.backward(be, ctx.upload(dOut, g.xShape()), fused.cache(), in.tGamma));
            NormBounds fb = NormBounds.train(g.layout(), x, f);
            double[] partsOut = widen(out);
            ctx.expectClose("out: fused against parts", fused.out(), g.xShape(), partsOut,
                    fb.out(gm, bt).plus(outTol));
            ctx.expectClose("dX: fused against parts", fg.dX(), g.xShape(), widen(dx), fb.dXTrain(dy, gm).plus(dxTol));
            ctx.expectClose("dβ: fused against parts", fg.dBeta(), cs, total.sumDy(), fb.dBeta(dy).plus(dBetaTol));
            ctx.expectClose("dγ: fused against parts", fg.dGamma(), cs, total.sumDyXhat(),
                    fb.dGamma(dy).plus(dGammaTol));
            ctx.expectIdentical("x (an input, must be left untouched)", in.tx, g.xShape(), in.x);
        });
    }

    /**
     * The backward reduce of an EVAL cache (x̂ from the running statistics) gives EVAL's dβ = Σ dOut and
     * dγ = Σ dOut·x̂, within the fused EVAL backward's bounds (NORM_DBETA, NORM_DGAMMA).
     */
    private static ConformanceCase reduceOfEvalCache(Bn g) {
        ConformanceCase.Builder b = ConformanceCase.builder(Op.BATCHNORM_PARTS.id() + "."
                + (g.spatial() ? "spatial" : "plain") + ".backward_reduce.eval", Op.BATCHNORM_PARTS)
                .mode(Mode.EVAL).shape(g.xShape().dims()).param("N", g.n());
        return b.check(ctx -> {
            Backend be = ctx.backend();
            NormCases.BnInputs in = new NormCases.BnInputs(ctx, g, Data.ORDINARY);
            float[] dOut = ctx.normal(g.xShape().size(), 0, 1);
            BatchNormParams bp = new BatchNormParams(Data.ORDINARY.eps(), 0.9f, false);
            NormResult r = ctx.track(g.forward(be, in.tx, in.tGamma, in.tBeta, in.tMean, in.tVar, bp, Mode.EVAL));
            Tensor dy = ctx.upload(dOut, g.xShape());
            BatchNormGradSums s = g.spatial() ? be.spatialBatchNormBackwardReduce(dy, r.cache())
                    : be.batchNormBackwardReduce(dy, r.cache());
            NormForward f = g.refEval(widen(in.x), widen(in.gamma), widen(in.beta), widen(in.runningMean),
                    widen(in.runningVar), Data.ORDINARY.eps());
            NormBackward e = g.refBackward(widen(dOut), f, widen(in.gamma), false);
            NormBounds bounds = NormBounds.eval(g.layout(), f);
            Shape cs = Shape.of(g.c());
            ctx.expectClose("Σ dOut (EVAL dβ)", s.sumDy(), cs, e.dbeta(), bounds.dBeta(widen(dOut)));
            ctx.expectClose("Σ dOut·x̂ (EVAL dγ)", s.sumDyXhat(), cs, e.dgamma(), bounds.dGamma(widen(dOut)));
        });
    }

    /** NormBounds.mergedParts for the case's split. */
    private static NormBounds.MergedErrors mergedErrors(Bn g, int parts, double[] x, NormForward whole) {
        int[] rows = new int[parts];
        for (int p = 0; p < parts; p++) {
            rows[p] = from(p + 1, parts, g.n()) - from(p, parts, g.n());
        }
        return NormBounds.mergedErrors(g.spatial(), rows, g.c(), g.hw(), x, whole);
    }
}
