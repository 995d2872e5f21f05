package org.layerkit.models.train;

import java.nio.file.Path;

import org.layerkit.api.Contracts;

/**
 * How a {@link Solver} trains (CS231N {@code Solver} options). Build with {@link #builder()}.
 *
 * @param epochs               passes over the training set
 * @param batchSize            examples per minibatch; each epoch is a fresh permutation, cut into ⌊N/batchSize⌋
 *                             full batches (the remainder is skipped that epoch, so batch norm never sees N = 1);
 *                             a batch larger than the training set is refused by the {@link Solver}, not clamped
 * @param learningRateDecay    the learning rate is multiplied by this after every epoch (1 = constant)
 * @param seed                 seeds the shuffles and the accuracy subsamples (epoch e shuffles with a generator
 *                             derived from (seed, e), so a resumed run shuffles exactly like an uninterrupted one)
 * @param trainAccuracySamples train accuracy is measured on this many random training examples (0 = all)
 * @param valAccuracySamples   validation accuracy on this many random validation examples (0 = all)
 * @param lossEvery            the minibatch loss is read from the device (recorded, checked for NaN/∞ and sent to
 *                             listeners) every this many iterations; the epoch's mean loss is always exact because
 *                             losses accumulate on the device
 * @param evalBatchSize        batch size of the accuracy evaluations
 * @param restoreBest          put back the parameters (and batch-norm statistics) of the epoch with the best
 *                             validation accuracy at the end; without validation data nothing is restored
 * @param checkpoint           if not null, a checkpoint (net, optimizer, epochs completed) is written atomically to
 *                             this file after every epoch
 * @param divergenceFactor     training stops with a {@link TrainingDivergedException} when a loss it reads (or an
 *                             epoch's mean loss) exceeds this factor times max(the loss of the run's first
 *                             iteration, ln K) for K classes — a finite blow-up, as a NaN loss is a non-finite one;
 *                             {@code +∞} switches the check off (see {@link Solver} for why the rule never stops a
 *                             healthy run)
 */
public record SolverConfig(int epochs, int batchSize, double learningRateDecay, long seed, int trainAccuracySamples,
                           int valAccuracySamples, int lossEvery, int evalBatchSize, boolean restoreBest,
                           Path checkpoint, double divergenceFactor) implements java.io.Serializable {
    /** The default {@link #divergenceFactor()}: see {@link Solver} for how it was chosen. */
    public static final double DEFAULT_DIVERGENCE_FACTOR = 100;

    public SolverConfig {
        check(epochs >= 1, "epochs", "an integer >= 1", epochs);
        check(batchSize >= 2, "batchSize", "an integer >= 2", batchSize);
        check(learningRateDecay > 0 && learningRateDecay <= 1, "learningRateDecay", "a value in (0,1]", learningRateDecay);
        check(trainAccuracySamples >= 0, "trainAccuracySamples", "an integer >= 0", trainAccuracySamples);
        check(valAccuracySamples >= 0, "valAccuracySamples", "an integer >= 0", valAccuracySamples);
        check(lossEvery >= 1, "lossEvery", "an integer >= 1", lossEvery);
        check(evalBatchSize >= 1, "evalBatchSize", "an integer >= 1", evalBatchSize);
        check(divergenceFactor > 1, "divergenceFactor", "a factor > 1 (or +Infinity for no check)", divergenceFactor);
    }

    /** A {@link Path} is not serializable: a config with a checkpoint file travels as its path's text. */
    private Object writeReplace() {
        return checkpoint == null ? this : new WithCheckpoint(toBuilder().checkpoint(null).build(), checkpoint.toString());
    }

    private record WithCheckpoint(SolverConfig config, String checkpoint) implements java.io.Serializable {
        private Object readResolve() {
            return config.toBuilder().checkpoint(Path.of(checkpoint)).build();
        }
    }

    /** Whether finite divergence is checked ({@link #divergenceFactor()} is finite). */
    public boolean checksDivergence() {
        return divergenceFactor != Double.POSITIVE_INFINITY;
    }

    private static void check(boolean ok, String arg, String expected, Object actual) {
        if (!ok) {
            throw Contracts.bad("SolverConfig", arg, expected, actual);
        }
    }

    /**
     * Defaults: 10 epochs, batch 100, no decay, seed 0, train accuracy on 1000 examples, all validation examples,
     * loss read every iteration, evaluation batches of 1000, best parameters restored, no checkpoint, divergence
     * factor {@value #DEFAULT_DIVERGENCE_FACTOR}.
     */
    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.epochs = epochs;
        b.batchSize = batchSize;
        b.learningRateDecay = learningRateDecay;
        b.seed = seed;
        b.trainAccuracySamples = trainAccuracySamples;
        b.valAccuracySamples = valAccuracySamples;
        b.lossEvery = lossEvery;
        b.evalBatchSize = evalBatchSize;
        b.restoreBest = restoreBest;
        b.checkpoint = checkpoint;
        b.divergenceFactor = divergenceFactor;
        return b;
    }

    /** Builds a {@link SolverConfig}. */
    public static final class Builder {
        private int epochs = 10;
        private int batchSize = 100;
        private double learningRateDecay = 1.0;
        private long seed;
        private int trainAccuracySamples = 1000;
        private int valAccuracySamples;
        private int lossEvery = 1;
        private int evalBatchSize = 1000;
        private boolean restoreBest = true;
        private Path checkpoint;
        private double divergenceFactor = DEFAULT_DIVERGENCE_FACTOR;

        private Builder() {
        }

        public Builder epochs(int v) {
            epochs = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder learningRateDecay(double v) {
            learningRateDecay = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder trainAccuracySamples(int v) {
            trainAccuracySamples = v;
            return this;
        }

        public Builder valAccuracySamples(int v) {
            valAccuracySamples = v;
            return this;
        }

        public Builder lossEvery(int v) {
            lossEvery = v;
            return this;
        }

        public Builder evalBatchSize(int v) {
            evalBatchSize = v;
            return this;
        }

        public Builder restoreBest(boolean v) {
            restoreBest = v;
            return this;
        }

        public Builder checkpoint(Path v) {
            checkpoint = v;
            return this;
        }

        /** Stops on a loss above {@code v} × max(first loss, ln K); {@code +∞} switches the check off. */
        public Builder divergenceFactor(double v) {
            divergenceFactor = v;
            return this;
        }

        /** No finite-divergence check (a NaN or infinite loss still stops training). */
        public Builder noDivergenceCheck() {
            divergenceFactor = Double.POSITIVE_INFINITY;
            return this;
        }

        public SolverConfig build() {
            return new SolverConfig(epochs, batchSize, learningRateDecay, seed, trainAccuracySamples,
                    valAccuracySamples, lossEvery, evalBatchSize, restoreBest, checkpoint, divergenceFactor);
        }
    }
}
