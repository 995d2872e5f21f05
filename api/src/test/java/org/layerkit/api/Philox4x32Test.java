package org.layerkit.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class Philox4x32Test {
    private static int[] run(int c0, int c1, int c2, int c3, int k0, int k1) {
        int[] out = new int[4];
        Philox4x32.block(c0, c1, c2, c3, k0, k1, out);
        return out;
    }

    @Test
    void matchesRandom123KnownAnswerForZeroCounterAndKey() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, run(0, 0, 0, 0, 0, 0));
    }

    @Test
    void matchesRandom123KnownAnswerForAllOnes() {
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, run(-1, -1, -1, -1, -1, -1));
    }

    @Test
    void matchesRandom123KnownAnswerForPiDigits() {
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                run(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
    }

    @Test
    void dropoutWordUsesCounterOfIndexOverFourAndWordIndexModFour() {
        long seed = 0x0123456789abcdefL;
        long offset = 0x1_0000_0002L;
        int[] out = run(1, 0, 2, 1, 0x89abcdef, 0x01234567);
        for (int w = 0; w < 4; w++) {
            assertEquals(out[w], Philox4x32.dropoutWord(seed, offset, 4 + w));
        }
    }

    @Test
    void thresholdIsFloorOfKeepTimesTwoToThe24() {
        assertEquals(1 << 24, new DropoutOptions(1.0, 0, 0).threshold());
        assertEquals(1 << 23, new DropoutOptions(0.5, 0, 0).threshold());
        assertEquals((int) Math.floor(0.3 * (1 << 24)), new DropoutOptions(0.3, 0, 0).threshold());
    }
}
