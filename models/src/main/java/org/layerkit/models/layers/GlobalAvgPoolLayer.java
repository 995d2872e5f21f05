package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Global average pooling {@code [N,C,H,W] → [N,C]}: each channel's mean over its H×W plane. */
public final class GlobalAvgPoolLayer extends ParameterFreeLayer<Tensor> {
    public static final String TYPE = "global_avgpool";

    private Shape inputShape;

    public GlobalAvgPoolLayer(Backend backend) {
        super(backend);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Shape outputShape(Shape input) {
        Checks.requireShape(TYPE, input, 4, 0);
        return Shape.of(input.dim(0), input.dim(1));
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        inputShape = null;
        Tensor out = keepForward(() -> backend.globalAvgPoolForward(x));
        inputShape = x.shape();
        return out;
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone(TYPE + ".backward", inputShape);
        return keepGrad(() -> backend.globalAvgPoolBackward(dOut, inputShape));
    }

    /** {@code global_avgpool}: no keys. */
    public static final class Factory extends TypedFactory {
        public Factory() {
            super(TYPE, (backend, config) -> new GlobalAvgPoolLayer(backend));
        }
    }
}
