package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Shape;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.SolverConfig;

/**
 * What a distributed job ships to its workers (Spark serializes closures and broadcasts with Java serialization)
 * survives the trip unchanged: net specs, optimizer and solver configurations (a checkpoint path included) and data
 * splits with their standardizer.
 */
class SerializableConfigsTest {
    @SuppressWarnings("unchecked")
    static <T> T roundTrip(T value) throws IOException, ClassNotFoundException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(value);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) in.readObject();
        }
    }

    @Test
    void netSpecsOptimizerAndSolverConfigsRoundTrip() throws Exception {
        NetSpec mlp = FullyConnectedNetConfig.builder(20, 4).hidden(32).normalization(Normalization.BATCH)
                .dropoutKeep(0.75).seed(3).build().spec();
        assertEquals(mlp, roundTrip(mlp));
        NetSpec cnn = ConvNetConfig.preset("fashion", Shape.of(1, 28, 28), 10).build().spec();
        assertEquals(cnn, roundTrip(cnn));
        assertEquals(OptimizerConfig.adam(3e-4), roundTrip(OptimizerConfig.adam(3e-4)));
        SolverConfig plain = SolverConfig.builder().epochs(3).batchSize(15).build();
        assertEquals(plain, roundTrip(plain));
        SolverConfig withFile = plain.toBuilder().checkpoint(Path.of("runs", "a b.lkc")).build();
        assertEquals(withFile, roundTrip(withFile));
    }

    @Test
    void datasetSplitsRoundTripWithTheirStandardizer() throws Exception {
        Dataset all = new Dataset("toy/train", new float[] {1, 2, 3, 4, 5, 6, 7, 9}, new int[] {0, 1, 0, 1},
                Shape.of(1, 1, 2), 2);
        DatasetSplits s = DatasetSplits.of(all, all.named("toy/test"), 1).standardized();
        DatasetSplits back = roundTrip(s);
        assertArrayEquals(s.train().features(), back.train().features());
        assertArrayEquals(s.validation().labels(), back.validation().labels());
        assertEquals(s.test().name(), back.test().name());
        assertEquals(Shape.of(1, 1, 2), back.train().exampleShape());
        assertArrayEquals(s.standardizer().mean(), back.standardizer().mean());
        assertArrayEquals(s.standardizer().std(), back.standardizer().std());
    }
}
