package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Shape;
import org.layerkit.models.ConvNetConfig;
import org.layerkit.models.checkpoint.Checkpoint;

/** {@code train --net cnn} and {@code evaluate} on its saved file, and on an MLP saved before the one sequential net. */
class CnnTrainEvaluateTest {
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void writeData() throws Exception {
        // the same generated data the format-1 model in src/test/resources/checkpoints was trained on
        data = TinyIdx.write(tmp.resolve("tiny-fashion"), 300, 100, 7);
    }

    static String[] tinyCnn(String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--net", "cnn", "--dataset", "fashion-mnist",
                "--data-dir", data.toString(), "--val-size", "50", "--batch-size", "25",
                "--progress", "plain", "--backend", "cpu"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private static String[] concat(String[] a, String... b) {
        List<String> l = new ArrayList<>(List.of(a));
        l.addAll(List.of(b));
        return l.toArray(String[]::new);
    }

    private static String testAccuracy(Cli.Run r) {
        Matcher m = Pattern.compile("final: .* test acc ([0-9.]+)").matcher(r.out());
        assertTrue(m.find(), r::toString);
        return m.group(1);
    }

    @Test
    void trainsACnnSavesItAndEvaluateReproducesItsTestAccuracy() throws Exception {
        Path model = tmp.resolve("cnn/model.lkm");
        Path csv = tmp.resolve("cnn/metrics.csv");
        Path png = tmp.resolve("cnn/curves.png");
        Cli.Run r = Cli.run(tinyCnn("--channels", "4,8", "--hidden", "16", "--epochs", "3", "--lr", "0.005",
                "--save", model.toString(),
                "--metrics-csv", csv.toString(), "--plot", png.toString()));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("standardized per channel"), r::toString);
        assertTrue(r.out().contains("net:     cnn fashion [1,28,28] conv3x3x4-pool2-conv3x3x8-pool2-flatten-fc16-10 "
                + "batch conv-keep=0.8 keep=0.5"), r::toString);
        assertTrue(r.out().contains("spatial_batchnorm") && r.out().contains("parameters"), "the layer summary\n" + r);
        assertTrue(r.out().contains("epoch 1/3") && r.out().contains("epoch 3/3"), r::toString);
        String acc = testAccuracy(r);
        // TRAINING_OUTCOME (docs/tolerances.md): the tiny data's classes are bands of rows, easy for a CNN
        assertTrue(Double.parseDouble(acc) > 0.5, r::toString);
        assertEquals(4, Files.readAllLines(csv).size());
        assertTrue(Files.size(png) > 0);

        Checkpoint c = Checkpoint.load(model);
        assertEquals(Shape.of(1, 28, 28), c.spec().inputShape());
        assertTrue(c.standardizer().perChannel(Shape.of(1, 28, 28)), "one mean and std for the grey channel");
        assertEquals("cnn", c.metadata().get("cli.net"));

        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu");
        assertEquals(0, e.exit(), e::toString);
        assertTrue(e.out().contains("test accuracy: " + acc), () -> "train said " + acc + "\n" + e);
        assertTrue(e.out().contains("model:   " + model.toAbsolutePath() + ": cnn fashion"), e::toString);

        // and on another backend where one is available (OpenCL on PoCL or a GPU): float rounding may move a
        // borderline example, not the accuracy as a whole
        boolean openclAvailable = org.layerkit.api.Backends.providers().stream()
                .anyMatch(p -> p.name().equals("opencl") && p.availability().isAvailable());
        if (openclAvailable) {
            Cli.Run cl = Cli.run("evaluate", "--model", model.toString(), "--backend", "opencl");
            assertEquals(0, cl.exit(), cl::toString);
            Matcher a = Pattern.compile("test accuracy: ([0-9.]+)").matcher(cl.out());
            assertTrue(a.find(), cl::toString);
            assertEquals(Double.parseDouble(acc), Double.parseDouble(a.group(1)), 0.03, cl::toString);
        }
    }

