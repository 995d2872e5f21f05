package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.models.checkpoint.Checkpoint;

/**
 * The command line's answers to bad flags, bad data, bad model files, unwritable outputs and runaway training:
 * one line that blames what the user gave, the right exit code, and no file written or damaged.
 */
class CliFaultsTest {
    @TempDir
    static Path tmp;
    static Path data;
    static Path model;

    @BeforeAll
    static void setUp() throws Exception {
        data = TinyIdx.write(tmp.resolve("tiny"), 300, 100, 7);
        model = tmp.resolve("model.lkm");
        Cli.Run r = Cli.run(train("--val-size", "50", "--save", model.toString()));
        assertEquals(0, r.exit(), r::toString);
    }

    /** {@code train} on the tiny data set, cpu, 2 epochs of 25, plus {@code more}. */
    static String[] train(String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--backend", "cpu", "--dataset", "fashion-mnist",
                "--data-dir", data.toString(), "--hidden", "32,16", "--epochs", "2", "--batch-size", "25",
                "--progress", "none"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    /** Runs the command and also captures what anything printed to System.err (image writers print traces there). */
    static Cli.Run runCapturingStderr(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        Cli.Run r;
        try {
            r = Cli.run(args);
        } finally {
            System.setErr(old);
        }
        return new Cli.Run(r.exit(), r.out(), r.err() + captured.toString(StandardCharsets.UTF_8));
    }

    static void assertOneLineNoTrace(Cli.Run r) {
        assertFalse(r.err().contains("\tat "), r::toString);
        assertEquals(1, r.err().strip().lines().count(), r::toString);
    }

    // ------------------------------------------------------------------------------------- divergence (item 2)

    @Test
    void aFiniteBlowUpStopsTrainingWithExitOneAndLeavesTheSavedModelUntouched() throws Exception {
        Path saved = tmp.resolve("diverge/model.lkm");
        Files.createDirectories(saved.getParent());
        Files.copy(model, saved);
        byte[] before = Files.readAllBytes(saved);
        Cli.Run r = Cli.run(train("--lr", "1e6", "--save", saved.toString()));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().startsWith("layerkit train: error: training diverged at epoch 1, iteration "), r::toString);
        assertTrue(r.err().contains("above the divergence threshold")
                && r.err().contains("--divergence-factor F or --no-divergence-check"), r::toString);
        assertTrue(r.err().contains("nothing was saved (" + saved + " is left as it was)"), r::toString);
        assertOneLineNoTrace(r);
        assertFalse(r.out().contains("final:"), r::toString);
        assertArrayEquals(before, Files.readAllBytes(saved));
        try (var s = Files.list(saved.getParent())) {
            assertEquals(List.of(saved), s.toList());
        }
    }

    @Test
    void theDivergenceRuleCanBeWidenedOrSwitchedOff() {
        // the run stopped above lifts the loss ~1e12-fold but stays finite: Adam moves each weight by at most about
        // lr per step, so 20 steps keep every activation and square far below float32's 3.4e38
        Cli.Run wide = Cli.run(train("--lr", "1e6", "--divergence-factor", "1e30"));
        Cli.Run off = Cli.run(train("--lr", "1e6", "--no-divergence-check"));
        for (Cli.Run r : List.of(wide, off)) {
            assertEquals(0, r.exit(), r::toString);
            assertTrue(r.out().contains("final:"), r::toString);
        }
        assertEquals(2, Cli.run(train("--divergence-factor", "1")).exit());
        assertEquals(2, Cli.run(train("--divergence-factor", "5", "--no-divergence-check")).exit());
        String help = Cli.run("train", "--help").out();
        assertTrue(help.contains("--divergence-factor=F") && help.contains("--no-divergence-check"), help);
    }

    // ------------------------------------------------------------------------------------- blame what the user gave (4)

