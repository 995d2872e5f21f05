package org.layerkit.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;

/**
 * Batch inference on {@code local[2]}: a small MLP trained here (40 steps) scores the Fashion-MNIST test images — or,
 * where the data set is not installed, 2,000 generated images — and Spark's predictions are compared with those of the
 * path {@code layerkit evaluate} takes.
 */
class SparkScorerTest {
    @TempDir
    static Path tmp;
    static SparkSession spark;
    static JavaSparkContext jsc;
    static Path model;
    /** Raw test images, pixels / 255 as layerkit's IDX reader gives them. */
    static org.layerkit.models.data.Dataset test;
    static DatasetSplits splits;

    @BeforeAll
    static void trainAModelAndStartSpark() throws IOException {
        DatasetSplits raw;
        if (Files.isDirectory(FashionMnist.DEFAULT_DIR)) {
            raw = FashionMnist.load(FashionMnist.DEFAULT_DIR).withTrainSize(4000);
        } else {   // the images' own statistics: class prototypes plus noise, quantized to k/255 like real pixels
            raw = new DatasetSplits(synthetic(4000, 1), synthetic(500, 2), synthetic(2000, 3));
        }
        splits = raw.standardized();
        test = raw.test();
        model = tmp.resolve("mlp.lkm");
        train(model, 1);
        spark = TestSpark.local2("SparkScorerTest").getOrCreate();
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** 1 epoch of 40 batches of 100 (4,000 images), hidden layer 32 with batchnorm, saved with its standardization. */
    static void train(Path file, long seed) throws IOException {
        try (Backend cpu = Backends.get("cpu");
             SequentialNet net = new SequentialNet(cpu, FullyConnectedNetConfig.builder(784, 10).hidden(32)
                     .normalization(Normalization.BATCH).heInit().seed(seed).build());
             Optimizer adam = OptimizerConfig.adam(1e-3).create(net.parameters())) {
            new Solver(net, adam, splits, SolverConfig.builder().epochs(1).batchSize(100).build()).train();
            Checkpoint.of(net, null, splits.standardizer(), Map.of()).save(file);
        }
    }

    /** What {@code layerkit evaluate} computes: the model on cpu, its standardization, batches of 1000. */
    static int[] evaluatePath(Path file) throws IOException {
        Checkpoint c = Checkpoint.load(file);
        try (Backend cpu = Backends.get("cpu"); SequentialNet net = c.toNet(cpu)) {
            return net.predict(c.preprocess(test), 1000);
        }
    }

    static org.layerkit.models.data.Dataset synthetic(int n, long seed) {
        Random prototypes = new Random(42);
        float[][] proto = new float[10][784];
        for (float[] p : proto) {
            for (int j = 0; j < 784; j++) {
                p[j] = prototypes.nextFloat();
            }
        }
        Random r = new Random(seed);
        float[] x = new float[n * 784];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(10);
            for (int j = 0; j < 784; j++) {
                double v = proto[y[i]][j] + 0.6 * r.nextGaussian();
                x[i * 784 + j] = Math.round(255 * Math.min(1, Math.max(0, v))) / 255f;
            }
        }
        return new org.layerkit.models.data.Dataset("synthetic", x, y, 784, 10);
    }

