package org.layerkit.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.optim.Optimizer;

/**
 * A checkpoint of format 1, written by the code before the one sequential net ({@code FullyConnectedNet}; the file is
 * checked in, see {@code src/test/resources/checkpoints/README.md}), still loads: its configuration becomes the same
 * {@code SequentialNet}, every tensor, counter and optimizer state arrives under the net's name with its bits
 * unchanged, and re-saving writes the current format.
 */
class LegacyCheckpointTest {
    @TempDir
    Path dir;

    private static Backend backend;
    private static byte[] file;

    @BeforeAll
    static void open() throws IOException {
        backend = Backends.get("cpu");
        try (InputStream in = LegacyCheckpointTest.class.getResourceAsStream("/checkpoints/legacy-v1-mlp.lkm")) {
            file = in.readAllBytes();
        }
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    private static final FullyConnectedNetConfig CONFIG = FullyConnectedNetConfig.builder(6, 3).hidden(7, 5)
            .normalization(Normalization.BATCH).dropoutKeep(0.75).heInit().reg(0.01).seed(11).build();

    @Test
    void aFormatOneFileLoadsAsTheSameNetWithEveryTensorUnderItsNewName() throws IOException {
        assertEquals(Checkpoint.LEGACY_VERSION, ByteBuffer.wrap(file, 8, 4).getInt(), "the resource is format 1");
        Path p = dir.resolve("old.lkm");
        Files.write(p, file);
        Checkpoint c = Checkpoint.load(p);
        assertEquals(CONFIG.spec(), c.spec());

        // the file's own names and bits, read independently of Checkpoint
        Map<String, float[]> raw = rawTensors(CheckpointBytes.sections(file).get("TENS"));
        assertEquals(List.of("W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3",
                "running_mean1", "running_var1", "running_mean2", "running_var2"), List.copyOf(raw.keySet()));
        Map<String, String> names = CONFIG.legacyNames();
        raw.forEach((old, data) -> assertArrayEquals(data, c.tensors().get(names.get(old)).data(), old));
        assertEquals(Map.of("1.batches_tracked", 3L, "3.offset", 3L, "5.batches_tracked", 3L, "7.offset", 3L),
                c.counters());
        Map<String, float[]> rawState = rawOptimizerState(CheckpointBytes.sections(file).get("OPTM"));
        assertEquals(20, rawState.size(), "m and v of 10 parameters");
        rawState.forEach((old, data) -> {
            int dot = old.indexOf('.');
            String now = names.get(old.substring(0, dot)) + old.substring(dot);
            assertArrayEquals(data, c.optimizer().state().get(now).data(), old + " as " + now);
        });
        assertEquals(3, c.optimizer().step());
        assertArrayEquals(new float[] {1f, 2f, 0.5f, 1f, 1.5f, 3f}, c.standardizer().std());
        assertEquals(3, c.epochsCompleted());

        try (SequentialNet net = c.toNet(backend); Optimizer adam = c.toOptimizer(net)) {
            assertEquals(3, adam.stepCount());
            assertEquals(3L, net.counters().get("7.offset"));
            assertArrayEquals(raw.get("gamma2"), net.parameters().get("5.gamma").value().toArray());
            assertArrayEquals(raw.get("running_var1"), net.buffers().get("1.running_var").toArray());
            // saving writes format 2 with the net's names; it loads back to the same checkpoint
            Path again = dir.resolve("new.lkm");
            Checkpoint.of(net, adam, c.standardizer(), c.metadata()).save(again);
            assertEquals(Checkpoint.VERSION, ByteBuffer.wrap(Files.readAllBytes(again), 8, 4).getInt());
            Checkpoint d = Checkpoint.load(again);
            assertEquals(c.spec(), d.spec());
            assertEquals(c.tensors().keySet(), d.tensors().keySet());
            c.tensors().forEach((k, t) -> assertArrayEquals(t.data(), d.tensors().get(k).data(), k));
            assertEquals(c.counters(), d.counters());
            assertTrue(d.optimizer().state().keySet().containsAll(List.of("0.W.m", "8.b.v")), d.optimizer().state()
                    .keySet()::toString);
        }
    }

    private static Map<String, float[]> rawTensors(byte[] body) {
        return tensorList(ByteBuffer.wrap(body));
    }

    /** OPTM: a string map, the i64 step, then a tensor list. */
    private static Map<String, float[]> rawOptimizerState(byte[] body) {
        ByteBuffer b = ByteBuffer.wrap(body);
        int n = b.getInt();
        for (int i = 0; i < 2 * n; i++) {
            string(b);
        }
        b.getLong();
        return tensorList(b);
    }

    private static Map<String, float[]> tensorList(ByteBuffer b) {
        Map<String, float[]> m = new LinkedHashMap<>();
        int n = b.getInt();
        for (int i = 0; i < n; i++) {
            String name = string(b);
            int rank = b.get() & 0xff;
            int size = 1;
            for (int r = 0; r < rank; r++) {
                size *= b.getInt();
            }
            float[] data = new float[size];
            b.asFloatBuffer().get(data);
            b.position(b.position() + 4 * size);
            m.put(name, data);
        }
        return m;
    }

    private static String string(ByteBuffer b) {
        byte[] s = new byte[b.getInt()];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
