package org.layerkit.models.layers;

import java.util.List;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * {@code [N, d1, d2, …] → [N, d1·d2·…]} (e.g. {@code [N,C,H,W] → [N,C·H·W]}, the row-major order PyTorch's
 * {@code Flatten} and CS231N's {@code x.reshape(N, -1)} use), and the backward the other way round, both through
 * {@link Backend#reshape}: a view of the same storage where the backend allows it (the cpu backend does; nothing is
 * copied), else a copy. The output is a view of the previous layer's output, valid as long as that one is (until
 * that layer's next forward), as the layer contract asks.
 */
public final class FlattenLayer implements Layer {
    public static final String TYPE = "flatten";

    private final Backend backend;
    private Shape inputShape;
    private Tensor output;
    private Tensor dX;

    public FlattenLayer(Backend backend) {
        this.backend = backend;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input == null || input.rank() < 2) {
            throw new IllegalArgumentException(TYPE + ": input expected rank >= 2 ([N, ...]), got "
                    + (input == null ? "null" : "shape " + input));
        }
        return Shape.of(input.dim(0), input.size() / input.dim(0));
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        Shape out = outputShape(x.shape());
        Tensor view = backend.reshape(x, out);
        Checks.close(output);
        output = view;
        inputShape = x.shape();
        return output;
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone(TYPE + ".backward", inputShape);
        Tensor d = backend.reshape(dOut, inputShape);
        Checks.close(dX);
        dX = d;
        return dX;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of();
    }

    @Override
    public void close() {
        Checks.close(output);
        Checks.close(dX);
        output = null;
        dX = null;
    }

    /** {@code flatten}: no keys. */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new FlattenLayer(backend);
        }
    }
}
