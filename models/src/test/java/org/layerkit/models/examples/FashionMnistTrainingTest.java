package org.layerkit.models.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.data.DatasetSplits;

/** {@code --synthetic=N}: a timing run of the Fashion-MNIST net on generated data, and {@code --loss-every}. */
class FashionMnistTrainingTest {

    @Test
    void aSyntheticRunTrainsOnGeneratedDataAndReportsSecondsPerEpochWithoutAnAccuracy() throws IOException {
        FashionMnistTraining.Options o = FashionMnistTraining.Options.parse(
                new String[] {"--synthetic=512", "--epochs=1", "--val=200", "--loss-every=2"});
        DatasetSplits data = FashionMnistTraining.load(o);
        assertEquals(512, data.train().size());
        assertEquals(784, data.train().featureCount());
        assertEquals(200, data.validation().size());
        assertEquals(0, data.test().size());
        assertTrue(data.standardizer() != null, "standardized on the training split, as the real path");

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        FashionMnistTraining.Result r;
        try (Backend cpu = Backends.get("cpu"); PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            r = FashionMnistTraining.run(cpu, data, o, out);
        }
        String printed = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("TIMING RUN on synthetic data: 512 training examples"), printed);
        assertTrue(printed.contains("accuracies below are meaningless"), printed);
        // the real run's epoch line, as bench/compare.sh reads it
        assertTrue(Pattern.compile("\\(Epoch 1 / 1\\).*?; [0-9.]+ s").matcher(printed).find(), printed);
        assertTrue(printed.matches("(?s).*timing run \\(synthetic data.*\\): [0-9.]+ s/epoch \\(training steps\\).*"),
                printed);
        assertFalse(printed.contains("test acc"), "no accuracy reported as a result: " + printed);
        assertTrue(Double.isNaN(r.testAccuracy()));
        assertTrue(r.secondsPerEpoch() > 0);
        // 512 / 128 = 4 iterations, the loss read at iterations 2 and 4
        assertEquals(2, r.history().losses().size());
    }

    @Test
    void syntheticDataIsFixedByTheSeedAndExcludesTheDataOption() throws IOException {
        FashionMnistTraining.Options o = FashionMnistTraining.Options.parse(new String[] {"--synthetic=300", "--val=0"});
        DatasetSplits a = FashionMnistTraining.load(o);
        DatasetSplits b = FashionMnistTraining.load(o);
        assertArrayEquals(a.train().features(), b.train().features());
        assertArrayEquals(a.train().labels(), b.train().labels());
        int[] perClass = new int[10];
        for (int y : a.train().labels()) {
            perClass[y]++;
        }
        for (int c = 0; c < 10; c++) {
            assertTrue(perClass[c] > 0, "every class drawn: class " + c);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FashionMnistTraining.Options.parse(new String[] {"--synthetic=300", "--data=/tmp"}));
        assertTrue(e.getMessage().contains("--data"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> FashionMnistTraining.Options.parse(new String[] {"--synthetic=-5"}));
    }

    @Test
    void theLossIsReadEveryTenIterationsUnlessLossEverySaysOtherwise() {
        assertEquals(10, FashionMnistTraining.Options.parse(new String[0]).solver().lossEvery());
        assertEquals(50, FashionMnistTraining.Options.parse(new String[] {"--loss-every=50"}).solver().lossEvery());
        assertThrows(IllegalArgumentException.class,
                () -> FashionMnistTraining.Options.parse(new String[] {"--loss-every=0"}).solver());
    }
}
