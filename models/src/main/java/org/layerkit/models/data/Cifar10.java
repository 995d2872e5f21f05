package org.layerkit.models.data;

import java.nio.file.Path;

/**
 * CIFAR-10, binary version: {@code data_batch_1.bin … data_batch_5.bin} and {@code test_batch.bin}, each a sequence
 * of 3073-byte records (1 label byte 0–9, then 1024 red, 1024 green, 1024 blue bytes of a 32×32 image). Features are
 * D = 3072 values in [0,1], in the file's channel-major order: examples of shape [3,32,32]. Files may be gzipped.
 */
public final class Cifar10 {
    public static final int CLASSES = 10;
    public static final int FEATURES = 3072;
    public static final int RECORD = 1 + FEATURES;
    /** The CS231N split: the last 1 000 of the 50 000 training images validate. */
    public static final int DEFAULT_VALIDATION = 1000;

    private Cifar10() {
    }

    /** Train (49 000), validation (1 000) and test (10 000) from {@code dir}, unstandardized. */
    public static DatasetSplits load(Path dir) throws DatasetException {
        return load(dir, DEFAULT_VALIDATION);
    }

    public static DatasetSplits load(Path dir, int validationSize) throws DatasetException {
        Path[] train = new Path[5];
        for (int i = 0; i < 5; i++) {
            train[i] = IdxFiles.locate(dir, "data_batch_" + (i + 1) + ".bin");
        }
        return DatasetSplits.of(read(dir.getFileName() + "/train", train),
                read(dir.getFileName() + "/test", IdxFiles.locate(dir, "test_batch.bin")), validationSize);
    }

    /** Reads and concatenates batch files. */
    public static Dataset read(String name, Path... files) throws DatasetException {
        byte[][] contents = new byte[files.length][];
        int n = 0;
        for (int f = 0; f < files.length; f++) {
            byte[] b = IdxFiles.decompressed(files[f]);
            if (b.length == 0 || b.length % RECORD != 0) {
                long whole = b.length / RECORD;
                throw new DatasetException(files[f], (b.length == 0 ? "empty" : "truncated") + ": expected a multiple of "
                        + RECORD + " bytes (1 label + 3072 pixels per image; " + (whole + 1) * RECORD + " for "
                        + (whole + 1) + " images), found " + b.length + " bytes");
            }
            contents[f] = b;
            n += b.length / RECORD;
        }
        float[] x = new float[n * FEATURES];
        int[] y = new int[n];
        int row = 0;
        for (int f = 0; f < files.length; f++) {
            byte[] b = contents[f];
            for (int r = 0; r < b.length / RECORD; r++, row++) {
                int at = r * RECORD;
                y[row] = b[at] & 0xff;
                if (y[row] >= CLASSES) {
                    throw new DatasetException(files[f], "record " + r + ": expected a label byte 0..9, found " + y[row]
                            + " (not a CIFAR-10 binary batch?)");
                }
                for (int j = 0; j < FEATURES; j++) {
                    x[row * FEATURES + j] = (b[at + 1 + j] & 0xff) / 255f;
                }
            }
        }
        return new Dataset(name, x, y, org.layerkit.api.Shape.of(3, 32, 32), CLASSES);
    }
}
