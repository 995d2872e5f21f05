package org.layerkit.cli;

import java.util.Locale;
import org.layerkit.models.train.BatchEvent;
import org.layerkit.models.train.EpochEvent;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingListener;

/** Feeds a {@link org.layerkit.models.train.Solver}'s events to a {@link Progress} display: a bar or plain lines per epoch and one summary line per epoch. */
final class ProgressListener implements TrainingListener {
    private final Progress progress;
    private final String prefix;
    private int perEpoch;
    private int batchSize;
    private int epochs;
    private int shownEpoch = -1;

    /** {@code prefix} starts every summary line (e.g. the name of an experiment's run). */
    ProgressListener(Progress progress, String prefix) {
        this.progress = progress;
        this.prefix = prefix;
    }

    @Override
    public void onStart(SolverConfig config, int iterationsPerEpoch) {
        perEpoch = iterationsPerEpoch;
        batchSize = config.batchSize();
        epochs = config.epochs();
        shownEpoch = -1;
    }

    @Override
    public void onBatch(BatchEvent e) {
        if (e.epoch() != shownEpoch) {
            // the epoch's clock starts at its first loss read; evaluation of the previous epoch is not counted
            shownEpoch = e.epoch();
            progress.startEpoch(e.epoch(), e.epochs(), perEpoch, batchSize);
        }
        int done = (int) (e.iteration() - (long) (e.epoch() - 1) * perEpoch);
        progress.update(done, e.loss());
    }

    @Override
    public void onEpoch(EpochEvent e) {
        double exPerS = e.seconds() > 0 ? (double) perEpoch * batchSize / e.seconds() : Double.NaN;
        // no validation split (--val-size 0): no validation column rather than "NaN"
        String val = Double.isNaN(e.valAccuracy()) ? "" : String.format(Locale.ROOT, "  val acc %.4f", e.valAccuracy());
        progress.endEpoch(String.format(Locale.ROOT,
                "%sepoch %d/%d  loss %.4f  train acc %.4f%s  lr %.3g  %.1f s (%.0f ex/s)%s", prefix,
                e.epoch(), epochs, e.meanLoss(), e.trainAccuracy(), val, e.learningRate(), e.seconds(),
                exPerS, e.improved() ? "  *" : ""));
    }
}
