package org.layerkit.conformance;

import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * What happens around a backend's life, on a second instance of the backend that the case closes
 * ({@link CaseContext#newBackend()}): closing a backend releases every tensor it still holds, and each of them
 * refuses use afterwards with an {@link IllegalStateException} that says its backend is closed; so does every cache
 * (normalization, convolution, max pool) made on it.
 */
final class LifecycleCases {
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;

    private LifecycleCases() {
    }

    static List<ConformanceCase> all() {
        return List.of(ConformanceCase.builder("elementwise.backend_closed", Op.ELEMENTWISE).param("tensors", "refused")
                        .shape(6, 5).tolerance(Tolerance.EXACT).check(LifecycleCases::closedBackendRefusesItsTensors),
                ConformanceCase.builder("conv2d.backend_closed", Op.CONV2D).param("caches", "refused")
                        .shape(2, 3, 6, 6).tolerance(Tolerance.EXACT).check(LifecycleCases::closedBackendRefusesConvCaches),
                ConformanceCase.builder("maxpool2d.backend_closed", Op.MAXPOOL2D).param("caches", "refused")
                        .shape(2, 3, 4, 4).tolerance(Tolerance.EXACT).check(LifecycleCases::closedBackendRefusesPoolCaches));
    }

    /**
     * Tensors left open when their backend closes — an upload, a result, a normalization cache — are closed with it:
     * isClosed() is true, toArray() and every op refuse them naming the closed backend, closing them again is
     * harmless, and so is closing the backend twice; the backend refuses new tensors.
     */
    private static void closedBackendRefusesItsTensors(CaseContext ctx) {
        Backend b = ctx.newBackend();
        if (b == null) {
            return;
        }
        Shape s = Shape.of(6, 5);
        Shape f = Shape.of(5);
        Tensor x = b.upload(ctx.normal(s.size(), 0, 1), s);
        Tensor gamma = b.upload(ctx.uniform(5, 0.5, 1.5), f);
        Tensor beta = b.zeros(f);
        Tensor runningMean = b.zeros(f);
        Tensor runningVar = b.zeros(f);
        NormResult bn = b.batchNormForward(x, gamma, beta, runningMean, runningVar,
                new BatchNormParams(1e-5f, 0.9f, false), Mode.TRAIN);
        Tensor y = b.relu(x);
        b.synchronize();

        b.close();

        ctx.check(b.isClosed(), "backend.isClosed(): expected true after close(), got false");
        for (Tensor t : new Tensor[] {x, gamma, y, bn.out(), runningMean}) {
            ctx.check(t.isClosed(), "a tensor " + t.shape() + " of the closed backend: expected isClosed() true, got "
                    + "false");
        }
        ctx.check(bn.cache().isClosed(), "a normalization cache of the closed backend: expected isClosed() true, got "
                + "false");
        expectClosedBackend(ctx, "toArray() of a result", y::toArray);
        expectClosedBackend(ctx, "toArray() of an upload", x::toArray);
        expectMessage(ctx, "toArray() of an upload", x::toArray, "tensor.toArray: tensor expected a tensor of an open "
                + "backend, got a tensor " + s + " of the closed backend '" + b.name() + "'");
        expectMessage(ctx, "relu of an upload", () -> b.relu(x), "relu.forward: x expected a tensor of an open backend, "
                + "got a tensor " + s + " of the closed backend '" + b.name() + "'");
        ctx.expectError(ISE, "relu\\.forward", "x", () -> b.relu(x));
        ctx.expectError(ISE, "batchnorm\\.backward", List.of("dOut", "gamma", "cache", "cache.xhat", "cache.mean",
                "cache.rstd"), () -> b.batchNormBackward(bn.out(), bn.cache(), gamma));
        ctx.expectError(ISE, "batchnorm\\.forward", "x", () -> b.batchNormForward(x, gamma, beta, runningMean,
                runningVar, new BatchNormParams(1e-5f, 0.9f, false), Mode.TRAIN));
        expectClosedBackend(ctx, "upload() on the closed backend", () -> b.upload(new float[] {1, 2}, Shape.of(2)));
        expectClosedBackend(ctx, "zeros() on the closed backend", () -> b.zeros(Shape.of(2)));
        try {
            x.close();
            y.close();
            bn.close();
            b.close();
        } catch (RuntimeException e) {
            ctx.fail("closing tensors of a closed backend, and the backend again: expected no error, got "
                    + CaseContext.describe(e));
        }
    }

    /**
     * A convolution's cache kept across the backend's close: the cache says it is closed, and the backward refuses it
     * (and its dOut and w, equally gone) with an IllegalStateException naming the closed backend; closing the cache
     * and its results again is harmless. The cache was made from an x the caller closed first (a cache that keeps x
     * pinned must let go of it with its backend too).
     */
    private static void closedBackendRefusesConvCaches(CaseContext ctx) {
        Backend b = ctx.newBackend();
        if (b == null) {
            return;
        }
        Shape xs = Shape.of(2, 3, 6, 6);
        Shape ws = Shape.of(4, 3, 3, 3);
        Tensor x = b.upload(ctx.normal(xs.size(), 0, 1), xs);
        Tensor w = b.upload(ctx.normal(ws.size(), 0, 0.3), ws);
        Conv2dResult r = b.conv2dForward(x, w, null, Conv2dParams.of(1, 1));
        x.close();
        b.synchronize();

        b.close();

        ctx.check(r.cache().isClosed(), "a conv2d cache of the closed backend: expected isClosed() true, got false");
        ctx.check(r.out().isClosed(), "a conv2d output of the closed backend: expected isClosed() true, got false");
        ctx.expectError(ISE, "conv2d\\.backward", List.of("cache", "dOut", "w"),
                () -> b.conv2dBackward(r.out(), r.cache(), w));
        expectClosedBackend(ctx, "conv2d.backward with a cache of the closed backend",
                () -> b.conv2dBackward(r.out(), r.cache(), w));
        closeQuietly(ctx, r, w, b);
    }

    /** The same for max pooling: the cache's argmax goes with the backend, and the backward refuses it. */
    private static void closedBackendRefusesPoolCaches(CaseContext ctx) {
        Backend b = ctx.newBackend();
        if (b == null) {
            return;
        }
        Shape xs = Shape.of(2, 3, 4, 4);
        Tensor x = b.upload(ctx.normal(xs.size(), 0, 1), xs);
        MaxPool2dResult r = b.maxPool2dForward(x, Pool2dParams.of(2, 2));
        b.synchronize();

        b.close();

        ctx.check(r.cache().isClosed(), "a maxpool2d cache of the closed backend: expected isClosed() true, got false");
        ctx.expectError(ISE, "maxpool2d\\.backward", List.of("cache.argmax", "dOut"),
                () -> b.maxPool2dBackward(r.out(), r.cache()));
        expectClosedBackend(ctx, "maxpool2d.backward with a cache of the closed backend",
                () -> b.maxPool2dBackward(r.out(), r.cache()));
        closeQuietly(ctx, r, x, b);
    }

    /** Closing what a closed backend made, and the backend, again: no error. */
    private static void closeQuietly(CaseContext ctx, AutoCloseable... all) {
        try {
            for (AutoCloseable c : all) {
                c.close();
            }
        } catch (Exception e) {
            ctx.fail("closing results of a closed backend, and the backend again: expected no error, got "
                    + CaseContext.describe(e));
        }
    }

    /** Requires an IllegalStateException with exactly {@code message} (the contract's wording, Backend.close()). */
    private static void expectMessage(CaseContext ctx, String what, CaseContext.Call call, String message) {
        try {
            Object r = call.call();
            if (r instanceof AutoCloseable c) {
                ctx.track(c);
            }
            ctx.fail(what + ": expected IllegalStateException \"" + message + "\", but the call returned normally");
        } catch (IllegalStateException e) {
            ctx.check(message.equals(e.getMessage()), what + ": expected the message \"" + message + "\", got \""
                    + e.getMessage() + "\"");
        } catch (Exception | AssertionError e) {
            ctx.fail(what + ": expected IllegalStateException \"" + message + "\", got " + CaseContext.describe(e));
        }
    }

    /** Requires an IllegalStateException whose message names the closed backend. */
    private static void expectClosedBackend(CaseContext ctx, String what, CaseContext.Call call) {
        try {
            Object r = call.call();
            if (r instanceof AutoCloseable c) {
                ctx.track(c);
            }
            ctx.fail(what + ": expected IllegalStateException naming the closed backend, but the call returned "
                    + "normally");
        } catch (IllegalStateException e) {
            String m = String.valueOf(e.getMessage());
            ctx.check(m.contains("closed backend"), what + ": expected a message naming the closed backend, got \""
                    + m + "\"");
        } catch (Exception | AssertionError e) {
            ctx.fail(what + ": expected IllegalStateException naming the closed backend, got "
                    + CaseContext.describe(e));
        }
    }
}
