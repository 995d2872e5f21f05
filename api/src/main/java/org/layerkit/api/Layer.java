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
