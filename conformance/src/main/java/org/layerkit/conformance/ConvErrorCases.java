package org.layerkit.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.layerkit.api.Conv2dCache;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Op;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Bad arguments of conv2d, the pools and spatial dropout: each must throw {@link IllegalArgumentException} (closed
 * tensors and caches {@link IllegalStateException}) with the message {@code "<op>: <arg> expected …, got …"} naming
 * the op and the argument, as {@link ErrorCases} requires of the other ops.
 */
final class ConvErrorCases {
    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;
    private static final Conv2dParams P1 = Conv2dParams.of(1, 1);

    private ConvErrorCases() {
    }

    @FunctionalInterface
    private interface ErrorCheck {
        void verify(CaseContext ctx, Function<int[], Tensor> t) throws Exception;
    }

    private static ConformanceCase error(String base, Op op, String what, Object value, ErrorCheck check) {
        return ConformanceCase.builder(base + ".rejects", op).param(what, value).tolerance(Tolerance.EXACT)
                .check(ctx -> check.verify(ctx, dims -> ctx.upload(ctx.uniform(Shape.of(dims).size(), 0.5, 1.5),
                        Shape.of(dims))));
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> c = new ArrayList<>();
        conv(c);
        maxPool(c);
        avgPool(c);
        spatialDropout(c);
        return c;
    }

    private static int[] d(int... dims) {
        return dims;
    }

    // ===================================================================================================== conv2d

