package org.layerkit.spark;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.layerkit.api.Shape;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;

/**
 * Batch inference of a saved model ({@code layerkit train --save}, a {@code .lkm} file) over a Spark Dataset or RDD of
 * images: each partition is scored in batches through {@code mapPartitions} with the code {@code layerkit evaluate}
 * runs ({@link Checkpoint#preprocess}, then {@code SequentialNet.predict(Dataset, batchSize)}), so on the same backend
 * a partition whose size is a multiple of the batch size gets exactly evaluate's predictions.
 *
 * <p>The file is read and verified once on the driver and shipped to the executors as a broadcast; each executor JVM
 * parses it once, keyed by its SHA-256 (so a model re-saved under the same name is a new model), and keeps a net per
 * concurrently running task ({@code ExecutorModels}). The backend is chosen per executor JVM by name: {@code cpu}
 * (the default) or {@code opencl} on executors with an OpenCL device.
 *
 * <p>Images are either float pixels in [0,1] (an array of {@code float} or {@code double}: what layerkit's data sets
 * hold, pixel / 255) or raw bytes 0–255 (a binary column, converted as the IDX reader does). Anything else — another
 * length than the model's input, a null, a value outside [0,1] (such as 0–255 floats, which would give wrong
 * predictions silently) — fails the task with a message naming the partition, row and value. Immutable; the
 * {@code with…} methods return copies.
 */
public final class SparkScorer implements Serializable {
    private static final long serialVersionUID = 1L;
    /** The batch size of {@code layerkit evaluate}. */
    public static final int DEFAULT_BATCH_SIZE = 1000;

    private final Broadcast<byte[]> model;
    private final String sha256;
    private final String name;
    private final String backend;
    private final int batchSize;
    private final int[] inputDims;
    private final int classes;

    private SparkScorer(Broadcast<byte[]> model, String sha256, String name, String backend, int batchSize,
                        int[] inputDims, int classes) {
        this.model = model;
        this.sha256 = sha256;
        this.name = name;
        this.backend = backend;
        this.batchSize = batchSize;
        this.inputDims = inputDims;
        this.classes = classes;
    }

    /** Reads and verifies {@code file} on the driver and broadcasts it; a bad file is a CheckpointException. */
    public static SparkScorer load(SparkSession spark, Path file) throws IOException {
        return load(JavaSparkContext.fromSparkContext(spark.sparkContext()), file);
    }

