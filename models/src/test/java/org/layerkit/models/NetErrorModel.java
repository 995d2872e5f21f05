package org.layerkit.models;

import static org.layerkit.conformance.Tolerance.DIV;
import static org.layerkit.conformance.Tolerance.EXP;
import static org.layerkit.conformance.Tolerance.SQRT;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.DropoutOptions;
import org.layerkit.api.Philox4x32;
import org.layerkit.conformance.Tolerance;

/**
 * A running error analysis of an MLP's ({@link SequentialNet} of a {@link FullyConnectedNetConfig}) TRAIN loss and
 * analytic gradients (docs/tolerances.md, FC_NET_LOSS and FC_NET_GRADIENT): the net's forward and backward written
 * out in float64 from the CS231N formulas, and next to every value a bound on how far a computation in arithmetic of
 * unit roundoff u (float32: {@link Tolerance#U}; the reference's own float64: {@link Tolerance#U64}) can be from it.
 * Each op's bound is the error it inherits from its inputs, weighted by its sensitivity to them (the instance's own
 * condition: 1/σ of a batch statistic over 4 rows, cancellation in a dot product), plus its own rounding (the kit's
 * per-op bounds: sums of n terms sum(n, u), a normalization's statistics as in NORM_*, softmax as in SOFTMAX_*).
 * Bounds are first-order and use only the magnitudes of the instance, so they hold for any summation order, vector
 * width or BLAS kernel.
 *
 * <p>The float64 analytic gradients computed here are also checked against the numerical ones, which checks this
 * model's backward itself.
 */
final class NetErrorModel {
    /** The float64 loss (data loss plus 0.5·reg·ΣW²). */
    final double loss;
    /** Bound on the loss computed with unit roundoff u. */
    final double lossError;
    /** The float64 analytic gradients, by CS231N parameter name. */
    final Map<String, double[]> grad = new LinkedHashMap<>();
    /** Bounds on the gradients computed with unit roundoff u. */
    final Map<String, double[]> gradError = new LinkedHashMap<>();
    /**
     * min over ReLU inputs z of |z| − E_z: positive when no rounding of size u can move a ReLU input across its kink.
     * Where one may (|z| ≤ E_z), the bounds count both sides: the ReLU's output error stays E_z (it is 1-Lipschitz)
     * and its backward may pass or block dOut, an error of |dOut| + E_dOut there.
     */
    final double reluMargin;

    private final double u;

    /** What the forward keeps of one hidden layer for the backward. */
    private static final class Hidden {
        double[] in;        // the layer's input h, [n, width]
        double[] inErr;
        double[] xhat;      // normalized pre-activations (null without normalization)
        double[] xhatErr;
        double[] rstd;      // per statistic
        double[] rstdRel;   // relative error of rstd per statistic
        double[] reluIn;    // z
        double[] reluErr;   // E_z
        double[] mask;      // dropout mask (null without dropout)
        int width;          // input width
        int out;            // units
    }

