package org.layerkit.conformance;

import java.util.function.Function;

/**
 * Central-difference numerical gradients, as CS231N's {@code eval_numerical_gradient_array}, and its relative error;
 * the conformance kit uses them to check the float64 {@link Reference} backwards.
 */
public final class NumericalGradient {
    /** The step CS231N uses. */
    public static final double H = 1e-5;
    /** A relative error at most this means an analytic gradient agrees with the numerical one. */
    public static final double MAX_RELATIVE_ERROR = 1e-7;
    /** Denominator floor of {@link #relativeError}, CS231N's {@code 1e-8}. */
    public static final double TINY = 1e-8;

    private NumericalGradient() {
    }

    /**
     * The numerical gradient of Σ f(x)·dout with respect to x: for each i,
     * (Σ (f(x + h·eᵢ) − f(x − h·eᵢ))·dout) / 2h. {@code x} is perturbed in place and restored.
     *
     * @param f    a function of x returning an array of dout's length; must not keep references to x
     * @param x    the point; restored on return
     * @param dout the upstream gradient
     * @param h    the step
     */
    public static double[] evalArray(Function<double[], double[]> f, double[] x, double[] dout, double h) {
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double old = x[i];
            x[i] = old + h;
            double[] pos = f.apply(x);
            x[i] = old - h;
            double[] neg = f.apply(x);
            x[i] = old;
            double s = 0;
            for (int j = 0; j < dout.length; j++) {
                s += (pos[j] - neg[j]) * dout[j];
            }
            grad[i] = s / (2 * h);
        }
        return grad;
    }

    /** {@link #evalArray} with {@link #H}. */
    public static double[] evalArray(Function<double[], double[]> f, double[] x, double[] dout) {
        return evalArray(f, x, dout, H);
    }

    /** The numerical gradient of a scalar function, e.g. a loss: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h. */
    public static double[] evalScalar(Function<double[], Double> f, double[] x, double h) {
        return evalArray(v -> new double[] {f.apply(v)}, x, new double[] {1.0}, h);
    }

    /** CS231N's {@code rel_error}: max over i of |a − n| / max(|a| + |n|, {@link #TINY}). */
    public static double relativeError(double[] analytic, double[] numeric) {
        if (analytic.length != numeric.length) {
            throw new IllegalArgumentException("relativeError: numeric expected length " + analytic.length
                    + ", got " + numeric.length);
        }
        double worst = 0;
        for (int i = 0; i < analytic.length; i++) {
            double e = Math.abs(analytic[i] - numeric[i])
                    / Math.max(Math.abs(analytic[i]) + Math.abs(numeric[i]), TINY);
            if (Double.isNaN(e)) {
                return Double.NaN;
            }
            worst = Math.max(worst, e);
        }
        return worst;
    }
}
