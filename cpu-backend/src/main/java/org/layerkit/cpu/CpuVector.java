package org.layerkit.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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

    /** x̂ = ((x − hi) − lo)·rs of the lanes at xs[i], the forward's float operations (and the loops'). */
    private static FloatVector xhat(float[] xs, int i, FloatVector hi, FloatVector lo, FloatVector rs) {
        return FloatVector.fromArray(F, xs, i).sub(hi).sub(lo).mul(rs);
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
        shiftedSums(xs, off, len, c, out, at);
        double su = out[at];
        double shiftSq = su * su / len;      // len·(mean − c)²
        if (shiftSq > 4 * Math.max(0.0, out[at + 1] - shiftSq) && len > 1) {
            c = (float) (c + su / len);
            shiftedSums(xs, off, len, c, out, at);
            su = out[at];
            shiftSq = su * su / len;
        }
        double m2 = Math.max(0.0, out[at + 1] - shiftSq);
        out[at] = c + su / len;
        out[at + 1] = m2;
    }

    /**
     * Σu and Σu² of u = x − c over xs[off, off+len) into out[at], out[at+1]: float lanes flushed into double every
     * {@link #FLUSH} values. (A method of its own: with the broadcast c live across a retry loop, C2 kept a vector
     * box per call.)
     */
    private static void shiftedSums(float[] xs, int off, int len, float c, double[] out, int at) {
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
        out[at] = su;
        out[at + 1] = suu;
    }

    /** y[off + j] = γ[j]·(((x[off + j] − hi) − lo)·rs) + β[j] for j &lt; d: one layer-norm row. */
    static void normalizeAffine(float[] xs, float[] y, int off, int d, float hi, float lo, float rs, float[] gamma,
                                float[] beta) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector xh = xhat(xs, off + j, vhi, vlo, vrs);
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
            FloatVector xh = xhat(xs, i, vhi, vlo, vrs);
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

    // ---------------------------------------------------------------- backward

    /**
     * One layer-norm row of the backward's first sweep, x̂ = ((x − hi) − lo)·rs re-formed as x is read: the column
     * sums s1[j] += dOut, s2[j] += dOut·x̂ (dβ, dγ), and with g = dOut·γ the row's Σg and Σg·x̂ into out[0], out[1]
     * (float lanes flushed into double every {@link #FLUSH} values).
     */
    static void layerNormRowSums(float[] dy, float[] xs, int off, int d, float hi, float lo, float rs, float[] gamma,
                                 float[] s1, float[] s2, double[] out) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        double sumG = 0;
        double sumGXhat = 0;
        int j = 0;
        while (j + L <= d) {
            int blockEnd = Math.min(d, j + FLUSH);
            FloatVector ag = FloatVector.zero(F);
            FloatVector agx = FloatVector.zero(F);
            for (; j + L <= blockEnd; j += L) {
                FloatVector t = FloatVector.fromArray(F, dy, off + j);
                FloatVector xh = xhat(xs, off + j, vhi, vlo, vrs);
                FloatVector.fromArray(F, s1, j).add(t).intoArray(s1, j);
                FloatVector.fromArray(F, s2, j).add(t.mul(xh)).intoArray(s2, j);
                FloatVector g = t.mul(FloatVector.fromArray(F, gamma, j));
                ag = ag.add(g);
                agx = agx.add(g.mul(xh));
            }
            sumG += ag.reduceLanes(VectorOperators.ADD);
            sumGXhat += agx.reduceLanes(VectorOperators.ADD);
        }
        for (; j < d; j++) {
            float t = dy[off + j];
            float xh = ((xs[off + j] - hi) - lo) * rs;
            s1[j] += t;
            s2[j] += t * xh;
            float g = t * gamma[j];
            sumG += g;
            sumGXhat += g * xh;
        }
        out[0] = sumG;
        out[1] = sumGXhat;
    }

    /** One layer-norm row of dX = a·(γ·dOut) − (b + c·x̂), x̂ = ((x − hi) − lo)·rs re-formed from x. */
    static void layerNormRowDx(float[] dy, float[] xs, float[] dx, int off, int d, float hi, float lo, float rs,
                               float[] gamma, float a, float b, float c) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        FloatVector va = FloatVector.broadcast(F, a);
        FloatVector vb = FloatVector.broadcast(F, b);
        FloatVector vc = FloatVector.broadcast(F, c);
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector xh = xhat(xs, off + j, vhi, vlo, vrs);
            FloatVector g = FloatVector.fromArray(F, gamma, j).mul(FloatVector.fromArray(F, dy, off + j));
            va.mul(g).sub(vb.add(vc.mul(xh))).intoArray(dx, off + j);
        }
        for (; j < d; j++) {
            float xh = ((xs[off + j] - hi) - lo) * rs;
            dx[off + j] = a * (gamma[j] * dy[off + j]) - (b + c * xh);
        }
    }

    /** One batch-norm row of the backward's first sweep: s1[j] += dOut, s2[j] += dOut·(x − hi[j]). */
    static void addDyAndShiftedProducts(float[] dy, float[] xs, int off, float[] hi, float[] s1, float[] s2, int d) {
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector t = FloatVector.fromArray(F, dy, off + j);
            FloatVector u = FloatVector.fromArray(F, xs, off + j).sub(FloatVector.fromArray(F, hi, j));
            FloatVector.fromArray(F, s1, j).add(t).intoArray(s1, j);
            FloatVector.fromArray(F, s2, j).add(t.mul(u)).intoArray(s2, j);
        }
        for (; j < d; j++) {
            float t = dy[off + j];
            s1[j] += t;
            s2[j] += t * (xs[off + j] - hi[j]);
        }
    }

    /** One batch-norm row of dX = a[j]·dOut − (b[j] + c[j]·(x − hi[j])). */
    static void batchNormRowDx(float[] dy, float[] xs, float[] dx, int off, int d, float[] hi, float[] a, float[] b,
                               float[] c) {
        int j = 0;
        for (; j + L <= d; j += L) {
            FloatVector u = FloatVector.fromArray(F, xs, off + j).sub(FloatVector.fromArray(F, hi, j));
            FloatVector.fromArray(F, a, j).mul(FloatVector.fromArray(F, dy, off + j))
                    .sub(FloatVector.fromArray(F, b, j).add(FloatVector.fromArray(F, c, j).mul(u)))
                    .intoArray(dx, off + j);
        }
        for (; j < d; j++) {
            dx[off + j] = a[j] * dy[off + j] - (b[j] + c[j] * (xs[off + j] - hi[j]));
        }
    }

    /** Σ dOut and Σ dOut·x̂ over [from, to) with scalar constants (a slab), into out[at], out[at + 1]. */
    static void runDyAndDyXhat(float[] dy, float[] xs, int from, int to, float hi, float lo, float rs, double[] out,
                               int at) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        double sumDy = 0;
        double sumDyXhat = 0;
        int i = from;
        while (i + L <= to) {
            int blockEnd = Math.min(to, i + FLUSH);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            for (; i + L <= blockEnd; i += L) {
                FloatVector t = FloatVector.fromArray(F, dy, i);
                FloatVector xh = xhat(xs, i, vhi, vlo, vrs);
                a1 = a1.add(t);
                a2 = a2.add(t.mul(xh));
            }
            sumDy += a1.reduceLanes(VectorOperators.ADD);
            sumDyXhat += a2.reduceLanes(VectorOperators.ADD);
        }
        for (; i < to; i++) {
            float t = dy[i];
            sumDy += t;
            sumDyXhat += t * (((xs[i] - hi) - lo) * rs);
        }
        out[at] = sumDy;
        out[at + 1] = sumDyXhat;
    }

    /** dx[i] = a·dOut − (b + c·x̂) over [from, to), x̂ = ((x − hi) − lo)·rs re-formed from x (a slab). */
    static void dx(float[] dy, float[] xs, float[] dx, int from, int to, float a, float b, float c, float hi,
                   float lo, float rs) {
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vrs = FloatVector.broadcast(F, rs);
        FloatVector va = FloatVector.broadcast(F, a);
        FloatVector vb = FloatVector.broadcast(F, b);
        FloatVector vc = FloatVector.broadcast(F, c);
        int i = from;
        for (; i + L <= to; i += L) {
            FloatVector xh = xhat(xs, i, vhi, vlo, vrs);
            va.mul(FloatVector.fromArray(F, dy, i)).sub(vb.add(vc.mul(xh))).intoArray(dx, i);
        }
        for (; i < to; i++) {
            dx[i] = a * dy[i] - (b + c * (((xs[i] - hi) - lo) * rs));
        }
    }

    // ---------------------------------------------------------------- ReLU (CpuTrainingKernels' loops, as vectors)

    /**
     * y = x ≤ 0 ? +0 : x over [from, to): ±0, negatives and −∞ give +0, positives and NaNs (their bits) pass, as the
     * loop's bit mask ({@link CpuTrainingKernels#keepMask}) does: NaN propagates as IEEE maximum and PyTorch do.
     */
    static void relu(float[] xs, float[] y, int from, int to) {
        FloatVector zero = FloatVector.zero(F);
        int i = from;
        for (int end = from + F.loopBound(to - from); i < end; i += L) {
            FloatVector v = FloatVector.fromArray(F, xs, i);
            // keep where !(x ≤ 0): the LE compare is false for NaN, so NaN lanes keep x
            zero.blend(v, v.compare(VectorOperators.LE, 0f).not()).intoArray(y, i);
        }
        for (; i < to; i++) {
            y[i] = xs[i] <= 0f ? 0f : xs[i];
        }
    }

    /** dx = x ≤ 0 ? +0 : dy over [from, to): dy where x is NaN, as the loop and PyTorch's threshold_backward. */
    static void reluBackward(float[] dy, float[] xs, float[] dx, int from, int to) {
        FloatVector zero = FloatVector.zero(F);
        int i = from;
        for (int end = from + F.loopBound(to - from); i < end; i += L) {
            var keep = FloatVector.fromArray(F, xs, i).compare(VectorOperators.LE, 0f).not();
            zero.blend(FloatVector.fromArray(F, dy, i), keep).intoArray(dx, i);
        }
        for (; i < to; i++) {
            dx[i] = xs[i] <= 0f ? 0f : dy[i];
        }
    }

    // ---------------------------------------------------------------- max pool (CpuPool's keys, as vectors)

    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    /** keys[t] = CpuPool.key(xs[off + t]) for t in [0, len): the same integer steps, lane by lane. */
    static void maxPoolKeys(float[] xs, int off, int len, int[] keys) {
        int t = 0;
        if (I.length() == L) {
            for (int end = F.loopBound(len); t < end; t += L) {
                IntVector bits = FloatVector.fromArray(F, xs, off + t).reinterpretAsInts();
                IntVector mag = bits.and(0x7FFFFFFF).min(0x7F800001);                       // NaNs → above +∞
                IntVector neg = bits.lanewise(VectorOperators.ASHR, 31)
                        .and(mag.sub(0x7F800001).lanewise(VectorOperators.ASHR, 31));       // negative, not NaN
                mag.lanewise(VectorOperators.XOR, neg).sub(neg).intoArray(keys, t);      // −|v| for negatives
            }
        }
        for (; t < len; t++) {
            keys[t] = CpuPool.key(xs[off + t]);
        }
    }
}