    /** Reads and verifies {@code file} on the driver and broadcasts it; a bad file is a CheckpointException. */
    public static SparkScorer load(JavaSparkContext sc, Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "not found", e);
        }
        Checkpoint checkpoint = Checkpoint.read(bytes, file);
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        return new SparkScorer(sc.broadcast(bytes), hash, file.toString(), "cpu", DEFAULT_BATCH_SIZE,
                checkpoint.spec().inputShape().dims(), checkpoint.spec().numClasses());
    }

    /** The same model on backend {@code name} of each executor ({@code cpu}, {@code opencl}). */
    public SparkScorer withBackend(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("SparkScorer.withBackend: name expected a backend name such as cpu or "
                    + "opencl, got '" + name + "'");
        }
        return new SparkScorer(model, sha256, this.name, name, batchSize, inputDims, classes);
    }

    /** The same model scoring {@code n} images per forward pass (default {@value #DEFAULT_BATCH_SIZE}). */
    public SparkScorer withBatchSize(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("SparkScorer.withBatchSize: n expected >= 1, got " + n);
        }
        return new SparkScorer(model, sha256, name, backend, n, inputDims, classes);
    }

    /** The model's input shape of one example, e.g. {@code [784]} or {@code [1, 28, 28]}. */
    public Shape inputShape() {
        return Shape.of(inputDims);
    }

    /** The number of classes the model predicts. */
    public int classes() {
        return classes;
    }

    /** The SHA-256 of the model file, in hex: the executors' cache key. */
    public String sha256() {
        return sha256;
    }

    /** {@code data} with column {@code prediction} (int, 0 … classes−1) computed from column {@code imageColumn}. */
    public Dataset<Row> transform(Dataset<Row> data, String imageColumn) {
        return transform(data, imageColumn, "prediction");
    }

    /**
     * {@code data} with column {@code predictionColumn} (int, 0 … classes−1) computed from column {@code imageColumn}:
     * an array of float or double (pixels in [0,1]) or binary (bytes 0–255).
     */
    public Dataset<Row> transform(Dataset<Row> data, String imageColumn, String predictionColumn) {
        StructType schema = data.schema();
        int column = indexOf(schema, imageColumn);
        DataType type = schema.fields()[column].dataType();
        Pixels<Row> pixels = rowPixels(column, type, imageColumn, schema);
        if (List.of(schema.fieldNames()).contains(predictionColumn)) {
            throw new IllegalArgumentException("SparkScorer.transform: predictionColumn expected a new column name, got "
                    + "'" + predictionColumn + "', which the data already has (" + schema.simpleString() + ")");
        }
        StructType out = schema.add(predictionColumn, DataTypes.IntegerType, false);
        JavaRDD<Row> scored = data.javaRDD().mapPartitions(rows -> score(rows, pixels, (row, p) -> {
            Object[] values = new Object[row.size() + 1];
            for (int i = 0; i < row.size(); i++) {
                values[i] = row.get(i);
            }
            values[row.size()] = p;
            return RowFactory.create(values);
        }));
        return data.sparkSession().createDataFrame(scored, out);
    }

    /** The predicted class of each image (pixels in [0,1]), in the RDD's order. */
    public JavaRDD<Integer> predict(JavaRDD<float[]> images) {
        return images.mapPartitions(rows -> score(rows, SparkScorer::floats, (x, p) -> p));
    }

    /** The predicted class of each image of raw bytes 0–255, in the RDD's order. */
    public JavaRDD<Integer> predictBytes(JavaRDD<byte[]> images) {
        return images.mapPartitions(rows -> score(rows, SparkScorer::bytes, (x, p) -> p));
    }

    // ------------------------------------------------------------------ executor side

    /** One row's image as float pixels written into {@code dst} at {@code at}; returns a message or null. */
    @FunctionalInterface
    interface Pixels<I> extends Serializable {
        String copy(I row, float[] dst, int at, int expected);
    }

    /** What turns an input and its prediction into an output row. */
    @FunctionalInterface
    interface Output<I, O> extends Serializable {
        O of(I input, int prediction);
    }

    /** Scores a partition lazily, {@link #batchSize} rows at a time, on a net borrowed for the partition. */
    private <I, O> Iterator<O> score(Iterator<I> rows, Pixels<I> pixels, Output<I, O> output) {
        int d = inputSize();
        ExecutorModels.Lease[] lease = {null};
        TaskContext task = TaskContext.get();
        int partition = task != null ? task.partitionId() : -1;
        Runnable release = () -> {
            if (lease[0] != null) {
                lease[0].close();
                lease[0] = null;
            }
        };
        if (task != null) {
            task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) t -> release.run());   // also when the consumer stops early or fails
        }
        return new Iterator<>() {
            private final List<I> batch = new ArrayList<>();
            private int[] predictions = new int[0];
            private int next;
            private long rowsSeen;

            @Override
            public boolean hasNext() {
                if (next < batch.size()) {
                    return true;
                }
                if (!rows.hasNext()) {
                    release.run();
                    return false;
                }
                fill();
                return true;
            }

            @Override
            public O next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                O o = output.of(batch.get(next), predictions[next]);
                next++;
                return o;
            }

            private void fill() {
                batch.clear();
                next = 0;
                while (batch.size() < batchSize && rows.hasNext()) {
                    batch.add(rows.next());
                }
                int n = batch.size();
                float[] x = new float[n * d];
                for (int i = 0; i < n; i++) {
                    String bad = pixels.copy(batch.get(i), x, i * d, d);
                    if (bad != null) {
                        throw new IllegalArgumentException(String.format(Locale.ROOT,
                                "layerkit-spark: scoring with %s: partition %d, row %d: %s", name, partition,
                                rowsSeen + i, bad));
                    }
                }
                rowsSeen += n;
                if (lease[0] == null) {
                    lease[0] = ExecutorModels.borrow(sha256, name, backend, model::value);
                }
                Checkpoint c = lease[0].checkpoint();
                org.layerkit.models.data.Dataset images = new org.layerkit.models.data.Dataset(
                        "spark partition " + partition, x, new int[n], Shape.of(inputDims), classes);
                predictions = lease[0].net.predict(c.preprocess(images), batchSize);
            }
        };
    }

    private int inputSize() {
        int d = 1;
        for (int v : inputDims) {
            d *= v;
        }
        return d;
    }

    static String floats(float[] image, float[] dst, int at, int expected) {
        if (image == null) {
            return "expected an image, got null";
        }
        if (image.length != expected) {
            return "expected " + expected + " pixels (the model's input), got " + image.length;
        }
        for (int j = 0; j < expected; j++) {
            String bad = pixel(image[j], j);
            if (bad != null) {
                return bad;
            }
            dst[at + j] = image[j];
        }
        return null;
    }

    static String bytes(byte[] image, float[] dst, int at, int expected) {
        if (image == null) {
            return "expected an image, got null";
        }
        if (image.length != expected) {
            return "expected " + expected + " bytes (the model's input), got " + image.length;
        }
        for (int j = 0; j < expected; j++) {
            dst[at + j] = (image[j] & 0xff) / 255f;   // as layerkit's IDX reader
        }
        return null;
    }

    private static String pixel(double v, int j) {
        if (!(v >= 0 && v <= 1)) {
            return "expected pixel values in [0,1] (pixel / 255, as the model was trained on; give raw 0-255 values "
                    + "as bytes), got " + v + " at index " + j;
        }
        return null;
    }

    private static int indexOf(StructType schema, String column) {
        for (int i = 0; i < schema.fields().length; i++) {
            if (schema.fields()[i].name().equals(column)) {
                return i;
            }
        }
        throw new IllegalArgumentException("SparkScorer.transform: imageColumn expected one of "
                + List.of(schema.fieldNames()) + ", got '" + column + "'");
    }

    private static Pixels<Row> rowPixels(int column, DataType type, String name, StructType schema) {
        if (type.equals(DataTypes.BinaryType)) {
            return (row, dst, at, expected) -> row.isNullAt(column) ? "column " + name + " is null"
                    : bytes((byte[]) row.get(column), dst, at, expected);
        }
        if (type instanceof ArrayType a && (a.elementType().equals(DataTypes.FloatType)
                || a.elementType().equals(DataTypes.DoubleType))) {
            return (row, dst, at, expected) -> {
                if (row.isNullAt(column)) {
                    return "column " + name + " is null";
                }
                List<Object> values = row.getList(column);
                if (values.size() != expected) {
                    return "expected " + expected + " pixels (the model's input), got " + values.size();
                }
                for (int j = 0; j < expected; j++) {
                    Object v = values.get(j);
                    if (v == null) {
                        return "expected a pixel value, got null at index " + j;
                    }
                    double p = ((Number) v).doubleValue();
                    String bad = pixel(p, j);
                    if (bad != null) {
                        return bad;
                    }
                    dst[at + j] = ((Number) v).floatValue();
                }
                return null;
            };
        }
        StructField f = schema.fields()[column];
        throw new IllegalArgumentException("SparkScorer.transform: column '" + name + "' expected array<float>, "
                + "array<double> (pixels in [0,1]) or binary (bytes 0-255), got " + f.dataType().simpleString());
    }
}
