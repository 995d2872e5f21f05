package org.layerkit.cpu;

import java.util.function.IntUnaryOperator;
import org.layerkit.api.Shape;
import org.layerkit.conformance.NormBounds;
import org.layerkit.conformance.NumericalGradient;
import org.layerkit.conformance.Reference.NormForward;

/**
 * A float64 model of all four normalizations, written independently of the kernels: each kind is only a map from
 * a flat element index to its statistic and to its γ/β index.
 */
final class NormReference {
    final int size;
    final int stats;
    final IntUnaryOperator statOf;
    final IntUnaryOperator paramOf;
    final double eps;
    /** Batch norms: one statistic per γ/β entry (see {@link NormBounds.Layout#statIsParam()}). */
    final boolean statIsParam;
    final int params;

    private NormReference(int size, int stats, IntUnaryOperator statOf, IntUnaryOperator paramOf, double eps,
                          boolean statIsParam, int params) {
        this.statIsParam = statIsParam;
        this.params = params;
        this.size = size;
        this.stats = stats;
        this.statOf = statOf;
        this.paramOf = paramOf;
        this.eps = eps;
    }

    /** batchnorm [N,D]: statistic and parameter per feature. */
    static NormReference batchNorm(Shape s, double eps) {
        int d = s.dim(1);
        return new NormReference(s.size(), d, i -> i % d, i -> i % d, eps, true, d);
    }

    /** spatial batchnorm [N,C,H,W]: statistic and parameter per channel. */
    static NormReference spatialBatchNorm(Shape s, double eps) {
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        return new NormReference(s.size(), c, i -> (i / sp) % c, i -> (i / sp) % c, eps, true, c);
    }

    /** layernorm [N,D]: statistic per row, parameter per feature. */
    static NormReference layerNorm(Shape s, double eps) {
        int d = s.dim(1);
        return new NormReference(s.size(), s.dim(0), i -> i / d, i -> i % d, eps, false, d);
    }

    /** groupnorm [N,C,H,W]: statistic per (n, group), parameter per channel. */
    static NormReference groupNorm(Shape s, int groups, double eps) {
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        int len = c / groups * sp;
        return new NormReference(s.size(), s.dim(0) * groups, i -> i / len, i -> (i / sp) % c, eps, false, c);
    }

    /** Two-pass mean per statistic. */
    double[] mean(double[] x) {
        double[] sum = new double[stats];
        int[] count = new int[stats];
        for (int i = 0; i < size; i++) {
            sum[statOf.applyAsInt(i)] += x[i];
            count[statOf.applyAsInt(i)]++;
        }
        for (int k = 0; k < stats; k++) {
            sum[k] /= count[k];
        }
        return sum;
    }

    /** Biased variance per statistic around {@code mean}. */
    double[] var(double[] x, double[] mean) {
        double[] ss = new double[stats];
        int[] count = new int[stats];
        for (int i = 0; i < size; i++) {
            int k = statOf.applyAsInt(i);
            ss[k] += (x[i] - mean[k]) * (x[i] - mean[k]);
            count[k]++;
        }
        for (int k = 0; k < stats; k++) {
            ss[k] /= count[k];
        }
        return ss;
    }

    /** y = γ·(x − μ)/√(σ²+ε) + β with batch statistics. */
    double[] forward(double[] x, double[] gamma, double[] beta) {
        double[] mean = mean(x);
        return forwardWith(x, gamma, beta, mean, var(x, mean));
    }

    /** y with given statistics (EVAL batchnorm: the running ones). */
    double[] forwardWith(double[] x, double[] gamma, double[] beta, double[] mean, double[] var) {
        double[] y = new double[size];
        for (int i = 0; i < size; i++) {
            int k = statOf.applyAsInt(i);
            int p = paramOf.applyAsInt(i);
            y[i] = gamma[p] * (x[i] - mean[k]) / Math.sqrt(var[k] + eps) + beta[p];
        }
        return y;
    }

    /** The element → statistic, γ/β maps, for the kit's derived bounds. */
    NormBounds.Layout layout() {
        return new NormBounds.Layout(size, stats, params, statOf, paramOf, statIsParam);
    }

    /** The forward as the kit's reference record (out, x̂, mean, biased variance, rstd), batch statistics. */
    NormForward record(double[] x, double[] gamma, double[] beta) {
        double[] mean = mean(x);
        return recordWith(x, gamma, beta, mean, var(x, mean));
    }

    /** The forward as the kit's reference record with given statistics (EVAL: the running ones). */
    NormForward recordWith(double[] x, double[] gamma, double[] beta, double[] mean, double[] var) {
        double[] rstd = new double[stats];
        for (int k = 0; k < stats; k++) {
            rstd[k] = 1 / Math.sqrt(var[k] + eps);
        }
        double[] xhat = new double[size];
        for (int i = 0; i < size; i++) {
            int k = statOf.applyAsInt(i);
            xhat[i] = (x[i] - mean[k]) * rstd[k];
        }
        return new NormForward(forwardWith(x, gamma, beta, mean, var), xhat, mean, var, rstd);
    }

    /**
     * Central differences of v ↦ Σ dOut·f(v) at v (h = 1e-5, CS231N's eval_numerical_gradient_array) with their
     * error bounds (NUMERICAL_GRADIENT), for one evaluation good to {@code evalError}.
     */
    static NumericalGradient.Estimate numericalGradient(java.util.function.Function<double[], double[]> f, double[] v,
                                                        double[] dOut, double evalError) {
        return NumericalGradient.evalArrayWithError(f, v, dOut, NumericalGradient.H, evalError);
    }

    /** Analytic TRAIN backward in double: {dX, dγ, dβ}, dγ/dβ of length {@code params}. */
    double[][] backward(double[] x, double[] gamma, double[] dOut, int params) {
        double[] mean = mean(x);
        double[] var = var(x, mean);
        double[] sumG = new double[stats];
        double[] sumGX = new double[stats];
        int[] count = new int[stats];
        double[] xhat = new double[size];
        double[] dGamma = new double[params];
        double[] dBeta = new double[params];
        for (int i = 0; i < size; i++) {
            int k = statOf.applyAsInt(i);
            int p = paramOf.applyAsInt(i);
            xhat[i] = (x[i] - mean[k]) / Math.sqrt(var[k] + eps);
            double g = dOut[i] * gamma[p];
            sumG[k] += g;
            sumGX[k] += g * xhat[i];
            count[k]++;
            dGamma[p] += dOut[i] * xhat[i];
            dBeta[p] += dOut[i];
        }
        double[] dx = new double[size];
        for (int i = 0; i < size; i++) {
            int k = statOf.applyAsInt(i);
            double g = dOut[i] * gamma[paramOf.applyAsInt(i)];
            double m = count[k];
            dx[i] = (m * g - sumG[k] - xhat[i] * sumGX[k]) / (m * Math.sqrt(var[k] + eps));
        }
        return new double[][] {dx, dGamma, dBeta};
    }
}
