package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code layerkit export}: bad input is one line and exit 1 (2 for bad flags); the output file is never half-written. */
class ExportCommandTest {
    @TempDir
    static Path tmp;
    static Path model;
    static final byte[] OLD = "an existing file that a failed export must leave as it was".getBytes();

    @BeforeAll
    static void trainOne() throws Exception {
        Path data = TinyIdx.write(tmp.resolve("tiny"), 120, 30, 3);
        model = tmp.resolve("m.lkm");
        Cli.Run r = Cli.run("train", "--dataset", "fashion-mnist", "--data-dir", data.toString(), "--val-size", "20",
                "--hidden", "8", "--epochs", "1", "--batch-size", "25", "--progress", "none", "--backend", "cpu",
                "--save", model.toString());
        assertEquals(0, r.exit(), r::toString);
    }

    /** Runs export into a directory holding an old {@code out.onnx}; checks it is untouched and nothing is left. */
    private static Cli.Run exportOverAnOldFile(Path modelFile, String... more) throws Exception {
        Path dir = Files.createTempDirectory(tmp, "out");
        Path out = dir.resolve("out.onnx");
        Files.write(out, OLD);
        String[] args = Stream.concat(Stream.of("export", "--model", modelFile.toString(), "--out", out.toString()),
                Arrays.stream(more)).toArray(String[]::new);
        Cli.Run r = Cli.run(args);
        assertArrayEquals(OLD, Files.readAllBytes(out), "the existing output file changed\n" + r);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(out), files.toList(), "files left beside the output\n" + r);
        }
        return r;
    }

    private static void assertOneLineError(Cli.Run r, int exit, String expected) {
        assertEquals(exit, r.exit(), r::toString);
        assertTrue(r.err().contains(expected), () -> "expected '" + expected + "' in\n" + r);
        assertFalse(r.err().contains("\tat "), () -> "a stack trace without -v\n" + r);
    }

    @Test
    void aFileThatIsNotAModelIsRefusedNamingIt() throws Exception {
        Path notAModel = tmp.resolve("notes.lkm");
        Files.writeString(notAModel, "hello");
        assertOneLineError(exportOverAnOldFile(notAModel), 1, "layerkit export: error: --model " + notAModel
                + ": not a layerkit checkpoint: expected magic 894c4b434b50540a, found 68656c6c6f");
    }

    @Test
    void aTruncatedModelIsRefusedNamingIt() throws Exception {
        Path cut = tmp.resolve("cut.lkm");
        byte[] all = Files.readAllBytes(model);
        Files.write(cut, Arrays.copyOf(all, all.length / 2));
        assertOneLineError(exportOverAnOldFile(cut), 1, "layerkit export: error: --model " + cut + ": truncated: header "
                + "says " + (all.length - 24) + " payload bytes, found " + (all.length / 2 - 24));
    }

    @Test
    void aMissingModelIsRefused() throws Exception {
        Path missing = tmp.resolve("missing.lkm");
        assertOneLineError(exportOverAnOldFile(missing), 1, "--model " + missing + ": not found");
    }

    @Test
    void anOpsetOutsideTheSupportedRangeOrAnotherFormatIsAUsageError() throws Exception {
        assertOneLineError(exportOverAnOldFile(model, "--opset", "12"), 2,
                "--opset: expected 13 to 21 (default 17), got 12");
        assertOneLineError(exportOverAnOldFile(model, "--opset", "22"), 2,
                "--opset: expected 13 to 21 (default 17), got 22");
        assertOneLineError(exportOverAnOldFile(model, "--format", "tflite"), 2, "--format: expected onnx, got 'tflite'");
    }

    @Test
    void theModelFileIsNeverOverwrittenByItsExport() throws Exception {
        byte[] before = Files.readAllBytes(model);
        Cli.Run r = Cli.run("export", "--model", model.toString(), "--out", model.toString());
        assertOneLineError(r, 1, "--out " + model + " is the model file itself");
        assertArrayEquals(before, Files.readAllBytes(model));
    }

    @Test
    void anUnwritableOutputIsRefusedWithTheOperatingSystemsReason() throws Exception {
        Path blocker = tmp.resolve("a-file");
        Files.writeString(blocker, "x");
        Cli.Run r = Cli.run("export", "--model", model.toString(), "--out", blocker.resolve("m.onnx").toString());
        assertOneLineError(r, 1, "--out " + blocker.resolve("m.onnx") + ": cannot create directory " + blocker + ": "
                + blocker + " exists and is not a directory");
    }

    @Test
    void aSuccessfulExportReplacesTheOldFileAndSaysWhatItWrote() throws Exception {
        Path out = tmp.resolve("ok/m.onnx");
        Files.createDirectories(out.getParent());
        Files.write(out, OLD);
        Cli.Run r = Cli.run("export", "--model", model.toString(), "--out", out.toString());
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("opset 17 (IR version 8)") && r.out().contains("input pixels [N,784] float32 pixels"
                + " / 255 (standardized inside), output logits [N,10]"), r::toString);
        assertTrue(Files.size(out) > 784 * 8 * 4, r::toString);
        try (Stream<Path> files = Files.list(out.getParent())) {
            assertEquals(List.of(out), files.toList());
        }
    }
}
