package org.layerkit.models.examples;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.FashionMnist;

/**
 * Loads a checkpoint onto the selected backend ({@code -Dlayerkit.backend}) and prints its Fashion-MNIST test
 * accuracy: {@code EvaluateCheckpoint model.lkm [data-dir]}. The raw test images are standardized with the
 * statistics stored in the checkpoint.
 */
public final class EvaluateCheckpoint {
    private EvaluateCheckpoint() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            throw new IllegalArgumentException("usage: EvaluateCheckpoint <checkpoint> [fashion-mnist dir]");
        }
        Checkpoint c = Checkpoint.load(Path.of(args[0]));
        Dataset test = c.preprocess(FashionMnist.test(args.length > 1 ? Path.of(args[1]) : FashionMnist.DEFAULT_DIR));
        try (Backend backend = Backends.select(); SequentialNet net = c.toNet(backend)) {
            long t0 = System.nanoTime();
            double acc = net.accuracy(test, 1000);
            System.out.printf(Locale.ROOT, "%s: %s, %d epochs; test accuracy %.4f on %s (%s) in %.2f s%n", args[0],
                    c.spec(), c.epochsCompleted(), acc, backend.name(), backend.device().name(),
                    (System.nanoTime() - t0) / 1e9);
        }
    }
}
