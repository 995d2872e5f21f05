package org.layerkit.api;

/**
 * Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11; Random123), the counter-based
 * generator behind dropout masks. Pure integer arithmetic, so every backend reproduces it bit for bit.
 *
 * <p>The dropout mapping: key = (seed low 32, seed high 32); element i of a call with offset o uses counter
 * (⌊i/4⌋ low 32, ⌊i/4⌋ high 32, o low 32, o high 32) and output word i mod 4.
 */
public final class Philox4x32 {
    static final int M0 = 0xD2511F53;
    static final int M1 = 0xCD9E8D57;
    static final int W0 = 0x9E3779B9;
    static final int W1 = 0xBB67AE85;
    private static final long MASK = 0xFFFFFFFFL;

    private Philox4x32() {
    }

    /**
     * Ten rounds on counter (c0..c3) with key (k0,k1); writes the four output words to {@code out[0..3]}.
     */
    public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < 10; round++) {
            if (round > 0) {
                // key schedule: bump the key between rounds
                k0 += W0;
                k1 += W1;
            }
            long p0 = (M0 & MASK) * (c0 & MASK); // M0·c0, 64-bit product
            long p1 = (M1 & MASK) * (c2 & MASK); // M1·c2
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /** The dropout word for element {@code i} of a call with {@code seed} and {@code offset}. */
    public static int dropoutWord(long seed, long offset, long i) {
        int[] out = new int[4];
        long ctr = i >>> 2;
        block((int) ctr, (int) (ctr >>> 32), (int) offset, (int) (offset >>> 32), (int) seed, (int) (seed >>> 32), out);
        return out[(int) (i & 3)];
    }

    /** Whether element {@code i} is kept: (word &gt;&gt;&gt; 8) &lt; threshold, threshold = ⌊keep·2²⁴⌋. */
    public static boolean kept(int word, int threshold) {
        return (word >>> 8) < threshold;
    }
}
