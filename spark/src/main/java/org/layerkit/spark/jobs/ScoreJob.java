package org.layerkit.spark.jobs;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.layerkit.models.checkpoint.CheckpointException;
import org.layerkit.models.data.DatasetException;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.models.data.IdxFiles;
import org.layerkit.spark.SparkScorer;

/**
 * Scores Fashion-MNIST's 10,000 test images with a saved model ({@code layerkit train --save} or {@link TrainJob}'s
 * {@code --save}) as a Spark DataFrame through {@link SparkScorer}, prints the accuracy, and writes the predictions
 * ({@code index, label, prediction}) as a CSV or Parquet directory when {@code --output} is given:
 *
 * <pre>
 * spark-submit --master local[2] --class org.layerkit.spark.jobs.ScoreJob layerkit-spark-&lt;v&gt;-shaded.jar \
 *     --model model.lkm --output predictions
 * </pre>
 *
 * The model and the IDX files are read on the driver and broadcast; the images are rows of raw bytes (a binary
 * column, the scorer's fast form), {@code --partitions} contiguous ranges of rows in order. On the same backend, partitions of a multiple of
 * {@code --batch-size} rows give exactly {@code layerkit evaluate}'s predictions.
 */
public final class ScoreJob {
    static final String JOB = "ScoreJob";
    static final String USAGE = "usage: spark-submit [--master URL] --class org.layerkit.spark.jobs.ScoreJob "
            + "layerkit-spark-<version>-shaded.jar --model FILE [--data-dir DIR] [--backend NAME] [--batch-size N] "
            + "[--partitions N] [--output DIR] [--format csv|parquet] [--help]";
    static final String HELP = """
              --model FILE        a saved model (.lkm), read on the driver and broadcast (required)
              --data-dir DIR      Fashion-MNIST's IDX files; the t10k- ones are scored (default: %s)
              --backend NAME      each executor's backend: cpu or opencl (default: cpu)
              --batch-size N      images per forward pass (default: %d, as layerkit evaluate)
              --partitions N      partitions of the images (default: Spark's default parallelism)
              --output DIR        write index,label,prediction there (a new directory, on the cluster's file system)
              --format F          csv (with a header; the default) or parquet""";
    static final List<String> VALUED = List.of("--model", "--data-dir", "--backend", "--batch-size", "--partitions",
            "--output", "--format");

    private ScoreJob() {
    }

    /** spark-submit's entry point: the session from its configuration; exits non-zero on failure. */
    public static void main(String[] args) {
        Jobs.exitOnFailure(run(args, Jobs.submitted("layerkit ScoreJob", false, System.out), true, System.out,
                System.err));
    }

    /**
     * Runs the job on {@code spark} (left running), printing to {@code out} and errors to {@code err}: 0 on success,
     * 2 for a bad command line, 1 for a failed run.
     */
    public static int run(String[] args, SparkSession spark, PrintStream out, PrintStream err) {
        return run(args, () -> spark, false, out, err);
    }

    static int run(String[] args, Supplier<SparkSession> session, boolean stopSession, PrintStream out,
                   PrintStream err) {
        Supplier<String> help = () -> String.format(Locale.ROOT, HELP, FashionMnist.DEFAULT_DIR,
                SparkScorer.DEFAULT_BATCH_SIZE);
        return Jobs.run(JOB, USAGE, help, VALUED, args, out, err, a -> score(a, session, stopSession, out));
    }

