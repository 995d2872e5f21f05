package org.layerkit.conformance;

import org.layerkit.api.Conv2dParams;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;

/**
 * The float64 reference of every kernel of the layerkit contract: plain loops over row-major {@code double[]} arrays,
 * written for reading rather than speed. The conformance kit computes expected values with these at run time, and
 * its own tests check every backward here against central-difference numerical gradients.
 *
 * <p>Shape letters: N batch, D features, C channels, HW = H·W spatial positions, G groups, K classes. Element
 * (n, d) of {@code [N,D]} is at {@code n·D + d}; element (n, c, s) of {@code [N,C,H,W]} is at
 * {@code (n·C + c)·HW + s}. Forwards return new arrays; optimizer updates change their state arrays in place, like
 * the kernels they mirror.
 */
public final class Reference {
    private Reference() {
    }

    /**
     * What a normalization forward computes.
     *
     * @param out  γ·x̂ + β, x's shape
     * @param xhat the normalized input, x's shape
     * @param mean the mean of each statistic ({@code [D]}, {@code [C]}, {@code [N]} or {@code [N,G]})
     * @param var  the biased variance of each statistic (for batch norm in EVAL: the running variance)
     * @param rstd 1/√(var + ε) of each statistic
     */
    public record NormForward(double[] out, double[] xhat, double[] mean, double[] var, double[] rstd) {
    }

    /** Gradients of a normalization: dX has x's shape, dγ and dβ γ's. */
    public record NormBackward(double[] dx, double[] dgamma, double[] dbeta) {
    }

    /** Softmax cross-entropy: the mean loss and ∂loss/∂logits. */
    public record Loss(double loss, double[] dlogits) {
    }

    /** Gradients of C' = α·op(A)·op(B) + β·C with respect to A and B (in their stored layout) and the old C. */
    public record GemmBackward(double[] da, double[] db, double[] dc) {
    }

    // =================================================================================================== batchnorm

