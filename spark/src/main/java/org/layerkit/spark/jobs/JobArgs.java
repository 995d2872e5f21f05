package org.layerkit.spark.jobs;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The jobs' command line: {@code --name value}, {@code --name=value} and bare flags, nothing else (no dependency: the
 * shaded jar travels to every executor). Every mistake is a {@link UsageException} naming the argument, what was
 * expected and what was given; the job prints it with its usage line, no stack trace.
 */
final class JobArgs {
    /** A bad command line: printed as one line plus the usage, exit status 2. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    private final Map<String, String> values = new LinkedHashMap<>();
    private final Map<String, Boolean> flags = new LinkedHashMap<>();

    private JobArgs() {
    }

    /**
     * Parses {@code args} against the options that take a value ({@code valued}) and the flags ({@code flagNames}),
     * all spelled with their leading {@code --}.
     */
    static JobArgs parse(String[] args, List<String> valued, List<String> flagNames) {
        JobArgs a = new JobArgs();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg == null || !arg.startsWith("--")) {
                throw new UsageException("unexpected argument '" + arg + "': expected options (--name value); "
                        + "options: " + String.join(", ", all(valued, flagNames)));
            }
            int eq = arg.indexOf('=');
            String name = eq < 0 ? arg : arg.substring(0, eq);
            if (flagNames.contains(name)) {
                if (eq >= 0) {
                    throw new UsageException(name + " is a flag: expected no value, got '" + arg.substring(eq + 1)
                            + "'");
                }
                a.flags.put(name, true);
                continue;
            }
            if (!valued.contains(name)) {
                throw new UsageException("unknown option '" + name + "': expected one of "
                        + String.join(", ", all(valued, flagNames)));
            }
            String value;
            if (eq >= 0) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            } else {
                throw new UsageException(name + ": expected a value, got " + (i + 1 < args.length
                        ? "the option '" + args[i + 1] + "'" : "nothing (it is the last argument)"));
            }
            if (a.values.containsKey(name)) {
                throw new UsageException(name + ": expected once, got twice ('" + a.values.get(name) + "' and '"
                        + value + "')");
            }
            a.values.put(name, value);
        }
        return a;
    }

    private static List<String> all(List<String> valued, List<String> flagNames) {
        return java.util.stream.Stream.concat(valued.stream(), flagNames.stream()).toList();
    }

    /** The options given, as {@code --name value} and flags, in order (for the saved model's metadata). */
    List<String> given() {
        List<String> out = new java.util.ArrayList<>();
        values.forEach((k, v) -> out.add(k + " " + v));
        out.addAll(flags.keySet());
        return out;
    }

    boolean flag(String name) {
        return flags.getOrDefault(name, false);
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    String string(String name, String fallback) {
        String v = values.get(name);
        if (v == null) {
            return fallback;
        }
        if (v.isBlank()) {
            throw new UsageException(name + ": expected a value, got an empty one");
        }
        return v.trim();
    }

    /** One of {@code choices} (case-insensitive), returned in lower case. */
    String choice(String name, String fallback, List<String> choices) {
        String v = string(name, fallback);
        String lower = v.toLowerCase(Locale.ROOT);
        if (!choices.contains(lower)) {
            throw new UsageException(name + ": expected one of " + String.join(", ", choices) + ", got '" + v + "'");
        }
        return lower;
    }

    /** A whole number at least {@code min}, or {@code fallback} (may be null) when absent. */
    Integer integer(String name, Integer fallback, int min) {
        String v = string(name, null);
        if (v == null) {
            return fallback;
        }
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException(name + ": expected a whole number >= " + min + ", got '" + v + "'");
        }
        if (n < min) {
            throw new UsageException(name + ": expected a whole number >= " + min + ", got " + n);
        }
        return n;
    }

    /** A number in ({@code lowExclusive}, {@code high}], or {@code fallback} (may be null) when absent. */
    Double number(String name, Double fallback, double lowExclusive, double high) {
        String v = string(name, null);
        if (v == null) {
            return fallback;
        }
        double d;
        try {
            d = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            d = Double.NaN;
        }
        if (!(d > lowExclusive && d <= high)) {
            throw new UsageException(name + ": expected a number in (" + fmt(lowExclusive) + ", " + fmt(high) + "], "
                    + "got '" + v + "'");
        }
        return d;
    }

    private static String fmt(double d) {
        return d == Double.MAX_VALUE ? "inf" : d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    /** Comma-separated whole numbers, each at least 1, or null when absent. */
    List<Integer> widths(String name) {
        String v = string(name, null);
        if (v == null) {
            return null;
        }
        try {
            List<Integer> out = java.util.Arrays.stream(v.split(",")).map(String::trim).map(Integer::parseInt).toList();
            if (out.stream().allMatch(w -> w >= 1)) {
                return out;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new UsageException(name + ": expected comma-separated whole numbers >= 1 (e.g. 256,128,100), got '"
                + v + "'");
    }

    Path path(String name, Path fallback) {
        String v = string(name, null);
        if (v == null) {
            return fallback;
        }
        try {
            return Path.of(v);
        } catch (InvalidPathException e) {
            throw new UsageException(name + ": expected a path, got '" + v + "' (" + e.getReason() + ")");
        }
    }

    /** A path given by {@code name} that must be an existing directory (on the driver). */
    Path directory(String name, Path fallback, String what) {
        Path p = path(name, fallback);
        if (!Files.isDirectory(p)) {
            throw new UsageException(name + ": expected a directory with " + what + ", got '" + p + "', which "
                    + (Files.exists(p) ? "is not a directory" : "does not exist") + (has(name) ? ""
                    : " (the default; give " + name + " DIR)"));
        }
        return p;
    }

    /** A required path to an existing regular file. */
    Path existingFile(String name, String what) {
        Path p = path(name, null);
        if (p == null) {
            throw new UsageException(name + ": expected " + what + ", got nothing (it is required)");
        }
        if (!Files.isRegularFile(p)) {
            throw new UsageException(name + ": expected " + what + ", got '" + p + "', which "
                    + (Files.isDirectory(p) ? "is a directory" : "does not exist"));
        }
        return p;
    }

    /** An output path that does not exist yet (or, with {@code mayReplace}, a file) in an existing directory. */
    Path output(String name, String what, boolean mayReplace) {
        Path p = path(name, null);
        if (p == null) {
            return null;
        }
        Path abs = p.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new UsageException(name + ": expected a path for " + what + " in an existing directory, got '" + p
                    + "', whose directory " + parent + " does not exist");
        }
        if (Files.isDirectory(abs) && mayReplace) {
            throw new UsageException(name + ": expected a file for " + what + ", got '" + p + "', which is a directory");
        }
        if (Files.exists(abs) && !mayReplace) {
            throw new UsageException(name + ": expected a new path for " + what + ", got '" + p + "', which exists "
                    + "(remove it or give another)");
        }
        if (!Files.isWritable(parent)) {
            throw new UsageException(name + ": expected a path for " + what + " in a writable directory, got '" + p
                    + "' (" + parent + " is not writable)");
        }
        return p;
    }
}
