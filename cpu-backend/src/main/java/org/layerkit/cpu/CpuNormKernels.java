package org.layerkit.cpu;

import java.util.Arrays;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Contracts;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Batch, spatial batch, layer and group normalization, each forward next to its backward. Derivations are in
 * {@code docs/ops/batchnorm.md}, {@code layernorm.md} and {@code groupnorm.md}.
 *
 * <p>Shape letters: N batch, D features, C channels, H×W spatial with S = H·W, G groups; M is the number of
 * elements behind one statistic (N for batchnorm, N·S for spatial batchnorm, D for layernorm, (C/G)·S for
 * groupnorm). A "slab" is the S contiguous values of one (n, c) of an {@code [N,C,H,W]} tensor; a "segment" is the
 * (C/G)·S contiguous values of one (n, group).
 *
 * <p>Numerics: every statistic is two-pass (mean first, then the centred sum of squares) with double accumulators,
 * so inputs like 1e4 + N(0,1) keep their variance; every backward sum is accumulated in double. Parallel work is
 * split into chunks whose partial sums are combined in chunk order, so results do not depend on thread timing.
 *
 * <p>The element-wise passes (x̂ and y; dX) run in float, because the JIT vectorizes float loops but not
 * float↔double conversions (a double x̂ pass measured 6 times slower). Precision is kept by splitting the mean into
 * a float head and tail, μ = hi + lo: x − hi is exact for x within a factor 2 of hi (Sterbenz), so
 * x̂ = ((x − hi) − lo)·rstd loses only a few float ulps even for 1e4 + N(0,1), where a plain float x − μ would be
 * off by half an ulp of 1e4 (see {@link Centering}). dX is rewritten as a·g − (b + c·x̂) with per-statistic
 * coefficients formed in double from the double sums (see {@link DxCoefficients}).
 */
final class CpuNormKernels {
    private CpuNormKernels() {
    }

    // ================================================================ batchnorm [N,D]

