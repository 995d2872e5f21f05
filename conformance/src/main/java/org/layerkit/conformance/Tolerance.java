package org.layerkit.conformance;

import java.util.Locale;

/**
 * How close a backend's float32 result must be to the float64 reference: element i passes iff
 * |actual − expected| ≤ atol + rtol·|expected| (NaN and infinities in actual fail unless expected is the same).
 *
 * <p>Every tolerance is <em>derived</em>, not tuned: it is the float32 error bound of a correct kernel for the
 * computation it checks, computed from the unit roundoff {@link #U}, the number of roundings on the longest path
 * ({@link #gamma}), the length of the sums ({@link #sum}) and the magnitudes of the instance's own data (which carry
 * its condition: cancellation, 1/σ of a normalization), times the one {@link #SAFETY} factor. Its {@link #name()}
 * is the entry of {@code docs/tolerances.md} that derives it; failure messages print it, so a user on another
 * machine can say which bound failed. A new case derives its bound the same way (see "Adding a bound" there) and
 * builds it with {@link #derived}.
 *
 * @param name the bound's entry in {@code docs/tolerances.md}
 * @param atol absolute tolerance, ≥ 0
 * @param rtol relative tolerance, ≥ 0
 */
public record Tolerance(String name, double atol, double rtol) {
    /** Unit roundoff of float32, 2⁻²⁴: a correctly rounded +, −, ×, /, √ is within U·|exact result|. */
    public static final double U = 0x1p-24;
    /**
     * The float32 underflow unit, 2⁻¹⁵⁰ = U·2⁻¹²⁶: a correctly rounded result below the smallest normal float
     * (2⁻¹²⁶ ≈ 1.2e-38, gradual underflow) is off by up to ETA absolute instead of U relative (Higham, 2nd ed., §2.1:
     * fl(x op y) = (x op y)(1 + δ) + η, |η| ≤ ETA; sums and differences of floats are exact there). Only data near
     * the float range reaches it, e.g. rstd ≈ 5e-39 for values of magnitude 3e38.
     */
    public static final double ETA = 0x1p-150;
    /** Unit roundoff of float64, 2⁻⁵³: the reference's and the numerical gradients' own rounding. */
    public static final double U64 = 0x1p-53;
    /**
     * The one safety factor on every derived bound. The bounds are first-order (they drop O(U²) terms), count
     * roundings per formula as written (a kernel may spend one or two more on an equivalent formula) and ignore the
     * float64 reference's own error (2⁻²⁹ of the float32 terms); a factor 2 covers all three and keeps every bound
     * within a small factor of what a correct kernel can do.
     */
    public static final double SAFETY = 2;
    /**
     * λ of the probabilistic sum bound λ·√n·U (see {@link #sum}): a sum exceeds it with probability at most
     * 2n·exp(−λ²(1−U)²/2) under the model of independent, mean-zero rounding errors (Higham and Mary, SIAM J. Sci.
     * Comput. 41(5), 2019, Thm. 3.1); λ = 10 makes that 4·10⁻¹⁵ for n = 2²², and below 10⁻⁷ summed over every value
     * the whole test suite compares.
     */
    public static final double LAMBDA = 10;
    /**
     * Error of a division in units of {@link #U}: OpenCL 1.2's full profile allows 2.5 ulp (an ulp is at most 2U of
     * the result) for single-precision x/y without {@code -cl-fp32-correctly-rounded-divide-sqrt}; Java's is U.
     */
    public static final int DIV = 5;
    /** Error of a square root in units of {@link #U}: OpenCL allows 3 ulp; Java's {@code Math.sqrt} is U. */
    public static final int SQRT = 6;
    /** Error of exp and log in units of {@link #U}: OpenCL allows 3 ulp; Java's {@code Math.exp/log} 1 ulp. */
    public static final int EXP = 6;

    /** Bit-for-bit equality (masks, indices, copies, relu, and computations exact in float32). */
    public static final Tolerance EXACT = new Tolerance("EXACT", 0, 0);

