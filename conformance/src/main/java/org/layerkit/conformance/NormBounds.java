package org.layerkit.conformance;

import static org.layerkit.conformance.Tolerance.DIV;
import static org.layerkit.conformance.Tolerance.ETA;
import static org.layerkit.conformance.Tolerance.SQRT;
import static org.layerkit.conformance.Tolerance.U;
import static org.layerkit.conformance.Tolerance.gamma;
import static org.layerkit.conformance.Tolerance.sum;

import java.util.function.IntUnaryOperator;
import org.layerkit.conformance.Reference.NormForward;

/**
 * The derived float32 error bounds of a normalization's results on one instance (docs/tolerances.md, the NORM_*
 * entries), computed from the instance's own data: its statistics' sizes, its means (a mean of 1e4 over a spread of
 * 1 makes x − μ ill-conditioned), its rstd = 1/√(σ²+ε) (large for tiny variances) and the magnitudes of the terms of
 * every sum. The bounds are those of a kernel whose statistics are as accurate as a two-pass float32 computation
 * around a shifted or wide accumulator (the kit's stability requirement): mean within U·|μ| (its own float32
 * rounding) plus the error of a sum of deviations from a sample of the data.
 *
 * <p>Usage: {@code NormBounds b = NormBounds.train(layout, x, forward)} then {@code b.out(gamma, beta)},
 * {@code b.dX(dout, gamma)}, ...: each returns a {@link Tolerance} named after its entry.
 */
public final class NormBounds {
    /**
     * Where each element's statistic and γ/β live.
     *
     * @param size   elements of x
     * @param stats  statistics (features, channels, rows or (row, group) pairs)
     * @param params γ/β entries
     * @param statOf element index → statistic index
     * @param paramOf element index → γ/β index
     * @param statIsParam whether statistic and parameter coincide (batch norms: then the common-mode error of x̂ in
     *               a statistic enters dγ through |Σ dout| rather than Σ|dout|)
     */
    public record Layout(int size, int stats, int params, IntUnaryOperator statOf, IntUnaryOperator paramOf,
                         boolean statIsParam) {
        /** Batch norm [N,D]: statistic and parameter per feature. */
        public static Layout batchNorm(int n, int d) {
            return new Layout(n * d, d, d, i -> i % d, i -> i % d, true);
        }

        /** Spatial batch norm [N,C,H·W]: statistic and parameter per channel. */
        public static Layout spatialBatchNorm(int n, int c, int hw) {
            return new Layout(n * c * hw, c, c, i -> (i / hw) % c, i -> (i / hw) % c, true);
        }

        /** Layer norm [N,D]: statistic per row, parameter per feature. */
        public static Layout layerNorm(int n, int d) {
            return new Layout(n * d, n, d, i -> i / d, i -> i % d, false);
        }

        /** Group norm [N,C,H·W] with G groups: statistic per (row, group), parameter per channel. */
        public static Layout groupNorm(int n, int c, int hw, int groups) {
            int len = c / groups * hw;
            return new Layout(n * c * hw, n * groups, c, i -> i / len, i -> (i / hw) % c, false);
        }

        /** Elements behind one statistic. */
        public long perStat() {
            return size / stats;
        }

        /** Elements behind one γ/β entry (the length of the dγ, dβ sums). */
        public long perParam() {
            return size / params;
        }
    }

    private final Layout layout;
    private final double[] xhat;
    private final double[] mean;
    private final double[] rstd;
    /** Absolute error bound of each statistic's mean as the kernel uses it. */
    private final double[] meanError;
    /** Absolute error bound of each statistic's variance (biased). */
    private final double[] varError;
    /** Relative error bound of each statistic's rstd. */
    private final double[] rstdError;
    private final double[] var;
    /** "" for the kit's bounds, "_WIDE_MEAN" for a kernel that keeps the mean wider than float32. */
    private final String suffix;

