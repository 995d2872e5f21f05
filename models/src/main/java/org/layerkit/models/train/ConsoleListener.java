package org.layerkit.models.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Prints progress in the style of CS231N's solver: {@code (Iteration 1 / 4300) loss: 2.302585} every
 * {@code printEvery} iterations and {@code (Epoch 1 / 10) train acc: …; val_acc: …} after each epoch.
 */
public final class ConsoleListener implements TrainingListener {
    private final PrintStream out;
    private final int printEvery;

    /** {@code printEvery} counts iterations; 0 prints epochs only. */
    public ConsoleListener(PrintStream out, int printEvery) {
        this.out = out;
        this.printEvery = printEvery;
    }

    @Override
    public void onBatch(BatchEvent e) {
        if (printEvery > 0 && (e.iteration() % printEvery == 0 || e.iteration() == 1)) {
            out.printf(Locale.ROOT, "(Iteration %d / %d) loss: %.6f  (%.0f examples/s)%n", e.iteration(),
                    e.iterations(), e.loss(), e.examplesPerSecond());
        }
    }

    @Override
    public void onEpoch(EpochEvent e) {
        out.printf(Locale.ROOT, "(Epoch %d / %d) train acc: %.4f; val_acc: %.4f; loss: %.4f; lr: %.3g; %.1f s%s%n",
                e.epoch(), e.epochs(), e.trainAccuracy(), e.valAccuracy(), e.meanLoss(), e.learningRate(), e.seconds(),
                e.improved() ? " *" : "");
    }
}
