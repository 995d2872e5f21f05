package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Philox4x32;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

class CpuDropoutTest {
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    /** Every mask element equals what the api's per-element Philox helper says, bit for bit. */
    private static void assertMaskMatchesPhilox(DropoutOptions o, float[] x, float[] out, float[] mask, int step) {
        float scale = o.scale();
        // every step-th element, plus the tail (the partly used last Philox block)
        for (int i = 0; i < mask.length;
             i = (i + step < mask.length - 8) ? i + step : Math.max(i + 1, mask.length - 8)) {
            boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(o.seed(), o.offset(), i), o.threshold());
            float em = kept ? scale : 0f;
            float eo = x[i] * em; // out = x ⊙ mask: x·scale, or x·0 (a signed zero)
            if (Float.floatToRawIntBits(em) != Float.floatToRawIntBits(mask[i])
                    || Float.floatToRawIntBits(eo) != Float.floatToRawIntBits(out[i])) {
                fail("dropout.forward [" + mask.length + "] " + o + ": first bad index " + i + ": expected mask " + em
                        + " out " + eo + ", got mask " + mask[i] + " out " + out[i]);
            }
        }
    }

    @Test
    void maskIsBitIdenticalToPhiloxForAnOddSizeAndFullWidthSeedAndOffset() {
        Shape s = Shape.of(7, 143); // 1001 elements: the last Philox block is partly used
        float[] x = Numerics.gaussian(new Random(1), s.size(), 0, 1);
        DropoutOptions o = new DropoutOptions(0.6, 0x1234_5678_9ABC_DEF0L, 0xFEDC_BA98_0000_0007L);
        try (Tensor tx = be.upload(x, s); DropoutResult r = be.dropoutForward(tx, o, Mode.TRAIN)) {
            assertMaskMatchesPhilox(o, x, r.out().toArray(), r.mask().toArray(), 1);
        }
    }

    @Test
    void maskOnTheParallelPathIsBitIdenticalToPhilox() {
        Shape s = Shape.of(1000, 333);
        float[] x = Numerics.gaussian(new Random(2), s.size(), 0, 1);
        DropoutOptions o = new DropoutOptions(0.37, 99L, 5L);
        try (Tensor tx = be.upload(x, s); DropoutResult r = be.dropoutForward(tx, o, Mode.TRAIN)) {
            assertMaskMatchesPhilox(o, x, r.out().toArray(), r.mask().toArray(), 7);
        }
    }

    @Test
    void keepRateIsWithinSixSigmaOfTheBinomialMean() {
        int n = 1 << 20;
        for (double keep : new double[] {0.1, 0.5, 0.9}) {
            try (Tensor tx = be.zeros(Shape.of(n)); DropoutResult r = be.dropoutForward(tx,
                    new DropoutOptions(keep, 2024L, 3L), Mode.TRAIN)) {
                float[] m = r.mask().toArray();
                float scale = (float) (1.0 / keep);
                long kept = 0;
                for (float v : m) {
                    if (v == scale) {
                        kept++;
                    } else if (v != 0f) {
                        fail("dropout mask element " + v + " is neither 0 nor scale " + scale);
                    }
                }
                double mean = n * keep;
                double sd = Math.sqrt(n * keep * (1 - keep));
                // DROPOUT_KEEP_RATE: Philox masks are integer arithmetic, the same on every machine; 6σ is the
                // generator's statistical check (a fair generator lands outside with probability 2e-9)
                assertTrue(Math.abs(kept - mean) < 6 * sd, "keep " + keep + ": kept " + kept + " of " + n
                        + ", expected " + mean + " ± " + 6 * sd + " (DROPOUT_KEEP_RATE)");
            }
        }
    }

    @Test
    void differentOffsetsGiveDifferentMasksAndTheSameOffsetTheSameMask() {
        Shape s = Shape.of(4096);
        try (Tensor tx = be.upload(new float[4096], s);
             DropoutResult a = be.dropoutForward(tx, new DropoutOptions(0.5, 7, 0), Mode.TRAIN);
             DropoutResult b = be.dropoutForward(tx, new DropoutOptions(0.5, 7, 0), Mode.TRAIN);
             DropoutResult c = be.dropoutForward(tx, new DropoutOptions(0.5, 7, 1), Mode.TRAIN)) {
            assertArrayEquals(a.mask().toArray(), b.mask().toArray());
            assertTrue(!java.util.Arrays.equals(a.mask().toArray(), c.mask().toArray()),
                    "offset 1 must give a different mask than offset 0");
        }
    }

    @Test
    void evalAndKeepOneAreTheIdentityWithAMaskOfOnes() {
        Shape s = Shape.of(3, 5);
        float[] x = Numerics.gaussian(new Random(3), 15, 0, 1);
        float[] ones = new float[15];
        java.util.Arrays.fill(ones, 1f);
        try (Tensor tx = be.upload(x, s);
             DropoutResult eval = be.dropoutForward(tx, new DropoutOptions(0.3, 1, 0), Mode.EVAL);
             DropoutResult keep1 = be.dropoutForward(tx, new DropoutOptions(1.0, 1, 0), Mode.TRAIN)) {
            assertArrayEquals(x, eval.out().toArray());
            assertArrayEquals(ones, eval.mask().toArray());
            assertArrayEquals(x, keep1.out().toArray());
            assertArrayEquals(ones, keep1.mask().toArray());
            assertTrue(eval.out() != tx, "EVAL returns a copy, not the input");
        }
    }

    @Test
    void backwardMultipliesByTheMask() {
        Shape s = Shape.of(2, 9);
        float[] x = Numerics.gaussian(new Random(4), 18, 0, 1);
        float[] dOut = Numerics.gaussian(new Random(5), 18, 0, 1);
        try (Tensor tx = be.upload(x, s); Tensor td = be.upload(dOut, s);
             DropoutResult r = be.dropoutForward(tx, new DropoutOptions(0.5, 11, 2), Mode.TRAIN);
             Tensor dx = be.dropoutBackward(td, r.mask())) {
            float[] m = r.mask().toArray();
            float[] got = dx.toArray();
            for (int i = 0; i < 18; i++) {
                assertEquals(dOut[i] * m[i], got[i], 0f, "dX[" + i + "]");
            }
        }
    }
}