    private NormBounds(Layout layout, double[] xhat, double[] mean, double[] var, double[] rstd, double[] meanError,
                       double[] varError, double[] rstdError, String suffix) {
        this.suffix = suffix;
        this.layout = layout;
        this.xhat = xhat;
        this.mean = mean;
        this.var = var;
        this.rstd = rstd;
        this.meanError = meanError;
        this.varError = varError;
        this.rstdError = rstdError;
    }

    /**
     * TRAIN mode: the statistics come from x. Per statistic of n elements (NORM_MEAN, NORM_RSTD):
     * <ul>
     *   <li>mean: E_μ = U·|μ| + 2·sum(n)·max|x − μ| (the float32 mean's own rounding; a sum of deviations from a
     *       shift c within the data, |x − c| ≤ 2·max|x − μ|);</li>
     *   <li>variance: E_σ² = (sum(n) + γ(3 + DIV))·σ² + E_μ² (each (x − μ̂)² three roundings, the sum, the division
     *       by n; a centre off by δ adds exactly δ²);</li>
     *   <li>rstd: e_r = ½·(E_σ² + U·(σ²+ε))/(σ²+ε) + (SQRT + DIV)·U relative (σ²+ε rounded, then √ and 1/·), plus
     *       ETA/rstd where rstd is subnormal ({@link #subnormal}).</li>
     * </ul>
     */
    public static NormBounds train(Layout l, double[] x, NormForward f) {
        return train(l, x, f, false);
    }

    /**
     * {@link #train(Layout, double[], NormForward)} for a kernel that keeps each mean wider than float32 (in double,
     * or as a float head and tail, so that x − μ loses no more than one rounding): E_μ without its U·|μ| term. The
     * names of its bounds end in _WIDE_MEAN. The kit does not require this; the CPU backend promises it.
     */
    public static NormBounds trainWideMean(Layout l, double[] x, NormForward f) {
        return train(l, x, f, true);
    }

    private static NormBounds train(Layout l, double[] x, NormForward f, boolean wideMean) {
        int s = l.stats();
        double[] maxDev = new double[s];
        for (int i = 0; i < l.size(); i++) {
            int k = l.statOf().applyAsInt(i);
            maxDev[k] = Math.max(maxDev[k], Math.abs(x[i] - f.mean()[k]));
        }
        long n = l.perStat();
        double[] em = new double[s];
        double[] ev = new double[s];
        double[] er = new double[s];
        for (int k = 0; k < s; k++) {
            em[k] = (wideMean ? 0 : U * Math.abs(f.mean()[k])) + 2 * sum(n) * maxDev[k];
            ev[k] = (sum(n) + gamma(3 + DIV)) * f.var()[k] + em[k] * em[k];
            double denom = 1 / (f.rstd()[k] * f.rstd()[k]); // σ² + ε
            er[k] = 0.5 * (ev[k] + U * denom) / denom + (SQRT + DIV) * U + subnormal(f.rstd()[k]);
        }
        return new NormBounds(l, f.xhat(), f.mean(), f.var(), f.rstd(), em, ev, er, wideMean ? "_WIDE_MEAN" : "");
    }

    /** EVAL mode with exact float32 running statistics: μ is given, rstd has e_r = ½U + (SQRT + DIV)·U. */
    public static NormBounds eval(Layout l, NormForward f) {
        return eval(l, f, new double[l.stats()], new double[l.stats()]);
    }

    /**
     * EVAL mode with running statistics that carry errors of their own (after TRAIN steps on the backend): mean
     * off by up to {@code meanError[s]}, variance by {@code varError[s]}.
     */
    public static NormBounds eval(Layout l, NormForward f, double[] meanError, double[] varError) {
        int s = l.stats();
        double[] er = new double[s];
        for (int k = 0; k < s; k++) {
            double denom = 1 / (f.rstd()[k] * f.rstd()[k]);
            er[k] = 0.5 * (varError[k] + U * denom) / denom + (SQRT + DIV) * U + subnormal(f.rstd()[k]);
        }
        return new NormBounds(l, f.xhat(), f.mean(), f.var(), f.rstd(), meanError.clone(), varError.clone(), er, "");
    }

