package org.layerkit.conformance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.layerkit.api.Backend;

/**
 * Runs the {@link Catalogue} (or a selection of it) against a backend and returns a {@link ConformanceReport}. The
 * backend stays open; the caller owns it. No case's failure stops the run.
 */
public final class ConformanceRunner {
    private final Backend backend;
    private String include;
    private String exclude;
    private Supplier<? extends Backend> freshBackends;

    /** A runner for {@code backend}, selecting every case. */
    public ConformanceRunner(Backend backend) {
        if (backend == null) {
            throw new IllegalArgumentException("ConformanceRunner: backend expected a Backend, got null");
        }
        this.backend = backend;
    }

    /** Only cases whose name contains a match of this regex ({@code null} or blank: all). */
    public ConformanceRunner include(String regex) {
        this.include = regex;
        return this;
    }

    /** Skips cases whose name contains a match of this regex ({@code null} or blank: none). */
    public ConformanceRunner exclude(String regex) {
        this.exclude = regex;
        return this;
    }

    /**
     * How to create another instance of the backend under test, for the lifecycle cases (a closed backend's tensors
     * refuse use, ...), which close every instance they get; without it those cases are UNSUPPORTED.
     */
    public ConformanceRunner freshBackends(Supplier<? extends Backend> factory) {
        this.freshBackends = factory;
        return this;
    }

    /** The cases this runner would run. */
    public List<ConformanceCase> cases() {
        return Catalogue.select(include, exclude);
    }

    /** Runs the selected cases in catalogue order. */
    public ConformanceReport run() {
        List<ConformanceReport.Entry> entries = new ArrayList<>();
        for (ConformanceCase c : cases()) {
            long start = System.nanoTime();
            Outcome o = c.run(backend, freshBackends);
            entries.add(new ConformanceReport.Entry(c.name(), o, Duration.ofNanos(System.nanoTime() - start)));
        }
        return new ConformanceReport(describe(backend), entries);
    }

    static String describe(Backend b) {
        String device;
        try {
            device = b.device().describe();
        } catch (RuntimeException e) {
            device = "device unknown (" + e.getMessage() + ")";
        }
        return "backend '" + b.name() + "' on " + device;
    }
}
