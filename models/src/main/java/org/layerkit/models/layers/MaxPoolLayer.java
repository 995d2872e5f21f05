package org.layerkit.models.layers;

import java.util.List;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * 2-D max pooling of x {@code [N,C,H,W]} over K×K windows moved by a stride (no padding): out {@code [N,C,H',W']},
 * H' = ⌊(H − K)/stride⌋ + 1. The backward routes each output's gradient to its window's maximum (the first one on
 * ties), as the forward recorded it.
 */
public final class MaxPoolLayer implements Layer {
    public static final String TYPE = "maxpool";

    private final Backend backend;
    private final Pool2dParams params;
    private MaxPool2dResult result;
    private Tensor dX;

    public MaxPoolLayer(Backend backend, int kernel, int stride) {
        Checks.positive(TYPE, "kernel", kernel);
        Checks.positive(TYPE, "stride", stride);
        this.backend = backend;
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
        MaxPool2dResult r = backend.maxPool2dForward(x, params);
        Checks.close(result);
        result = r;
        return r.out();
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone(TYPE + ".backward", result);
        Tensor d = backend.maxPool2dBackward(dOut, result.cache());
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
        Checks.close(result);
        Checks.close(dX);
        result = null;
        dX = null;
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