    /**
     * The relative error a float rstd carries beyond its roundings when it is subnormal (statistics of magnitude near
     * the float range, σ above about 1e38): ETA/rstd, 0 for a normal rstd.
     */
    static double subnormal(double rstd) {
        return rstd < 0x1p-126 ? ETA / rstd : 0;
    }

    /** Error bound of x̂_i = (x_i − μ̂)·r̂: r·E_μ (common to the statistic) + |x̂_i|·(e_r + γ(3)). */
    private double xhatError(int i) {
        int k = layout.statOf().applyAsInt(i);
        return rstd[k] * meanError[k] + Math.abs(xhat[i]) * (rstdError[k] + gamma(3));
    }

    /**
     * The error of the mean as stored in a float32 tensor (cache.mean, the running mean's input): a kernel that
     * keeps the mean wider for x − μ still rounds what it stores, U·|μ|.
     */
    private double storedMeanError(int k) {
        return suffix.isEmpty() ? meanError[k] : meanError[k] + U * Math.abs(mean[k]);
    }

    /** NORM_MEAN: the statistics' means as stored (cache.mean). */
    public Tolerance mean() {
        double m = 0;
        for (int k = 0; k < meanError.length; k++) {
            m = Math.max(m, storedMeanError(k));
        }
        return Tolerance.derived("NORM_MEAN", m, 0);
    }

    /** Per statistic, the stored mean's error bound (for running statistics fed by several steps). */
    public double[] meanErrors() {
        double[] e = new double[meanError.length];
        for (int k = 0; k < e.length; k++) {
            e[k] = storedMeanError(k);
        }
        return e;
    }

    /** Per statistic, the biased variance's error bound. */
    public double[] varErrors() {
        return varError.clone();
    }

    /** NORM_RSTD: 1/√(σ²+ε), relative. */
    public Tolerance rstd() {
        return Tolerance.derived("NORM_RSTD" + suffix, 0, Tolerance.maxAbs(rstdError));
    }

    /** NORM_XHAT: x̂ = (x − μ)·rstd, max over elements of r·E_μ + |x̂|·(e_r + γ(3)). */
    public Tolerance xhat() {
        double m = 0;
        for (int i = 0; i < layout.size(); i++) {
            m = Math.max(m, xhatError(i));
        }
        return Tolerance.derived("NORM_XHAT" + suffix, m, 0);
    }

    /** NORM_OUT: γ·x̂ + β, max over elements of |γ|·E_x̂ + γ(2)·(|γ·x̂| + |β|). */
    public Tolerance out(double[] gamma, double[] beta) {
        double m = 0;
        for (int i = 0; i < layout.size(); i++) {
            int p = layout.paramOf().applyAsInt(i);
            double g = Math.abs(gamma[p]);
            m = Math.max(m, g * xhatError(i) + gamma(2) * (g * Math.abs(xhat[i]) + Math.abs(beta[p])));
        }
        return Tolerance.derived("NORM_OUT" + suffix, m, 0);
    }

    /**
     * NORM_RUNNING_MEAN after one step r' = d·r + (1−d)·μ: (1−d)·E_μ + γ(3)·(|d·r| + |(1−d)·μ|), per statistic
     * (returned unscaled so that several steps can add up; see {@link #runningTolerance}).
     */
    public double[] runningMeanErrors(double[] running, double decay) {
        double[] e = new double[layout.stats()];
        for (int k = 0; k < e.length; k++) {
            e[k] = (1 - decay) * storedMeanError(k)
                    + gamma(3) * (Math.abs(decay * running[k]) + Math.abs((1 - decay) * mean[k]));
        }
        return e;
    }

