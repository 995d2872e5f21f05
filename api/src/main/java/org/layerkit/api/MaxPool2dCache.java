package org.layerkit.api;

import java.util.Objects;

/**
 * What a max-pool forward keeps for its backward: where each window's maximum was. The caller owns it (closing it
 * closes {@code argmax}).
 *
 * @param argmax     {@code [N,C,H',W']}: for each output element, the position of its window's maximum within its
 *                   input plane, as the float value h·W + w (exact: the op refuses planes of more than 2²⁴
 *                   positions). Ties go to the first position in row-major window order; a NaN counts as larger than
 *                   every number, so a window holding NaN yields NaN and the position of its first NaN.
 * @param inputShape x's shape {@code [N,C,H,W]}
 * @param params     the forward's window
 */
public record MaxPool2dCache(Tensor argmax, Shape inputShape, Pool2dParams params) implements AutoCloseable {
    public MaxPool2dCache {
        Objects.requireNonNull(argmax, "argmax");
        Objects.requireNonNull(inputShape, "inputShape");
        Objects.requireNonNull(params, "params");
    }

    /** The output's (and dOut's) shape {@code [N,C,H',W']}. */
    public Shape outputShape() {
        return Shape.of(inputShape.dim(0), inputShape.dim(1), (int) params.outputHeight(inputShape.dim(2)),
                (int) params.outputWidth(inputShape.dim(3)));
    }

    @Override
    public void close() {
        argmax.close();
    }
}
