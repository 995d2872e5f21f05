package org.layerkit.cpu;

import java.util.Arrays;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The TRAIN forward of the four normalizations in double, for data whose spread the fast float sweeps of
 * {@link CpuNormKernels} cannot hold. Those sweeps sum deviations and their squares in float32 lanes, which overflow
 * once deviations pass about 1.8e19 (their squares pass FLT_MAX = 3.4e38), and they form x̂ = ((x − hi) − lo)·rstd
 * in float, which overflows when x and the mean are more than FLT_MAX apart. Here every sum is a double — for float
 * inputs nothing can overflow: |x| ≤ 3.4e38, so a sum of 2³¹ squares of deviations stays below 1e88 — and x̂ is
 * formed in double, so whatever is representable comes out right: the mean, x̂ and y always; the variance and
 * rstd while they are floats (rstd as a subnormal down to about 1.4e-45, i.e. for σ up to FLT_MAX).
 *
 * <p>What is not representable follows IEEE rounding: a batch variance above FLT_MAX (data of magnitude near 1e38
 * and mixed signs) makes the running variance +∞, after which EVAL normalizes with rstd = 0, i.e. y = β. The cache
 * stores x̂ (a {@link NormCache} of x̂, which every backward accepts) instead of keeping x: the float constants that
 * recompute x̂ from x are exactly what cannot be trusted here.
 *
 * <p>The fast kernels call this when a statistic fails {@link #fits}: its mean or M2 non-finite (a float sum
 * overflowed, or the data hold NaN or ±∞, which then come out here as NaN or ±∞ as they should), or its variance
 * at least {@link #WIDE_VARIANCE}. Below that bound the float sweeps are exact enough: deviations within a block of
 * the float sums stay below 2⁵⁰·√(2³¹), far from overflow, and rstd stays a normal float. It is a rare path (one
 * pass more, single-threaded, and the forward writes x̂), so it is written for clarity.
 */
final class CpuWideNorm {
    /** Variances from here up take this path: 2¹⁰⁰ ≈ 1.3e30, i.e. σ ≥ 2⁵⁰ ≈ 1.1e15. */
    static final double WIDE_VARIANCE = 0x1p100;

    private CpuWideNorm() {
    }

    /** Whether the fast path's statistic (mean, M2 over {@code count} values) is trustworthy. */
    static boolean fits(double mean, double m2, long count) {
        return Double.isFinite(mean) && m2 / count < WIDE_VARIANCE; // false for NaN too
    }

    /**
     * The TRAIN forward of {@code kind} on x {@code [N,D]} or {@code [N,C,H,W]}, in double; batch norm kinds also
     * update the running statistics in place (with the batch's double statistics, rounded once).
     */
    static NormResult forward(CpuBackend be, NormKind kind, Tensor x, Tensor gamma, Tensor beta, int groups,
                              float eps, Tensor runningMean, Tensor runningVar, BatchNormParams p) {
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int hw = s.rank() == 4 ? s.dim(2) * s.dim(3) : 1;
        boolean perChannel = kind == NormKind.BATCHNORM || kind == NormKind.SPATIAL_BATCHNORM;
        int g = kind == NormKind.GROUPNORM ? groups : 1;
        int cpg = c / g;
        // statistics: one per channel (batch norm kinds) or per (n, group); M values each
        int stats = perChannel ? c : n * g;
        long m = perChannel ? (long) n * hw : (long) cpg * hw;
        float[] xs = CpuBackend.data(x);
        float[] gs = CpuBackend.data(gamma);
        float[] bs = CpuBackend.data(beta);
        // runs of hw contiguous values share a statistic and a channel: run r is (n, c) = (r / C, r % C)
        int runs = n * c;
        // pass 1: means
        double[] mean = new double[stats];
        for (int r = 0; r < runs; r++) {
            int st = stat(r, c, g, cpg, perChannel);
            double sum = 0;
            for (int i = r * hw, end = i + hw; i < end; i++) {
                sum += xs[i];
            }
            mean[st] += sum;
        }
        for (int k = 0; k < stats; k++) {
            mean[k] /= m;
        }
        // pass 2: M2 = Σ(x − mean)², two-pass
        double[] var = new double[stats];
        for (int r = 0; r < runs; r++) {
            int st = stat(r, c, g, cpg, perChannel);
            double mu = mean[st];
            double sum = 0;
            for (int i = r * hw, end = i + hw; i < end; i++) {
                double d = xs[i] - mu;
                sum += d * d;
            }
            var[st] += sum;
        }
        double[] rstd = new double[stats];
        for (int k = 0; k < stats; k++) {
            var[k] /= m;
            rstd[k] = 1.0 / Math.sqrt(var[k] + eps);
        }
        if (perChannel) {
            // r = decay·r + (1−decay)·batch, in double, rounded once (a variance beyond the float range gives +∞)
            double[] both = Arrays.copyOf(mean, 2 * stats);
            System.arraycopy(var, 0, both, stats, stats);
            CpuNormKernels.updateRunning(runningMean, runningVar, both, stats, m, p);
        }
        // pass 3: x̂ = (x − mean)·rstd in double, rounded once; y = γ·x̂ + β in float, as the fast path forms it
        CpuTensor xhat = be.allocate(s);
        CpuTensor out = be.allocate(s);
        float[] xh = xhat.data();
        float[] y = out.data();
        for (int r = 0; r < runs; r++) {
            int st = stat(r, c, g, cpg, perChannel);
            int ch = r % c;
            double mu = mean[st];
            double rs = rstd[st];
            float gc = gs[ch];
            float bc = bs[ch];
            for (int i = r * hw, end = i + hw; i < end; i++) {
                float h = (float) ((xs[i] - mu) * rs);
                xh[i] = h;
                y[i] = gc * h + bc;
            }
        }
        Shape statShape = perChannel ? Shape.of(c) : kind == NormKind.GROUPNORM ? Shape.of(n, g) : Shape.of(n);
        NormCache cache = new NormCache(kind, Mode.TRAIN, kind == NormKind.GROUPNORM ? g : 1, xhat,
                be.fromDoubles(mean, statShape), be.fromDoubles(rstd, statShape));
        return new NormResult(out, cache);
    }

    /** Count, mean and M2 per channel of x [N,D] or [N,C,H,W] in double, two passes ({@code localStats}'s path). */
    static BatchNormStats moments(Tensor x, boolean spatial) {
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int hw = spatial ? s.dim(2) * s.dim(3) : 1;
        long m = (long) n * hw;
        float[] xs = CpuBackend.data(x);
        double[] mean = new double[c];
        double[] m2 = new double[c];
        // pass 1: means; runs of hw values share a channel, run r is (n, c) = (r / C, r % C)
        for (int r = 0; r < n * c; r++) {
            double sum = 0;
            for (int i = r * hw, end = i + hw; i < end; i++) {
                sum += xs[i];
            }
            mean[r % c] += sum;
        }
        for (int k = 0; k < c; k++) {
            mean[k] /= m;
        }
        // pass 2: M2 = Σ(x − mean)²
        for (int r = 0; r < n * c; r++) {
            double mu = mean[r % c];
            double sum = 0;
            for (int i = r * hw, end = i + hw; i < end; i++) {
                double d = xs[i] - mu;
                sum += d * d;
            }
            m2[r % c] += sum;
        }
        return new BatchNormStats(m, mean, m2);
    }

    /**
     * y = γ·x̂ + β with x̂ = (x − mean)·invstd formed in double and rounded once, for given statistics that the float
     * constants of the fast path cannot hold; the cache stores x̂ (mode TRAIN).
     */
    static NormResult normalize(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd,
                                boolean spatial) {
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int hw = spatial ? s.dim(2) * s.dim(3) : 1;
        float[] xs = CpuBackend.data(x);
        float[] gs = CpuBackend.data(gamma);
        float[] bs = CpuBackend.data(beta);
        CpuTensor xhat = be.allocate(s);
        CpuTensor out = be.allocate(s);
        float[] xh = xhat.data();
        float[] y = out.data();
        for (int r = 0; r < n * c; r++) {
            int ch = r % c;
            for (int i = r * hw, end = i + hw; i < end; i++) {
                float h = (float) ((xs[i] - mean[ch]) * invstd[ch]);
                xh[i] = h;
                y[i] = gs[ch] * h + bs[ch];
            }
        }
        NormCache cache = new NormCache(spatial ? NormKind.SPATIAL_BATCHNORM : NormKind.BATCHNORM, Mode.TRAIN, 1,
                xhat, be.fromDoubles(mean, Shape.of(c)), be.fromDoubles(invstd, Shape.of(c)));
        return new NormResult(out, cache);
    }

    /** The statistic of run r = (n, c): the channel c, or the group (n, c / (C/G)). */
    private static int stat(int r, int c, int g, int cpg, boolean perChannel) {
        return perChannel ? r % c : (r / c) * g + (r % c) / cpg;
    }
}
