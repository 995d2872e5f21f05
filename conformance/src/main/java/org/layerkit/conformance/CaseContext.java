package org.layerkit.conformance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * What a case's check works with: the backend, seeded input generators, tracking of the tensors it creates (closed
 * when the case ends), and comparisons that record mismatches with enough detail to debug a kernel.
 */
public final class CaseContext implements AutoCloseable {
    /** System property: a file to which every comparison appends its largest error/bound ratio. */
    public static final String MARGINS = "layerkit.conformance.margins";
    private static final int SHOWN_VALUES = 4;
    /** {@code "<op>: <arg> expected <expected>, got <actual>"}, the uniform error format of api's Contracts. */
    private static final Pattern CONTRACT_MESSAGE =
            Pattern.compile("(?s)(?<op>[^:\\s]+): (?<arg>\\S+) expected .+, got .+");

    private final Backend backend;
    private final ConformanceCase testCase;
    private final SplittableRandom random;
    private final Deque<AutoCloseable> owned = new ArrayDeque<>();
    private final List<String> failures = new ArrayList<>();
    private final Supplier<? extends Backend> freshBackends;
    private String unsupported;

    CaseContext(Backend backend, ConformanceCase testCase) {
        this(backend, testCase, null);
    }

    CaseContext(Backend backend, ConformanceCase testCase, Supplier<? extends Backend> freshBackends) {
        this.backend = backend;
        this.testCase = testCase;
        this.random = new SplittableRandom(testCase.seed());
        this.freshBackends = freshBackends;
    }

    /**
     * A new instance of the backend under test, closed when the case ends (the case may close it sooner); null when
     * the runner has no way to create one, and then the case ends UNSUPPORTED (unless it also failed).
     */
    public Backend newBackend() {
        Backend b = freshBackends == null ? null : freshBackends.get();
        if (b == null) {
            unsupported = "the runner creates no second instance of backend '" + backend.name() + "' (give "
                    + "ConformanceRunner.freshBackends, or override BackendConformanceTest.newBackend)";
            return null;
        }
        if (b == backend) {
            fail("newBackend: expected a new instance of the backend, got the backend under test itself");
            return null;
        }
        return track(b);
    }

    /** The backend under test. */
    public Backend backend() {
        return backend;
    }

    /** The case being run. */
    public ConformanceCase testCase() {
        return testCase;
    }

    /** The case's seeded generator: the same case always sees the same inputs. */
    public SplittableRandom random() {
        return random;
    }

    // ------------------------------------------------------------------------------------------------------ inputs

