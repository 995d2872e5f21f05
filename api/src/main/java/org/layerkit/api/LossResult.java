package org.layerkit.api;

/**
 * Softmax cross-entropy averaged over the batch: {@code loss} has shape [1] and stays on the backend until read;
 * {@code dLogits} is ∂loss/∂logits, shape [N,K]. The caller owns both.
 */
public record LossResult(Tensor loss, Tensor dLogits) implements AutoCloseable {
    @Override
    public void close() {
        loss.close();
        dLogits.close();
    }
}