    /**
     * NORM_RUNNING_VAR after one step r' = d·r + (1−d)·v, v = σ² or σ²·M/(M−1): (1−d)·E_v + γ(3)·(|d·r| +
     * |(1−d)·v|) with E_v = E_σ²·f + γ(1 + DIV)·σ²·f, f = M/(M−1) or 1; per statistic, unscaled.
     */
    public double[] runningVarErrors(double[] running, double decay, boolean unbiased) {
        long m = layout.perStat();
        double f = unbiased ? m / (double) (m - 1) : 1;
        double[] e = new double[layout.stats()];
        for (int k = 0; k < e.length; k++) {
            double v = var[k] * f;
            double ev = varError[k] * f + (unbiased ? gamma(1 + DIV) * v : 0);
            e[k] = (1 - decay) * ev + gamma(3) * (Math.abs(decay * running[k]) + Math.abs((1 - decay) * v));
        }
        return e;
    }

    /** A derived tolerance from per-statistic error bounds (summed over steps by the caller). */
    public static Tolerance runningTolerance(String name, double[] errors) {
        return Tolerance.derived(name, Tolerance.maxAbs(errors), 0);
    }

    /** NORM_DBETA: Σ dout over the perParam() elements of each γ/β entry: sum(m)·Σ|dout|. */
    public Tolerance dBeta(double[] dout) {
        double[] s = new double[layout.params()];
        for (int i = 0; i < layout.size(); i++) {
            s[layout.paramOf().applyAsInt(i)] += Math.abs(dout[i]);
        }
        return Tolerance.derived("NORM_DBETA", sum(layout.perParam()) * Tolerance.maxAbs(s), 0);
    }

    /**
     * NORM_DGAMMA: Σ dout·x̂ per γ entry: (sum(m) + γ(4))·Σ|dout·x̂| for the products and the sum, plus the error x̂
     * carries in: for batch norms, whose x̂ errors are common to the whole sum, r·E_μ·|Σ dout| + e_r·|Σ dout·x̂|;
     * otherwise Σ|dout|·(r·E_μ + e_r·|x̂|).
     */
    public Tolerance dGamma(double[] dout) {
        int p = layout.params();
        double[] absTerms = new double[p];
        double[] signedDout = new double[p];
        double[] signedTerms = new double[p];
        double[] spread = new double[p];
        for (int i = 0; i < layout.size(); i++) {
            int j = layout.paramOf().applyAsInt(i);
            int k = layout.statOf().applyAsInt(i);
            double t = dout[i] * xhat[i];
            absTerms[j] += Math.abs(t);
            signedDout[j] += dout[i];
            signedTerms[j] += t;
            spread[j] += Math.abs(dout[i]) * rstd[k] * meanError[k] + Math.abs(t) * rstdError[k];
        }
        double m = 0;
        for (int j = 0; j < p; j++) {
            double inherited = layout.statIsParam()
                    ? rstd[j] * meanError[j] * Math.abs(signedDout[j]) + rstdError[j] * Math.abs(signedTerms[j])
                    : spread[j];
            m = Math.max(m, (sum(layout.perParam()) + gamma(4)) * absTerms[j] + inherited);
        }
        return Tolerance.derived("NORM_DGAMMA" + suffix, m, 0);
    }

