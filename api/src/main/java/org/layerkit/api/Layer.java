package org.layerkit.api;

import java.util.List;
import java.util.Map;

/**
 * A differentiable layer on one backend.
 *
 * <p>Ownership: the tensor returned by {@link #forward} and by {@link #backward} belongs to the layer and stays valid
 * until the next call of the same method (the layer may reuse its storage) or {@link #close()}; callers that need it
 * longer copy it. Inputs are not retained beyond what backward needs.
 *
 * <p>Threads: a layer is not thread-safe — its forward keeps what its backward needs, and its outputs are reused —
 * so each layer is used by one thread at a time (the caller hands it over with the usual happens-before, e.g. an
 * executor). Layers on different threads may share one backend ({@link Backend} is thread-safe), and so may their
 * batch-norm running statistics.
 */
public interface Layer extends AutoCloseable {
    /** The registered type name, e.g. {@code batchnorm}. */
    String type();

    /** Computes the output for x in the given mode, keeping what backward needs. */
    Tensor forward(Tensor x, Mode mode);

    /** Given ∂loss/∂out of the last forward, overwrites each parameter's grad and returns ∂loss/∂x. */
    Tensor backward(Tensor dOut);

    /**
     * Like {@link #backward(Tensor)}; with {@code inputGrad} false the caller needs no ∂loss/∂x (the first layer of a
     * net, whose input is the data), so the layer may skip computing it and return null — the parameters' gradients
     * are overwritten either way. The default computes it anyway.
     */
    default Tensor backward(Tensor dOut, boolean inputGrad) {
        return backward(dOut);
    }

    /**
     * The shape of {@link #forward}'s output for an input of shape {@code input} (the batch dimension included),
     * without computing anything; an input this layer cannot take is an {@link IllegalArgumentException} naming what
     * it expected. Nets chain these from their input shape when they are built, so a mismatch is found before any
     * data flows. The default, for layers that keep the shape (ReLU, dropout), returns {@code input}: a layer that
     * changes the shape or requires a rank must override it.
     */
    default Shape outputShape(Shape input) {
        return input;
    }

    /** The trainable parameters, in a stable order (empty for ReLU, dropout). */
    List<Parameter> parameters();

    /**
     * Non-trainable state saved with the model, such as batch-norm running statistics, by stable name; the tensors
     * are the layer's own (loading writes into them).
     */
    default Map<String, Tensor> buffers() {
        return Map.of();
    }

    /** Releases every tensor the layer owns. */
    @Override
    void close();
}
