package org.layerkit.models.layers;

import java.util.List;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Tensor;

/** max(x, 0); backward passes dOut where the output is positive (exactly where x &gt; 0). */
public final class ReluLayer implements Layer {
    public static final String TYPE = "relu";

    private final Backend backend;
    private Tensor output;
    private Tensor dX;

    public ReluLayer(Backend backend) {
        this.backend = backend;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        Checks.close(output);
        output = null;
        output = backend.relu(x);
        return output;
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone("relu.backward", output);
        Checks.close(dX);
        dX = null;
        dX = backend.reluBackward(dOut, output);
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

    /** {@code relu}: no keys. */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new ReluLayer(backend);
        }
    }
}
