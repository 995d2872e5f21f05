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
            throw bad(op, arg, "a tensor of backend '" + backend.name() + "' (" + backend.device().name() + ")",
                    "a tensor of backend '" + t.backend().name() + "' (" + t.backend().device().name()
                            + "); move it with upload(other.toArray(), shape)");
        }
        if (t.isClosed()) {
            if (backend.isClosed()) {
                throw closedBackend(op, arg, t);
            }
            throw new IllegalStateException(op + ": " + arg + " expected an open tensor, got a closed tensor of shape "
                    + t.shape());
        }
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
                throw bad(op, "cache", "the cache of a forward on backend '" + b.name() + "'",
                        "the cache of a forward on backend '" + input.backend().name() + "'");
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
        requireShape(op, "gamma", gamma, Shape.of(cache.shape().dim(1)), b);
    }

    public static void dropoutForward(Backend b, Tensor x, DropoutOptions o, Mode mode) {
        String op = "dropout.forward";
        requireOwned(op, "x", x, b);
        if (o == null) {
            throw bad(op, "options", "DropoutOptions", "null");
        }
        requireKeep(op, o.keep());
        requireMode(op, mode);
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
}
