package org.layerkit.api;

/**
 * A group of {@link #size()} replicas that exchange small arrays of doubles, each replica holding one instance with
 * its {@link #rank()} (0 … size − 1): what synchronized batch norm and data-parallel training need from the
 * transport. Implementations: {@link InProcessCollective} (threads of one JVM); a cluster engine's barrier (Spark's
 * {@code BarrierTaskContext.allGather}) in its own module.
 *
 * <p><b>Every rank makes the same calls in the same order.</b> A rank that skips a call, or makes another, must make
 * the others fail with an error that says so, not hang: implementations detect mismatched calls where they can and
 * time out where they cannot. After a failure the group is broken: every later call on every rank throws.
 * Results are the same on every rank and, for the same inputs, on every run: arrays come back in rank order, and
 * {@link #allReduceSum} adds in rank order.
 *
 * <p>One instance is used by one thread at a time (each replica's own).
 */
public interface Collective {
    /** This replica's rank, 0 … size − 1. */
    int rank();

    /** The number of replicas. */
    int size();

    /**
     * Every rank's {@code data}, indexed by rank (this rank's own included), once all ranks have called; arrays may
     * differ in length between ranks. The returned arrays are copies the caller may keep.
     *
     * @throws CollectiveException when another rank failed, called something else, or did not arrive in time
     */
    double[][] allGather(double[] data);

    /** Waits until every rank has called it. */
    void barrier();

    /**
     * The element-wise sum over ranks of {@code data} (the same length on every rank), added in rank order
     * (((r₀ + r₁) + r₂) + …) so that every rank gets the same bits: derived from {@link #allGather}.
     */
    default double[] allReduceSum(double[] data) {
        double[][] all = allGather(data);
        double[] sum = all[0].clone();
        for (int r = 1; r < all.length; r++) {
            if (all[r].length != sum.length) {
                throw new CollectiveException("allReduceSum: data expected the same length on every rank, got "
                        + sum.length + " doubles on rank 0 and " + all[r].length + " on rank " + r);
            }
            for (int i = 0; i < sum.length; i++) {
                sum[i] += all[r][i];
            }
        }
        return sum;
    }

    /**
     * Breaks the group because this rank failed: the others' pending and later calls throw a
     * {@link CollectiveException} naming this rank and {@code cause}, instead of waiting for a call that will not
     * come. Callers that catch a failure between collective calls call this before rethrowing. The default does
     * nothing (the others then time out).
     */
    default void abort(Throwable cause) {
    }
}
