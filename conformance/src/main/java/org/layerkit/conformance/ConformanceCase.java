package org.layerkit.conformance;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.layerkit.api.Backend;
import org.layerkit.api.Mode;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;

/**
 * One conformance case, as data: what it exercises, with which shapes, parameters, seeded inputs and tolerance, and
 * the check that runs a backend through the public {@link Backend} api and compares it with the float64
 * {@link Reference} computed at run time.
 *
 * @param name      unique, like {@code batchnorm.backward[N=1000,D=333]}
 * @param op        the op family; the case is UNSUPPORTED when the backend does not support it
 * @param mode      TRAIN or EVAL where the op has modes, else {@code null}
 * @param shapes    the input shapes, for reports
 * @param params    the parameters shown in the name (shape letters, keep, offset, ...), in order
 * @param seed      the seed of the case's inputs ({@link CaseContext#random()})
 * @param tolerance the default tolerance of the case's comparisons (exact unless the case sets a derived one)
 * @param check     the check itself
 */
public record ConformanceCase(String name, Op op, Mode mode, List<Shape> shapes, Map<String, String> params,
                              long seed, Tolerance tolerance, Check check) {

    /** The body of a case: runs the backend and records mismatches in the context. */
    @FunctionalInterface
    public interface Check {
        /**
         * Runs the backend and compares with the reference through {@code ctx}; an exception that escapes is a
         * FAILED outcome naming it.
         */
        void verify(CaseContext ctx) throws Exception;
    }

    public ConformanceCase {
        if (name == null || name.isBlank() || op == null || tolerance == null || check == null) {
            throw new IllegalArgumentException("ConformanceCase: name, op, tolerance and check expected non-null, got "
                    + name + ", " + op + ", " + tolerance + ", " + check);
        }
        shapes = List.copyOf(shapes);
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    /** Runs the case against {@code backend}; never throws for a backend's failure, which becomes FAILED. */
    public Outcome run(Backend backend) {
        return run(backend, null);
    }

    /**
     * Runs the case against {@code backend}; {@code freshBackends}, when not null, creates new instances of the
     * same backend for the lifecycle cases, which close them ({@link CaseContext#newBackend()}).
     */
    public Outcome run(Backend backend, Supplier<? extends Backend> freshBackends) {
        if (!backend.supports(op)) {
            return Outcome.unsupported("backend '" + backend.name() + "' does not support op family '" + op.id() + "'");
        }
        CaseContext ctx = new CaseContext(backend, this, freshBackends);
        try {
            check.verify(ctx);
        } catch (Exception | LinkageError | AssertionError | OutOfMemoryError | StackOverflowError e) {
            ctx.fail("unexpected " + CaseContext.describe(e));
        } finally {
            ctx.close();
        }
        return ctx.outcome();
    }

    @Override
    public String toString() {
        return name;
    }

    /** Starts a case called {@code base[params...]}. */
    public static Builder builder(String base, Op op) {
        return new Builder(base, op);
    }

    /** Builds a {@link ConformanceCase}; the name is the base followed by the parameters in brackets. */
    public static final class Builder {
        private final String base;
        private final Op op;
        private Mode mode;
        private final List<Shape> shapes = new ArrayList<>();
        private final Map<String, String> params = new LinkedHashMap<>();
        private Long seed;
        /** Bit-exact unless the case derives a bound (docs/tolerances.md): no tolerance is ever a default. */
        private Tolerance tolerance = Tolerance.EXACT;

        private Builder(String base, Op op) {
            this.base = base;
            this.op = op;
        }

        /** TRAIN or EVAL where the op has modes. */
        public Builder mode(Mode m) {
            this.mode = m;
            return this;
        }

        /** Adds an input shape (for reports; the check creates its own tensors). */
        public Builder shape(int... dims) {
            shapes.add(Shape.of(dims));
            return this;
        }

        /** A parameter shown in the name as {@code key=value}. */
        public Builder param(String key, Object value) {
            params.put(key, String.valueOf(value));
            return this;
        }

        /** Overrides the default seed (a hash of the name). */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * An underived default tolerance, kept so that older cases compile; they fail with a message naming it as
         * underived.
         *
         * @deprecated derive the bound and pass a named {@link Tolerance} (docs/tolerances.md, "Adding a bound")
         */
        @Deprecated
        @SuppressWarnings("deprecation")
        public Builder tolerance(double atol, double rtol) {
            this.tolerance = new Tolerance(atol, rtol);
            return this;
        }

        /**
         * The default tolerance of the case's comparisons ({@link CaseContext#expectClose(String,
         * org.layerkit.api.Tensor, Shape, double[])}); a bound that depends on the inputs is built inside the check
         * and passed to the comparison instead. Without either, comparisons are exact.
         */
        public Builder tolerance(Tolerance t) {
            this.tolerance = t;
            return this;
        }

        /** The finished case; its seed defaults to a hash of its name, so inputs are fixed per case. */
        public ConformanceCase check(Check check) {
            StringBuilder name = new StringBuilder(base);
            if (!params.isEmpty()) {
                name.append('[');
                boolean first = true;
                for (Map.Entry<String, String> e : params.entrySet()) {
                    if (!first) {
                        name.append(',');
                    }
                    first = false;
                    name.append(e.getKey()).append('=').append(e.getValue());
                }
                name.append(']');
            }
            String n = name.toString();
            long s = seed != null ? seed : 0x9E3779B97F4A7C15L * n.hashCode() + n.length();
            return new ConformanceCase(n, op, mode, shapes, params, s, tolerance, check);
        }
    }
}