    @Test
    void theCs231nPresetAndGroupNormTrain() {
        Cli.Run r = Cli.run(tinyCnn("--preset", "cs231n", "--channels", "4", "--hidden", "8", "--epochs", "1"));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("net:     cnn cs231n [1,28,28] conv7x7x4-pool2-flatten-fc8-10 none"), r::toString);
        Cli.Run g = Cli.run(tinyCnn("--channels", "4", "--hidden", "8", "--norm", "group", "--groups", "2",
                "--conv-keep-prob", "0.9", "--epochs", "1"));
        assertEquals(0, g.exit(), g::toString);
        assertTrue(g.out().contains("group G=2 conv-keep=0.9"), g::toString);
        assertTrue(g.out().contains("groupnorm") && g.out().contains("layernorm") && g.out().contains("spatial_dropout"),
                g::toString);
    }

    @Test
    void evaluateReadsAnMlpSavedBeforeTheOneSequentialNet() throws Exception {
        Path model = tmp.resolve("legacy-v1-cli-mlp.lkm");
        try (InputStream in = getClass().getResourceAsStream("/checkpoints/legacy-v1-cli-mlp.lkm")) {
            Files.copy(in, model);
        }
        Checkpoint c = Checkpoint.load(model);
        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu", "--dataset", "fashion-mnist",
                "--data-dir", data.toString());
        assertEquals(0, e.exit(), e::toString);
        assertTrue(e.out().contains("784-32-16-10 batch keep=0.9 init=he reg=0.0 seed=1"), e::toString);
        Matcher m = Pattern.compile("test accuracy: ([0-9.]+)").matcher(e.out());
        assertTrue(m.find(), e::toString);
        // the accuracy the old CLI reported when it saved the file; float rounding on another CPU (other GEMM
        // kernels) may move a borderline example, not the accuracy as a whole
        assertEquals(Double.parseDouble(c.metadata().get("cli.test_accuracy")), Double.parseDouble(m.group(1)), 0.03,
                e::toString);
    }

    @Test
    void cnnOptionsAreUsageErrorsForTheMlpAndTheHelpNamesEveryPreset() {
        String[] mlp = {"train", "--dataset", "fashion-mnist", "--data-dir", data.toString(), "--backend", "cpu"};
        Cli.Run r = Cli.run(concat(mlp, "--channels", "8,16", "--kernel", "5"));
        assertEquals(2, r.exit(), r::toString);
        assertTrue(r.err().contains("--channels, --kernel apply to --net cnn only"), r::toString);
        Cli.Run g = Cli.run(concat(mlp, "--norm", "group"));
        assertEquals(2, g.exit(), g::toString);
        assertTrue(g.err().contains("--norm group needs channels"), g::toString);
        assertEquals(2, Cli.run(tinyCnn("--preset", "resnet")).exit());
        assertEquals(2, Cli.run(tinyCnn("--kernel", "4")).exit());
        assertEquals(2, Cli.run(tinyCnn("--groups", "2")).exit(), "--groups without --norm group");
        Cli.Run bad = Cli.run(tinyCnn("--norm", "group", "--groups", "3", "--channels", "4,8"));
        assertEquals(1, bad.exit(), bad::toString);
        assertTrue(bad.err().contains("groups expected a divisor of every stage's channels [4, 8], got 3"), bad::toString);
        assertFalse(bad.out().contains("epoch"), bad::toString);
        Cli.Run unknown = Cli.run(tinyCnn("--preset", "resnet"));
        assertTrue(unknown.err().contains("--preset: expected one of fashion, cs231n, vgg, got 'resnet'"),
                unknown::toString);
        Cli.Run defaultGroups = Cli.run(tinyCnn("--norm", "group", "--channels", "4,12"));
        assertEquals(1, defaultGroups.exit(), defaultGroups::toString);
        assertTrue(defaultGroups.err().contains("groups expected a divisor of every stage's channels [4, 12], got 8 "
                + "(the default of --groups; give --groups G that divides every stage's channels)"),
                defaultGroups::toString);
        // five pools halve 28 x 28 below the pool's window: refused before training, naming the shape and the layer
        Cli.Run deep = Cli.run(tinyCnn("--channels", "2,2,2,2,2", "--hidden", "4", "--epochs", "1"));
        assertEquals(1, deep.exit(), deep::toString);
        assertTrue(deep.err().contains("the net does not fit [1,28,28] images (each stage's pool halves H and W: give "
                + "fewer --channels stages or a smaller --kernel): SequentialNet: layer "), deep::toString);
        assertFalse(deep.out().contains("epoch 1/1") || deep.err().contains("\tat org."), deep::toString);
        Cli.Run h = Cli.run("train", "--help");
        for (String preset : ConvNetConfig.presets().keySet()) {
            assertTrue(h.out().contains("  " + preset + " "), () -> "the help names preset " + preset + "\n" + h);
        }
        assertTrue(h.out().contains("--net") && h.out().contains("--preset"), h::toString);
    }
}
