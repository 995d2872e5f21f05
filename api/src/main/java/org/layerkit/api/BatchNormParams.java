package org.layerkit.api;

/**
 * The per-call parameters a backend's batch-norm kernel receives: the effective {@code decay} of this update has
 * already been resolved from {@link BatchNormOptions} (cumulative averaging included).
 *
 * @param eps                added to the variance before the square root, &gt; 0
 * @param decay              {@code r = decay·r + (1−decay)·batch}, in [0,1]
 * @param unbiasedRunningVar running variance receives σ²·M/(M−1) instead of σ² (M = elements per statistic)
 */
public record BatchNormParams(float eps, float decay, boolean unbiasedRunningVar) {
}
