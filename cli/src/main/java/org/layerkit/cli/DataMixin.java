package org.layerkit.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --dataset}, {@code --data-dir}, {@code --val-size} and {@code --train-size}, for the commands that read data. */
public final class DataMixin {
    @Option(names = "--dataset", paramLabel = "NAME|DIR",
            description = "fashion-mnist (default), mnist, cifar10, or a directory with IDX or CIFAR-10 binary files.")
    String dataset;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Where the named data set's files are (default: /usr/share/datasets/<name>).")
    Path dataDir;

    @Option(names = "--val-size", paramLabel = "N",
            description = "Training examples held out for validation (default: 5000 for the IDX data sets, 1000 "
                    + "for CIFAR-10; a tenth of a small training set).")
    Integer valSize;

    @Option(names = "--train-size", paramLabel = "N",
            description = "Train on only the first N training examples (default: all).")
    int trainSize;

    /** Throws the usage error {@code usage} makes of a message when a size is negative. */
    void validate(java.util.function.Function<String, ? extends RuntimeException> usage) {
        if (trainSize < 0) {
            throw usage.apply("--train-size must be at least 0, got " + trainSize);
        }
        if (valSize != null && valSize < 0) {
            throw usage.apply("--val-size must be at least 0, got " + valSize);
        }
    }

    /** Loads the data set, {@code fallback} standing in for an absent {@code --dataset}. */
    DataSets.Loaded load(String fallback, int defaultTrainSize) {
        String name = dataset != null ? dataset : fallback;
        return DataSets.load(name, dataDir, valSize, trainSize > 0 ? trainSize : defaultTrainSize);
    }
}
