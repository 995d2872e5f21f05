package org.layerkit.cli;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

/**
 * Writes a tiny, learnable Fashion-MNIST look-alike in the IDX format (gzip, the file names of the real data set):
 * 28×28 images whose class c lights up a distinct band of rows, plus noise.
 */
final class TinyIdx {
    static final int SIDE = 28;
    static final int CLASSES = 10;

    private TinyIdx() {
    }

    /** {@code train} and {@code test} examples into {@code dir}; returns dir. */
    static Path write(Path dir, int train, int test, long seed) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(seed);
        write(dir, "train", train, r);
        write(dir, "t10k", test, r);
        return dir;
    }

    private static void write(Path dir, String prefix, int n, Random r) throws IOException {
        byte[] labels = new byte[n];
        byte[] pixels = new byte[n * SIDE * SIDE];
        for (int i = 0; i < n; i++) {
            int c = i % CLASSES;
            labels[i] = (byte) c;
            for (int y = 0; y < SIDE; y++) {
                boolean band = y / 3 == c || y / 3 == c - 1 && c % 2 == 0;
                for (int x = 0; x < SIDE; x++) {
                    int v = (band ? 180 : 10) + r.nextInt(60);
                    pixels[i * SIDE * SIDE + y * SIDE + x] = (byte) Math.min(255, v);
                }
            }
        }
        try (DataOutputStream out = gz(dir.resolve(prefix + "-images-idx3-ubyte.gz"))) {
            out.writeInt(0x00000803);
            out.writeInt(n);
            out.writeInt(SIDE);
            out.writeInt(SIDE);
            out.write(pixels);
        }
        try (DataOutputStream out = gz(dir.resolve(prefix + "-labels-idx1-ubyte.gz"))) {
            out.writeInt(0x00000801);
            out.writeInt(n);
            out.write(labels);
        }
    }

    private static DataOutputStream gz(Path p) throws IOException {
        OutputStream o = Files.newOutputStream(p);
        return new DataOutputStream(new GZIPOutputStream(o));
    }
}
