package org.layerkit.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;

/** {@link Checkpoint#toBytes} (a model made where no file is written, e.g. on a Spark executor) is the saved file. */
class CheckpointBytesTest {
    @Test
    void theBytesAreTheSavedFileAndReadBack(@TempDir Path dir) throws Exception {
        try (Backend cpu = Backends.get("cpu");
             SequentialNet net = new SequentialNet(cpu, FullyConnectedNetConfig.builder(5, 3).hidden(4)
                     .normalization(Normalization.BATCH).seed(2).build())) {
            Checkpoint c = Checkpoint.of(net, null, Map.of("k", "v"));
            Path file = dir.resolve("m.lkc");
            c.save(file);
            byte[] bytes = c.toBytes(Path.of("in-memory"));
            assertArrayEquals(Files.readAllBytes(file), bytes);
            try (SequentialNet back = Checkpoint.read(bytes, Path.of("in-memory")).toNet(cpu)) {
                net.parameters().forEach((n, p) -> assertArrayEquals(p.value().toArray(),
                        back.parameters().get(n).value().toArray(), n));
            }
            Tensor w = net.parameters().values().iterator().next().value();
            float[] v = w.toArray();
            v[1] = Float.NaN;
            try (Tensor t = cpu.upload(v, w.shape())) {
                cpu.copy(t, w);
            }
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoint.of(net, null, Map.of()).toBytes(Path.of("in-memory")));
            assertTrue(e.getMessage().contains("in-memory") && e.getMessage().contains("refusing to write"),
                    e.getMessage());
        }
    }
}
