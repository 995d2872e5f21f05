package org.layerkit.models.layers;

import java.util.List;
import java.util.function.BiFunction;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Parameter;
import org.layerkit.api.Tensor;

/**
 * A layer without parameters that owns what its last forward returned (an output, or a result holding the output
 * and a backward cache) and the dX of its last backward, as the layer contract asks: each is valid until the same
 * call's next use, closed when replaced and by {@link #close()}. The old one is closed before the new one is made, so
 * a backend that reuses freed buffers hands it straight back; after a failed call the layer holds none (a backward
 * then reports that no forward has run).
 */
abstract class ParameterFreeLayer<R extends AutoCloseable> implements Layer {
    protected final Backend backend;
    private R forwardResult;
    private Tensor dX;

    ParameterFreeLayer(Backend backend) {
        this.backend = backend;
    }

    /** Closes the previous forward's result, then keeps (and returns) what {@code forward} makes. */
    final R keepForward(java.util.function.Supplier<R> forward) {
        Checks.close(forwardResult);
        forwardResult = null;
        forwardResult = forward.get();
        return forwardResult;
    }

    /** The last forward's result, for the backward: null before a forward, after a failed one and after close. */
    final R forwardResult() {
        return forwardResult;
    }

    /** Closes the previous dX, then keeps (and returns) what {@code backward} makes. */
    final Tensor keepGrad(java.util.function.Supplier<Tensor> backward) {
        Checks.close(dX);
        dX = null;
        dX = backward.get();
        return dX;
    }

    @Override
    public final List<Parameter> parameters() {
        return List.of();
    }

    @Override
    public final void close() {
        Checks.close(forwardResult);
        Checks.close(dX);
        forwardResult = null;
        dX = null;
    }

    /** A factory by type name and constructor (a services entry still needs its own public no-argument class). */
    abstract static class TypedFactory implements LayerFactory {
        private final String type;
        private final BiFunction<Backend, LayerConfig, Layer> create;

        TypedFactory(String type, BiFunction<Backend, LayerConfig, Layer> create) {
            this.type = type;
            this.create = create;
        }

        @Override
        public final String type() {
            return type;
        }

        @Override
        public final Layer create(Backend backend, LayerConfig config) {
            return create.apply(backend, config);
        }
    }
}