    NetErrorModel(FullyConnectedNetConfig config, long[] dropoutSeeds, long[] dropoutOffsets,
                  Map<String, double[]> params, double[] x, int[] y, int n, double u) {
        this.u = u;
        List<Integer> hidden = config.hiddenDims();
        int layers = hidden.size() + 1;
        double reg = config.reg();
        double eps = config.batchNorm().eps();
        List<Hidden> cache = new ArrayList<>();
        double[] h = x;
        double[] hErr = new double[x.length];
        int width = config.inputDim();
        double margin = Double.POSITIVE_INFINITY;
        for (int l = 1; l < layers; l++) {
            Hidden c = new Hidden();
            int out = hidden.get(l - 1);
            c.in = h;
            c.inErr = hErr;
            c.width = width;
            c.out = out;
            double[][] a = affine(h, hErr, params.get("W" + l), params.get("b" + l), n, width, out);
            double[] z = a[0];
            double[] zErr = a[1];
            if (config.normalization() != Normalization.NONE) {
                boolean batch = config.normalization() == Normalization.BATCH;
                double[][] nr = normForward(z, zErr, n, out, batch, params.get("gamma" + l), params.get("beta" + l),
                        eps, c);
                z = nr[0];
                zErr = nr[1];
            }
            c.reluIn = z;
            c.reluErr = zErr;
            double[] r = new double[z.length];
            double[] rErr = new double[z.length];
            for (int i = 0; i < z.length; i++) {
                margin = Math.min(margin, Math.abs(z[i]) - zErr[i]);
                if (z[i] > 0) {
                    r[i] = z[i];
                    rErr[i] = zErr[i];
                } else if (-z[i] <= zErr[i]) {
                    // within round-off of the kink: the float ReLU may pass ẑ > 0; it is 1-Lipschitz, so E_z holds
                    rErr[i] = zErr[i];
                }
            }
            if (config.useDropout()) {
                DropoutOptions o = new DropoutOptions(config.dropoutKeep(), dropoutSeeds[l - 1], dropoutOffsets[l - 1]);
                c.mask = new double[r.length];
                for (int i = 0; i < r.length; i++) {
                    boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(o.seed(), o.offset(), i), o.threshold());
                    c.mask[i] = kept ? o.scale() : 0;
                    r[i] *= c.mask[i];
                    rErr[i] = rErr[i] * c.mask[i] + u * Math.abs(r[i]);
                }
            }
            cache.add(c);
            h = r;
            hErr = rErr;
            width = out;
        }
        reluMargin = margin;
        int k = config.numClasses();
        double[][] s = affine(h, hErr, params.get("W" + layers), params.get("b" + layers), n, width, k);
        // softmax cross-entropy, per row (SOFTMAX_LOSS, SOFTMAX_DLOGITS, plus the errors the scores carry in)
        double dataLoss = 0;
        double dataLossErr = 0;
        double[] d = new double[n * k];
        double[] dErr = new double[n * k];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, s[0][i * k + j]);
            }
            double sum = 0;
            for (int j = 0; j < k; j++) {
                sum += Math.exp(s[0][i * k + j] - max);
            }
            double weighted = 0;     // Σ p_j·|t_j|
            double inherited = 0;    // Σ p_j·E_s,j
            for (int j = 0; j < k; j++) {
                double t = s[0][i * k + j] - max;
                double p = Math.exp(t) / sum;
                weighted += p * Math.abs(t);
                inherited += p * s[1][i * k + j];
            }
            double relS = sum(k) + EXP * u + u * weighted;
            double ty = s[0][i * k + y[i]] - max;
            double rowLoss = Math.log(sum) - ty;
            dataLoss += rowLoss / n;
            dataLossErr += (inherited + s[1][i * k + y[i]] + relS + EXP * u * Math.abs(Math.log(sum))
                    + u * Math.abs(ty) + u * rowLoss) / n;
            for (int j = 0; j < k; j++) {
                double t = s[0][i * k + j] - max;
                double p = Math.exp(t) / sum;
                double target = j == y[i] ? 1 : 0;
                d[i * k + j] = (p - target) / n;
                double ep = p * (s[1][i * k + j] + inherited) + p * (EXP * u + u * Math.abs(t) + relS + DIV * u);
                dErr[i * k + j] = (ep + u * Math.abs(p - target)) / n + DIV * u * Math.abs(d[i * k + j]);
            }
        }
        dataLossErr += (sum(n) + DIV * u) * dataLoss;
        // 0.5·reg·ΣW²: per W a sum of squares (all terms ≥ 0), a product by the float 0.5·reg (reg itself rounded
        // to float), and an add to the running loss (γ(2) of the total)
        double regLoss = 0;
        double regErr = 0;
        for (int l = 1; l <= layers; l++) {
            double ss = 0;
            for (double w : params.get("W" + l)) {
                ss += w * w;
            }
            double term = 0.5 * reg * ss;
            regLoss += term;
            regErr += term * (sum(params.get("W" + l).length) + gamma(3));
        }
        loss = dataLoss + regLoss;
        lossError = dataLossErr + regErr + (reg > 0 ? layers * gamma(2) * loss : 0);
        // backward
        affineBackward(params, layers, h, hErr, d, dErr, n, width, k, reg, layers > 1);
        double[] up = lastDh;
        double[] upErr = lastDhErr;
        for (int l = layers - 1; l >= 1; l--) {
            Hidden c = cache.get(l - 1);
            if (c.mask != null) {
                for (int i = 0; i < up.length; i++) {
                    up[i] *= c.mask[i];
                    upErr[i] = upErr[i] * c.mask[i] + u * Math.abs(up[i]);
                }
            }
            for (int i = 0; i < up.length; i++) {
                boolean uncertain = Math.abs(c.reluIn[i]) <= c.reluErr[i];
                if (uncertain) {
                    // a ReLU input within round-off of its kink: the float computation may pass or block dOut
                    // whichever side float64 takes, so the result may be off by all of it (none when margin > 0)
                    upErr[i] = Math.abs(up[i]) + upErr[i];
                }
                if (!(c.reluIn[i] > 0)) {
                    up[i] = 0;
                    if (!uncertain) {
                        upErr[i] = 0;
                    }
                }
            }
            if (c.xhat != null) {
                double[][] nb = normBackward(c, up, upErr, n, config.normalization() == Normalization.BATCH,
                        params.get("gamma" + l), "gamma" + l, "beta" + l);
                up = nb[0];
                upErr = nb[1];
            }
            affineBackward(params, l, c.in, c.inErr, up, upErr, n, c.width, c.out, reg, l > 1);
            up = lastDh;
            upErr = lastDhErr;
        }
        // present the gradients in the net's parameter order
        Map<String, double[]> g = new LinkedHashMap<>(grad);
        Map<String, double[]> e = new LinkedHashMap<>(gradError);
        grad.clear();
        gradError.clear();
        for (String name : params.keySet()) {
            grad.put(name, g.get(name));
            gradError.put(name, e.get(name));
        }
    }

    private double gamma(double k) {
        return Tolerance.gamma(k, u);
    }

    private double sum(long len) {
        return Tolerance.sum(len, u);
    }

    /**
     * a = h·W + b: a dot product of K terms and a bias add, (sum(K) + u)·(Σ|h·W| + |b|), plus the error h carries,
     * Σ E_h·|W| (the weights are exact floats).
     */
    private double[][] affine(double[] h, double[] hErr, double[] w, double[] b, int n, int in, int out) {
        double[] a = new double[n * out];
        double[] e = new double[n * out];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < out; j++) {
                double s = b[j];
                double mag = Math.abs(b[j]);
                double inherited = 0;
                for (int q = 0; q < in; q++) {
                    s += h[i * in + q] * w[q * out + j];
                    mag += Math.abs(h[i * in + q] * w[q * out + j]);
                    inherited += hErr[i * in + q] * Math.abs(w[q * out + j]);
                }
                a[i * out + j] = s;
                e[i * out + j] = inherited + (sum(in) + u) * mag;
            }
        }
        return new double[][] {a, e};
    }

    /**
     * Batch norm (statistics per column over n rows) or layer norm (per row over d columns) of a with errors aErr:
     * μ inherits mean E_a, σ² inherits 2·mean(|a − μ|·E_a); their own rounding is NORM_MEAN's and NORM_RSTD's; then
     * E_x̂ = r·(E_a + E_μ) + |x̂|·(e_r + γ(3)) and out = γ·x̂ + β adds γ(2)·(|γ·x̂| + |β|).
     */
    private double[][] normForward(double[] a, double[] aErr, int n, int d, boolean batch, double[] gamma,
                                   double[] beta, double eps, Hidden c) {
        int stats = batch ? d : n;
        int len = batch ? n : d;
        c.xhat = new double[a.length];
        c.xhatErr = new double[a.length];
        c.rstd = new double[stats];
        c.rstdRel = new double[stats];
        double[] out = new double[a.length];
        double[] outErr = new double[a.length];
        for (int s = 0; s < stats; s++) {
            double mean = 0;
            double meanErrIn = 0;
            for (int t = 0; t < len; t++) {
                int i = batch ? t * d + s : s * d + t;
                mean += a[i] / len;
                meanErrIn += aErr[i] / len;
            }
            double var = 0;
            double varErrIn = 0;
            double maxDev = 0;
            for (int t = 0; t < len; t++) {
                int i = batch ? t * d + s : s * d + t;
                var += (a[i] - mean) * (a[i] - mean) / len;
                varErrIn += 2 * Math.abs(a[i] - mean) * aErr[i] / len;
                maxDev = Math.max(maxDev, Math.abs(a[i] - mean));
            }
            double meanErr = meanErrIn + u * Math.abs(mean) + 2 * sum(len) * maxDev;
            double varErr = varErrIn + (sum(len) + gamma(3 + DIV)) * var + meanErr * meanErr;
            double denom = var + eps;
            double r = 1 / Math.sqrt(denom);
            double er = 0.5 * (varErr + u * denom) / denom + (SQRT + DIV) * u;
            c.rstd[s] = r;
            c.rstdRel[s] = er;
            for (int t = 0; t < len; t++) {
                int i = batch ? t * d + s : s * d + t;
                int p = i % d;
                double xh = (a[i] - mean) * r;
                double xhErr = r * (aErr[i] + meanErr) + Math.abs(xh) * (er + gamma(3));
                c.xhat[i] = xh;
                c.xhatErr[i] = xhErr;
                out[i] = gamma[p] * xh + beta[p];
                outErr[i] = Math.abs(gamma[p]) * xhErr + gamma(2) * (Math.abs(gamma[p] * xh) + Math.abs(beta[p]));
            }
        }
        return new double[][] {out, outErr};
    }

    /**
     * The normalization's backward from dOut with errors: dβ = Σ dOut, dγ = Σ dOut·x̂ (the inherited errors of
     * both factors plus sum(m) of the products), dx = r·(g − A − x̂·B) with g = γ·dOut, A = mean g,
     * B = mean g·x̂ (NORM_DX with inherited errors).
     */
    private double[][] normBackward(Hidden c, double[] dOut, double[] dErr, int n, boolean batch, double[] gamma,
                                    String gammaName, String betaName) {
        int d = c.out;
        int stats = batch ? d : n;
        int len = batch ? n : d;
        double[] dg = new double[d];
        double[] dgErr = new double[d];
        double[] db = new double[d];
        double[] dbErr = new double[d];
        double[] dgAbs = new double[d];
        double[] dbAbs = new double[d];
        for (int i = 0; i < dOut.length; i++) {
            int p = i % d;
            db[p] += dOut[i];
            dbAbs[p] += Math.abs(dOut[i]);
            dbErr[p] += dErr[i];
            dg[p] += dOut[i] * c.xhat[i];
            dgAbs[p] += Math.abs(dOut[i] * c.xhat[i]);
            dgErr[p] += dErr[i] * Math.abs(c.xhat[i]) + Math.abs(dOut[i]) * c.xhatErr[i];
        }
        for (int p = 0; p < d; p++) {
            dbErr[p] += sum(n) * dbAbs[p];
            dgErr[p] += (sum(n) + u) * dgAbs[p];
        }
        grad.put(gammaName, dg);
        gradError.put(gammaName, dgErr);
        grad.put(betaName, db);
        gradError.put(betaName, dbErr);
        double[] dx = new double[dOut.length];
        double[] dxErr = new double[dOut.length];
        for (int s = 0; s < stats; s++) {
            double a = 0;
            double aErr = 0;
            double aAbs = 0;
            double b = 0;
            double bErr = 0;
            double bAbs = 0;
            for (int t = 0; t < len; t++) {
                int i = batch ? t * d + s : s * d + t;
                double g = gamma[i % d] * dOut[i];
                double gErr = Math.abs(gamma[i % d]) * dErr[i] + u * Math.abs(g);
                a += g / len;
                aAbs += Math.abs(g) / len;
                aErr += gErr / len;
                b += g * c.xhat[i] / len;
                bAbs += Math.abs(g * c.xhat[i]) / len;
                bErr += (gErr * Math.abs(c.xhat[i]) + Math.abs(g) * c.xhatErr[i]) / len;
            }
            aErr += (sum(len) + DIV * u) * aAbs;
            bErr += (sum(len) + (1 + DIV) * u) * bAbs;
            double r = c.rstd[s];
            for (int t = 0; t < len; t++) {
                int i = batch ? t * d + s : s * d + t;
                double g = gamma[i % d] * dOut[i];
                double gErr = Math.abs(gamma[i % d]) * dErr[i] + u * Math.abs(g);
                double xh = c.xhat[i];
                double inner = g - a - xh * b;
                double innerErr = gErr + aErr + c.xhatErr[i] * Math.abs(b) + Math.abs(xh) * bErr
                        + gamma(3) * (Math.abs(g) + Math.abs(a) + Math.abs(xh * b));
                dx[i] = r * inner;
                dxErr[i] = r * innerErr + Math.abs(dx[i]) * (c.rstdRel[s] + u);
            }
        }
        return new double[][] {dx, dxErr};
    }

    private double[] lastDh;
    private double[] lastDhErr;

    /**
     * Layer l's affine backward from d [n, out] with errors: dW = hᵀ·d + reg·W (the inherited errors of h and d,
     * sum(n) of the products, the axpy of reg·W with reg rounded to float: γ(3)), db = Σ d, dh = d·Wᵀ (kept in
     * lastDh when {@code needDh}).
     */
    private void affineBackward(Map<String, double[]> params, int l, double[] h, double[] hErr, double[] d,
                                double[] dErr, int n, int in, int out, double reg, boolean needDh) {
        double[] w = params.get("W" + l);
        double[] dw = new double[in * out];
        double[] dwErr = new double[in * out];
        for (int q = 0; q < in; q++) {
            for (int j = 0; j < out; j++) {
                double s = 0;
                double mag = 0;
                double inherited = 0;
                for (int i = 0; i < n; i++) {
                    s += h[i * in + q] * d[i * out + j];
                    mag += Math.abs(h[i * in + q] * d[i * out + j]);
                    inherited += hErr[i * in + q] * Math.abs(d[i * out + j])
                            + Math.abs(h[i * in + q]) * dErr[i * out + j];
                }
                double regTerm = reg * w[q * out + j];
                dw[q * out + j] = s + regTerm;
                dwErr[q * out + j] = inherited + (sum(n) + u) * mag
                        + (reg > 0 ? gamma(3) * (mag + Math.abs(regTerm)) : 0);
            }
        }
        double[] db = new double[out];
        double[] dbErr = new double[out];
        for (int j = 0; j < out; j++) {
            double abs = 0;
            for (int i = 0; i < n; i++) {
                db[j] += d[i * out + j];
                abs += Math.abs(d[i * out + j]);
                dbErr[j] += dErr[i * out + j];
            }
            dbErr[j] += sum(n) * abs;
        }
        grad.put("W" + l, dw);
        gradError.put("W" + l, dwErr);
        grad.put("b" + l, db);
        gradError.put("b" + l, dbErr);
        if (needDh) {
            lastDh = new double[n * in];
            lastDhErr = new double[n * in];
            for (int i = 0; i < n; i++) {
                for (int q = 0; q < in; q++) {
                    double s = 0;
                    double mag = 0;
                    double inherited = 0;
                    for (int j = 0; j < out; j++) {
                        s += d[i * out + j] * w[q * out + j];
                        mag += Math.abs(d[i * out + j] * w[q * out + j]);
                        inherited += dErr[i * out + j] * Math.abs(w[q * out + j]);
                    }
                    lastDh[i * in + q] = s;
                    lastDhErr[i * in + q] = inherited + sum(out) * mag;
                }
            }
        }
    }
}
