package org.layerkit.api;

/**
 * User-facing options of batch normalization (plain and spatial).
 *
 * @param eps                added to the variance before the square root; must be &gt; 0
 * @param decay              running statistics follow {@code r = decay·r + (1−decay)·batch} (CS231N/ONNX
 *                           convention; PyTorch's momentum m is decay = 1−m); in [0,1]
 * @param unbiasedRunningVar store the unbiased batch variance σ²·M/(M−1) in the running variance (PyTorch parity);
 *                           normalization itself always uses the biased variance
 * @param cumulativeAverage  ignore {@code decay} and keep a cumulative average: the k-th update (k = 1, 2, …) uses
 *                           decay = (k−1)/k (PyTorch's {@code momentum=None})
 */
public record BatchNormOptions(float eps, float decay, boolean unbiasedRunningVar, boolean cumulativeAverage) {
    public static final float DEFAULT_EPS = 1e-5f;
    public static final float DEFAULT_DECAY = 0.9f;

    /** eps 1e-5, decay 0.9, biased running variance, exponential average. */
    public static BatchNormOptions defaults() {
        return new BatchNormOptions(DEFAULT_EPS, DEFAULT_DECAY, false, false);
    }

    /** PyTorch's {@code BatchNorm} defaults: eps 1e-5, momentum 0.1 (decay 0.9), unbiased running variance. */
    public static BatchNormOptions pytorch() {
        return new BatchNormOptions(DEFAULT_EPS, DEFAULT_DECAY, true, false);
    }

    public BatchNormOptions withEps(float e) {
        return new BatchNormOptions(e, decay, unbiasedRunningVar, cumulativeAverage);
    }

    public BatchNormOptions withDecay(float d) {
        return new BatchNormOptions(eps, d, unbiasedRunningVar, cumulativeAverage);
    }

    /** The kernel parameters for the next update of {@code running}. */
    public BatchNormParams params(RunningStats running) {
        float d = cumulativeAverage
                ? (float) ((double) running.batchesTracked() / (running.batchesTracked() + 1))
                : decay;
        return new BatchNormParams(eps, d, unbiasedRunningVar);
    }
}
