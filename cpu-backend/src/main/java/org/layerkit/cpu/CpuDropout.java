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
 * consecutive elements, so the loop below runs over blocks and never calls the per-element helper of
 * {@link org.layerkit.api.Philox4x32}.
 */
final class CpuDropout {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final long LO = 0xFFFFFFFFL;

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
        int threshold = o.threshold();
        int scaleBits = Float.floatToRawIntBits(o.scale());
        int k0 = (int) o.seed();
        int k1 = (int) (o.seed() >>> 32);
        int c2 = (int) o.offset();
        int c3 = (int) (o.offset() >>> 32);
        int blocks = (size + 3) >>> 2;
        CpuParallel.forRows(blocks, 4, (k, from, to) -> {
            // step 1: one Philox block per four elements; the mask from the top 24 bits of each word
            int[] w = new int[4];
            for (long blk = from; blk < to; blk++) {
                philox(blk, c2, c3, k0, k1, w);
                int base = (int) (blk << 2);
                for (int j = 0, n = Math.min(4, size - base); j < n; j++) {
                    m[base + j] = maskValue(w[j], threshold, scaleBits);
                }
            }
            // step 2: out = x ⊙ mask over this chunk's elements: x·scale when kept, x·0 when dropped
            for (int i = from << 2, end = Math.min(size, to << 2); i < end; i++) {
                y[i] = xs[i] * m[i];
            }
        });
        return new DropoutResult(out, mask);
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

    /**
     * {@code scale} when the element is kept, i.e. (word &gt;&gt;&gt; 8) &lt; T, else 0f. Both sides of the comparison
     * lie in [0, 2²⁴], so the sign of their difference is the answer: all ones when kept, zero when dropped —
     * branch-free, since random keep/drop decisions would mispredict a branch half the time.
     */
    static float maskValue(int word, int threshold, int scaleBits) {
        int keptBits = ((word >>> 8) - threshold) >> 31;
        return Float.intBitsToFloat(scaleBits & keptBits);
    }

    /**
     * Philox4x32-10 of counter (blk low 32, blk high 32, c2, c3) under key (k0, k1), into {@code out[0..3]}: ten
     * rounds, the key bumped by the Weyl constants between rounds. Identical to
     * {@link org.layerkit.api.Philox4x32#block}, inlined here to keep the hot loop free of calls and allocations.
     */
    static void philox(long blk, int c2, int c3, int k0, int k1, int[] out) {
        int c0 = (int) blk;
        int c1 = (int) (blk >>> 32);
        for (int round = 0; round < 10; round++) {
            if (round > 0) {
                k0 += W0;
                k1 += W1;
            }
            long p0 = (M0 & LO) * (c0 & LO);
            long p1 = (M1 & LO) * (c2 & LO);
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
}
