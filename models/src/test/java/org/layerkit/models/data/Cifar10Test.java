package org.layerkit.models.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Cifar10Test {
    @TempDir
    Path dir;

    private static byte[] records(int n, int firstLabel) {
        byte[] b = new byte[n * Cifar10.RECORD];
        for (int r = 0; r < n; r++) {
            b[r * Cifar10.RECORD] = (byte) ((firstLabel + r) % 10);
            b[r * Cifar10.RECORD + 1] = (byte) 255;          // first red pixel
            b[r * Cifar10.RECORD + 1 + 1024] = (byte) 51;    // first green pixel
        }
        return b;
    }

    @Test
    void readsAllSixBatchFilesWithLabelsAndChannelMajorPixels() throws IOException {
        for (int i = 1; i <= 5; i++) {
            Files.write(dir.resolve("data_batch_" + i + ".bin"), records(3, i));
        }
        Files.write(dir.resolve("test_batch.bin"), records(4, 0));
        DatasetSplits s = Cifar10.load(dir, 5);
        assertEquals(10, s.train().size());
        assertEquals(5, s.validation().size());
        assertEquals(4, s.test().size());
        assertEquals(3072, s.train().featureCount());
        assertEquals(1, s.train().labels()[0]);
        assertEquals(1f, s.train().features()[0]);
        // 51/255 is exactly 0.2: one correctly rounded division gives the float nearest 0.2 (EXACT)
        assertEquals(0.2f, s.train().features()[1024]);
    }

    @Test
    void truncatedBatchNamesTheFileAndTheExpectedRecordSize() throws IOException {
        Path f = dir.resolve("data_batch_1.bin");
        byte[] b = records(2, 0);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 100));
        DatasetException e = assertThrows(DatasetException.class, () -> Cifar10.read("t", f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("multiple of 3073"), e.getMessage());
        assertTrue(e.getMessage().contains("found " + (b.length - 100)), e.getMessage());
    }

    @Test
    void aLabelAboveNineMeansTheFileIsNotCifar10() throws IOException {
        Path f = dir.resolve("x.bin");
        byte[] b = records(1, 0);
        b[0] = 77;
        Files.write(f, b);
        DatasetException e = assertThrows(DatasetException.class, () -> Cifar10.read("t", f));
        assertTrue(e.getMessage().contains("found 77"), e.getMessage());
    }

    @Test
    void missingBatchFileIsNamed() {
        DatasetException e = assertThrows(DatasetException.class, () -> Cifar10.load(dir));
        assertTrue(e.getMessage().contains("data_batch_1.bin"), e.getMessage());
    }
}
