package org.layerkit.models.train;

/**
 * Training stopped because it diverged: the loss became NaN or infinite, or rose far above where it started (see
 * {@link SolverConfig#divergenceFactor()}), or a batch-norm running statistic became non-finite. The message names
 * where it happened and what was seen: {@code training diverged at epoch 1, iteration 20: loss is …}.
 */
public class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What was seen. */
    public enum Cause {
        /** The loss (of a minibatch, or an epoch's mean) is NaN or infinite. */
        NON_FINITE_LOSS,
        /** The loss is finite but above {@link SolverConfig#divergenceFactor()} × max(first loss, ln K). */
        LOSS_ABOVE_THRESHOLD,
        /** A batch-norm running statistic holds a NaN or ±∞ while the loss is finite. */
        NON_FINITE_STATISTIC
    }

    private final int epoch;
    private final long iteration;
    private final double loss;
    private final Cause reason;

    /** The loss is NaN or infinite. */
    public TrainingDivergedException(int epoch, long iteration, double loss, String hint) {
        this(epoch, iteration, loss, Cause.NON_FINITE_LOSS, "loss is " + loss, hint);
    }

    /** {@code what} says what was seen (e.g. a statistic that became non-finite); {@code loss} is the loss then. */
    public TrainingDivergedException(int epoch, long iteration, double loss, Cause cause, String what, String hint) {
        super("training diverged at epoch " + epoch + ", iteration " + iteration + ": " + what
                + (hint == null || hint.isEmpty() ? "" : " (" + hint + ")"));
        this.epoch = epoch;
        this.iteration = iteration;
        this.loss = loss;
        this.reason = cause;
    }

    /** What stopped training. */
    public Cause reason() {
        return reason;
    }

    /** The 1-based epoch. */
    public int epoch() {
        return epoch;
    }

    /** The 1-based iteration counted from the start of training (the epoch's last one for an epoch's mean loss). */
    public long iteration() {
        return iteration;
    }

    /** The loss read then: NaN or ±∞, a finite value above the threshold, or finite when a statistic failed. */
    public double loss() {
        return loss;
    }
}
