package org.layerkit.models.train;

import java.util.List;

/**
 * What a {@link Solver} run recorded.
 *
 * @param losses          minibatch losses as read (every {@link SolverConfig#lossEvery()}-th iteration)
 * @param epochs          one event per epoch, in order
 * @param bestValAccuracy the best validation accuracy seen (NaN without validation data)
 * @param bestEpoch       the epoch that reached it (0 when none)
 */
public record TrainingHistory(List<LossPoint> losses, List<EpochEvent> epochs, double bestValAccuracy,
                              int bestEpoch) implements java.io.Serializable {
    public TrainingHistory {
        losses = List.copyOf(losses);
        epochs = List.copyOf(epochs);
    }

    /** The train accuracy of each epoch. */
    public double[] trainAccuracies() {
        return epochs.stream().mapToDouble(EpochEvent::trainAccuracy).toArray();
    }

    /** The validation accuracy of each epoch. */
    public double[] valAccuracies() {
        return epochs.stream().mapToDouble(EpochEvent::valAccuracy).toArray();
    }

    /** The mean training loss of each epoch. */
    public double[] meanLosses() {
        return epochs.stream().mapToDouble(EpochEvent::meanLoss).toArray();
    }
}
