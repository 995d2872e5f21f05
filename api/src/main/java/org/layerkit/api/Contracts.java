package org.layerkit.api;

/**
 * The argument checks of the kernel contract, written once so that every backend rejects bad input with the same
 * message: {@code "<op>: <argument> expected <expected>, got <actual>"}. Backends call the op-level checks at the
 * top of each kernel.
 */
public final class Contracts {
    private Contracts() {
    }

    /** Throws IllegalArgumentException {@code "<op>: <arg> expected <expected>, got <actual>"}. */
    public static IllegalArgumentException bad(String op, String arg, Object expected, Object actual) {
        return new IllegalArgumentException(op + ": " + arg + " expected " + expected + ", got " + actual);
    }

    /**
     * The most elements a tensor holds on any backend: 2³¹ − 2¹⁶. {@link Shape} accepts up to 2³¹ − 9; the 65,527
     * shapes between are refused when a tensor is allocated ({@link #requireStorable}). The margin lets every kernel
     * index a tensor with {@code int}s and step a loop by up to 2¹⁶ (a vector, a block, a grid's height) without
     * the index passing 2³¹ − 1; a CPU tensor is one Java array, which holds at most 2³¹ − 1 elements anyway.
     */
    public static final int MAX_ELEMENTS = Integer.MAX_VALUE - (1 << 16) + 1;

    /**
     * The element count of a new tensor of {@code shape} for {@code op}; IllegalArgumentException
     * {@code "<op>: shape expected at most 2147418112 elements ..., got [..] = n elements"} above
     * {@link #MAX_ELEMENTS}.
     */
    public static int requireStorable(String op, Shape shape) {
        if (shape == null) {
            throw bad(op, "shape", "a Shape", "null");
        }
        long n = 1;
        for (int d : shape.dims()) {
            n *= d;
        }
        if (n > MAX_ELEMENTS) {
            throw bad(op, "shape", "at most " + MAX_ELEMENTS + " elements (2^31 - 2^16, the largest tensor of any "
                    + "backend)", shape + " = " + n + " elements");
        }
        return (int) n;
    }

    /** Non-null, open, and owned by {@code backend}. */
    public static void requireOwned(String op, String arg, Tensor t, Backend backend) {
        if (t == null) {
            throw bad(op, arg, "a tensor", "null");
        }
        if (t.backend() != backend) {
            Backend other = t.backend();
            // two instances of one backend on one device read the same: tell them apart by instance
            boolean twin = other.name().equals(backend.name()) && other.device().name().equals(backend.device().name());
            throw bad(op, arg, "a tensor of backend " + describe(backend, twin),
                    "a tensor of " + (twin ? "another instance of the same backend, " : "backend ")
                            + describe(other, twin) + "; move it with upload(other.toArray(), shape)");
        }
        if (t.isClosed()) {
            throw closedTensor(op, arg, t);
        }
    }

    /**
     * The error for using the closed tensor {@code t} as {@code arg} of {@code op}, the same on every backend:
     * {@link #closedBackend(String, String, Tensor)} when its backend is closed, else IllegalStateException
     * {@code "<op>: <arg> expected an open tensor, got a closed tensor of shape [..]"}.
     */
    public static IllegalStateException closedTensor(String op, String arg, Tensor t) {
        if (t.backend().isClosed()) {
            return closedBackend(op, arg, t);
        }
        return new IllegalStateException(op + ": " + arg + " expected an open tensor, got a closed tensor of shape "
                + t.shape());
    }

    /** {@code 'cpu' (CPU …)}, with {@code instance @1b6d3586} (its identity hash) when {@code instance}. */
    private static String describe(Backend b, boolean instance) {
        return "'" + b.name() + "'" + (instance ? " instance @" + Integer.toHexString(System.identityHashCode(b)) : "")
                + " (" + b.device().name() + ")";
    }

    /**
     * The error for using a backend after {@link Backend#close()}: IllegalStateException
     * {@code "<op>: expected an open backend, got the closed backend '<name>'"}.
     */
    public static IllegalStateException closedBackend(String op, String backendName) {
        return new IllegalStateException(op + ": expected an open backend, got the closed backend '" + backendName
                + "'");
    }

