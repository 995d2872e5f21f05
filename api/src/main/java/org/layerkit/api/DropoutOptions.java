package org.layerkit.api;

/**
 * Inverted dropout parameters.
 *
 * @param keep   probability that an element is kept, in (0,1] (CS231N's {@code p}; PyTorch's 1−p)
 * @param seed   64-bit Philox key: key = (seed low 32 bits, seed high 32 bits)
 * @param offset counter words 2–3 of Philox; a dropout layer advances it by one per training call
 * @param start  the global index of the tensor's first element (row-major): element i draws the word of element
 *               start + i, so a slice of rows [r, r + n) of a batch with rows of size s, given start = r·s, draws
 *               exactly the mask that the whole batch draws for those rows (data-parallel training splits batches
 *               this way); 0 for a whole tensor. For spatial dropout it counts planes (n·C + c), not elements.
 */
public record DropoutOptions(double keep, long seed, long offset, long start) {

    /** Options for a whole tensor: {@code start = 0}. */
    public DropoutOptions(double keep, long seed, long offset) {
        this(keep, seed, offset, 0);
    }

    /**
     * The integer threshold T = ⌊keep·2²⁴⌋: element i is kept iff (Philox word &gt;&gt;&gt; 8) &lt; T. Computed once on
     * the host so every backend compares the same integer.
     */
    public int threshold() {
        return (int) Math.floor(keep * (1 << 24));
    }

    /** The survivor scale, {@code (float) (1/keep)}: kept elements are multiplied by exactly this float. */
    public float scale() {
        return (float) (1.0 / keep);
    }

    public DropoutOptions withOffset(long o) {
        return new DropoutOptions(keep, seed, o, start);
    }

    public DropoutOptions withStart(long s) {
        return new DropoutOptions(keep, seed, offset, s);
    }
}
