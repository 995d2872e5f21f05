package org.layerkit.onnx;

import static org.layerkit.conformance.Tolerance.DIV;
import static org.layerkit.conformance.Tolerance.SQRT;
import static org.layerkit.conformance.Tolerance.U;

import java.util.List;

import org.layerkit.api.Layer;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.data.Standardizer;
import org.layerkit.models.layers.AffineLayer;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Pool2dParams;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.Conv2dLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.FlattenLayer;
import org.layerkit.models.layers.GlobalAvgPoolLayer;
import org.layerkit.models.layers.MaxPoolLayer;
import org.layerkit.models.layers.SpatialDropoutLayer;
import org.layerkit.models.layers.GroupNormLayer;
import org.layerkit.models.layers.LayerNormLayer;
import org.layerkit.models.layers.NormLayer;
import org.layerkit.models.layers.ReluLayer;
import org.layerkit.models.layers.SpatialBatchNormLayer;

/**
 * A running error analysis of a net's EVAL forward (docs/tolerances.md, ONNX_LOGITS): the forward in float64 from
 * the layers' float parameters, and next to every value a bound E on how far <em>any</em> float32 evaluation of it
 * in the forms layerkit and ONNX Runtime use can be from it. Each op adds the errors it inherits, weighted by its
 * sensitivity to them (the function's, first order: independent of how it is computed), to its own rounding, counted
 * for every form it may be computed in:
 * <ul>
 *   <li>standardization (x − m)/s: a subtraction and a division;
 *   <li>affine: a dot product of D terms plus the bias, in any order (sum(D)), whatever GEMM kernel;
 *   <li>batch norm with running statistics: layerkit's γ·(x − μ)·r + β and ONNX Runtime's x·s' + (β − μ·s') with
 *       s' = γ·r: magnitude |γ|·r·(|x| + |μ|) + |β|;
 *   <li>layer and group norm: the two-pass statistics of layerkit and of the decomposition, and the one-pass
 *       E[x²] − μ² of ONNX Runtime's LayerNormalization kernel and of ONNX's GroupNormalization function body (a
 *       bound that grows with μ²/σ²) — the larger of the two is taken;
 *   <li>conv2d: a dot product of C·K·K terms plus the bias (padding adds exact zeros), as affine;
 *   <li>max pool is exact and 1-Lipschitz in the max norm: the window's largest inherited error;
 *   <li>global average pool: a sum of H·W terms and a division, inheriting the mean error;
 *   <li>ReLU is 1-Lipschitz: it passes errors on unchanged, also where rounding moves an input across 0;
 *   <li>dropout and spatial dropout in EVAL are the identity, as is flatten.
 * </ul>
 * First-order and magnitude-based, so the bound holds for any summation order, blocking, vector width or thread count.
 */
public final class EvalErrorModel {
    /** The float64 forward's output, [n, per-example size]. */
    public final double[] out;
    /** The bound on a float32 evaluation's error, per element of {@link #out}. */
    public final double[] err;

    private final int n;

    private EvalErrorModel(double[] out, double[] err, int n) {
        this.out = out;
        this.err = err;
        this.n = n;
    }

    public int rows() {
        return n;
    }

    public int cols() {
        return out.length / n;
    }