    /**
     * The error for a tensor whose backend was closed (its storage went with it): IllegalStateException
     * {@code "<op>: <arg> expected a tensor of an open backend, got a tensor [shape] of the closed backend '<name>'"}.
     */
    public static IllegalStateException closedBackend(String op, String arg, Tensor t) {
        return new IllegalStateException(op + ": " + arg + " expected a tensor of an open backend, got a tensor "
                + t.shape() + " of the closed backend '" + t.backend().name() + "'");
    }

    /**
     * The same for a cache (or other holder of tensors) whose backend was closed: IllegalStateException
     * {@code "<op>: <arg> expected a cache of an open backend, got <cache> of the closed backend '<name>'"}.
     */
    public static IllegalStateException closedBackend(String op, String arg, Object cache, Backend backend) {
        return new IllegalStateException(op + ": " + arg + " expected a cache of an open backend, got " + cache
                + " of the closed backend '" + backend.name() + "'");
    }

    public static void requireRank(String op, String arg, Tensor t, int rank, Backend backend) {
        requireOwned(op, arg, t, backend);
        if (t.shape().rank() != rank) {
            throw bad(op, arg, "rank " + rank + " " + letters(rank), "rank " + t.shape().rank() + " shape " + t.shape());
        }
    }

    public static void requireShape(String op, String arg, Tensor t, Shape expected, Backend backend) {
        requireOwned(op, arg, t, backend);
        if (!t.shape().equals(expected)) {
            throw bad(op, arg, "shape " + expected, "shape " + t.shape());
        }
    }

    public static void requireEps(String op, float eps) {
        if (!(eps > 0f) || Float.isInfinite(eps)) {
            throw bad(op, "eps", "a finite value > 0", eps);
        }
    }

    public static void requireKeep(String op, double keep) {
        if (!(keep > 0.0 && keep <= 1.0)) {
            throw bad(op, "keep", "a probability in (0,1]", keep);
        }
    }

    private static String letters(int rank) {
        return switch (rank) {
            case 1 -> "[D]";
            case 2 -> "[N,D]";
            case 4 -> "[N,C,H,W]";
            default -> "";
        };
    }

    private static void requireDecay(String op, float decay) {
        if (!(decay >= 0f && decay <= 1f)) {
            throw bad(op, "decay", "a value in [0,1]", decay);
        }
    }

    private static void requireMode(String op, Mode mode) {
        if (mode == null) {
            throw bad(op, "mode", "TRAIN or EVAL", "null");
        }
    }

    // ---------------------------------------------------------------- op-level checks

    /** batchnorm.forward: x [N,D]; γ, β, running stats [D]; eps &gt; 0; decay in [0,1]; N &gt; 1 in TRAIN. */
    public static void batchNormForward(Backend b, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                        Tensor runningVar, BatchNormParams p, Mode mode) {
        String op = "batchnorm.forward";
        requireRank(op, "x", x, 2, b);
        normStatsArgs(op, b, x.shape().dim(1), gamma, beta, runningMean, runningVar, p, mode);
        if (mode == Mode.TRAIN && x.shape().dim(0) < 2) {
            throw bad(op, "x", "N >= 2 in TRAIN mode (batch statistics of one example are undefined; use EVAL)",
                    "N = 1, shape " + x.shape());
        }
    }

    /** spatial_batchnorm.forward: x [N,C,H,W]; γ, β, running stats [C]; N·H·W &gt; 1 in TRAIN. */
    public static void spatialBatchNormForward(Backend b, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                               Tensor runningVar, BatchNormParams p, Mode mode) {
        String op = "spatial_batchnorm.forward";
        requireRank(op, "x", x, 4, b);
        normStatsArgs(op, b, x.shape().dim(1), gamma, beta, runningMean, runningVar, p, mode);
        Shape s = x.shape();
        if (mode == Mode.TRAIN && (long) s.dim(0) * s.dim(2) * s.dim(3) < 2) {
            throw bad(op, "x", "N·H·W >= 2 in TRAIN mode (use EVAL for a single value per channel)",
                    "shape " + s);
        }
    }

    private static void normStatsArgs(String op, Backend b, int features, Tensor gamma, Tensor beta,
                                      Tensor runningMean, Tensor runningVar, BatchNormParams p, Mode mode) {
        Shape f = Shape.of(features);
        requireShape(op, "gamma", gamma, f, b);
        requireShape(op, "beta", beta, f, b);
        requireShape(op, "runningMean", runningMean, f, b);
        requireShape(op, "runningVar", runningVar, f, b);
        if (p == null) {
            throw bad(op, "params", "BatchNormParams", "null");
        }
        requireEps(op, p.eps());
        requireDecay(op, p.decay());
        requireMode(op, mode);
    }

