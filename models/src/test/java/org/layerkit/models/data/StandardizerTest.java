package org.layerkit.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class StandardizerTest {
    @Test
    void statisticsComeFromTheTrainingSplitAloneAndApplyToEverySplit() {
        Dataset train = new Dataset("t/train", new float[] {1, 5, 3, 5}, new int[] {0, 1}, 2, 2);
        Dataset val = new Dataset("t/val", new float[] {2, 7}, new int[] {1}, 2, 2);
        Dataset test = new Dataset("t/test", new float[] {100, 5}, new int[] {0}, 2, 2);
        DatasetSplits s = new DatasetSplits(train, val, test).standardized();
        // feature 0: mean 2, std 1; feature 1 is constant 5 → std treated as 1. Small integers: the mean, the
        // standard deviation, every difference and quotient are exact in float and double (EXACT)
        assertArrayEquals(new float[] {-1, 0, 1, 0}, s.train().features(), 0f);
        assertArrayEquals(new float[] {0, 2}, s.validation().features(), 0f);
        assertArrayEquals(new float[] {98, 0}, s.test().features(), 0f);
        assertArrayEquals(new int[] {1}, s.validation().labels());
    }

    @Test
    void validationIsTheTailOfTheTrainingFile() {
        Dataset all = new Dataset("x/train", new float[] {0, 1, 2, 3, 4}, new int[] {0, 1, 0, 1, 0}, 1, 2);
        DatasetSplits s = DatasetSplits.of(all, all.slice(0, 1), 2);
        assertArrayEquals(new float[] {0, 1, 2}, s.train().features());
        assertArrayEquals(new float[] {3, 4}, s.validation().features());
        assertEquals("x/val", s.validation().name());
    }
}
