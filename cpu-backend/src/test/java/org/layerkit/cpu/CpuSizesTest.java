package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BackendException;
import org.layerkit.api.Contracts;
import org.layerkit.api.Conv2dParams;
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

    // ============================================================================================== conv2d (CpuConv)

    /** A convolution's geometry as CpuConv computes it, for shapes nobody allocates here. */
    private static CpuConv.Geometry conv(int c, int h, int w, int f, int kh, int kw, int sh, int sw, int ph, int pw) {
        return CpuConv.Geometry.of("conv2d.forward", Shape.of(1, c, h, w), Shape.of(f, c, kh, kw),
                Conv2dParams.of(sh, sw, ph, pw));
    }

    /**
     * The window bounds im2col and col2im use, at strides and paddings up to 2³¹ − 1 and inputs up to 2³⁰ (issue 19's
     * rule: window coordinates in long): [firstCol(q), endCol(q)) is exactly the output columns j whose tap q reads
     * inside x, 0 ≤ j·sw + q − pw &lt; W — checked at both ends, so without enumerating W' — and lies within [0, W'];
     * the same for rows at stride 1 (the contiguous-rows path). In int, pw − q + sw − 1 and H + ph − p wrapped.
     */
    @Test
    void convWindowBoundsAreExactForStridesAndPaddingsNear2To31() {
        SplittableRandom r = new SplittableRandom(31);
        int[] big = {1, 2, 3, 7, 1 << 16, (1 << 30) - 1, 1 << 30, MAX - 2, MAX - 1, MAX};
        int checked = 0;
        for (int t = 0; t < 20_000; t++) {
            int w = r.nextInt(4) == 0 ? 1 + r.nextInt(1 << 30) : 1 + r.nextInt(8);
            int sw = big[r.nextInt(big.length)];
            int pw = r.nextBoolean() ? big[r.nextInt(big.length)] - 1 : r.nextInt(4);
            long widest = w + 2L * pw;
            int kw = (int) Math.min(r.nextBoolean() ? 1 + r.nextInt(8) : 1 + r.nextLong(widest), Math.min(widest, MAX));
            long ow = Conv2dParams.of(1, sw, 0, pw).outputWidth(w, kw);
            if (ow > MAX) {
                continue;
            }
            CpuConv.Geometry g = new CpuConv.Geometry(1, 1, 1, w, 1, 1, kw, 1, sw, 0, pw, 1, (int) ow);
            for (int q : new int[] {0, kw / 2, kw - 1}) {
                int lo = g.firstCol(q);
                int hi = g.endCol(q);
                String at = "W=" + w + " KW=" + kw + " sw=" + sw + " pw=" + pw + " W'=" + ow + " q=" + q + ": [" + lo
                        + ", " + hi + ")";
                assertTrue(lo >= 0 && lo <= ow && hi >= 0 && hi <= ow, at);
                if (lo < hi) {
                    assertTrue(inside(lo, sw, q, pw, w) && inside(hi - 1, sw, q, pw, w), at);
                    assertTrue(lo == 0 || !inside(lo - 1, sw, q, pw, w), at + " starts late");
                    assertTrue(hi == ow || !inside(hi, sw, q, pw, w), at + " ends early");
                } else {
                    // no column reads inside x: neither the first nor the last candidate does
                    assertTrue(lo == ow || !inside(lo, sw, q, pw, w), at + " misses a column");
                }
                checked++;
            }
        }
        assertTrue(checked > 10_000, checked + " geometries");
        // rows at stride 1: H + ph − p passed 2^31 for H and ph near 2^30 (x [1,1,2^30+5,1], a kernel of 2^31 − 9 rows)
        int h0 = (1 << 30) + 5;
        int kh = MAX - 8;
        long oh = Conv2dParams.of(1, 1, 1 << 30, 0).outputHeight(h0, kh);
        assertEquals((1L << 30) + 15, oh);
        CpuConv.Geometry g = new CpuConv.Geometry(1, 1, h0, 1, 1, kh, 1, 1, 1, 1 << 30, 0, (int) oh, 1);
        for (int p : new int[] {0, 1, 5, 6, 1 << 29, 1 << 30, kh - 1}) {
            int lo = g.firstRow(p);
            int hi = g.endRow(p);
            long h = g.h();
            String at = "p=" + p + ": [" + lo + ", " + hi + ")";
            assertTrue(lo >= 0 && lo <= hi && hi <= g.oh(), at);
            if (lo < hi) {
                assertTrue(inside(lo, 1, p, g.ph(), h) && inside(hi - 1, 1, p, g.ph(), h), at);
            }
            assertTrue(lo == 0 || !inside(lo - 1, 1, p, g.ph(), h), at + " starts late");
            assertTrue(hi == g.oh() || !inside(hi, 1, p, g.ph(), h), at + " ends early");
        }
    }

    /** Whether tap k of output index j reads inside an input of {@code size}: 0 ≤ j·stride + k − pad &lt; size. */
    private static boolean inside(long j, long stride, long k, long pad, long size) {
        long at = j * stride + k - pad;
        return at >= 0 && at < size;
    }

    /**
     * One output row's columns (C·KH·KW·W') must fit an array, at exactly the one element limit; a unit's workspace
     * is formed in long and refused by name; units keep their columns within the budget (one row at least).
     */
    @Test
    void convWorkspacesAreSizedInLongAtTheElementLimit() {
        // C·KH·KW·W' = 32767·65536 = MAX_ELEMENTS: accepted (x holds exactly as many elements, nothing is allocated)
        CpuConv.Geometry g = conv(32_767, 1, 65_536, 1, 1, 1, 1, 1, 0, 0);
        assertEquals(CpuSizes.MAX_ELEMENTS, (long) g.k() * g.ow());
        assertEquals(1, g.blockRows());
        assertEquals(CpuSizes.MAX_ELEMENTS, CpuConv.columns("conv2d.forward", Shape.of(1, 32_767, 1, 65_536), g.k(),
                g.blockRows(), g));
        // one column more: refused
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> conv(32_767, 1, 65_537, 1, 1, 1, 1, 1, 0, 0));
        assertEquals("conv2d.forward: x expected C·KH·KW·W' <= 2147418112 (the cpu backend unfolds at least one "
                + "output row of the input at a time), got C·KH·KW·W' = 2147450879 (x [1,32767,1,65537], w "
                + "[1,32767,1,1])", e.getMessage());
        // a unit's workspace that no array could hold names the op, x and the sizes
        CpuConv.Geometry wide = conv(1, 4, 1 << 20, 1 << 11, 1, 1, 1, 1, 0, 0);
        e = assertThrows(IllegalArgumentException.class,
                () -> CpuConv.columns("conv2d.forward", Shape.of(1, 1, 4, 1 << 20), wide.f(), 4, wide));
        assertEquals("conv2d.forward: x expected a shape whose workspace of a unit (2048·4·1048576 floats) fit in one "
                + "Java array (at most 2147418112 elements), got [1,1,4,1048576], which needs 8589934592",
                e.getMessage());
        // units: K·rows·W' within the budget, or a single row; never more rows than a sample has
        for (int[] d : new int[][] {{3, 28, 32, 3}, {32, 14, 64, 3}, {256, 520, 3, 3}, {1, 1 << 20, 1 << 11, 1},
            {2048, 64, 1 << 15, 1}}) {
            CpuConv.Geometry b = conv(d[0], 8, d[1], d[2], d[3], d[3], 1, 1, d[3] / 2, d[3] / 2);
            long rows = b.blockRows();
            assertTrue(rows >= 1 && rows <= b.oh(), rows + " rows");
            assertTrue(rows == 1 || (long) b.k() * rows * b.ow() <= CpuConv.BLOCK_FLOATS, rows + " rows");
        }
    }
}
