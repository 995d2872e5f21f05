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

/** Global average pooling {@code [N,C,H,W] → [N,C]}: each channel's mean over its H×W plane. */
public final class GlobalAvgPoolLayer implements Layer {
    public static final String TYPE = "global_avgpool";

    private final Backend backend;
    private Shape inputShape;
    private Tensor output;
    private Tensor dX;

    public GlobalAvgPoolLayer(Backend backend) {
        this.backend = backend;
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
        Tensor out = backend.globalAvgPoolForward(x);
        Checks.close(output);
        output = out;
        inputShape = x.shape();
        return output;
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone(TYPE + ".backward", inputShape);
        Tensor d = backend.globalAvgPoolBackward(dOut, inputShape);
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

    /** {@code global_avgpool}: no keys. */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new GlobalAvgPoolLayer(backend);
        }
    }
}
