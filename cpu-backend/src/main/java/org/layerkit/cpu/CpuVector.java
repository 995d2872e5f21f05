package org.layerkit.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The normalization forwards' inner loops written with the Vector API ({@code jdk.incubator.vector}, incubating in
 * JDK 17), used when the JVM runs with {@code --add-modules jdk.incubator.vector} (the {@code layerkit} launcher
 * and the build's tests do). Unlike the auto-vectorized loops of {@link CpuLoops}, these read the tensor in place
 * with per-feature constants indexed from 0 — the form C2 will not vectorize — so nothing is staged through an L1
 * buffer and the arithmetic overlaps the loads of the memory stream (a layernorm forward at [4096,1024] on one
 * thread: 1.5–2.0 ms against 2.6–3.4 ms for the staged loops, with copying the rows in and out alone 1.3–1.5 ms).
 *
 * <p>Every member links against the module, so nothing here may be touched unless
 * {@link CpuBackend#VECTOR_API_PRESENT}: the class is initialized only on the Vector API path. Results agree with the loops to float rounding (sums are added in
 * another order); the per-element operations — x̂ = ((x − hi) − lo)·rs, y = γ·x̂ + β — are the same, so a backward
 * that recomputes x̂ from the cached hi, lo and rs gets the forward's x̂ exactly.
 */
final class CpuVector {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Values summed in float lanes before the lanes are added into double (≤ 32 per lane for 512-bit vectors). */
    private static final int FLUSH = 1024;

    private CpuVector() {
    }

    /** The vector width in bits, for the device description. */
    static int bits() {
        return F.vectorBitSize();
    }

    /**
     * Mean and M2 = Σ(x − mean)² of xs[off, off+len) into out[at], out[at+1], reading the run in place: Σu and Σu² of
     * u = x − c around the shift c = the run's first value, in float lanes flushed into double every {@link #FLUSH}
     * values; if c turns out more than two standard deviations from the mean, once more around the float mean (as
     * {@link CpuNormKernels#stagedStats} does), so the result is as good as two-pass.
     */
    static void runStats(float[] xs, int off, int len, double[] out, int at) {
        float c = xs[off];
        for (int attempt = 0; ; attempt++) {
            double su = 0;
            double suu = 0;
            FloatVector vc = FloatVector.broadcast(F, c);
            int end = off + len;
            int i = off;
            while (i + 2 * L <= end) {
                int blockEnd = Math.min(end, i + FLUSH);
                FloatVector s1 = FloatVector.zero(F);
                FloatVector s2 = FloatVector.zero(F);
                FloatVector s3 = FloatVector.zero(F);
                FloatVector s4 = FloatVector.zero(F);
                for (; i + 2 * L <= blockEnd; i += 2 * L) {
                    FloatVector u = FloatVector.fromArray(F, xs, i).sub(vc);
                    FloatVector w = FloatVector.fromArray(F, xs, i + L).sub(vc);
                    s1 = s1.add(u);
                    s2 = s2.add(u.mul(u));
                    s3 = s3.add(w);
                    s4 = s4.add(w.mul(w));
                }
                su += s1.add(s3).reduceLanes(VectorOperators.ADD);
                suu += s2.add(s4).reduceLanes(VectorOperators.ADD);
            }
            for (; i < end; i++) {
                float u = xs[i] - c;
                su += u;
                suu += u * u;
            }
            double shiftSq = su * su / len;      // len·(mean − c)²
            double m2 = Math.max(0.0, suu - shiftSq);
            if (attempt == 0 && shiftSq > 4 * m2 && len > 1) {
                c = (float) (c + su / len);
                continue;
            }
            out[at] = c + su / len;
            out[at + 1] = m2;
            return;
        }
    }

    /** y[off + j] = γ[j]·(((x[off + j] − hi) − lo)·rs) + β[j] for j &lt; d: one layer-norm row. */
    static void normalizeAffine(float[] xs, float[] y, int off, int d, float hi, float lo, float rs, float[] gamma,
                                float[] beta) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector xh = FloatVector.fromArray(F, xs, off + j).sub(vhi).sub(vlo).mul(vrs);
            FloatVector.fromArray(F, gamma, j).mul(xh).add(FloatVector.fromArray(F, beta, j)).intoArray(y, off + j);
        }
        for (; j < d; j++) {
            y[off + j] = gamma[j] * (((xs[off + j] - hi) - lo) * rs) + beta[j];
        }
    }

    /** y[i] = g·(((x[i] − hi) − lo)·rs) + b for i in [from, to): one channel of a group-norm segment. */
    static void normalizeAffine(float[] xs, float[] y, int from, int to, float hi, float lo, float rs, float g,
                                float b) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        FloatVector vg = FloatVector.broadcast(F, g);
        FloatVector vb = FloatVector.broadcast(F, b);
        int i = from;
        for (; i + L <= to; i += L) {
            FloatVector xh = FloatVector.fromArray(F, xs, i).sub(vhi).sub(vlo).mul(vrs);
            vg.mul(xh).add(vb).intoArray(y, i);
        }
        for (; i < to; i++) {
            y[i] = g * (((xs[i] - hi) - lo) * rs) + b;
        }
    }

    /** y[off + j] = γ[j]·(((x[off + j] − hi[j]) − lo[j])·rs[j]) + β[j] for j &lt; d: one batch-norm row. */
    static void normalizeAffine(float[] xs, float[] y, int off, int d, float[] hi, float[] lo, float[] rs,
                                float[] gamma, float[] beta) {
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector xh = FloatVector.fromArray(F, xs, off + j).sub(FloatVector.fromArray(F, hi, j))
                    .sub(FloatVector.fromArray(F, lo, j)).mul(FloatVector.fromArray(F, rs, j));
            FloatVector.fromArray(F, gamma, j).mul(xh).add(FloatVector.fromArray(F, beta, j)).intoArray(y, off + j);
        }
        for (; j < d; j++) {
            y[off + j] = gamma[j] * (((xs[off + j] - hi[j]) - lo[j]) * rs[j]) + beta[j];
        }
    }

    /** s1[j] += x[off + j] − c[j] and s2[j] += (x[off + j] − c[j])² for j &lt; d: one row of batchnorm's column sums. */
    static void addShiftedAndSquares(float[] xs, int off, float[] c, float[] s1, float[] s2, int d) {
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector u = FloatVector.fromArray(F, xs, off + j).sub(FloatVector.fromArray(F, c, j));
            FloatVector.fromArray(F, s1, j).add(u).intoArray(s1, j);
            FloatVector.fromArray(F, s2, j).add(u.mul(u)).intoArray(s2, j);
        }
        for (; j < d; j++) {
            float u = xs[off + j] - c[j];
            s1[j] += u;
            s2[j] += u * u;
        }
    }

    /** acc[j] += x[off + j] for j &lt; d. */
    static void addTo(float[] acc, float[] xs, int off, int d) {
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector.fromArray(F, acc, j).add(FloatVector.fromArray(F, xs, off + j)).intoArray(acc, j);
        }
        for (; j < d; j++) {
            acc[j] += xs[off + j];
        }
    }
}
