package org.layerkit.api;

/**
 * The running mean and variance of a batch-norm layer, shape {@code [D]} (or {@code [C]} for spatial batch norm),
 * updated in place by training forwards, plus the number of updates so far (for cumulative averaging).
 *
 * <p><b>Threads.</b> A TRAIN forward through {@link Backend#batchNormForward(Tensor, Tensor, Tensor, RunningStats,
 * BatchNormOptions, Mode)} (or the spatial one) resolves the decay, updates the tensors and counts the update under
 * this object's lock, so forwards on several threads that share one RunningStats lose no update and count each once;
 * they apply in the order the threads take the lock. Reading the tensors while another thread updates them sees
 * either state.
 */
public final class RunningStats implements AutoCloseable {
    private final Tensor mean;
    private final Tensor var;
    private long batchesTracked;

    public RunningStats(Tensor mean, Tensor var, long batchesTracked) {
        this.mean = mean;
        this.var = var;
        this.batchesTracked = batchesTracked;
    }

    /** Zero mean, unit variance, no batches tracked: the usual initial state. */
    public static RunningStats initial(Backend backend, int features) {
        Tensor m = backend.zeros(Shape.of(features));
        Tensor v = backend.zeros(Shape.of(features));
        backend.fill(v, 1f);
        return new RunningStats(m, v, 0);
    }

    public Tensor mean() {
        return mean;
    }

    public Tensor var() {
        return var;
    }

    public synchronized long batchesTracked() {
        return batchesTracked;
    }

    /** Called once after each training update of the tensors. */
    public synchronized void markUpdated() {
        batchesTracked++;
    }

    @Override
    public void close() {
        mean.close();
        var.close();
    }
}
