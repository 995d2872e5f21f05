package org.layerkit.conformance;

/**
 * Derived float32 error bounds of the training ops, from the magnitudes of an instance's own data (docs/tolerances.md
 * names each by the {@link Tolerance#name()} it returns). The kit's cases use them, and so can a backend's own tests:
 * they hold for any summation order, blocking or vector width. Normalizations: {@link NormBounds}.
 */
public final class Bounds {
    private Bounds() {
    }

    /**
     * GEMM: C = α·Σ_K a·b + β·C₀ is a dot product of K terms (sum(K) of Σ|a·b|, in any order or blocking), then α·,
     * β·C₀ and their sum (γ(3)): |δC| ≤ (sum(K) + γ(3))·(|α|·Σ_K|a·b| + |β·C₀|); the bound is its max over C.
     */
    public static Tolerance gemm(float[] a, int aRows, int aCols, boolean ta, float[] b, int bRows, int bCols,
                                   boolean tb, float[] c, float alpha, float beta) {
        int m = ta ? aCols : aRows;
        int k = ta ? aRows : aCols;
        int n = tb ? bRows : bCols;
        double worst = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double mag = 0;
                for (int q = 0; q < k; q++) {
                    double av = ta ? a[q * aCols + i] : a[i * aCols + q];
                    double bv = tb ? b[j * bCols + q] : b[q * bCols + j];
                    mag += Math.abs(av * bv);
                }
                mag = Math.abs(alpha) * mag + (beta == 0 ? 0 : Math.abs(beta * c[i * n + j]));
                worst = Math.max(worst, mag);
            }
        }
        return Tolerance.ofSum("GEMM", k, 3, worst);
    }

    /** COLUMN_SUM: N terms per column in any order: sum(N)·max over columns of Σ_N |x|. */
    public static Tolerance columnSum(float[] x, int n, int d) {
        double[] abs = new double[d];
        for (int i = 0; i < n * d; i++) {
            abs[i % d] += Math.abs(x[i]);
        }
        return Tolerance.ofSum("COLUMN_SUM", n, 0, Tolerance.maxAbs(abs));
    }

    /**
     * SOFTMAX_LOSS and SOFTMAX_DLOGITS. Per row, with t_j = z_j − max z (rounded: U·|t_j|), e_j = exp t_j (EXP·U,
     * and the exponent's error U·|t_j| becomes a relative error of e_j), S = Σ e_j of positive terms (sum(K)
     * relative, plus the e_j's errors weighted by p_j = e_j/S: EXP·U + U·Σ p_j|t_j|):
     * ℓ = log S − t_y is off by δS/S + EXP·U·|log S| + U·|t_y| + U·ℓ, and L = mean ℓ (ℓ ≥ 0) by
     * sum(N)·L + mean δℓ + DIV·U·L. dLogits = (p_j − [j = y])/N with p_j off by
     * p_j·(δe_j/e_j + δS/S + DIV·U), the difference by U·|p_j − [j = y]|, the division by DIV·U.
     */
    public static Tolerance[] softmax(double[] z, int[] labels, int n, int k) {
        double u = Tolerance.U;
        double lossSum = 0;
        double lossErr = 0;
        double dErr = 0;
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, z[i * k + j]);
            }
            double s = 0;
            double weighted = 0;
            for (int j = 0; j < k; j++) {
                double t = z[i * k + j] - max;
                s += Math.exp(t);
                weighted += Math.exp(t) * Math.abs(t);
            }
            weighted /= s;
            double relS = Tolerance.sum(k) + Tolerance.EXP * u + u * weighted;
            double ty = z[i * k + labels[i]] - max;
            double loss = Math.log(s) - ty;
            lossSum += loss;
            lossErr += relS + Tolerance.EXP * u * Math.abs(Math.log(s)) + u * Math.abs(ty) + u * loss;
            for (int j = 0; j < k; j++) {
                double t = z[i * k + j] - max;
                double p = Math.exp(t) / s;
                double target = j == labels[i] ? 1 : 0;
                double ep = p * (Tolerance.EXP * u + u * Math.abs(t) + relS + Tolerance.DIV * u);
                double d = (p - target) / n;
                dErr = Math.max(dErr, (ep + u * Math.abs(p - target)) / n + Tolerance.DIV * u * Math.abs(d));
            }
        }
        double mean = lossSum / n;
        double lossBound = Tolerance.sum(n) * mean + lossErr / n + Tolerance.DIV * u * mean;
        return new Tolerance[] {Tolerance.derived("SOFTMAX_LOSS", lossBound, 0),
            Tolerance.derived("SOFTMAX_DLOGITS", dErr, 0)};
    }

    /** SUM_OF_SQUARES: n squares (one rounding each) summed, all terms ≥ 0: relative sum(n) + γ(1). */
    public static Tolerance sumOfSquares(long n) {
        return Tolerance.derived("SUM_OF_SQUARES", 0, Tolerance.sum(n) + Tolerance.gamma(1));
    }

    /**
     * OPTIMIZER_W and OPTIMIZER_STATE: per element error bounds carried through the steps, computed from the
     * exact values before each step. Every rule is a few products and sums of exact float inputs; a product or sum
     * adds U of its result, the square root SQRT·U (and passes on half the relative error of its argument, or
     * √δ when the argument is within δ of 0), a division DIV·U; an error already in w or in a state is carried
     * (times the decay, ≤ 1, for a state). The step lr·m̂/(√v̂ + ε) of Adam is counted for the two equivalent forms
     * backends use (corrections applied to m and v, or folded into the step size and √v): 2·DIV + SQRT + 6
     * roundings.
     */
    public static final class OptimizerErrors {
        /** Error bounds of w, of the first state (velocity, cache, m) and of the second (Adam's v). */
        public final double[] w;
        public final double[] s1;
        public final double[] s2;

        public OptimizerErrors(int size) {
            w = new double[size];
            s1 = new double[size];
            s2 = new double[size];
        }

        /**
         * The error bounds after step t (1, 2, ...) of rule {@code kind} (sgd, sgd_momentum, rmsprop, adam), from the
         * exact w, state1, state2 before it, the gradient dw and the hyperparameters as the backend got them.
         */
        public void step(String kind, double[] w0, double[] a0, double[] b0, double[] dw, double lr, double momentum,
                         double decay, double beta1, double beta2, double eps, int t) {
            double u = Tolerance.U;
            for (int i = 0; i < w.length; i++) {
                double g = dw[i];
                switch (kind) {
                    case "sgd" -> {
                        // w − lr·dw: the product and the difference
                        w[i] += Tolerance.gamma(2) * (Math.abs(w0[i]) + Math.abs(lr * g));
                    }
                    case "sgd_momentum" -> {
                        // v' = μ·v − lr·dw, then w + v'
                        double v = momentum * a0[i] - lr * g;
                        s1[i] = momentum * s1[i]
                                + Tolerance.gamma(3) * (Math.abs(momentum * a0[i]) + Math.abs(lr * g));
                        w[i] += s1[i] + u * (Math.abs(w0[i]) + Math.abs(v));
                    }
                    case "rmsprop" -> {
                        // c' = ρ·c + (1−ρ)·g² (all terms ≥ 0), w −= lr·g/(√c' + ε)
                        double c = decay * a0[i] + (1 - decay) * g * g;
                        s1[i] = decay * s1[i] + Tolerance.gamma(4) * c;
                        double q = Math.sqrt(c) + eps;
                        double dq = sqrtError(c, s1[i]) + Tolerance.SQRT * u * Math.sqrt(c) + u * q;
                        double step = lr * g / q;
                        w[i] += Math.abs(step) * ((2 + Tolerance.DIV) * u + dq / q)
                                + u * (Math.abs(w0[i]) + Math.abs(step));
                    }
                    case "adam" -> {
                        double m = beta1 * a0[i] + (1 - beta1) * g;
                        double v = beta2 * b0[i] + (1 - beta2) * g * g;
                        s1[i] = beta1 * s1[i]
                                + Tolerance.gamma(3) * (Math.abs(beta1 * a0[i]) + Math.abs((1 - beta1) * g));
                        s2[i] = beta2 * s2[i] + Tolerance.gamma(4) * v;
                        double c1 = 1 - Math.pow(beta1, t);
                        double c2 = 1 - Math.pow(beta2, t);
                        double vhat = v / c2;
                        double q = Math.sqrt(vhat) + eps;
                        double dq = sqrtError(vhat, s2[i] / c2) + u * q;
                        double step = lr * (m / c1) / q;
                        w[i] += lr * (s1[i] / c1) / q
                                + Math.abs(step) * ((2 * Tolerance.DIV + Tolerance.SQRT + 6) * u + dq / q)
                                + u * (Math.abs(w0[i]) + Math.abs(step));
                    }
                    default -> throw new IllegalStateException("unknown optimizer " + kind);
                }
            }
        }

        /** |√(c ± δ) − √c| ≤ min(δ/(2√c), √δ). */
        private static double sqrtError(double c, double delta) {
            return c > 0 ? Math.min(delta / (2 * Math.sqrt(c)), Math.sqrt(delta)) : Math.sqrt(delta);
        }
    }
}
