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
            description = "The last N training examples are held out for validation (default: 5000 for the IDX data "
                    + "sets, 1000 for CIFAR-10; a tenth of a small training set). 0: no validation split, so no "
                    + "selection of the best epoch: training keeps the last epoch's parameters.")
    Integer valSize;

    @Option(names = "--train-size", paramLabel = "N",
            description = "Train on only the first N training examples left after the validation split, N >= 2 "
                    + "(default: all of them).")
    Integer trainSize;

    /** Throws the usage error {@code usage} makes of a message when a size is out of range. */
    void validate(java.util.function.Function<String, ? extends RuntimeException> usage) {
        if (trainSize != null && trainSize < 2) {
            throw usage.apply("--train-size must be at least 2 (a training batch needs two examples), got "
                    + trainSize + "; leave the option out to train on all the training examples");
        }
        if (valSize != null && valSize < 0) {
            throw usage.apply("--val-size must be at least 0, got " + valSize);
        }
    }

    /**
     * Loads the data set, {@code fallback} standing in for an absent {@code --dataset} and {@code defaultTrainSize}
     * (0: all) for an absent {@code --train-size}; {@code needTrain} false when only the test split is used.
     */
    DataSets.Loaded load(String fallback, int defaultTrainSize, boolean needTrain) {
        String name = dataset != null ? dataset : fallback;
        DataSets.Sizes sizes = new DataSets.Sizes(valSize, valSize == null ? null : "--val-size " + valSize,
                trainSize != null ? trainSize : defaultTrainSize, trainSize != null, needTrain);
        return DataSets.load(name, dataDir, sizes);
    }

    DataSets.Loaded load(String fallback, int defaultTrainSize) {
        return load(fallback, defaultTrainSize, true);
    }
}