    /** layernorm.forward: x [N,D]; γ, β [D]; eps &gt; 0. */
    public static void layerNormForward(Backend b, Tensor x, Tensor gamma, Tensor beta, float eps) {
        String op = "layernorm.forward";
        requireRank(op, "x", x, 2, b);
        Shape f = Shape.of(x.shape().dim(1));
        requireShape(op, "gamma", gamma, f, b);
        requireShape(op, "beta", beta, f, b);
        requireEps(op, eps);
    }

    /** groupnorm.forward: x [N,C,H,W]; γ, β [C]; G ≥ 1 divides C; eps &gt; 0. */
    public static void groupNormForward(Backend b, Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        String op = "groupnorm.forward";
        requireRank(op, "x", x, 4, b);
        int c = x.shape().dim(1);
        Shape f = Shape.of(c);
        requireShape(op, "gamma", gamma, f, b);
        requireShape(op, "beta", beta, f, b);
        if (groups < 1 || c % groups != 0) {
            throw bad(op, "groups", "a divisor of C = " + c, groups);
        }
        requireEps(op, eps);
    }

    /**
     * Backward of any normalization: the cache is of the right kind and open, dOut has x̂'s shape, γ is [D] or [C].
     * {@code featureAxis} is 1 for every kind (D of [N,D], C of [N,C,H,W]).
     */
    public static void normBackward(Backend b, NormKind kind, Tensor dOut, NormCache cache, Tensor gamma) {
        String op = kind.id() + ".backward";
        normCache(op, b, kind, dOut, cache);
        requireShape(op, "gamma", gamma, Shape.of(cache.shape().dim(1)), b);
    }

    /** The cache is of {@code kind}, open and of this backend; dOut has x's shape. */
    private static void normCache(String op, Backend b, NormKind kind, Tensor dOut, NormCache cache) {
        if (cache == null) {
            throw bad(op, "cache", "the NormCache of a " + kind.id() + " forward", "null");
        }
        if (cache.kind() != kind) {
            throw bad(op, "cache", "the NormCache of a " + kind.id() + " forward",
                    "the cache of a " + cache.kind().id() + " forward");
        }
        NormCache.SavedInput input = cache.savedInput();
        if (input != null) {
            if (input.backend() != b) {
                // two instances of one backend (replicas) read the same: tell them apart by instance
                Backend other = input.backend();
                boolean twin = other.name().equals(b.name()) && other.device().name().equals(b.device().name());
                throw bad(op, "cache", "the cache of a forward on backend " + describe(b, twin),
                        "the cache of a forward on " + (twin ? "another instance of the same backend, " : "backend ")
                                + describe(other, twin));
            }
            if (input.isClosed()) {
                throw new IllegalStateException(op + ": cache expected an open cache, got a closed one ("
                        + cache + ")");
            }
        } else {
            requireOwned(op, "cache.xhat", cache.xhat(), b);
        }
        requireOwned(op, "cache.mean", cache.mean(), b);
        requireOwned(op, "cache.rstd", cache.rstd(), b);
        requireShape(op, "dOut", dOut, cache.shape(), b);
    }

    // ---------------------------------------------------------------- batchnorm in parts

    private static String partsOp(boolean spatial, String part) {
        return (spatial ? "spatial_batchnorm." : "batchnorm.") + part;
    }

    private static void requireBnInput(String op, Tensor x, boolean spatial, Backend b) {
        if (spatial) {
            requireRank(op, "x", x, 4, b);
        } else {
            requireRank(op, "x", x, 2, b);
        }
    }

    /** {batchnorm,spatial_batchnorm}.local_stats: x [N,D] or [N,C,H,W]. */
    public static void batchNormLocalStats(Backend b, Tensor x, boolean spatial) {
        requireBnInput(partsOp(spatial, "local_stats"), x, spatial, b);
    }

