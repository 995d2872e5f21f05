package org.layerkit.api;

import java.util.Objects;

/**
 * What a normalization forward keeps for its backward: the statistics, and either the normalized input x̂ itself or
 * the forward's input x, from which x̂ is recomputed.
 *
 * <p>Statistic shapes: batchnorm {@code [D]}, spatial batchnorm {@code [C]}, layernorm {@code [N]}, groupnorm
 * {@code [N,G]}. In EVAL mode of (spatial) batch norm, {@code mean}/{@code rstd} are copies derived from the
 * running statistics, and backward treats them as constants: dX = dOut·γ·rstd.
 *
 * <p><b>Stored or recomputed x̂.</b> A backend chooses per cache. Storing x̂ costs the forward a write of n floats
 * and the backward nothing; keeping x instead (a {@link SavedInput}) makes the forward write only y — a third less
 * memory traffic — and the backward recomputes x̂ = (x − mean)·rstd as it reads x, as PyTorch does. Either way
 * {@link #xhat()} returns x̂ (computing it once on first call when it was not stored), so callers never see the
 * difference, with two rules for a cache that keeps x:
 * <ul>
 *   <li>the caller may close x after the forward: the cache holds on to its storage until the cache is closed;</li>
 *   <li>x must not be modified in place (by {@code fill}, {@code copy}, {@code axpy}, an optimizer step, …) between
 *       the forward and the backward; if it was, the backward and {@link #xhat()} throw
 *       {@link IllegalStateException} saying so, instead of returning gradients of the wrong input.</li>
 * </ul>
 * The conformance kit checks both rules on every backend.
 */
public final class NormCache implements AutoCloseable {
    /**
     * The forward's input as a backend keeps it, to recompute x̂ from. Implemented by backends; the backward of the
     * same backend reads it directly.
     */
    public interface SavedInput extends AutoCloseable {
        /** The backend that keeps it. */
        Backend backend();

        /** The shape of x (and of x̂). */
        Shape shape();

        /** x̂ computed from the kept x and the cache's statistics, as a new tensor (called at most once per cache). */
        Tensor normalize(NormCache cache);

        /** Whether {@link #close()} has been called. */
        boolean isClosed();

        /** Lets go of x; idempotent. */
        @Override
        void close();
    }

    private final NormKind kind;
    private final Mode mode;
    private final int groups;
    private final SavedInput input;
    private final Tensor mean;
    private final Tensor rstd;
    private Tensor xhat;

    /**
     * A cache that stores x̂.
     *
     * @param kind   the op that produced it
     * @param mode   the mode of the forward
     * @param groups G for groupnorm, otherwise 1
     * @param xhat   the normalized input x̂, same shape as x
     * @param mean   the mean used
     * @param rstd   1/√(σ²+ε) used
     */
    public NormCache(NormKind kind, Mode mode, int groups, Tensor xhat, Tensor mean, Tensor rstd) {
        this(kind, mode, groups, null, Objects.requireNonNull(xhat, "xhat"), mean, rstd);
    }

    private NormCache(NormKind kind, Mode mode, int groups, SavedInput input, Tensor xhat, Tensor mean, Tensor rstd) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.mode = Objects.requireNonNull(mode, "mode");
        this.groups = groups;
        this.input = input;
        this.xhat = xhat;
        this.mean = Objects.requireNonNull(mean, "mean");
        this.rstd = Objects.requireNonNull(rstd, "rstd");
    }

    /** A cache that keeps the forward's input and recomputes x̂ from it; arguments as for the x̂-storing one. */
    public static NormCache recomputing(NormKind kind, Mode mode, int groups, SavedInput input, Tensor mean,
                                        Tensor rstd) {
        return new NormCache(kind, mode, groups, Objects.requireNonNull(input, "input"), null, mean, rstd);
    }

    /** The op that produced it. */
    public NormKind kind() {
        return kind;
    }

    /** The mode of the forward. */
    public Mode mode() {
        return mode;
    }

    /** G for groupnorm, otherwise 1. */
    public int groups() {
        return groups;
    }

    /** The mean used. */
    public Tensor mean() {
        return mean;
    }

    /** 1/√(σ²+ε) used. */
    public Tensor rstd() {
        return rstd;
    }

    /** The shape of x and x̂. */
    public Shape shape() {
        return input != null ? input.shape() : xhat.shape();
    }

    /** The backend that owns the cache's data. */
    public Backend backend() {
        return input != null ? input.backend() : xhat.backend();
    }

    /** The kept input when this cache recomputes x̂, otherwise null. */
    public SavedInput savedInput() {
        return input;
    }

    /**
     * The normalized input x̂: the stored tensor, or on first call one computed from the kept input (then kept with
     * the cache and closed with it). Throws {@link IllegalStateException} if the cache is closed, or if the kept
     * input was modified in place after the forward.
     */
    public synchronized Tensor xhat() {
        if (xhat == null) {
            if (input.isClosed()) {
                throw new IllegalStateException(kind.id() + ": the cache is closed; its x̂ is gone");
            }
            xhat = input.normalize(this);
        }
        return xhat;
    }

    /** Whether the cache's data is gone (closed by {@link #close()} or by closing its tensors). */
    public synchronized boolean isClosed() {
        return mean.isClosed() || rstd.isClosed() || (input != null ? input.isClosed() : xhat.isClosed());
    }

    /** Releases x̂ (when computed or stored), the kept input and the statistics; idempotent. */
    @Override
    public synchronized void close() {
        if (xhat != null) {
            xhat.close();
        }
        if (input != null) {
            input.close();
        }
        mean.close();
        rstd.close();
    }

    @Override
    public String toString() {
        return "NormCache[" + kind.id() + ", " + mode + ", " + shape() + (input != null ? ", keeps x" : ", stores x̂")
                + (groups != 1 ? ", groups=" + groups : "") + "]";
    }
}
