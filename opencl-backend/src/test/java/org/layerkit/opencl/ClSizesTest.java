package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BackendException;
import org.layerkit.api.Contracts;
import org.layerkit.api.Conv2dParams;
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

    /**
     * conv2d's chunk plans for geometries up to the element limit, without allocating them: one output row's
     * max(K, F)·W' columns at exactly MAX_ELEMENTS is a one-row plan whose workspace is a valid tensor, one more is
     * refused by name; for random geometries every workspace fits a tensor and the workspace budget (or is one row),
     * its shape's dimensions are exact ints, the chunks cover the batch, and the chunk offsets the kernels get as
     * long (g0·W', n0) and the ints (J = rows·W', samples) are exact.
     */
    @Test
    void convChunkPlansKeepEveryWorkspaceAValidTensor() {
        ClBackend b = ClTestBackend.backend();
        int max = Contracts.MAX_ELEMENTS;
        ClConvKernels conv = new ClConvKernels(b, ClConvKernels.Algorithm.IM2COL, 256L << 20);
        Conv2dParams one = Conv2dParams.of(1, 0);
        // K·W' = 32767·65536 = MAX_ELEMENTS (x [1,32767,1,65536], w [1,32767,1,1]): one row per chunk
        ClConvKernels.Geometry atLimit = new ClConvKernels.Geometry(1, 32_767, 1, 65_536, 1, 1, 1, one, 1, 65_536);
        ClConvKernels.Plan p = conv.plan("conv2d.forward", atLimit, 256L << 20);
        assertEquals(1, p.rows());
        assertEquals(Shape.of(32_767, 65_536), ClConvKernels.workspaceShape(atLimit.k(), p, atLimit));
        assertEquals(max, Contracts.requireStorable("conv2d.forward", ClConvKernels.workspaceShape(atLimit.k(), p,
                atLimit)));
        ClConvKernels.Geometry over = new ClConvKernels.Geometry(1, 32_767, 1, 65_537, 1, 1, 1, one, 1, 65_537);
        BackendException e = assertThrows(BackendException.class, () -> conv.plan("conv2d.forward", over, 1L << 20));
        assertTrue(e.getMessage().startsWith("conv2d.forward: the columns of one output row need max(K, F)·W' = "
                + "32767·65537 = 2147450879 floats, more than one buffer of this backend may hold (2147418112, "
                + "2^31 - 2^16)"), e.getMessage());
        SplittableRandom r = new SplittableRandom(19);
        int checked = 0;
        for (int t = 0; t < 20_000; t++) {
            int n = 1 + r.nextInt(r.nextBoolean() ? 4 : 1 << 16);
            int ho = 1 + r.nextInt(r.nextBoolean() ? 8 : 1 << 15);
            int wo = 1 + r.nextInt(r.nextBoolean() ? 8 : 1 << 16);
            int c = 1 + r.nextInt(r.nextBoolean() ? 4 : 1 << 12);
            int k = r.nextBoolean() ? 1 : 3;
            int f = 1 + r.nextInt(r.nextBoolean() ? 8 : 1 << 12);
            long outSize = (long) n * f * ho * wo;
            if (outSize > max || (long) c * k * k * f > max || (long) n * c * ho * wo > max
                    || (long) Math.max(c * k * k, f) * wo > max) {
                continue;
            }
            ClConvKernels.Geometry g = new ClConvKernels.Geometry(n, c, ho, wo, f, k, k, Conv2dParams.of(1, k / 2),
                    ho, wo);
            long bytes = r.nextBoolean() ? 1L << 20 : 256L << 20;
            ClConvKernels.Plan plan = conv.plan("conv2d.backward", g, bytes);
            long widest = Math.max(g.k(), g.f());
            String what = "x [" + n + "," + c + "," + ho + "," + wo + "] F=" + f + " K=" + k + " " + plan + " at "
                    + bytes + " bytes";
            assertTrue(plan.rows() >= 1 && plan.rows() <= g.outputRows(), what);
            assertTrue(widest * plan.rows() * wo <= max, what);
            assertTrue(plan.rows() == 1 || 4 * widest * plan.rows() * wo <= bytes, what);
            assertEquals(plan.rows() % ho == 0, plan.aligned(), what);
            Shape ws = ClConvKernels.workspaceShape((int) widest, plan, g);
            assertEquals(widest * plan.rows() * wo, Contracts.requireStorable("conv2d.backward", ws), what);
            // the last chunk: its first output row g0, its columns J and the samples it touches
            long chunks = (g.outputRows() + plan.rows() - 1) / plan.rows();
            long g0 = (chunks - 1) * plan.rows();
            assertTrue(g0 < g.outputRows() && g0 * wo < (long) n * ho * wo, what);
            long samples = (g0 + Math.min(plan.rows(), g.outputRows() - g0) - 1) / ho - g0 / ho + 1;
            assertTrue(samples >= 1 && samples <= n, what);
            checked++;
        }
        assertTrue(checked > 5_000, checked + " geometries");
    }
}
