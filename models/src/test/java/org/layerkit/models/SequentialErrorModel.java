package org.layerkit.models;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.DropoutOptions;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.Philox4x32;
import org.layerkit.conformance.NumericalGradient;
import org.layerkit.conformance.Tolerance;

/**
 * An independent float64 implementation of a {@link SequentialNet}'s TRAIN loss and analytic gradients — every layer
 * type of the models module written out from its formulas with plain loops — and next to every value a bound on how far
 * the same computation in float32 can be from it: a running error analysis in the model of docs/tolerances.md (unit
 * roundoff u = {@link Tolerance#U}, a sum of n terms in any order within {@link Tolerance#sum(long, double)} =
 * min(γ_n, λ·√n·u) of Σ|terms|, a division {@link Tolerance#DIV}, a square root {@link Tolerance#SQRT}, exp and log
 * {@link Tolerance#EXP} roundings, magnitudes evaluated on the instance so its condition is in them). Each op's
 * bound is the error it inherits from its inputs, weighted by its sensitivity to them, plus its own rounding; the
 * normalizations' bounds are NORM_MEAN, NORM_RSTD, NORM_XHAT and NORM_DX of that page with inherited errors, softmax
 * SOFTMAX_LOSS and SOFTMAX_DLOGITS; the whole is CNN_NET_LOSS and CNN_NET_GRADIENT there. Bounds are first-order
 * and use only magnitudes, so they hold for any summation order, vector width or BLAS kernel. Run with u =
 * {@link Tolerance#U64}, the same analysis bounds this model's own float64 evaluation (the ε of the numerical
 * gradients, NUMERICAL_GRADIENT).
 *
 * <p>Max pooling and ReLU are exact but select: {@link #margin} says by how much no rounding can move a ReLU input
 * across 0 or change a pooling window's maximum (positive: none can). Where one may, the bounds count every side: the
 * forward's error stays that of its inputs (ReLU and max are 1-Lipschitz) and the backward may pass, block or route
 * elsewhere the incoming gradient, an error of |d| + E_d at each position it may reach. Layers run as specified in the net's {@link NetSpec}; parameters are taken by the net's names
 * ({@code <index>.W}). The float64 gradients themselves are checked against central differences of {@link #loss}.
 */
final class SequentialErrorModel {
    private final NetSpec spec;
    private final Map<String, double[]> params;
    /** Dropout offsets by layer index (the offset the net's next TRAIN forward uses). */
    private final Map<Integer, Long> offsets;
    private final double u;

    /** The float64 loss (data loss plus 0.5·reg·ΣW²) of the last {@link #run}. */
    double loss;
    /** Bound on the float32 loss. */
    double lossError;
    /** The float64 analytic gradients by net name. */
    final Map<String, double[]> grad = new LinkedHashMap<>();
    /** Bounds on the float32 gradients by net name. */
    final Map<String, double[]> gradError = new LinkedHashMap<>();
    /** min over ReLU inputs of |z| − E_z and over pooling windows of (max − runner-up) − their errors. */
    double margin;
    /**
     * The side of 0 of every ReLU input and the argmax of every pooling window in the last run: a central difference
     * is valid only when the perturbed runs switch none of them (checked by {@link #numericalGradient}).
     */
    private final List<Integer> switches = new ArrayList<>();

    SequentialErrorModel(NetSpec spec, Map<String, double[]> params, Map<Integer, Long> offsets, double u) {
        this.spec = spec;
        this.params = params;
        this.offsets = offsets;
        this.u = u;
    }

    /** A value with its error bound and its shape (batch first). */
    static final class V {
        final int[] shape;
        final double[] v;
        final double[] e;

        V(int[] shape) {
            this.shape = shape;
            int n = 1;
            for (int d : shape) {
                n *= d;
            }
            v = new double[n];
            e = new double[n];
        }

        V(int[] shape, double[] v, double[] e) {
            this.shape = shape;
            this.v = v;
            this.e = e;
        }
    }

    /** γ_k at this model's unit roundoff ({@link Tolerance#gamma(double, double)}). */
    private double gamma(double k) {
        return Tolerance.gamma(k, u);
    }

    /** The error factor of a sum of n terms at this model's unit roundoff ({@link Tolerance#sum(long, double)}). */
    private double sum(long n) {
        return Tolerance.sum(n, u);
    }

    private static final boolean DEBUG = Boolean.getBoolean("layerkit.debugErrorModel");

