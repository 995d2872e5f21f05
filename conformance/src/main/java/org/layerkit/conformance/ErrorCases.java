package org.layerkit.conformance;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.LossResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Bad arguments: every one must throw {@link IllegalArgumentException} (a closed tensor
 * {@link IllegalStateException}) whose message follows {@code "<op>: <arg> expected <expected>, got <actual>"} and
 * names the op and the argument.
 */
final class ErrorCases {
    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;
    private static final BatchNormParams PARAMS = new BatchNormParams(1e-5f, 0.9f, false);

    private ErrorCases() {
    }

    /** A check that gets the context and a factory of random tensors of this backend. */
    @FunctionalInterface
    interface ErrorCheck {
        void verify(CaseContext ctx, Function<int[], Tensor> t) throws Exception;
    }

    /** The case {@code base.rejects[what=value]}: {@code check} with random tensors (ConvErrorCases uses it too). */
    static ConformanceCase error(String base, Op op, String what, Object value, ErrorCheck check) {
        return ConformanceCase.builder(base + ".rejects", op).param(what, value).tolerance(Tolerance.EXACT)
                .check(ctx -> check.verify(ctx, dims -> ctx.upload(ctx.uniform(Shape.of(dims).size(), 0.5, 1.5),
                        Shape.of(dims))));
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> c = new ArrayList<>();
        batchNorm(c);
        spatialBatchNorm(c);
        layerNorm(c);
        groupNorm(c);
        dropout(c);
        training(c);
        return c;
    }

    // ================================================================================================== batchnorm

