package org.layerkit.conformance;

import java.util.ArrayList;
import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * {@link Backend#reshape}: the same elements under another shape, as a view of t's storage or as a copy, under the
 * storage-ownership rules of its javadoc, checked so that both a view and a copy pass:
 * <ul>
 *   <li>{@code elementwise.reshape.values}: row-major order kept, exactly; a reshape of a reshape too;</li>
 *   <li>{@code elementwise.reshape.ownership}: closing the result releases nothing of t (t stays open, its values
 *       intact); after t is closed the result either refuses use like a closed tensor (a view) or still holds t's
 *       values (a copy) — never other values;</li>
 *   <li>{@code batchnorm.reshape.cache_input}, {@code conv2d.reshape.cache_input}: a normalization or conv2d cache
 *       whose input x is a reshaped tensor keeps working after the caller closes both the result and t (a view's
 *       cache must keep t's storage: pins on a view pin its base), giving the bits of the same calls on an untouched
 *       copy;</li>
 *   <li>{@code batchnorm.reshape.write_after_forward}: an in-place write through a reshape of x after a forward on x
 *       either makes the backward refuse (the write counts as a write of x) or leaves its gradients those of the
 *       forward's input, bit for bit;</li>
 *   <li>{@code elementwise.reshape.backend_closed}: closing the backend closes the result with t;</li>
 *   <li>{@code elementwise.reshape.rejects}: another element count, a null shape and a closed t are refused by
 *       name.</li>
 * </ul>
 * None of these depends on the order of float sums: the test matrix runs them in the main run only.
 */
final class ReshapeCases {
    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;
    private static final BatchNormParams PARAMS = new BatchNormParams(1e-5f, 0.9f, false);

    private ReshapeCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> c = new ArrayList<>();
        int[][][] pairs = {
            {{2, 3, 4, 5}, {2, 60}},
            {{2, 60}, {2, 3, 4, 5}},
            {{7}, {1, 7, 1, 1}},
            {{3, 1, 5, 5}, {75}},
        };
        for (int[][] p : pairs) {
            Shape from = Shape.of(p[0]);
            Shape to = Shape.of(p[1]);
            c.add(ConformanceCase.builder("elementwise.reshape.values", Op.ELEMENTWISE).param("from", from)
                    .param("to", to).shape(p[0]).tolerance(Tolerance.EXACT)
                    .check(ctx -> keepsRowMajorOrder(ctx, from, to)));
        }
        c.add(ConformanceCase.builder("elementwise.reshape.ownership", Op.ELEMENTWISE).param("from", Shape.of(4, 6))
                .param("to", Shape.of(2, 12)).shape(4, 6).tolerance(Tolerance.EXACT).check(ReshapeCases::ownership));
        c.add(ConformanceCase.builder("batchnorm.reshape.cache_input", Op.BATCHNORM).param("N", 6).param("D", 10)
                .shape(6, 10).tolerance(Tolerance.EXACT).check(ReshapeCases::normCacheOfAReshapedInput));
        c.add(ConformanceCase.builder("conv2d.reshape.cache_input", Op.CONV2D).param("N", 2).param("C", 2)
                .param("H", 3).param("W", 3).shape(2, 18).tolerance(Tolerance.EXACT)
                .check(ReshapeCases::convCacheOfAReshapedInput));
        c.add(ConformanceCase.builder("batchnorm.reshape.write_after_forward", Op.BATCHNORM).param("N", 6)
                .param("D", 10).shape(6, 10).tolerance(Tolerance.EXACT)
                .check(ReshapeCases::writeThroughAReshapedTensorAfterAForward));
        c.add(ConformanceCase.builder("elementwise.reshape.backend_closed", Op.ELEMENTWISE).param("tensors", "refused")
                .shape(4, 6).tolerance(Tolerance.EXACT).check(ReshapeCases::closedBackendClosesTheResult));
        c.add(ErrorCases.error("elementwise.reshape", Op.ELEMENTWISE, "shape", "[5,5]", (ctx, t) ->
                ctx.expectError(IAE, "reshape", "shape", () -> ctx.backend().reshape(t.apply(new int[] {4, 6}),
                        Shape.of(5, 5)))));
        c.add(ErrorCases.error("elementwise.reshape", Op.ELEMENTWISE, "shape", "null", (ctx, t) ->
                ctx.expectError(IAE, "reshape", "shape", () -> ctx.backend().reshape(t.apply(new int[] {4, 6}),
                        null))));
        c.add(ErrorCases.error("elementwise.reshape", Op.ELEMENTWISE, "t", "closed", (ctx, t) -> {
            Tensor x = t.apply(new int[] {4, 6});
            x.close();
            ctx.expectError(ISE, "reshape", "t", () -> ctx.backend().reshape(x, Shape.of(24)));
        }));
        return c;
    }

    /** The elements in row-major order under the new shape, and so a reshape of the result back and on. */
    private static void keepsRowMajorOrder(CaseContext ctx, Shape from, Shape to) {
        Backend b = ctx.backend();
        float[] v = ctx.normal(from.size(), 0, 1);
        Tensor t = ctx.upload(v, from);
        Tensor r = ctx.track(b.reshape(t, to));
        ctx.expectIdentical("reshape(t, " + to + ")", r, to, v);
        Tensor back = ctx.track(b.reshape(r, from));
        ctx.expectIdentical("reshape(reshape(t), " + from + ")", back, from, v);
        Tensor flat = ctx.track(b.reshape(r, Shape.of(from.size())));
        ctx.expectIdentical("reshape(reshape(t), [" + from.size() + "])", flat, Shape.of(from.size()), v);
        // the result is an ordinary input of ops
        try (Tensor relu = b.relu(r)) {
            float[] expected = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                expected[i] = v[i] <= 0 ? 0 : v[i];
            }
            ctx.expectIdentical("relu(reshape(t))", relu, to, expected);
        }
        ctx.check(!t.isClosed() && !r.isClosed(), "reshape: expected t and its result open, got t closed "
                + t.isClosed() + ", result closed " + r.isClosed());
    }

    /**
     * Closing the result leaves t open with its values; after t is closed, the result is a closed view (isClosed()
     * true, toArray() and ops refuse it with IllegalStateException) or a copy with t's values.
     */
    private static void ownership(CaseContext ctx) {
        Backend b = ctx.backend();
        Shape s = Shape.of(4, 6);
        Shape to = Shape.of(2, 12);
        float[] v = ctx.normal(s.size(), 0, 1);
        Tensor t = ctx.upload(v, s);

        Tensor first = b.reshape(t, to);
        first.close();
        first.close(); // closing twice is harmless
        ctx.check(first.isClosed(), "reshape: a closed result expected isClosed() true, got false");
        ctx.check(!t.isClosed(), "reshape: closing the result expected t to stay open, got t closed");
        ctx.expectIdentical("t after its reshaped result was closed", t, s, v);
        try (Tensor relu = b.relu(t)) {
            ctx.check(relu.shape().equals(s), "relu(t) after its reshaped result was closed: expected shape " + s
                    + ", got " + relu.shape());
        }

        Tensor second = ctx.track(b.reshape(t, to));
        Tensor ofSecond = ctx.track(b.reshape(second, Shape.of(24)));
        t.close();
        for (Tensor r : new Tensor[] {second, ofSecond}) {
            String what = "a reshape" + (r == ofSecond ? " of a reshape" : "") + " of t after t was closed";
            if (r.isClosed()) {
                // a view: refuses use like a closed tensor
                expectRefused(ctx, what + ": toArray()", r::toArray);
                expectRefused(ctx, what + ": relu", () -> b.relu(r));
            } else {
                // a copy: still t's values, and usable
                ctx.expectIdentical(what + " (open: a copy)", r.toArray(), r.shape(), v);
                try (Tensor relu = b.relu(r)) {
                    ctx.check(relu.shape().equals(r.shape()), what + ": relu expected shape " + r.shape() + ", got "
                            + relu.shape());
                }
            }
        }
    }

    /**
     * A batchnorm forward on a reshaped x, then the caller closes the result and t: the backward still computes the
     * gradients of that x (the bits of the same calls on an untouched twin).
     */
    private static void normCacheOfAReshapedInput(CaseContext ctx) {
        Backend b = ctx.backend();
        Shape s = Shape.of(6, 10);
        float[] xv = ctx.normal(60, 0.5, 2);
        float[] dv = ctx.normal(60, 0, 1);
        Tensor gamma = ctx.upload(ctx.uniform(10, 0.5, 1.5), Shape.of(10));
        Tensor beta = ctx.upload(ctx.normal(10, 0, 1), Shape.of(10));
        Tensor dOut = ctx.upload(dv, s);
        float[][] expected = twinBatchNorm(ctx, xv, s, gamma, beta, dOut);

        Tensor t = b.upload(xv, Shape.of(60));
        Tensor x = b.reshape(t, s);
        NormResult r = ctx.track(b.batchNormForward(x, gamma, beta, ctx.track(b.zeros(Shape.of(10))),
                ctx.track(b.zeros(Shape.of(10))), PARAMS, Mode.TRAIN));
        x.close();
        t.close();
        overwriteFreedStorage(ctx, Shape.of(60));
        try (NormGrads g = b.batchNormBackward(dOut, r.cache(), gamma)) {
            ctx.expectIdentical("batchnorm dX of a reshaped x, after x and t were closed", g.dX(), s, expected[0]);
            ctx.expectIdentical("batchnorm dGamma of a reshaped x, after x and t were closed", g.dGamma(),
                    Shape.of(10), expected[1]);
        }
    }

    /** The same for conv2d: the forward on a reshaped [N,C,H,W] x, whose flat base the caller then closes. */
    private static void convCacheOfAReshapedInput(CaseContext ctx) {
        Backend b = ctx.backend();
        Shape xs = Shape.of(2, 2, 3, 3);
        Shape ws = Shape.of(3, 2, 3, 3);
        float[] xv = ctx.normal(xs.size(), 0, 1);
        Tensor w = ctx.upload(ctx.normal(ws.size(), 0, 0.3), ws);
        Conv2dParams p = Conv2dParams.of(1, 1);
        float[] dX;
        float[] dW;
        Shape outShape;
        float[] dv;
        try (Tensor twin = b.upload(xv, xs); Conv2dResult r = b.conv2dForward(twin, w, null, p)) {
            outShape = r.out().shape();
            dv = ctx.normal(outShape.size(), 0, 1);
            try (Tensor d = b.upload(dv, outShape); Conv2dGrads g = b.conv2dBackward(d, r.cache(), w)) {
                dX = g.dX().toArray();
                dW = g.dW().toArray();
            }
        }
        Tensor t = b.upload(xv, Shape.of(2, 18));
        Tensor x = b.reshape(t, xs);
        Conv2dResult r = ctx.track(b.conv2dForward(x, w, null, p));
        x.close();
        t.close();
        overwriteFreedStorage(ctx, Shape.of(36));
        try (Tensor d = b.upload(dv, outShape); Conv2dGrads g = b.conv2dBackward(d, r.cache(), w)) {
            ctx.expectIdentical("conv2d dX of a reshaped x, after x and t were closed", g.dX(), xs, dX);
            ctx.expectIdentical("conv2d dW of a reshaped x, after x and t were closed", g.dW(), ws, dW);
        }
    }

    /**
     * A batchnorm forward on x, then an in-place write through a reshape of x (or of a reshape of it): the backward
     * either refuses the cache (IllegalStateException naming the op: the write was a write of x) or returns the
     * gradients of the forward's input, bit for bit those of an untouched twin.
     */
    private static void writeThroughAReshapedTensorAfterAForward(CaseContext ctx) {
        Backend b = ctx.backend();
        Shape s = Shape.of(6, 10);
        float[] xv = ctx.normal(60, 0.5, 2);
        Tensor gamma = ctx.upload(ctx.uniform(10, 0.5, 1.5), Shape.of(10));
        Tensor beta = ctx.upload(ctx.normal(10, 0, 1), Shape.of(10));
        Tensor dOut = ctx.upload(ctx.normal(60, 0, 1), s);
        float[][] expected = twinBatchNorm(ctx, xv, s, gamma, beta, dOut);

        Tensor x = ctx.upload(xv, s);
        NormResult r = ctx.track(b.batchNormForward(x, gamma, beta, ctx.track(b.zeros(Shape.of(10))),
                ctx.track(b.zeros(Shape.of(10))), PARAMS, Mode.TRAIN));
        Tensor flat = ctx.track(b.reshape(x, Shape.of(60)));
        Tensor again = ctx.track(b.reshape(flat, Shape.of(3, 20)));
        b.scale(again, 3f);
        NormGrads g;
        try {
            g = b.batchNormBackward(dOut, r.cache(), gamma);
        } catch (IllegalStateException e) {
            String m = String.valueOf(e.getMessage());
            ctx.check(m.startsWith("batchnorm.backward: "), "batchnorm.backward after a write through a reshape of "
                    + "its input: a refusal expected to name the op, got \"" + m + "\"");
            return;
        }
        try (NormGrads grads = g) {
            ctx.expectIdentical("batchnorm dX after a write through a reshape of x (kept: the forward's x)",
                    grads.dX(), s, expected[0]);
            ctx.expectIdentical("batchnorm dGamma after a write through a reshape of x", grads.dGamma(),
                    Shape.of(10), expected[1]);
        }
    }

    /** dX and dGamma of a batchnorm forward and backward on a fresh upload of {@code xv}. */
    private static float[][] twinBatchNorm(CaseContext ctx, float[] xv, Shape s, Tensor gamma, Tensor beta,
                                           Tensor dOut) {
        Backend b = ctx.backend();
        try (Tensor twin = b.upload(xv, s); Tensor rm = b.zeros(Shape.of(s.dim(1)));
             Tensor rv = b.zeros(Shape.of(s.dim(1)));
             NormResult r = b.batchNormForward(twin, gamma, beta, rm, rv, PARAMS, Mode.TRAIN);
             NormGrads g = b.batchNormBackward(dOut, r.cache(), gamma)) {
            return new float[][] {g.dX().toArray(), g.dGamma().toArray()};
        }
    }

    /** On a second instance: closing the backend closes t and its reshaped result; both refuse use by name. */
    private static void closedBackendClosesTheResult(CaseContext ctx) {
        Backend b = ctx.newBackend();
        if (b == null) {
            return;
        }
        Shape s = Shape.of(4, 6);
        Tensor t = b.upload(ctx.normal(s.size(), 0, 1), s);
        Tensor r = b.reshape(t, Shape.of(24));
        b.synchronize();

        b.close();

        ctx.check(r.isClosed(), "a reshaped tensor of the closed backend: expected isClosed() true, got false");
        for (Tensor x : new Tensor[] {t, r}) {
            try {
                x.toArray();
                ctx.fail("toArray() of a " + (x == r ? "reshaped " : "") + "tensor of the closed backend: expected "
                        + "IllegalStateException naming the closed backend, but the call returned normally");
            } catch (IllegalStateException e) {
                String m = String.valueOf(e.getMessage());
                ctx.check(m.contains("closed backend"), "toArray() of a " + (x == r ? "reshaped " : "") + "tensor of "
                        + "the closed backend: expected a message naming the closed backend, got \"" + m + "\"");
            }
        }
        try {
            r.close();
            t.close();
        } catch (RuntimeException e) {
            ctx.fail("closing tensors of a closed backend: expected no error, got " + CaseContext.describe(e));
        }
    }

    /**
     * Allocates a few tensors of {@code shape} and fills them with NaN, kept open until the case ends: a backend that
     * let a cache's input storage go back to its pool too early hands that storage out here, and the backward then
     * reads NaN instead of x.
     */
    private static void overwriteFreedStorage(CaseContext ctx, Shape shape) {
        for (int i = 0; i < 4; i++) {
            ctx.backend().fill(ctx.track(ctx.backend().zeros(shape)), Float.NaN);
        }
    }

    /** An IllegalStateException, as for a closed tensor. */
    private static void expectRefused(CaseContext ctx, String what, CaseContext.Call call) {
        try {
            Object r = call.call();
            if (r instanceof AutoCloseable c) {
                ctx.track(c);
            }
            ctx.fail(what + ": expected IllegalStateException (a closed tensor), but the call returned normally");
        } catch (IllegalStateException e) {
            // refused as a closed tensor
        } catch (Exception | AssertionError e) {
            ctx.fail(what + ": expected IllegalStateException (a closed tensor), got " + CaseContext.describe(e));
        }
    }
}
