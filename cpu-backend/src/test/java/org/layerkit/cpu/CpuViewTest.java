package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The cpu backend's {@code reshape} returns a view under the storage-ownership rules (Backend.reshape's javadoc,
 * docs/reliability.md): it shares its base's array, has no tracked storage of its own (the tracker counts, reclaims
 * and reports the base only), holds the base strongly, releases nothing when closed, counts a write through it as a
 * write of the base, pins the base for a cache that keeps it, and closes with the base and with the backend. The
 * kit's {@code reshape.*} cases check what holds for a view and a copy alike; these check that it is a view.
 */
class CpuViewTest {
    private static final BatchNormParams P = new BatchNormParams(1e-5f, 0.9f, false);
    private static final int GC_ROUNDS = 300;

    private static boolean gcUntil(BooleanSupplier done) throws InterruptedException {
        for (int round = 0; round < GC_ROUNDS && !done.getAsBoolean(); round++) {
            System.gc();
            Thread.sleep(10);
        }
        return done.getAsBoolean();
    }

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i * 7 % 11) - 5;
        }
        return v;
    }

    @Test
    void aViewSharesTheArrayAndIsNotTrackedOnItsOwn() {
        try (CpuBackend b = new CpuBackend(); Tensor t = b.upload(ramp(24), Shape.of(4, 6))) {
            long live = b.liveTensors();
            long bytes = b.liveBytes();
            Tensor v = b.reshape(t, Shape.of(2, 12));
            Tensor vv = b.reshape(v, Shape.of(24));
            assertTrue(((CpuTensor) v).isView());
            assertSame(((CpuTensor) t).data(), ((CpuTensor) v).data(), "a view reads its base's array");
            assertSame(((CpuTensor) t).data(), ((CpuTensor) vv).data(), "a view of a view reads the same array");
            assertEquals(live, b.liveTensors(), "a view is not a tracked tensor");
            assertEquals(bytes, b.liveBytes(), "a view counts no bytes");
            v.close();
            vv.close();
            assertEquals(live, b.liveTensors(), "closing views releases nothing");
            assertFalse(t.isClosed());
            assertArrayEquals(ramp(24), t.toArray());
        }
    }

    @Test
    void aWriteThroughAViewIsAWriteOfTheBase() {
        try (CpuBackend b = new CpuBackend(); Tensor t = b.upload(ramp(24), Shape.of(4, 6));
             Tensor v = b.reshape(t, Shape.of(24))) {
            int before = ((CpuTensor) t).version();
            b.scale(v, 2f);
            assertEquals(before + 1, ((CpuTensor) t).version(), "the base counts the write");
            assertEquals(((CpuTensor) t).version(), ((CpuTensor) v).version(), "a view reports its base's version");
            float[] twice = ramp(24);
            for (int i = 0; i < twice.length; i++) {
                twice[i] *= 2;
            }
            assertArrayEquals(twice, t.toArray());
        }
    }

    @Test
    void aCacheOfTheBaseRefusesItsBackwardAfterAWriteThroughAView() {
        try (CpuBackend b = new CpuBackend(); Tensor x = b.upload(ramp(24), Shape.of(4, 6));
             Tensor gamma = b.upload(new float[] {1, 2, 1, 2, 1, 2}, Shape.of(6)); Tensor beta = b.zeros(Shape.of(6));
             Tensor rm = b.zeros(Shape.of(6)); Tensor rv = b.zeros(Shape.of(6));
             Tensor dOut = b.upload(ramp(24), Shape.of(4, 6));
             NormResult r = b.batchNormForward(x, gamma, beta, rm, rv, P, Mode.TRAIN);
             Tensor flat = b.reshape(x, Shape.of(24))) {
            b.fill(flat, 0f);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> b.batchNormBackward(dOut, r.cache(), gamma));
            assertTrue(e.getMessage().startsWith("batchnorm.backward: cache expected its forward's input x unchanged"),
                    e.getMessage());
        }
    }

    @Test
    void aCacheThatKeepsAViewPinsTheBaseArrayPastBothCloses() {
        try (CpuBackend b = new CpuBackend(); Tensor gamma = b.upload(new float[] {1, 2, 1, 2, 1, 2}, Shape.of(6));
             Tensor beta = b.zeros(Shape.of(6)); Tensor rm = b.zeros(Shape.of(6)); Tensor rv = b.zeros(Shape.of(6));
             Tensor dOut = b.upload(ramp(24), Shape.of(4, 6))) {
            float[] expected;
            try (Tensor x = b.upload(ramp(24), Shape.of(4, 6));
                 NormResult r = b.batchNormForward(x, gamma, beta, rm, rv, P, Mode.EVAL);
                 NormGrads g = b.batchNormBackward(dOut, r.cache(), gamma)) {
                expected = g.dX().toArray();
            }
            Tensor base = b.upload(ramp(24), Shape.of(24));
            Tensor x = b.reshape(base, Shape.of(4, 6));
            NormResult r = b.batchNormForward(x, gamma, beta, rm, rv, P, Mode.EVAL);
            x.close();
            base.close();
            // overwrite every free array of that length in the pool, in case the base's went there
            for (int i = 0; i < CpuMemoryPool.MAX_PER_LENGTH; i++) {
                try (Tensor t = b.zeros(Shape.of(24))) {
                    b.fill(t, Float.NaN);
                }
            }
            try (NormGrads g = b.batchNormBackward(dOut, r.cache(), gamma)) {
                assertArrayEquals(expected, g.dX().toArray(), "dX of a cache whose input view and base were closed");
            }
            r.close(); // the last unpin hands the array to the pool
        }
    }

    @Test
    void aViewHoldsItsBaseSoTheBaseIsNotReclaimedWhileTheViewIsReachable() throws Exception {
        try (CpuBackend b = new CpuBackend()) {
            long live = b.liveTensors();
            Tensor view = viewOfADroppedBase(b);
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertEquals(live + 1, b.liveTensors(), "the base of a reachable view was reclaimed");
            assertArrayEquals(ramp(24), view.toArray());
            assertEquals(0, b.tracker().reclaimedCount());
            WeakReference<Tensor> dropped = new WeakReference<>(view);
            view = null;
            assertTrue(gcUntil(() -> dropped.get() == null && b.liveTensors() == live),
                    "the base was not reclaimed once its view was dropped");
            assertEquals(1, b.tracker().reclaimedCount(), "one storage reclaimed (the base's; the view has none)");
            assertNull(dropped.get());
        }
    }

    /** A view whose base nobody but the view holds. */
    private static Tensor viewOfADroppedBase(CpuBackend b) {
        return b.reshape(b.upload(ramp(24), Shape.of(4, 6)), Shape.of(24));
    }

    @Test
    void aViewClosesWithItsBaseAndWithTheBackend() {
        CpuBackend b = new CpuBackend();
        Tensor t = b.upload(ramp(24), Shape.of(4, 6));
        Tensor v = b.reshape(t, Shape.of(24));
        Tensor vv = b.reshape(v, Shape.of(2, 12));
        t.close();
        assertTrue(v.isClosed());
        assertTrue(vv.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, v::toArray);
        assertEquals("tensor.toArray: tensor expected an open tensor, got a view [24] of a closed tensor [4,6]",
                e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> b.relu(vv));
        assertEquals("relu.forward: x expected an open tensor, got a closed tensor of shape [2,12]", e.getMessage());

        Tensor u = b.upload(ramp(24), Shape.of(4, 6));
        Tensor w = b.reshape(u, Shape.of(24));
        b.close();
        assertTrue(w.isClosed());
        assertEquals(0, b.liveTensors());
        e = assertThrows(IllegalStateException.class, w::toArray);
        assertEquals("tensor.toArray: tensor expected a tensor of an open backend, got a tensor [24] of the closed "
                + "backend 'cpu'", e.getMessage());
        w.close();
        u.close();
    }
}
