package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Once warm, a kernel call allocates no arrays on the calling thread: outputs come from the pool (closed results go
 * back to it) and row buffers, per-chunk partials and coefficients from {@link CpuScratch}. What remains are a few
 * small objects per call (tensors, records, lambdas), so the bound here, 16 KiB, is far below the smallest array the
 * kernels could allocate per call on these shapes (a 4 KiB row buffer on every chunk, a 64 KiB output).
 * Allocation is counted by the JVM, not timed.
 */
class CpuHotPathAllocationTest {
    private static final long BOUND = 16 * 1024;
    private static final int WARM_CALLS = 300;

    /** Bytes the calling thread allocates in one call of {@code step} after warm-up (the minimum of a few calls). */
    private static long allocatedPerCall(Supplier<AutoCloseable[]> step) throws Exception {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        assumeTrue(mx instanceof com.sun.management.ThreadMXBean, "per-thread allocation counter not available");
        com.sun.management.ThreadMXBean bean = (com.sun.management.ThreadMXBean) mx;
        assumeTrue(bean.isThreadAllocatedMemorySupported() && bean.isThreadAllocatedMemoryEnabled(),
                "per-thread allocation counter disabled");
        long id = Thread.currentThread().getId();
        // enough calls for C2 to compile the kernels: the Vector API's vectors are objects until C2 turns them
        // into registers, so an interpreted call allocates them
        for (int i = 0; i < WARM_CALLS; i++) {
            closeAll(step.get());
        }
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long before = bean.getThreadAllocatedBytes(id);
            AutoCloseable[] r = step.get();
            long used = bean.getThreadAllocatedBytes(id) - before;
            closeAll(r);
            least = Math.min(least, used);
        }
        return least;
    }

    private static void closeAll(AutoCloseable[] rs) throws Exception {
        for (AutoCloseable r : rs) {
            r.close();
        }
    }

    private static float[] gaussian(int n) {
        return Numerics.gaussian(new Random(n), n, 0, 1);
    }

    @Test
    void warmNormalizationAndDropoutKernelsAllocateNoArrays() throws Exception {
        try (CpuBackend be = new CpuBackend()) {
            int n = 256;
            int d = 1024;
            Shape s2 = Shape.of(n, d);
            Shape s4 = Shape.of(16, 16, 32, 32);
            try (Tensor x = be.upload(gaussian(n * d), s2);
                 Tensor dOut = be.upload(gaussian(n * d), s2);
                 Tensor x4 = be.upload(gaussian(s4.size()), s4);
                 Tensor dOut4 = be.upload(gaussian(s4.size()), s4);
                 Tensor g = be.upload(gaussian(d), Shape.of(d));
                 Tensor b = be.upload(gaussian(d), Shape.of(d));
                 Tensor g4 = be.upload(gaussian(16), Shape.of(16));
                 Tensor b4 = be.upload(gaussian(16), Shape.of(16));
                 Tensor rm = be.zeros(Shape.of(d));
                 Tensor rv = be.zeros(Shape.of(d));
                 Tensor rm4 = be.zeros(Shape.of(16));
                 Tensor rv4 = be.zeros(Shape.of(16))) {
                BatchNormParams p = new BatchNormParams(1e-5f, 0.9f, false);
                long[] offset = {0};
                check("batchnorm", allocatedPerCall(() -> {
                    NormResult r = be.batchNormForward(x, g, b, rm, rv, p, Mode.TRAIN);
                    return new AutoCloseable[] {r, be.batchNormBackward(dOut, r.cache(), g)};
                }));
                check("spatial batchnorm", allocatedPerCall(() -> {
                    NormResult r = be.spatialBatchNormForward(x4, g4, b4, rm4, rv4, p, Mode.TRAIN);
                    return new AutoCloseable[] {r, be.spatialBatchNormBackward(dOut4, r.cache(), g4)};
                }));
                check("layernorm", allocatedPerCall(() -> {
                    NormResult r = be.layerNormForward(x, g, b, 1e-5f);
                    return new AutoCloseable[] {r, be.layerNormBackward(dOut, r.cache(), g)};
                }));
                check("groupnorm", allocatedPerCall(() -> {
                    NormResult r = be.groupNormForward(x4, g4, b4, 4, 1e-5f);
                    return new AutoCloseable[] {r, be.groupNormBackward(dOut4, r.cache(), g4)};
                }));
                check("dropout", allocatedPerCall(() -> {
                    DropoutResult r = be.dropoutForward(x, new DropoutOptions(0.5, 7L, offset[0]++), Mode.TRAIN);
                    return new AutoCloseable[] {r, be.dropoutBackward(dOut, r.mask())};
                }));
            }
        }
    }

    @Test
    void warmConvolutionPoolingAndSpatialDropoutKernelsAllocateNoArrays() throws Exception {
        try (CpuBackend be = new CpuBackend()) {
            // a small CNN's second layer at N = 16: several blocks of unfolded columns per call
            Shape xs = Shape.of(16, 32, 14, 14);
            Shape ws = Shape.of(64, 32, 3, 3);
            Shape os = Shape.of(16, 64, 14, 14);
            Shape ps = Shape.of(16, 64, 7, 7);
            try (Tensor x = be.upload(gaussian(xs.size()), xs);
                 Tensor w = be.upload(gaussian(ws.size()), ws);
                 Tensor b = be.upload(gaussian(64), Shape.of(64));
                 Tensor dOut = be.upload(gaussian(os.size()), os);
                 Tensor dPool = be.upload(gaussian(ps.size()), ps);
                 Tensor dAvg = be.upload(gaussian(16 * 32), Shape.of(16, 32))) {
                Conv2dParams p = Conv2dParams.of(1, 1);
                long[] offset = {0};
                check("conv2d", allocatedPerCall(() -> {
                    Conv2dResult r = be.conv2dForward(x, w, b, p);
                    return new AutoCloseable[] {r, be.conv2dBackward(dOut, r.cache(), w)};
                }));
                check("maxpool2d", allocatedPerCall(() -> {
                    MaxPool2dResult r = be.maxPool2dForward(dOut, Pool2dParams.of(2, 2));
                    return new AutoCloseable[] {r, be.maxPool2dBackward(dPool, r.cache())};
                }));
                check("global_avgpool", allocatedPerCall(() -> new AutoCloseable[] {be.globalAvgPoolForward(x),
                    be.globalAvgPoolBackward(dAvg, xs)}));
                check("spatial_dropout", allocatedPerCall(() -> {
                    DropoutResult r = be.spatialDropoutForward(x, new DropoutOptions(0.5, 7L, offset[0]++),
                            Mode.TRAIN);
                    return new AutoCloseable[] {r, be.spatialDropoutBackward(x, r.mask())};
                }));
            }
        }
    }

    private static void check(String op, long bytes) {
        assertTrue(bytes < BOUND, op + ": a warm forward + backward allocated " + bytes + " bytes on the calling "
                + "thread, expected under " + BOUND + " (no arrays)");
    }
}
