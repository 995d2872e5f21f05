package org.layerkit.spark.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.spark.TestSpark;

/**
 * The spark-submit jobs, run through their {@code run(args, session, out, err)} entry points on {@code local[2]} with
 * tiny IDX files written here (8×8 images, 48 training and 24 test examples): {@link TrainJob} trains 2 steps (each
 * Spark collective call costs ≈1 s, and a step of a net with one batch norm makes 3) and saves a model that loads and
 * evaluates to the accuracy the job printed; {@link ScoreJob} scores the test images with it to exactly
 * {@code SequentialNet.predict}'s predictions (one partition, one batch: the same rows through the same code on the
 * same backend). Bad command lines get one line and the usage, exit status 2, no stack trace, before Spark is touched.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class SparkJobsTest {
    static final int SIDE = 8;
    static SparkSession spark;
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void start() throws IOException {
        data = Files.createDirectories(tmp.resolve("tiny-fashion"));
        writeIdx(data, "train", 48, 5);
        writeIdx(data, "t10k", 24, 6);
        spark = TestSpark.barrier("SparkJobsTest", "120s");
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** {@code prefix}-images-idx3-ubyte.gz and -labels-idx1-ubyte.gz: n images of class-dependent bright rows. */
    static void writeIdx(Path dir, String prefix, int n, long seed) throws IOException {
        Random r = new Random(seed);
        byte[] labels = new byte[n];
        byte[] pixels = new byte[n * SIDE * SIDE];
        for (int i = 0; i < n; i++) {
            int k = i % FashionMnist.CLASSES;
            labels[i] = (byte) k;
            for (int p = 0; p < SIDE * SIDE; p++) {
                int v = r.nextInt(80) + ((p / SIDE) == k % SIDE && p % SIDE >= k / SIDE * 4 ? 160 : 0);
                pixels[i * SIDE * SIDE + p] = (byte) Math.min(255, v);
            }
        }
        try (DataOutputStream o = gz(dir.resolve(prefix + "-images-idx3-ubyte.gz"))) {
            o.writeInt(0x803);
            o.writeInt(n);
            o.writeInt(SIDE);
            o.writeInt(SIDE);
            o.write(pixels);
        }
        try (DataOutputStream o = gz(dir.resolve(prefix + "-labels-idx1-ubyte.gz"))) {
            o.writeInt(0x801);
            o.writeInt(n);
            o.write(labels);
        }
    }

    private static DataOutputStream gz(Path file) throws IOException {
        OutputStream f = Files.newOutputStream(file);
        return new DataOutputStream(new GZIPOutputStream(f));
    }

    /** A job's exit status and what it printed. */
    record Run(int status, String out, String err) {
    }

    static Run train(Supplier<SparkSession> session, String... args) {
        return capture((out, err) -> TrainJob.run(args, session, false, out, err));
    }

    static Run score(Supplier<SparkSession> session, String... args) {
        return capture((out, err) -> ScoreJob.run(args, session, false, out, err));
    }

    interface Job {
        int run(PrintStream out, PrintStream err);
    }

    static Run capture(Job job) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
             PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            status = job.run(out, err);
        }
        Run r = new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        System.out.print(r.out());
        System.out.print(r.err());
        return r;
    }

    /** A session supplier for command lines that must be refused before Spark is touched. */
    static SparkSession noSpark() {
        throw new AssertionError("the job asked for a Spark session before refusing its arguments");
    }

    static double printed(String text, String label) {
        Matcher m = Pattern.compile(label + " (\\d\\.\\d{4})").matcher(text);
        assertTrue(m.find(), "'" + label + " 0.dddd' expected in:\n" + text);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void trainJobSavesAModelThatScoreJobScoresAsSequentialNetPredicts() throws IOException {
        Path model = tmp.resolve("model.lkm");
        // 48 training images: 8 for validation, 32 to train on, batches of 16: 2 steps of one epoch
        Run t = train(() -> spark, "--data-dir", data.toString(), "--replicas", "2", "--hidden", "16",
                "--epochs", "1", "--batch-size", "16", "--train-size", "32", "--val-size", "8", "--lr", "0.01",
                "--log-every", "1", "--save", model.toString());
        assertEquals(0, t.status(), t.err());
        assertEquals("", t.err());
        assertTrue(t.out().contains("32 train / 8 val / 24 test"), t.out());
        assertTrue(t.out().contains("1 epochs of 2 steps of 16 examples"), t.out());
        assertTrue(t.out().contains("epoch 1/1: loss "), t.out());
        assertTrue(t.out().contains("spark:   2 steps in "), t.out());
        assertTrue(t.out().contains("saved model to " + model.toAbsolutePath().normalize()), t.out());
        double testAcc = printed(t.out(), "test acc");

        // the saved file loads, records the data it was trained on, and evaluates to the printed test accuracy
        Checkpoint c = Checkpoint.load(model);
        assertEquals("8", c.metadata().get("cli.val_size"));
        assertEquals(data.toAbsolutePath().normalize().toString(), c.metadata().get("cli.data_dir"));
        assertEquals("2", c.metadata().get("spark.replicas"));
        Dataset test = c.preprocess(FashionMnist.test(data));
        int[] expected;
        try (Backend cpu = Backends.get("cpu"); SequentialNet net = c.toNet(cpu)) {
            assertEquals(String.format(Locale.ROOT, "%.4f", net.accuracy(test, 1000)),
                    String.format(Locale.ROOT, "%.4f", testAcc));
            expected = net.predict(test, 1000);
        }
        int correct = 0;
        for (int i = 0; i < expected.length; i++) {
            correct += expected[i] == test.labels()[i] ? 1 : 0;
        }

        // one partition, one batch: exactly the predictions of SequentialNet.predict on the same rows
        Path predictions = tmp.resolve("predictions");
        Run s = score(() -> spark, "--model", model.toString(), "--data-dir", data.toString(), "--partitions", "1",
                "--output", predictions.toString());
        assertEquals(0, s.status(), s.err());
        assertEquals("", s.err());
        assertTrue(s.out().contains(String.format(Locale.ROOT, "test acc %.4f (%d of 24)", correct / 24.0, correct)),
                s.out());
        assertTrue(s.out().contains("wrote predictions (index,label,prediction) to "), s.out());
        List<String> lines = new ArrayList<>();
        try (Stream<Path> parts = Files.list(predictions)) {
            for (Path p : parts.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList()) {
                lines.addAll(Files.readAllLines(p));
            }
        }
        assertEquals("index,label,prediction", lines.get(0));
        int[] got = new int[test.size()];
        int rows = 0;
        for (String line : lines) {
            if (line.equals("index,label,prediction")) {
                continue;
            }
            String[] f = line.split(",");
            int i = Integer.parseInt(f[0]);
            assertEquals(test.labels()[i], Integer.parseInt(f[1]), "label of row " + i);
            got[i] = Integer.parseInt(f[2]);
            rows++;
        }
        assertEquals(test.size(), rows);
        assertArrayEquals(expected, got, "ScoreJob's predictions against SequentialNet.predict");

        // the same output path again: refused, the first predictions kept
        Run again = score(SparkJobsTest::noSpark, "--model", model.toString(), "--data-dir", data.toString(),
                "--output", predictions.toString());
        assertUsage(again, "ScoreJob: --output: expected a new path for the predictions, got '" + predictions
                + "', which exists (remove it or give another)");
    }

    @Test
    void moreReplicasThanLocalSlotsIsRefusedBeforeTheBarrierStage() {
        Run r = train(() -> spark, "--data-dir", data.toString(), "--replicas", "3", "--batch-size", "16");
        assertUsage(r, "TrainJob: --replicas: expected at most the 2 task slots of master local[2] (one barrier task "
                + "per replica, all at once), got 3; give --master local[3] or fewer replicas");
    }

    @Test
    void badCommandLinesGetOneLineAndTheUsageWithoutTouchingSpark() throws IOException {
        Supplier<SparkSession> none = SparkJobsTest::noSpark;
        assertUsage(train(none, "--data-dir", data.toString(), "--epoch", "3"),
                "TrainJob: unknown option '--epoch': expected one of --data-dir, --replicas, --backend, --net, "
                        + "--preset, --hidden, --optimizer, --lr, --lr-decay, --epochs, --batch-size, --seed, "
                        + "--train-size, --val-size, --log-every, --save, --help");
        assertUsage(train(none, "--data-dir", data.toString(), "--epochs", "three"),
                "TrainJob: --epochs: expected a whole number >= 1, got 'three'");
        assertUsage(train(none, "--data-dir", data.toString(), "--epochs", "0"),
                "TrainJob: --epochs: expected a whole number >= 1, got 0");
        assertUsage(train(none, "--data-dir", data.toString(), "--lr=abc"),
                "TrainJob: --lr: expected a number in (0, inf], got 'abc'");
        assertUsage(train(none, "--data-dir", data.toString(), "--save"),
                "TrainJob: --save: expected a value, got nothing (it is the last argument)");
        Path missing = tmp.resolve("no-such-dir");
        assertUsage(train(none, "--data-dir", missing.toString()),
                "TrainJob: --data-dir: expected a directory with Fashion-MNIST's IDX files, got '" + missing
                        + "', which does not exist");
        assertUsage(train(none, "--data-dir", data.toString(), "--val-size", "47"),
                "TrainJob: --val-size: expected 0..46 for the 48 training examples in " + data
                        + " (at least 2 must remain to train on), got 47");
        assertUsage(train(none, "--data-dir", data.toString(), "--batch-size", "64"),
                "TrainJob: --batch-size: expected at most the 44 training examples, got 64");
        assertUsage(score(none, "--data-dir", data.toString()),
                "ScoreJob: --model: expected a model file saved by layerkit train --save or TrainJob --save, got "
                        + "nothing (it is required)");
        assertUsage(score(none, "--model", missing.resolve("m.lkm").toString(), "--data-dir", data.toString()),
                "ScoreJob: --model: expected a model file saved by layerkit train --save or TrainJob --save, got '"
                        + missing.resolve("m.lkm") + "', which does not exist");
        assertUsage(score(none, "positional"),
                "ScoreJob: unexpected argument 'positional': expected options (--name value); options: --model, "
                        + "--data-dir, --backend, --batch-size, --partitions, --output, --format, --help");

        // a directory without the files: the run fails (status 1) with one line naming the file and how to get it
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Run r = train(none, "--data-dir", empty.toString());
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().startsWith("TrainJob: error: cannot read Fashion-MNIST from " + empty + ": "), r.err());
        assertTrue(r.err().contains("train-images-idx3-ubyte") && r.err().contains("apt-get install "
                + "dataset-fashion-mnist"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());

        // main's session without a master (java rather than spark-submit): refused with the way to give one
        Run noMaster = capture((out, err) -> TrainJob.run(new String[] {"--data-dir", data.toString(),
                "--batch-size", "16"}, Jobs.submitted("t", true, out), true, out, err));
        assertUsage(noMaster, "TrainJob: no Spark master: expected the job to be started by spark-submit --master URL "
                + "(--master local[2] on one machine), or java -Dspark.master=local[2], got neither");

        Run help = train(none, "--help");
        assertEquals(0, help.status());
        assertTrue(help.out().startsWith(TrainJob.USAGE + "\n"), help.out());
        assertTrue(help.out().contains("--replicas R"), help.out());
    }

    /** Status 2, the message as the first line of err, the usage as its second and last, and no stack trace. */
    static void assertUsage(Run r, String message) {
        assertEquals(2, r.status(), r.out() + r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(2, lines.size(), r.err());
        assertEquals(message, lines.get(0));
        assertTrue(lines.get(1).startsWith("usage: spark-submit [--master URL] --class org.layerkit.spark.jobs."),
                lines.get(1));
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r.err());
    }
}
