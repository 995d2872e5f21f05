package org.layerkit.models.checkpoint;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.layerkit.api.Shape;
import org.layerkit.models.FullyConnectedNetConfig;

/**
 * A second process for {@link CheckpointFaultsTest}, started as {@code java -cp <test class path> SaveWorker …}:
 * <ul>
 *   <li>{@code save TARGET MARKER COUNT}: saves {@link #marked} checkpoints to TARGET COUNT times;
 *   <li>{@code hold TARGET}: a writer caught mid-save — creates its temporary file as a save does, writes half a
 *       file into it, prints {@code ready} and waits (until killed).
 * </ul>
 */
public final class SaveWorker {
    /** Floats per checkpoint: 4 MiB, so that a save takes long enough to overlap with another. */
    static final int FLOATS = 1 << 20;

    private SaveWorker() {
    }

    /** A checkpoint whose tensor holds {@code marker} everywhere and whose metadata names it. */
    static Checkpoint marked(float marker) {
        float[] data = new float[FLOATS];
        Arrays.fill(data, marker);
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(1024, 1024).build();
        return new Checkpoint(c.spec(), Map.of("0.W", new HostTensor(Shape.of(1024, 1024), data)), Map.of(), null, null,
                Map.of("marker", Float.toString(marker)));
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        Path target = Path.of(args[1]);
        switch (args[0]) {
            case "save" -> {
                Checkpoint c = marked(Float.parseFloat(args[2]));
                for (int i = 0, n = Integer.parseInt(args[3]); i < n; i++) {
                    c.save(target);
                }
            }
            case "hold" -> {
                Path tmp = SaveTemps.create(target.toAbsolutePath());
                try (OutputStream out = Files.newOutputStream(tmp)) {
                    out.write(new byte[FLOATS * 2]);
                    out.flush();
                    System.out.println("ready " + tmp.getFileName());
                    System.out.flush();
                    Thread.sleep(120_000);
                }
            }
            default -> throw new IllegalArgumentException(args[0]);
        }
    }
}