    static NormResult batchNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                       Tensor runningVar, BatchNormParams p, Mode mode) {
        Contracts.batchNormForward(be, x, gamma, beta, runningMean, runningVar, p, mode);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        double[] mean;
        double[] rstd = new double[d];
        if (mode == Mode.TRAIN) {
            // step 1: mean over N
            mean = columnSums(n, d, (from, to, acc) -> {
                for (int row = from; row < to; row++) {
                    for (int j = 0, off = row * d; j < d; j++) {
                        acc[j] += xs[off + j];
                    }
                }
            });
            for (int j = 0; j < d; j++) {
                mean[j] /= n;
            }
            // step 2: biased variance over N, from the centred values (two-pass: no cancellation)
            double[] mu = mean;
            double[] var = columnSums(n, d, (from, to, acc) -> {
                for (int row = from; row < to; row++) {
                    for (int j = 0, off = row * d; j < d; j++) {
                        double c = xs[off + j] - mu[j];
                        acc[j] += c * c;
                    }
                }
            });
            for (int j = 0; j < d; j++) {
                var[j] /= n;
                rstd[j] = 1.0 / Math.sqrt(var[j] + p.eps());
            }
            // step 3: running statistics in place, r = decay·r + (1−decay)·batch
            updateRunning(runningMean, runningVar, mean, var, n, p);
        } else {
            // EVAL: the running statistics stand in for the batch's
            mean = toDouble(CpuBackend.data(runningMean));
            double[] var = toDouble(CpuBackend.data(runningVar));
            for (int j = 0; j < d; j++) {
                rstd[j] = 1.0 / Math.sqrt(var[j] + p.eps());
            }
        }
        // step 4: x̂ = (x − μ)·rstd, y = γ·x̂ + β
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor xhat = be.allocate(x.shape());
        CpuTensor out = be.allocate(x.shape());
        float[] xh = xhat.data();
        float[] y = out.data();
        Centering ctr = Centering.of(mean, rstd);
        float[] hi = ctr.hi();
        float[] lo = ctr.lo();
        float[] rs = ctr.rstd();
        CpuParallel.forRows(n, d, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * d;
                for (int j = 0; j < d; j++) {
                    float v = ((xs[off + j] - hi[j]) - lo[j]) * rs[j];
                    xh[off + j] = v;
                    y[off + j] = g[j] * v + b[j];
                }
            }
        });
        NormCache cache = new NormCache(NormKind.BATCHNORM, mode, 1, xhat,
                be.fromDoubles(mean, Shape.of(d)), be.fromDoubles(rstd, Shape.of(d)));
        return new NormResult(out, cache);
    }

    static NormGrads batchNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.BATCHNORM, dOut, cache, gamma);
        int n = dOut.shape().dim(0);
        int d = dOut.shape().dim(1);
        float[] dy = CpuBackend.data(dOut);
        float[] xh = CpuBackend.data(cache.xhat());
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        // step 1: Σ_N dOut (dβ) and Σ_N dOut·x̂ (dγ), side by side in one accumulator [2D]
        double[] sums = columnSums(n, 2 * d, (from, to, acc) -> {
            for (int row = from; row < to; row++) {
                for (int j = 0, off = row * d; j < d; j++) {
                    acc[j] += dy[off + j];
                    acc[d + j] += (double) dy[off + j] * xh[off + j];
                }
            }
        });
        double[] sumDy = Arrays.copyOfRange(sums, 0, d);
        double[] sumDyXhat = Arrays.copyOfRange(sums, d, 2 * d);
        // step 2: dX. TRAIN: (γ·rstd/N)·(N·dOut − Σdout − x̂·Σ(dout·x̂)); EVAL: μ and rstd are constants, γ·rstd·dOut
        DxCoefficients co = DxCoefficients.batchNorm(g, rstd, sumDy, sumDyXhat, n, cache.mode());
        float[] ca = co.a();
        float[] cb = co.b();
        float[] cc = co.c();
        CpuTensor dX = be.allocate(dOut.shape());
        float[] dx = dX.data();
        CpuParallel.forRows(n, d, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * d;
                for (int j = 0; j < d; j++) {
                    dx[off + j] = ca[j] * dy[off + j] - (cb[j] + cc[j] * xh[off + j]);
                }
            }
        });
        return new NormGrads(dX, be.fromDoubles(sumDyXhat, Shape.of(d)), be.fromDoubles(sumDy, Shape.of(d)));
    }

    // ================================================================ spatial batchnorm [N,C,H,W]

    static NormResult spatialBatchNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta,
                                              Tensor runningMean, Tensor runningVar, BatchNormParams p, Mode mode) {
        Contracts.spatialBatchNormForward(be, x, gamma, beta, runningMean, runningVar, p, mode);
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        long m = (long) n * sp;
        float[] xs = CpuBackend.data(x);
        double[] mean;
        double[] rstd = new double[c];
        if (mode == Mode.TRAIN) {
            // step 1: mean per channel over N·S — per-slab sums, then combined over n
            mean = perChannel(n, c, slabSums(n * c, sp, (slab, off) -> {
                double acc = 0;
                for (int i = off; i < off + sp; i++) {
                    acc += xs[i];
                }
                return acc;
            }));
            for (int ch = 0; ch < c; ch++) {
                mean[ch] /= m;
            }
            // step 2: biased variance per channel from the centred values
            double[] mu = mean;
            double[] var = perChannel(n, c, slabSums(n * c, sp, (slab, off) -> {
                double mc = mu[slab % c];
                double acc = 0;
                for (int i = off; i < off + sp; i++) {
                    double v = xs[i] - mc;
                    acc += v * v;
                }
                return acc;
            }));
            for (int ch = 0; ch < c; ch++) {
                var[ch] /= m;
                rstd[ch] = 1.0 / Math.sqrt(var[ch] + p.eps());
            }
            // step 3: running statistics in place
            updateRunning(runningMean, runningVar, mean, var, m, p);
        } else {
            mean = toDouble(CpuBackend.data(runningMean));
            double[] var = toDouble(CpuBackend.data(runningVar));
            for (int ch = 0; ch < c; ch++) {
                rstd[ch] = 1.0 / Math.sqrt(var[ch] + p.eps());
            }
        }
        // step 4: x̂ and y = γ·x̂ + β, slab by slab
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor xhat = be.allocate(s);
        CpuTensor out = be.allocate(s);
        float[] xh = xhat.data();
        float[] y = out.data();
        Centering ctr = Centering.of(mean, rstd);
        CpuParallel.forRows(n * c, sp, (k, from, to) -> {
            for (int slab = from; slab < to; slab++) {
                int ch = slab % c;
                float hi = ctr.hi()[ch];
                float lo = ctr.lo()[ch];
                float rs = ctr.rstd()[ch];
                float gc = g[ch];
                float bc = b[ch];
                for (int i = slab * sp, end = i + sp; i < end; i++) {
                    float v = ((xs[i] - hi) - lo) * rs;
                    xh[i] = v;
                    y[i] = gc * v + bc;
                }
            }
        });
        NormCache cache = new NormCache(NormKind.SPATIAL_BATCHNORM, mode, 1, xhat,
                be.fromDoubles(mean, Shape.of(c)), be.fromDoubles(rstd, Shape.of(c)));
        return new NormResult(out, cache);
    }

    static NormGrads spatialBatchNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.SPATIAL_BATCHNORM, dOut, cache, gamma);
        Shape s = dOut.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        long m = (long) n * sp;
        float[] dy = CpuBackend.data(dOut);
        float[] xh = CpuBackend.data(cache.xhat());
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        // step 1: Σ dOut and Σ dOut·x̂ per channel over N·S
        double[][] slab = slabDyAndDyXhat(dy, xh, n * c, sp);
        double[] sumDy = perChannel(n, c, slab[0]);
        double[] sumDyXhat = perChannel(n, c, slab[1]);
        // step 2: dX as for batchnorm with M = N·S in place of N
        DxCoefficients co = DxCoefficients.batchNorm(g, rstd, sumDy, sumDyXhat, m, cache.mode());
        CpuTensor dX = be.allocate(s);
        float[] dx = dX.data();
        CpuParallel.forRows(n * c, sp, (k, from, to) -> {
            for (int sl = from; sl < to; sl++) {
                int ch = sl % c;
                float a = co.a()[ch];
                float bb = co.b()[ch];
                float cc = co.c()[ch];
                for (int i = sl * sp, end = i + sp; i < end; i++) {
                    dx[i] = a * dy[i] - (bb + cc * xh[i]);
                }
            }
        });
        return new NormGrads(dX, be.fromDoubles(sumDyXhat, Shape.of(c)),
                be.fromDoubles(sumDy, Shape.of(c)));
    }

    // ================================================================ layernorm [N,D]

    static NormResult layerNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, float eps) {
        Contracts.layerNormForward(be, x, gamma, beta, eps);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor xhat = be.allocate(x.shape());
        CpuTensor out = be.allocate(x.shape());
        CpuTensor meanT = be.allocate(Shape.of(n));
        CpuTensor rstdT = be.allocate(Shape.of(n));
        float[] xh = xhat.data();
        float[] y = out.data();
        float[] means = meanT.data();
        float[] rstds = rstdT.data();
        CpuParallel.forRows(n, d, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * d;
                // step 1: mean over D
                double mean = 0;
                for (int j = 0; j < d; j++) {
                    mean += xs[off + j];
                }
                mean /= d;
                // step 2: biased variance over D, centred
                double ss = 0;
                for (int j = 0; j < d; j++) {
                    double c = xs[off + j] - mean;
                    ss += c * c;
                }
                double rstd = 1.0 / Math.sqrt(ss / d + eps);
                // step 3: x̂ = (x − μ)·rstd with μ = hi + lo, y = γ·x̂ + β
                float hi = (float) mean;
                float lo = (float) (mean - hi);
                float rs = (float) rstd;
                for (int j = 0; j < d; j++) {
                    float v = ((xs[off + j] - hi) - lo) * rs;
                    xh[off + j] = v;
                    y[off + j] = g[j] * v + b[j];
                }
                means[row] = (float) mean;
                rstds[row] = (float) rstd;
            }
        });
        return new NormResult(out, new NormCache(NormKind.LAYERNORM, Mode.TRAIN, 1, xhat, meanT, rstdT));
    }

    static NormGrads layerNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.LAYERNORM, dOut, cache, gamma);
        int n = dOut.shape().dim(0);
        int d = dOut.shape().dim(1);
        float[] dy = CpuBackend.data(dOut);
        float[] xh = CpuBackend.data(cache.xhat());
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        CpuTensor dX = be.allocate(dOut.shape());
        float[] dx = dX.data();
        // step 1: per row, with g = dOut·γ: Σ_D g and Σ_D g·x̂, then dX = (rstd/D)·(D·g − Σg − x̂·Σ(g·x̂))
        CpuParallel.forRows(n, d, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * d;
                double sumG = 0;
                double sumGXhat = 0;
                for (int j = 0; j < d; j++) {
                    double gj = (double) dy[off + j] * g[j];
                    sumG += gj;
                    sumGXhat += gj * xh[off + j];
                }
                // dX = rstd·g − (rstd/D)·(Σg + x̂·Σ(g·x̂)) = a·g − (b + c·x̂)
                float a = rstd[row];
                float bb = (float) (rstd[row] * sumG / d);
                float cc = (float) (rstd[row] * sumGXhat / d);
                for (int j = 0; j < d; j++) {
                    dx[off + j] = a * (dy[off + j] * g[j]) - (bb + cc * xh[off + j]);
                }
            }
        });
        // step 2: dβ = Σ_N dOut, dγ = Σ_N dOut·x̂
        double[] sums = columnSums(n, 2 * d, (from, to, acc) -> {
            for (int row = from; row < to; row++) {
                for (int j = 0, off = row * d; j < d; j++) {
                    acc[j] += dy[off + j];
                    acc[d + j] += (double) dy[off + j] * xh[off + j];
                }
            }
        });
        return grads(be, dX, sums, d, d, 0);
    }

    // ================================================================ groupnorm [N,C,H,W]

    static NormResult groupNormForward(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        Contracts.groupNormForward(be, x, gamma, beta, groups, eps);
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        int cpg = c / groups;          // channels per group
        int len = cpg * sp;            // M: elements of one (n, group) segment, contiguous
        float[] xs = CpuBackend.data(x);
        float[] g = CpuBackend.data(gamma);
        float[] b = CpuBackend.data(beta);
        CpuTensor xhat = be.allocate(s);
        CpuTensor out = be.allocate(s);
        CpuTensor meanT = be.allocate(Shape.of(n, groups));
        CpuTensor rstdT = be.allocate(Shape.of(n, groups));
        float[] xh = xhat.data();
        float[] y = out.data();
        float[] means = meanT.data();
        float[] rstds = rstdT.data();
        CpuParallel.forRows(n * groups, len, (k, from, to) -> {
            for (int seg = from; seg < to; seg++) {
                int off = seg * len;
                // step 1: mean over the segment
                double mean = 0;
                for (int i = off; i < off + len; i++) {
                    mean += xs[i];
                }
                mean /= len;
                // step 2: biased variance over the segment, centred
                double ss = 0;
                for (int i = off; i < off + len; i++) {
                    double v = xs[i] - mean;
                    ss += v * v;
                }
                double rstd = 1.0 / Math.sqrt(ss / len + eps);
                // step 3: x̂ = (x − μ)·rstd with μ = hi + lo, then y = γ[c]·x̂ + β[c] channel by channel
                float hi = (float) mean;
                float lo = (float) (mean - hi);
                float rs = (float) rstd;
                int c0 = (seg % groups) * cpg;
                for (int cc = 0; cc < cpg; cc++) {
                    float gc = g[c0 + cc];
                    float bc = b[c0 + cc];
                    for (int i = off + cc * sp, end = i + sp; i < end; i++) {
                        float v = ((xs[i] - hi) - lo) * rs;
                        xh[i] = v;
                        y[i] = gc * v + bc;
                    }
                }
                means[seg] = (float) mean;
                rstds[seg] = (float) rstd;
            }
        });
        return new NormResult(out, new NormCache(NormKind.GROUPNORM, Mode.TRAIN, groups, xhat, meanT, rstdT));
    }

    static NormGrads groupNormBackward(CpuBackend be, Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(be, NormKind.GROUPNORM, dOut, cache, gamma);
        Shape s = dOut.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int groups = cache.groups();
        if (groups < 1 || c % groups != 0 || !cache.rstd().shape().equals(Shape.of(n, groups))) {
            throw Contracts.bad("groupnorm.backward", "cache", "groups dividing C = " + c + " and rstd of shape ["
                    + n + "," + groups + "]", "groups = " + groups + ", rstd of shape " + cache.rstd().shape());
        }
        int sp = s.dim(2) * s.dim(3);
        int cpg = c / groups;
        int len = cpg * sp;
        float[] dy = CpuBackend.data(dOut);
        float[] xh = CpuBackend.data(cache.xhat());
        float[] rstd = CpuBackend.data(cache.rstd());
        float[] g = CpuBackend.data(gamma);
        CpuTensor dX = be.allocate(s);
        float[] dx = dX.data();
        // step 1: per segment, with g = dOut·γ[c]: layer-norm backward over the segment's M = (C/G)·S values
        CpuParallel.forRows(n * groups, len, (k, from, to) -> {
            for (int seg = from; seg < to; seg++) {
                int off = seg * len;
                int c0 = (seg % groups) * cpg;
                double sumG = 0;
                double sumGXhat = 0;
                for (int cc = 0; cc < cpg; cc++) {
                    double gc = g[c0 + cc];
                    for (int i = off + cc * sp, end = i + sp; i < end; i++) {
                        double gi = dy[i] * gc;
                        sumG += gi;
                        sumGXhat += gi * xh[i];
                    }
                }
                // dX = rstd·g − (rstd/M)·(Σg + x̂·Σ(g·x̂)) = a·g − (b + c·x̂)
                float a = rstd[seg];
                float bb = (float) (rstd[seg] * sumG / len);
                float cx = (float) (rstd[seg] * sumGXhat / len);
                for (int cc = 0; cc < cpg; cc++) {
                    float gc = g[c0 + cc];
                    for (int i = off + cc * sp, end = i + sp; i < end; i++) {
                        dx[i] = a * (dy[i] * gc) - (bb + cx * xh[i]);
                    }
                }
            }
        });
        // step 2: dβ[c] = Σ_{N,S} dOut, dγ[c] = Σ_{N,S} dOut·x̂ (per slab, then over n)
        double[][] slab = slabDyAndDyXhat(dy, xh, n * c, sp);
        return new NormGrads(dX, be.fromDoubles(perChannel(n, c, slab[1]), Shape.of(c)),
                be.fromDoubles(perChannel(n, c, slab[0]), Shape.of(c)));
    }

    // ================================================================ shared helpers

    /**
     * Per-statistic float constants of the x̂ pass: the mean split as μ = hi + lo (hi = μ rounded to float,
     * lo = the rest rounded to float) and rstd rounded to float; x̂ = ((x − hi) − lo)·rstd.
     */
    private record Centering(float[] hi, float[] lo, float[] rstd) {
        static Centering of(double[] mean, double[] rstd) {
            int k = mean.length;
            float[] hi = new float[k];
            float[] lo = new float[k];
            float[] rs = new float[k];
            for (int i = 0; i < k; i++) {
                hi[i] = (float) mean[i];
                lo[i] = (float) (mean[i] - hi[i]);
                rs[i] = (float) rstd[i];
            }
            return new Centering(hi, lo, rs);
        }
    }

    /**
     * Per-statistic float coefficients of dX = a·g − (b + c·x̂), formed in double from the double sums. For batch
     * norm (g = dOut, γ constant per feature): TRAIN a = γ·rstd, b = γ·rstd·Σdout/M, c = γ·rstd·Σ(dout·x̂)/M — the
     * expanded (γ·rstd/M)·(M·dout − Σdout − x̂·Σ(dout·x̂)); EVAL a = γ·rstd, b = c = 0.
     */
    private record DxCoefficients(float[] a, float[] b, float[] c) {
        static DxCoefficients batchNorm(float[] gamma, float[] rstd, double[] sumDy, double[] sumDyXhat, long m,
                                        Mode mode) {
            int k = gamma.length;
            float[] a = new float[k];
            float[] b = new float[k];
            float[] c = new float[k];
            for (int j = 0; j < k; j++) {
                double gr = (double) gamma[j] * rstd[j];
                a[j] = (float) gr;
                if (mode == Mode.TRAIN) {
                    b[j] = (float) (gr * sumDy[j] / m);
                    c[j] = (float) (gr * sumDyXhat[j] / m);
                }
            }
            return new DxCoefficients(a, b, c);
        }
    }

    /** Adds the contributions of rows {@code [from, to)} to a per-chunk accumulator. */
    @FunctionalInterface
    private interface RowsAccumulator {
        void add(int from, int to, double[] acc);
    }

    /** The sum of one slab starting at {@code off}. */
    @FunctionalInterface
    private interface SlabSum {
        double sum(int slab, int off);
    }

    /** Σ over rows of what {@code f} adds, width {@code width}: per-chunk partials in double, combined in order. */
    private static double[] columnSums(int rows, int width, RowsAccumulator f) {
        int chunks = CpuParallel.chunks(rows, width);
        double[][] part = new double[chunks][width];
        CpuParallel.forChunks(chunks, rows, (k, from, to) -> f.add(from, to, part[k]));
        double[] total = part[0];
        for (int k = 1; k < chunks; k++) {
            for (int j = 0; j < width; j++) {
                total[j] += part[k][j];
            }
        }
        return total;
    }

    /** One double per slab of {@code len} contiguous values. */
    private static double[] slabSums(int slabs, int len, SlabSum f) {
        double[] out = new double[slabs];
        CpuParallel.forRows(slabs, len, (k, from, to) -> {
            for (int sl = from; sl < to; sl++) {
                out[sl] = f.sum(sl, sl * len);
            }
        });
        return out;
    }

    /** Per slab: {Σ dOut, Σ dOut·x̂}. */
    private static double[][] slabDyAndDyXhat(float[] dy, float[] xh, int slabs, int len) {
        double[] sumDy = new double[slabs];
        double[] sumDyXhat = new double[slabs];
        CpuParallel.forRows(slabs, len, (k, from, to) -> {
            for (int sl = from; sl < to; sl++) {
                double a = 0;
                double bsum = 0;
                for (int i = sl * len, end = i + len; i < end; i++) {
                    a += dy[i];
                    bsum += (double) dy[i] * xh[i];
                }
                sumDy[sl] = a;
                sumDyXhat[sl] = bsum;
            }
        });
        return new double[][] {sumDy, sumDyXhat};
    }

    /** Combines per-(n, c) slab values into per-channel totals, in order of n. */
    private static double[] perChannel(int n, int c, double[] slabValues) {
        double[] out = new double[c];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                out[ch] += slabValues[i * c + ch];
            }
        }
        return out;
    }

    /** r = decay·r + (1−decay)·batch; the variance optionally unbiased by M/(M−1). */
    private static void updateRunning(Tensor runningMean, Tensor runningVar, double[] mean, double[] var, long m,
                                      BatchNormParams p) {
        float[] rm = CpuBackend.data(runningMean);
        float[] rv = CpuBackend.data(runningVar);
        double decay = p.decay();
        double unbias = p.unbiasedRunningVar() ? (double) m / (m - 1) : 1.0;
        for (int j = 0; j < mean.length; j++) {
            rm[j] = (float) (decay * rm[j] + (1 - decay) * mean[j]);
            rv[j] = (float) (decay * rv[j] + (1 - decay) * var[j] * unbias);
        }
    }

    /** dX plus dγ, dβ taken from {@code sums} (dγ at {@code gammaAt}, dβ at {@code betaAt}, each {@code width}). */
    private static NormGrads grads(CpuBackend be, CpuTensor dX, double[] sums, int width, int gammaAt, int betaAt) {
        return new NormGrads(dX, be.fromDoubles(sums, gammaAt, Shape.of(width)),
                be.fromDoubles(sums, betaAt, Shape.of(width)));
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
