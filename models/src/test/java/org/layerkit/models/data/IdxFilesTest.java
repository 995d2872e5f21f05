package org.layerkit.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.models.SyntheticData;

class IdxFilesTest {
    @TempDir
    Path dir;

    private static final byte[] PIXELS = {0, (byte) 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, (byte) 128};

    @Test
    void readsPlainAndGzippedFilesDetectingCompressionFromTheBytes() throws IOException {
        byte[] file = SyntheticData.idxImages(PIXELS, 3, 2, 2);
        Path plain = SyntheticData.write(dir.resolve("a-images"), file, false);
        Path gz = SyntheticData.write(dir.resolve("b-images"), file, true); // no .gz suffix on purpose
        for (Path p : new Path[] {plain, gz}) {
            IdxFiles.Idx idx = IdxFiles.readImages(p);
            assertArrayEquals(new int[] {3, 2, 2}, idx.dims());
            assertArrayEquals(PIXELS, idx.data());
        }
    }

    @Test
    void readsADatasetWithPixelsScaledToUnitRange() throws IOException {
        Path img = SyntheticData.write(dir.resolve("img"), SyntheticData.idxImages(PIXELS, 3, 2, 2), true);
        Path lab = SyntheticData.write(dir.resolve("lab"), SyntheticData.idxLabels(new byte[] {9, 0, 4}), false);
        Dataset d = IdxFiles.readDataset("t", img, lab, 10);
        assertEquals(3, d.size());
        assertEquals(4, d.featureCount());
        assertEquals(1f, d.features()[1]);
        // 51/255 is exactly 0.2: one correctly rounded division gives the float nearest 0.2 (EXACT)
        assertEquals(0.2f, d.features()[2]);
        assertArrayEquals(new int[] {9, 0, 4}, d.labels());
    }

    @Test
    void wrongMagicNamesTheFileAndBothMagics() throws IOException {
        Path lab = SyntheticData.write(dir.resolve("labels"), SyntheticData.idxLabels(new byte[] {1, 2}), false);
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.readImages(lab));
        assertTrue(e.getMessage().contains(lab.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("expected 0x00000803"), e.getMessage());
        assertTrue(e.getMessage().contains("found 0x00000801"), e.getMessage());
        assertEquals(lab, e.file());
    }

    @Test
    void truncatedDataNamesExpectedAndFoundSizes() throws IOException {
        byte[] full = SyntheticData.idxImages(PIXELS, 3, 2, 2);
        Path cut = SyntheticData.write(dir.resolve("cut"), Arrays.copyOf(full, full.length - 5), false);
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.readImages(cut));
        assertTrue(e.getMessage().contains("truncated: expected 28 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("found 23"), e.getMessage());
    }

    @Test
    void truncatedGzipStreamIsReportedAsTruncated() throws IOException {
        Path gz = SyntheticData.write(dir.resolve("full.gz"), SyntheticData.idxImages(new byte[4000], 10, 20, 20), true);
        byte[] bytes = Files.readAllBytes(gz);
        Path cut = dir.resolve("cut.gz");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.readImages(cut));
        assertTrue(e.getMessage().startsWith(cut.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void missingFileSaysWhereItLooked() {
        DatasetException e = assertThrows(DatasetException.class, () -> FashionMnist.train(dir.resolve("nowhere")));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte.gz"), e.getMessage());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void imageAndLabelCountsMustAgree() throws IOException {
        Path img = SyntheticData.write(dir.resolve("img"), SyntheticData.idxImages(PIXELS, 3, 2, 2), false);
        Path lab = SyntheticData.write(dir.resolve("lab"), SyntheticData.idxLabels(new byte[] {1, 2}), false);
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.readDataset("t", img, lab, 10));
        assertTrue(e.getMessage().contains("expected 3 labels"), e.getMessage());
        assertTrue(e.getMessage().contains("found 2"), e.getMessage());
    }

    @Test
    void fashionMnistLoaderFindsGzippedAndPlainFilesAndSplitsOffValidation() throws IOException {
        SyntheticData.writeFashionMnistLike(dir, 50, 20, 1);
        DatasetSplits s = FashionMnist.load(dir, 10);
        assertEquals(40, s.train().size());
        assertEquals(10, s.validation().size());
        assertEquals(20, s.test().size());
        assertEquals(784, s.train().featureCount());
    }
}
