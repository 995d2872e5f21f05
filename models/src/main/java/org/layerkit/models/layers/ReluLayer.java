package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.Mode;
import org.layerkit.api.Tensor;

/** max(x, 0); backward passes dOut where the output is positive (exactly where x &gt; 0). */
public final class ReluLayer extends ParameterFreeLayer {
    public static final String TYPE = "relu";

    /** The last forward's output: the backward's mask (dOut passes where it is positive). */
    private Tensor output;

    public ReluLayer(Backend backend) {
        super(backend);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        output = null;
        output = keepForward(() -> backend.relu(x));
        return output;
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone("relu.backward", output);
        return keepGrad(() -> backend.reluBackward(dOut, output));
    }

    @Override
    public void close() {
        super.close();
        output = null;
    }

    /** {@code relu}: no keys. */
    public static final class Factory extends TypedFactory {
        public Factory() {
            super(TYPE, (backend, config) -> new ReluLayer(backend));
        }
    }
}
