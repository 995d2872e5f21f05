package org.layerkit.api;

/**
 * Gradients of a convolution backward, each a new tensor the caller owns.
 *
 * @param dX gradient of the input, x's shape {@code [N,C,H,W]}; null when the backward was asked not to compute it
 *           (the first layer of a net needs no gradient of its images)
 * @param dW gradient of the weights, {@code [F,C,KH,KW]}
 * @param dB gradient of the bias, {@code [F]}; null when the forward had no bias
 */
public record Conv2dGrads(Tensor dX, Tensor dW, Tensor dB) implements AutoCloseable {
    @Override
    public void close() {
        if (dX != null) {
            dX.close();
        }
        dW.close();
        if (dB != null) {
            dB.close();
        }
    }
}
