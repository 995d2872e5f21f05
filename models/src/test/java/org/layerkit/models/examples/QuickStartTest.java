package org.layerkit.models.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.models.SyntheticData;

/** The library snippet runs end to end on a small generated Fashion-MNIST-shaped directory. */
class QuickStartTest {
    @TempDir
    Path dir;

    @Test
    void theLibrarySnippetTrainsAndEvaluatesOnGeneratedFashionMnistFiles() throws IOException {
        SyntheticData.writeFashionMnistLike(dir, 5000 + 768, 300, 4);
        double accuracy = QuickStart.run(dir, 2);
        // TRAINING_OUTCOME (docs/tolerances.md): learning, not rounding; run on every matrix leg
        assertTrue(accuracy > 0.5, "test accuracy " + accuracy + " on an easy synthetic task (TRAINING_OUTCOME)");
    }

    @Test
    void theTrainingExampleParsesItsOptionsAndRejectsUnknownOnes() {
        FashionMnistTraining.Options o = FashionMnistTraining.Options.parse(
                new String[] {"--hidden=64,32", "--norm=layer", "--keep=1", "--epochs=3", "--optimizer=sgd_momentum"});
        assertTrue(o.net().hiddenDims().equals(java.util.List.of(64, 32)));
        assertTrue(o.solver().epochs() == 3);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> FashionMnistTraining.Options.parse(new String[] {"--epoch=3"}));
        assertTrue(e.getMessage().contains("--epoch"), e.getMessage());
    }
}
