package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.layerkit.api.Shape;
import org.layerkit.conformance.Tolerance;

/**
 * Comparison helpers whose failures report the shape, the max error, the derived bound and its name, and the first
 * bad index.
 */
final class Numerics {
    private Numerics() {
    }

    static float[] gaussian(Random r, int n, double mean, double sd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (mean + sd * r.nextGaussian());
        }
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /**
     * |expected − actual| ≤ tol (atol + rtol·|expected|) element-wise, or a failure naming what, the shape, the max
     * error, the bound and its name (its entry in docs/tolerances.md) and the first bad index.
     */
    static void assertClose(String what, Shape shape, double[] expected, float[] actual, Tolerance tol) {
        assertClose(what, shape, expected, actual, tol, null);
    }

    /**
     * As {@link #assertClose(String, Shape, double[], float[], Tolerance)} with {@code extra[i]} added to the bound
     * of element i (a numerical gradient's own error, NUMERICAL_GRADIENT, times the safety factor).
     */
    static void assertClose(String what, Shape shape, double[] expected, float[] actual, Tolerance tol,
                            double[] extra) {
        if (expected.length != actual.length) {
            fail(what + " " + shape + ": expected " + expected.length + " values, got " + actual.length);
        }
        double maxErr = 0;
        int maxAt = -1;
        int firstBad = -1;
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            if (Double.isNaN(actual[i]) && !Double.isNaN(expected[i])) {
                err = Double.POSITIVE_INFINITY;
            }
            if (err > maxErr || (maxAt < 0 && err == maxErr)) {
                maxErr = err;
                maxAt = i;
            }
            if (firstBad < 0 && !(err <= bound(tol, extra, expected, i))) {
                firstBad = i;
            }
        }
        if (firstBad >= 0) {
            fail(String.format(Locale.ROOT, "%s %s: max abs error %.3g at index %d (expected %.9g, got %.9g, bound "
                            + "%.3g); first bad index %d %s: expected %.9g, got %.9g, error %.3g > bound %.3g of %s%s",
                    what, shape, maxErr, maxAt, expected[maxAt], actual[maxAt], bound(tol, extra, expected, maxAt),
                    firstBad, Arrays.toString(unravel(shape, firstBad)), expected[firstBad], actual[firstBad],
                    Math.abs(expected[firstBad] - actual[firstBad]), bound(tol, extra, expected, firstBad), tol,
                    extra == null ? "" : " + SAFETY·NUMERICAL_GRADIENT"));
        }
    }

    private static double bound(Tolerance tol, double[] extra, double[] expected, int i) {
        return tol.allowance(expected[i]) + (extra == null ? 0 : Tolerance.SAFETY * extra[i]);
    }

    static void assertClose(String what, Shape shape, float[] expected, float[] actual, Tolerance tol) {
        assertClose(what, shape, toDouble(expected), actual, tol);
    }

    /** The multi-index of flat index i in shape. */
    static int[] unravel(Shape shape, int i) {
        int[] idx = new int[shape.rank()];
        for (int a = shape.rank() - 1; a >= 0; a--) {
            idx[a] = i % shape.dim(a);
            i /= shape.dim(a);
        }
        return idx;
    }
}
