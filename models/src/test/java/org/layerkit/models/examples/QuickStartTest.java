package org.layerkit.models.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
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
    void theCnnSnippetTrainsAndEvaluatesOnGeneratedFashionMnistFiles() throws IOException {
        SyntheticData.writeFashionMnistLike(dir, 5000 + 768, 300, 5);
        double accuracy = QuickStart.runCnn(dir, 1);
        assertTrue(accuracy > 0.5, "test accuracy " + accuracy + " on an easy synthetic task");
    }

    /** The README and docs/library-snippet.md show the compiled snippets, character for character. */
    @Test
    void theDocsShowTheCompiledSnippets() throws IOException {
        String code = Files.readString(Path.of("src/main/java/org/layerkit/models/examples/QuickStart.java"));
        String readme = Files.readString(Path.of("../README.md"));
        String page = Files.readString(Path.of("../docs/library-snippet.md"));
        for (String name : new String[] {"snippet", "cnn snippet"}) {
            String body = code.substring(code.indexOf("// --- " + name + " start\n") + ("// --- " + name
                    + " start\n").length(), code.indexOf("        // --- " + name + " end"));
            String shown = body.lines().map(l -> l.length() >= 8 ? l.substring(8) : l.strip())
                    .collect(java.util.stream.Collectors.joining("\n"));
            assertTrue(readme.contains(shown), "README.md lacks the " + name + " of QuickStart:\n" + shown);
            assertTrue(page.contains(shown), "docs/library-snippet.md lacks the " + name + " of QuickStart:\n" + shown);
        }
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