    /**
     * {batchnorm,spatial_batchnorm}.normalize: x [N,D] / [N,C,H,W]; γ, β [C]; mean, invstd C doubles each; every
     * invstd, 1/√(var + ε), finite and &gt; 0 (or NaN, as NaN data makes it): a negative one would flip x̂ and a zero
     * one flatten it, silently.
     */
    public static void batchNormNormalize(Backend b, Tensor x, Tensor gamma, Tensor beta, double[] mean,
                                          double[] invstd, boolean spatial) {
        String op = partsOp(spatial, "normalize");
        requireBnInput(op, x, spatial, b);
        int c = x.shape().dim(1);
        requireShape(op, "gamma", gamma, Shape.of(c), b);
        requireShape(op, "beta", beta, Shape.of(c), b);
        requireDoubles(op, "mean", mean, c);
        requireDoubles(op, "invstd", invstd, c);
        for (int k = 0; k < c; k++) {
            if (invstd[k] <= 0 || invstd[k] == Double.POSITIVE_INFINITY) {
                throw bad(op, "invstd[" + k + "]", "1/sqrt(var + eps): finite and > 0 (NaN only from NaN data)",
                        invstd[k]);
            }
        }
    }

    /**
     * {batchnorm,spatial_batchnorm}.backward_reduce: a cache of that kind (TRAIN or EVAL: the sums are dβ and dγ either
     * way), dOut of x's shape.
     */
    public static void batchNormBackwardReduce(Backend b, Tensor dOut, NormCache cache, boolean spatial) {
        normCache(partsOp(spatial, "backward_reduce"), b,
                spatial ? NormKind.SPATIAL_BATCHNORM : NormKind.BATCHNORM, dOut, cache);
    }

    /**
     * {batchnorm,spatial_batchnorm}.backward_elementwise: a TRAIN cache of that kind, dOut of x's shape, γ [C], sums
     * of C channels, count at least this part's values per channel.
     */
    public static void batchNormBackwardElementwise(Backend b, Tensor dOut, NormCache cache, Tensor gamma,
                                                    BatchNormGradSums global, long count, boolean spatial) {
        String op = partsOp(spatial, "backward_elementwise");
        normCache(op, b, spatial ? NormKind.SPATIAL_BATCHNORM : NormKind.BATCHNORM, dOut, cache);
        Shape s = cache.shape();
        int c = s.dim(1);
        requireShape(op, "gamma", gamma, Shape.of(c), b);
        if (cache.mode() != Mode.TRAIN) {
            throw bad(op, "cache", "the cache of a TRAIN forward (normalize), whose statistics depend on x",
                    "an EVAL cache (its dX is γ·rstd·dOut: use " + (spatial ? "spatialBatchNormBackward" : "batchNormBackward") + ")");
        }
        if (global == null) {
            throw bad(op, "global", "the batch's BatchNormGradSums", "null");
        }
        if (global.channels() != c) {
            throw bad(op, "global", "sums of " + c + " channels", global.channels() + " channels");
        }
        long local = spatial ? (long) s.dim(0) * s.dim(2) * s.dim(3) : s.dim(0);
        if (count < local) {
            throw bad(op, "count", "the values per channel of the whole batch, at least this part's " + local, count);
        }
    }

    private static void requireDoubles(String op, String arg, double[] v, int length) {
        if (v == null || v.length != length) {
            throw bad(op, arg, length + " doubles (one per channel)", v == null ? "null" : v.length + " doubles");
        }
    }

    public static void dropoutForward(Backend b, Tensor x, DropoutOptions o, Mode mode) {
        String op = "dropout.forward";
        requireOwned(op, "x", x, b);
        if (o == null) {
            throw bad(op, "options", "DropoutOptions", "null");
        }
        requireKeep(op, o.keep());
        requireStart(op, o.start());
        requireMode(op, mode);
    }

    /** A dropout start (the global index of the first element or plane): {@code >= 0}. */
    static void requireStart(String op, long start) {
        if (start < 0) {
            throw bad(op, "start", ">= 0 (the global index of the first element)", start);
        }
    }

    public static void dropoutBackward(Backend b, Tensor dOut, Tensor mask) {
        String op = "dropout.backward";
        requireOwned(op, "mask", mask, b);
        requireShape(op, "dOut", dOut, mask.shape(), b);
    }

    /** gemm: ranks 2, inner dimensions agree, C is [M,N]. */
    public static void gemm(Backend b, Tensor a, boolean ta, Tensor bb, boolean tb, Tensor c) {
        String op = "gemm";
        requireRank(op, "a", a, 2, b);
        requireRank(op, "b", bb, 2, b);
        requireRank(op, "c", c, 2, b);
        int m = ta ? a.shape().dim(1) : a.shape().dim(0);
        int k = ta ? a.shape().dim(0) : a.shape().dim(1);
        int k2 = tb ? bb.shape().dim(1) : bb.shape().dim(0);
        int n = tb ? bb.shape().dim(0) : bb.shape().dim(1);
        if (k != k2) {
            throw bad(op, "b", "inner dimension K = " + k + " (from a" + (ta ? "ᵀ " : " ") + a.shape() + ")",
                    "K = " + k2 + " (b" + (tb ? "ᵀ " : " ") + bb.shape() + ")");
        }
        requireShape(op, "c", c, Shape.of(m, n), b);
    }

