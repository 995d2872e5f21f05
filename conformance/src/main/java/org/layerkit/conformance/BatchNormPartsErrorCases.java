package org.layerkit.conformance;

import static org.layerkit.conformance.ErrorCases.error;
import static org.layerkit.conformance.ErrorCases.foreign;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Bad arguments of batchnorm in parts (op family {@code batchnorm_parts}), plain and spatial: local statistics,
 * normalize with given mean and invstd, backward reduce and backward elementwise. Each must throw
 * {@link IllegalArgumentException} (a closed tensor or cache {@link IllegalStateException}) with the message
 * {@code "<op>: <arg> expected …, got …"} naming the part's op ({@code batchnorm.normalize},
 * {@code spatial_batchnorm.backward_reduce}, …) and the argument, as {@link ErrorCases} requires of the fused
 * batchnorm. Case names: {@code batchnorm_parts.<plain|spatial>.<part>.rejects[<arg>=<what>]}.
 *
 * <p>Shapes: plain x [N,C] = [4,3]; spatial x [N,C,H,W] = [2,3,2,2]; "rank" cases give the other layout's rank.
 */
final class BatchNormPartsErrorCases {
    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;
    private static final int C = 3;

    private BatchNormPartsErrorCases() {
    }

    /** One layout's shapes, op names and calls. */
    private record Layout(boolean spatial) {
        String id() {
            return spatial ? "spatial" : "plain";
        }

        /** The case's base name for {@code part}. */
        String base(String part) {
            return Op.BATCHNORM_PARTS.id() + "." + id() + "." + part;
        }

        /** The op in the message, as a regex. */
        String op(String part) {
            return (spatial ? "spatial_batchnorm\\." : "batchnorm\\.") + part;
        }

        /** x of C channels with {@code n} rows. */
        int[] x(int n) {
            return spatial ? new int[] {n, C, 2, 2} : new int[] {n, C};
        }

        /** x of {@code c} channels. */
        int[] xOfChannels(int c) {
            return spatial ? new int[] {2, c, 2, 2} : new int[] {4, c};
        }

        /** The other layout's rank: [4,3,1] for plain (rank 3), [4,3] for spatial (rank 2). */
        int[] wrongRank() {
            return spatial ? new int[] {4, C} : new int[] {4, C, 1};
        }

        /** Rows of the normal x. */
        int n() {
            return spatial ? 2 : 4;
        }

        /** Values per channel of the normal x: N·H·W or N. */
        long values() {
            return spatial ? 2L * 2 * 2 : 4;
        }

        Object localStats(Backend b, Tensor x) {
            return spatial ? b.spatialBatchNormLocalStats(x) : b.batchNormLocalStats(x);
        }

        NormResult normalize(Backend b, Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd) {
            return spatial ? b.spatialBatchNormNormalize(x, gamma, beta, mean, invstd)
                    : b.batchNormNormalize(x, gamma, beta, mean, invstd);
        }

        Object reduce(Backend b, Tensor dOut, NormCache cache) {
            return spatial ? b.spatialBatchNormBackwardReduce(dOut, cache) : b.batchNormBackwardReduce(dOut, cache);
        }

        Tensor elementwise(Backend b, Tensor dOut, NormCache cache, Tensor gamma, BatchNormGradSums sums,
                           long count) {
            return spatial ? b.spatialBatchNormBackwardElementwise(dOut, cache, gamma, sums, count)
                    : b.batchNormBackwardElementwise(dOut, cache, gamma, sums, count);
        }

        /** A valid normalize of x [n, C, …] with mean 0 and invstd 1 (its cache is a TRAIN one). */
        NormResult normalized(CaseContext ctx, Function<int[], Tensor> t) {
            return ctx.track(normalize(ctx.backend(), t.apply(x(n())), t.apply(new int[] {C}),
                    t.apply(new int[] {C}), new double[C], ones(C)));
        }
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> c = new ArrayList<>();
        for (Layout l : List.of(new Layout(false), new Layout(true))) {
            localStats(c, l);
            normalize(c, l);
            backwardReduce(c, l);
            backwardElementwise(c, l);
        }
        return c;
    }

