package org.layerkit.conformance;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.layerkit.conformance.Outcome.Status;

/**
 * The result of running cases against one backend: one entry per case, in catalogue order.
 *
 * @param backend a description of the backend and its device
 * @param entries every case run
 */
public record ConformanceReport(String backend, List<Entry> entries) {
    /**
     * One case's result.
     *
     * @param name    the case name
     * @param outcome how it ended
     * @param time    how long it took
     */
    public record Entry(String name, Outcome outcome, Duration time) {
        /** The outcome's status. */
        public Status status() {
            return outcome.status();
        }

        /** The outcome's message, empty when passed. */
        public String message() {
            return outcome.message();
        }
    }

    public ConformanceReport {
        entries = List.copyOf(entries);
    }

    /** How many cases passed. */
    public long passed() {
        return count(Status.PASSED);
    }

    /** How many cases failed. */
    public long failed() {
        return count(Status.FAILED);
    }

    /** How many cases were unsupported by the backend. */
    public long unsupported() {
        return count(Status.UNSUPPORTED);
    }

    /** Whether no case failed (unsupported cases do not count as failures). */
    public boolean ok() {
        return failed() == 0;
    }

    private long count(Status s) {
        return entries.stream().filter(e -> e.status() == s).count();
    }

    /** {@code N passed, N failed, N unsupported}. */
    public String summary() {
        return passed() + " passed, " + failed() + " failed, " + unsupported() + " unsupported";
    }

    /**
     * Every case by name with its status and time, messages of failed and unsupported cases indented below it, and
     * the {@link #summary()} as the last line.
     */
    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append("conformance of ").append(backend).append('\n');
        for (Entry e : entries) {
            b.append(String.format(Locale.ROOT, "%-11s %s (%d ms)%n", e.status(), e.name(), e.time().toMillis()));
            if (!e.message().isEmpty()) {
                for (String line : e.message().split("\n")) {
                    b.append("            ").append(line).append('\n');
                }
            }
        }
        return b.append(summary()).append('\n').toString();
    }

    @Override
    public String toString() {
        return toText();
    }
}