    private static void debug(String what, V t) {
        double maxV = 0, maxE = 0;
        for (int i = 0; i < t.v.length; i++) {
            maxV = Math.max(maxV, Math.abs(t.v[i]));
            maxE = Math.max(maxE, t.e[i]);
        }
        System.out.printf("%-28s max|v| %.3e  max E %.3e%n", what, maxV, maxE);
    }

    /** The loss only, in float64 (for central differences). */
    double loss(double[] x, int[] y) {
        run(x, y, false);
        return loss;
    }

    /** Forward, loss and (when {@code backward}) the gradients with their bounds. */
    void run(double[] x, int[] y, boolean backward) {
        grad.clear();
        gradError.clear();
        margin = Double.POSITIVE_INFINITY;
        switches.clear();
        int n = y.length;
        int[] in = spec.inputShape().dims();
        int[] shape = new int[in.length + 1];
        shape[0] = n;
        System.arraycopy(in, 0, shape, 1, in.length);
        V h = new V(shape, x.clone(), new double[x.length]);
        List<V> inputs = new ArrayList<>();
        List<Object> caches = new ArrayList<>();
        for (int i = 0; i < spec.layers().size(); i++) {
            inputs.add(h);
            LayerSpec l = spec.layers().get(i);
            Object[] cache = new Object[1];
            h = forward(i, l.type(), l.config(), h, cache);
            caches.add(cache[0]);
            if (DEBUG && backward) {
                debug("fwd " + i + " " + l.type(), h);
            }
        }
        V d = softmax(h, y);
        double regLoss = 0;
        double regErr = 0;
        float reg = (float) spec.reg();
        for (Map.Entry<String, double[]> p : params.entrySet()) {
            if (p.getKey().endsWith("." + SequentialNet.REGULARIZED)) {
                double ss = 0;
                for (double w : p.getValue()) {
                    ss += w * w;
                }
                double term = 0.5 * reg * ss;
                regLoss += term;
                regErr += term * (sum(p.getValue().length) + gamma(3)) + gamma(2) * (loss + regLoss);
            }
        }
        loss += regLoss;
        lossError += regErr;
        if (!backward) {
            return;
        }
        int first = -1;
        for (int i = 0; i < spec.layers().size() && first < 0; i++) {
            for (String k : params.keySet()) {
                if (k.startsWith(i + ".")) {
                    first = i;
                    break;
                }
            }
        }
        for (int i = spec.layers().size() - 1; i >= first; i--) {
            LayerSpec l = spec.layers().get(i);
            d = backward(i, l.type(), l.config(), inputs.get(i), caches.get(i), d, i > first);
            if (DEBUG && d != null) {
                debug("bwd " + i + " " + l.type(), d);
            }
        }
        Map<String, double[]> g = new LinkedHashMap<>(grad);
        Map<String, double[]> e = new LinkedHashMap<>(gradError);
        grad.clear();
        gradError.clear();
        for (String name : params.keySet()) {
            double[] gi = g.get(name);
            double[] ei = e.get(name);
            if (name.endsWith("." + SequentialNet.REGULARIZED) && reg > 0) {
                double[] w = params.get(name);
                for (int j = 0; j < gi.length; j++) {
                    double term = reg * w[j];
                    ei[j] += gamma(3) * (Math.abs(gi[j]) + Math.abs(term));   // dW += reg·W, reg rounded to float
                    gi[j] += term;
                }
            }
            grad.put(name, gi);
            gradError.put(name, ei);
        }
    }

    // ================================================================================================ forward

    private V forward(int i, String type, LayerConfig c, V x, Object[] cache) {
        return switch (type) {
            case "conv2d" -> conv(i, c, x);
            case "affine" -> affine(i, c, x);
            case "relu" -> relu(x);
            case "maxpool" -> maxPool(c, x, cache);
            case "flatten" -> new V(new int[] {x.shape[0], x.v.length / x.shape[0]}, x.v, x.e);
            case "global_avgpool" -> globalAvg(x);
            case "dropout", "spatial_dropout" -> dropout(i, type, c, x, cache);
            case "batchnorm", "spatial_batchnorm", "layernorm", "groupnorm" -> norm(i, type, c, x, cache);
            default -> throw new IllegalArgumentException("no float64 model of layer type " + type);
        };
    }