    /**
     * NORM_DX, TRAIN: dx_i = r·(g_i − A − x̂_i·B) with g = γ·dout, A = mean g, B = mean g·x̂ over the statistic:
     * r·[δA + δx̂_i·|B| + |x̂_i|·δB + γ(3)·(|g_i| + |A| + |x̂_i·B|)] + |dx_i|·(e_r + U), where
     * δA = (sum(n) + γ(1 + DIV))·mean|g|, δB = (sum(n) + γ(5 + DIV))·mean|g·x̂| + r·E_μ·|A| + e_r·|B| and
     * δx̂_i the error of x̂; plus {@link #underflow} of a subnormal coefficient.
     */
    public Tolerance dXTrain(double[] dout, double[] gammaParam) {
        int s = layout.stats();
        double n = layout.perStat();
        double[] a = new double[s];
        double[] b = new double[s];
        double[] absA = new double[s];
        double[] absB = new double[s];
        for (int i = 0; i < layout.size(); i++) {
            int k = layout.statOf().applyAsInt(i);
            double g = gammaParam[layout.paramOf().applyAsInt(i)] * dout[i];
            a[k] += g / n;
            b[k] += g * xhat[i] / n;
            absA[k] += Math.abs(g) / n;
            absB[k] += Math.abs(g * xhat[i]) / n;
        }
        double sn = sum(layout.perStat());
        double m = 0;
        for (int i = 0; i < layout.size(); i++) {
            int k = layout.statOf().applyAsInt(i);
            double g = gammaParam[layout.paramOf().applyAsInt(i)] * dout[i];
            double xh = Math.abs(xhat[i]);
            double dA = (sn + gamma(1 + DIV)) * absA[k];
            double dB = (sn + gamma(5 + DIV)) * absB[k] + rstd[k] * meanError[k] * Math.abs(a[k])
                    + rstdError[k] * Math.abs(b[k]);
            double dx = rstd[k] * (g - a[k] - xhat[i] * b[k]);
            double terms = Math.abs(g) + Math.abs(a[k]) + xh * Math.abs(b[k]);
            double e = rstd[k] * (dA + xhatError(i) * Math.abs(b[k]) + xh * dB + gamma(3) * terms)
                    + Math.abs(dx) * (rstdError[k] + U)
                    + underflow(n * terms, gammaParam[layout.paramOf().applyAsInt(i)]);
            m = Math.max(m, e);
        }
        return Tolerance.derived("NORM_DX" + suffix, m, 0);
    }

    /**
     * The absolute error of one float64 evaluation of Σ dout·(γ·x̂ + β) from x (for a numerical gradient's roundoff,
     * NUMERICAL_GRADIENT): sums of n terms for the statistics, a few roundings after, each term of magnitude
     * |γ|·(|x| + mean|x|)·r + |β| (x − μ formed from |x| + |μ|), weighted by |dout|; then the sum over all elements.
     */
    public static double float64EvalError(Layout l, double[] x, double[] gamma, double[] beta, double[] dout,
                                          double eps) {
        int s = l.stats();
        double n = l.perStat();
        double[] mean = new double[s];
        double[] absMean = new double[s];
        for (int i = 0; i < l.size(); i++) {
            int k = l.statOf().applyAsInt(i);
            mean[k] += x[i] / n;
            absMean[k] += Math.abs(x[i]) / n;
        }
        double[] var = new double[s];
        for (int i = 0; i < l.size(); i++) {
            int k = l.statOf().applyAsInt(i);
            var[k] += (x[i] - mean[k]) * (x[i] - mean[k]) / n;
        }
        double m = 0;
        for (int i = 0; i < l.size(); i++) {
            int k = l.statOf().applyAsInt(i);
            int p = l.paramOf().applyAsInt(i);
            double r = 1 / Math.sqrt(var[k] + eps);
            m += Math.abs(dout[i]) * (Math.abs(gamma[p]) * (Math.abs(x[i]) + absMean[k]) * r + Math.abs(beta[p]));
        }
        return Tolerance.gamma64(2 * n + 10 + l.size()) * m;
    }

    /**
     * The absolute error of dx from roundings that may land below the normal range (rstd subnormal, NORM_DX): a
     * kernel may form the coefficient c = γ·rstd/n (or rstd/n) in float first, two roundings each off by up to ETA,
     * then multiply it by the bracket n·g − Σg − x̂·Σg·x̂ (in units of dOut when γ is in c: up to
     * {@code bracket}·max(1, 1/|γ|)), and round the product once more: ETA·(2·max(1, 1/|γ|)·bracket + 1).
     * Negligible (below 1e-40) unless rstd is subnormal.
     */
    static double underflow(double bracket, double gammaParam) {
        return ETA * (2 * Math.max(1, 1 / Math.abs(gammaParam)) * bracket + 1);
    }

