package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.cli.testing.UnavailableBackendProvider;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Standardizer;

/** train and evaluate end to end on a tiny generated IDX data set. */
class TrainEvaluateTest {
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void writeData() throws Exception {
        data = TinyIdx.write(tmp.resolve("tiny-fashion"), 300, 100, 7);
    }

    static String[] tinyTrain(String... more) {
        List<String> args = new java.util.ArrayList<>(List.of(more));
        if (!args.contains("--backend")) {
            args.addAll(List.of("--backend", "cpu"));
        }
        args.addAll(0, List.of("train", "--dataset",
                "fashion-mnist", "--data-dir", data.toString(), "--val-size", "50", "--hidden", "32,16",
                "--epochs", "2", "--batch-size", "25", "--progress", "plain"));
        return args.toArray(String[]::new);
    }

    @Test
    void trainsSavesAndEvaluatesOnAnotherBackend() throws Exception {
        Path model = tmp.resolve("out/model.lkm");
        Path csv = tmp.resolve("out/metrics.csv");
        Path png = tmp.resolve("out/curves.png");
        Cli.Run r = Cli.run(tinyTrain("--save", model.toString(), "--metrics-csv", csv.toString(),
                "--plot", png.toString()));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("epoch 1/2") && r.out().contains("epoch 2/2"), r::toString);
        Matcher m = Pattern.compile("final: +train acc ([0-9.]+) +val acc ([0-9.]+) +test acc ([0-9.]+)")
                .matcher(r.out());
        assertTrue(m.find(), r::toString);
        double test = Double.parseDouble(m.group(3));
        // TRAINING_OUTCOME (docs/tolerances.md): learning, not rounding
        assertTrue(test > 0.5, () -> "the tiny data set is easy; test accuracy " + test + " (TRAINING_OUTCOME)\n" + r);
        assertTrue(r.out().contains("on cpu"), r::toString);
        assertTrue(Files.size(model) > 0 && Files.size(png) > 0, r::toString);
        List<String> rows = Files.readAllLines(csv);
        assertEquals(3, rows.size(), rows::toString);
        assertTrue(rows.get(0).startsWith("epoch,mean_loss,train_accuracy,val_accuracy"), rows.get(0));

        // evaluate finds the data set (metadata) and the input standardization (STDZ section) in the model file and reproduces train's test accuracy
        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu");
        assertEquals(0, e.exit(), e::toString);
        assertTrue(e.out().contains("test accuracy: " + m.group(3)), () -> "train said " + m.group(3) + "\n" + e);
        assertTrue(e.out().contains("confusion matrix") && e.out().contains("Ankle boot")
                && e.out().contains("recall") && e.out().contains("precision"), e::toString);