    private V backward(int i, String type, LayerConfig c, V x, Object cache, V d, boolean needDx) {
        return switch (type) {
            case "conv2d" -> convBackward(i, c, x, d, needDx);
            case "affine" -> affineBackward(i, x, d, needDx);
            case "relu" -> reluBackward(x, d);
            case "maxpool" -> maxPoolBackward(x, (Object[]) cache, d);
            case "flatten" -> new V(x.shape, d.v, d.e);
            case "global_avgpool" -> globalAvgBackward(x, d);
            case "dropout", "spatial_dropout" -> dropoutBackward((double[]) cache, d);
            case "batchnorm", "spatial_batchnorm", "layernorm", "groupnorm" -> normBackward(i, x, (Norm) cache, d);
            default -> throw new IllegalArgumentException("no float64 model of layer type " + type);
        };
    }

    /** out[n,f,i,j] = b[f] + Σ_{c,p,q} w·x: a dot product of C·K·K terms and a bias add. */
    private V conv(int idx, LayerConfig cfg, V x) {
        int n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        int f = cfg.getInt("out_channels"), k = cfg.getInt("kernel"), s = cfg.getInt("stride", 1);
        int pad = cfg.getInt("padding", 0);
        int oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
        double[] wt = params.get(idx + ".W");
        double[] b = params.get(idx + ".b");
        V out = new V(new int[] {n, f, oh, ow});
        double own = sum((long) c * k * k) + gamma(2);
        for (int ni = 0; ni < n; ni++) {
            for (int fi = 0; fi < f; fi++) {
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        double v = b == null ? 0 : b[fi];
                        double mag = Math.abs(v);
                        double inh = 0;
                        for (int ci = 0; ci < c; ci++) {
                            for (int p = 0; p < k; p++) {
                                int hh = i * s + p - pad;
                                if (hh < 0 || hh >= h) {
                                    continue;
                                }
                                for (int q = 0; q < k; q++) {
                                    int ww = j * s + q - pad;
                                    if (ww < 0 || ww >= w) {
                                        continue;
                                    }
                                    int xi = ((ni * c + ci) * h + hh) * w + ww;
                                    double wv = wt[((fi * c + ci) * k + p) * k + q];
                                    v += wv * x.v[xi];
                                    mag += Math.abs(wv * x.v[xi]);
                                    inh += Math.abs(wv) * x.e[xi];
                                }
                            }
                        }
                        int o = ((ni * f + fi) * oh + i) * ow + j;
                        out.v[o] = v;
                        out.e[o] = inh + own * mag;
                    }
                }
            }
        }
        return out;
    }

    /** dW = Σ dOut·x, db = Σ dOut over N·H'·W', dX = Σ dOut·w over F·K·K (each with inherited errors). */
    private V convBackward(int idx, LayerConfig cfg, V x, V d, boolean needDx) {
        int n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        int f = d.shape[1], oh = d.shape[2], ow = d.shape[3];
        int k = cfg.getInt("kernel"), s = cfg.getInt("stride", 1), pad = cfg.getInt("padding", 0);
        double[] wt = params.get(idx + ".W");
        double[] dw = new double[wt.length];
        double[] dwE = new double[wt.length];
        double[] dwAbs = new double[wt.length];
        V dx = new V(x.shape);
        double[] dxAbs = new double[x.v.length];
        double[] db = new double[f];
        double[] dbE = new double[f];
        double[] dbAbs = new double[f];
        for (int ni = 0; ni < n; ni++) {
            for (int fi = 0; fi < f; fi++) {
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        int o = ((ni * f + fi) * oh + i) * ow + j;
                        double g = d.v[o];
                        db[fi] += g;
                        dbAbs[fi] += Math.abs(g);
                        dbE[fi] += d.e[o];
                        for (int ci = 0; ci < c; ci++) {
                            for (int p = 0; p < k; p++) {
                                int hh = i * s + p - pad;
                                if (hh < 0 || hh >= h) {
                                    continue;
                                }
                                for (int q = 0; q < k; q++) {
                                    int ww = j * s + q - pad;
                                    if (ww < 0 || ww >= w) {
                                        continue;
                                    }
                                    int xi = ((ni * c + ci) * h + hh) * w + ww;
                                    int wi = ((fi * c + ci) * k + p) * k + q;
                                    dw[wi] += g * x.v[xi];
                                    dwAbs[wi] += Math.abs(g * x.v[xi]);
                                    dwE[wi] += d.e[o] * Math.abs(x.v[xi]) + Math.abs(g) * x.e[xi];
                                    dx.v[xi] += g * wt[wi];
                                    dxAbs[xi] += Math.abs(g * wt[wi]);
                                    dx.e[xi] += d.e[o] * Math.abs(wt[wi]);
                                }
                            }
                        }
                    }
                }
            }
        }
        long terms = (long) n * oh * ow;
        for (int wi = 0; wi < dw.length; wi++) {
            dwE[wi] += (sum(terms) + gamma(1)) * dwAbs[wi];
        }
        grad.put(idx + ".W", dw);
        gradError.put(idx + ".W", dwE);
        if (params.containsKey(idx + ".b")) {
            for (int fi = 0; fi < f; fi++) {
                dbE[fi] += sum(terms) * dbAbs[fi];
            }
            grad.put(idx + ".b", db);
            gradError.put(idx + ".b", dbE);
        }
        if (!needDx) {
            return null;
        }
        // each dX element sums at most F·K·K products (fewer at the borders), then the adds of col2im
        double own = sum((long) f * k * k) + gamma(1);
        for (int xi = 0; xi < dx.v.length; xi++) {
            dx.e[xi] += own * dxAbs[xi];
        }
        return dx;
    }

    /** a = h·W + b: a dot product of D terms and a bias add. */
    private V affine(int idx, LayerConfig cfg, V x) {
        int n = x.shape[0], in = x.shape[1], out = cfg.getInt("out");
        double[] wt = params.get(idx + ".W");
        double[] b = params.get(idx + ".b");
        V a = new V(new int[] {n, out});
        double own = sum(in) + gamma(2);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < out; j++) {
                double v = b[j];
                double mag = Math.abs(b[j]);
                double inh = 0;
                for (int q = 0; q < in; q++) {
                    v += x.v[i * in + q] * wt[q * out + j];
                    mag += Math.abs(x.v[i * in + q] * wt[q * out + j]);
                    inh += x.e[i * in + q] * Math.abs(wt[q * out + j]);
                }
                a.v[i * out + j] = v;
                a.e[i * out + j] = inh + own * mag;
            }
        }
        return a;
    }

    /** dW = hᵀ·d, db = Σ d over N, dh = d·Wᵀ over the outputs. */
    private V affineBackward(int idx, V x, V d, boolean needDx) {
        int n = x.shape[0], in = x.shape[1], out = d.shape[1];
        double[] wt = params.get(idx + ".W");
        double[] dw = new double[in * out];
        double[] dwE = new double[in * out];
        for (int q = 0; q < in; q++) {
            for (int j = 0; j < out; j++) {
                double s = 0, mag = 0, inh = 0;
                for (int i = 0; i < n; i++) {
                    s += x.v[i * in + q] * d.v[i * out + j];
                    mag += Math.abs(x.v[i * in + q] * d.v[i * out + j]);
                    inh += x.e[i * in + q] * Math.abs(d.v[i * out + j]) + Math.abs(x.v[i * in + q]) * d.e[i * out + j];
                }
                dw[q * out + j] = s;
                dwE[q * out + j] = inh + (sum(n) + gamma(1)) * mag;
            }
        }
        double[] db = new double[out];
        double[] dbE = new double[out];
        for (int j = 0; j < out; j++) {
            double abs = 0;
            for (int i = 0; i < n; i++) {
                db[j] += d.v[i * out + j];
                abs += Math.abs(d.v[i * out + j]);
                dbE[j] += d.e[i * out + j];
            }
            dbE[j] += sum(n) * abs;
        }
        grad.put(idx + ".W", dw);
        gradError.put(idx + ".W", dwE);
        grad.put(idx + ".b", db);
        gradError.put(idx + ".b", dbE);
        if (!needDx) {
            return null;
        }
        V dx = new V(x.shape);
        for (int i = 0; i < n; i++) {
            for (int q = 0; q < in; q++) {
                double s = 0, mag = 0, inh = 0;
                for (int j = 0; j < out; j++) {
                    s += d.v[i * out + j] * wt[q * out + j];
                    mag += Math.abs(d.v[i * out + j] * wt[q * out + j]);
                    inh += d.e[i * out + j] * Math.abs(wt[q * out + j]);
                }
                dx.v[i * in + q] = s;
                dx.e[i * in + q] = inh + sum(out) * mag;
            }
        }
        return dx;
    }

    private V relu(V x) {
        V y = new V(x.shape);
        for (int i = 0; i < x.v.length; i++) {
            margin = Math.min(margin, Math.abs(x.v[i]) - x.e[i]);
            switches.add(x.v[i] > 0 ? 1 : 0);
            if (x.v[i] > 0) {
                y.v[i] = x.v[i];
                y.e[i] = x.e[i];
            } else if (-x.v[i] <= x.e[i]) {
                // within rounding reach of the kink: the float ReLU may pass x̂ > 0; it is 1-Lipschitz, so E_x holds
                y.e[i] = x.e[i];
            }
        }
        return y;
    }

    private V reluBackward(V x, V d) {
        V dx = new V(x.shape);
        for (int i = 0; i < x.v.length; i++) {
            if (x.v[i] > 0) {
                dx.v[i] = d.v[i];
                dx.e[i] = d.e[i];
            }
            if (Math.abs(x.v[i]) <= x.e[i]) {
                // the float computation may pass or block d, whichever side float64 takes: off by all of it
                dx.e[i] = Math.abs(d.v[i]) + d.e[i];
            }
        }
        return dx;
    }

    /** Max over K×K windows (exact); the margin records how far each maximum stands above its runner-up. */
    private V maxPool(LayerConfig cfg, V x, Object[] cache) {
        int n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        int k = cfg.getInt("kernel"), s = cfg.getInt("stride", k);
        int oh = (h - k) / s + 1, ow = (w - k) / s + 1;
        V y = new V(new int[] {n, c, oh, ow});
        int[] arg = new int[y.v.length];
        int[][] reach = new int[y.v.length][];
        for (int plane = 0; plane < n * c; plane++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    int best = -1;
                    double second = Double.NEGATIVE_INFINITY;
                    int secondAt = -1;
                    for (int p = 0; p < k; p++) {
                        for (int q = 0; q < k; q++) {
                            int xi = (plane * h + i * s + p) * w + j * s + q;
                            if (best < 0 || x.v[xi] > x.v[best]) {
                                if (best >= 0) {
                                    second = x.v[best];
                                    secondAt = best;
                                }
                                best = xi;
                            } else if (x.v[xi] > second) {
                                second = x.v[xi];
                                secondAt = xi;
                            }
                        }
                    }
                    int o = (plane * oh + i) * ow + j;
                    y.v[o] = x.v[best];
                    y.e[o] = x.e[best];
                    arg[o] = best;
                    switches.add(best);
                    // two exact values (ReLU's zeros) tie the same way in float32: the first wins in both
                    if (secondAt >= 0 && (x.e[best] > 0 || x.e[secondAt] > 0)) {
                        double m = x.v[best] - second - x.e[best] - x.e[secondAt];
                        margin = Math.min(margin, m);
                        if (m <= 0) {
                            // the float maximum may be any element within rounding reach of float64's: the max is
                            // 1-Lipschitz (its error is the largest of theirs), and the backward may route d to any
                            List<Integer> within = new ArrayList<>();
                            for (int p = 0; p < k; p++) {
                                for (int q = 0; q < k; q++) {
                                    int xi = (plane * h + i * s + p) * w + j * s + q;
                                    if (x.v[xi] + x.e[xi] >= x.v[best] - x.e[best]) {
                                        within.add(xi);
                                        y.e[o] = Math.max(y.e[o], x.e[xi] + x.v[best] - x.v[xi]);
                                    }
                                }
                            }
                            reach[o] = within.stream().mapToInt(Integer::intValue).toArray();
                        }
                    }
                }
            }
        }
        cache[0] = new Object[] {arg, reach};
        return y;
    }

    private V maxPoolBackward(V x, Object[] cache, V d) {
        int[] arg = (int[]) cache[0];
        int[][] reach = (int[][]) cache[1];
        V dx = new V(x.shape);
        for (int o = 0; o < arg.length; o++) {
            dx.v[arg[o]] += d.v[o];
            dx.e[arg[o]] += d.e[o] + (dx.v[arg[o]] == d.v[o] ? 0 : u * Math.abs(dx.v[arg[o]]));
            if (reach[o] != null) {
                // a window whose maximum may switch: each element within reach may get d or not
                for (int xi : reach[o]) {
                    dx.e[xi] += Math.abs(d.v[o]) + (xi == arg[o] ? 0 : d.e[o]);
                }
            }
        }
        return dx;
    }

    /** out[n,c] = Σ_{h,w} x / (H·W): a sum of H·W terms and a division. */
    private V globalAvg(V x) {
        int n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3];
        V y = new V(new int[] {n, c});
        for (int p = 0; p < n * c; p++) {
            double s = 0, abs = 0, inh = 0;
            for (int t = 0; t < hw; t++) {
                s += x.v[p * hw + t];
                abs += Math.abs(x.v[p * hw + t]);
                inh += x.e[p * hw + t];
            }
            y.v[p] = s / hw;
            y.e[p] = inh / hw + (sum(hw) + Tolerance.DIV * u) * abs / hw;
        }
        return y;
    }

    private V globalAvgBackward(V x, V d) {
        int hw = x.shape[2] * x.shape[3];
        V dx = new V(x.shape);
        for (int i = 0; i < dx.v.length; i++) {
            dx.v[i] = d.v[i / hw] / hw;
            dx.e[i] = d.e[i / hw] / hw + Tolerance.DIV * u * Math.abs(dx.v[i]);
        }
        return dx;
    }

    /** Inverted dropout with the Philox mask the backend uses: per element, or per (n, c) plane for spatial. */
    private V dropout(int idx, String type, LayerConfig cfg, V x, Object[] cache) {
        DropoutOptions o = new DropoutOptions(cfg.getDouble("keep"), cfg.getLong("seed", 0),
                offsets.getOrDefault(idx, 0L));
        int plane = type.equals("spatial_dropout") ? x.shape[2] * x.shape[3] : 1;
        double[] mask = new double[x.v.length];
        V y = new V(x.shape);
        for (int i = 0; i < x.v.length; i++) {
            boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(o.seed(), o.offset(), i / plane), o.threshold());
            mask[i] = kept ? o.scale() : 0;
            y.v[i] = x.v[i] * mask[i];
            y.e[i] = x.e[i] * mask[i] + u * Math.abs(y.v[i]);
        }
        cache[0] = mask;
        return y;
    }

    private V dropoutBackward(double[] mask, V d) {
        V dx = new V(d.shape);
        for (int i = 0; i < mask.length; i++) {
            dx.v[i] = d.v[i] * mask[i];
            dx.e[i] = d.e[i] * mask[i] + u * Math.abs(dx.v[i]);
        }
        return dx;
    }

    /** What a normalization keeps: its layout, x̂ and rstd with their errors. */
    private record Norm(int stats, int[] stat, int[] param, double[] xhat, double[] xhatErr, double[] rstd,
                        double[] rstdRel) {
    }

    /**
     * Batch norm (per column over N), spatial batch norm (per channel over N·H·W), layer norm (per row over D) and
     * group norm (per (n, group) over (C/G)·H·W): μ inherits mean E_x, σ² 2·mean(|x − μ|·E_x); their own rounding is
     * NORM_MEAN's and NORM_RSTD's; E_x̂ = r·(E_x + E_μ) + |x̂|·(e_r + γ(3)); out = γ·x̂ + β adds γ(2)·(|γ·x̂| + |β|).
     */
    private V norm(int idx, String type, LayerConfig cfg, V x, Object[] cache) {
        int n = x.shape[0];
        int ch = x.shape[1];
        int plane = x.shape.length == 4 ? x.shape[2] * x.shape[3] : 1;
        int total = x.v.length;
        int stats;
        int[] stat = new int[total];
        int[] param = new int[total];
        int groups = type.equals("groupnorm") ? cfg.getInt("groups") : 1;
        for (int i = 0; i < total; i++) {
            int ni = i / (ch * plane);
            int c = i / plane % ch;
            param[i] = c;
            stat[i] = switch (type) {
                case "batchnorm", "spatial_batchnorm" -> c;
                case "layernorm" -> ni;
                default -> ni * groups + c / (ch / groups);
            };
        }
        stats = switch (type) {
            case "batchnorm", "spatial_batchnorm" -> ch;
            case "layernorm" -> n;
            default -> n * groups;
        };
        double eps = (float) cfg.getDouble("eps", 1e-5);
        double[] gam = params.get(idx + ".gamma");
        double[] bet = params.get(idx + ".beta");
        double[] mean = new double[stats];
        double[] meanErrIn = new double[stats];
        int[] count = new int[stats];
        for (int i = 0; i < total; i++) {
            mean[stat[i]] += x.v[i];
            meanErrIn[stat[i]] += x.e[i];
            count[stat[i]]++;
        }
        for (int s = 0; s < stats; s++) {
            mean[s] /= count[s];
            meanErrIn[s] /= count[s];
        }
        double[] var = new double[stats];
        double[] varErrIn = new double[stats];
        double[] maxDev = new double[stats];
        double[] meanDev = new double[stats];
        for (int i = 0; i < total; i++) {
            int s = stat[i];
            double dv = x.v[i] - mean[s];
            var[s] += dv * dv / count[s];
            varErrIn[s] += 2 * Math.abs(dv) * x.e[i] / count[s];
            maxDev[s] = Math.max(maxDev[s], Math.abs(dv));
            meanDev[s] += Math.abs(dv) / count[s];
        }
        double[] meanErr = new double[stats];
        double[] rstd = new double[stats];
        double[] rstdRel = new double[stats];
        for (int s = 0; s < stats; s++) {
            // NORM_MEAN: a sum of deviations from a shift c taken from the data, Σ|x − c| ≤ Σ|x − μ| + n·max|x − μ|
            meanErr[s] = meanErrIn[s] + u * Math.abs(mean[s]) + sum(count[s]) * (meanDev[s] + maxDev[s]);
            double varErr = varErrIn[s] + (sum(count[s]) + gamma(3 + Tolerance.DIV)) * var[s]
                    + meanErr[s] * meanErr[s];
            double denom = var[s] + eps;
            rstd[s] = 1 / Math.sqrt(denom);
            rstdRel[s] = 0.5 * (varErr + u * denom) / denom + (Tolerance.SQRT + Tolerance.DIV) * u;
        }
        double[] xhat = new double[total];
        double[] xhatErr = new double[total];
        V y = new V(x.shape);
        for (int i = 0; i < total; i++) {
            int s = stat[i];
            int p = param[i];
            xhat[i] = (x.v[i] - mean[s]) * rstd[s];
            xhatErr[i] = rstd[s] * (x.e[i] + meanErr[s]) + Math.abs(xhat[i]) * (rstdRel[s] + gamma(3));
            y.v[i] = gam[p] * xhat[i] + bet[p];
            y.e[i] = Math.abs(gam[p]) * xhatErr[i] + gamma(2) * (Math.abs(gam[p] * xhat[i]) + Math.abs(bet[p]));
        }
        cache[0] = new Norm(stats, stat, param, xhat, xhatErr, rstd, rstdRel);
        return y;
    }

    /**
     * dβ = Σ dOut, dγ = Σ dOut·x̂ over each γ entry's elements (inherited errors of both factors plus sum(m) of the
     * products); dx = r·(g − A − x̂·B) per statistic with g = γ·dOut, A = mean g, B = mean g·x̂ (NORM_DX with
     * inherited errors).
     */
    private V normBackward(int idx, V x, Norm c, V d) {
        int total = x.v.length;
        double[] gam = params.get(idx + ".gamma");
        int np = gam.length;
        double[] dg = new double[np], dgE = new double[np], dgAbs = new double[np];
        double[] db = new double[np], dbE = new double[np], dbAbs = new double[np];
        int[] perParam = new int[np];
        for (int i = 0; i < total; i++) {
            int p = c.param[i];
            db[p] += d.v[i];
            dbAbs[p] += Math.abs(d.v[i]);
            dbE[p] += d.e[i];
            dg[p] += d.v[i] * c.xhat[i];
            dgAbs[p] += Math.abs(d.v[i] * c.xhat[i]);
            dgE[p] += d.e[i] * Math.abs(c.xhat[i]) + Math.abs(d.v[i]) * c.xhatErr[i];
            perParam[p]++;
        }
        for (int p = 0; p < np; p++) {
            dbE[p] += sum(perParam[p]) * dbAbs[p];
            dgE[p] += (sum(perParam[p]) + gamma(1)) * dgAbs[p];
        }
        grad.put(idx + ".gamma", dg);
        gradError.put(idx + ".gamma", dgE);
        grad.put(idx + ".beta", db);
        gradError.put(idx + ".beta", dbE);
        double[] a = new double[c.stats], aE = new double[c.stats], aAbs = new double[c.stats];
        double[] b = new double[c.stats], bE = new double[c.stats], bAbs = new double[c.stats];
        int[] count = new int[c.stats];
        for (int i = 0; i < total; i++) {
            count[c.stat[i]]++;
        }
        for (int i = 0; i < total; i++) {
            int s = c.stat[i];
            double g = gam[c.param[i]] * d.v[i];
            double gE = Math.abs(gam[c.param[i]]) * d.e[i] + u * Math.abs(g);
            a[s] += g / count[s];
            aAbs[s] += Math.abs(g) / count[s];
            aE[s] += gE / count[s];
            b[s] += g * c.xhat[i] / count[s];
            bAbs[s] += Math.abs(g * c.xhat[i]) / count[s];
            bE[s] += (gE * Math.abs(c.xhat[i]) + Math.abs(g) * c.xhatErr[i]) / count[s];
        }
        for (int s = 0; s < c.stats; s++) {
            aE[s] += (sum(count[s]) + Tolerance.DIV * u) * aAbs[s];
            bE[s] += (sum(count[s]) + (1 + Tolerance.DIV) * u) * bAbs[s];
        }
        V dx = new V(x.shape);
        for (int i = 0; i < total; i++) {
            int s = c.stat[i];
            double g = gam[c.param[i]] * d.v[i];
            double gE = Math.abs(gam[c.param[i]]) * d.e[i] + u * Math.abs(g);
            double xh = c.xhat[i];
            double inner = g - a[s] - xh * b[s];
            double innerE = gE + aE[s] + c.xhatErr[i] * Math.abs(b[s]) + Math.abs(xh) * bE[s]
                    + gamma(3) * (Math.abs(g) + Math.abs(a[s]) + Math.abs(xh * b[s]));
            dx.v[i] = c.rstd[s] * inner;
            dx.e[i] = c.rstd[s] * innerE + Math.abs(dx.v[i]) * (c.rstdRel[s] + u);
        }
        return dx;
    }

    /**
     * The mean softmax cross-entropy (SOFTMAX_LOSS, plus the errors the scores carry in) into {@link #loss} and
     * {@link #lossError}; returns dLogits = (p − onehot)/N with SOFTMAX_DLOGITS plus inherited errors.
     */
    private V softmax(V s, int[] y) {
        int n = s.shape[0], k = s.shape[1];
        double dataLoss = 0, dataLossErr = 0;
        V d = new V(s.shape);
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, s.v[i * k + j]);
            }
            double sum = 0;
            for (int j = 0; j < k; j++) {
                sum += Math.exp(s.v[i * k + j] - max);
            }
            double weighted = 0, inherited = 0;
            for (int j = 0; j < k; j++) {
                double t = s.v[i * k + j] - max;
                double p = Math.exp(t) / sum;
                weighted += p * Math.abs(t);
                inherited += p * s.e[i * k + j];
            }
            double relS = sum(k) + Tolerance.EXP * u + u * weighted;
            double ty = s.v[i * k + y[i]] - max;
            double rowLoss = Math.log(sum) - ty;
            dataLoss += rowLoss / n;
            dataLossErr += (inherited + s.e[i * k + y[i]] + relS + Tolerance.EXP * u * Math.abs(Math.log(sum))
                    + u * Math.abs(ty) + u * rowLoss) / n;
            for (int j = 0; j < k; j++) {
                double t = s.v[i * k + j] - max;
                double p = Math.exp(t) / sum;
                double target = j == y[i] ? 1 : 0;
                d.v[i * k + j] = (p - target) / n;
                double ep = p * (s.e[i * k + j] + inherited)
                        + p * (Tolerance.EXP * u + u * Math.abs(t) + relS + Tolerance.DIV * u);
                d.e[i * k + j] = (ep + u * Math.abs(p - target)) / n + Tolerance.DIV * u * Math.abs(d.v[i * k + j]);
            }
        }
        loss = dataLoss;
        lossError = dataLossErr + (sum(n) + Tolerance.DIV * u) * dataLoss;
        return d;
    }

    /**
     * Central differences (f(p+h) − f(p−h))/2h of {@link #loss} for every element of every parameter, each with its
     * error bound ({@link NumericalGradient#evalScalarWithError}: Richardson's estimate of the truncation from the same
     * difference at 2h, and the roundoff of evaluations each within {@code evalError}; docs/tolerances.md,
     * NUMERICAL_GRADIENT). Throws IllegalStateException when a perturbed run (at h or 2h) moves a ReLU input across 0
     * or changes a pooling window's maximum (the loss is not differentiable there: pick another instance).
     */
    Map<String, NumericalGradient.Estimate> numericalGradient(double[] x, int[] y, double h, double evalError) {
        run(x, y, false);
        List<Integer> base = new ArrayList<>(switches);
        Map<String, NumericalGradient.Estimate> grads = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> e : params.entrySet()) {
            grads.put(e.getKey(), NumericalGradient.evalScalarWithError(v -> {
                double l = loss(x, y);
                if (!switches.equals(base)) {
                    throw new IllegalStateException("a step of up to " + 2 * h + " in " + e.getKey() + " moves a ReLU"
                            + " input across 0 or changes a pooling maximum: no central difference here");
                }
                return l;
            }, e.getValue(), h, evalError));
        }
        return grads;
    }
}
