package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;

/**
 * The OpenCL backend's launch arithmetic for the largest tensors, computed without allocating them: every element
 * index, chunk offset and loop step the kernels form in {@code int} stays below 2³¹ for every tensor the backend
 * accepts, and larger shapes are refused before any buffer is created.
 */
class ClSizesTest {
    /** A kernel's int index below M plus its largest step must stay an int. */
    private static void assertStepFits(long m, long step, String what) {
        assertTrue(m - 1 + step <= Integer.MAX_VALUE, what + ": index " + (m - 1) + " + step " + step);
    }

    @Test
    void shapesAboveTheLimitAreRefusedBeforeAnyBufferExists() {
        ClBackend b = ClTestBackend.backend();
        long buffers = b.context().liveBuffers();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.zeros(Shape.of(Integer.MAX_VALUE - 8)));
        assertEquals("zeros: shape expected at most 2147418112 elements (2^31 - 2^16, the largest tensor of any "
                + "backend), got [2147483639] = 2147483639 elements", e.getMessage());
        assertEquals(buffers, b.context().liveBuffers());
    }

    @Test
    void reductionPlansOfTheLargestLayoutsStayWithinInts() {
        ClContext ctx = ClTestBackend.backend().context();
        int max = Contracts.MAX_ELEMENTS;
        ClLayout[] layouts = {
            ClLayout.perChannel(8, 1 << 27, 1),           // the batch norm [8, 2^27]
            ClLayout.perChannel(2, max / 2, 1),           // the widest batch norm
            ClLayout.perChannel(max / 2, 2, 1),           // the tallest
            ClLayout.perChannel(1 << 10, 3, max / 3 >> 10), // spatial, C = 3
            ClLayout.perGroup(1, max, 1, 1),              // one layer-norm row of every element
            ClLayout.perGroup(max / 4, 4, 1, 2),          // groupnorm, many short groups
            ClLayout.columns(max / 1024, 1024),
            ClLayout.whole(max),
        };
        for (ClLayout l : layouts) {
            for (String kernel : new String[] {"norm_partial_stats", "norm_grad_sums"}) {
                ClLayout.Plan p = l.plan(ctx, "norm", kernel);
                String what = l + " " + kernel + " " + p;
                assertTrue(p.chunks() >= 1 && p.chunkLen() >= 1, what);
                // chunks cover the statistic, and the first element of the last chunk, chunk·chunkLen, is an index
                assertTrue((long) p.chunks() * p.chunkLen() >= l.perStat(), what);
                assertTrue((long) (p.chunks() - 1) * p.chunkLen() < l.perStat(), what);
                // the cursor steps by LY within a statistic; partial buffers hold chunks·S floats
                assertStepFits(l.perStat(), p.ly(), what);
                assertTrue((long) p.chunks() * l.stats() <= max, what);
                // element s·sBase + ⌊j/inner⌋·outerStride + j mod inner is formed in size_t by lk_at
                assertTrue((long) l.stats() * l.sBase() < (1L << 32), what);
            }
        }
        // element-wise kernels loop rows by the range's height, at most 65,535
        assertStepFits(max, ClLaunch.MAX_GROUPS_Y, "rows loop");
        // a 1-D range over the largest tensor, rounded up to whole work-groups of up to 1,024, is an int
        assertTrue(ClLaunch.roundUp(max, 1024) <= Integer.MAX_VALUE);
        // Philox blocks of the largest tensor, and the dropout element index 4·block + 3
        assertTrue(4L * ((max + 3L) / 4) <= Integer.MAX_VALUE);
    }
}