    /** Batch norm [N,D] in TRAIN mode: per-feature mean and biased variance over N (two passes). */
    public static NormForward batchNormTrain(double[] x, int n, int d, double[] gamma, double[] beta, double eps) {
        double[] mean = new double[d];
        double[] var = new double[d];
        for (int j = 0; j < d; j++) {
            // pass 1: μ_d = (1/N) Σ_n x[n,d]
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += x[i * d + j];
            }
            mean[j] = s / n;
            // pass 2: σ²_d = (1/N) Σ_n (x[n,d] − μ_d)², biased
            double q = 0;
            for (int i = 0; i < n; i++) {
                double c = x[i * d + j] - mean[j];
                q += c * c;
            }
            var[j] = q / n;
        }
        return normalizeColumns(x, n, d, gamma, beta, mean, var, eps);
    }

    /** Batch norm [N,D] in EVAL mode: normalizes with the running statistics. */
    public static NormForward batchNormEval(double[] x, int n, int d, double[] gamma, double[] beta,
                                            double[] runningMean, double[] runningVar, double eps) {
        return normalizeColumns(x, n, d, gamma, beta, runningMean.clone(), runningVar.clone(), eps);
    }

    /** x̂[n,d] = (x[n,d] − μ_d)·rstd_d and out = γ_d·x̂ + β_d. */
    private static NormForward normalizeColumns(double[] x, int n, int d, double[] gamma, double[] beta,
                                                double[] mean, double[] var, double eps) {
        double[] rstd = new double[d];
        for (int j = 0; j < d; j++) {
            rstd[j] = 1.0 / Math.sqrt(var[j] + eps);
        }
        double[] xhat = new double[n * d];
        double[] out = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                xhat[k] = (x[k] - mean[j]) * rstd[j];
                out[k] = gamma[j] * xhat[k] + beta[j];
            }
        }
        return new NormForward(out, xhat, mean, var, rstd);
    }

    /**
     * Batch-norm backward in TRAIN mode, the simplified ("alt") form with sums over N:
     * dγ = Σ dout·x̂, dβ = Σ dout, dx = (γ·rstd/N)·(N·dout − Σ dout − x̂·Σ(dout·x̂)).
     */
    public static NormBackward batchNormBackward(double[] dout, double[] xhat, double[] rstd, double[] gamma,
                                                 int n, int d) {
        double[] dgamma = new double[d];
        double[] dbeta = new double[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                dbeta[j] += dout[i * d + j];                       // Σ_N dout
                dgamma[j] += dout[i * d + j] * xhat[i * d + j];    // Σ_N dout·x̂
            }
        }
        double[] dx = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                double term1 = n * dout[k];            // term 1: N·dout
                double term2 = dbeta[j];               // term 2: Σ dout (the mean's path)
                double term3 = xhat[k] * dgamma[j];    // term 3: x̂·Σ(dout·x̂) (the variance's path)
                dx[k] = gamma[j] * rstd[j] / n * (term1 - term2 - term3);
            }
        }
        return new NormBackward(dx, dgamma, dbeta);
    }

    /** Batch-norm backward in EVAL mode: the statistics are constants, so dx = γ·rstd·dout. */
    public static NormBackward batchNormBackwardEval(double[] dout, double[] xhat, double[] rstd, double[] gamma,
                                                     int n, int d) {
        double[] dgamma = new double[d];
        double[] dbeta = new double[d];
        double[] dx = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                dbeta[j] += dout[k];
                dgamma[j] += dout[k] * xhat[k];
                dx[k] = gamma[j] * rstd[j] * dout[k];
            }
        }
        return new NormBackward(dx, dgamma, dbeta);
    }

    /**
     * One update of a running statistic: r = decay·r + (1−decay)·batch, returned as a new array.
     */
    public static double[] runningUpdate(double[] running, double[] batch, double decay) {
        double[] r = new double[running.length];
        for (int j = 0; j < r.length; j++) {
            r[j] = decay * running[j] + (1 - decay) * batch[j];
        }
        return r;
    }

    /** The value a running variance receives: σ² (biased), or σ²·M/(M−1) (unbiased) for M elements per statistic. */
    public static double[] runningVarianceInput(double[] biasedVar, long m, boolean unbiased) {
        double[] v = biasedVar.clone();
        if (unbiased) {
            for (int j = 0; j < v.length; j++) {
                v[j] = v[j] * m / (m - 1);
            }
        }
        return v;
    }

    // =========================================================================================== spatial batchnorm

    /** Spatial batch norm [N,C,H,W] in TRAIN mode: per-channel statistics over M = N·HW (two passes). */
    public static NormForward spatialBatchNormTrain(double[] x, int n, int c, int hw, double[] gamma, double[] beta,
                                                    double eps) {
        double[] mean = new double[c];
        double[] var = new double[c];
        double m = (double) n * hw;
        for (int ch = 0; ch < c; ch++) {
            // pass 1: μ_c over every (n, s)
            double s = 0;
            for (int i = 0; i < n; i++) {
                for (int p = 0; p < hw; p++) {
                    s += x[(i * c + ch) * hw + p];
                }
            }
            mean[ch] = s / m;
            // pass 2: biased σ²_c
            double q = 0;
            for (int i = 0; i < n; i++) {
                for (int p = 0; p < hw; p++) {
                    double v = x[(i * c + ch) * hw + p] - mean[ch];
                    q += v * v;
                }
            }
            var[ch] = q / m;
        }
        return normalizeChannels(x, n, c, hw, gamma, beta, mean, var, eps);
    }

    /** Spatial batch norm in EVAL mode with the running statistics. */
    public static NormForward spatialBatchNormEval(double[] x, int n, int c, int hw, double[] gamma, double[] beta,
                                                   double[] runningMean, double[] runningVar, double eps) {
        return normalizeChannels(x, n, c, hw, gamma, beta, runningMean.clone(), runningVar.clone(), eps);
    }

    private static NormForward normalizeChannels(double[] x, int n, int c, int hw, double[] gamma, double[] beta,
                                                 double[] mean, double[] var, double eps) {
        double[] rstd = new double[c];
        for (int ch = 0; ch < c; ch++) {
            rstd[ch] = 1.0 / Math.sqrt(var[ch] + eps);
        }
        double[] xhat = new double[x.length];
        double[] out = new double[x.length];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < hw; p++) {
                    int k = (i * c + ch) * hw + p;
                    xhat[k] = (x[k] - mean[ch]) * rstd[ch];
                    out[k] = gamma[ch] * xhat[k] + beta[ch];
                }
            }
        }
        return new NormForward(out, xhat, mean, var, rstd);
    }

    /** Spatial batch-norm backward: the batch-norm formulas with sums over M = N·HW per channel. */
    public static NormBackward spatialBatchNormBackward(double[] dout, double[] xhat, double[] rstd, double[] gamma,
                                                        int n, int c, int hw, boolean train) {
        double[] dgamma = new double[c];
        double[] dbeta = new double[c];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < hw; p++) {
                    int k = (i * c + ch) * hw + p;
                    dbeta[ch] += dout[k];
                    dgamma[ch] += dout[k] * xhat[k];
                }
            }
        }
        double m = (double) n * hw;
        double[] dx = new double[dout.length];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < hw; p++) {
                    int k = (i * c + ch) * hw + p;
                    if (train) {
                        // (γ·rstd/M)·(M·dout − Σ dout − x̂·Σ(dout·x̂))
                        dx[k] = gamma[ch] * rstd[ch] / m * (m * dout[k] - dbeta[ch] - xhat[k] * dgamma[ch]);
                    } else {
                        dx[k] = gamma[ch] * rstd[ch] * dout[k];
                    }
                }
            }
        }
        return new NormBackward(dx, dgamma, dbeta);
    }

    // =================================================================================================== layernorm

    /** Layer norm [N,D]: per-row mean and biased variance over D; mean and rstd have shape [N]. */
    public static NormForward layerNormForward(double[] x, int n, int d, double[] gamma, double[] beta, double eps) {
        double[] mean = new double[n];
        double[] var = new double[n];
        double[] rstd = new double[n];
        double[] xhat = new double[n * d];
        double[] out = new double[n * d];
        for (int i = 0; i < n; i++) {
            // pass 1: μ_n over the row
            double s = 0;
            for (int j = 0; j < d; j++) {
                s += x[i * d + j];
            }
            mean[i] = s / d;
            // pass 2: biased σ²_n
            double q = 0;
            for (int j = 0; j < d; j++) {
                double v = x[i * d + j] - mean[i];
                q += v * v;
            }
            var[i] = q / d;
            rstd[i] = 1.0 / Math.sqrt(var[i] + eps);
            // normalize, then the per-feature affine transform
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                xhat[k] = (x[k] - mean[i]) * rstd[i];
                out[k] = gamma[j] * xhat[k] + beta[j];
            }
        }
        return new NormForward(out, xhat, mean, var, rstd);
    }

    /**
     * Layer-norm backward: with g = dout·γ, dx = (rstd/D)·(D·g − Σ_D g − x̂·Σ_D(g·x̂)); dγ = Σ_N dout·x̂,
     * dβ = Σ_N dout.
     */
    public static NormBackward layerNormBackward(double[] dout, double[] xhat, double[] rstd, double[] gamma,
                                                 int n, int d) {
        double[] dgamma = new double[d];
        double[] dbeta = new double[d];
        double[] dx = new double[n * d];
        for (int i = 0; i < n; i++) {
            double sumG = 0;     // Σ_D g
            double sumGx = 0;    // Σ_D g·x̂
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                double g = dout[k] * gamma[j];
                sumG += g;
                sumGx += g * xhat[k];
                dgamma[j] += dout[k] * xhat[k];
                dbeta[j] += dout[k];
            }
            for (int j = 0; j < d; j++) {
                int k = i * d + j;
                double g = dout[k] * gamma[j];
                dx[k] = rstd[i] / d * (d * g - sumG - xhat[k] * sumGx);
            }
        }
        return new NormBackward(dx, dgamma, dbeta);
    }

    // =================================================================================================== groupnorm

    /**
     * Group norm [N,C,H,W] with G groups: statistics per (n, g) over the L = (C/G)·HW elements of the group's
     * channels; mean and rstd have shape [N,G] (index n·G + g); γ, β per channel.
     */
    public static NormForward groupNormForward(double[] x, int n, int c, int hw, int groups, double[] gamma,
                                               double[] beta, double eps) {
        int cpg = c / groups;                 // channels per group
        int len = cpg * hw;                   // L: a group's elements are contiguous in [N,C,H,W]
        double[] mean = new double[n * groups];
        double[] var = new double[n * groups];
        double[] rstd = new double[n * groups];
        double[] xhat = new double[x.length];
        double[] out = new double[x.length];
        for (int i = 0; i < n; i++) {
            for (int g = 0; g < groups; g++) {
                int s = i * groups + g;
                int start = (i * c + g * cpg) * hw;
                // pass 1: the group's mean
                double sum = 0;
                for (int k = start; k < start + len; k++) {
                    sum += x[k];
                }
                mean[s] = sum / len;
                // pass 2: its biased variance
                double q = 0;
                for (int k = start; k < start + len; k++) {
                    double v = x[k] - mean[s];
                    q += v * v;
                }
                var[s] = q / len;
                rstd[s] = 1.0 / Math.sqrt(var[s] + eps);
                // normalize; γ and β are indexed by the element's channel
                for (int k = start; k < start + len; k++) {
                    int ch = (k / hw) % c;
                    xhat[k] = (x[k] - mean[s]) * rstd[s];
                    out[k] = gamma[ch] * xhat[k] + beta[ch];
                }
            }
        }
        return new NormForward(out, xhat, mean, var, rstd);
    }

    /** Group-norm backward: the layer-norm formula per (n, g) over L elements, with g = dout·γ[c]. */
    public static NormBackward groupNormBackward(double[] dout, double[] xhat, double[] rstd, double[] gamma,
                                                 int n, int c, int hw, int groups) {
        int cpg = c / groups;
        int len = cpg * hw;
        double[] dgamma = new double[c];
        double[] dbeta = new double[c];
        double[] dx = new double[dout.length];
        for (int i = 0; i < n; i++) {
            for (int g = 0; g < groups; g++) {
                int s = i * groups + g;
                int start = (i * c + g * cpg) * hw;
                double sumG = 0;     // Σ_L dout·γ
                double sumGx = 0;    // Σ_L dout·γ·x̂
                for (int k = start; k < start + len; k++) {
                    int ch = (k / hw) % c;
                    double gk = dout[k] * gamma[ch];
                    sumG += gk;
                    sumGx += gk * xhat[k];
                    dgamma[ch] += dout[k] * xhat[k];
                    dbeta[ch] += dout[k];
                }
                for (int k = start; k < start + len; k++) {
                    int ch = (k / hw) % c;
                    double gk = dout[k] * gamma[ch];
                    dx[k] = rstd[s] / len * (len * gk - sumG - xhat[k] * sumGx);
                }
            }
        }
        return new NormBackward(dx, dgamma, dbeta);
    }

    // ===================================================================================================== dropout

    /**
     * Philox4x32-10, written out independently of the api's implementation so that the two check each other:
     * ten rounds of (c0,c1,c2,c3) → (hi(M1·c2)⊕c1⊕k0, lo(M1·c2), hi(M0·c0)⊕c3⊕k1, lo(M0·c0)), with the key
     * bumped by (0x9E3779B9, 0xBB67AE85) between rounds. Words are unsigned 32-bit values held in longs.
     */
    public static long[] philox4x32(long c0, long c1, long c2, long c3, long k0, long k1) {
        final long m0 = 0xD2511F53L;
        final long m1 = 0xCD9E8D57L;
        final long mask = 0xFFFFFFFFL;
        long[] c = {c0 & mask, c1 & mask, c2 & mask, c3 & mask};
        long key0 = k0 & mask;
        long key1 = k1 & mask;
        for (int round = 0; round < 10; round++) {
            if (round > 0) {
                key0 = (key0 + 0x9E3779B9L) & mask;
                key1 = (key1 + 0xBB67AE85L) & mask;
            }
            // two 32×32→64 products; unsigned, fits a long exactly below 2^64 as an unsigned value
            long p0 = m0 * c[0];
            long p1 = m1 * c[2];
            long hi0 = p0 >>> 32;
            long lo0 = p0 & mask;
            long hi1 = p1 >>> 32;
            long lo1 = p1 & mask;
            c = new long[] {hi1 ^ c[1] ^ key0, lo1, hi0 ^ c[3] ^ key1, lo0};
        }
        return c;
    }

    /**
     * The dropout mask of {@code size} elements: element i uses counter (⌊i/4⌋ lo, ⌊i/4⌋ hi, offset lo, offset hi),
     * key (seed lo, seed hi), word i mod 4; it is kept iff (word &gt;&gt;&gt; 8) &lt; T = ⌊keep·2²⁴⌋ and then
     * holds the float scale (float) (1/keep), else 0.
     */
    public static float[] dropoutMask(int size, double keep, long seed, long offset) {
        long threshold = (long) Math.floor(keep * (1 << 24));
        float scale = (float) (1.0 / keep);
        float[] mask = new float[size];
        long[] words = null;
        for (int i = 0; i < size; i++) {
            if ((i & 3) == 0) {
                long block = i >>> 2;
                words = philox4x32(block, block >>> 32, offset, offset >>> 32, seed, seed >>> 32);
            }
            long word = words[i & 3];
            mask[i] = (word >>> 8) < threshold ? scale : 0f;
        }
        return mask;
    }

    /**
     * {@link #dropoutMask(int, double, long, long)} for the given options: element i takes the decision of global
     * element {@code o.start() + i} (a slice of a larger tensor's mask).
     */
    public static float[] dropoutMask(int size, DropoutOptions o) {
        if (o.start() == 0) {
            return dropoutMask(size, o.keep(), o.seed(), o.offset());
        }
        long start = o.start();
        int lead = (int) (start & 3);
        float[] aligned = new float[size + lead];
        long threshold = (long) Math.floor(o.keep() * (1 << 24));
        float scale = (float) (1.0 / o.keep());
        for (int i = 0; i < aligned.length; i += 4) {
            long block = (start >>> 2) + (i >>> 2);
            long[] words = philox4x32(block, block >>> 32, o.offset(), o.offset() >>> 32, o.seed(), o.seed() >>> 32);
            for (int j = 0; j < 4 && i + j < aligned.length; j++) {
                aligned[i + j] = (words[j] >>> 8) < threshold ? scale : 0f;
            }
        }
        return java.util.Arrays.copyOfRange(aligned, lead, lead + size);
    }

    /** Inverted dropout forward with a given mask: out = x ⊙ mask (the same product a float kernel computes). */
    public static double[] dropoutForward(double[] x, float[] mask) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * mask[i];
        }
        return out;
    }

    /** dx = dout ⊙ mask. */
    public static double[] dropoutBackward(double[] dout, float[] mask) {
        return dropoutForward(dout, mask);
    }

    // ================================================================================================ training ops

    /**
     * C' = α·op(A)·op(B) + β·C as a new [M,N] array; A is stored [aRows,aCols], B [bRows,bCols], op(X) = Xᵀ when
     * its flag is set. With β = 0 the old C is not read at all (NaN there does not propagate).
     */
    public static double[] gemm(double[] a, int aRows, int aCols, boolean transA, double[] b, int bRows, int bCols,
                                boolean transB, double[] c, double alpha, double beta) {
        int m = transA ? aCols : aRows;
        int k = transA ? aRows : aCols;
        int n = transB ? bRows : bCols;
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[p * aCols + i] : a[i * aCols + p];   // op(A)[i,p]
                    double bv = transB ? b[j * bCols + p] : b[p * bCols + j];   // op(B)[p,j]
                    s += av * bv;
                }
                out[i * n + j] = beta == 0 ? alpha * s : alpha * s + beta * c[i * n + j];
            }
        }
        return out;
    }

    /**
     * Backward of {@link #gemm}: with G = dC' [M,N], d op(A) = α·G·op(B)ᵀ, d op(B) = α·op(A)ᵀ·G, mapped back to A's
     * and B's stored layout, and dC = β·G.
     */
    public static GemmBackward gemmBackward(double[] dc, double[] a, int aRows, int aCols, boolean transA,
                                            double[] b, int bRows, int bCols, boolean transB, double alpha,
                                            double beta) {
        int m = transA ? aCols : aRows;
        int k = transA ? aRows : aCols;
        int n = transB ? bRows : bCols;
        double[] da = new double[a.length];
        double[] db = new double[b.length];
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                for (int j = 0; j < n; j++) {
                    double g = alpha * dc[i * n + j];
                    double av = transA ? a[p * aCols + i] : a[i * aCols + p];
                    double bv = transB ? b[j * bCols + p] : b[p * bCols + j];
                    da[transA ? p * aCols + i : i * aCols + p] += g * bv;   // ∂/∂op(A)[i,p]
                    db[transB ? j * bCols + p : p * bCols + j] += g * av;   // ∂/∂op(B)[p,j]
                }
            }
        }
        double[] dcOld = new double[dc.length];
        for (int i = 0; i < dc.length; i++) {
            dcOld[i] = beta * dc[i];
        }
        return new GemmBackward(da, db, dcOld);
    }

    /** x[n,d] + bias[d] as a new array. */
    public static double[] addBias(double[] x, int n, int d, double[] bias) {
        double[] out = new double[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                out[i * d + j] = x[i * d + j] + bias[j];
            }
        }
        return out;
    }

    /** Σ_N x[n,d], shape [D]. */
    public static double[] columnSum(double[] x, int n, int d) {
        double[] s = new double[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                s[j] += x[i * d + j];
            }
        }
        return s;
    }

    /**
     * max(x, 0) with NaN propagated, as IEEE maximum and PyTorch: 0 where x ≤ 0 (−0 and −∞ included), else x
     * (NaN stays NaN, +∞ stays +∞).
     */
    public static double[] relu(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] <= 0 ? 0 : x[i];
        }
        return out;
    }

    /**
     * 0 where x ≤ 0 (zero at x = 0), else dout — PyTorch's threshold_backward: where x is NaN the gradient passes
     * through (NaN ≤ 0 is false), as where x is +∞.
     */
    public static double[] reluBackward(double[] dout, double[] x) {
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            dx[i] = x[i] <= 0 ? 0 : dout[i];
        }
        return dx;
    }

    /**
     * Softmax cross-entropy of logits [N,K] against class indices: per row, shift by the row maximum (stability),
     * log-sum-exp, loss_n = lse − z[label]; loss = mean over N; dlogits = (softmax − onehot)/N.
     */
    public static Loss softmaxCrossEntropy(double[] logits, int[] labels, int n, int k) {
        double loss = 0;
        double[] d = new double[n * k];
        for (int i = 0; i < n; i++) {
            // shift by the row maximum so that exp never overflows
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, logits[i * k + j]);
            }
            double sumExp = 0;
            for (int j = 0; j < k; j++) {
                sumExp += Math.exp(logits[i * k + j] - max);
            }
            double logSumExp = Math.log(sumExp);                       // log Σ exp(z − max)
            loss += logSumExp - (logits[i * k + labels[i]] - max);     // −log softmax[label]
            for (int j = 0; j < k; j++) {
                double p = Math.exp(logits[i * k + j] - max - logSumExp);
                d[i * k + j] = (p - (j == labels[i] ? 1 : 0)) / n;
            }
        }
        return new Loss(loss / n, d);
    }

    /** Index of the largest element of each row, the first one on ties. */
    public static int[] argmax(double[] x, int n, int k) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++) {
                if (x[i * k + j] > x[i * k + best]) {
                    best = j;
                }
            }
            idx[i] = best;
        }
        return idx;
    }

    /** Σ x². */
    public static double sumOfSquares(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v * v;
        }
        return s;
    }

    // ========================================================================= optimizer updates (in place, optim.py)

    /** w −= lr·dw. */
    public static void sgd(double[] w, double[] dw, double lr) {
        for (int i = 0; i < w.length; i++) {
            w[i] -= lr * dw[i];
        }
    }

    /** v = μ·v − lr·dw; w += v. */
    public static void sgdMomentum(double[] w, double[] dw, double[] v, double lr, double momentum) {
        for (int i = 0; i < w.length; i++) {
            v[i] = momentum * v[i] - lr * dw[i];
            w[i] += v[i];
        }
    }

    /** c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε). */
    public static void rmsprop(double[] w, double[] dw, double[] cache, double lr, double decayRate, double eps) {
        for (int i = 0; i < w.length; i++) {
            cache[i] = decayRate * cache[i] + (1 - decayRate) * dw[i] * dw[i];
            w[i] -= lr * dw[i] / (Math.sqrt(cache[i]) + eps);
        }
    }

    /** Adam at step t ≥ 1: m, v moments, bias-corrected m̂, v̂; w −= lr·m̂/(√v̂ + ε). */
    public static void adam(double[] w, double[] dw, double[] m, double[] v, double lr, double beta1, double beta2,
                            double eps, int t) {
        for (int i = 0; i < w.length; i++) {
            m[i] = beta1 * m[i] + (1 - beta1) * dw[i];                 // first moment
            v[i] = beta2 * v[i] + (1 - beta2) * dw[i] * dw[i];         // second moment
            double mHat = m[i] / (1 - Math.pow(beta1, t));             // bias corrections
            double vHat = v[i] / (1 - Math.pow(beta2, t));
            w[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
        }
    }

    // ========================================================================================== element-wise ops

    /** Every element set to {@code value}: a new array of {@code size}. */
    public static double[] fill(int size, double value) {
        double[] t = new double[size];
        java.util.Arrays.fill(t, value);
        return t;
    }

    /** A copy of src (what dst holds after {@code copy(src, dst)}). */
    public static double[] copy(double[] src) {
        return src.clone();
    }

    /** alpha·t as a new array. */
    public static double[] scale(double[] t, double alpha) {
        double[] out = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            out[i] = alpha * t[i];
        }
        return out;
    }

    /** y + alpha·x as a new array. */
    public static double[] axpy(double alpha, double[] x, double[] y) {
        double[] out = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            out[i] = y[i] + alpha * x[i];
        }
        return out;
    }

    // ===================================================================================== convolution and pooling

    /**
     * The geometry of a convolution: x [N,C,H,W], w [F,C,KH,KW], and the stride and padding of {@code params}
     * (dilation and groups are 1; the reference does not implement others).
     */
    public record Conv2dShape(int n, int c, int h, int w, int f, int kh, int kw, Conv2dParams params) {
        /** H' = ⌊(H + 2·padH − KH)/strideH⌋ + 1. */
        public int outH() {
            return (int) params.outputHeight(h, kh);
        }

        /** W' = ⌊(W + 2·padW − KW)/strideW⌋ + 1. */
        public int outW() {
            return (int) params.outputWidth(w, kw);
        }

        /** x's shape. */
        public Shape inputShape() {
            return Shape.of(n, c, h, w);
        }

        /** w's shape. */
        public Shape weightShape() {
            return Shape.of(f, c, kh, kw);
        }

        /** out's shape [N,F,H',W']. */
        public Shape outputShape() {
            return Shape.of(n, f, outH(), outW());
        }
    }

    /** Gradients of a convolution: dx of x's shape, dw of w's, db [F] (null when there is no bias). */
    public record Conv2dBackward(double[] dx, double[] dw, double[] db) {
    }

    /**
     * Convolution (cross-correlation) with zero padding: out[n,f,i,j] = bias[f] + Σ_{c,p,q} w[f,c,p,q]·
     * x[n,c, i·sH + p − pH, j·sW + q − pW], x being 0 outside the input. {@code bias} may be null (no bias).
     * The loops run tap by tap (c, p, q) over the outputs whose window puts that tap inside x, so padding is
     * skipped rather than multiplied.
     */
    public static double[] conv2dForward(double[] x, double[] w, double[] bias, Conv2dShape g) {
        int oh = g.outH();
        int ow = g.outW();
        Conv2dParams p = g.params();
        double[] out = new double[g.n() * g.f() * oh * ow];
        for (int n = 0; n < g.n(); n++) {
            for (int f = 0; f < g.f(); f++) {
                int o = (n * g.f() + f) * oh * ow;
                if (bias != null) {
                    java.util.Arrays.fill(out, o, o + oh * ow, bias[f]);
                }
                for (int c = 0; c < g.c(); c++) {
                    for (int kp = 0; kp < g.kh(); kp++) {
                        for (int kq = 0; kq < g.kw(); kq++) {
                            double wv = w[((f * g.c() + c) * g.kh() + kp) * g.kw() + kq];
                            // the tap (kp, kq) of window (i, j) reads x at (i·sH + kp − pH, j·sW + kq − pW)
                            int iEnd = end(kp, p.strideH(), p.padH(), g.h(), oh);
                            int jEnd = end(kq, p.strideW(), p.padW(), g.w(), ow);
                            for (int i = first(kp, p.strideH(), p.padH()); i < iEnd; i++) {
                                int xRow = ((n * g.c() + c) * g.h() + tap(i, p.strideH(), kp, p.padH())) * g.w();
                                for (int j = first(kq, p.strideW(), p.padW()); j < jEnd; j++) {
                                    out[o + i * ow + j] += wv * x[xRow + tap(j, p.strideW(), kq, p.padW())];
                                }
                            }
                        }
                    }
                }
            }
        }
        return out;
    }

    // Window coordinates in long: a stride and padding near 2^31 pass the int range although the output is small.

    /** The first output index i whose tap k lands inside the input: i·stride + k − pad ≥ 0. */
    private static int first(int k, int stride, int pad) {
        return (int) Math.max(0, Math.floorDiv((long) pad - k + stride - 1, stride));
    }

    /** One past the last output index i (below {@code out}) whose tap k lands inside: i·stride + k − pad &lt; in. */
    private static int end(int k, int stride, int pad, int in, int out) {
        return (int) Math.min(out, Math.floorDiv((long) in - 1 + pad - k, stride) + 1);
    }

    /** The input coordinate i·stride + k − pad of output index i's tap k, for a tap that lands inside. */
    private static int tap(int i, int stride, int k, int pad) {
        return (int) ((long) i * stride + k - pad);
    }

    /**
     * Backward of {@link #conv2dForward}: every output is linear in the input, the weights and the bias, so each
     * gradient sums dOut over the outputs an input appears in, times its coefficient there (derivation in
     * {@code docs/ops/conv2d.md}): dB[f] = Σ_{n,i,j} dOut; dW[f,c,p,q] = Σ_{n,i,j} dOut[n,f,i,j]·x̃[…]; dX[n,c,h,w]
     * receives dOut[n,f,i,j]·w[f,c,p,q] from every window position that reads it (padding gets nothing).
     * {@code hasBias} false gives db = null.
     */
    public static Conv2dBackward conv2dBackward(double[] dout, double[] x, double[] w, boolean hasBias,
                                                Conv2dShape g) {
        int oh = g.outH();
        int ow = g.outW();
        Conv2dParams p = g.params();
        double[] dx = new double[x.length];
        double[] dw = new double[w.length];
        double[] db = hasBias ? new double[g.f()] : null;
        for (int n = 0; n < g.n(); n++) {
            for (int f = 0; f < g.f(); f++) {
                int o = (n * g.f() + f) * oh * ow;
                if (hasBias) {
                    for (int k = 0; k < oh * ow; k++) {
                        db[f] += dout[o + k];     // dB: coefficient 1
                    }
                }
                for (int c = 0; c < g.c(); c++) {
                    for (int kp = 0; kp < g.kh(); kp++) {
                        for (int kq = 0; kq < g.kw(); kq++) {
                            int wi = ((f * g.c() + c) * g.kh() + kp) * g.kw() + kq;
                            double s = 0;
                            int iEnd = end(kp, p.strideH(), p.padH(), g.h(), oh);
                            int jEnd = end(kq, p.strideW(), p.padW(), g.w(), ow);
                            for (int i = first(kp, p.strideH(), p.padH()); i < iEnd; i++) {
                                int xRow = ((n * g.c() + c) * g.h() + tap(i, p.strideH(), kp, p.padH())) * g.w();
                                for (int j = first(kq, p.strideW(), p.padW()); j < jEnd; j++) {
                                    int xi = xRow + tap(j, p.strideW(), kq, p.padW());
                                    double d = dout[o + i * ow + j];
                                    s += d * x[xi];           // dW: coefficient x̃ (padding taps skipped: 0)
                                    dx[xi] += d * w[wi];      // dX: coefficient w
                                }
                            }
                            dw[wi] += s;
                        }
                    }
                }
            }
        }
        return new Conv2dBackward(dx, dw, db);
    }

    /** Element-wise |v|, for the magnitude sums Σ|t| of the kit's error bounds. */
    public static double[] abs(double[] v) {
        if (v == null) {
            return null;
        }
        double[] a = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            a[i] = Math.abs(v[i]);
        }
        return a;
    }

    /**
     * Max pooling: out = each window's maximum, argmax = its position h·W + w in the input plane. Windows are scanned
     * in row-major order from their first element, and a value replaces the best so far iff it is greater, or it is
     * NaN and the best is not: ties keep the first, and the first NaN wins.
     */
    public record MaxPool(double[] out, int[] argmax) {
    }

    /** {@link MaxPool} of x [N,C,H,W] with the window of {@code p}; out and argmax are [N,C,H',W']. */
    public static MaxPool maxPool2dForward(double[] x, int n, int c, int h, int w, Pool2dParams p) {
        int oh = (int) p.outputHeight(h);
        int ow = (int) p.outputWidth(w);
        double[] out = new double[n * c * oh * ow];
        int[] argmax = new int[out.length];
        for (int plane = 0; plane < n * c; plane++) {
            int base = plane * h * w;
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    int bestAt = (i * p.strideH()) * w + j * p.strideW();
                    double best = x[base + bestAt];
                    for (int kp = 0; kp < p.kernelH(); kp++) {
                        for (int kq = 0; kq < p.kernelW(); kq++) {
                            int at = (i * p.strideH() + kp) * w + j * p.strideW() + kq;
                            double v = x[base + at];
                            if (v > best || (Double.isNaN(v) && !Double.isNaN(best))) {
                                best = v;
                                bestAt = at;
                            }
                        }
                    }
                    int o = (plane * oh + i) * ow + j;
                    out[o] = best;
                    argmax[o] = bestAt;
                }
            }
        }
        return new MaxPool(out, argmax);
    }

    /** Backward of max pooling: dx [N,C,H,W] gets each window's dout at its argmax, added up where they coincide. */
    public static double[] maxPool2dBackward(double[] dout, int[] argmax, int n, int c, int h, int w,
                                             Pool2dParams p) {
        int oh = (int) p.outputHeight(h);
        int ow = (int) p.outputWidth(w);
        double[] dx = new double[n * c * h * w];
        for (int plane = 0; plane < n * c; plane++) {
            for (int o = 0; o < oh * ow; o++) {
                dx[plane * h * w + argmax[plane * oh * ow + o]] += dout[plane * oh * ow + o];
            }
        }
        return dx;
    }

    /** Global average pooling: out[n,c] = (1/HW)·Σ_s x[n,c,s] over the HW positions of each plane. */
    public static double[] globalAvgPoolForward(double[] x, int n, int c, int hw) {
        double[] out = new double[n * c];
        for (int plane = 0; plane < n * c; plane++) {
            double s = 0;
            for (int k = 0; k < hw; k++) {
                s += x[plane * hw + k];
            }
            out[plane] = s / hw;
        }
        return out;
    }

    /** dx[n,c,s] = dout[n,c]/HW: each position enters its plane's mean with coefficient 1/HW. */
    public static double[] globalAvgPoolBackward(double[] dout, int n, int c, int hw) {
        double[] dx = new double[n * c * hw];
        for (int plane = 0; plane < n * c; plane++) {
            for (int k = 0; k < hw; k++) {
                dx[plane * hw + k] = dout[plane] / hw;
            }
        }
        return dx;
    }

    /**
     * The spatial-dropout mask [N,C]: plane (n, c) is decided as dropout decides element i = n·C + c, so this is
     * exactly the dropout mask of N·C elements with the same options.
     */
    public static float[] spatialDropoutMask(int n, int c, DropoutOptions o) {
        return dropoutMask(n * c, o);
    }

    /** out[n,c,s] = x[n,c,s]·mask[n,c] over the HW positions s of each plane (the float product of a kernel). */
    public static double[] spatialDropoutForward(double[] x, float[] mask, int hw) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * mask[i / hw];
        }
        return out;
    }

    /** dx[n,c,s] = dout[n,c,s]·mask[n,c]. */
    public static double[] spatialDropoutBackward(double[] dout, float[] mask, int hw) {
        return spatialDropoutForward(dout, mask, hw);
    }

    // ======================================================================================================= utils

    /** The float values widened to double (the reference's input is exactly what the backend receives). */
    public static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    // ================================================================ batchnorm in parts (x viewed as [N,C,HW])

    /** Mean [0,C) and M2 = Σ(x − mean)² [C,2C) per channel, two passes in double. */
    public static double[] batchNormMoments(double[] x, int n, int c, int hw) {
        double[] r = new double[2 * c];
        long m = (long) n * hw;
        for (int i = 0; i < x.length; i++) {
            r[(i / hw) % c] += x[i];
        }
        for (int ch = 0; ch < c; ch++) {
            r[ch] /= m;
        }
        for (int i = 0; i < x.length; i++) {
            int ch = (i / hw) % c;
            double d = x[i] - r[ch];
            r[c + ch] += d * d;
        }
        return r;
    }

    /** y = γ·(x − mean)·invstd + β with given statistics; NormForward's var is 1/invstd² − … left null. */
    public static NormForward batchNormNormalize(double[] x, int n, int c, int hw, double[] gamma, double[] beta,
                                                 double[] mean, double[] invstd) {
        double[] xhat = new double[x.length];
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int ch = (i / hw) % c;
            xhat[i] = (x[i] - mean[ch]) * invstd[ch];
            out[i] = gamma[ch] * xhat[i] + beta[ch];
        }
        return new NormForward(out, xhat, mean.clone(), null, invstd.clone());
    }

    /** Σ dOut [0,C) and Σ dOut·x̂ [C,2C) per channel. */
    public static double[] batchNormGradSums(double[] dout, double[] xhat, int n, int c, int hw) {
        double[] r = new double[2 * c];
        for (int i = 0; i < dout.length; i++) {
            int ch = (i / hw) % c;
            r[ch] += dout[i];
            r[c + ch] += dout[i] * xhat[i];
        }
        return r;
    }

    /** dX = (γ·rstd/M)·(M·dOut − Σ dOut − x̂·Σ dOut·x̂) with given sums (layout of batchNormGradSums) and count M. */
    public static double[] batchNormDx(double[] dout, double[] xhat, double[] rstd, double[] gamma, double[] sums,
                                       long count, int n, int c, int hw) {
        double[] dx = new double[dout.length];
        for (int i = 0; i < dout.length; i++) {
            int ch = (i / hw) % c;
            dx[i] = gamma[ch] * rstd[ch] / count * (count * dout[i] - sums[ch] - xhat[i] * sums[c + ch]);
        }
        return dx;
    }
}