    /** {@code size} float32 values drawn from N(mean, std²). */
    public float[] normal(int size, double mean, double std) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (mean + std * random.nextGaussian());
        }
        return v;
    }

    /** {@code size} float32 values uniform in [lo, hi). */
    public float[] uniform(int size, double lo, double hi) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (lo + (hi - lo) * random.nextDouble());
        }
        return v;
    }

    /** Uploads {@code data} as a tensor of {@code shape}; it is closed when the case ends. */
    public Tensor upload(float[] data, Shape shape) {
        return track(backend.upload(data, shape));
    }

    /** Closes {@code resource} when the case ends (in reverse order of tracking); returns it. */
    public <T extends AutoCloseable> T track(T resource) {
        if (resource != null) {
            owned.push(resource);
        }
        return resource;
    }

    // ------------------------------------------------------------------------------------------------- comparisons

    /** Records a failure unless {@code condition}. */
    public void check(boolean condition, String message) {
        if (!condition) {
            fail(message);
        }
    }

    /** Records a failure; the case ends FAILED but the check goes on, so every mismatch is reported. */
    public void fail(String message) {
        failures.add(message);
    }

    /** Whether no failure has been recorded so far. */
    public boolean ok() {
        return failures.isEmpty();
    }

    /** Records a failure if {@code t}'s shape is not {@code expected}; returns whether it is. */
    public boolean expectShape(String what, Tensor t, Shape expected) {
        if (t == null) {
            fail(what + ": expected a tensor of shape " + expected + ", got null");
            return false;
        }
        if (!t.shape().equals(expected)) {
            fail(what + ": expected shape " + expected + ", got shape " + t.shape());
            return false;
        }
        return true;
    }

    /** Compares a tensor of {@code shape} with expected values under the case's tolerance. */
    public boolean expectClose(String what, Tensor actual, Shape shape, double[] expected) {
        return expectClose(what, actual, shape, expected, testCase.tolerance());
    }

    /** Compares a tensor of {@code shape} with expected values under {@code tol}. */
    public boolean expectClose(String what, Tensor actual, Shape shape, double[] expected, Tolerance tol) {
        if (!expectShape(what, actual, shape)) {
            return false;
        }
        return expectClose(what, actual.toArray(), shape, expected, tol);
    }

    /**
     * Compares values element by element; on a mismatch records the shape, how many elements are out, the max
     * absolute and relative errors, the first bad index and a few expected/actual pairs from there.
     */
    public boolean expectClose(String what, float[] actual, Shape shape, double[] expected, Tolerance tol) {
        return expectClose(what, Reference.widen(actual), shape, expected, tol);
    }

    /** {@link #expectClose(String, float[], Shape, double[], Tolerance)} of values a backend returns in double. */
    public boolean expectClose(String what, double[] actual, Shape shape, double[] expected, Tolerance tol) {
        if (actual.length != expected.length) {
            fail(what + " " + shape + ": expected " + expected.length + " values, got " + actual.length);
            return false;
        }
        int bad = 0;
        int firstBad = -1;
        double maxAbs = 0;
        int maxAbsAt = -1;
        double maxRel = 0;
        for (int i = 0; i < actual.length; i++) {
            double a = actual[i];
            double e = expected[i];
            double abs = Double.isNaN(a) || Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.abs(a - e);
            if (Double.compare(a, e) == 0) {
                abs = 0; // equal infinities
            }
            if (abs > maxAbs || maxAbsAt < 0 && abs > 0) {
                maxAbs = abs;
                maxAbsAt = i;
            }
            if (e != 0 && abs / Math.abs(e) > maxRel) {
                maxRel = abs / Math.abs(e);
            }
            if (!tol.accepts(a, e)) {
                if (firstBad < 0) {
                    firstBad = i;
                }
                bad++;
            }
        }
        recordMargin(what, actual, expected, tol);
        if (bad == 0) {
            return true;
        }
        StringBuilder m = new StringBuilder();
        m.append(String.format(Locale.ROOT, "%s %s: %d of %d values outside %s; max abs err %.3e at %s, "
                        + "max rel err %.3e; first bad index %d %s:", what, shape, bad, actual.length, tol, maxAbs,
                index(maxAbsAt, shape), maxRel, firstBad, index(firstBad, shape)));
        int shown = 0;
        for (int i = firstBad; i < actual.length && shown < SHOWN_VALUES; i++) {
            if (!tol.accepts(actual[i], expected[i])) {
                m.append(String.format(Locale.ROOT, " %s expected %.9g actual %.9g (error %.3e, bound %.3e);",
                        index(i, shape), expected[i], actual[i], Math.abs(actual[i] - expected[i]),
                        tol.allowance(expected[i])));
                shown++;
            }
        }
        fail(m.toString());
        return false;
    }

    /**
     * With the system property {@value #MARGINS} set to a file, appends one line per comparison: the bound's name,
     * the case, the quantity, the backend and the largest error/bound ratio (how close a kernel runs to each derived
     * bound; docs/tolerances.md).
     */
    private void recordMargin(String what, double[] actual, double[] expected, Tolerance tol) {
        String file = System.getProperty(MARGINS);
        if (file == null || file.isBlank()) {
            return;
        }
        double worst = 0;
        for (int i = 0; i < actual.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            double bound = tol.allowance(expected[i]);
            if (err > 0) {
                worst = Math.max(worst, bound > 0 ? err / bound : Double.POSITIVE_INFINITY);
            }
        }
        String line = String.format(Locale.ROOT, "%s\t%s\t%s\t%s\t%.3e%n", tol.name(), testCase.name(), what,
                backend.name(), worst);
        try {
            Files.writeString(Path.of(file), line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + MARGINS + " file " + file, e);
        }
    }

    /** Requires every value of the tensor to equal the expected floats bit for bit. */
    public boolean expectIdentical(String what, Tensor actual, Shape shape, float[] expected) {
        if (!expectShape(what, actual, shape)) {
            return false;
        }
        return expectIdentical(what, actual.toArray(), shape, expected);
    }

    /** Requires {@code actual} to equal {@code expected} bit for bit (as {@link Float#floatToIntBits}). */
    public boolean expectIdentical(String what, float[] actual, Shape shape, float[] expected) {
        if (actual.length != expected.length) {
            fail(what + " " + shape + ": expected " + expected.length + " values, got " + actual.length);
            return false;
        }
        int bad = 0;
        int firstBad = -1;
        for (int i = 0; i < actual.length; i++) {
            if (Float.floatToIntBits(actual[i]) != Float.floatToIntBits(expected[i])) {
                bad++;
                if (firstBad < 0) {
                    firstBad = i;
                }
            }
        }
        if (bad == 0) {
            return true;
        }
        StringBuilder m = new StringBuilder(String.format(Locale.ROOT,
                "%s %s: %d of %d values differ (bit-identical required); first bad index %d %s:", what, shape, bad,
                actual.length, firstBad, index(firstBad, shape)));
        int shown = 0;
        for (int i = firstBad; i < actual.length && shown < SHOWN_VALUES; i++) {
            if (Float.floatToIntBits(actual[i]) != Float.floatToIntBits(expected[i])) {
                m.append(String.format(Locale.ROOT, " %s expected %s actual %s;", index(i, shape), expected[i],
                        actual[i]));
                shown++;
            }
        }
        fail(m.toString());
        return false;
    }

    // ------------------------------------------------------------------------------------------------------ errors

    /** A backend call that is expected to throw. */
    @FunctionalInterface
    public interface Call {
        /** Calls the backend; a returned {@link AutoCloseable} (an unexpected result) is closed. */
        Object call() throws Exception;
    }

    /**
     * Requires {@code call} to throw {@code type} with a message in the contract format
     * {@code "<op>: <arg> expected ..., got ..."} whose op matches {@code opPattern} (a regex) and whose argument is
     * one of {@code args} (or an element of one, like {@code labels[3]}).
     */
    public void expectError(Class<? extends Throwable> type, String opPattern, Collection<String> args, Call call) {
        String wanted = type.getSimpleName() + " naming op '" + opPattern + "' and argument " + String.join(" or ",
                args);
        Object result;
        try {
            result = call.call();
        } catch (Exception | AssertionError | LinkageError e) {
            if (!type.isInstance(e)) {
                fail("expected " + wanted + ", got " + describe(e));
                return;
            }
            String msg = String.valueOf(e.getMessage());
            Matcher m = CONTRACT_MESSAGE.matcher(msg);
            if (!m.matches()) {
                fail("expected " + wanted + " in the form \"<op>: <arg> expected <expected>, got <actual>\", got "
                        + e.getClass().getSimpleName() + ": " + msg);
            } else if (!m.group("op").matches(opPattern)) {
                fail("expected " + wanted + ", but the message names op '" + m.group("op") + "': " + msg);
            } else if (!namesArgument(m.group("arg"), args)) {
                fail("expected " + wanted + ", but the message names argument '" + m.group("arg") + "': " + msg);
            }
            return;
        }
        if (result instanceof AutoCloseable c) {
            track(c);
        }
        fail("expected " + wanted + ", but the call returned normally"
                + (result == null ? "" : " with " + result.getClass().getSimpleName()));
    }

    /** {@code labels} and an element of it such as {@code labels[1]} both name the argument {@code labels}. */
    private static boolean namesArgument(String named, Collection<String> args) {
        for (String a : args) {
            if (named.equals(a) || named.startsWith(a + "[")) {
                return true;
            }
        }
        return false;
    }

    /** {@link #expectError(Class, String, Collection, Call)} for a single argument name. */
    public void expectError(Class<? extends Throwable> type, String opPattern, String arg, Call call) {
        expectError(type, opPattern, List.of(arg), call);
    }

    // --------------------------------------------------------------------------------------------------- lifecycle

    /** PASSED if nothing failed, else FAILED with every recorded failure. */
    Outcome outcome() {
        if (failures.isEmpty()) {
            return unsupported != null ? Outcome.unsupported(unsupported) : Outcome.passed();
        }
        return Outcome.failed(String.join("\n", failures));
    }

    /** Closes every tracked resource; a failing close is recorded as a failure. */
    @Override
    public void close() {
        while (!owned.isEmpty()) {
            AutoCloseable c = owned.pop();
            try {
                c.close();
            } catch (Exception | AssertionError | LinkageError e) {
                fail("closing " + c.getClass().getSimpleName() + " failed: " + describe(e));
            }
        }
    }

    /** {@code [n,d]} for a flat index in a shape. */
    static String index(int flat, Shape shape) {
        if (flat < 0) {
            return "[]";
        }
        int[] dims = shape.dims();
        int[] idx = new int[dims.length];
        int rest = flat;
        for (int a = dims.length - 1; a >= 0; a--) {
            idx[a] = rest % dims[a];
            rest /= dims[a];
        }
        StringBuilder b = new StringBuilder("[");
        for (int a = 0; a < idx.length; a++) {
            if (a > 0) {
                b.append(',');
            }
            b.append(idx[a]);
        }
        return b.append(']').toString();
    }

    /** Class, message and the first frames of an exception, for FAILED messages. */
    static String describe(Throwable e) {
        StringBuilder b = new StringBuilder(e.getClass().getName());
        if (e.getMessage() != null) {
            b.append(": ").append(e.getMessage());
        }
        StackTraceElement[] st = e.getStackTrace();
        for (int i = 0; i < Math.min(3, st.length); i++) {
            b.append(i == 0 ? " at " : " < ").append(st[i]);
        }
        if (e.getCause() != null && e.getCause() != e) {
            b.append(" (cause: ").append(e.getCause()).append(')');
        }
        return b.toString();
    }
}
