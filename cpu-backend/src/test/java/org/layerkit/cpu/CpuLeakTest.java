package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Tensors the caller never closes are found and counted off by the backend ({@link CpuBackend#liveTensors()}),
 * without ever handing an array that may still be read back to the pool; closing the backend releases every tensor
 * and each refuses use after. Reclamation follows the garbage collector: the checks poll {@link System#gc()} for a
 * bounded number of rounds.
 */
class CpuLeakTest {
    private static final int GC_ROUNDS = 300;
    private static final Shape X = Shape.of(128, 256);
    private static final BatchNormParams P = new BatchNormParams(1e-5f, 0.9f, false);

    private static boolean gcUntil(BooleanSupplier done) throws InterruptedException {
        for (int round = 0; round < GC_ROUNDS && !done.getAsBoolean(); round++) {
            System.gc();
            Thread.sleep(10);
        }
        return done.getAsBoolean();
    }

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void tenThousandUnclosedBatchnormStepsAreCountedOff() throws Exception {
        try (CpuBackend b = new CpuBackend();
             Tensor x = b.upload(gaussian(X.size(), 1), X); Tensor dOut = b.upload(gaussian(X.size(), 2), X);
             Tensor gamma = b.upload(gaussian(256, 3), Shape.of(256)); Tensor beta = b.zeros(Shape.of(256));
             Tensor rm = b.zeros(Shape.of(256)); Tensor rv = b.zeros(Shape.of(256))) {
            long base = b.liveTensors();
            for (int step = 1; step <= 10_000; step++) {
                unclosedStep(b, x, gamma, beta, rm, rv, dOut);
                if (step % 1000 == 0) {
                    int s = step;
                    assertTrue(gcUntil(() -> b.liveTensors() == base), "after " + s + " unclosed steps "
                            + b.liveTensors() + " tensors are live, " + base + " before");
                }
            }
            assertTrue(b.tracker().reclaimedCount() >= 7 * 10_000 - 7, b.tracker().reclaimedCount() + " reclaimed");
        }
    }

    /** One batchnorm forward and backward whose results (7 tensors) nobody closes. */
    private static void unclosedStep(CpuBackend b, Tensor x, Tensor gamma, Tensor beta, Tensor rm, Tensor rv,
                                     Tensor dOut) {
        NormResult r = b.batchNormForward(x, gamma, beta, rm, rv, P, Mode.TRAIN);
        NormGrads g = b.batchNormBackward(dOut, r.cache(), gamma);
        assertEquals(X, g.dX().shape());
    }

    @Test
    void aReclaimedTensorsArrayIsLeftToTheCollectorNotPooled() throws Exception {
        try (CpuBackend b = new CpuBackend()) {
            long pooled = b.pool().pooledFloats();
            float[] array = dropOne(b);
            assertTrue(gcUntil(() -> b.liveTensors() == 0), "not reclaimed");
            assertEquals(pooled, b.pool().pooledFloats(), "a reclaimed array was pooled");
            try (Tensor next = b.zeros(Shape.of(1000))) {
                assertNotSame(array, ((CpuTensor) next).data(), "a reclaimed array was handed out again");
            }
        }
    }

    /** Allocates a tensor, drops it, and returns its array (held here, as a kernel still reading it would). */
    private static float[] dropOne(CpuBackend b) {
        return ((CpuTensor) b.zeros(Shape.of(1000))).data();
    }

    @Test
    void aCacheKeepsItsInputReadableAfterTheCallerDroppedIt() throws Exception {
        try (CpuBackend b = new CpuBackend();
             Tensor gamma = b.upload(gaussian(256, 3), Shape.of(256)); Tensor beta = b.zeros(Shape.of(256));
             Tensor rm = b.zeros(Shape.of(256)); Tensor rv = b.zeros(Shape.of(256));
             Tensor dOut = b.upload(gaussian(X.size(), 2), X)) {
            float[] xs = gaussian(X.size(), 1);
            NormGrads expected;
            try (Tensor x = b.upload(xs, X); NormResult r = b.batchNormForward(x, gamma, beta, rm, rv, P, Mode.EVAL)) {
                expected = b.batchNormBackward(dOut, r.cache(), gamma);
            }
            NormCache cache = forwardOfADroppedInput(b, xs, gamma, beta, rm, rv);
            // x is unreachable but for the cache; collections must leave it alone
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(10);
            }
            // overwrite every free array of that size in the pool, in case x's went there
            for (int i = 0; i < CpuMemoryPool.MAX_PER_LENGTH; i++) {
                try (Tensor t = b.zeros(X)) {
                    b.fill(t, Float.NaN);
                }
            }
            try (NormGrads g = b.batchNormBackward(dOut, cache, gamma); NormGrads e = expected) {
                assertArrayEquals(e.dX().toArray(), g.dX().toArray(), "dX of a cache whose input was dropped");
            }
            cache.close();
        }
    }

    /** An EVAL forward (the running statistics stay put) whose input x nobody keeps but the cache. */
    private static NormCache forwardOfADroppedInput(CpuBackend b, float[] xs, Tensor gamma, Tensor beta, Tensor rm,
                                                    Tensor rv) {
        Tensor x = b.upload(xs, X);
        NormResult r = b.batchNormForward(x, gamma, beta, rm, rv, P, Mode.EVAL);
        r.out().close();
        return r.cache();
    }

    @Test
    void closingTheBackendReleasesEveryTensorAndEachRefusesUse() {
        CpuBackend b = new CpuBackend();
        Tensor x = b.upload(new float[] {1, -2, 3, -4, 5, -6}, Shape.of(3, 2));
        Tensor y = b.relu(x);
        Tensor gamma = b.upload(new float[] {1, 1}, Shape.of(2));
        NormResult bn = b.batchNormForward(x, gamma, b.zeros(Shape.of(2)), b.zeros(Shape.of(2)),
                b.zeros(Shape.of(2)), P, Mode.TRAIN);
        x.close(); // pinned by the cache: its array stays until the cache lets go
        assertTrue(b.liveTensors() > 0);

        b.close();

        assertEquals(0, b.liveTensors(), "live tensors after close");
        assertEquals(0, b.liveBytes(), "live bytes after close");
        assertEquals(0, b.pool().pooledFloats(), "pooled floats after close");
        // the messages of a closed backend's tensors and caches are the kit's lifecycle cases (run on this backend too)
        for (Tensor t : new Tensor[] {y, gamma, bn.out(), bn.cache().mean()}) {
            assertTrue(t.isClosed(), t + " of a closed backend");
            assertThrows(IllegalStateException.class, t::toArray);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.batchNormBackward(y, bn.cache(), gamma));
        assertTrue(e.getMessage().contains("of the closed backend 'cpu'"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> b.upload(new float[1], Shape.of(1)));
        assertEquals("upload: expected an open backend, got the closed backend 'cpu'", e.getMessage());
        bn.close(); // harmless: lets go of x's pin
        y.close();
        b.close();
        assertEquals(0, b.liveTensors());
    }
}