    @Test
    void evaluatingTheTestSplitIgnoresARecordedValidationSizeThatDoesNotFitAndVal() throws Exception {
        // the model recorded --val-size 50 and this directory; the data there shrinks to 30 training images
        Path dir = tmp.resolve("shrinking");
        TinyIdx.write(dir, 300, 100, 7);
        Path m = tmp.resolve("shrinking.lkm");
        assertEquals(0, Cli.run("train", "--backend", "cpu", "--dataset", dir.toString(), "--val-size", "50",
                "--hidden", "16", "--epochs", "1", "--batch-size", "25", "--progress", "none", "--save",
                m.toString()).exit());
        TinyIdx.write(dir, 30, 100, 8);
        Cli.Run test = Cli.run("evaluate", "--model", m.toString(), "--backend", "cpu");
        assertEquals(0, test.exit(), test::toString);
        assertTrue(test.out().contains("test accuracy:"), test::toString);

        Cli.Run val = Cli.run("evaluate", "--model", m.toString(), "--backend", "cpu", "--split", "val");
        assertEquals(1, val.exit(), val::toString);
        assertTrue(val.err().contains("the validation size 50 recorded in " + m + " (metadata cli.val_size"),
                val::toString);
        assertTrue(val.err().contains("expected 0..29 for the 30 training examples"), val::toString);
        assertFalse(val.err().contains("--val-size 50"), "the user gave no --val-size\n" + val);

        // another data set given by the user: the model's validation size does not apply to it at all
        Path other = TinyIdx.write(tmp.resolve("other"), 40, 100, 9);
        Cli.Run elsewhere = Cli.run("evaluate", "--model", m.toString(), "--backend", "cpu", "--dataset",
                other.toString(), "--split", "val");
        assertEquals(0, elsewhere.exit(), elsewhere::toString);
    }

    @Test
    void anEmptyTrainingSetIsCalledEmptyAndItsTestSplitCanStillBeEvaluated() throws Exception {
        Path empty = TinyIdx.write(tmp.resolve("empty"), 0, 100, 3);
        Cli.Run t = Cli.run("train", "--backend", "cpu", "--dataset", empty.toString());
        assertEquals(1, t.exit(), t::toString);
        assertEquals("layerkit train: error: the data set in " + empty.toAbsolutePath().normalize()
                + " is empty: its training files hold no examples; training needs at least 2", t.err().strip());
        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu", "--dataset", empty.toString());
        assertEquals(0, e.exit(), e::toString);
        assertTrue(e.out().contains("(0 train / 0 val / 100 test"), e::toString);
    }

