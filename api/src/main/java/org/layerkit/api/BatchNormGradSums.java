package org.layerkit.api;

import java.util.Arrays;

/**
 * The two per-channel sums of a batch-norm backward over one part of the batch, in double: Σ dOut (= that part's
 * dβ) and Σ dOut·x̂ (= its dγ). Summed over the parts of a batch they are the whole batch's, and with the global
 * count they give every part's dX ({@link Backend#batchNormBackwardElementwise}). PyTorch exchanges
 * Σ dOut·(x − μ) instead, which is Σ dOut·x̂ / rstd: the same information, since rstd is the same on every replica.
 *
 * @param sumDy     Σ dOut per channel
 * @param sumDyXhat Σ dOut·x̂ per channel
 */
public record BatchNormGradSums(double[] sumDy, double[] sumDyXhat) {
    public BatchNormGradSums {
        if (sumDy == null || sumDyXhat == null || sumDy.length != sumDyXhat.length) {
            throw Contracts.bad("batchnorm.grad_sums", "sumDy, sumDyXhat", "two arrays of one length (the channels)",
                    (sumDy == null ? "null" : sumDy.length) + " and " + (sumDyXhat == null ? "null" : sumDyXhat.length));
        }
    }

    /** Zeros: the sums of a part with no values. */
    public static BatchNormGradSums zeros(int channels) {
        return new BatchNormGradSums(new double[channels], new double[channels]);
    }

    /** The channels (C or D). */
    public int channels() {
        return sumDy.length;
    }

    /** Σ dOut·(x − μ) = Σ dOut·x̂ / rstd, PyTorch's {@code sum_dy_xmu}, given this batch's rstd per channel. */
    public double[] sumDyXmu(double[] invstd) {
        double[] r = new double[channels()];
        for (int c = 0; c < r.length; c++) {
            r[c] = sumDyXhat[c] / invstd[c];
        }
        return r;
    }

    /** [Σ dOut…, Σ dOut·x̂…]: 2·C doubles, for a collective to carry (an all-reduce sums them). */
    public double[] toArray() {
        double[] a = Arrays.copyOf(sumDy, 2 * channels());
        System.arraycopy(sumDyXhat, 0, a, channels(), channels());
        return a;
    }

    /** The inverse of {@link #toArray()}. */
    public static BatchNormGradSums fromArray(double[] a) {
        if (a == null || a.length % 2 != 0) {
            throw Contracts.bad("batchnorm.grad_sums", "array", "[sumDy[C], sumDyXhat[C]]",
                    a == null ? "null" : a.length + " doubles");
        }
        int c = a.length / 2;
        return new BatchNormGradSums(Arrays.copyOfRange(a, 0, c), Arrays.copyOfRange(a, c, a.length));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchNormGradSums s && Arrays.equals(s.sumDy, sumDy) && Arrays.equals(s.sumDyXhat, sumDyXhat);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(sumDy) * 31 + Arrays.hashCode(sumDyXhat);
    }

    @Override
    public String toString() {
        return "BatchNormGradSums[sumDy=" + Arrays.toString(sumDy) + ", sumDyXhat=" + Arrays.toString(sumDyXhat) + "]";
    }
}
