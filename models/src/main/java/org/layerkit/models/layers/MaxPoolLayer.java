package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * 2-D max pooling of x {@code [N,C,H,W]} over K×K windows moved by a stride (no padding): out {@code [N,C,H',W']},
 * H' = ⌊(H − K)/stride⌋ + 1. The backward routes each output's gradient to its window's maximum (the first one on
 * ties), as the forward recorded it.
 */
public final class MaxPoolLayer extends ParameterFreeLayer<MaxPool2dResult> {
    public static final String TYPE = "maxpool";

    private final Pool2dParams params;

    public MaxPoolLayer(Backend backend, int kernel, int stride) {
        super(backend);
        Checks.positive(TYPE, "kernel", kernel);
        Checks.positive(TYPE, "stride", stride);
        this.params = Pool2dParams.of(kernel, stride);
    }

    @Override
    public String type() {
        return TYPE;
    }

    public Pool2dParams params() {
        return params;
    }

    /** {@code [N,C,H',W']} for {@code [N,C,H,W]}; a window larger than the input is refused. */
    @Override
    public Shape outputShape(Shape input) {
        Checks.requireShape(TYPE, input, 4, 0);
        if (input.dim(2) < params.kernelH() || input.dim(3) < params.kernelW()) {
            throw new IllegalArgumentException(TYPE + ": input expected H and W of at least the kernel "
                    + params.kernelH() + ", got shape " + input);
        }
        return Shape.of(input.dim(0), input.dim(1), (int) params.outputHeight(input.dim(2)),
                (int) params.outputWidth(input.dim(3)));
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        return keepForward(() -> backend.maxPool2dForward(x, params)).out();
    }

    @Override
    public Tensor backward(Tensor dOut) {
        // the last forward's output and the positions of its maxima
        MaxPool2dResult result = forwardResult();
        Checks.forwardDone(TYPE + ".backward", result);
        return keepGrad(() -> backend.maxPool2dBackward(dOut, result.cache()));
    }


    /** {@code maxpool}: {@code kernel} (required), {@code stride} (the kernel). */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            int k = config.getInt("kernel");
            return new MaxPoolLayer(backend, k, config.getInt("stride", k));
        }
    }
}