    /** addBias: x [N,D], bias [D]. */
    public static void addBias(Backend b, Tensor x, Tensor bias) {
        requireRank("bias.add", "x", x, 2, b);
        requireShape("bias.add", "bias", bias, Shape.of(x.shape().dim(1)), b);
    }

    /** softmax_cross_entropy: logits [N,K], labels [N]. Label values are checked by the backend. */
    public static void softmaxCrossEntropy(Backend b, Tensor logits, Tensor labels) {
        String op = "softmax_cross_entropy";
        requireRank(op, "logits", logits, 2, b);
        requireShape(op, "labels", labels, Shape.of(logits.shape().dim(0)), b);
    }

    /** Same shape, both owned: for relu backward, copy, axpy and optimizer state. */
    public static void sameShape(Backend b, String op, String argA, Tensor a, String argB, Tensor t) {
        requireOwned(op, argA, a, b);
        requireShape(op, argB, t, a.shape(), b);
    }

    /** {@link Backend#reshape}: t owned and open, the new shape non-null and of t's element count. */
    public static void reshape(Backend b, Tensor t, Shape shape) {
        requireOwned("reshape", "t", t, b);
        if (shape == null) {
            throw bad("reshape", "shape", "a shape of " + t.size() + " elements", "null");
        }
        if (shape.size() != t.size()) {
            throw bad("reshape", "shape", "a shape of " + t.size() + " elements (t is " + t.shape() + ")",
                    shape + " of " + shape.size() + " elements");
        }
    }

    // ---------------------------------------------------------------- convolution, pooling, spatial dropout

    /** Pooling planes larger than this cannot have their argmax positions stored exactly as floats. */
    public static final long MAX_POOL_PLANE = 1L << 24;

    /** Rank 4 with a message that names the letters of {@code arg}, e.g. {@code [F,C,KH,KW]}. */
    private static void requireRank4(String op, String arg, Tensor t, String letters, Backend b) {
        requireRank(op, arg, t, 4, letters, b);
    }

    /** Rank {@code rank} with a message that names the letters of {@code arg}, e.g. {@code [N,C]}. */
    private static void requireRank(String op, String arg, Tensor t, int rank, String letters, Backend b) {
        requireOwned(op, arg, t, b);
        if (t.shape().rank() != rank) {
            throw bad(op, arg, "rank " + rank + " " + letters, "rank " + t.shape().rank() + " shape " + t.shape());
        }
    }

    /** An output of {@code n·c·h·w} elements (computed in long) fits a tensor; returns its shape. */
    private static Shape outputShape(String op, String arg, Shape in, long n, long c, long h, long w, String what) {
        long size;
        try {
            size = Math.multiplyExact(Math.multiplyExact(n * c, h), w); // n, c < 2^31: n·c cannot overflow
        } catch (ArithmeticException overflow) {
            size = Long.MAX_VALUE; // a huge padding: more than 2^63 elements
        }
        if (size > MAX_ELEMENTS) {
            throw bad(op, arg, "an output of at most " + MAX_ELEMENTS + " elements (2^31 - 2^16, the largest tensor of "
                            + "any backend)",
                    what + " = " + n + "·" + c + "·" + h + "·" + w + " = "
                            + (size == Long.MAX_VALUE ? "more than 2^63" : String.valueOf(size)) + " elements (x "
                            + in + ")");
        }
        return Shape.of((int) n, (int) c, (int) h, (int) w);
    }

    /**
     * A backend that returns false from {@code supports(op)} throws this from the op's methods, so that a caller
     * who skipped the check learns which backend lacks which op family.
     */
    public static UnsupportedOperationException unsupported(Backend b, Op family, String op) {
        return new UnsupportedOperationException(op + ": backend expected a backend that supports op family '"
                + family.id() + "', got backend '" + b.name() + "' (" + b.device().name() + "), whose supports("
                + family + ") is false; check Backend.supports(Op) first, or use another backend");
    }

