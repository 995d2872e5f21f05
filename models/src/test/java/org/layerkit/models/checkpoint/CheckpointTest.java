package org.layerkit.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.SyntheticData;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;

class CheckpointTest {
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

    /** A net trained for two epochs, so weights, running statistics, counters and Adam state are all non-trivial. */
    private Path trainedCheckpoint(Path file) throws IOException {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 4).hidden(9, 7).normalization(Normalization.BATCH)
                .dropoutKeep(0.8).heInit().reg(1e-3).seed(11).build();
        try (SequentialNet net = new SequentialNet(backend, c);
             Optimizer adam = OptimizerConfig.adam(5e-3).create(net.parameters())) {
            new Solver(net, adam, DATA, DATA.slice(0, 20), SolverConfig.builder().epochs(2).batchSize(16).build()).train();
            Checkpoint.of(net, adam, Map.of(Checkpoint.EPOCHS_COMPLETED, "2")).save(file);
            return file;
        }
    }

    @Test
    void aLoadedModelGivesIdenticalScoresOnAFreshBackendInstance() throws IOException {
        Path file = dir.resolve("model.lkm");
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 4).hidden(9, 7).normalization(Normalization.BATCH)
                .dropoutKeep(0.8).heInit().seed(11).build();
        float[] x = DATA.featureSlice(0, 30);
        float[] expected;
        try (SequentialNet net = new SequentialNet(backend, c);
             Optimizer adam = OptimizerConfig.adam(5e-3).create(net.parameters())) {
            new Solver(net, adam, DATA, DATA.slice(0, 20), SolverConfig.builder().epochs(2).batchSize(16).build()).train();
            try (Tensor xt = backend.upload(x, Shape.of(30, 6))) {
                expected = net.scores(xt).toArray();
            }
            Checkpoint.of(net, null, Map.of()).save(file);
        }
        try (Backend fresh = Backends.get("cpu")) {
            assertNotSame(backend, fresh);
            Checkpoint loaded = Checkpoint.load(file);
            assertFalse(loaded.hasOptimizer());
            try (SequentialNet net = loaded.toNet(fresh); Tensor xt = fresh.upload(x, Shape.of(30, 6))) {
                assertEquals(c.spec(), net.spec());
                assertArrayEquals(expected, net.scores(xt).toArray());
            }
        }
    }

    @Test
    void weightsStatisticsCountersAndOptimizerStateRoundTripExactly() throws IOException {
        Path file = trainedCheckpoint(dir.resolve("m.lkm"));
        Checkpoint a = Checkpoint.load(file);
        try (SequentialNet net = a.toNet(backend); Optimizer opt = a.toOptimizer(net)) {
            Checkpoint b = Checkpoint.of(net, opt, a.metadata());
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            a.tensors().forEach((k, t) -> assertArrayEquals(t.data(), b.tensors().get(k).data(), k));
            assertEquals(List.of("0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b", "5.gamma", "5.beta", "8.W", "8.b",
                    "1.running_mean", "1.running_var", "5.running_mean", "5.running_var"),
                    List.copyOf(a.tensors().keySet()));
            assertEquals(a.counters(), b.counters());
            assertEquals(14L, a.counters().get("1.batches_tracked"), "2 epochs of 7 batches");
            assertEquals(14L, a.counters().get("7.offset"));
            assertEquals(14, opt.stepCount());
            assertEquals(a.optimizer().config(), opt.config());
            a.optimizer().state().forEach((k, t) -> assertArrayEquals(t.data(), b.optimizer().state().get(k).data(), k));
            assertEquals(2, a.epochsCompleted());
        }
    }

    @Test
    void theInputStandardizationTravelsWithTheModel() throws IOException {
        DatasetSplits splits = new DatasetSplits(DATA, DATA.slice(0, 20), DATA.slice(20, 40)).standardized();
        Path file = dir.resolve("std.lkm");
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 4).hidden(5).seed(2).build();
        float[] expected;
        try (SequentialNet net = new SequentialNet(backend, c);
             Optimizer sgd = OptimizerConfig.sgd(1e-2).create(net.parameters())) {
            new Solver(net, sgd, splits, SolverConfig.builder().epochs(1).batchSize(30).checkpoint(file).build()).train();
            try (Tensor xt = backend.upload(splits.test().featureSlice(0, 20), Shape.of(20, 6))) {
                expected = net.scores(xt).toArray();
            }
        }
        Checkpoint loaded = Checkpoint.load(file);
        assertArrayEquals(splits.standardizer().mean(), loaded.standardizer().mean());
        assertArrayEquals(splits.standardizer().std(), loaded.standardizer().std());
        Dataset raw = DATA.slice(20, 40);
        try (SequentialNet net = loaded.toNet(backend);
             Tensor xt = backend.upload(loaded.preprocess(raw).featureSlice(0, 20), Shape.of(20, 6))) {
            assertArrayEquals(expected, net.scores(xt).toArray(), "raw data preprocessed by the checkpoint");
        }
    }

    @Test
    void aFlippedPayloadByteFailsTheCrcAndNamesTheFile() throws IOException {
        Path file = trainedCheckpoint(dir.resolve("m.lkm"));
        byte[] b = Files.readAllBytes(file);
        b[b.length / 2] ^= 0x10;
        Files.write(file, b);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("CRC32"), e.getMessage());
    }

    @Test
    void aTruncatedFileIsRejected() throws IOException {
        Path file = trainedCheckpoint(dir.resolve("m.lkm"));
        byte[] b = Files.readAllBytes(file);
        for (int keep : new int[] {b.length - 1, 30, 12}) {
            Files.write(file, Arrays.copyOf(b, keep));
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        }
    }

    @Test
    void aForeignFileIsRejectedByItsMagic() throws IOException {
        Path file = Files.writeString(dir.resolve("notes.txt"), "hello, this is not a model", StandardCharsets.UTF_8);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().contains("not a layerkit checkpoint"), e.getMessage());
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        e = assertThrows(CheckpointException.class, () -> Checkpoint.load(empty));
        assertTrue(e.getMessage().contains("(empty file)"), e.getMessage());
        e = assertThrows(CheckpointException.class, () -> Checkpoint.load(dir.resolve("missing.lkm")));
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void aNewerFormatVersionIsRejectedWithBothVersions() throws IOException {
        Path file = trainedCheckpoint(dir.resolve("m.lkm"));
        byte[] b = Files.readAllBytes(file);
        b[11] = 9; // version field, bytes 8..11 big-endian
        Files.write(file, b);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().contains("version 9"), e.getMessage());
    }

    @Test
    void savingReplacesTheFileAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("m.lkm");
        Files.writeString(file, "old");
        trainedCheckpoint(file);
        Checkpoint.load(file);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList());
        }
    }

    @Test
    void aFailedSaveLeavesTheTargetUntouchedAndCleansUp() throws IOException {
        Path target = Files.createDirectories(dir.resolve("occupied"));
        Files.writeString(target.resolve("keep.txt"), "x");
        assertThrows(IOException.class, () -> trainedCheckpoint(target));
        assertTrue(Files.exists(target.resolve("keep.txt")));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(target), s.toList(), "no temporary file left behind");
        }
    }
}
