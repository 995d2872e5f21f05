package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
    void normBatchSizeTrainsEveryNormAtEveryBatchSizeAndPlotsAccuracyAgainstBatchSize() throws Exception {
        Path out = tmp.resolve("out-nbs");
        Cli.Run r = Cli.run("experiment", "norm-batch-size", "--net", "cnn", "--backend", "cpu", "--dataset",
                data.toString(), "--val-size", "40", "--epochs", "1", "--batch-sizes", "8,2", "--channels", "4",
                "--hidden", "8", "--progress", "plain", "--out", out.toString());
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("SGD momentum 0.9, lr = 0.01*B/32"), r::toString);
        assertTrue(r.out().contains("grid [") && r.out().contains("8/8 runs"), "progress over the grid\n" + r);
        List<String> rows = Files.readAllLines(out.resolve("norm-batch-size.csv"));
        assertEquals(1 + 8, rows.size(), rows::toString);
        assertTrue(rows.get(0).startsWith("run,normalization,batch_size,learning_rate,"), rows.get(0));
        // the default groups divide the channels (4), and the learning rate is scaled with the batch size
        assertTrue(rows.stream().anyMatch(l -> l.startsWith("group_2,group4,2,0.000625,")), rows::toString);
        assertTrue(rows.stream().anyMatch(l -> l.startsWith("none_8,none,8,0.0025,")), rows::toString);
        assertTrue(r.out().contains("test acc          B=2      B=8"), r::toString);
        assertTrue(Files.size(out.resolve("norm-batch-size.png")) > 1000);
        Cli.Run mlp = Cli.run("experiment", "norm-batch-size", "--net", "mlp", "--norms", "group", "--backend", "cpu",
                "--dataset", data.toString());
        assertEquals(2, mlp.exit(), mlp::toString);
        assertTrue(mlp.err().contains("group norm needs --net cnn"), mlp::toString);
        // a net that does not fit the images is refused before the first run trains
        Cli.Run deep = Cli.run("experiment", "norm-batch-size", "--backend", "cpu", "--dataset", data.toString(),
                "--val-size", "40", "--epochs", "1", "--batch-sizes", "8", "--channels", "2,2,2,2,2", "--hidden", "4",
                "--progress", "plain", "--out", tmp.resolve("out-nbs-deep").toString());
        assertEquals(1, deep.exit(), deep::toString);
        assertTrue(deep.err().contains("the net does not fit [1,28,28] images"), deep::toString);
        assertFalse(deep.out().contains("batch_8") || deep.out().contains("runs on cpu"), deep::toString);
        Cli.Run other = Cli.run("experiment", "dropout", "--net", "cnn");
        assertEquals(2, other.exit(), other::toString);
        assertTrue(other.err().contains("--net applies to the norm-batch-size experiment only"), other::toString);
    }

    @org.junit.jupiter.api.Test
    void unknownExperimentIsAUsageError() {
        Cli.Run r = Cli.run("experiment", "weight-decay");
        assertEquals(2, r.exit(), r::toString);
        assertTrue(r.err().contains("unknown experiment 'weight-decay': expected batchnorm, batch-size, dropout or "
                + "norm-batch-size"), r::toString);
    }
}
