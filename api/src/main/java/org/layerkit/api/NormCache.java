package org.layerkit.api;

/**
 * What a normalization forward keeps for its backward.
 *
 * <p>Statistic shapes: batchnorm {@code [D]}, spatial batchnorm {@code [C]}, layernorm {@code [N]}, groupnorm
 * {@code [N,G]}. In EVAL mode of (spatial) batch norm, {@code mean}/{@code rstd} are copies derived from the
 * running statistics, and backward treats them as constants: dX = dOut·γ·rstd.
 *
 * @param kind   the op that produced it
 * @param mode   the mode of the forward
 * @param groups G for groupnorm, otherwise 1
 * @param xhat   the normalized input x̂, same shape as x
 * @param mean   the mean used
 * @param rstd   1/√(σ²+ε) used
 */
public record NormCache(NormKind kind, Mode mode, int groups, Tensor xhat, Tensor mean, Tensor rstd)
        implements AutoCloseable {
    @Override
    public void close() {
        xhat.close();
        mean.close();
        rstd.close();
    }
}
