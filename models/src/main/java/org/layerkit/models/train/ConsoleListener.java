package org.layerkit.models.train;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Prints progress in the style of CS231N's solver: {@code (Iteration 1 / 4300) loss: 2.302585} every
 * {@code printEvery} iterations (with the throughput since the previous line) and
 * {@code (Epoch 1 / 10) train acc: …; val_acc: …} after each epoch.
 */
public final class ConsoleListener implements TrainingListener {
    private final PrintWriter out;
    private final int printEvery;
    private int batchSize;
    private int iterationsPerEpoch;
    private long lastIteration;
    private long lastNanos;

    /** {@code printEvery} counts iterations; 0 prints epochs only. */
    public ConsoleListener(PrintStream out, int printEvery) {
        this(new PrintWriter(out, true), printEvery);
    }

    /** For writers such as picocli's {@code spec.commandLine().getOut()}; every line is flushed. */
    public ConsoleListener(PrintWriter out, int printEvery) {
        if (printEvery < 0) {
            throw new IllegalArgumentException("ConsoleListener: printEvery expected >= 0, got " + printEvery);
        }
        this.out = out;
        this.printEvery = printEvery;
    }

    @Override
    public void onStart(SolverConfig config, int iterationsPerEpoch) {
        batchSize = config.batchSize();
        this.iterationsPerEpoch = iterationsPerEpoch;
        lastIteration = -1; // unknown until the first line (a resumed run does not start at 0)
        lastNanos = System.nanoTime();
    }

    @Override
    public void onBatch(BatchEvent e) {
        if (printEvery > 0 && (e.iteration() % printEvery == 0 || e.iteration() == 1)) {
            long now = System.nanoTime();
            double rate = lastIteration >= 0 && e.iteration() > lastIteration && now > lastNanos
                    ? (e.iteration() - lastIteration) * (double) batchSize / ((now - lastNanos) / 1e9)
                    : e.examplesPerSecond();
            out.printf(Locale.ROOT, "(Iteration %d / %d) loss: %.6f  (%.0f examples/s)%n", e.iteration(),
                    e.iterations(), e.loss(), rate);
            out.flush();
            lastIteration = e.iteration();
            lastNanos = now;
        }
    }

    @Override
    public void onEpoch(EpochEvent e) {
        // without a validation split there is no val_acc (NaN in the event): say so rather than print NaN
        String val = Double.isNaN(e.valAccuracy()) ? "none (no validation split)"
                : String.format(Locale.ROOT, "%.4f", e.valAccuracy());
        out.printf(Locale.ROOT, "(Epoch %d / %d) train acc: %.4f; val_acc: %s; loss: %.4f; lr: %.3g; %.1f s%s%n",
                e.epoch(), e.epochs(), e.trainAccuracy(), val, e.meanLoss(), e.learningRate(), e.seconds(),
                e.improved() ? " *" : "");
        out.flush();
        // measure the next throughput from here, so that the accuracy evaluation does not count
        lastNanos = System.nanoTime();
        lastIteration = (long) e.epoch() * iterationsPerEpoch;
    }
}
