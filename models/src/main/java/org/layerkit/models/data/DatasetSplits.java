package org.layerkit.models.data;

/**
 * Training, validation and test sets of one data set.
 *
 * @param train      what the solver trains on
 * @param validation what model selection uses (may be empty)
 * @param test       held out until the end
 * @param standardizer the per-feature standardization already applied to all three (fitted on {@code train}), or
 *                   null when the features are raw; checkpoints keep it so that a saved model can be applied to raw
 *                   data
 */
public record DatasetSplits(Dataset train, Dataset validation, Dataset test, Standardizer standardizer)
        implements java.io.Serializable {

    /** Raw splits (no standardization applied). */
    public DatasetSplits(Dataset train, Dataset validation, Dataset test) {
        this(train, validation, test, null);
    }

    /**
     * Splits the last {@code validationSize} examples of {@code trainAndValidation} off as the validation set (the
     * CS231N convention: 49 000 + 1 000 for CIFAR-10).
     */
    public static DatasetSplits of(Dataset trainAndValidation, Dataset test, int validationSize) {
        int n = trainAndValidation.size();
        if (validationSize < 0 || validationSize >= n) {
            throw new IllegalArgumentException("DatasetSplits.of: validationSize expected 0.." + (n - 1) + ", got "
                    + validationSize);
        }
        String base = trainAndValidation.name().replaceFirst("/train$", "");
        return new DatasetSplits(trainAndValidation.slice(0, n - validationSize).named(base + "/train"),
                trainAndValidation.slice(n - validationSize, n).named(base + "/val"), test);
    }

    /** Standardizes every split per feature with the mean and std of the training split alone (raw splits only). */
    public DatasetSplits standardized() {
        requireRaw();
        return standardizedWith(Standardizer.fit(train));
    }

    /**
     * Standardizes every split with one mean and std per image channel of the training split ({@link
     * Standardizer#fitPerChannel}; raw image splits only): the standardization for convolutional nets.
     */
    public DatasetSplits standardizedPerChannel() {
        requireRaw();
        return standardizedWith(Standardizer.fitPerChannel(train));
    }

    private void requireRaw() {
        if (standardizer != null) {
            throw new IllegalStateException("DatasetSplits.standardized: the splits are already standardized");
        }
    }

    private DatasetSplits standardizedWith(Standardizer s) {
        return new DatasetSplits(s.apply(train), s.apply(validation), s.apply(test), s);
    }

    /** The first {@code trainSize} training examples (for quick experiments); the other splits unchanged. */
    public DatasetSplits withTrainSize(int trainSize) {
        return new DatasetSplits(train.slice(0, Math.min(trainSize, train.size())), validation, test, standardizer);
    }
}