    private static double[] ones(int n) {
        double[] a = new double[n];
        java.util.Arrays.fill(a, 1.0);
        return a;
    }

    // ================================================================================================ local stats

    private static void localStats(List<ConformanceCase> c, Layout l) {
        String base = l.base("local_stats");
        String op = l.op("local_stats");
        Op fam = Op.BATCHNORM_PARTS;
        c.add(error(base, fam, "x", "rank" + l.wrongRank().length, (ctx, t) -> ctx.expectError(IAE, op, "x", () ->
                l.localStats(ctx.backend(), t.apply(l.wrongRank())))));
        c.add(error(base, fam, "x", "null", (ctx, t) -> ctx.expectError(IAE, op, "x", () ->
                l.localStats(ctx.backend(), null))));
        c.add(error(base, fam, "x", "foreign", (ctx, t) -> ctx.expectError(IAE, op, "x", () ->
                l.localStats(ctx.backend(), foreign(Shape.of(l.x(l.n())))))));
        c.add(error(base, fam, "x", "closed", (ctx, t) -> {
            Tensor x = t.apply(l.x(l.n()));
            x.close();
            ctx.expectError(ISE, op, "x", () -> l.localStats(ctx.backend(), x));
        }));
    }

    // ================================================================================================== normalize

    private static void normalize(List<ConformanceCase> c, Layout l) {
        String base = l.base("normalize");
        String op = l.op("normalize");
        Op fam = Op.BATCHNORM_PARTS;
        int[] cs = {C};
        c.add(error(base, fam, "x", "rank" + l.wrongRank().length, (ctx, t) -> ctx.expectError(IAE, op, "x", () ->
                l.normalize(ctx.backend(), t.apply(l.wrongRank()), t.apply(cs), t.apply(cs), new double[C],
                        ones(C)))));
        c.add(error(base, fam, "gamma", "shape[C+1]", (ctx, t) -> ctx.expectError(IAE, op, "gamma", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(new int[] {C + 1}), t.apply(cs),
                        new double[C], ones(C)))));
        c.add(error(base, fam, "beta", "shape[C-1]", (ctx, t) -> ctx.expectError(IAE, op, "beta", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), t.apply(new int[] {C - 1}),
                        new double[C], ones(C)))));
        // x of C + 1 channels against γ, β, mean and invstd of C: γ is checked first
        c.add(error(base, fam, "x", "C+1", (ctx, t) -> ctx.expectError(IAE, op, "gamma", () ->
                l.normalize(ctx.backend(), t.apply(l.xOfChannels(C + 1)), t.apply(cs), t.apply(cs), new double[C],
                        ones(C)))));
        c.add(error(base, fam, "mean", "length[C+1]", (ctx, t) -> ctx.expectError(IAE, op, "mean", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), t.apply(cs), new double[C + 1],
                        ones(C)))));
        c.add(error(base, fam, "mean", "null", (ctx, t) -> ctx.expectError(IAE, op, "mean", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), t.apply(cs), null, ones(C)))));
        c.add(error(base, fam, "invstd", "length[C-1]", (ctx, t) -> ctx.expectError(IAE, op, "invstd", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), t.apply(cs), new double[C],
                        ones(C - 1)))));
        // invstd = 1/√(var + ε) is > 0 and finite; a negative one would flip x̂, a zero one flatten it
        for (double bad : new double[] {-1, 0, Double.POSITIVE_INFINITY}) {
            c.add(error(base, fam, "invstd", bad, (ctx, t) -> ctx.expectError(IAE, op, "invstd", () -> {
                double[] invstd = ones(C);
                invstd[1] = bad;
                return l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), t.apply(cs), new double[C],
                        invstd);
            })));
        }
        c.add(error(base, fam, "gamma", "foreign", (ctx, t) -> ctx.expectError(IAE, op, "gamma", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), foreign(Shape.of(C)), t.apply(cs), new double[C],
                        ones(C)))));
        c.add(error(base, fam, "beta", "null", (ctx, t) -> ctx.expectError(IAE, op, "beta", () ->
                l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), null, new double[C], ones(C)))));
        c.add(error(base, fam, "x", "closed", (ctx, t) -> {
            Tensor x = t.apply(l.x(l.n()));
            x.close();
            ctx.expectError(ISE, op, "x", () -> l.normalize(ctx.backend(), x, t.apply(cs), t.apply(cs),
                    new double[C], ones(C)));
        }));
    }

    // =========================================================================================== backward reduce

    private static void backwardReduce(List<ConformanceCase> c, Layout l) {
        String base = l.base("backward_reduce");
        String op = l.op("backward_reduce");
        Op fam = Op.BATCHNORM_PARTS;
        c.add(error(base, fam, "dOut", "shape[N+1]", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "dOut", () -> l.reduce(ctx.backend(), t.apply(l.x(l.n() + 1)), r.cache()));
        }));
        c.add(error(base, fam, "dOut", "foreign", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "dOut", () -> l.reduce(ctx.backend(), foreign(Shape.of(l.x(l.n()))),
                    r.cache()));
        }));
        c.add(error(base, fam, "cache", "null", (ctx, t) -> ctx.expectError(IAE, op, "cache", () ->
                l.reduce(ctx.backend(), t.apply(l.x(l.n())), null))));
        // the cache of the other layout's batchnorm: plain gets a spatial one, spatial a plain one
        Layout other = new Layout(!l.spatial());
        c.add(error(base, fam, "cache", other.id(), (ctx, t) -> {
            NormResult r = other.normalized(ctx, t);
            ctx.expectError(IAE, op, "cache", () -> l.reduce(ctx.backend(), t.apply(other.x(other.n())),
                    r.cache()));
        }));
        c.add(error(base, fam, "cache", "layernorm", (ctx, t) -> {
            NormResult ln = ctx.track(ctx.backend().layerNormForward(t.apply(new int[] {4, C}),
                    t.apply(new int[] {C}), t.apply(new int[] {C}), 1e-5f));
            ctx.expectError(IAE, op, "cache", () -> l.reduce(ctx.backend(), t.apply(new int[] {4, C}),
                    ln.cache()));
        }));
        c.add(error(base, fam, "cache", "closed", (ctx, t) -> {
            NormResult r = l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(new int[] {C}),
                    t.apply(new int[] {C}), new double[C], ones(C));
            NormCache cache = r.cache();
            r.close();
            ctx.expectError(ISE, op, List.of("cache", "cache.xhat", "cache.mean", "cache.rstd"), () ->
                    l.reduce(ctx.backend(), t.apply(l.x(l.n())), cache));
        }));
    }

    // ======================================================================================= backward elementwise

    private static void backwardElementwise(List<ConformanceCase> c, Layout l) {
        String base = l.base("backward_elementwise");
        String op = l.op("backward_elementwise");
        Op fam = Op.BATCHNORM_PARTS;
        int[] cs = {C};
        BatchNormGradSums sums = BatchNormGradSums.zeros(C);
        c.add(error(base, fam, "dOut", "shape[N-1]", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "dOut", () -> l.elementwise(ctx.backend(), t.apply(l.x(l.n() - 1)), r.cache(),
                    t.apply(cs), sums, 2 * l.values()));
        }));
        c.add(error(base, fam, "dOut", "closed", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            Tensor dOut = t.apply(l.x(l.n()));
            dOut.close();
            ctx.expectError(ISE, op, "dOut", () -> l.elementwise(ctx.backend(), dOut, r.cache(), t.apply(cs), sums,
                    2 * l.values()));
        }));
        c.add(error(base, fam, "gamma", "shape[C+1]", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "gamma", () -> l.elementwise(ctx.backend(), t.apply(l.x(l.n())), r.cache(),
                    t.apply(new int[] {C + 1}), sums, 2 * l.values()));
        }));
        c.add(error(base, fam, "gamma", "foreign", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "gamma", () -> l.elementwise(ctx.backend(), t.apply(l.x(l.n())), r.cache(),
                    foreign(Shape.of(C)), sums, 2 * l.values()));
        }));
        c.add(error(base, fam, "global", "null", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "global", () -> l.elementwise(ctx.backend(), t.apply(l.x(l.n())), r.cache(),
                    t.apply(cs), null, 2 * l.values()));
        }));
        c.add(error(base, fam, "global", "channels[C+1]", (ctx, t) -> {
            NormResult r = l.normalized(ctx, t);
            ctx.expectError(IAE, op, "global", () -> l.elementwise(ctx.backend(), t.apply(l.x(l.n())), r.cache(),
                    t.apply(cs), BatchNormGradSums.zeros(C + 1), 2 * l.values()));
        }));
        // the whole batch's count is at least this part's values per channel (and so at least 1)
        for (long delta : new long[] {1, l.values(), l.values() + 1}) {
            String what = delta == 1 ? "values-1" : String.valueOf(l.values() - delta);
            c.add(error(base, fam, "count", what, (ctx, t) -> {
                NormResult r = l.normalized(ctx, t);
                ctx.expectError(IAE, op, "count", () -> l.elementwise(ctx.backend(), t.apply(l.x(l.n())),
                        r.cache(), t.apply(cs), sums, l.values() - delta));
            }));
        }
        c.add(error(base, fam, "cache", "mode=EVAL", (ctx, t) -> {
            // the fused EVAL forward's cache: its statistics are constants, so the parts' dX does not apply
            Backend b = ctx.backend();
            Tensor x = t.apply(l.x(l.n()));
            Tensor g = t.apply(cs);
            BatchNormParams p = new BatchNormParams(1e-5f, 0.9f, false);
            NormResult r = ctx.track(l.spatial()
                    ? b.spatialBatchNormForward(x, g, t.apply(cs), t.apply(cs), t.apply(cs), p, Mode.EVAL)
                    : b.batchNormForward(x, g, t.apply(cs), t.apply(cs), t.apply(cs), p, Mode.EVAL));
            ctx.expectError(IAE, op, "cache", () -> l.elementwise(b, t.apply(l.x(l.n())), r.cache(), g, sums,
                    2 * l.values()));
        }));
        c.add(error(base, fam, "cache", "closed", (ctx, t) -> {
            NormResult r = l.normalize(ctx.backend(), t.apply(l.x(l.n())), t.apply(cs), t.apply(cs), new double[C],
                    ones(C));
            NormCache cache = r.cache();
            r.close();
            ctx.expectError(ISE, op, List.of("cache", "cache.xhat", "cache.mean", "cache.rstd"), () ->
                    l.elementwise(ctx.backend(), t.apply(l.x(l.n())), cache, t.apply(cs), sums, 2 * l.values()));
        }));
        if (!l.spatial()) {
            // a replica's cache handed to another replica's backend: the cache of another instance of the backend
            c.add(error(base, fam, "cache", "another_instance", (ctx, t) -> {
                Backend other = ctx.newBackend();
                if (other == null) {
                    return;
                }
                Shape xs = Shape.of(l.x(l.n()));
                Shape fs = Shape.of(C);
                NormResult r = ctx.track(l.normalize(other, other.upload(ctx.normal(xs.size(), 0, 1), xs),
                        other.upload(ctx.uniform(C, 0.5, 1.5), fs), other.zeros(fs), new double[C], ones(C)));
                ctx.expectError(IAE, op, List.of("cache", "cache.xhat", "cache.mean", "cache.rstd"), () ->
                        l.elementwise(ctx.backend(), t.apply(l.x(l.n())), r.cache(), t.apply(cs), sums,
                                2 * l.values()));
            }));
        }
    }
}