    /**
     * The first {@code n} test images as rows (index, image) in equal partitions, in order: the image as
     * array&lt;float&gt; pixels, or as the raw bytes (exact: pixel = byte / 255f).
     */
    static Dataset<Row> images(int n, boolean bytes, int partitions) {
        int d = test.featureCount();
        float[] x = test.features();
        List<Row> rows = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Object image;
            if (bytes) {
                byte[] b = new byte[d];
                for (int j = 0; j < d; j++) {
                    b[j] = (byte) Math.round(x[i * d + j] * 255);
                }
                image = b;
            } else {
                Float[] f = new Float[d];
                for (int j = 0; j < d; j++) {
                    f[j] = x[i * d + j];
                }
                image = f;
            }
            rows.add(RowFactory.create(i, image));
        }
        StructType schema = new StructType().add("index", DataTypes.IntegerType, false)
                .add("image", bytes ? DataTypes.BinaryType : DataTypes.createArrayType(DataTypes.FloatType, false),
                        false);
        return spark.createDataFrame(jsc.parallelize(rows, partitions), schema);
    }

    static int[] byIndex(List<Row> rows, String column) {
        int[] out = new int[rows.size()];
        for (Row r : rows) {
            out[r.getInt(r.fieldIndex("index"))] = r.getInt(r.fieldIndex(column));
        }
        return out;
    }

    @Test
    void predictionsOnTheTestImagesEqualThoseOfTheEvaluatePath() throws IOException {
        int[] expected = evaluatePath(model);
        // two partitions of n/2 rows, a multiple of the batch size 1000: the batches evaluate forms
        assertEquals(0, test.size() / 2 % SparkScorer.DEFAULT_BATCH_SIZE, "test layout");
        SparkScorer scorer = SparkScorer.load(spark, model);
        Dataset<Row> bytes = images(test.size(), true, 2);
        assertEquals(2, bytes.javaRDD().getNumPartitions());
        List<Row> scored = scorer.transform(bytes, "image").select("index", "prediction").collectAsList();
        assertEquals(test.size(), scored.size());
        assertArrayEquals(expected, byIndex(scored, "prediction"), "Spark's predictions against evaluate's");
        // the model is not a constant: it is mostly right
        long correct = 0;
        for (int i = 0; i < expected.length; i++) {
            correct += expected[i] == test.labels()[i] ? 1 : 0;
        }
        assertTrue(correct > 0.6 * expected.length, "accuracy " + (double) correct / expected.length);

        // float pixels (array<float>: boxed in Spark's rows, so only the first batch of 1,000), into a column of
        // another name
        List<Row> fromPixels = scorer.transform(images(1000, false, 1), "image", "predicted")
                .select("index", "predicted").collectAsList();
        assertArrayEquals(java.util.Arrays.copyOf(expected, 1000), byIndex(fromPixels, "predicted"),
                "predictions from array<float> pixels");
    }

    @Test
    void rddsOfPixelsAndOfBytesArePredictedInOrder() throws IOException {
        int[] expected = evaluatePath(model);
        int n = test.size(), d = test.featureCount();
        List<float[]> pixels = new ArrayList<>(n);
        List<byte[]> bytes = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            float[] p = test.featureSlice(i, 1);
            byte[] b = new byte[d];
            for (int j = 0; j < d; j++) {
                b[j] = (byte) Math.round(p[j] * 255);
            }
            pixels.add(p);
            bytes.add(b);
        }
        SparkScorer scorer = SparkScorer.load(jsc, model);
        List<Integer> fromPixels = scorer.predict(jsc.parallelize(pixels, 2)).collect();
        List<Integer> fromBytes = scorer.predictBytes(jsc.parallelize(bytes, 2)).collect();
        assertArrayEquals(expected, fromPixels.stream().mapToInt(Integer::intValue).toArray());
        assertArrayEquals(expected, fromBytes.stream().mapToInt(Integer::intValue).toArray());
    }

    @Test
    void eachModelIsParsedOncePerJvmAndAReSavedFileIsANewModel() throws IOException {
        Path file = tmp.resolve("resaved.lkm");
        train(file, 3);   // weights no other test has loaded
        List<float[]> some = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            some.add(test.featureSlice(i, 1));
        }
        JavaRDD<float[]> rdd = jsc.parallelize(some, 4).cache();
        long before = ExecutorModels.loads();
        SparkScorer first = SparkScorer.load(jsc, file);
        first.predict(rdd).collect();
        first.predict(rdd).collect();
        SparkScorer.load(jsc, file).predict(rdd).collect();   // same bytes: same cache entry
        assertEquals(1, ExecutorModels.loads() - before, "4 partitions x 3 jobs on one JVM, one parse");

        train(file, 2);   // other weights under the same name
        SparkScorer second = SparkScorer.load(jsc, file);
        assertNotEquals(first.sha256(), second.sha256());
        int[] got = second.predict(rdd).collect().stream().mapToInt(Integer::intValue).toArray();
        assertEquals(2, ExecutorModels.loads() - before);
        int[] all = evaluatePath(file);
        int[] expected = java.util.Arrays.copyOf(all, 1000);
        assertArrayEquals(expected, got, "the re-saved model's predictions");
    }

    @Test
    void badImagesFailWithTheRowAndWhatWasExpected() throws IOException {
        SparkScorer scorer = SparkScorer.load(jsc, model);
        float[] ok = test.featureSlice(0, 1);
        float[] scaled = ok.clone();
        for (int j = 0; j < scaled.length; j++) {
            scaled[j] *= 255;   // 0-255 floats: the model would predict nonsense silently
        }
        Exception e = assertThrows(Exception.class,
                () -> scorer.predict(jsc.parallelize(List.of(ok, ok, scaled), 1)).collect());
        assertTrue(chain(e).contains("partition 0, row 2: expected pixel values in [0,1]"), chain(e));
        e = assertThrows(Exception.class,
                () -> scorer.predict(jsc.parallelize(List.of(ok, new float[783]), 1)).collect());
        assertTrue(chain(e).contains("row 1: expected 784 pixels (the model's input), got 783"), chain(e));

        Dataset<Row> wrongType = spark.createDataFrame(List.of(RowFactory.create("x")),
                new StructType().add("pixels", DataTypes.StringType));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> scorer.transform(wrongType, "pixels"));
        assertTrue(bad.getMessage().contains("column 'pixels' expected array<float>, array<double> (pixels in [0,1]) "
                + "or binary (bytes 0-255), got string"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> scorer.transform(wrongType, "image"));
        assertTrue(bad.getMessage().contains("imageColumn expected one of [pixels], got 'image'"), bad.getMessage());

        Path junk = tmp.resolve("junk.lkm");
        Files.writeString(junk, "not a model");
        CheckpointException c = assertThrows(CheckpointException.class, () -> SparkScorer.load(jsc, junk));
        assertTrue(c.getMessage().contains("not a layerkit checkpoint"), c.getMessage());
    }

    /** The messages of an exception and its causes. */
    static String chain(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (; t != null; t = t.getCause()) {
            b.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage()).append('\n');
        }
        return b.toString();
    }
}
