package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Tensor;

/**
 * Inverted dropout with Philox4x32-10 masks (mapping and proof of the keep rate in {@code docs/ops/dropout.md}).
 *
 * <p>Element i (row-major) of a call with seed s and offset o: key = (s low 32, s high 32), counter =
 * (⌊i/4⌋ low 32, ⌊i/4⌋ high 32, o low 32, o high 32), word = output i mod 4 of the block; kept iff
 * (word &gt;&gt;&gt; 8) &lt; T with T = {@link DropoutOptions#threshold()}; then mask = scale and out = x·scale,
 * else mask = 0 and out = x·0 (so out = x ⊙ mask, the same float product everywhere). One Philox block serves four
 * consecutive elements, so the work runs over blocks and never calls the per-element helper of
 * {@link org.layerkit.api.Philox4x32}: {@link #BATCH} blocks at a time in structure-of-arrays form, each round a few
 * long-integer loops that C2 vectorizes (AVX-512 multiplies eight 64-bit lanes at once), which measured several times
 * faster than one block at a time.
 */
final class CpuDropout {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final long LO = 0xFFFFFFFFL;
    /** Philox blocks computed together (4 elements each). */
    static final int BATCH = 256;

    private CpuDropout() {
    }

    static DropoutResult forward(CpuBackend be, Tensor x, DropoutOptions o, Mode mode) {
        Contracts.dropoutForward(be, x, o, mode);
        float[] xs = CpuBackend.data(x);
        int size = xs.length;
        CpuTensor out = be.allocate(x.shape());
        CpuTensor mask = be.allocate(x.shape());
        float[] y = out.data();
        float[] m = mask.data();
        if (mode == Mode.EVAL || o.threshold() >= (1 << 24)) {
            // the identity: EVAL, or keep = 1 (every word passes, and the scale is exactly 1)
            System.arraycopy(xs, 0, y, 0, size);
            java.util.Arrays.fill(m, 1f);
            return new DropoutResult(out, mask);
        }
        if (o.start() != 0) {
            // a slice of a larger tensor (data-parallel rows): element i draws global element start + i's word
            maskFrom(o, size, m);
            for (int i = 0; i < size; i++) {
                y[i] = xs[i] * m[i];
            }
            return new DropoutResult(out, mask);
        }
        int threshold = o.threshold();
        int scaleBits = Float.floatToRawIntBits(o.scale());
        int k0 = (int) o.seed();
        int k1 = (int) (o.seed() >>> 32);
        int c2 = (int) o.offset();
        int c3 = (int) (o.offset() >>> 32);
        int blocks = (size + 3) >>> 2;
        CpuParallel.forRows(blocks, 4, (k, from, to) -> {
            CpuScratch s = CpuScratch.get();
            long[][] table = s.longTable(8, BATCH); // two sets of four words, the rounds alternate between them
            for (int base = from; base < to; base += BATCH) {
                int nb = Math.min(BATCH, to - base);
                // step 1: Philox4x32-10 of up to BATCH consecutive blocks at once, lane by lane (vectorized)
                int at = philoxBatch(base, nb, c2, c3, k0, k1, table);
                // step 2: the mask from the top 24 bits of each word; element 4·blk + j takes word j of block blk
                interleaveMasks(table, at, base, nb, size, threshold, scaleBits, m);
                // step 3: out = x ⊙ mask over this batch's elements (its mask still in L1): x·scale when kept, x·0
                // when dropped
                for (int i = base << 2, end = Math.min(size, (base + nb) << 2); i < end; i++) {
                    y[i] = xs[i] * m[i];
                }
            }
        });
        return new DropoutResult(out, mask);
    }

    /**
     * Philox4x32-10 of blocks [base, base + nb) with counter (blk low 32, blk high 32, c2, c3) under key (k0, k1), in
     * structure-of-arrays form, one 32-bit word per long (so the 32×32-bit products are exact 64-bit multiplies).
     * A round maps (x0, x1, x2, x3) to (hi(M1·x2) ⊕ x1 ⊕ k0, lo(M1·x2), hi(M0·x0) ⊕ x3 ⊕ k1, lo(M0·x0)). Words 1 and 3
     * are kept as the whole products Q = M1·x2 and P = M0·x0, whose low halves they are, so each product is formed
     * once, not once for its high and once for its low half: t[at + j][i] holds word j of block base + i for j = 0, 2
     * and a long whose low 32 bits are word j for j = 1, 3. Each round is four loops of one store each, which C2
     * vectorizes; the rounds read t[0..3] and write t[4..7] or the other way round. Returns where the output starts
     * (0 or 4).
     */
    static int philoxBatch(int base, int nb, int c2, int c3, int k0, int k1, long[][] t) {
        long key0 = k0 & LO;
        long key1 = k1 & LO;
        // round 1 on the counter (blk, 0, c2, c3), blk < 2³¹: x2 = c2 and x1 = 0 are the same in every block, so
        // Q and word 0 are constants, and only P = M0·blk varies
        long q = (M1 & LO) * (c2 & LO);
        java.util.Arrays.fill(t[0], 0, nb, (q >>> 32) ^ key0);
        java.util.Arrays.fill(t[1], 0, nb, q);
        long[] p = t[3];
        long m0 = M0 & LO;
        for (int i = 0; i < nb; i++) {
            p[i] = m0 * (base + i);
        }
        long x3 = (c3 & LO) ^ key1;
        long[] x2 = t[2];
        for (int i = 0; i < nb; i++) {
            x2[i] = (p[i] >>> 32) ^ x3;
        }
        int in = 0;
        for (int round = 1; round < 10; round++) {
            int out = 4 - in;
            key0 = (key0 + (W0 & LO)) & LO;
            key1 = (key1 + (W1 & LO)) & LO;
            product(t[out + 1], t[in + 2], M1 & LO, nb);            // Q = M1·x2
            product(t[out + 3], t[in], M0 & LO, nb);                // P = M0·x0
            mix(t[out], t[out + 1], t[in + 1], key0, nb);           // x0 = hi(Q) ⊕ x1 ⊕ k0
            mix(t[out + 2], t[out + 3], t[in + 3], key1, nb);       // x2 = hi(P) ⊕ x3 ⊕ k1
            in = out;
        }
        return in;
    }

