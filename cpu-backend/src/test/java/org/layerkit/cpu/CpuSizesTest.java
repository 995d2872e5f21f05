package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.api.BackendException;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;

/**
 * The CPU backend's size arithmetic at the 2³¹ boundary, without allocating gigabytes: what {@link Shape} accepts
 * either fits the arithmetic or is refused with a message naming the op, the shape and the limit (issue 19: CPU
 * batch norm TRAIN on [8, 2²⁷] died with NegativeArraySizeException from {@code chunks * 2 * d}).
 */
class CpuSizesTest {
    private static final int MAX = Integer.MAX_VALUE;

    @Test
    void theLargestStorableTensorLeavesRoomForEveryLoopStep() {
        assertEquals((1L << 31) - (1L << 16), Contracts.MAX_ELEMENTS);
        // a loop over [0, MAX_ELEMENTS) stepping by at most LOOP_HEADROOM never passes 2^31 − 1
        assertTrue((long) CpuSizes.MAX_ELEMENTS - 1 + CpuSizes.LOOP_HEADROOM <= MAX);
        // every step the kernels take over a tensor's elements is within it
        int[] steps = {CpuNormKernels.STATS_BLOCK, CpuNormKernels.BLOCK_ROWS, CpuLoops.FOLD_MIN, CpuLoops.FUSED_WIDE,
            4 * CpuDropout.BATCH, CpuParallel.MIN_PARALLEL_ELEMENTS, 1024 /* rowsPerBlock's rows · D */, 64};
        for (int s : steps) {
            assertTrue(s <= CpuSizes.LOOP_HEADROOM, "a loop step of " + s + " exceeds the headroom");
        }
    }

    @Test
    void shapesBeyondTheLimitAreRefusedAtAllocationWithOpShapeAndLimit() {
        Shape largest = Shape.of(2, (CpuSizes.MAX_ELEMENTS) / 2);
        assertEquals(CpuSizes.MAX_ELEMENTS, CpuSizes.elements("zeros", largest));
        Shape over = Shape.of(MAX - 8); // Shape's own limit: accepted by Shape, refused here
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CpuSizes.elements("zeros", over));
        assertEquals("zeros: shape expected at most 2147418112 elements (2^31 - 2^16, the largest tensor of any "
                + "backend), got [2147483639] = 2147483639 elements", e.getMessage());
        try (CpuBackend be = new CpuBackend()) {
            e = assertThrows(IllegalArgumentException.class, () -> be.zeros(Shape.of(8, (1 << 28) - 2)));
            assertTrue(e.getMessage().startsWith("zeros: shape expected at most 2147418112 elements"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> be.upload(new float[1], Shape.of(8, (1 << 28) - 2)));
            assertTrue(e.getMessage().startsWith("upload: data expected length"), e.getMessage());
            assertEquals(0, be.liveTensors(), "nothing was allocated");
        }
    }

    @Test
    void aTensorLargerThanTheHeapIsRefusedWithItsSizeNotAnOutOfMemoryError() {
        long bytes = (long) CpuSizes.MAX_ELEMENTS * Float.BYTES;
        assumeTrue(Runtime.getRuntime().maxMemory() < bytes, "this JVM's heap could hold 8 GiB");
        BackendException e = assertThrows(BackendException.class, () -> CpuMemoryPool.fresh(CpuSizes.MAX_ELEMENTS));
        assertTrue(e.getMessage().startsWith("cpu: out of memory: a tensor of 2147418112 floats needs 8.00 GiB, more "
                + "than the Java heap may ever hold"), e.getMessage());
    }

