package org.layerkit.models.train;

/** One entry of the loss history: the minibatch loss at a 1-based iteration of a 1-based epoch. */
public record LossPoint(int epoch, long iteration, double loss) implements java.io.Serializable {
}
