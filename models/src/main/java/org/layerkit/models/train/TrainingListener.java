package org.layerkit.models.train;

/**
 * Receives a {@link Solver}'s progress; every method has an empty default. Called on the training thread, so keep
 * it quick. A listener that throws stops training with that exception.
 */
public interface TrainingListener {
    /** Before the first step. */
    default void onStart(SolverConfig config, int iterationsPerEpoch) {
    }

    /** After each minibatch whose loss was read (see {@link SolverConfig#lossEvery()}). */
    default void onBatch(BatchEvent event) {
    }

    /** After each epoch's evaluation. */
    default void onEpoch(EpochEvent event) {
    }

    /** After the last epoch (and after the best parameters were restored). */
    default void onEnd(TrainingHistory history) {
    }
}
