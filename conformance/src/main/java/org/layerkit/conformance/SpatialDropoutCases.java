package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.widen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Cases of spatial dropout: the [N,C] mask bit for bit against dropout's Philox mapping at element index n·C + c
 * (offsets and seeds with high bits, N·C not a multiple of 4, and against the backend's own dropout mask of an
 * [N,C] tensor), whole planes kept or dropped, the identities, and the backward.
 */
final class SpatialDropoutCases {
    private SpatialDropoutCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        cases.add(bitIdentical(new int[] {8, 16, 5, 5}, 0.7, DropoutCases.SEED, 0, "0"));
        cases.add(bitIdentical(new int[] {3, 5, 7, 3}, 0.5, DropoutCases.SEED, (1L << 32) + 5, "2^32+5"));
        cases.add(bitIdentical(new int[] {2, 7, 1, 1}, 0.3, 0xDEADBEEFCAFEF00DL, -1L, "2^64-1"));
        cases.add(bitIdentical(new int[] {1, 1, 4, 4}, 0.5, 3, 0, "0"));
        cases.add(bitIdentical(new int[] {64, 256, 4, 4}, 0.9, DropoutCases.SEED, 1L << 40, "2^40"));
        cases.add(sameAsDropoutOfPlanes());
        cases.add(rowSlices());
        cases.add(identity(Mode.TRAIN, 1.0));
        cases.add(identity(Mode.EVAL, 0.5));
        cases.add(backward(Mode.TRAIN));
        cases.add(backward(Mode.EVAL));
        return cases;
    }

    private static ConformanceCase.Builder builder(String what, int[] dims, double keep) {
        return ConformanceCase.builder("spatial_dropout." + what, Op.SPATIAL_DROPOUT).shape(dims)
                .param("N", dims[0]).param("C", dims[1]).param("H", dims[2]).param("W", dims[3]).param("keep", keep);
    }

    /**
     * The backend's [N,C] mask equals the reference's dropout mask of N·C elements bit for bit; out = x·mask[n,c] to
     * one rounding; each plane is either all scaled or all zero (out/x is one value per plane); x untouched.
     */
    private static ConformanceCase bitIdentical(int[] dims, double keep, long seed, long offset, String offsetName) {
        ConformanceCase.Builder b = builder("mask.bit_identical", dims, keep).mode(Mode.TRAIN)
                .param("offset", offsetName);
        if (seed != DropoutCases.SEED) {
            b.param("seed", String.format(Locale.ROOT, "0x%x", seed));
        }
        return b.tolerance(DropoutCases.PRODUCT).check(ctx -> {
            Shape xs = Shape.of(dims);
            Shape ms = Shape.of(dims[0], dims[1]);
            int hw = dims[2] * dims[3];
            DropoutOptions o = new DropoutOptions(keep, seed, offset);
            float[] x = ctx.normal(xs.size(), 0, 1);
            Tensor tx = ctx.upload(x, xs);
            DropoutResult r = ctx.track(ctx.backend().spatialDropoutForward(tx, o, Mode.TRAIN));
            float[] mask = Reference.spatialDropoutMask(dims[0], dims[1], o);
            ctx.expectIdentical("mask [N,C] (dropout's Philox decision at element n·C + c)", r.mask(), ms, mask);
            ctx.expectClose("out", r.out(), xs, Reference.spatialDropoutForward(widen(x), mask, hw));
            ctx.expectIdentical("x (an input, must be left untouched)", tx, xs, x);
        });
    }

    /** The spatial-dropout mask is the backend's own dropout mask of an [N,C] tensor with the same options. */
    private static ConformanceCase sameAsDropoutOfPlanes() {
        int[] dims = {6, 11, 3, 2};
        return builder("mask.same_as_dropout_of_planes", dims, 0.4).mode(Mode.TRAIN).tolerance(Tolerance.EXACT)
                .check(ctx -> {
                    Shape ms = Shape.of(dims[0], dims[1]);
                    DropoutOptions o = new DropoutOptions(0.4, 2718281828L, 31);
                    DropoutResult spatial = ctx.track(ctx.backend().spatialDropoutForward(
                            ctx.upload(ctx.normal(Shape.of(dims).size(), 0, 1), Shape.of(dims)), o, Mode.TRAIN));
                    DropoutResult planes = ctx.track(ctx.backend().dropoutForward(
                            ctx.upload(ctx.normal(ms.size(), 0, 1), ms), o, Mode.TRAIN));
                    ctx.expectIdentical("spatial-dropout mask against dropout's mask of [N,C]", spatial.mask(), ms,
                            planes.mask().toArray());
                });
    }

    /**
     * Data-parallel slices: rows [a, b) of an [N,C,H,W] tensor with start = a·C (planes) draw exactly rows [a, b) of
     * the whole tensor's [N,C] mask (C = 5: the slices' first planes straddle Philox blocks).
     */
    private static ConformanceCase rowSlices() {
        int[] dims = {6, 5, 2, 3};
        return builder("mask.row_slices", dims, 0.5).mode(Mode.TRAIN).tolerance(Tolerance.EXACT).check(ctx -> {
            int c = dims[1];
            int hw = dims[2] * dims[3];
            DropoutOptions whole = new DropoutOptions(0.5, DropoutCases.SEED, 9);
            DropoutResult w = ctx.track(ctx.backend().spatialDropoutForward(
                    ctx.upload(ctx.normal(Shape.of(dims).size(), 0, 1), Shape.of(dims)), whole, Mode.TRAIN));
            float[] wholeMask = w.mask().toArray();
            for (int[] sl : new int[][] {{0, 1}, {1, 4}, {4, 6}}) {
                int rows = sl[1] - sl[0];
                Shape xs = Shape.of(rows, c, dims[2], dims[3]);
                DropoutResult r = ctx.track(ctx.backend().spatialDropoutForward(
                        ctx.upload(ctx.normal(xs.size(), 0, 1), xs), whole.withStart((long) sl[0] * c), Mode.TRAIN));
                if (!ctx.expectIdentical("mask of rows [" + sl[0] + "," + sl[1] + ") (the whole mask's rows)",
                        r.mask(), Shape.of(rows, c), Arrays.copyOfRange(wholeMask, sl[0] * c, sl[1] * c))) {
                    return;
                }
            }
        });
    }

    /** keep = 1 in TRAIN, or EVAL: out is x exactly (a new tensor) and the mask [N,C] all ones. */
    private static ConformanceCase identity(Mode mode, double keep) {
        int[] dims = {3, 4, 5, 2};
        String what = mode == Mode.TRAIN ? "forward.keep_1_identity" : "forward.eval_identity";
        return builder(what, dims, keep).mode(mode).tolerance(Tolerance.EXACT).check(ctx -> {
            Shape xs = Shape.of(dims);
            float[] x = ctx.normal(xs.size(), 0, 1);
            Tensor tx = ctx.upload(x, xs);
            DropoutResult r = ctx.track(ctx.backend().spatialDropoutForward(tx, new DropoutOptions(keep, 4, 8), mode));
            ctx.expectIdentical("out", r.out(), xs, x);
            float[] ones = new float[dims[0] * dims[1]];
            Arrays.fill(ones, 1f);
            ctx.expectIdentical("mask", r.mask(), Shape.of(dims[0], dims[1]), ones);
            ctx.check(r.out() != tx, "out: expected a new tensor (a copy of x), got x itself");
        });
    }

    /** dX = dOut·mask[n,c] with the forward's mask; zero on every dropped plane. */
    private static ConformanceCase backward(Mode mode) {
        int[] dims = {5, 9, 7, 3};
        double keep = 0.6;
        return builder(mode == Mode.TRAIN ? "backward" : "backward.eval", dims, keep).mode(mode)
                .tolerance(DropoutCases.PRODUCT).check(ctx -> {
                    Shape xs = Shape.of(dims);
                    Shape ms = Shape.of(dims[0], dims[1]);
                    int hw = dims[2] * dims[3];
                    DropoutOptions o = new DropoutOptions(keep, 31337, 1L << 33);
                    DropoutResult r = ctx.track(ctx.backend().spatialDropoutForward(
                            ctx.upload(ctx.normal(xs.size(), 0, 1), xs), o, mode));
                    float[] mask = mode == Mode.TRAIN ? Reference.spatialDropoutMask(dims[0], dims[1], o) : ones(ms);
                    ctx.expectIdentical("mask", r.mask(), ms, mask);
                    float[] dOut = ctx.normal(xs.size(), 0, 1);
                    Tensor tdOut = ctx.upload(dOut, xs);
                    Tensor dX = ctx.track(ctx.backend().spatialDropoutBackward(tdOut, r.mask()));
                    ctx.expectClose("dX", dX, xs, Reference.spatialDropoutBackward(widen(dOut), mask, hw));
                    ctx.expectIdentical("dOut (an input, must be left untouched)", tdOut, xs, dOut);
                });
    }

    private static float[] ones(Shape s) {
        float[] a = new float[s.size()];
        Arrays.fill(a, 1f);
        return a;
    }
}