    private static int score(JobArgs a, Supplier<SparkSession> session, boolean stopSession, PrintStream out)
            throws IOException {
        Path model = a.existingFile("--model", "a model file saved by layerkit train --save or TrainJob --save");
        Path dataDir = a.directory("--data-dir", FashionMnist.DEFAULT_DIR, "Fashion-MNIST's IDX files");
        String backend = a.string("--backend", "cpu");
        int batchSize = a.integer("--batch-size", SparkScorer.DEFAULT_BATCH_SIZE, 1);
        Integer partitions = a.integer("--partitions", null, 1);
        String format = a.choice("--format", "csv", List.of("csv", "parquet"));
        // a URI (hdfs://…, s3a://…) goes to Spark as it is; a local path is checked here
        String rawOutput = a.string("--output", null);
        boolean uri = rawOutput != null && rawOutput.matches("^[A-Za-z][A-Za-z0-9+.-]+:/.*");
        String output = rawOutput == null ? null : uri ? rawOutput
                : a.output("--output", "the predictions", false).toAbsolutePath().normalize().toString();
        if (a.has("--format") && output == null) {
            throw new JobArgs.UsageException("--format: expected only with --output, got '" + format + "' alone");
        }

        IdxFiles.Idx images;
        IdxFiles.Idx labels;
        try {
            images = IdxFiles.readImages(IdxFiles.locate(dataDir, "t10k-images-idx3-ubyte"));
            labels = IdxFiles.readLabels(IdxFiles.locate(dataDir, "t10k-labels-idx1-ubyte"));
        } catch (DatasetException e) {
            throw new Jobs.JobFailure("cannot read Fashion-MNIST's test images from " + dataDir + ": "
                    + e.getMessage(), e);
        }
        int n = images.count();
        if (labels.count() != n) {
            throw new Jobs.JobFailure("cannot read Fashion-MNIST's test images from " + dataDir + ": expected "
                    + n + " labels (one per image), found " + labels.count(), null);
        }
        int d = images.dims()[1] * images.dims()[2];

        SparkSession spark = session.get();
        try {
            SparkScorer scorer;
            try {
                scorer = SparkScorer.load(spark, model).withBackend(backend).withBatchSize(batchSize);
            } catch (CheckpointException e) {
                throw new JobArgs.UsageException("--model: expected a model file saved by layerkit train --save, got "
                        + e.getMessage());
            }
            if (scorer.inputShape().size() != d) {
                throw new JobArgs.UsageException("--model: expected a model of " + images.dims()[1] + "x"
                        + images.dims()[2] + " = " + d + " inputs (the images in " + dataDir + "), got one of "
                        + scorer.inputShape() + " = " + scorer.inputShape().size());
            }
            StructType schema = new StructType().add("index", DataTypes.IntegerType, false)
                    .add("label", DataTypes.IntegerType, false).add("image", DataTypes.BinaryType, false);
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int p = partitions != null ? partitions : jsc.defaultParallelism();
            // the images go out once, as broadcasts; partition q makes the rows [q·n/p, (q+1)·n/p) from them (rows
            // shipped inside the tasks would travel with every task of every stage)
            Broadcast<byte[]> pixels = jsc.broadcast(images.data());
            Broadcast<byte[]> classes = jsc.broadcast(labels.data());
            JavaRDD<Row> rows = jsc.parallelize(IntStream.range(0, p).boxed().toList(), p).flatMap(q -> {
                byte[] px = pixels.value();
                byte[] lab = classes.value();
                int from = (int) ((long) q * n / p);
                int to = (int) ((long) (q + 1) * n / p);
                List<Row> part = new ArrayList<>(to - from);
                for (int i = from; i < to; i++) {
                    part.add(RowFactory.create(i, lab[i] & 0xff, Arrays.copyOfRange(px, i * d, (i + 1) * d)));
                }
                return part.iterator();
            });
            Dataset<Row> df = spark.createDataFrame(rows, schema);
            out.printf(Locale.ROOT, "model:   %s (%s, SHA-256 %s…)%n", model.toAbsolutePath().normalize(),
                    scorer.inputShape() + " -> " + scorer.classes() + " classes", scorer.sha256().substring(0, 16));
            out.printf(Locale.ROOT, "data:    %d test images from %s, %d partitions, backend %s, batches of %d%n", n,
                    dataDir.toAbsolutePath().normalize(), p, backend, batchSize);
            out.flush();

            long start = System.nanoTime();
            Dataset<Row> scored = scorer.transform(df, "image").drop("image").cache();
            long total = scored.count();
            long correct = scored.filter(functions.col("label").equalTo(functions.col("prediction"))).count();
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "test acc %.4f (%d of %d) in %.1f s on master %s%n",
                    total == 0 ? Double.NaN : (double) correct / total, correct, total, seconds,
                    spark.sparkContext().master());
            if (output != null) {
                // the partitions hold contiguous ranges of rows in order, so the files (part-00000, …) do too
                if (format.equals("csv")) {
                    scored.write().option("header", "true").csv(output);
                } else {
                    scored.write().parquet(output);
                }
                out.println("wrote predictions (index,label,prediction) to " + output + " as " + format);
            }
            scored.unpersist();
            pixels.destroy();
            classes.destroy();
            return 0;
        } finally {
            if (stopSession) {
                spark.stop();
            }
        }
    }
}
