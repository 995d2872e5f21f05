package org.layerkit.conformance;

import java.util.Locale;

/**
 * How close a backend's float32 result must be to the float64 reference: element i passes iff
 * |actual − expected| ≤ atol + rtol·|expected| (NaN and infinities in actual fail unless expected is the same).
 *
 * @param atol absolute tolerance, ≥ 0
 * @param rtol relative tolerance, ≥ 0
 */
public record Tolerance(double atol, double rtol) {
    /** Bit-for-bit equality (used for masks, indices and copies). */
    public static final Tolerance EXACT = new Tolerance(0, 0);

    public Tolerance {
        if (!(atol >= 0) || !(rtol >= 0)) {
            throw new IllegalArgumentException("Tolerance: atol and rtol expected >= 0, got " + atol + ", " + rtol);
        }
    }

    /** Whether one element is within tolerance. */
    public boolean accepts(double actual, double expected) {
        if (Double.isNaN(expected) || Double.isInfinite(expected)) {
            return Double.compare(actual, expected) == 0;
        }
        if (Double.isNaN(actual) || Double.isInfinite(actual)) {
            return false;
        }
        return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
    }

    /** The same rtol with the absolute tolerance scaled by √len, for sums over len terms of float32 values. */
    public Tolerance forReduction(long len) {
        return new Tolerance(atol * Math.sqrt(Math.max(1, len)), rtol);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "atol=%.1e + rtol=%.1e·|expected|", atol, rtol);
    }
}
