package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Each experiment on a tiny generated data set, writing its PNG and CSVs. */
class ExperimentCommandTest {
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void writeData() throws Exception {
        data = TinyIdx.write(tmp.resolve("tiny"), 200, 50, 11);
    }

    @ParameterizedTest
    @ValueSource(strings = {"batchnorm", "batch-size", "dropout"})
    void writesPlotAndCsvs(String name) throws Exception {
        Path out = tmp.resolve("out-" + name);
        Cli.Run r = Cli.run("experiment", name, "--backend", "cpu", "--dataset", data.toString(), "--val-size", "40",
                "--epochs", "2", "--hidden", "16,16", "--batch-sizes", "10,40", "--keep-probs", "0.5",
                "--out", out.toString());
        assertEquals(0, r.exit(), r::toString);
        Path png = out.resolve(name + ".png");
        Path loss = out.resolve(name + "-loss.csv");
        Path acc = out.resolve(name + "-accuracy.csv");
        assertTrue(r.out().contains("wrote " + png), r::toString);
        assertTrue(Files.size(png) > 1000, r::toString);
        byte[] magic = Files.readAllBytes(png);
        assertEquals((byte) 0x89, magic[0]);
        assertEquals('P', magic[1]);
        List<String> accRows = Files.readAllLines(acc);
        int runs = name.equals("batch-size") ? 3 : 2;
        assertEquals(1 + 2 * runs, accRows.size(), accRows::toString);
        assertTrue(Files.readAllLines(loss).size() > runs, r::toString);
        assertTrue(r.out().contains("best val"), r::toString);
    }

    @org.junit.jupiter.api.Test
    void unknownExperimentIsAUsageError() {
        Cli.Run r = Cli.run("experiment", "weight-decay");
        assertEquals(2, r.exit(), r::toString);
        assertTrue(r.err().contains("unknown experiment"), r::toString);
    }
}
