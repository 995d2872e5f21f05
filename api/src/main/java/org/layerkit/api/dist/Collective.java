package org.layerkit.api.dist;

/**
 * The communication a data-parallel replica needs: R ranks (0 … R−1) that each make the same sequence of collective
 * calls. Implementations: in one process over threads, and over Apache Spark's barrier execution mode
 * ({@code layerkit-spark}). Every rank must make every call — a rank with nothing to contribute (0 examples) still
 * joins, else the others wait for it; a mismatch is an error of the implementation's choosing, never a silent hang
 * where the implementation can tell.
 *
 * <p>Results are deterministic: {@link #allGather} returns every rank's array in rank order, bit for bit as given
 * (NaN payloads and −0.0 included), and {@link #allReduceSum} sums them in rank order, so every rank computes the same
 * doubles.
 */
public interface Collective {
    /** This replica's rank, 0 ≤ rank &lt; {@link #size()}. */
    int rank();

    /** The number of replicas R. */
    int size();

    /**
     * Every rank's {@code local} array, indexed by rank, bit for bit; the arrays may differ in length between ranks.
     * Blocks until every rank has made this call.
     */
    double[][] allGather(double[] local);

    /** Returns once every rank has called it. */
    void barrier();

    /**
     * The element-wise sum of every rank's {@code local}, added in rank order ((x₀ + x₁) + x₂ …) so every rank gets
     * the same bits. Every rank must pass the same length.
     */
    default double[] allReduceSum(double[] local) {
        double[][] all = allGather(local);
        double[] sum = all[0].clone();
        for (int r = 1; r < all.length; r++) {
            if (all[r].length != sum.length) {
                throw new IllegalArgumentException("allReduceSum: local expected the same length on every rank, got "
                        + sum.length + " on rank 0 and " + all[r].length + " on rank " + r);
            }
            for (int i = 0; i < sum.length; i++) {
                sum[i] += all[r][i];
            }
        }
        return sum;
    }
}
