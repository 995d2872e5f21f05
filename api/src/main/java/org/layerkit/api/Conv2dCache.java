package org.layerkit.api;

import java.util.Objects;

/**
 * What a convolution forward keeps for its backward: the geometry (x's and w's shapes, the parameters, whether there
 * was a bias) and the forward's input x, which dW = Σ dOut ⊗ x needs, kept the way the backend chooses (a
 * {@link Saved}: a copy of x, x itself pinned, or x's unfolded columns). The weights are not kept: the backward
 * takes w again, as the normalization backwards take γ.
 *
 * <p>The rules for the caller are those of a {@link NormCache} that keeps x, and the conformance kit checks them on
 * every backend:
 * <ul>
 *   <li>the caller may close x after the forward: the cache holds on to what it needs until the cache is closed;</li>
 *   <li>if x is modified in place ({@code fill}, {@code copy}, {@code axpy}, an optimizer step, …) between the
 *       forward and the backward, the backward returns the gradients of the forward's x (a backend that copied it)
 *       or throws {@link IllegalStateException} naming {@code conv2d.backward} and the cache — never gradients of
 *       another input.</li>
 * </ul>
 */
public final class Conv2dCache implements AutoCloseable {
    /** The forward's input as a backend keeps it; the backward of the same backend reads it directly. */
    public interface Saved extends AutoCloseable {
        /** The backend that keeps it. */
        Backend backend();

        /** Whether {@link #close()} has been called (or what it kept is gone). */
        boolean isClosed();

        /** Lets go of what it keeps; idempotent. */
        @Override
        void close();
    }

    /** A {@link Saved} that owns one tensor of its backend, e.g. a copy of x; closing it closes the tensor. */
    public record SavedTensor(Tensor tensor) implements Saved {
        public SavedTensor {
            Objects.requireNonNull(tensor, "tensor");
        }

        @Override
        public Backend backend() {
            return tensor.backend();
        }

        @Override
        public boolean isClosed() {
            return tensor.isClosed();
        }

        @Override
        public void close() {
            tensor.close();
        }
    }

    private final Shape inputShape;
    private final Shape weightShape;
    private final boolean bias;
    private final Conv2dParams params;
    private final Saved saved;

    /**
     * @param inputShape  x's shape {@code [N,C,H,W]}
     * @param weightShape w's shape {@code [F,C,KH,KW]}
     * @param bias        whether the forward added a bias (then the backward returns dB)
     * @param params      the forward's stride, padding, dilation and groups
     * @param saved       the forward's input as the backend keeps it; the cache owns it
     */
    public Conv2dCache(Shape inputShape, Shape weightShape, boolean bias, Conv2dParams params, Saved saved) {
        this.inputShape = Objects.requireNonNull(inputShape, "inputShape");
        this.weightShape = Objects.requireNonNull(weightShape, "weightShape");
        this.bias = bias;
        this.params = Objects.requireNonNull(params, "params");
        this.saved = Objects.requireNonNull(saved, "saved");
    }

    /** x's shape {@code [N,C,H,W]}. */
    public Shape inputShape() {
        return inputShape;
    }

    /** w's shape {@code [F,C,KH,KW]}. */
    public Shape weightShape() {
        return weightShape;
    }

    /** The output's (and dOut's) shape {@code [N,F,H',W']}. */
    public Shape outputShape() {
        return Shape.of(inputShape.dim(0), weightShape.dim(0),
                (int) params.outputHeight(inputShape.dim(2), weightShape.dim(2)),
                (int) params.outputWidth(inputShape.dim(3), weightShape.dim(3)));
    }

    /** Whether the forward added a bias. */
    public boolean hasBias() {
        return bias;
    }

    /** The forward's parameters. */
    public Conv2dParams params() {
        return params;
    }

    /** The forward's input as the backend keeps it. */
    public Saved saved() {
        return saved;
    }

    /** The backend that owns the cache's data. */
    public Backend backend() {
        return saved.backend();
    }

    /** Whether the cache's data is gone. */
    public boolean isClosed() {
        return saved.isClosed();
    }

    /** Releases what the cache keeps; idempotent. */
    @Override
    public void close() {
        saved.close();
    }

    @Override
    public String toString() {
        return "Conv2dCache[x " + inputShape + ", w " + weightShape + (bias ? ", bias" : ", no bias") + ", " + params
                + (isClosed() ? ", closed" : "") + "]";
    }
}
