package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;

/**
 * The CPU backend's size arithmetic, in one place so that it can be tested at the 2³¹ boundary without allocating
 * gigabytes. The rules every CPU kernel follows:
 * <ol>
 *   <li>A tensor is one Java {@code float[]} of at most {@link Contracts#MAX_ELEMENTS} = 2³¹ − 2¹⁶ elements, the
 *       limit of every backend; {@link Shape} accepts up to 2³¹ − 9, and {@link #elements} refuses the rest at
 *       allocation with a message naming the op, the shape and the limit.</li>
 *   <li>Indices into a tensor are then {@code int}s, and a loop {@code for (i = from; i < end; i += step)} cannot
 *       overflow as long as {@code step ≤ }{@link #LOOP_HEADROOM} (2¹⁶): its last {@code i + step} stays below
 *       2³¹ − 1. Every block and vector step of the kernels is far smaller (tested).</li>
 *   <li>A product of dimensions that is not the size of an existing tensor (scratch of {@code 3·D} or
 *       {@code 2·N·C} doubles, per-chunk partials) is formed in {@code long} by {@link #length}, which refuses with a
 *       message what no array can hold; once a length is checked, indices below it are safe in {@code int}.</li>
 *   <li>Per-chunk partial arrays are kept small by {@link #partialChunks}, so that splitting rows over threads never
 *       multiplies a wide tensor's column scratch by the chunk count.</li>
 * </ol>
 */
final class CpuSizes {
    /** Room left below 2³¹ − 1 for the step of a loop over a tensor's elements. */
    static final int LOOP_HEADROOM = 1 << 16;
    /** The most elements of a CPU tensor (and of any scratch array): 2³¹ − 2¹⁶. */
    static final int MAX_ELEMENTS = Contracts.MAX_ELEMENTS;
    /** Doubles of per-chunk column partials beyond which rows are split into fewer chunks (16 MiB). */
    static final long PARTIAL_LIMIT = 1L << 21;

    private CpuSizes() {
    }

    /** The element count of a new tensor of {@code shape}; refuses one larger than {@link #MAX_ELEMENTS}. */
    static int elements(String op, Shape shape) {
        return Contracts.requireStorable(op, shape);
    }

    /**
     * {@code n}, the length of an array that {@code op} on input {@code shape} needs for {@code what}, as an int;
     * refuses a length above {@link #MAX_ELEMENTS} with a message naming all of them.
     */
    static int length(String op, Shape shape, String what, long n) {
        if (n < 0 || n > MAX_ELEMENTS) {
            throw Contracts.bad(op, "x", "a shape whose " + what + " fit in one Java array (at most " + MAX_ELEMENTS
                    + " elements)", shape + ", which needs " + n);
        }
        return (int) n;
    }

    /**
     * How many row chunks a kernel that keeps {@code perChunk} doubles of partials per chunk (2·D for column sums)
     * splits {@code rows} rows of {@code elementsPerRow} elements into: {@link CpuParallel#chunks}, reduced so that
     * all chunks' partials together stay within {@link #PARTIAL_LIMIT} doubles (or one chunk's, if that is more).
     */
    static int partialChunks(int rows, long elementsPerRow, long perChunk) {
        int chunks = CpuParallel.chunks(rows, elementsPerRow);
        if (chunks > 1 && chunks * perChunk > PARTIAL_LIMIT) {
            chunks = (int) Math.max(1, PARTIAL_LIMIT / Math.max(1, perChunk));
        }
        return chunks;
    }
}
