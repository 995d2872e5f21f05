package org.layerkit.conformance;

import java.util.function.Function;

/**
 * Central-difference numerical gradients, as CS231N's {@code eval_numerical_gradient_array}, and its relative error;
 * the conformance kit uses them to check the float64 {@link Reference} backwards, and the modules' tests to check
 * float32 backends.
 *
 * <p>A central difference D(h) = (f(x+h) − f(x−h))/2h is off from f' by its truncation h²·f‴/6 + O(h⁴) and by the
 * rounding errors of the two evaluations, at most 2ε/2h for evaluations good to ε, plus the rounding of the step
 * x ± h (relative U64·|x|/h). {@link #evalArrayWithError} returns D(h) with a bound on that error (entry
 * NUMERICAL_GRADIENT of docs/tolerances.md): the truncation estimated by Richardson's |D(2h) − D(h)|/3 (their
 * difference is 3h²f‴/6 + O(h⁴)), the roundoff bounded from the caller's ε. h = 1e-5 balances the two for f of
 * order 1 in float64: h²/6 ≈ 2e-11 against U64/h ≈ 1e-11.
 */
public final class NumericalGradient {
    /** The step CS231N uses. */
    public static final double H = 1e-5;
    /**
     * CS231N's criterion for a float64 analytic gradient against {@link #evalArray} with {@link #H}, shown in reports
     * next to the derived per-element bound of {@link #evalArrayWithError} that the checks use.
     */
    public static final double MAX_RELATIVE_ERROR = 1e-7;
    /** Denominator floor of {@link #relativeError}, CS231N's {@code 1e-8}. */
    public static final double TINY = 1e-8;

    private NumericalGradient() {
    }

    /**
     * A numerical gradient and a bound on each element's error.
     *
     * @param grad  D(h)
     * @param error |D(h) − f'| ≤ error (its truncation part estimated by Richardson extrapolation)
     */
    public record Estimate(double[] grad, double[] error) {
    }

    /**
     * {@link #evalArray} with a bound on each element's error: |D(2h) − D(h)|/3 for the truncation, 2ε/2h for the
     * roundoff of the two evaluations of Σ f·dout, each within ε = {@code evalError} of its exact value, and
     * |D(h)|·U64·|xᵢ|/h for the rounded step.
     *
     * @param evalError ε, a bound on the absolute error of one float64 evaluation of Σ f(x)·dout near x (a few U64
     *                  per rounding times the sum of the absolute values of its terms)
     */
    public static Estimate evalArrayWithError(Function<double[], double[]> f, double[] x, double[] dout, double h,
                                              double evalError) {
        double[] d1 = evalArray(f, x, dout, h);
        double[] d2 = evalArray(f, x, dout, 2 * h);
        double[] err = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            err[i] = Math.abs(d2[i] - d1[i]) / 3 + evalError / h
                    + Math.abs(d1[i]) * Tolerance.U64 * Math.abs(x[i]) / h;
        }
        return new Estimate(d1, err);
    }

    /** {@link #evalArrayWithError} of a scalar function, e.g. a loss. */
    public static Estimate evalScalarWithError(Function<double[], Double> f, double[] x, double h, double evalError) {
        return evalArrayWithError(v -> new double[] {f.apply(v)}, x, new double[] {1.0}, h, evalError);
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
