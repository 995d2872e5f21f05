package org.layerkit.api;

/** Gradients of a normalization backward; γ and β gradients have γ's shape. The caller owns all three. */
public record NormGrads(Tensor dX, Tensor dGamma, Tensor dBeta) implements AutoCloseable {
    @Override
    public void close() {
        dX.close();
        dGamma.close();
        dBeta.close();
    }
}