    /**
     * NORM_DX_EVAL: dx = γ·r·dout with constant statistics, relative e_r + γ(2), plus the underflow of a subnormal
     * coefficient γ·r (ETA·(|dout|·max(1, 1/|γ|) + 1), see {@link #underflow}) at its largest over dOut.
     */
    public Tolerance dXEval(double[] dout, double[] gammaParam) {
        double m = 0;
        for (int i = 0; i < layout.size(); i++) {
            double gp = gammaParam[layout.paramOf().applyAsInt(i)];
            m = Math.max(m, ETA * (Math.abs(dout[i]) * Math.max(1, 1 / Math.abs(gp)) + 1));
        }
        return Tolerance.derived("NORM_DX_EVAL", m, Tolerance.maxAbs(rstdError) + gamma(2));
    }

    /** Per channel: error bounds of statistics merged from parts — the mean's, M2's and the biased variance's. */
    public record MergedErrors(double[] mean, double[] m2, double[] var) {
    }

    /**
     * NORM_MERGED_STATS and NORM_M2 (docs/tolerances.md) of batch-norm statistics merged from parts of a batch x
     * ({@code [N,C,HW]} row-major, part p holding the next {@code rows[p]} rows; a part may be empty). Each part of
     * n_p values has the TRAIN statistics' bounds of its own data: E_μp, E_σ²p. A backend may carry the deviation
     * sd = √(M2/n) in float instead of M2 (the OpenCL partials): a square root, a rounding to float, a square and a
     * product more, γ(SQRT + 3) relative. So M2_p is off by n_p·(E_σ²p + γ(SQRT + 3)·σ²_p) (an over-estimate: M2 has
     * no division). Merging in double, μ = Σ n_p·μ_p/n and M2 = Σ M2_p + Σ n_p·(μ_p − μ)², to first order (double
     * roundings are 2⁻²⁹ of these): E_μ = Σ (n_p/n)·E_μp; E_M2 = Σ [n_p·(E_σ²p + γ(SQRT + 3)·σ²_p)
     * + 2·n_p·|μ_p − μ|·E_μp] (the shift of μ itself cancels: Σ n_p·(μ_p − μ) = 0); σ² = M2/n adds γ(DIV)·σ².
     * {@code whole} is the float64 reference of the whole batch.
     */
    public static MergedErrors mergedErrors(boolean spatial, int[] rows, int c, int hw, double[] x,
                                            NormForward whole) {
        long total = 0;
        for (int r : rows) {
            total += r;
        }
        double n = (double) total * hw;
        double[] em = new double[c];
        double[] em2 = new double[c];
        double[] ev = new double[c];
        int r0 = 0;
        for (int np : rows) {
            if (np == 0) {
                continue;
            }
            double[] px = java.util.Arrays.copyOfRange(x, r0 * c * hw, (r0 + np) * c * hw);
            r0 += np;
            NormForward pf = spatial
                    ? org.layerkit.conformance.Reference.spatialBatchNormTrain(px, np, c, hw, new double[c],
                    new double[c], 1)
                    : org.layerkit.conformance.Reference.batchNormTrain(px, np, c, new double[c], new double[c], 1);
            NormBounds pb = train(spatial ? Layout.spatialBatchNorm(np, c, hw) : Layout.batchNorm(np, c), px, pf);
            double[] pem = pb.meanErrors();
            double[] pev = pb.varErrors();
            double cnt = (double) np * hw;
            for (int k = 0; k < c; k++) {
                em[k] += cnt / n * pem[k];
                em2[k] += cnt * (pev[k] + gamma(SQRT + 3) * pf.var()[k])
                        + 2 * cnt * Math.abs(pf.mean()[k] - whole.mean()[k]) * pem[k];
            }
        }
        for (int k = 0; k < c; k++) {
            ev[k] = em2[k] / n + gamma(DIV) * whole.var()[k];
        }
        return new MergedErrors(em, em2, ev);
    }
}
