package org.layerkit.cpu;

/**
 * The small loops the CPU kernels are built from, each written so that HotSpot's C2 (JDK 17) turns it into SIMD code.
 *
 * <p>What C2's SuperWord pass in JDK 17 vectorizes, measured on this project's machines (AVX-512): a counted loop with
 * <b>one</b> array store whose every array access uses the same index form — all {@code a[j]}, or all
 * {@code a[off + j]} with the same {@code off}. It gives up (and runs scalar, 3–6 times slower) when a loop stores to
 * two arrays, when it mixes {@code x[off + j]} with {@code gamma[j]} (it cannot prove the two do not overlap), or on a
 * reduction into a scalar (float addition is not associative, so it keeps the sequential order). So the kernels:
 * <ul>
 *   <li>stage a row with {@link System#arraycopy} (an intrinsic that moves whole vectors) into a per-thread buffer
 *       indexed from 0, and run the per-feature loops on that buffer;</li>
 *   <li>split work that writes two arrays into two loops over data still in L1;</li>
 *   <li>sum with {@link #sum}, a prefix fold with a constant stride — vectorizable, since a constant offset between
 *       the load and the store is something C2 can compare — into 16 lanes, finished in double.</li>
 * </ul>
 */
final class CpuLoops {
    /** Below this length {@link #sum} adds in double directly: folding would not pay for itself. */
    static final int FOLD_MIN = 128;

    private CpuLoops() {
    }

