package org.layerkit.models.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.models.SyntheticData;

class DatasetsTest {
    @TempDir
    Path dir;

    @Test
    void loadsByNameWithTheUsualDirectoriesAndSplits() throws IOException {
        SyntheticData.writeFashionMnistLike(dir, 30, 10, 2);
        DatasetSplits s = Datasets.load("MNIST", dir, 5);
        assertEquals(25, s.train().size());
        assertEquals(Path.of("/usr/share/datasets/fashion-mnist"), Datasets.defaultDir("fashion_mnist"));
        assertEquals(1000, Datasets.defaultValidation("CIFAR-10"));
        assertEquals(5000, Datasets.defaultValidation("fashion-mnist"));
    }

    @Test
    void anUnknownNameListsTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Datasets.load("imagenet", dir, 1));
        assertTrue(e.getMessage().contains("[fashion-mnist, mnist, cifar10]"), e.getMessage());
    }
}