    /**
     * conv2d.forward: x [N,C,H,W]; w [F,C,KH,KW]; bias [F] or null; stride ≥ 1; padding ≥ 0; dilation 1; groups 1;
     * the kernel no larger than the padded input (else the output would be empty); the output at most
     * {@link #MAX_ELEMENTS} elements. Returns the output shape [N,F,H',W'].
     */
    public static Shape conv2dForward(Backend b, Tensor x, Tensor w, Tensor bias, Conv2dParams p) {
        String op = "conv2d.forward";
        requireRank4(op, "x", x, "[N,C,H,W]", b);
        requireRank4(op, "w", w, "[F,C,KH,KW]", b);
        Shape xs = x.shape();
        Shape ws = w.shape();
        int c = xs.dim(1);
        if (ws.dim(1) != c) {
            throw bad(op, "w", "shape [F," + c + ",KH,KW] (C = " + c + " input channels of x " + xs + ")",
                    "shape " + ws);
        }
        int f = ws.dim(0);
        if (bias != null) {
            requireShape(op, "bias", bias, Shape.of(f), b);
        }
        if (p == null) {
            throw bad(op, "params", "Conv2dParams", "null");
        }
        if (p.strideH() < 1 || p.strideW() < 1) {
            throw bad(op, "stride", ">= 1 on both axes", "strideH = " + p.strideH() + ", strideW = " + p.strideW());
        }
        if (p.padH() < 0 || p.padW() < 0) {
            throw bad(op, "padding", ">= 0 on both axes", "padH = " + p.padH() + ", padW = " + p.padW());
        }
        if (p.dilationH() != 1 || p.dilationW() != 1) {
            throw bad(op, "dilation", "1 on both axes (dilated convolution is not supported)",
                    "dilationH = " + p.dilationH() + ", dilationW = " + p.dilationW());
        }
        if (p.groups() != 1) {
            throw bad(op, "groups", "1 (grouped and depthwise convolution are not supported)", p.groups());
        }
        long paddedH = xs.dim(2) + 2L * p.padH();
        long paddedW = xs.dim(3) + 2L * p.padW();
        if (ws.dim(2) > paddedH || ws.dim(3) > paddedW) {
            throw bad(op, "w", "a kernel no larger than the padded input, KH <= H + 2·padH = " + paddedH
                            + " and KW <= W + 2·padW = " + paddedW + " (x " + xs + ", padH = " + p.padH()
                            + ", padW = " + p.padW() + ")",
                    "KH = " + ws.dim(2) + ", KW = " + ws.dim(3) + " (w " + ws + "): the output would be empty");
        }
        return outputShape(op, "x", xs, xs.dim(0), f, p.outputHeight(xs.dim(2), ws.dim(2)),
                p.outputWidth(xs.dim(3), ws.dim(3)), "N·F·H'·W'");
    }

    /** conv2d.backward: the open cache of a conv2d forward on this backend; dOut [N,F,H',W']; w [F,C,KH,KW]. */
    public static void conv2dBackward(Backend b, Tensor dOut, Conv2dCache cache, Tensor w) {
        String op = "conv2d.backward";
        if (cache == null) {
            throw bad(op, "cache", "the Conv2dCache of a conv2d forward", "null");
        }
        if (cache.backend() != b) {
            throw bad(op, "cache", "the cache of a forward on backend '" + b.name() + "'",
                    "the cache of a forward on backend '" + cache.backend().name() + "'");
        }
        if (cache.isClosed()) {
            if (b.isClosed()) {
                throw closedBackend(op, "cache", cache, b);
            }
            throw new IllegalStateException(op + ": cache expected an open cache, got a closed one (" + cache + ")");
        }
        requireShape(op, "dOut", dOut, cache.outputShape(), b);
        requireShape(op, "w", w, cache.weightShape(), b);
    }

