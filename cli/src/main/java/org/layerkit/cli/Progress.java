package org.layerkit.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * The per-epoch progress of training. On a terminal a bar is redrawn in place with {@code \r} (at most ten times a
 * second); otherwise (a pipe, a log file, a test) a plain line is printed every {@code plainIntervalNanos}. Both show
 * the smoothed loss, examples per second and the ETA of the epoch. {@link #endEpoch} replaces the bar by the
 * epoch's summary line.
 */
final class Progress {
    /** How progress is shown. */
    enum Style {
        /** Bar on a terminal, plain lines elsewhere. */
        AUTO,
        /** A bar redrawn with carriage returns. */
        BAR,
        /** Periodic plain lines. */
        PLAIN,
        /** Only the per-epoch summary lines. */
        NONE
    }

    /** Parses {@code auto}, {@code bar}, {@code plain}, {@code none} in any case. */
    static final class StyleConverter implements picocli.CommandLine.ITypeConverter<Style> {
        @Override
        public Style convert(String value) {
            try {
                return Style.valueOf(value.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("expected auto, bar, plain or none, got '"
                        + value + "'");
            }
        }
    }

    private static final int BAR_WIDTH = 30;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter out;
    private final boolean bar;
    private final boolean quiet;
    private final long plainIntervalNanos;

    private int epoch;
    private int epochs;
    private int iterations;
    private int batchSize;
    private long epochStart;
    private long lastDraw;
    private int lastWidth;
    private double smoothLoss = Double.NaN;

    Progress(PrintWriter out, Style style, long plainIntervalNanos) {
        this.out = out;
        Style s = style == Style.AUTO ? (System.console() != null ? Style.BAR : Style.PLAIN) : style;
        this.bar = s == Style.BAR;
        this.quiet = s == Style.NONE;
        this.plainIntervalNanos = plainIntervalNanos;
    }

    void startEpoch(int epoch, int epochs, int iterations, int batchSize) {
        this.epoch = epoch;
        this.epochs = epochs;
        this.iterations = Math.max(1, iterations);
        this.batchSize = batchSize;
        this.epochStart = System.nanoTime();
        this.lastDraw = epochStart;
        this.smoothLoss = Double.NaN;
        this.lastWidth = 0;
    }

    /** Called after iteration {@code done} (1-based within the epoch) with that iteration's loss. */
    void update(int done, double loss) {
        if (Double.isFinite(loss)) {
            smoothLoss = Double.isNaN(smoothLoss) ? loss : 0.9 * smoothLoss + 0.1 * loss;
        }
        if (quiet) {
            return;
        }
        long now = System.nanoTime();
        if (bar) {
            if (now - lastDraw >= REDRAW_NANOS || done == iterations) {
                lastDraw = now;
                String line = barLine(done, now);
                int pad = Math.max(0, lastWidth - line.length());
                out.print("\r" + line + " ".repeat(pad));
                lastWidth = line.length();
                out.flush();
            }
        } else if (now - lastDraw >= plainIntervalNanos && done < iterations) {
            lastDraw = now;
            out.println(plainLine(done, now));
            out.flush();
        }
    }

    /** Clears the bar (if any) and prints the epoch's summary. */
    void endEpoch(String summary) {
        if (bar && lastWidth > 0) {
            out.print("\r" + " ".repeat(lastWidth) + "\r");
        }
        out.println(summary);
        out.flush();
        lastWidth = 0;
    }

    /** A message between bars (a warning, a checkpoint written). */
    void message(String line) {
        endEpoch(line);
    }

    double smoothedLoss() {
        return smoothLoss;
    }

    private String barLine(int done, long now) {
        int filled = (int) Math.round((double) BAR_WIDTH * done / iterations);
        String b = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 && done < iterations ? ">" : filled > 0 ? "=" : "")
                + " ".repeat(BAR_WIDTH - filled);
        return String.format(Locale.ROOT, "epoch %d/%d [%s] %3d%% loss %.4f %s ETA %s", epoch, epochs, b,
                100L * done / iterations, smoothLoss, rate(done, now), eta(done, now));
    }

    private String plainLine(int done, long now) {
        return String.format(Locale.ROOT, "epoch %d/%d %3d%% (iteration %d/%d) loss %.4f %s ETA %s", epoch, epochs,
                100L * done / iterations, done, iterations, smoothLoss, rate(done, now), eta(done, now));
    }

    private String rate(int done, long now) {
        double s = (now - epochStart) / 1e9;
        return s <= 0 ? "- ex/s" : String.format(Locale.ROOT, "%.0f ex/s", (double) done * batchSize / s);
    }

    private String eta(int done, long now) {
        if (done == 0) {
            return "?";
        }
        double perIt = (now - epochStart) / 1e9 / done;
        return duration(perIt * (iterations - done));
    }

    /** {@code 0:07}, {@code 12:34}, {@code 1:02:03}. */
    static String duration(double seconds) {
        long s = Math.round(Math.max(0, seconds));
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
