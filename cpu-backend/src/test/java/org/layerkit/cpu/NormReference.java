package org.layerkit.cpu;

import java.util.function.IntUnaryOperator;
import org.layerkit.api.Shape;

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

    private NormReference(int size, int stats, IntUnaryOperator statOf, IntUnaryOperator paramOf, double eps) {
        this.size = size;
        this.stats = stats;
        this.statOf = statOf;
        this.paramOf = paramOf;
        this.eps = eps;
    }

    /** batchnorm [N,D]: statistic and parameter per feature. */
    static NormReference batchNorm(Shape s, double eps) {
        int d = s.dim(1);
        return new NormReference(s.size(), d, i -> i % d, i -> i % d, eps);
    }

    /** spatial batchnorm [N,C,H,W]: statistic and parameter per channel. */
    static NormReference spatialBatchNorm(Shape s, double eps) {
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        return new NormReference(s.size(), c, i -> (i / sp) % c, i -> (i / sp) % c, eps);
    }

    /** layernorm [N,D]: statistic per row, parameter per feature. */
    static NormReference layerNorm(Shape s, double eps) {
        int d = s.dim(1);
        return new NormReference(s.size(), s.dim(0), i -> i / d, i -> i % d, eps);
    }

    /** groupnorm [N,C,H,W]: statistic per (n, group), parameter per channel. */
    static NormReference groupNorm(Shape s, int groups, double eps) {
        int c = s.dim(1);
        int sp = s.dim(2) * s.dim(3);
        int len = c / groups * sp;
        return new NormReference(s.size(), s.dim(0) * groups, i -> i / len, i -> (i / sp) % c, eps);
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

    /** Σ dOut·y, the scalar whose gradient the backward computes. */
    static double dot(double[] dOut, double[] y) {
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += dOut[i] * y[i];
        }
        return s;
    }

    /** A function of one array, for central differences. */
    interface Scalar {
        double at(double[] v);
    }

    /** Central differences of f at v, h = 1e-5 (CS231N eval_numerical_gradient_array). */
    static double[] numericalGradient(Scalar f, double[] v) {
        double h = 1e-5;
        double[] grad = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double old = v[i];
            v[i] = old + h;
            double plus = f.at(v);
            v[i] = old - h;
            double minus = f.at(v);
            v[i] = old;
            grad[i] = (plus - minus) / (2 * h);
        }
        return grad;
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
