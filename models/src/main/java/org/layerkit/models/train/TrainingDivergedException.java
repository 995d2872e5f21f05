package org.layerkit.models.train;

/** Training stopped because the loss became NaN or infinite; names where it happened and the loss value. */
public class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int epoch;
    private final long iteration;
    private final double loss;

    public TrainingDivergedException(int epoch, long iteration, double loss, String hint) {
        super("training diverged at epoch " + epoch + ", iteration " + iteration + ": loss is " + loss
                + (hint == null || hint.isEmpty() ? "" : " (" + hint + ")"));
        this.epoch = epoch;
        this.iteration = iteration;
        this.loss = loss;
    }

    /** The 1-based epoch. */
    public int epoch() {
        return epoch;
    }

    /** The 1-based iteration counted from the start of training. */
    public long iteration() {
        return iteration;
    }

    /** The offending loss (NaN or ±∞). */
    public double loss() {
        return loss;
    }
}