    /**
     * maxpool2d.forward: x [N,C,H,W]; kernel and stride ≥ 1; the window inside the input (no padding, so kernelH ≤
     * H and kernelW ≤ W, else the output would be empty); H·W ≤ 2²⁴ so that argmax positions are exact floats.
     * Returns the output shape [N,C,H',W'].
     */
    public static Shape maxPool2dForward(Backend b, Tensor x, Pool2dParams p) {
        String op = "maxpool2d.forward";
        requireRank4(op, "x", x, "[N,C,H,W]", b);
        if (p == null) {
            throw bad(op, "params", "Pool2dParams", "null");
        }
        Shape xs = x.shape();
        if (p.kernelH() < 1 || p.kernelW() < 1) {
            throw bad(op, "kernel", ">= 1 on both axes", "kernelH = " + p.kernelH() + ", kernelW = " + p.kernelW());
        }
        if (p.strideH() < 1 || p.strideW() < 1) {
            throw bad(op, "stride", ">= 1 on both axes", "strideH = " + p.strideH() + ", strideW = " + p.strideW());
        }
        if (p.kernelH() > xs.dim(2) || p.kernelW() > xs.dim(3)) {
            throw bad(op, "kernel", "a window inside the input (no padding), kernelH <= H = " + xs.dim(2)
                            + " and kernelW <= W = " + xs.dim(3) + " (x " + xs + ")",
                    "kernelH = " + p.kernelH() + ", kernelW = " + p.kernelW() + ": the output would be empty");
        }
        long plane = (long) xs.dim(2) * xs.dim(3);
        if (plane > MAX_POOL_PLANE) {
            throw bad(op, "x", "H·W <= 2^24 positions per plane (argmax positions are stored exactly as floats)",
                    "H·W = " + plane + " (x " + xs + ")");
        }
        return Shape.of(xs.dim(0), xs.dim(1), (int) p.outputHeight(xs.dim(2)), (int) p.outputWidth(xs.dim(3)));
    }

    /** maxpool2d.backward: a cache whose argmax is an open [N,C,H',W'] tensor of this backend; dOut its shape. */
    public static void maxPool2dBackward(Backend b, Tensor dOut, MaxPool2dCache cache) {
        String op = "maxpool2d.backward";
        if (cache == null) {
            throw bad(op, "cache", "the MaxPool2dCache of a maxpool2d forward", "null");
        }
        requireShape(op, "cache.argmax", cache.argmax(), cache.outputShape(), b);
        requireShape(op, "dOut", dOut, cache.outputShape(), b);
    }

    /** global_avgpool.forward: x [N,C,H,W]; returns the output shape [N,C]. */
    public static Shape globalAvgPoolForward(Backend b, Tensor x) {
        requireRank4("global_avgpool.forward", "x", x, "[N,C,H,W]", b);
        return Shape.of(x.shape().dim(0), x.shape().dim(1));
    }

    /** global_avgpool.backward: dOut [N,C]; inputShape [N,C,H,W] with dOut's N and C. */
    public static void globalAvgPoolBackward(Backend b, Tensor dOut, Shape inputShape) {
        String op = "global_avgpool.backward";
        requireRank(op, "dOut", dOut, 2, "[N,C]", b);
        Shape d = dOut.shape();
        if (inputShape == null || inputShape.rank() != 4 || inputShape.dim(0) != d.dim(0)
                || inputShape.dim(1) != d.dim(1)) {
            throw bad(op, "inputShape", "rank 4 [N,C,H,W] with N = " + d.dim(0) + ", C = " + d.dim(1) + " of dOut " + d,
                    inputShape == null ? "null" : "shape " + inputShape);
        }
    }

    /** spatial_dropout.forward: x [N,C,H,W]; options non-null with keep in (0,1]; mode non-null. */
    public static void spatialDropoutForward(Backend b, Tensor x, DropoutOptions o, Mode mode) {
        String op = "spatial_dropout.forward";
        requireRank4(op, "x", x, "[N,C,H,W]", b);
        if (o == null) {
            throw bad(op, "options", "DropoutOptions", "null");
        }
        requireKeep(op, o.keep());
        requireStart(op, o.start());
        requireMode(op, mode);
    }

    /** spatial_dropout.backward: mask [N,C]; dOut [N,C,H,W] with the mask's N and C. */
    public static void spatialDropoutBackward(Backend b, Tensor dOut, Tensor mask) {
        String op = "spatial_dropout.backward";
        requireRank(op, "mask", mask, 2, "[N,C]", b);
        requireRank4(op, "dOut", dOut, "[N,C,H,W]", b);
        Shape m = mask.shape();
        Shape d = dOut.shape();
        if (d.dim(0) != m.dim(0) || d.dim(1) != m.dim(1)) {
            throw bad(op, "dOut", "shape [" + m.dim(0) + "," + m.dim(1) + ",H,W] (N, C of the mask " + m + ")",
                    "shape " + d);
        }
    }
}
