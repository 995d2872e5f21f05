package org.layerkit.models.data;

import java.nio.file.Path;

/**
 * Fashion-MNIST (Xiao et al. 2017) and MNIST from their IDX files ({@code train-images-idx3-ubyte[.gz]},
 * {@code train-labels-idx1-ubyte[.gz]}, {@code t10k-…}): 28×28 grey images as D = 784 features in [0,1], 10 classes.
 * Debian's {@code dataset-fashion-mnist} package installs them in {@link #DEFAULT_DIR}.
 */
public final class FashionMnist {
    /** Where {@code apt-get install dataset-fashion-mnist} puts the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** The validation examples split off the end of the 60 000 training images by {@link #load(Path)}. */
    public static final int DEFAULT_VALIDATION = 5000;
    public static final int CLASSES = 10;

    private FashionMnist() {
    }

    /** Train (55 000), validation (5 000) and test (10 000) from {@code dir}, unstandardized. */
    public static DatasetSplits load(Path dir) throws DatasetException {
        return load(dir, DEFAULT_VALIDATION);
    }

    /** Train, the last {@code validationSize} training examples as validation, and test, from {@code dir}. */
    public static DatasetSplits load(Path dir, int validationSize) throws DatasetException {
        return DatasetSplits.of(train(dir), test(dir), validationSize);
    }

    /** The 60 000 training examples. */
    public static Dataset train(Path dir) throws DatasetException {
        return IdxFiles.readDataset(dir.getFileName() + "/train", IdxFiles.locate(dir, "train-images-idx3-ubyte"),
                IdxFiles.locate(dir, "train-labels-idx1-ubyte"), CLASSES);
    }

    /** The 10 000 test examples. */
    public static Dataset test(Path dir) throws DatasetException {
        return IdxFiles.readDataset(dir.getFileName() + "/test", IdxFiles.locate(dir, "t10k-images-idx3-ubyte"),
                IdxFiles.locate(dir, "t10k-labels-idx1-ubyte"), CLASSES);
    }
}
