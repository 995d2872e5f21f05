package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * {@code [N, d1, d2, …] → [N, d1·d2·…]} (e.g. {@code [N,C,H,W] → [N,C·H·W]}, the row-major order PyTorch's
 * {@code Flatten} and CS231N's {@code x.reshape(N, -1)} use), and the backward the other way round, both through
 * {@link Backend#reshape}: a view of the same storage where the backend allows it (the cpu backend does; nothing is
 * copied), else a copy. The output is a view of the previous layer's output, valid as long as that one is (until
 * that layer's next forward), as the layer contract asks.
 */
public final class FlattenLayer extends ParameterFreeLayer<Tensor> {
    public static final String TYPE = "flatten";

    private Shape inputShape;

    public FlattenLayer(Backend backend) {
        super(backend);
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
        inputShape = null;
        Tensor view = keepForward(() -> backend.reshape(x, out));
        inputShape = x.shape();
        return view;
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone(TYPE + ".backward", inputShape);
        return keepGrad(() -> backend.reshape(dOut, inputShape));
    }

    /** {@code flatten}: no keys. */
    public static final class Factory extends TypedFactory {
        public Factory() {
            super(TYPE, (backend, config) -> new FlattenLayer(backend));
        }
    }
}