    /**
     * Σ t[0, len) in double; <b>overwrites t</b>. Folds with a constant stride — t[j+256] += t[j] for long runs, then
     * t[j+64] += t[j] — so that the last 64 entries end holding the sums of the 64 residue classes of the index, then
     * folds those with stride 16 and adds the last 16 in double, four partial sums at a time. A long stride keeps many
     * independent chains in flight (each vector's load waits only for a store 16 vectors back). Each float lane sums
     * about len/64 values, so the float rounding stays that of a short sum.
     */
    static double sum(float[] t, int len) {
        if (len < FOLD_MIN) {
            double s0 = 0;
            double s1 = 0;
            int j = 0;
            for (; j + 1 < len; j += 2) {
                s0 += t[j];
                s1 += t[j + 1];
            }
            if (j < len) {
                s0 += t[j];
            }
            return s0 + s1;
        }
        if (len < 4 * 256 && len % 64 == 0) {
            return sumSegments(t, len);
        }
        int from = 0;
        if (len >= 4 * 256) {
            for (int j = 0; j < len - 256; j++) {
                t[j + 256] += t[j];
            }
            from = len - 256;
        }
        for (int j = from; j < len - 64; j++) {
            t[j + 64] += t[j];
        }
        for (int j = len - 64; j < len - 16; j++) {
            t[j + 16] += t[j];
        }
        int e = len - 16;
        double s0 = (double) t[e] + t[e + 4] + t[e + 8] + t[e + 12];
        double s1 = (double) t[e + 1] + t[e + 5] + t[e + 9] + t[e + 13];
        double s2 = (double) t[e + 2] + t[e + 6] + t[e + 10] + t[e + 14];
        double s3 = (double) t[e + 3] + t[e + 7] + t[e + 11] + t[e + 15];
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * {@link #sum} for len a multiple of 64 below 1 024, bit-identical to its general path (the same lanes, added in
     * the same order) with fewer loops: the stride-64 fold as one loop over the first 64 values (t[k] += t[k + 64s],
     * four segments at a time), the stride-16 step in scalar float code (16 independent chains).
     */
    private static double sumSegments(float[] t, int len) {
        int segments = len / 64;
        if (segments == 4) {
            for (int j = 0; j < 64; j++) {
                t[j] = ((t[j] + t[j + 64]) + t[j + 128]) + t[j + 192];
            }
        } else {
            for (int sg = 1; sg < segments; sg++) {
                int o = 64 * sg;
                for (int j = 0; j < 64; j++) {
                    t[j] += t[j + o];
                }
            }
        }
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int k = 0; k < 16; k += 4) {
            s0 += ((t[k] + t[k + 16]) + t[k + 32]) + t[k + 48];
            s1 += ((t[k + 1] + t[k + 17]) + t[k + 33]) + t[k + 49];
            s2 += ((t[k + 2] + t[k + 18]) + t[k + 34]) + t[k + 50];
            s3 += ((t[k + 3] + t[k + 19]) + t[k + 35]) + t[k + 51];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * The narrow row width whose sums the fused folds below take in one loop each: four segments of 64 folded with
     * stride 64. The folds also take rows of {@link #FUSED_WIDE} = four segments of 256 folded with stride 256.
     */
    static final int FUSED = 256;
    /** The wide row width the fused folds take (four segments of 256). */
    static final int FUSED_WIDE = 4 * FUSED;

    /** Whether the fused folds take a run of this length: {@link #FUSED} or {@link #FUSED_WIDE}. */
    static boolean fused(int len) {
        return len == FUSED || len == FUSED_WIDE;
    }

    /*
     * Each fused fold does the element-wise step (a shift, a square, a product) inside the first fold of sum(): the
     * four segments of the run are added lane by lane in segment order, exactly as sum()'s first fold adds them (for
     * 256 values its stride-64 fold, for 1 024 its stride-256 fold), into p[0, len/4); then sumSegments finishes
     * the same lanes in the same order. So each is bit-identical to the element-wise loop followed by sum(), with
     * one loop in place of two or three full-length ones, and leaves its inputs unchanged.
     */

    /** Σ (t[j] − c) over [0, len), len {@link #fused}; bit-identical to {@link #shifted} then {@link #sum}. */
    static double sumShifted(float[] t, float c, float[] p, int len) {
        int q = len / 4;
        if (q == 64) {
            for (int j = 0; j < 64; j++) {
                p[j] = (((t[j] - c) + (t[j + 64] - c)) + (t[j + 128] - c)) + (t[j + 192] - c);
            }
        } else {
            for (int j = 0; j < 256; j++) {
                p[j] = (((t[j] - c) + (t[j + 256] - c)) + (t[j + 512] - c)) + (t[j + 768] - c);
            }
        }
        return sumSegments(p, q);
    }

    /** Σ (t[j] − c)² over [0, len), len {@link #fused}; bit-identical to shifted, {@link #squared}, {@link #sum}. */
    static double sumShiftedSquares(float[] t, float c, float[] p, int len) {
        int q = len / 4;
        if (q == 64) {
            for (int j = 0; j < 64; j++) {
                float a0 = t[j] - c;
                float a1 = t[j + 64] - c;
                float a2 = t[j + 128] - c;
                float a3 = t[j + 192] - c;
                p[j] = ((a0 * a0 + a1 * a1) + a2 * a2) + a3 * a3;
            }
        } else {
            for (int j = 0; j < 256; j++) {
                float a0 = t[j] - c;
                float a1 = t[j + 256] - c;
                float a2 = t[j + 512] - c;
                float a3 = t[j + 768] - c;
                p[j] = ((a0 * a0 + a1 * a1) + a2 * a2) + a3 * a3;
            }
        }
        return sumSegments(p, q);
    }

    /** Σ a[j]·b[j] over [0, len), len {@link #fused}; bit-identical to {@link #product} then {@link #sum}. */
    static double sumProducts(float[] a, float[] b, float[] p, int len) {
        int q = len / 4;
        if (q == 64) {
            for (int j = 0; j < 64; j++) {
                p[j] = ((a[j] * b[j] + a[j + 64] * b[j + 64]) + a[j + 128] * b[j + 128]) + a[j + 192] * b[j + 192];
            }
        } else {
            for (int j = 0; j < 256; j++) {
                p[j] = ((a[j] * b[j] + a[j + 256] * b[j + 256]) + a[j + 512] * b[j + 512])
                        + a[j + 768] * b[j + 768];
            }
        }
        return sumSegments(p, q);
    }

    /** Σ (a[j]·b[j])·c[j] over [0, len), len {@link #fused}; bit-identical to two {@link #product}s, {@link #sum}. */
    static double sumProducts(float[] a, float[] b, float[] c, float[] p, int len) {
        int q = len / 4;
        if (q == 64) {
            for (int j = 0; j < 64; j++) {
                p[j] = (((a[j] * b[j]) * c[j] + (a[j + 64] * b[j + 64]) * c[j + 64])
                        + (a[j + 128] * b[j + 128]) * c[j + 128]) + (a[j + 192] * b[j + 192]) * c[j + 192];
            }
        } else {
            for (int j = 0; j < 256; j++) {
                p[j] = (((a[j] * b[j]) * c[j] + (a[j + 256] * b[j + 256]) * c[j + 256])
                        + (a[j + 512] * b[j + 512]) * c[j + 512]) + (a[j + 768] * b[j + 768]) * c[j + 768];
            }
        }
        return sumSegments(p, q);
    }

    /** dst[j] = src[j] − c. */
    static void shifted(float[] dst, float[] src, float c, int len) {
        for (int j = 0; j < len; j++) {
            dst[j] = src[j] - c;
        }
    }

    /** dst[j] = src[j]². */
    static void squared(float[] dst, float[] src, int len) {
        for (int j = 0; j < len; j++) {
            dst[j] = src[j] * src[j];
        }
    }

    /** dst[j] = a[j]·b[j]. */
    static void product(float[] dst, float[] a, float[] b, int len) {
        for (int j = 0; j < len; j++) {
            dst[j] = a[j] * b[j];
        }
    }

    /** t[j] ·= a. */
    static void scale(float[] t, float a, int len) {
        for (int j = 0; j < len; j++) {
            t[j] *= a;
        }
    }

    /** acc[j] += t[j]. */
    static void addTo(float[] acc, float[] t, int len) {
        for (int j = 0; j < len; j++) {
            acc[j] += t[j];
        }
    }

    /** acc[j] += t[j] − c[j]. */
    static void addShiftedTo(float[] acc, float[] t, float[] c, int len) {
        for (int j = 0; j < len; j++) {
            acc[j] += t[j] - c[j];
        }
    }

    /** acc[j] += (t[j] − c[j])². */
    static void addShiftedSquaresTo(float[] acc, float[] t, float[] c, int len) {
        for (int j = 0; j < len; j++) {
            float u = t[j] - c[j];
            acc[j] += u * u;
        }
    }

    /** t[j] = ((t[j] − hi) − lo)·rs: x̂ of a staged run with scalar constants. */
    static void normalize(float[] t, float hi, float lo, float rs, int len) {
        for (int j = 0; j < len; j++) {
            t[j] = ((t[j] - hi) - lo) * rs;
        }
    }

    /** acc[j] += a[j]·b[j]. */
    static void addProductsTo(float[] acc, float[] a, float[] b, int len) {
        for (int j = 0; j < len; j++) {
            acc[j] += a[j] * b[j];
        }
    }

    /** acc[j] += a[j]·(b[j] − c[j]). */
    static void addShiftedProductsTo(float[] acc, float[] a, float[] b, float[] c, int len) {
        for (int j = 0; j < len; j++) {
            acc[j] += a[j] * (b[j] - c[j]);
        }
    }

    /** acc[at + j] += part[j], widened to double (scalar; run once per block of rows, not per row). */
    static void flush(double[] acc, int at, float[] part, int len) {
        for (int j = 0; j < len; j++) {
            acc[at + j] += part[j];
        }
    }

    /** x̂ with per-feature constants: t[j] = ((t[j] − hi[j]) − lo[j])·rs[j] (μ = hi + lo, see CpuNormKernels). */
    static void normalize(float[] t, float[] hi, float[] lo, float[] rs, int len) {
        for (int j = 0; j < len; j++) {
            t[j] = ((t[j] - hi[j]) - lo[j]) * rs[j];
        }
    }

    /**
     * y of a staged run with per-feature constants: t[j] = γ[j]·x̂ + β[j], x̂ = ((t[j] − hi[j]) − lo[j])·rs[j] — the
     * float operations of {@link #normalize(float[], float[], float[], float[], int)} followed by γ·x̂ + β, in one loop.
     */
    static void normalizeAffine(float[] t, float[] hi, float[] lo, float[] rs, float[] gamma, float[] beta, int len) {
        for (int j = 0; j < len; j++) {
            t[j] = gamma[j] * (((t[j] - hi[j]) - lo[j]) * rs[j]) + beta[j];
        }
    }

    /** y of a staged run with scalar constants and per-feature γ, β: t[j] = γ[j]·(((t[j] − hi) − lo)·rs) + β[j]. */
    static void normalizeAffine(float[] t, float hi, float lo, float rs, float[] gamma, float[] beta, int len) {
        for (int j = 0; j < len; j++) {
            t[j] = gamma[j] * (((t[j] - hi) - lo) * rs) + beta[j];
        }
    }

    /** x̂ of one run with scalar constants: xh[i] = ((x[i] − hi) − lo)·rs for i in [from, to). */
    static void normalize(float[] x, float[] xh, int from, int to, float hi, float lo, float rs) {
        for (int i = from; i < to; i++) {
            xh[i] = ((x[i] - hi) - lo) * rs;
        }
    }

    /** dX from x with per-feature coefficients: t[j] = a[j]·t[j] − (b[j] + c[j]·(x[j] − hi[j])); t holds dOut. */
    static void dx(float[] t, float[] x, float[] hi, float[] a, float[] b, float[] c, int len) {
        for (int j = 0; j < len; j++) {
            t[j] = a[j] * t[j] - (b[j] + c[j] * (x[j] - hi[j]));
        }
    }

    /** dX with scalar coefficients and g = γ·dOut: t[j] = a·(gamma[j]·t[j]) − (b + c·xh[j]); t holds dOut. */
    static void dx(float[] t, float[] gamma, float[] xh, float a, float b, float c, int len) {
        for (int j = 0; j < len; j++) {
            t[j] = a * (gamma[j] * t[j]) - (b + c * xh[j]);
        }
    }

    /**
     * y of one run straight from x with scalar constants: y[i] = g·x̂ + b, x̂ = ((x[i] − hi) − lo)·rs, for i in
     * [from, to) — the float operations of {@link #normalize(float[], float[], int, int, float, float, float)}
     * followed by y = g·x̂ + b, without writing x̂.
     */
    static void normalizeAffine(float[] x, float[] y, int from, int to, float hi, float lo, float rs, float g,
                                float b) {
        for (int i = from; i < to; i++) {
            y[i] = g * (((x[i] - hi) - lo) * rs) + b;
        }
    }

    /**
     * dX of one run from x with scalar constants: dx[i] = a·dy[i] − (b + c·x̂), x̂ = ((x[i] − hi) − lo)·rs recomputed
     * with the forward's float operations, for i in [from, to).
     */
    static void dx(float[] dy, float[] x, float[] dx, int from, int to, float a, float b, float c, float hi, float lo,
                   float rs) {
        for (int i = from; i < to; i++) {
            dx[i] = a * dy[i] - (b + c * (((x[i] - hi) - lo) * rs));
        }
    }
}
