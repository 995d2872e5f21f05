package org.layerkit.models;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import org.layerkit.models.data.Dataset;

/** Small generated data sets and files for tests (never the real data sets). */
public final class SyntheticData {
    private SyntheticData() {
    }

    /** k Gaussian clusters in d dimensions with well-separated random centres: learnable in a few steps. */
    public static Dataset blobs(String name, int n, int d, int k, long seed) {
        Random centres = new Random(1000 + k * 31L + d);
        double[][] c = new double[k][d];
        for (int j = 0; j < k; j++) {
            for (int f = 0; f < d; f++) {
                c[j][f] = centres.nextGaussian() * 2;
            }
        }
        Random r = new Random(seed);
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(k);
            for (int f = 0; f < d; f++) {
                x[i * d + f] = (float) (c[y[i]][f] + r.nextGaussian());
            }
        }
        return new Dataset(name, x, y, d, k);
    }

    /** Bytes of an IDX3 image file (magic 0x00000803) of n images rows×cols. */
    public static byte[] idxImages(byte[] pixels, int n, int rows, int cols) {
        return idx(0x00000803, new int[] {n, rows, cols}, pixels);
    }

    /** Bytes of an IDX1 label file (magic 0x00000801). */
    public static byte[] idxLabels(byte[] labels) {
        return idx(0x00000801, new int[] {labels.length}, labels);
    }

    private static byte[] idx(int magic, int[] dims, byte[] data) {
        try {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(b);
            out.writeInt(magic);
            for (int d : dims) {
                out.writeInt(d);
            }
            out.write(data);
            out.flush();
            return b.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes bytes, gzipped when {@code gzip}. */
    public static Path write(Path file, byte[] bytes, boolean gzip) throws IOException {
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
            out.write(bytes);
        }
        return file;
    }

    /**
     * Writes a Fashion-MNIST-shaped directory ({@code train-*-ubyte.gz}, {@code t10k-*-ubyte}) of 28×28 images in
     * which class c is a bright horizontal band at rows 2c..2c+3 plus noise.
     */
    public static void writeFashionMnistLike(Path dir, int train, int test, long seed) throws IOException {
        Random r = new Random(seed);
        for (String prefix : new String[] {"train", "t10k"}) {
            int n = prefix.equals("train") ? train : test;
            byte[] px = new byte[n * 784];
            byte[] lab = new byte[n];
            for (int i = 0; i < n; i++) {
                int c = r.nextInt(10);
                lab[i] = (byte) c;
                for (int p = 0; p < 784; p++) {
                    int row = p / 28;
                    int v = r.nextInt(60) + (row >= 2 * c && row < 2 * c + 4 ? 180 : 0);
                    px[i * 784 + p] = (byte) Math.min(255, v);
                }
            }
            boolean gz = prefix.equals("train");
            write(dir.resolve(prefix + "-images-idx3-ubyte" + (gz ? ".gz" : "")), idxImages(px, n, 28, 28), gz);
            write(dir.resolve(prefix + "-labels-idx1-ubyte" + (gz ? ".gz" : "")), idxLabels(lab), gz);
        }
    }
}
