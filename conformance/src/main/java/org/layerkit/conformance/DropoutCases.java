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
import org.layerkit.api.Philox4x32;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Cases of inverted dropout and of the Philox4x32-10 generator behind its masks. */
final class DropoutCases {
    /**
     * out = x·mask is one float multiplication (ONE_ROUNDING); a kernel that divides by keep instead of multiplying
     * by the float scale differs from it by another U·|out|, which the safety factor covers.
     */
    static final Tolerance PRODUCT = TrainingCases.ONE_ROUNDING;
    static final long SEED = 0x243F6A8885A308D3L;
    /** DROPOUT_KEEP_RATE: kept counts within this many standard deviations of the binomial mean. */
    static final double KEEP_RATE_SIGMAS = 5;

    /** The Random123 known-answer vectors of Philox4x32-10: counter c0..c3, key k0,k1, expected words. */
    record KnownAnswer(String name, int[] counter, int[] key, int[] words) {
    }

    static final List<KnownAnswer> KNOWN_ANSWERS = List.of(
            new KnownAnswer("zeros", new int[] {0, 0, 0, 0}, new int[] {0, 0},
                    new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}),
            new KnownAnswer("ones", new int[] {-1, -1, -1, -1}, new int[] {-1, -1},
                    new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}),
            new KnownAnswer("pi", new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                    new int[] {0xa4093822, 0x299f31d0},
                    new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));

    private DropoutCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        // bit-identical masks: odd sizes, element counts not a multiple of 4, large offsets, seeds with high bits
        cases.add(bitIdentical(new int[] {64, 64}, 0.7, SEED, 0, "0"));
        cases.add(bitIdentical(new int[] {4096}, 0.7, SEED, (1L << 32) + 5, "2^32+5"));
        cases.add(bitIdentical(new int[] {4096}, 0.7, SEED, 1L << 40, "2^40"));
        cases.add(bitIdentical(new int[] {64, 64}, 0.7, SEED, -1L, "2^64-1"));
        cases.add(bitIdentical(new int[] {17, 241}, 0.5, 0xDEADBEEFCAFEF00DL, 7, "7"));
        cases.add(bitIdentical(new int[] {7, 3}, 0.3, 1, 0, "0"));
        cases.add(bitIdentical(new int[] {1}, 0.5, 3, 0, "0"));
        cases.add(bitIdentical(new int[] {8, 3, 5, 7}, 0.6, 99, 12, "12"));
        cases.add(bitIdentical(new int[] {64, 64}, 0.05, 5, 1, "1"));
        cases.add(bitIdentical(new int[] {65536, 64}, 0.9, SEED, 3, "3"));
        cases.add(maskValues());
        cases.add(maskStatistics(0.3));
        cases.add(maskStatistics(0.9));
        cases.add(sameSeedSameMask());
        cases.add(masksDiffer("seed", new DropoutOptions(0.5, 1, 0), new DropoutOptions(0.5, 2, 0)));
        cases.add(masksDiffer("seed_high_bits", new DropoutOptions(0.5, 1, 0), new DropoutOptions(0.5, 1 + (1L << 32), 0)));
        cases.add(masksDiffer("offset", new DropoutOptions(0.5, 1, 0), new DropoutOptions(0.5, 1, 1)));
        cases.add(masksDiffer("offset_high_bits", new DropoutOptions(0.5, 1, 0),
                new DropoutOptions(0.5, 1, 1L << 32)));
        cases.add(rowSlices(new int[] {7, 13}, 0.6, 5));
        cases.add(rowSlices(new int[] {9, 8}, 0.5, 1L << 33));
        cases.add(identity(Mode.TRAIN, 1.0));
        cases.add(identity(Mode.EVAL, 0.5));
        cases.add(backward(Mode.TRAIN));
        cases.add(backward(Mode.EVAL));
        cases.add(backwardUsesGivenMask());
        for (KnownAnswer ka : KNOWN_ANSWERS) {
            cases.add(knownAnswer(ka));
        }
        cases.add(backendMatchesKnownAnswer());
        return cases;
    }

    private static String shapeName(int[] dims) {
        return Shape.of(dims).toString();
    }

    /** The backend's mask equals the reference Philox mapping bit for bit; out = x ⊙ mask. */
    private static ConformanceCase bitIdentical(int[] dims, double keep, long seed, long offset, String offsetName) {
        Shape shape = Shape.of(dims);
        ConformanceCase.Builder b = ConformanceCase.builder("dropout.mask.bit_identical", Op.DROPOUT)
                .mode(Mode.TRAIN).shape(dims).param("N", shape.size()).param("keep", keep).param("offset", offsetName);
        if (dims.length > 1) {
            b.param("shape", shapeName(dims));
        }
        if (seed != SEED) {
            b.param("seed", String.format(Locale.ROOT, "0x%x", seed));
        }
        return b.tolerance(PRODUCT).check(ctx -> {
                    DropoutOptions o = new DropoutOptions(keep, seed, offset);
                    float[] x = ctx.normal(shape.size(), 0, 1);
                    Tensor tx = ctx.upload(x, shape);
                    DropoutResult r = ctx.track(ctx.backend().dropoutForward(tx, o, Mode.TRAIN));
                    float[] mask = Reference.dropoutMask(shape.size(), o);
                    ctx.expectIdentical("mask", r.mask(), shape, mask);
                    ctx.expectClose("out", r.out(), shape, Reference.dropoutForward(widen(x), mask));
                    ctx.expectIdentical("x (an input, must be left untouched)", tx, shape, x);
                });
    }

    /**
     * Data-parallel slices: rows [a, b) of an [N,D] tensor with start = a·D draw exactly rows [a, b) of the whole
     * tensor's mask — against the reference and the backend's own whole mask — for slices whose first element is not
     * a multiple of 4 (a Philox block straddles the cut) as well as aligned ones; out = x ⊙ mask.
     */
    private static ConformanceCase rowSlices(int[] dims, double keep, long offset) {
        int n = dims[0];
        int d = dims[1];
        return ConformanceCase.builder("dropout.mask.row_slices", Op.DROPOUT).mode(Mode.TRAIN).shape(dims)
                .param("N", n).param("D", d).param("keep", keep).tolerance(PRODUCT).check(ctx -> {
                    DropoutOptions whole = new DropoutOptions(keep, SEED, offset);
                    Shape all = Shape.of(dims);
                    DropoutResult w = ctx.track(ctx.backend().dropoutForward(
                            ctx.upload(ctx.normal(all.size(), 0, 1), all), whole, Mode.TRAIN));
                    float[] wholeMask = w.mask().toArray();
                    ctx.expectIdentical("whole mask", wholeMask, all, Reference.dropoutMask(all.size(), whole));
                    int[][] slices = {{0, 1}, {1, 4}, {4, n - 1}, {n - 1, n}, {0, n}};
                    for (int[] sl : slices) {
                        Shape ss = Shape.of(sl[1] - sl[0], d);
                        DropoutOptions o = whole.withStart((long) sl[0] * d);
                        float[] x = ctx.normal(ss.size(), 0, 1);
                        DropoutResult r = ctx.track(ctx.backend().dropoutForward(ctx.upload(x, ss), o, Mode.TRAIN));
                        float[] expected = Arrays.copyOfRange(wholeMask, sl[0] * d, sl[1] * d);
                        if (!ctx.expectIdentical("mask of rows [" + sl[0] + "," + sl[1] + ") with start "
                                + o.start() + " (the whole mask's rows)", r.mask(), ss, expected)) {
                            return;
                        }
                        ctx.expectClose("out of rows [" + sl[0] + "," + sl[1] + ")", r.out(), ss,
                                Reference.dropoutForward(widen(x), expected));
                    }
                });
    }

    /** Every mask element is exactly 0 or the float scale (float) (1/keep). */
    private static ConformanceCase maskValues() {
        double keep = 0.3;
        Shape shape = Shape.of(100, 100);
        return ConformanceCase.builder("dropout.mask.values_zero_or_scale", Op.DROPOUT).mode(Mode.TRAIN)
                .shape(shape.dims()).param("N", shape.size()).param("keep", keep).tolerance(Tolerance.EXACT)
                .check(ctx -> {
                    DropoutOptions o = new DropoutOptions(keep, 17, 0);
                    DropoutResult r = ctx.track(ctx.backend().dropoutForward(
                            ctx.upload(ctx.normal(shape.size(), 0, 1), shape), o, Mode.TRAIN));
                    float[] m = r.mask().toArray();
                    int zeros = 0;
                    for (int i = 0; i < m.length; i++) {
                        if (m[i] == 0f) {
                            zeros++;
                        } else if (m[i] != o.scale()) {
                            ctx.fail("mask " + CaseContext.index(i, shape) + ": expected 0 or " + o.scale()
                                    + " (1/keep as float), got " + m[i]);
                            return;
                        }
                    }
                    ctx.check(zeros > 0 && zeros < m.length,
                            "mask: expected both dropped and kept elements, got " + zeros + " zeros of " + m.length);
                });
    }

    /**
     * The number of kept elements is Binomial(n, p) with p = T/2²⁴, overall and in each of the four Philox output
     * lanes (i mod 4); each must lie within {@value #KEEP_RATE_SIGMAS} standard deviations of its mean
     * (DROPOUT_KEEP_RATE: the masks are integer arithmetic, the same on every machine; a fair generator falls
     * outside with probability 6e-7 per count).
     */
    private static ConformanceCase maskStatistics(double keep) {
        int n = 1 << 20;
        Shape shape = Shape.of(1024, 1024);
        return ConformanceCase.builder("dropout.mask.statistics", Op.DROPOUT).mode(Mode.TRAIN).shape(shape.dims())
                .param("N", "2^20").param("keep", keep).param("bound", "5sigma").tolerance(Tolerance.EXACT)
                .check(ctx -> {
                    DropoutOptions o = new DropoutOptions(keep, 2026, 11);
                    DropoutResult r = ctx.track(ctx.backend().dropoutForward(ctx.upload(new float[n], shape), o,
                            Mode.TRAIN));
                    float[] m = r.mask().toArray();
                    long[] lanes = new long[4];
                    for (int i = 0; i < n; i++) {
                        if (m[i] != 0f) {
                            lanes[i & 3]++;
                        }
                    }
                    double p = o.threshold() / (double) (1 << 24);
                    long total = Arrays.stream(lanes).sum();
                    expectBinomial(ctx, "kept elements", total, n, p);
                    for (int lane = 0; lane < 4; lane++) {
                        expectBinomial(ctx, "kept elements with i mod 4 = " + lane, lanes[lane], n / 4, p);
                    }
                });
    }

    private static void expectBinomial(CaseContext ctx, String what, long count, long n, double p) {
        double mean = n * p;
        double sigma = Math.sqrt(n * p * (1 - p));
        ctx.check(Math.abs(count - mean) <= KEEP_RATE_SIGMAS * sigma, String.format(Locale.ROOT,
                "%s: expected %.0f ± %.0fσ (σ = %.1f) of %d, got %d (%.1fσ away; DROPOUT_KEEP_RATE)", what, mean,
                KEEP_RATE_SIGMAS, sigma, n, count, (count - mean) / sigma));
    }

    private static ConformanceCase sameSeedSameMask() {
        Shape shape = Shape.of(33, 31);
        return ConformanceCase.builder("dropout.mask.same_seed_same_mask", Op.DROPOUT).mode(Mode.TRAIN)
                .shape(shape.dims()).param("N", shape.size()).param("keep", 0.5).tolerance(Tolerance.EXACT)
                .check(ctx -> {
                    DropoutOptions o = new DropoutOptions(0.5, 77, 5);
                    Tensor x = ctx.upload(ctx.normal(shape.size(), 0, 1), shape);
                    DropoutResult a = ctx.track(ctx.backend().dropoutForward(x, o, Mode.TRAIN));
                    DropoutResult b = ctx.track(ctx.backend().dropoutForward(x, o, Mode.TRAIN));
                    ctx.expectIdentical("mask of the second call", b.mask(), shape, a.mask().toArray());
                    ctx.expectIdentical("out of the second call", b.out(), shape, a.out().toArray());
                });
    }

    /** Two option sets that differ in one field give masks that differ in about 2·keep·(1−keep) of the places. */
    private static ConformanceCase masksDiffer(String what, DropoutOptions o1, DropoutOptions o2) {
        Shape shape = Shape.of(4096);
        return ConformanceCase.builder("dropout.mask.different_" + what + "_different_mask", Op.DROPOUT)
                .mode(Mode.TRAIN).shape(shape.dims()).param("N", shape.size()).param("keep", o1.keep())
                .tolerance(Tolerance.EXACT).check(ctx -> {
                    Tensor x = ctx.upload(ctx.normal(shape.size(), 0, 1), shape);
                    float[] a = ctx.track(ctx.backend().dropoutForward(x, o1, Mode.TRAIN)).mask().toArray();
                    float[] b = ctx.track(ctx.backend().dropoutForward(x, o2, Mode.TRAIN)).mask().toArray();
                    int differ = 0;
                    for (int i = 0; i < a.length; i++) {
                        if (a[i] != b[i]) {
                            differ++;
                        }
                    }
                    // DROPOUT_MASKS_DIFFER: expected 2·0.5·0.5 = half of the places; 40% is 12.8σ below that
                    // (σ = √(n/4) = 32 for n = 4096); integer arithmetic, the same on every machine
                    ctx.check(differ > 0.4 * a.length, "masks for " + o1 + " and " + o2 + ": expected about "
                            + a.length / 2 + " differing places, got " + differ + " (DROPOUT_MASKS_DIFFER)");
                    ctx.expectIdentical("mask for " + o2, b, shape, Reference.dropoutMask(a.length, o2));
                });
    }

    /** keep = 1 in TRAIN, or EVAL with any keep: out is x exactly and the mask all ones. */
    private static ConformanceCase identity(Mode mode, double keep) {
        Shape shape = Shape.of(37, 11);
        String name = mode == Mode.TRAIN ? "dropout.forward.keep_1_identity" : "dropout.forward.eval_identity";
        return ConformanceCase.builder(name, Op.DROPOUT).mode(mode).shape(shape.dims()).param("N", shape.size())
                .param("keep", keep).tolerance(Tolerance.EXACT).check(ctx -> {
                    float[] x = ctx.normal(shape.size(), 0, 1);
                    Tensor tx = ctx.upload(x, shape);
                    DropoutResult r = ctx.track(ctx.backend().dropoutForward(tx, new DropoutOptions(keep, 4, 8),
                            mode));
                    ctx.expectIdentical("out", r.out(), shape, x);
                    ctx.expectIdentical("mask", r.mask(), shape, ones(x.length));
                    // out is a new tensor (a copy): the caller closes it without losing x
                    ctx.check(r.out() != tx, "out: expected a new tensor (a copy of x), got x itself");
                    r.close();
                    ctx.check(!tx.isClosed(), "closing the result closed x: out must be a copy of x");
                    if (!tx.isClosed()) {
                        ctx.expectIdentical("x after closing the result", tx, shape, x);
                    }
                });
    }

    /** Backward multiplies by the forward's mask: dX = dOut ⊙ mask, bit-identical to the reference mask. */
    private static ConformanceCase backward(Mode mode) {
        Shape shape = Shape.of(129, 65);
        double keep = 0.6;
        return ConformanceCase.builder(mode == Mode.TRAIN ? "dropout.backward" : "dropout.backward.eval",
                        Op.DROPOUT).mode(mode).shape(shape.dims()).param("N", shape.size()).param("keep", keep)
                .tolerance(PRODUCT).check(ctx -> {
                    DropoutOptions o = new DropoutOptions(keep, 31337, 1L << 33);
                    DropoutResult r = ctx.track(ctx.backend().dropoutForward(
                            ctx.upload(ctx.normal(shape.size(), 0, 1), shape), o, mode));
                    float[] dOut = ctx.normal(shape.size(), 0, 1);
                    Tensor dX = ctx.track(ctx.backend().dropoutBackward(ctx.upload(dOut, shape), r.mask()));
                    float[] mask = mode == Mode.TRAIN ? Reference.dropoutMask(shape.size(), o) : ones(shape.size());
                    ctx.expectIdentical("mask", r.mask(), shape, mask);
                    ctx.expectClose("dX", dX, shape, Reference.dropoutBackward(widen(dOut), mask));
                    float[] zeroWhereDropped = dX.toArray();
                    for (int i = 0; i < mask.length; i++) {
                        if (mask[i] == 0f && zeroWhereDropped[i] != 0f) {
                            ctx.fail("dX " + CaseContext.index(i, shape) + ": expected 0 where the forward dropped, got "
                                    + zeroWhereDropped[i]);
                            break;
                        }
                    }
                });
    }

    /**
     * Backward multiplies by the mask it is given and regenerates nothing: a mask that no Philox call produced (drawn
     * from java.util's generator) must come back as dOut ⊙ mask.
     */
    private static ConformanceCase backwardUsesGivenMask() {
        Shape shape = Shape.of(31, 17);
        return ConformanceCase.builder("dropout.backward.uses_given_mask", Op.DROPOUT).mode(Mode.TRAIN)
                .shape(shape.dims()).param("N", shape.size()).param("keep", 0.4).tolerance(PRODUCT).check(ctx -> {
                    float scale = new DropoutOptions(0.4, 0, 0).scale();
                    float[] mask = new float[shape.size()];
                    for (int i = 0; i < mask.length; i++) {
                        mask[i] = ctx.random().nextDouble() < 0.4 ? scale : 0f;
                    }
                    float[] dOut = ctx.normal(shape.size(), 0, 1);
                    Tensor dX = ctx.track(ctx.backend().dropoutBackward(ctx.upload(dOut, shape),
                            ctx.upload(mask, shape)));
                    ctx.expectClose("dX", dX, shape, Reference.dropoutBackward(widen(dOut), mask));
                });
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return v;
    }

    /** api's Philox4x32 and the reference's own implementation both reproduce a Random123 known answer. */
    private static ConformanceCase knownAnswer(KnownAnswer ka) {
        return ConformanceCase.builder("dropout.philox4x32_10.known_answer", Op.DROPOUT).param("vector", ka.name())
                .tolerance(Tolerance.EXACT).check(ctx -> {
                    int[] c = ka.counter();
                    int[] k = ka.key();
                    int[] api = new int[4];
                    Philox4x32.block(c[0], c[1], c[2], c[3], k[0], k[1], api);
                    long[] ref = Reference.philox4x32(c[0], c[1], c[2], c[3], k[0], k[1]);
                    for (int w = 0; w < 4; w++) {
                        ctx.check(api[w] == ka.words()[w], String.format(Locale.ROOT,
                                "api Philox4x32 word %d: expected %08x, got %08x", w, ka.words()[w], api[w]));
                        ctx.check((int) ref[w] == ka.words()[w], String.format(Locale.ROOT,
                                "reference philox4x32 word %d: expected %08x, got %08x", w, ka.words()[w], ref[w]));
                    }
                });
    }

    /**
     * Elements 0..3 of a call with seed 0 and offset 0 use counter (0,0,0,0) and key (0,0), the first known-answer
     * vector. With T = word &gt;&gt;&gt; 8 the element must be dropped, with T + 1 kept: the backend's masks then
     * carry the top 24 bits of each known word.
     */
    private static ConformanceCase backendMatchesKnownAnswer() {
        KnownAnswer ka = KNOWN_ANSWERS.get(0);
        return ConformanceCase.builder("dropout.mask.matches_known_answer", Op.DROPOUT).mode(Mode.TRAIN).shape(4)
                .param("vector", ka.name()).param("seed", 0).param("offset", 0).tolerance(Tolerance.EXACT)
                .check(ctx -> {
                    Tensor x = ctx.upload(new float[] {1, 1, 1, 1}, Shape.of(4));
                    for (int w = 0; w < 4; w++) {
                        int top = ka.words()[w] >>> 8;
                        for (int t : new int[] {top, top + 1}) {
                            DropoutOptions o = new DropoutOptions(t / (double) (1 << 24), 0, 0);
                            if (o.threshold() != t) {
                                ctx.fail("DropoutOptions.threshold(): expected " + t + ", got " + o.threshold());
                                return;
                            }
                            float[] mask = ctx.track(ctx.backend().dropoutForward(x, o, Mode.TRAIN)).mask().toArray();
                            boolean kept = mask[w] != 0f;
                            ctx.check(kept == (t > top), String.format(Locale.ROOT,
                                    "element %d with threshold %d: word %08x >>> 8 = %d must be %s, but the mask "
                                            + "holds %s", w, t, ka.words()[w], top, t > top ? "kept" : "dropped",
                                    mask[w]));
                        }
                    }
                });
    }
}