    private static void conv(List<ConformanceCase> c) {
        String fwd = "conv2d\\.forward";
        String base = "conv2d.forward";
        Op op = Op.CONV2D;
        c.add(error(base, op, "x", "rank3", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().conv2dForward(t.apply(d(3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)), P1))));
        c.add(error(base, op, "w", "rank2", (ctx, t) -> ctx.expectError(IAE, fwd, "w", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 27)), t.apply(d(2)), P1))));
        c.add(error(base, op, "w", "C+1", (ctx, t) -> ctx.expectError(IAE, fwd, "w", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 4, 3, 3)), t.apply(d(2)), P1))));
        c.add(error(base, op, "bias", "shape[F+1]", (ctx, t) -> ctx.expectError(IAE, fwd, "bias", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(3)), P1))));
        c.add(error(base, op, "bias", "rank2", (ctx, t) -> ctx.expectError(IAE, fwd, "bias", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(1, 2)), P1))));
        c.add(error(base, op, "params", "null", (ctx, t) -> ctx.expectError(IAE, fwd, "params", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)), null))));
        c.add(error(base, op, "stride", "0", (ctx, t) -> ctx.expectError(IAE, fwd, "stride", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)),
                        Conv2dParams.of(0, 1)))));
        c.add(error(base, op, "stride", "1x-1", (ctx, t) -> ctx.expectError(IAE, fwd, "stride", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)),
                        Conv2dParams.of(1, -1, 0, 0)))));
        c.add(error(base, op, "padding", "-1", (ctx, t) -> ctx.expectError(IAE, fwd, "padding", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)),
                        Conv2dParams.of(1, -1)))));
        c.add(error(base, op, "dilation", "2", (ctx, t) -> ctx.expectError(IAE, fwd, "dilation", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 8, 8)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)),
                        new Conv2dParams(1, 1, 0, 0, 2, 2, 1)))));
        c.add(error(base, op, "groups", "3", (ctx, t) -> ctx.expectError(IAE, fwd, "groups", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 3, 8, 8)), t.apply(d(3, 3, 3, 3)), t.apply(d(3)),
                        new Conv2dParams(1, 1, 0, 0, 1, 1, 3)))));
        c.add(error(base, op, "K", "larger_than_padded_input", (ctx, t) -> ctx.expectError(IAE, fwd, "w", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 1, 4, 4)), t.apply(d(2, 1, 7, 7)), t.apply(d(2)), P1))));
        c.add(error(base, op, "KW", "larger_than_padded_W", (ctx, t) -> ctx.expectError(IAE, fwd, "w", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 1, 9, 2)), t.apply(d(2, 1, 3, 3)), null,
                        Conv2dParams.of(1, 0)))));
        c.add(error(base, op, "output", "above_2^31", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().conv2dForward(t.apply(d(1, 1, 1, 1)), t.apply(d(1, 1, 1, 1)), null,
                        Conv2dParams.of(1, 1 << 30)))));
        c.add(error(base, op, "x", "foreign", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().conv2dForward(ErrorCases.foreign(Shape.of(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)),
                        t.apply(d(2)), P1))));
        c.add(error(base, op, "w", "closed", (ctx, t) -> {
            Tensor w = t.apply(d(2, 3, 3, 3));
            w.close();
            ctx.expectError(ISE, fwd, "w", () -> ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), w,
                    t.apply(d(2)), P1));
        }));

        String bwd = "conv2d\\.backward";
        String bbase = "conv2d.backward";
        c.add(error(bbase, op, "cache", "null", (ctx, t) -> ctx.expectError(IAE, bwd, "cache", () ->
                ctx.backend().conv2dBackward(t.apply(d(1, 2, 6, 6)), null, t.apply(d(2, 3, 3, 3))))));
        c.add(error(bbase, op, "dOut", "shape[N,F,H'-1,W'-1]", (ctx, t) -> {
            Conv2dResult r = ctx.track(forward(ctx, t));
            ctx.expectError(IAE, bwd, "dOut", () ->
                    ctx.backend().conv2dBackward(t.apply(d(1, 2, 5, 5)), r.cache(), t.apply(d(2, 3, 3, 3))));
        }));
        c.add(error(bbase, op, "w", "shape[F,C,KH+2,KW+2]", (ctx, t) -> {
            Conv2dResult r = ctx.track(forward(ctx, t));
            ctx.expectError(IAE, bwd, "w", () ->
                    ctx.backend().conv2dBackward(t.apply(d(1, 2, 6, 6)), r.cache(), t.apply(d(2, 3, 5, 5))));
        }));
        c.add(error(bbase, op, "cache", "closed", (ctx, t) -> {
            Conv2dResult r = forward(ctx, t);
            Conv2dCache cache = r.cache();
            r.close();
            ctx.expectError(ISE, bwd, "cache", () ->
                    ctx.backend().conv2dBackward(t.apply(d(1, 2, 6, 6)), cache, t.apply(d(2, 3, 3, 3))));
        }));
        c.add(error(bbase, op, "cache", "foreign", (ctx, t) -> {
            Conv2dCache foreign = new Conv2dCache(Shape.of(1, 3, 6, 6), Shape.of(2, 3, 3, 3), true, P1,
                    new Conv2dCache.SavedTensor(ErrorCases.foreign(Shape.of(1, 3, 6, 6))));
            ctx.expectError(IAE, bwd, "cache", () ->
                    ctx.backend().conv2dBackward(t.apply(d(1, 2, 6, 6)), foreign, t.apply(d(2, 3, 3, 3))));
        }));
    }

    /** x [1,3,6,6], w [2,3,3,3], bias [2], stride 1, padding 1: out [1,2,6,6]. */
    private static Conv2dResult forward(CaseContext ctx, Function<int[], Tensor> t) {
        return ctx.backend().conv2dForward(t.apply(d(1, 3, 6, 6)), t.apply(d(2, 3, 3, 3)), t.apply(d(2)), P1);
    }

    // ================================================================================================== maxpool2d

    private static void maxPool(List<ConformanceCase> c) {
        String fwd = "maxpool2d\\.forward";
        String base = "maxpool2d.forward";
        Op op = Op.MAXPOOL2D;
        c.add(error(base, op, "x", "rank2", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().maxPool2dForward(t.apply(d(4, 4)), Pool2dParams.of(2, 2)))));
        c.add(error(base, op, "params", "null", (ctx, t) -> ctx.expectError(IAE, fwd, "params", () ->
                ctx.backend().maxPool2dForward(t.apply(d(1, 1, 4, 4)), null))));
        c.add(error(base, op, "kernel", "0", (ctx, t) -> ctx.expectError(IAE, fwd, "kernel", () ->
                ctx.backend().maxPool2dForward(t.apply(d(1, 1, 4, 4)), new Pool2dParams(0, 2, 1, 1)))));
        c.add(error(base, op, "stride", "0", (ctx, t) -> ctx.expectError(IAE, fwd, "stride", () ->
                ctx.backend().maxPool2dForward(t.apply(d(1, 1, 4, 4)), Pool2dParams.of(2, 0)))));
        c.add(error(base, op, "kernel", "larger_than_input", (ctx, t) -> ctx.expectError(IAE, fwd, "kernel", () ->
                ctx.backend().maxPool2dForward(t.apply(d(1, 1, 3, 5)), Pool2dParams.of(4, 1)))));
        c.add(error(base, op, "x", "closed", (ctx, t) -> {
            Tensor x = t.apply(d(1, 1, 4, 4));
            x.close();
            ctx.expectError(ISE, fwd, "x", () -> ctx.backend().maxPool2dForward(x, Pool2dParams.of(2, 2)));
        }));
        String bwd = "maxpool2d\\.backward";
        String bbase = "maxpool2d.backward";
        c.add(error(bbase, op, "cache", "null", (ctx, t) -> ctx.expectError(IAE, bwd, "cache", () ->
                ctx.backend().maxPool2dBackward(t.apply(d(1, 1, 2, 2)), null))));
        c.add(error(bbase, op, "dOut", "shape[N,C,H'+1,W'+1]", (ctx, t) -> {
            MaxPool2dResult r = ctx.track(ctx.backend().maxPool2dForward(t.apply(d(2, 3, 4, 4)),
                    Pool2dParams.of(2, 2)));
            ctx.expectError(IAE, bwd, "dOut", () -> ctx.backend().maxPool2dBackward(t.apply(d(2, 3, 3, 3)),
                    r.cache()));
        }));
        c.add(error(bbase, op, "cache", "closed", (ctx, t) -> {
            MaxPool2dResult r = ctx.backend().maxPool2dForward(t.apply(d(2, 3, 4, 4)), Pool2dParams.of(2, 2));
            r.close();
            ctx.expectError(ISE, bwd, "cache.argmax", () -> ctx.backend().maxPool2dBackward(t.apply(d(2, 3, 2, 2)),
                    r.cache()));
        }));
    }

    // ============================================================================================ global avg pool

    private static void avgPool(List<ConformanceCase> c) {
        Op op = Op.GLOBAL_AVGPOOL;
        c.add(error("global_avgpool.forward", op, "x", "rank2", (ctx, t) -> ctx.expectError(IAE,
                "global_avgpool\\.forward", "x", () -> ctx.backend().globalAvgPoolForward(t.apply(d(4, 3))))));
        c.add(error("global_avgpool.forward", op, "x", "foreign", (ctx, t) -> ctx.expectError(IAE,
                "global_avgpool\\.forward", "x", () -> ctx.backend().globalAvgPoolForward(
                        ErrorCases.foreign(Shape.of(2, 3, 4, 4))))));
        String bwd = "global_avgpool\\.backward";
        c.add(error("global_avgpool.backward", op, "dOut", "rank4", (ctx, t) -> ctx.expectError(IAE, bwd, "dOut",
                () -> ctx.backend().globalAvgPoolBackward(t.apply(d(2, 3, 1, 1)), Shape.of(2, 3, 4, 4)))));
        c.add(error("global_avgpool.backward", op, "inputShape", "null", (ctx, t) -> ctx.expectError(IAE, bwd,
                "inputShape", () -> ctx.backend().globalAvgPoolBackward(t.apply(d(2, 3)), null))));
        c.add(error("global_avgpool.backward", op, "inputShape", "C+1", (ctx, t) -> ctx.expectError(IAE, bwd,
                "inputShape", () -> ctx.backend().globalAvgPoolBackward(t.apply(d(2, 3)), Shape.of(2, 4, 5, 5)))));
        c.add(error("global_avgpool.backward", op, "inputShape", "rank2", (ctx, t) -> ctx.expectError(IAE, bwd,
                "inputShape", () -> ctx.backend().globalAvgPoolBackward(t.apply(d(2, 3)), Shape.of(2, 3)))));
    }

    // ============================================================================================ spatial dropout

    private static void spatialDropout(List<ConformanceCase> c) {
        Op op = Op.SPATIAL_DROPOUT;
        String fwd = "spatial_dropout\\.forward";
        String base = "spatial_dropout.forward";
        c.add(error(base, op, "x", "rank2", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().spatialDropoutForward(t.apply(d(4, 3)), new DropoutOptions(0.5, 1, 0), Mode.TRAIN))));
        for (double keep : new double[] {0, 1.5, Double.NaN}) {
            c.add(error(base, op, "keep", keep, (ctx, t) -> ctx.expectError(IAE, fwd, "keep", () ->
                    ctx.backend().spatialDropoutForward(t.apply(d(2, 3, 2, 2)), new DropoutOptions(keep, 1, 0),
                            Mode.TRAIN))));
        }
        c.add(error(base, op, "options", "null", (ctx, t) -> ctx.expectError(IAE, fwd, "options", () ->
                ctx.backend().spatialDropoutForward(t.apply(d(2, 3, 2, 2)), null, Mode.TRAIN))));
        c.add(error(base, op, "mode", "null", (ctx, t) -> ctx.expectError(IAE, fwd, "mode", () ->
                ctx.backend().spatialDropoutForward(t.apply(d(2, 3, 2, 2)), new DropoutOptions(0.5, 1, 0), null))));
        String bwd = "spatial_dropout\\.backward";
        String bbase = "spatial_dropout.backward";
        c.add(error(bbase, op, "mask", "rank4", (ctx, t) -> ctx.expectError(IAE, bwd, "mask", () ->
                ctx.backend().spatialDropoutBackward(t.apply(d(2, 3, 4, 4)), t.apply(d(2, 3, 1, 1))))));
        c.add(error(bbase, op, "dOut", "C+1", (ctx, t) -> {
            DropoutResult r = ctx.track(ctx.backend().spatialDropoutForward(t.apply(d(2, 3, 4, 4)),
                    new DropoutOptions(0.5, 1, 0), Mode.TRAIN));
            ctx.expectError(IAE, bwd, "dOut", () -> ctx.backend().spatialDropoutBackward(t.apply(d(2, 4, 4, 4)),
                    r.mask()));
        }));
        c.add(error(bbase, op, "dOut", "rank2", (ctx, t) -> ctx.expectError(IAE, bwd, "dOut", () ->
                ctx.backend().spatialDropoutBackward(t.apply(d(2, 3)), t.apply(d(2, 3))))));
    }
}
