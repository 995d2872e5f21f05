package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import org.layerkit.api.Shape;

/** Comparison helpers whose failures report the shape, the max error and the first bad index. */
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

    /** |expected − actual| ≤ atol + rtol·|expected| element-wise, or a failure naming what, shape, max error, index. */
    static void assertClose(String what, Shape shape, double[] expected, float[] actual, double atol, double rtol) {
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
            if (firstBad < 0 && err > atol + rtol * Math.abs(expected[i])) {
                firstBad = i;
            }
        }
        if (firstBad >= 0) {
            fail(String.format("%s %s: max abs error %.3g at index %d (expected %.9g, got %.9g); first bad index %d "
                            + "%s: expected %.9g, got %.9g (atol %.1g, rtol %.1g)",
                    what, shape, maxErr, maxAt, expected[maxAt], actual[maxAt], firstBad,
                    Arrays.toString(unravel(shape, firstBad)), expected[firstBad], actual[firstBad], atol, rtol));
        }
    }

    static void assertClose(String what, Shape shape, float[] expected, float[] actual, double atol, double rtol) {
        assertClose(what, shape, toDouble(expected), actual, atol, rtol);
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
