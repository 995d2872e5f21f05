package org.layerkit.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.SyntheticData;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;

/**
 * What a checkpoint does with bad content: NaN and ∞ are refused on load and on save, naming the tensor and the
 * first bad index, and a malformed field (with a valid CRC) names the file, section and field.
 */
class CheckpointFaultsTest {
    private static Backend backend;
    private static final Dataset DATA = SyntheticData.blobs("blobs", 120, 6, 4, 3);

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    /** A batch-norm net with Adam state after one epoch. */
    private Path trained(Path file) throws IOException {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 4).hidden(9, 7)
                .normalization(Normalization.BATCH).heInit().seed(11).build();
        try (SequentialNet net = new SequentialNet(backend, c);
             Optimizer adam = OptimizerConfig.adam(5e-3).create(net.parameters())) {
            new Solver(net, adam, DATA, DATA.slice(0, 20), SolverConfig.builder().epochs(1).batchSize(16).build())
                    .train();
            Checkpoint.of(net, adam, Map.of(Checkpoint.EPOCHS_COMPLETED, "1")).save(file);
        }
        return file;
    }

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    // ---------------------------------------------------------------------------------------- NaN and ∞

    @Test
    void aNonFiniteWeightIsRefusedOnLoadNamingTheTensorAndTheFirstBadIndex() throws IOException {
        Path file = trained(dir.resolve("m.lkm"));
        byte[] good = Files.readAllBytes(file);
        // 0.W (CS231N's W1) is [6,9]: flat index 22 is row 2, column 4; a later NaN must not be the one reported
        byte[] bad = CheckpointBytes.withTensorValue(good, "0.W", 22, Float.NaN);
        bad = CheckpointBytes.withTensorValue(bad, "0.W", 40, Float.NaN);
        Files.write(file, bad);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
        assertEquals(file + ": tensor 0.W holds NaN at index 22 ([2,4] of [6,9]): refusing to load a model with NaN "
                + "or infinite values (it would give wrong predictions without an error)", e.getMessage());
    }

    @Test
    void anInfiniteRunningStatisticIsRefusedOnLoad() throws IOException {
        Path file = trained(dir.resolve("m.lkm"));
        Files.write(file, CheckpointBytes.withTensorValue(Files.readAllBytes(file), "4.running_var", 3,
                Float.POSITIVE_INFINITY));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().contains("tensor 4.running_var holds Infinity at index 3 ([3] of [7])"),
                e.getMessage());
    }

    @Test
    void savingANonFiniteValueIsRefusedAndLeavesTheOldFile() throws IOException {
        Path file = trained(dir.resolve("m.lkm"));
        byte[] before = Files.readAllBytes(file);
        Checkpoint c = Checkpoint.load(file);
        Map<String, HostTensor> tensors = new java.util.LinkedHashMap<>(c.tensors());
        float[] v = tensors.get("1.running_mean").data().clone();
        v[5] = Float.NEGATIVE_INFINITY;
        tensors.put("1.running_mean", new HostTensor(tensors.get("1.running_mean").shape(), v));
        Checkpoint broken = new Checkpoint(c.spec(), tensors, c.counters(), c.optimizer(), c.standardizer(),
                c.metadata());
        CheckpointException e = assertThrows(CheckpointException.class, () -> broken.save(file));
        assertTrue(e.getMessage().contains("refusing to save tensor 1.running_mean holds -Infinity at index 5"),
                e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), listDir(), "no temporary file");
    }

    // ---------------------------------------------------------------------------------------- malformed fields

    private String loadError(String tag, String key, String value) throws IOException {
        Path file = dir.resolve("f-" + tag + "-" + key + ".lkm");
        if (!Files.exists(dir.resolve("base.lkm"))) {
            trained(dir.resolve("base.lkm"));
        }
        Files.write(file, CheckpointBytes.withField(Files.readAllBytes(dir.resolve("base.lkm")), tag, key, value));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        return e.getMessage().substring(file.toString().length());
    }

    @Test
    void aMalformedNumberNamesTheSectionAndTheField() throws IOException {
        assertEquals(": malformed payload despite a valid CRC: section CONF, field 'num_classes': expected an integer, "
                + "got 'abc'", loadError("CONF", "num_classes", "abc"));
        assertEquals(": malformed payload despite a valid CRC: section CONF, field 'input_shape': expected "
                + "comma-separated dimensions >= 1, got '6,x'", loadError("CONF", "input_shape", "6,x"));
        assertEquals(": malformed payload despite a valid CRC: section CONF, field 'reg': expected a number, "
                + "got 'abc'", loadError("CONF", "reg", "abc"));
        assertEquals(": malformed payload despite a valid CRC: section CONF, field 'layer.9.in': expected "
                + "layer.<0..6>.<key>, got a key outside the 7 layers", loadError("CONF", "layer.9.in", "3"));
        assertEquals(": malformed payload despite a valid CRC: section OPTM, field 'learning_rate': expected a "
                + "number, got 'fast'", loadError("OPTM", "learning_rate", "fast"));
        assertEquals(": malformed payload despite a valid CRC: section META, field 'epochs_completed': expected an "
                + "integer, got 'abc'", loadError("META", "epochs_completed", "abc"));
        // free-form metadata stays free
        Path file = dir.resolve("free.lkm");
        Files.write(file, CheckpointBytes.withField(Files.readAllBytes(dir.resolve("base.lkm")), "META", "note",
                "abc"));
        assertEquals("abc", Checkpoint.load(file).metadata().get("note"));
    }

    @Test
    void aMalformedLayerSettingIsNamedWhenTheNetIsBuilt() throws IOException {
        Path base = trained(dir.resolve("layer-base.lkm"));
        Path file = dir.resolve("layer.lkm");
        Files.write(file, CheckpointBytes.withField(Files.readAllBytes(base), "CONF", "layer.3.out", "abc"));
        Checkpoint c = Checkpoint.load(file); // the spec is data until layers are built from it
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.toNet(backend));
        assertTrue(e.getMessage().startsWith("checkpoint section CONF: SequentialNet: layer 3 (affine{"), e.getMessage());
        assertTrue(e.getMessage().endsWith("key 'out' expected an integer, got 'abc'"), e.getMessage());
        Files.write(file, CheckpointBytes.withField(Files.readAllBytes(base), "CONF", "layer.2.type", "relux"));
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.load(file).toNet(backend));
        assertTrue(t.getMessage().contains("layer 2 has unknown type 'relux'; registered types: [affine"),
                t.getMessage());
    }
}
