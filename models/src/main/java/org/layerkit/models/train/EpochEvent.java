package org.layerkit.models.train;

/**
 * Progress after an epoch.
 *
 * @param epoch            1-based epoch
 * @param epochs           total epochs of this run
 * @param trainAccuracy    accuracy on a random subsample of the training set (EVAL mode)
 * @param valAccuracy      accuracy on the validation set (NaN when it is empty)
 * @param meanLoss         mean minibatch loss over the epoch
 * @param seconds          wall time of the epoch's training steps (excluding the accuracy evaluation)
 * @param learningRate     the learning rate used during the epoch
 * @param improved         whether this epoch set a new best validation accuracy
 */
public record EpochEvent(int epoch, int epochs, double trainAccuracy, double valAccuracy, double meanLoss,
                         double seconds, double learningRate, boolean improved) implements java.io.Serializable {
}
