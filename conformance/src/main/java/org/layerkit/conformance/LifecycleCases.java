package org.layerkit.conformance;

import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * What happens around a backend's life, on a second instance of the backend that the case closes
 * ({@link CaseContext#newBackend()}): closing a backend releases every tensor it still holds, and each of them
 * refuses use afterwards with an {@link IllegalStateException} that says its backend is closed.
 */
final class LifecycleCases {
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;

    private LifecycleCases() {
    }

    static List<ConformanceCase> all() {
        return List.of(ConformanceCase.builder("elementwise.backend_closed", Op.ELEMENTWISE).param("tensors", "refused")
                .shape(6, 5).tolerance(Tolerance.EXACT).check(LifecycleCases::closedBackendRefusesItsTensors));
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
