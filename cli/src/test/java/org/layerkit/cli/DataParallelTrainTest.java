package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code layerkit train --replicas R} and {@code --devices LIST}: data-parallel training end to end, and bad values. */
class DataParallelTrainTest {
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void writeData() throws Exception {
        data = TinyIdx.write(tmp.resolve("tiny-fashion"), 300, 100, 7);
    }

    private static String[] train(String... more) {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--dataset",
                "fashion-mnist", "--data-dir", data.toString(), "--val-size", "50", "--hidden", "32,16",
                "--epochs", "2", "--batch-size", "25", "--progress", "plain"));
        args.addAll(java.util.List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void twoCpuReplicasTrainAModelThatEvaluateReproduces() {
        Path model = tmp.resolve("dp/model.lkm");
        Cli.Run r = Cli.run(train("--backend", "cpu", "--replicas", "2", "--save", model.toString()));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("data-parallel: 2 replicas") && r.out().contains("replica 1: cpu"), r::toString);
        Matcher m = Pattern.compile("test acc ([0-9.]+)").matcher(r.out());
        assertTrue(m.find(), r::toString);
        // TRAINING_OUTCOME (docs/tolerances.md): learning, not rounding
        assertTrue(Double.parseDouble(m.group(1)) > 0.5, r::toString);
        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu");
        assertEquals(0, e.exit(), e::toString);
        assertTrue(e.out().contains("test accuracy: " + m.group(1)), () -> "train said " + m.group(1) + "\n" + e);
    }

    @Test
    void devicesListsOneReplicaPerBackend() {
        Cli.Run r = Cli.run(train("--devices", "cpu,cpu,cpu"));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("data-parallel: 3 replicas") && r.out().contains("replica 2: cpu"), r::toString);
    }

    @Test
    void badReplicaOptionsAreClearErrors() {
        Cli.Run zero = Cli.run(train("--backend", "cpu", "--replicas", "0"));
        assertEquals(2, zero.exit(), zero::toString);
        assertTrue(zero.err().contains("--replicas must be at least 1, got 0"), zero::toString);
        Cli.Run both = Cli.run(train("--devices", "cpu,cpu", "--replicas", "2"));
        assertEquals(2, both.exit(), both::toString);
        assertTrue(both.err().contains("give --devices or --replicas, not both"), both::toString);
        Cli.Run withBackend = Cli.run(train("--devices", "cpu,cpu", "--backend", "cpu"));
        assertEquals(2, withBackend.exit(), withBackend::toString);
        assertTrue(withBackend.err().contains("give --devices or --backend/--device"), withBackend::toString);
        Cli.Run empty = Cli.run(train("--devices", "cpu,:0"));
        assertEquals(2, empty.exit(), empty::toString);
        assertTrue(empty.err().contains("backend[:device]"), empty::toString);
        Cli.Run unknown = Cli.run(train("--devices", "cpu,tpu"));
        assertNotEquals(0, unknown.exit(), unknown::toString);
        assertTrue(unknown.err().contains("--devices: replica 1 'tpu'"), unknown::toString);
        assertTrue(!unknown.err().contains("\tat "), () -> "a stack trace reached the user:\n" + unknown);
    }
}