    /**
     * The forward of {@code layers} on {@code x} ([n, per-example shape] of exact floats), behind {@code std} (null:
     * none), with per-example input shape {@code shape}.
     */
    public static EvalErrorModel of(List<? extends Layer> layers, float[] x, int n, int[] shape, Standardizer std) {
        double[] h = new double[x.length];
        double[] e = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            h[i] = x[i];
        }
        if (std != null) {
            float[] m = std.mean();
            float[] s = std.std();
            int d = m.length;
            for (int i = 0; i < h.length; i++) {
                h[i] = (h[i] - m[i % d]) / s[i % d];
                e[i] = gamma(1 + DIV) * Math.abs(h[i]);       // x − m, then /s
            }
        }
        int[] cur = shape.clone();
        for (Layer layer : layers) {
            double[][] r;
            if (layer instanceof AffineLayer a) {
                r = affine(h, e, n, a);
                cur = new int[] {a.out()};
            } else if (layer instanceof BatchNormLayer b) {
                r = batchNorm(h, e, n, cur, b);
            } else if (layer instanceof LayerNormLayer l) {
                r = norm(h, e, n, 1, cur[0], 1, l, l.eps());
            } else if (layer instanceof GroupNormLayer g) {
                int spatial = cur[1] * cur[2];
                r = norm(h, e, n, g.groups(), cur[0], spatial, g, g.eps());
            } else if (layer instanceof ReluLayer) {
                double[] o = new double[h.length];
                for (int i = 0; i < h.length; i++) {
                    o[i] = Math.max(h[i], 0);
                }
                r = new double[][] {o, e};                  // 1-Lipschitz: |relu(a) − relu(b)| ≤ |a − b|
            } else if (layer instanceof DropoutLayer || layer instanceof SpatialDropoutLayer) {
                r = new double[][] {h, e};                  // EVAL: the identity
            } else if (layer instanceof FlattenLayer) {
                r = new double[][] {h, e};                  // a view of the same values
                cur = new int[] {h.length / n};
            } else if (layer instanceof Conv2dLayer cv) {
                r = conv(h, e, n, cur, cv);
                Conv2dParams p = cv.params();
                cur = new int[] {cv.outChannels(), (int) p.outputHeight(cur[1], cv.kernel()),
                    (int) p.outputWidth(cur[2], cv.kernel())};
            } else if (layer instanceof MaxPoolLayer mp) {
                Pool2dParams p = mp.params();
                int[] next = {cur[0], (int) p.outputHeight(cur[1]), (int) p.outputWidth(cur[2])};
                r = maxPool(h, e, n, cur, next, p);
                cur = next;
            } else if (layer instanceof GlobalAvgPoolLayer) {
                r = globalAvgPool(h, e, n, cur);
                cur = new int[] {cur[0]};
            } else {
                throw new IllegalArgumentException("no error model for " + layer.type());
            }
            h = r[0];
            e = r[1];
        }
        return new EvalErrorModel(h, e, n);
    }

    private static double gamma(double k) {
        return Tolerance.gamma(k);
    }

    private static double[] d(float[] f) {
        double[] r = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            r[i] = f[i];
        }
        return r;
    }

    /** a = h·W + b: Σ E_h·|W| inherited, (sum(D) + γ(2))·(Σ|h·W| + |b|) own (the bias add and a scale by 1). */
    private static double[][] affine(double[] h, double[] e, int n, AffineLayer layer) {
        int in = layer.in();
        int out = layer.out();
        double[] w = d(layer.weight().value().toArray());
        double[] b = d(layer.bias().value().toArray());
        double[] a = new double[n * out];
        double[] ae = new double[n * out];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < out; j++) {
                double s = b[j];
                double mag = Math.abs(b[j]);
                double inherited = 0;
                for (int q = 0; q < in; q++) {
                    double t = h[i * in + q] * w[q * out + j];
                    s += t;
                    mag += Math.abs(t);
                    inherited += e[i * in + q] * Math.abs(w[q * out + j]);
                }
                a[i * out + j] = s;
                ae[i * out + j] = inherited + (Tolerance.sum(in) + gamma(2)) * mag;
            }
        }
        return new double[][] {a, ae};
    }

    /**
     * conv2d: out[f,y,x] = Σ_{c,i,j} in[c, y·s + i − p, x·s + j − p]·W[f,c,i,j] + b[f] (zero outside the input):
     * inherited Σ E_in·|W|, own (sum(C·K·K) + γ(2))·(Σ|in·W| + |b|), as affine (im2col + GEMM or direct, any order).
     */
    private static double[][] conv(double[] x, double[] e, int n, int[] in, Conv2dLayer layer) {
        int c = in[0];
        int h = in[1];
        int w = in[2];
        int k = layer.kernel();
        int f = layer.outChannels();
        Conv2dParams p = layer.params();
        int oh = (int) p.outputHeight(h, k);
        int ow = (int) p.outputWidth(w, k);
        double[] wt = d(layer.weight().value().toArray());
        double[] b = layer.bias() == null ? new double[f] : d(layer.bias().value().toArray());
        double[] y = new double[n * f * oh * ow];
        double[] ye = new double[y.length];
        double own = Tolerance.sum((long) c * k * k) + gamma(2);
        for (int s = 0; s < n; s++) {
            for (int o = 0; o < f; o++) {
                for (int r = 0; r < oh; r++) {
                    for (int q = 0; q < ow; q++) {
                        double sum = b[o];
                        double mag = Math.abs(b[o]);
                        double inherited = 0;
                        for (int ch = 0; ch < c; ch++) {
                            for (int i = 0; i < k; i++) {
                                int yy = r * p.strideH() + i - p.padH();
                                if (yy < 0 || yy >= h) {
                                    continue;
                                }
                                for (int j = 0; j < k; j++) {
                                    int xx = q * p.strideW() + j - p.padW();
                                    if (xx < 0 || xx >= w) {
                                        continue;
                                    }
                                    int xi = ((s * c + ch) * h + yy) * w + xx;
                                    double wv = wt[((o * c + ch) * k + i) * k + j];
                                    sum += x[xi] * wv;
                                    mag += Math.abs(x[xi] * wv);
                                    inherited += e[xi] * Math.abs(wv);
                                }
                            }
                        }
                        int yi = ((s * f + o) * oh + r) * ow + q;
                        y[yi] = sum;
                        ye[yi] = inherited + own * mag;
                    }
                }
            }
        }
        return new double[][] {y, ye};
    }

    /** max pool: exact (no rounding), and |max a − max b| ≤ max |a − b|: the window's largest inherited error. */
    private static double[][] maxPool(double[] x, double[] e, int n, int[] in, int[] out, Pool2dParams p) {
        int c = in[0];
        int h = in[1];
        int w = in[2];
        double[] y = new double[n * c * out[1] * out[2]];
        double[] ye = new double[y.length];
        for (int plane = 0; plane < n * c; plane++) {
            for (int r = 0; r < out[1]; r++) {
                for (int q = 0; q < out[2]; q++) {
                    double best = Double.NEGATIVE_INFINITY;
                    double err = 0;
                    for (int i = 0; i < p.kernelH(); i++) {
                        for (int j = 0; j < p.kernelW(); j++) {
                            int xi = (plane * h + r * p.strideH() + i) * w + q * p.strideW() + j;
                            best = Math.max(best, x[xi]);
                            err = Math.max(err, e[xi]);
                        }
                    }
                    int yi = (plane * out[1] + r) * out[2] + q;
                    y[yi] = best;
                    ye[yi] = err;
                }
            }
        }
        return new double[][] {y, ye};
    }

    /** global average pool over H·W = m values: inherited mean E, own (sum(m) + γ(DIV))·mean|x|. */
    private static double[][] globalAvgPool(double[] x, double[] e, int n, int[] in) {
        int m = in[1] * in[2];
        double[] y = new double[n * in[0]];
        double[] ye = new double[y.length];
        for (int plane = 0; plane < y.length; plane++) {
            double sum = 0;
            double abs = 0;
            double err = 0;
            for (int t = 0; t < m; t++) {
                sum += x[plane * m + t];
                abs += Math.abs(x[plane * m + t]);
                err += e[plane * m + t];
            }
            y[plane] = sum / m;
            ye[plane] = err / m + (Tolerance.sum(m) + gamma(DIV)) * abs / m;
        }
        return new double[][] {y, ye};
    }

    /**
     * EVAL batch norm per feature (or channel, over H×W): y = γ·(a − μ)·r + β with r = 1/√(v + ε) from the running
     * statistics. Inherited |γ|·r·E_a; own γ(5 + SQRT + DIV)·(|γ|·r·(|a| + |μ|) + |β|): r takes v + ε, the square
     * root and the reciprocal (1 + SQRT + DIV), then either (a − μ), ·r, ·γ, + β or s' = γ·r, μ·s', β − μ·s',
     * a·s', + b' — at most four more roundings, on terms no larger than that magnitude.
     */
    private static double[][] batchNorm(double[] a, double[] e, int n, int[] shape, BatchNormLayer layer) {
        int c = layer.features();
        int inner = layer instanceof SpatialBatchNormLayer ? shape[1] * shape[2] : 1;
        double[] g = d(layer.gamma().value().toArray());
        double[] beta = d(layer.beta().value().toArray());
        double[] mu = d(layer.running().mean().toArray());
        double[] v = d(layer.running().var().toArray());
        double eps = layer.options().eps();
        double[] y = new double[a.length];
        double[] ye = new double[a.length];
        double own = gamma(5 + SQRT + DIV);
        for (int i = 0; i < a.length; i++) {
            int ch = (i / inner) % c;
            double r = 1 / Math.sqrt(v[ch] + eps);
            y[i] = g[ch] * (a[i] - mu[ch]) * r + beta[ch];
            ye[i] = Math.abs(g[ch]) * r * e[i]
                    + own * (Math.abs(g[ch]) * r * (Math.abs(a[i]) + Math.abs(mu[ch])) + Math.abs(beta[ch]));
        }
        return new double[][] {y, ye};
    }

    /**
     * Layer norm (groups = 1, spatial = 1 over [N,D]) or group norm ([N,C,H,W], statistics per (n, group) over
     * (C/G)·H·W values) with per-channel γ, β. Over each statistic's m values a with errors E:
     * <ul>
     *   <li>μ inherits mean E; its own rounding: a sum and a division, (sum(m) + γ(DIV))·mean|a|, plus
     *       2·sum(m)·max|a − μ| for a shifted or wide two-pass mean (NORM_MEAN);
     *   <li>σ² inherits 2·mean(|a − μ|·E); its own rounding is the larger of two-pass (sum(m) + γ(3 + DIV))·σ² + E_μ²
     *       (NORM_RSTD) and one-pass (sum(m) + γ(2 + DIV))·(σ² + μ²) + 2|μ|·E_μ (Σa², μ², the difference);
     *   <li>r = 1/√(σ² + ε), relative e_r = ½·(E_σ² + u·(σ² + ε))/(σ² + ε) + (SQRT + DIV)·u;
     *   <li>x̂ = (a − μ)·r: r·(E_a + E_μ) + |x̂|·(e_r + γ(3)); y = γ·x̂ + β: |γ|·E_x̂ + γ(2)·(|γ·x̂| + |β|).
     * </ul>
     */
    private static double[][] norm(double[] a, double[] e, int n, int groups, int channels, int spatial,
                                   NormLayer layer, double eps) {
        double[] g = d(layer.gamma().value().toArray());
        double[] beta = d(layer.beta().value().toArray());
        int m = channels / groups * spatial;            // values per statistic
        int stats = a.length / m;                        // n · groups
        double[] y = new double[a.length];
        double[] ye = new double[a.length];
        double sum = Tolerance.sum(m);
        for (int s = 0; s < stats; s++) {
            int off = s * m;
            double mean = 0;
            double meanAbs = 0;
            double meanErrIn = 0;
            for (int t = 0; t < m; t++) {
                mean += a[off + t] / m;
                meanAbs += Math.abs(a[off + t]) / m;
                meanErrIn += e[off + t] / m;
            }
            double var = 0;
            double varErrIn = 0;
            double maxDev = 0;
            for (int t = 0; t < m; t++) {
                double dev = a[off + t] - mean;
                var += dev * dev / m;
                varErrIn += 2 * Math.abs(dev) * e[off + t] / m;
                maxDev = Math.max(maxDev, Math.abs(dev));
            }
            double meanOwn = (sum + gamma(DIV)) * meanAbs + 2 * sum * maxDev;
            double meanErr = meanErrIn + meanOwn;
            double twoPass = (sum + gamma(3 + DIV)) * var + meanOwn * meanOwn;
            double onePass = (sum + gamma(2 + DIV)) * (var + mean * mean) + 2 * Math.abs(mean) * meanOwn;
            double varErr = varErrIn + Math.max(twoPass, onePass);
            double denom = var + eps;
            double r = 1 / Math.sqrt(denom);
            double er = 0.5 * (varErr + U * denom) / denom + (SQRT + DIV) * U;
            for (int t = 0; t < m; t++) {
                int i = off + t;
                int ch = (i / spatial) % channels;
                double xh = (a[i] - mean) * r;
                double xhErr = r * (e[i] + meanErr) + Math.abs(xh) * (er + gamma(3));
                y[i] = g[ch] * xh + beta[ch];
                ye[i] = Math.abs(g[ch]) * xhErr + gamma(2) * (Math.abs(g[ch] * xh) + Math.abs(beta[ch]));
            }
        }
        return new double[][] {y, ye};
    }
}
