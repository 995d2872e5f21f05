package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.Mode;
import org.layerkit.api.Tensor;

/** max(x, 0); backward passes dOut where the output is positive (exactly where x &gt; 0). */
public final class ReluLayer extends ParameterFreeLayer<Tensor> {
    public static final String TYPE = "relu";

    public ReluLayer(Backend backend) {
        super(backend);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        return keepForward(() -> backend.relu(x));
    }

    @Override
    public Tensor backward(Tensor dOut) {
        // the last output is the backward's mask: dOut passes where it is positive
        Tensor output = forwardResult();
        Checks.forwardDone("relu.backward", output);
        return keepGrad(() -> backend.reluBackward(dOut, output));
    }


    /** {@code relu}: no keys. */
    public static final class Factory extends TypedFactory {
        public Factory() {
            super(TYPE, (backend, config) -> new ReluLayer(backend));
        }
    }
}
