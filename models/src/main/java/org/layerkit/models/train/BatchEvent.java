package org.layerkit.models.train;

/**
 * Progress after a minibatch whose loss was read from the device (every {@link SolverConfig#lossEvery()}-th).
 *
 * @param epoch             1-based epoch
 * @param epochs            total epochs of this run
 * @param iteration         1-based iteration since the start of training
 * @param iterations        total iterations of this run
 * @param loss              the minibatch's training loss (data loss + L2 term)
 * @param examplesPerSecond training throughput since the previous event
 */
public record BatchEvent(int epoch, int epochs, long iteration, long iterations, double loss,
                         double examplesPerSecond) {
}
