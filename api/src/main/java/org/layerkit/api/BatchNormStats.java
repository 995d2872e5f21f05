package org.layerkit.api;

import java.util.Arrays;
import java.util.List;

/**
 * The statistics of one part of a batch-norm input, per channel (D of {@code [N,D]}, C of {@code [N,C,H,W]}): the
 * number of values behind each statistic (N, or N·H·W), their mean, and M2 = Σ(x − mean)², the sum of squared
 * deviations, all in double. This is what replicas exchange in synchronized batch norm: partial statistics merge
 * exactly (up to double rounding) with Chan's parallel formula ({@link #merge}), where the variance or 1/√(σ²+ε) of
 * each part do not (1/√(σ²+ε) loses σ² entirely when σ² is far below ε). {@code docs/ops/batchnorm_parts.md}.
 *
 * <p>A part with no values has count 0, and mean and M2 of 0; it merges as the identity.
 *
 * @param count values per channel, ≥ 0
 * @param mean  per-channel means
 * @param m2    per-channel sums of squared deviations from the mean, ≥ 0
 */
public record BatchNormStats(long count, double[] mean, double[] m2) {
    public BatchNormStats {
        if (count < 0) {
            throw Contracts.bad("batchnorm.stats", "count", ">= 0", count);
        }
        if (mean == null || m2 == null || mean.length != m2.length) {
            throw Contracts.bad("batchnorm.stats", "mean, m2", "two arrays of one length (the channels)",
                    (mean == null ? "null" : mean.length) + " and " + (m2 == null ? "null" : m2.length));
        }
    }

    /** The statistics of a part with no values ({@code channels} zeros): the identity of {@link #merge}. */
    public static BatchNormStats empty(int channels) {
        return new BatchNormStats(0, new double[channels], new double[channels]);
    }

    /** The channels (C or D). */
    public int channels() {
        return mean.length;
    }

    /**
     * The statistics of the union of this part and {@code other}, by Chan, Golub and LeVeque's pairwise formula:
     * n = nₐ + n_b, δ = μ_b − μₐ, μ = μₐ + δ·n_b/n, M2 = M2ₐ + M2_b + δ²·nₐ·n_b/n. Not commutative in rounding:
     * merge in a fixed order (rank order, {@link #mergeInOrder}) for the same bits everywhere.
     */
    public BatchNormStats merge(BatchNormStats other) {
        if (other.channels() != channels()) {
            throw Contracts.bad("batchnorm.stats.merge", "other", channels() + " channels",
                    other.channels() + " channels");
        }
        if (other.count == 0) {
            return this;
        }
        if (count == 0) {
            return other;
        }
        double na = count;
        double nb = other.count;
        double n = na + nb;
        double[] mu = new double[channels()];
        double[] s = new double[channels()];
        for (int c = 0; c < mu.length; c++) {
            double delta = other.mean[c] - mean[c];
            mu[c] = mean[c] + delta * (nb / n);
            s[c] = m2[c] + other.m2[c] + delta * delta * (na * nb / n);
        }
        return new BatchNormStats(count + other.count, mu, s);
    }

    /** The parts merged left to right, starting from the first ({@code parts} non-empty). */
    public static BatchNormStats mergeInOrder(List<BatchNormStats> parts) {
        if (parts == null || parts.isEmpty()) {
            throw Contracts.bad("batchnorm.stats.merge", "parts", "at least one part", "none");
        }
        BatchNormStats acc = parts.get(0);
        for (int i = 1; i < parts.size(); i++) {
            acc = acc.merge(parts.get(i));
        }
        return acc;
    }

    /** The biased variance M2/count per channel (NaN for count 0). */
    public double[] variance() {
        double[] v = new double[channels()];
        for (int c = 0; c < v.length; c++) {
            v[c] = m2[c] / count;
        }
        return v;
    }

    /** The unbiased variance M2/(count − 1) per channel (NaN or ∞ for count &lt; 2). */
    public double[] unbiasedVariance() {
        double[] v = new double[channels()];
        for (int c = 0; c < v.length; c++) {
            v[c] = m2[c] / (count - 1);
        }
        return v;
    }

    /** 1/√(M2/count + ε) per channel, in double. */
    public double[] invstd(double eps) {
        double[] r = new double[channels()];
        for (int c = 0; c < r.length; c++) {
            r[c] = 1.0 / Math.sqrt(m2[c] / count + eps);
        }
        return r;
    }

    /** [count, mean…, M2…]: 1 + 2·C doubles, exact (the count is below 2⁵³), for a collective to carry. */
    public double[] toArray() {
        double[] a = new double[1 + 2 * channels()];
        a[0] = count;
        System.arraycopy(mean, 0, a, 1, channels());
        System.arraycopy(m2, 0, a, 1 + channels(), channels());
        return a;
    }

    /** The inverse of {@link #toArray()}. */
    public static BatchNormStats fromArray(double[] a) {
        if (a == null || a.length % 2 != 1 || !(a[0] >= 0) || a[0] != Math.rint(a[0])) {
            throw Contracts.bad("batchnorm.stats", "array", "[count, mean[C], m2[C]] with an integer count >= 0",
                    a == null ? "null" : a.length + " doubles" + (a.length > 0 ? ", count " + a[0] : ""));
        }
        int c = (a.length - 1) / 2;
        return new BatchNormStats((long) a[0], Arrays.copyOfRange(a, 1, 1 + c), Arrays.copyOfRange(a, 1 + c, a.length));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchNormStats s && s.count == count && Arrays.equals(s.mean, mean)
                && Arrays.equals(s.m2, m2);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(count) * 31 + Arrays.hashCode(mean) * 17 + Arrays.hashCode(m2);
    }

    @Override
    public String toString() {
        return "BatchNormStats[count=" + count + ", mean=" + Arrays.toString(mean) + ", m2=" + Arrays.toString(m2)
                + "]";
    }
}