    @Test
    void scratchLengthsAreFormedInLongAndRefusedWhenNoArrayHoldsThem() {
        Shape x = Shape.of(2, 1 << 29);
        // 3·D doubles of batch-norm statistics: 3·(2^29) fits, 3·(2^30 − 2^16) does not
        assertEquals(3 * (1 << 29), CpuSizes.length("batchnorm.forward", x, "3·D doubles of statistics", 3L << 29));
        long tooMany = 3L * (CpuSizes.MAX_ELEMENTS / 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CpuSizes.length("batchnorm.forward", Shape.of(2, CpuSizes.MAX_ELEMENTS / 2),
                        "3·D doubles of statistics", tooMany));
        assertEquals("batchnorm.forward: x expected a shape whose 3·D doubles of statistics fit in one Java array "
                + "(at most 2147418112 elements), got [2,1073709056], which needs 3221127168", e.getMessage());
        // 2·N·C slab statistics of a spatial batch norm with H = W = 1: twice the tensor
        assertThrows(IllegalArgumentException.class, () -> CpuSizes.length("spatial_batchnorm.forward",
                Shape.of(1 << 15, 1 << 15, 1, 1), "2·N·C doubles", 2L << 30));
    }

    @Test
    void wideRowsAreSplitIntoFewChunksSoThatColumnPartialsStaySmall() {
        // the issue's [8, 2^27]: as many chunks as threads allow would need chunks·2·D doubles, 2^31 for 8 chunks
        int d = 1 << 27;
        int chunks = CpuSizes.partialChunks(8, d, 2L * d);
        assertEquals(1, chunks);
        long part = 2L * chunks * d;
        assertTrue(part <= CpuSizes.MAX_ELEMENTS, part + " doubles of partials");
        // and the index of the last chunk's partials, k·2·D, stays an int
        assertTrue((long) (chunks - 1) * 2 * d + 2L * d <= MAX);
        // ordinary shapes keep their chunks (the same count as before, for speed)
        assertEquals(CpuParallel.chunks(4096, 1024), CpuSizes.partialChunks(4096, 1024, 2L * 1024));
        assertEquals(CpuParallel.chunks(128, 256), CpuSizes.partialChunks(128, 256, 2L * 256));
        // any shape Shape accepts: the partials of all chunks fit the limit, or one chunk's
        for (int n : new int[] {2, 3, 8, 1000, 1 << 16, 1 << 20, (1 << 30) - 1}) {
            for (int dd : new int[] {1, 64, 1 << 16, 1 << 20, 1 << 26}) {
                if ((long) n * dd > CpuSizes.MAX_ELEMENTS) {
                    continue;
                }
                int c = CpuSizes.partialChunks(n, dd, 2L * dd);
                assertTrue(c >= 1 && c <= n, "chunks " + c + " for [" + n + "," + dd + "]");
                assertTrue((long) c * 2 * dd <= Math.max(CpuSizes.PARTIAL_LIMIT, 2L * dd),
                        "partials of [" + n + "," + dd + "]: " + (long) c * 2 * dd);
            }
        }
    }

    @Test
    void chunkBoundariesOfTheLargestTensorAreExact() {
        int rows = CpuSizes.MAX_ELEMENTS;
        for (int chunks : new int[] {1, 7, 48, 1 << 10}) {
            assertEquals(0, CpuParallel.chunkStart(0, chunks, rows));
            assertEquals(rows, CpuParallel.chunkStart(chunks, chunks, rows));
            for (int k = 0; k < chunks; k++) {
                assertTrue(CpuParallel.chunkStart(k, chunks, rows) < CpuParallel.chunkStart(k + 1, chunks, rows));
            }
        }
        // row-major offsets of the last element stay ints: row·D + j for the largest 2-D shapes
        long last = (long) (CpuSizes.MAX_ELEMENTS / 2 - 1) * 2 + 1;
        assertTrue(last <= MAX);
    }

    @Test
    void scratchDoesNotKeepHugeArraysAlive() {
        CpuScratch s = CpuScratch.get();
        double[] big = s.doubles(0, CpuScratch.KEEP_MAX + 1);
        double[] again = s.doubles(0, 2);
        assertTrue(again != big, "a slot kept an array above KEEP_MAX");
        float[] small = s.floats(1, 1000);
        assertTrue(small == s.floats(1, 500), "a slot keeps a small array for reuse");
    }
}
