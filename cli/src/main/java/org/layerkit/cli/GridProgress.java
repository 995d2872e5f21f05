package org.layerkit.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress over the runs of an experiment's grid: on a terminal a bar redrawn in place while a run trains
 * ({@code grid [=====>        ]  7/24 runs, batch_8 running, 3:12 elapsed, ETA 8:40}), replaced by the run's result
 * line when it ends; otherwise (a pipe, a log) a plain line per run with the same counts. The ETA assumes the remaining
 * runs take as long as the finished ones did on average.
 */
final class GridProgress {
    private static final int BAR_WIDTH = 24;

    private final PrintWriter out;
    private final boolean bar;
    private final boolean quiet;
    private final int runs;
    private final long start = System.nanoTime();
    private int done;
    private int lastWidth;

    GridProgress(PrintWriter out, Progress.Style style, int runs) {
        this.out = out;
        Progress.Style s = style == Progress.Style.AUTO ? (System.console() != null ? Progress.Style.BAR
                : Progress.Style.PLAIN) : style;
        this.bar = s == Progress.Style.BAR;
        this.quiet = s == Progress.Style.NONE;
        this.runs = runs;
    }

    /** Run {@code name} starts. */
    void starting(String name) {
        if (bar) {
            String line = line(name + " running");
            out.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
            lastWidth = line.length();
            out.flush();
        }
    }

    /** A run ended with {@code result}: its line, then the grid's state. */
    void finished(String result) {
        done++;
        if (bar && lastWidth > 0) {
            out.print("\r" + " ".repeat(lastWidth) + "\r");
            lastWidth = 0;
        }
        out.println(result);
        if (!bar && !quiet) {
            out.println(line(null));
        }
        out.flush();
    }

    private String line(String running) {
        int filled = (int) Math.round((double) BAR_WIDTH * done / runs);
        String b = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? (done < runs ? ">" : "=") : "")
                + " ".repeat(BAR_WIDTH - filled);
        double elapsed = (System.nanoTime() - start) / 1e9;
        String eta = done == 0 ? "?" : Progress.duration(elapsed / done * (runs - done));
        return String.format(Locale.ROOT, "grid [%s] %2d/%d runs%s, %s elapsed, ETA %s", b, done, runs,
                running == null ? "" : ", " + running, Progress.duration(elapsed), eta);
    }
}
