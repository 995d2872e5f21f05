package org.layerkit.models.data;

import java.util.Arrays;

import org.layerkit.api.Shape;

/**
 * Labelled examples held on the host: features row-major {@code [N,D]} as floats, labels 0..K−1, and the shape of
 * one example ({@code [D]}, or {@code [C,H,W]} for images, whose D = C·H·W values are stored row-major, so the same
 * array is {@code [N,C,H,W]}). Immutable by convention: the arrays are shared, not copied, by the accessors and must
 * not be modified. Serializable (Spark broadcasts training data to its executors).
 */
public final class Dataset implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final String name;
    private final float[] features;
    private final int[] labels;
    private final int featureCount;
    private final int classes;
    private final Shape exampleShape;

    /**
     * @param name         for messages and reports, e.g. {@code fashion-mnist/train}
     * @param features     N·D values, row-major
     * @param labels       N labels in 0..classes−1
     * @param featureCount D
     * @param classes      K
     */
    public Dataset(String name, float[] features, int[] labels, int featureCount, int classes) {
        this(name, features, labels, Shape.of(Math.max(1, featureCount)), featureCount, classes);
    }

    /**
     * Examples of shape {@code exampleShape} (e.g. {@code [1,28,28]}), D = its size values each.
     *
     * @param name         for messages and reports
     * @param features     N·D values, row-major
     * @param labels       N labels in 0..classes−1
     * @param exampleShape one example's shape
     * @param classes      K
     */
    public Dataset(String name, float[] features, int[] labels, Shape exampleShape, int classes) {
        this(name, features, labels, exampleShape, exampleShape.size(), classes);
    }

    private Dataset(String name, float[] features, int[] labels, Shape exampleShape, int featureCount, int classes) {
        if (featureCount < 1 || classes < 1) {
            throw new IllegalArgumentException("Dataset " + name + ": featureCount and classes expected >= 1, got "
                    + featureCount + " and " + classes);
        }
        if ((long) labels.length * featureCount != features.length) {
            throw new IllegalArgumentException("Dataset " + name + ": features expected " + labels.length + "·"
                    + featureCount + " values, got " + features.length);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("Dataset " + name + ": label " + i + " expected 0.." + (classes - 1)
                        + ", got " + labels[i]);
            }
        }
        this.name = name;
        this.features = features;
        this.labels = labels;
        this.featureCount = featureCount;
        this.classes = classes;
        this.exampleShape = exampleShape;
    }

    /** A deserialized dataset is checked as a new one is (lengths, labels in range). */
    private Object readResolve() {
        return new Dataset(name, features, labels, exampleShape, featureCount, classes);
    }

    /** One example's shape: {@code [D]}, or {@code [C,H,W]} for images. */
    public Shape exampleShape() {
        return exampleShape;
    }

    public String name() {
        return name;
    }

    /** N. */
    public int size() {
        return labels.length;
    }

    /** D. */
    public int featureCount() {
        return featureCount;
    }

    /** K. */
    public int classes() {
        return classes;
    }

    /** The shared row-major feature array; do not modify. */
    public float[] features() {
        return features;
    }

    /** The shared label array; do not modify. */
    public int[] labels() {
        return labels;
    }

    /** A copy of the features of examples {@code from..from+count−1}. */
    public float[] featureSlice(int from, int count) {
        return Arrays.copyOfRange(features, from * featureCount, (from + count) * featureCount);
    }

    /** Examples {@code from..to−1} as a new data set. */
    public Dataset slice(int from, int to) {
        if (from < 0 || to > size() || from > to) {
            throw new IllegalArgumentException("Dataset.slice: expected 0 <= from <= to <= " + size() + ", got "
                    + from + ".." + to);
        }
        return new Dataset(name, featureSlice(from, to - from), Arrays.copyOfRange(labels, from, to), exampleShape,
                classes);
    }

    /** The examples at {@code indices}, in that order. */
    public Dataset subset(int[] indices) {
        float[] x = new float[indices.length * featureCount];
        int[] y = new int[indices.length];
        gather(indices, 0, indices.length, x, y);
        return new Dataset(name, x, y, exampleShape, classes);
    }

    /**
     * Copies examples {@code indices[from..from+count−1]} into {@code x} (row-major) and their labels into
     * {@code y} (as floats, the backend's label format) — the batch-assembly step of a training loop.
     */
    public void gather(int[] indices, int from, int count, float[] x, float[] y) {
        for (int i = 0; i < count; i++) {
            int e = indices[from + i];
            System.arraycopy(features, e * featureCount, x, i * featureCount, featureCount);
            y[i] = labels[e];
        }
    }

    private void gather(int[] indices, int from, int count, float[] x, int[] y) {
        for (int i = 0; i < count; i++) {
            int e = indices[from + i];
            System.arraycopy(features, e * featureCount, x, i * featureCount, featureCount);
            y[i] = labels[e];
        }
    }

    /** The same examples with features {@code x} (same count; e.g. standardized). */
    public Dataset withFeatures(float[] x) {
        return new Dataset(name, x, labels, exampleShape, classes);
    }

    /** The same examples under another name. */
    public Dataset named(String newName) {
        return new Dataset(newName, features, labels, exampleShape, classes);
    }

    @Override
    public String toString() {
        int[] d = exampleShape.dims();
        StringBuilder dims = new StringBuilder().append(size());
        for (int v : d) {
            dims.append(',').append(v);
        }
        return name + " [" + dims + "], " + classes + " classes";
    }
}