    @Test
    void aMalformedRecordedValidationSizeNamesTheFileSectionAndField() throws Exception {
        Checkpoint c = Checkpoint.load(model);
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        meta.put("cli.val_size", "abc");
        Path bad = tmp.resolve("bad-meta.lkm");
        new Checkpoint(c.spec(), c.tensors(), c.counters(), c.optimizer(), c.standardizer(), meta).save(bad);
        Cli.Run r = Cli.run("evaluate", "--model", bad.toString(), "--backend", "cpu");
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("--model " + bad + ": section META, field 'cli.val_size': expected an integer "
                + ">= 0, got 'abc'"), r::toString);
        assertOneLineNoTrace(r);
    }

    @Test
    void aMalformedModelFileNamesItOnce() throws Exception {
        Path foreign = Files.writeString(tmp.resolve("foreign.lkm"), "hello");
        Cli.Run r = Cli.run("evaluate", "--model", foreign.toString());
        assertEquals(1, r.exit(), r::toString);
        assertEquals("layerkit evaluate: error: --model " + foreign + ": not a layerkit checkpoint: expected magic "
                + "894c4b434b50540a, found 68656c6c6f", r.err().strip());
    }

    /** A directory where nobody, root included, can create files (sysfs refuses new entries). */
    static Path unwritableDir() {
        Path sys = Path.of("/sys");
        Assumptions.assumeTrue(Files.isDirectory(sys), "needs Linux's /sys");
        try {
            Files.delete(Files.createFile(sys.resolve("layerkit-probe")));
            Assumptions.abort("/sys accepts new files here");
        } catch (java.io.IOException expected) {
            // as on every Linux
        }
        return sys;
    }

    @Test
    void everyOutputFileIsCheckedBeforeTrainingWithTheOperatingSystemsReason() {
        Path sys = unwritableDir();
        String[][] cases = {
                {"--plot", sys.resolve("curves.png").toString(), "--plot: cannot write the plot to "},
                {"--metrics-csv", sys.resolve("m.csv").toString(), "--metrics-csv: cannot write the metrics to "},
                {"--save", sys.resolve("m.lkm").toString(), "--save: cannot write the model to "}};
        for (String[] c : cases) {
            Cli.Run r = runCapturingStderr(train(c[0], c[1]));
            assertEquals(1, r.exit(), r::toString);
            assertEquals("layerkit train: error: " + c[2] + c[1] + ": Permission denied", r.err().strip());
            assertFalse(r.out().contains("epoch"), "must fail before training\n" + r);
        }
    }

    @Test
    void aPlotThatFailsWhileWritingIsOneLineWithItsCause() {
        // /proc/version opens for writing as root and fails on write: the failure after training; as another user
        // the check before training already refuses it. Either way: one line with the reason, exit 1.
        Path version = Path.of("/proc/version");
        Assumptions.assumeTrue(Files.isRegularFile(version), "needs Linux's /proc");
        Cli.Run r = runCapturingStderr(train("--plot", version.toString()));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().startsWith("layerkit train: error: --plot: cannot write the plot to /proc/version: "),
                r::toString);
        assertOneLineNoTrace(r);
    }

    // ------------------------------------------------------------------------------------- flags mean what they say (5)

    @Test
    void trainSizeZeroIsAUsageErrorAndTooLargeIsRefused() {
        Cli.Run zero = Cli.run(train("--train-size", "0"));
        assertEquals(2, zero.exit(), zero::toString);
        assertTrue(zero.err().contains("--train-size must be at least 2"), zero::toString);
        Cli.Run big = Cli.run(train("--val-size", "50", "--train-size", "251"));
        assertEquals(1, big.exit(), big::toString);
        assertTrue(big.err().contains("--train-size 251: only 250 training examples of Fashion-MNIST remain after "
                + "the 50 held out for validation"), big::toString);
        Cli.Run exact = Cli.run(train("--val-size", "50", "--train-size", "250"));
        assertEquals(0, exact.exit(), exact::toString);
        assertTrue(exact.out().contains("(250 train / 50 val"), exact::toString);
    }

    @Test
    void noValidationSplitMeansTheLastEpochAndNoNaN() throws Exception {
        Path csv = tmp.resolve("noval.csv");
        Path png = tmp.resolve("noval.png");
        Path saved = tmp.resolve("noval.lkm");
        Cli.Run r = Cli.run(train("--val-size", "0", "--metrics-csv", csv.toString(), "--plot", png.toString(),
                "--save", saved.toString()));
        assertEquals(0, r.exit(), r::toString);
        assertFalse(r.out().contains("NaN") || r.out().contains("the best on validation"), r::toString);
        assertTrue(r.out().contains("(300 train / 0 val / 100 test"), r::toString);
        assertTrue(r.out().contains("(parameters of the last epoch, 2: no validation split to choose the best by)"),
                r::toString);
        String[] row = Files.readAllLines(csv).get(1).split(",", -1);
        assertEquals("", row[3], "the val_accuracy cell of epoch 1 is empty");
        assertFalse(Checkpoint.load(saved).metadata().containsKey("cli.val_accuracy"));
        assertTrue(Files.size(png) > 1000);
    }

    @Test
    void aBatchLargerThanTheTrainingSetIsRefusedBeforeTraining() {
        Cli.Run r = Cli.run(train("--val-size", "50", "--train-size", "20"));
        assertEquals(1, r.exit(), r::toString);
        assertEquals("layerkit train: error: --batch-size 25 is larger than the 20 training examples of "
                + "Fashion-MNIST: give --batch-size 20 or less", r.err().strip());
        assertFalse(r.out().contains("epoch"), r::toString);
        Cli.Run exp = Cli.run("experiment", "batch-size", "--backend", "cpu", "--dataset", data.toString(),
                "--train-size", "20", "--batch-sizes", "5,40", "--epochs", "1", "--out", tmp.resolve("x").toString());
        assertEquals(1, exp.exit(), exp::toString);
        assertTrue(exp.err().contains("run batchnorm_40: batch size 40 is larger than the 20 training examples"),
                exp::toString);
    }
}