    public Tolerance {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("Tolerance: name expected (its entry in docs/tolerances.md), got "
                    + name);
        }
        if (!(atol >= 0) || !(rtol >= 0)) {
            throw new IllegalArgumentException("Tolerance " + name + ": atol and rtol expected >= 0, got " + atol
                    + ", " + rtol);
        }
    }

    /**
     * A tolerance without a derivation, kept so that code written against the first kit still compiles; its
     * failures say that it is not derived. Derive the bound instead ({@link #derived}, docs/tolerances.md).
     *
     * @deprecated every bound must follow from error analysis; use {@link #derived(String, double, double)}
     */
    @Deprecated
    public Tolerance(double atol, double rtol) {
        this("UNDERIVED (see docs/tolerances.md, 'Adding a bound')", atol, rtol);
    }

    /**
     * γ_k = k·U/(1 − k·U), the worst-case relative error of k float32 roundings in sequence (Higham, Accuracy and
     * Stability of Numerical Algorithms, 2nd ed., Lemma 3.1). k may count an op of several ulps as several roundings
     * ({@link #DIV}, {@link #SQRT}, {@link #EXP}).
     */
    public static double gamma(double k) {
        return gamma(k, U);
    }

    /** γ_k in float64: k·U64/(1 − k·U64), for the reference's and the numerical gradients' own rounding. */
    public static double gamma64(double k) {
        return gamma(k, U64);
    }

    /** γ_k = k·u/(1 − k·u) for a unit roundoff u ({@link #U} or {@link #U64}). */
    public static double gamma(double k, double u) {
        if (!(k >= 0) || k * u >= 0.5) {
            throw new IllegalArgumentException("gamma: k·u expected in [0, 0.5), got k = " + k + ", u = " + u);
        }
        return k * u / (1 - k * u);
    }

    /**
     * The error factor of a float32 sum (or dot product) of n terms in any order, grouping, blocking or vector width:
     * |computed − exact| ≤ sum(n)·Σ|terms|, where sum(n) = min(γ_n, {@link #LAMBDA}·√n·U). γ_n is the worst case of
     * every summation order (each term passes through at most n roundings); for n above λ² = 100 the probabilistic
     * λ·√n·U is smaller, and holds unless rounding errors conspire (see {@link #LAMBDA}). Sums accumulated in wider
     * precision, pairwise or in blocks are well inside it.
     */
    public static double sum(long n) {
        return sum(n, U);
    }

    /** {@link #sum(long)} for a unit roundoff u ({@link #U} or {@link #U64}). */
    public static double sum(long n, double u) {
        long len = Math.max(1, n);
        return Math.min(gamma(len, u), LAMBDA * Math.sqrt(len) * u);
    }

    /**
     * The usual derived bound of a computed sum: n terms in any order, then k more roundings (a bias, a scale, a
     * division: count {@link #DIV} for one), all of magnitude at most {@code magnitude} (the largest over the
     * instance of Σ|terms| and the |other operands|): SAFETY·(sum(n) + γ(k))·magnitude, absolute. A conv output,
     * for one, is {@code ofSum(name, C·KH·KW, 2, max Σ|x·w| + |b|)}.
     */
    public static Tolerance ofSum(String name, long n, int k, double magnitude) {
        return derived(name, (sum(n) + gamma(k)) * magnitude, 0);
    }

    /** A derived bound: {@link #SAFETY}·atol absolute plus {@link #SAFETY}·rtol relative, named after its entry. */
    public static Tolerance derived(String name, double atol, double rtol) {
        return new Tolerance(name, SAFETY * atol, SAFETY * rtol);
    }

    /**
     * The bound on |a − b| for two results a and b that are each within this tolerance of the exact value (the same
     * backend run twice, or two implementations): twice the allowance, by the triangle inequality.
     */
    public Tolerance betweenTwoResults() {
        return new Tolerance(name + " (between two results: 2×)", 2 * atol, 2 * rtol);
    }

    /**
     * The bound on |a − b| for a within this tolerance of an exact value and b within {@code other} of it (two
     * computations of one quantity by different paths): the allowances add.
     */
    public Tolerance plus(Tolerance other) {
        return new Tolerance(name + " + " + other.name, atol + other.atol, rtol + other.rtol);
    }

    /** Max over i of |v[i]|, the scale helpers of derived bounds take (0 for an empty array). */
    public static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
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

    /** The bound at an expected value: atol + rtol·|expected|. */
    public double allowance(double expected) {
        return atol + rtol * Math.abs(expected);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (atol=%.2e + rtol=%.2e·|expected|)", name, atol, rtol);
    }
}