        // and on another backend where one is available (OpenCL on PoCL or a GPU): float rounding may move a
        // borderline example, not the accuracy as a whole
        boolean openclAvailable = org.layerkit.api.Backends.providers().stream()
                .anyMatch(p -> p.name().equals("opencl") && p.availability().isAvailable());
        if (openclAvailable) {
            Cli.Run cl = Cli.run("evaluate", "--model", model.toString(), "--backend", "opencl", "--split", "val");
            assertEquals(0, cl.exit(), cl::toString);
            Matcher a = Pattern.compile("val accuracy: ([0-9.]+)").matcher(cl.out());
            assertTrue(a.find(), cl::toString);
            assertEquals(Double.parseDouble(m.group(2)), Double.parseDouble(a.group(1)), 0.03, cl::toString);
        }
    }

    @Test
    void savedModelCarriesTheStandardizationInTheCheckpointSectionNotInMetadata() throws Exception {
        Path model = tmp.resolve("stdz/model.lkm");
        Cli.Run r = Cli.run(tinyTrain("--save", model.toString()));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains(", standardized"), r::toString);

        Checkpoint c = Checkpoint.load(model);
        Standardizer s = c.standardizer();
        assertNotNull(s, "train --save must write the STDZ section");
        // exactly the statistics of the raw training split (the last 50 of the 300 examples are validation)
        Standardizer expected = Standardizer.fit(
                DataSets.load("fashion-mnist", data, 50, 0).splits().train());
        assertEquals(c.spec().inputShape().size(), s.featureCount());
        assertArrayEquals(expected.mean(), s.mean());
        assertArrayEquals(expected.std(), s.std());
        assertFalse(c.metadata().keySet().stream().anyMatch(k -> k.startsWith("cli.input_")), c.metadata()::toString);
        // the other cli.* metadata stays
        for (String k : List.of("cli.dataset", "cli.data_dir", "cli.val_size", "cli.best_epoch", "cli.train_accuracy",
                "cli.val_accuracy", "cli.test_accuracy", "cli.backend")) {
            assertTrue(c.metadata().containsKey(k), () -> k + " missing from " + c.metadata());
        }
        assertEquals("fashion-mnist", c.metadata().get("cli.dataset"));
        assertEquals("50", c.metadata().get("cli.val_size"));
    }

    @Test
    void noStandardizeTrainsOnRawInputsAndSavesNoStandardization() throws Exception {
        Path model = tmp.resolve("raw/model.lkm");
        Cli.Run r = Cli.run(tinyTrain("--no-standardize", "--save", model.toString()));
        assertEquals(0, r.exit(), r::toString);
        assertFalse(r.out().contains("standardized"), r::toString);
        Matcher m = Pattern.compile("final: .* test acc ([0-9.]+)").matcher(r.out());
        assertTrue(m.find(), r::toString);

        Checkpoint c = Checkpoint.load(model);
        assertNull(c.standardizer(), "--no-standardize: no STDZ section");
        assertFalse(c.metadata().keySet().stream().anyMatch(k -> k.startsWith("cli.input_")), c.metadata()::toString);

        // evaluate feeds the raw inputs and reproduces train's test accuracy
        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu");
        assertEquals(0, e.exit(), e::toString);
        assertTrue(e.out().contains("test accuracy: " + m.group(1)), () -> "train said " + m.group(1) + "\n" + e);
    }

    @Test
    void missingDatasetNamesTheDirectoryAndTheInstallCommand() {
        Path nowhere = tmp.resolve("no-such-dir");
        Cli.Run r = Cli.run("train", "--backend", "cpu", "--data-dir", nowhere.toString());
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains(nowhere.toString()), r::toString);
        assertTrue(r.err().contains("apt-get install dataset-fashion-mnist"), r::toString);
        assertFalse(r.err().contains("\tat "), r::toString);
    }

    @Test
    void directoryWithoutDataIsExplained() {
        Cli.Run r = Cli.run("train", "--backend", "cpu", "--dataset", tmp.toString());
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("no data set found"), r::toString);
    }

    @Test
    void explicitUnavailableBackendFailsWithItsReasonAndNeverFallsBack() {
        Cli.Run r = Cli.run(tinyTrain("--backend", UnavailableBackendProvider.NAME));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains(UnavailableBackendProvider.REASON), r::toString);
        assertFalse(r.out().contains("epoch"), "must not train on another backend\n" + r);
    }

    @Test
    void saveUnderARegularFileFailsBeforeTrainingWithoutAStackTrace() throws Exception {
        Path file = Files.writeString(tmp.resolve("i-am-a-file"), "x");
        Cli.Run r = Cli.run(tinyTrain("--save", file.resolve("model.lkm").toString()));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("--save") && r.err().contains("is not a directory"), r::toString);
        assertFalse(r.err().contains("\tat "), r::toString);
        assertFalse(r.out().contains("epoch"), "must fail before training\n" + r);
    }

    @Test
    void verboseAddsTheStackTrace() throws Exception {
        Path file = Files.writeString(tmp.resolve("another-file"), "x");
        Cli.Run r = Cli.run(tinyTrain("-v", "--plot", file.resolve("p.png").toString()));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("\tat org.layerkit.cli."), r::toString);
    }

    @Test
    void badValuesAreUsageErrors() {
        assertEquals(2, Cli.run(tinyTrain("--norm", "group")).exit());
        assertEquals(2, Cli.run(tinyTrain("--optimizer", "lbfgs")).exit());
        assertEquals(2, Cli.run(tinyTrain("--keep-prob", "1.5")).exit());
        assertEquals(2, Cli.run(tinyTrain("--batch-size", "1")).exit());
        assertEquals(2, Cli.run(tinyTrain("--hidden", "32,x")).exit());
        assertEquals(2, Cli.run(tinyTrain("--init", "xavier")).exit());
        assertEquals(2, Cli.run("evaluate").exit(), "--model is required");
    }

    @Test
    void evaluateOfAMissingOrForeignModelFailsWithAMessage() throws Exception {
        Cli.Run missing = Cli.run("evaluate", "--model", tmp.resolve("none.lkm").toString());
        assertEquals(1, missing.exit(), missing::toString);
        assertTrue(missing.err().contains("none.lkm") && missing.err().contains("not found"), missing::toString);
        Path foreign = Files.writeString(tmp.resolve("foreign.lkm"), "hello");
        Cli.Run bad = Cli.run("evaluate", "--model", foreign.toString());
        assertEquals(1, bad.exit(), bad::toString);
        assertTrue(bad.err().contains("not a layerkit checkpoint"), bad::toString);
        assertFalse(bad.err().contains("\tat "), bad::toString);
    }
}