    /** dst[i] = m·src[i], the full 64-bit product of two 32-bit words. */
    private static void product(long[] dst, long[] src, long m, int n) {
        for (int i = 0; i < n; i++) {
            dst[i] = m * src[i];
        }
    }

    /** dst[i] = hi32(prod[i]) ⊕ lo32(low[i]) ⊕ key. */
    private static void mix(long[] dst, long[] prod, long[] low, long key, int n) {
        for (int i = 0; i < n; i++) {
            dst[i] = (prod[i] >>> 32) ^ (low[i] & LO) ^ key;
        }
    }

    /**
     * mask[4·(base+i) + j] from words t[at + j][i] (their low 32 bits), for the elements below size. Step 1, in the
     * structure-of-arrays form (four loops C2 vectorizes): the bits of each mask value ({@link #maskBits}) into the
     * other set of the table t[4 − at + j]. Step 2, scalar: the four values of each
     * block to their consecutive elements (a transpose, which does not vectorize), now only moves.
     */
    private static void interleaveMasks(long[][] t, int at, int base, int nb, int size, int threshold, int scaleBits,
                                        float[] m) {
        int bitsAt = 4 - at;
        for (int j = 0; j < 4; j++) {
            maskBits(t[bitsAt + j], t[at + j], threshold, scaleBits & LO, nb);
        }
        long[] b0 = t[bitsAt];
        long[] b1 = t[bitsAt + 1];
        long[] b2 = t[bitsAt + 2];
        long[] b3 = t[bitsAt + 3];
        int full = Math.min(nb, (size >>> 2) - base); // blocks whose four elements all exist
        for (int i = 0; i < full; i++) {
            int e = (base + i) << 2;
            m[e] = Float.intBitsToFloat((int) b0[i]);
            m[e + 1] = Float.intBitsToFloat((int) b1[i]);
            m[e + 2] = Float.intBitsToFloat((int) b2[i]);
            m[e + 3] = Float.intBitsToFloat((int) b3[i]);
        }
        for (int i = Math.max(full, 0); i < nb; i++) {
            int e = (base + i) << 2;
            for (int j = 0; j < 4 && e + j < size; j++) {
                m[e + j] = Float.intBitsToFloat((int) t[bitsAt + j][i]);
            }
        }
    }

    /**
     * dst[i] = the bits of the mask value of the word in src[i]'s low 32 bits: scale's bits when kept, i.e.
     * (word &gt;&gt;&gt; 8) &lt; T, else 0. Both sides of the comparison lie in [0, 2²⁴], so the sign of their
     * difference (spread over the long by &gt;&gt; 63) is the answer — branch-free, since random keep/drop decisions
     * would mispredict a branch half the time.
     */
    private static void maskBits(long[] dst, long[] src, long threshold, long scaleBits, int n) {
        for (int i = 0; i < n; i++) {
            dst[i] = scaleBits & ((((src[i] & LO) >>> 8) - threshold) >> 63);
        }
    }

    /**
     * mask[i] for i &lt; size from global element start + i: Philox4x32-10 with counter (⌊g/4⌋ lo, ⌊g/4⌋ hi,
     * offset lo, offset hi), word g mod 4, g = start + i; the scale where (word &gt;&gt;&gt; 8) &lt; T, else 0.
     * One block per four global elements, computed once; plain scalar code (the data-parallel path, where each
     * replica draws its rows' share of the mask).
     */
    static void maskFrom(DropoutOptions o, int size, float[] mask) {
        int threshold = o.threshold();
        float scale = o.scale();
        int[] w = new int[4];
        long first = o.start();
        long end = first + size;
        for (long blk = first >>> 2; (blk << 2) < end; blk++) {
            org.layerkit.api.Philox4x32.block((int) blk, (int) (blk >>> 32), (int) o.offset(),
                    (int) (o.offset() >>> 32), (int) o.seed(), (int) (o.seed() >>> 32), w);
            for (int j = 0; j < 4; j++) {
                long g = (blk << 2) + j;
                if (g >= first && g < end) {
                    mask[(int) (g - first)] = org.layerkit.api.Philox4x32.kept(w[j], threshold) ? scale : 0f;
                }
            }
        }
    }

    static Tensor backward(CpuBackend be, Tensor dOut, Tensor mask) {
        Contracts.dropoutBackward(be, dOut, mask);
        float[] dy = CpuBackend.data(dOut);
        float[] m = CpuBackend.data(mask);
        CpuTensor dX = be.allocate(dOut.shape());
        float[] dx = dX.data();
        CpuParallel.forRows(dy.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                dx[i] = dy[i] * m[i];
            }
        });
        return dX;
    }
}