    private static void batchNorm(List<ConformanceCase> c) {
        String fwd = "batchnorm\\.forward";
        Op op = Op.BATCHNORM;
        for (float eps : new float[] {0f, -1e-5f, Float.NaN}) {
            c.add(error("batchnorm.forward", op, "eps", eps, (ctx, t) -> ctx.expectError(IAE, fwd, "eps", () ->
                    ctx.backend().batchNormForward(t.apply(new int[] {4, 3}), t.apply(new int[] {3}),
                            t.apply(new int[] {3}), t.apply(new int[] {3}), t.apply(new int[] {3}),
                            new BatchNormParams(eps, 0.9f, false), Mode.TRAIN))));
        }
        c.add(error("batchnorm.forward", op, "N", "1,mode=TRAIN", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                bn(ctx, t, new int[] {1, 5}, 5, 5, Mode.TRAIN))));
        c.add(error("batchnorm.forward", op, "gamma", "shape[D+1]", (ctx, t) -> ctx.expectError(IAE, fwd, "gamma",
                () -> bn(ctx, t, new int[] {4, 5}, 6, 5, Mode.TRAIN))));
        c.add(error("batchnorm.forward", op, "runningVar", "shape[D-1]", (ctx, t) -> ctx.expectError(IAE, fwd,
                "runningVar", () -> ctx.backend().batchNormForward(t.apply(new int[] {4, 5}), t.apply(new int[] {5}),
                        t.apply(new int[] {5}), t.apply(new int[] {5}), t.apply(new int[] {4}), PARAMS, Mode.EVAL))));
        c.add(error("batchnorm.forward", op, "x", "rank3", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                bn(ctx, t, new int[] {4, 5, 2}, 5, 5, Mode.TRAIN))));
        c.add(error("batchnorm.forward", op, "decay", 1.5, (ctx, t) -> ctx.expectError(IAE, fwd, "decay", () ->
                ctx.backend().batchNormForward(t.apply(new int[] {4, 3}), t.apply(new int[] {3}),
                        t.apply(new int[] {3}), t.apply(new int[] {3}), t.apply(new int[] {3}),
                        new BatchNormParams(1e-5f, 1.5f, false), Mode.TRAIN))));
        c.add(error("batchnorm.forward", op, "x", "foreign", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().batchNormForward(foreign(Shape.of(4, 3)), t.apply(new int[] {3}),
                        t.apply(new int[] {3}), t.apply(new int[] {3}), t.apply(new int[] {3}), PARAMS, Mode.TRAIN))));
        c.add(error("batchnorm.forward", op, "gamma", "foreign", (ctx, t) -> ctx.expectError(IAE, fwd, "gamma", () ->
                ctx.backend().batchNormForward(t.apply(new int[] {4, 3}), foreign(Shape.of(3)),
                        t.apply(new int[] {3}), t.apply(new int[] {3}), t.apply(new int[] {3}), PARAMS, Mode.TRAIN))));
        c.add(error("batchnorm.forward", op, "x", "closed", (ctx, t) -> {
            Tensor x = t.apply(new int[] {4, 3});
            x.close();
            ctx.expectError(ISE, fwd, "x", () -> ctx.backend().batchNormForward(x, t.apply(new int[] {3}),
                    t.apply(new int[] {3}), t.apply(new int[] {3}), t.apply(new int[] {3}), PARAMS, Mode.TRAIN));
        }));
        c.add(error("batchnorm.backward", op, "cache", "layernorm", (ctx, t) -> {
            NormResult ln = ctx.track(ctx.backend().layerNormForward(t.apply(new int[] {4, 3}),
                    t.apply(new int[] {3}), t.apply(new int[] {3}), 1e-5f));
            ctx.expectError(IAE, "batchnorm\\.backward", "cache", () ->
                    ctx.backend().batchNormBackward(t.apply(new int[] {4, 3}), ln.cache(), t.apply(new int[] {3})));
        }));
        c.add(error("batchnorm.backward", op, "dOut", "shape[N+1,D]", (ctx, t) -> {
            NormResult r = ctx.track(bn(ctx, t, new int[] {4, 3}, 3, 3, Mode.TRAIN));
            ctx.expectError(IAE, "batchnorm\\.backward", "dOut", () ->
                    ctx.backend().batchNormBackward(t.apply(new int[] {5, 3}), r.cache(), t.apply(new int[] {3})));
        }));
        c.add(error("batchnorm.backward", op, "cache", "closed", (ctx, t) -> {
            NormResult r = bn(ctx, t, new int[] {4, 3}, 3, 3, Mode.TRAIN);
            NormCache cache = r.cache();
            r.close();
            ctx.expectError(ISE, "batchnorm\\.backward", List.of("cache", "cache.xhat", "cache.mean", "cache.rstd"), () ->
                    ctx.backend().batchNormBackward(t.apply(new int[] {4, 3}), cache, t.apply(new int[] {3})));
        }));
    }

    /** A batch-norm forward with x of {@code xDims}, γ of [g], β and running stats of [s]. */
    private static NormResult bn(CaseContext ctx, Function<int[], Tensor> t, int[] xDims, int g, int s, Mode mode) {
        return ctx.backend().batchNormForward(t.apply(xDims), t.apply(new int[] {g}), t.apply(new int[] {s}),
                t.apply(new int[] {s}), t.apply(new int[] {s}), PARAMS, mode);
    }

    // ========================================================================================== spatial batchnorm

    private static void spatialBatchNorm(List<ConformanceCase> c) {
        String fwd = "spatial_batchnorm\\.forward";
        Op op = Op.SPATIAL_BATCHNORM;
        c.add(error("spatial_batchnorm.forward", op, "x", "rank2", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                sbn(ctx, t, new int[] {4, 3}, 3, 1e-5f, Mode.TRAIN))));
        c.add(error("spatial_batchnorm.forward", op, "NHW", "1,mode=TRAIN", (ctx, t) -> ctx.expectError(IAE, fwd,
                "x", () -> sbn(ctx, t, new int[] {1, 3, 1, 1}, 3, 1e-5f, Mode.TRAIN))));
        c.add(error("spatial_batchnorm.forward", op, "eps", 0f, (ctx, t) -> ctx.expectError(IAE, fwd, "eps", () ->
                sbn(ctx, t, new int[] {2, 3, 2, 2}, 3, 0f, Mode.TRAIN))));
        c.add(error("spatial_batchnorm.forward", op, "beta", "shape[C+1]", (ctx, t) -> ctx.expectError(IAE, fwd,
                "beta", () -> ctx.backend().spatialBatchNormForward(t.apply(new int[] {2, 3, 2, 2}),
                        t.apply(new int[] {3}), t.apply(new int[] {4}), t.apply(new int[] {3}), t.apply(new int[] {3}),
                        PARAMS, Mode.TRAIN))));
        c.add(error("spatial_batchnorm.backward", op, "cache", "batchnorm", (ctx, t) -> {
            NormResult r = ctx.track(bn(ctx, t, new int[] {4, 3}, 3, 3, Mode.TRAIN));
            ctx.expectError(IAE, "spatial_batchnorm\\.backward", "cache", () -> ctx.backend()
                    .spatialBatchNormBackward(t.apply(new int[] {4, 3}), r.cache(), t.apply(new int[] {3})));
        }));
    }

    private static NormResult sbn(CaseContext ctx, Function<int[], Tensor> t, int[] xDims, int c, float eps,
                                  Mode mode) {
        return ctx.backend().spatialBatchNormForward(t.apply(xDims), t.apply(new int[] {c}), t.apply(new int[] {c}),
                t.apply(new int[] {c}), t.apply(new int[] {c}), new BatchNormParams(eps, 0.9f, false), mode);
    }

    // ================================================================================================== layernorm

    private static void layerNorm(List<ConformanceCase> c) {
        String fwd = "layernorm\\.forward";
        Op op = Op.LAYERNORM;
        c.add(error("layernorm.forward", op, "eps", 0f, (ctx, t) -> ctx.expectError(IAE, fwd, "eps", () ->
                ctx.backend().layerNormForward(t.apply(new int[] {4, 3}), t.apply(new int[] {3}),
                        t.apply(new int[] {3}), 0f))));
        c.add(error("layernorm.forward", op, "gamma", "shape[N]", (ctx, t) -> ctx.expectError(IAE, fwd, "gamma", () ->
                ctx.backend().layerNormForward(t.apply(new int[] {4, 3}), t.apply(new int[] {4}),
                        t.apply(new int[] {3}), 1e-5f))));
        c.add(error("layernorm.forward", op, "x", "rank4", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().layerNormForward(t.apply(new int[] {2, 3, 2, 2}), t.apply(new int[] {3}),
                        t.apply(new int[] {3}), 1e-5f))));
        c.add(error("layernorm.forward", op, "beta", "foreign", (ctx, t) -> ctx.expectError(IAE, fwd, "beta", () ->
                ctx.backend().layerNormForward(t.apply(new int[] {4, 3}), t.apply(new int[] {3}),
                        foreign(Shape.of(3)), 1e-5f))));
        c.add(error("layernorm.backward", op, "cache", "groupnorm", (ctx, t) -> {
            NormResult r = ctx.track(ctx.backend().groupNormForward(t.apply(new int[] {2, 4, 1, 1}),
                    t.apply(new int[] {4}), t.apply(new int[] {4}), 2, 1e-5f));
            ctx.expectError(IAE, "layernorm\\.backward", "cache", () -> ctx.backend().layerNormBackward(
                    t.apply(new int[] {2, 4, 1, 1}), r.cache(), t.apply(new int[] {4})));
        }));
        c.add(error("layernorm.backward", op, "gamma", "shape[D+1]", (ctx, t) -> {
            NormResult r = ctx.track(ctx.backend().layerNormForward(t.apply(new int[] {4, 3}),
                    t.apply(new int[] {3}), t.apply(new int[] {3}), 1e-5f));
            ctx.expectError(IAE, "layernorm\\.backward", "gamma", () -> ctx.backend().layerNormBackward(
                    t.apply(new int[] {4, 3}), r.cache(), t.apply(new int[] {4})));
        }));
    }

    // ================================================================================================== groupnorm

    private static void groupNorm(List<ConformanceCase> c) {
        String fwd = "groupnorm\\.forward";
        Op op = Op.GROUPNORM;
        for (int g : new int[] {4, 0, 12}) {
            c.add(error("groupnorm.forward", op, "G", g + ",C=6", (ctx, t) -> ctx.expectError(IAE, fwd, "groups",
                    () -> ctx.backend().groupNormForward(t.apply(new int[] {2, 6, 2, 2}), t.apply(new int[] {6}),
                            t.apply(new int[] {6}), g, 1e-5f))));
        }
        c.add(error("groupnorm.forward", op, "eps", -1f, (ctx, t) -> ctx.expectError(IAE, fwd, "eps", () ->
                ctx.backend().groupNormForward(t.apply(new int[] {2, 6, 2, 2}), t.apply(new int[] {6}),
                        t.apply(new int[] {6}), 3, -1f))));
        c.add(error("groupnorm.forward", op, "x", "rank2", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().groupNormForward(t.apply(new int[] {2, 6}), t.apply(new int[] {6}),
                        t.apply(new int[] {6}), 3, 1e-5f))));
        c.add(error("groupnorm.backward", op, "cache", "layernorm", (ctx, t) -> {
            NormResult r = ctx.track(ctx.backend().layerNormForward(t.apply(new int[] {4, 3}),
                    t.apply(new int[] {3}), t.apply(new int[] {3}), 1e-5f));
            ctx.expectError(IAE, "groupnorm\\.backward", "cache", () -> ctx.backend().groupNormBackward(
                    t.apply(new int[] {4, 3}), r.cache(), t.apply(new int[] {3})));
        }));
    }

    // ==================================================================================================== dropout

    private static void dropout(List<ConformanceCase> c) {
        String fwd = "dropout\\.forward";
        for (double keep : new double[] {0, 1.5, -0.1, Double.NaN}) {
            c.add(error("dropout.forward", Op.DROPOUT, "keep", keep, (ctx, t) -> ctx.expectError(IAE, fwd, "keep", () ->
                    ctx.backend().dropoutForward(t.apply(new int[] {4, 3}), new DropoutOptions(keep, 1, 0),
                            Mode.TRAIN))));
        }
        c.add(error("dropout.forward", Op.DROPOUT, "x", "foreign", (ctx, t) -> ctx.expectError(IAE, fwd, "x", () ->
                ctx.backend().dropoutForward(foreign(Shape.of(4, 3)), new DropoutOptions(0.5, 1, 0), Mode.TRAIN))));
        c.add(error("dropout.forward", Op.DROPOUT, "x", "closed", (ctx, t) -> {
            Tensor x = t.apply(new int[] {4, 3});
            x.close();
            ctx.expectError(ISE, fwd, "x", () ->
                    ctx.backend().dropoutForward(x, new DropoutOptions(0.5, 1, 0), Mode.TRAIN));
        }));
        c.add(error("dropout.backward", Op.DROPOUT, "dOut", "shape[3,4]", (ctx, t) -> ctx.expectError(IAE,
                "dropout\\.backward", "dOut", () -> ctx.backend().dropoutBackward(t.apply(new int[] {3, 4}),
                        t.apply(new int[] {4, 3})))));
    }

    // ============================================================================================== training ops

    private static void training(List<ConformanceCase> c) {
        c.add(error("gemm", Op.GEMM, "K", "mismatch", (ctx, t) -> ctx.expectError(IAE, "gemm", "b", () -> {
            ctx.backend().gemm(t.apply(new int[] {3, 4}), false, t.apply(new int[] {5, 2}), false,
                    t.apply(new int[] {3, 2}), 1f, 0f);
            return null;
        })));
        c.add(error("gemm", Op.GEMM, "c", "shape[N,M]", (ctx, t) -> ctx.expectError(IAE, "gemm", "c", () -> {
            ctx.backend().gemm(t.apply(new int[] {3, 4}), false, t.apply(new int[] {4, 2}), false,
                    t.apply(new int[] {2, 3}), 1f, 0f);
            return null;
        })));
        c.add(error("gemm", Op.GEMM, "a", "rank1", (ctx, t) -> ctx.expectError(IAE, "gemm", "a", () -> {
            ctx.backend().gemm(t.apply(new int[] {4}), false, t.apply(new int[] {4, 2}), false,
                    t.apply(new int[] {1, 2}), 1f, 0f);
            return null;
        })));
        c.add(error("gemm", Op.GEMM, "c", "foreign", (ctx, t) -> ctx.expectError(IAE, "gemm", "c", () -> {
            ctx.backend().gemm(t.apply(new int[] {3, 4}), false, t.apply(new int[] {4, 2}), false,
                    foreign(Shape.of(3, 2)), 1f, 0f);
            return null;
        })));
        c.add(error("gemm", Op.GEMM, "a", "closed", (ctx, t) -> {
            Tensor a = t.apply(new int[] {3, 4});
            a.close();
            ctx.expectError(ISE, "gemm", "a", () -> {
                ctx.backend().gemm(a, false, t.apply(new int[] {4, 2}), false, t.apply(new int[] {3, 2}), 1f, 0f);
                return null;
            });
        }));
        c.add(error("bias.add", Op.BIAS, "bias", "shape[D+1]", (ctx, t) -> ctx.expectError(IAE, "bias\\.add", "bias",
                () -> {
                    ctx.backend().addBias(t.apply(new int[] {3, 4}), t.apply(new int[] {5}));
                    return null;
                })));
        String sce = "softmax_cross_entropy";
        c.add(error(sce, Op.SOFTMAX_CROSS_ENTROPY, "labels", "shape[N+1]", (ctx, t) -> ctx.expectError(IAE, sce,
                "labels", () -> ctx.backend().softmaxCrossEntropy(t.apply(new int[] {3, 4}),
                        ctx.upload(new float[] {0, 1, 2, 3}, Shape.of(4))))));
        c.add(error(sce, Op.SOFTMAX_CROSS_ENTROPY, "logits", "rank1", (ctx, t) -> ctx.expectError(IAE, sce,
                "logits", () -> ctx.backend().softmaxCrossEntropy(t.apply(new int[] {4}),
                        ctx.upload(new float[] {0, 1, 2, 3}, Shape.of(4))))));
        // a bad label is reported at the call or, where labels are checked on the device, at the next read of its
        // results (the loss); a backend that reports it at neither fails
        for (float bad : new float[] {4, -1, 1.5f}) {
            c.add(error(sce, Op.SOFTMAX_CROSS_ENTROPY, "label", bad + ",K=4", (ctx, t) -> ctx.expectError(IAE, sce,
                    "labels", () -> {
                        LossResult r = ctx.backend().softmaxCrossEntropy(t.apply(new int[] {3, 4}),
                                ctx.upload(new float[] {0, bad, 2}, Shape.of(3)));
                        try {
                            r.loss().toArray();
                        } catch (RuntimeException e) {
                            r.close();
                            throw e;
                        }
                        return r;
                    })));
        }
        c.add(error("relu.backward", Op.RELU, "dOut", "shape[3,4]", (ctx, t) -> ctx.expectError(IAE, "relu.*",
                List.of("dOut", "x"), () -> ctx.backend().reluBackward(t.apply(new int[] {3, 4}),
                        t.apply(new int[] {4, 3})))));
        c.add(error("relu.forward", Op.RELU, "x", "closed", (ctx, t) -> {
            Tensor x = t.apply(new int[] {4, 3});
            x.close();
            ctx.expectError(ISE, "relu.*", "x", () -> ctx.backend().relu(x));
        }));
        c.add(error("argmax", Op.ARGMAX, "x", "foreign", (ctx, t) -> ctx.expectError(IAE, "argmax.*", "x", () ->
                ctx.backend().argmax(foreign(Shape.of(4, 3))))));
        c.add(error("optimizer.sgd", Op.OPTIMIZER, "dw", "shape[3,4]", (ctx, t) -> ctx.expectError(IAE,
                "(?i)(optimizer\\.)?sgd.*", List.of("w", "dw"), () -> {
                    ctx.backend().sgd(t.apply(new int[] {4, 3}), t.apply(new int[] {3, 4}), 0.1f);
                    return null;
                })));
        c.add(error("optimizer.adam", Op.OPTIMIZER, "v", "shape[5]", (ctx, t) -> ctx.expectError(IAE,
                "(?i)(optimizer\\.)?adam.*", List.of("w", "v"), () -> {
                    ctx.backend().adam(t.apply(new int[] {4}), t.apply(new int[] {4}), t.apply(new int[] {4}),
                            t.apply(new int[] {5}), 1e-3f, 0.9f, 0.999f, 1e-8f, 1);
                    return null;
                })));
        c.add(error("elementwise.copy", Op.ELEMENTWISE, "dst", "shape[3,4]", (ctx, t) -> ctx.expectError(IAE,
                "(?i)(elementwise\\.)?copy.*", List.of("src", "dst"), () -> {
                    ctx.backend().copy(t.apply(new int[] {4, 3}), t.apply(new int[] {3, 4}));
                    return null;
                })));
        c.add(error("elementwise.axpy", Op.ELEMENTWISE, "y", "shape[12]", (ctx, t) -> ctx.expectError(IAE,
                "(?i)(elementwise\\.)?axpy.*", List.of("x", "y"), () -> {
                    ctx.backend().axpy(2f, t.apply(new int[] {4, 3}), t.apply(new int[] {12}));
                    return null;
                })));
        c.add(error("elementwise.axpy", Op.ELEMENTWISE, "x", "foreign", (ctx, t) -> ctx.expectError(IAE,
                "(?i)(elementwise\\.)?axpy.*", "x", () -> {
                    ctx.backend().axpy(2f, foreign(Shape.of(4, 3)), t.apply(new int[] {4, 3}));
                    return null;
                })));
        c.add(error("elementwise.upload", Op.ELEMENTWISE, "data", "length13,shape[3,4]", (ctx, t) ->
                ctx.expectError(IAE, "(?i)(elementwise\\.)?upload.*", List.of("data", "shape"), () ->
                        ctx.backend().upload(new float[13], Shape.of(3, 4)))));
    }

    // ========================================================================================= foreign test double

    /**
     * A tensor of another backend: a test double whose {@code backend()} is a different object (named
     * {@code conformance-foreign}) that implements nothing but {@code name()} and {@code device()}.
     */
    static Tensor foreign(Shape shape) {
        return new ForeignTensor(shape);
    }

    private static final Backend FOREIGN_BACKEND = (Backend) Proxy.newProxyInstance(ErrorCases.class.getClassLoader(),
            new Class<?>[] {Backend.class}, (proxy, method, args) -> switch (method.getName()) {
                case "name" -> "conformance-foreign";
                case "device" -> new DeviceInfo(0, "none", "layerkit conformance", "foreign test double", 0, 1, false);
                case "supports" -> false;
                case "close", "synchronize" -> null;
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                case "toString" -> "conformance-foreign backend";
                default -> throw new UnsupportedOperationException("the conformance kit's foreign test double "
                        + "implements no " + method.getName());
            });

    private record ForeignTensor(Shape shape) implements Tensor {
        @Override
        public Backend backend() {
            return FOREIGN_BACKEND;
        }

        @Override
        public float[] toArray() {
            return new float[shape.size()];
        }

        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public void close() {
        }
    }
}
