package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BackendException;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

class ClMemoryTest {
    /** This class's own backend: it counts live buffers exactly (see {@link ClTestBackend#isolated}). */
    private static ClBackend own;

    @org.junit.jupiter.api.BeforeAll
    static void open() {
        ClTestBackend.assumeAvailable();
        own = ClTestBackend.isolated(org.layerkit.api.BackendOptions.none());
    }

    @org.junit.jupiter.api.AfterAll
    static void close() {
        if (own != null) {
            own.close();
        }
    }

    @Test
    void tenThousandTrainingStepsLeaveNoBufferBehind() {
        ClBackend b = own;
        int n = 8;
        int d = 5;
        Random r = new Random(3);
        float[] xs = new float[n * d];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        long start = b.context().liveBytes();
        float[] last;
        try (Tensor x = b.upload(xs, Shape.of(n, d));
             Tensor gamma = b.upload(new float[] {1, 2, 3, 4, 5}, Shape.of(d));
             Tensor beta = b.zeros(Shape.of(d));
             RunningStats running = RunningStats.initial(b, d)) {
            b.synchronize();
            long before = b.context().liveBytes();
            long buffersBefore = b.context().liveBuffers();
            BatchNormParams p = new BatchNormParams(1e-5f, 0.9f, false);
            for (int step = 0; step < 10_000; step++) {
                try (NormResult bn = b.batchNormForward(x, gamma, beta, running.mean(), running.var(), p, Mode.TRAIN);
                     DropoutResult drop = b.dropoutForward(bn.out(), new DropoutOptions(0.8, 42, step), Mode.TRAIN);
                     Tensor dDrop = b.dropoutBackward(drop.out(), drop.mask());
                     NormGrads grads = b.batchNormBackward(dDrop, bn.cache(), gamma)) {
                    if (step % 1000 == 999) {
                        b.synchronize();
                    }
                    assertEquals(Shape.of(d), grads.dGamma().shape());
                }
            }
            last = running.mean().toArray();
            assertEquals(before, b.context().liveBytes(), "live bytes after 10,000 steps");
            assertEquals(buffersBefore, b.context().liveBuffers(), "live buffers after 10,000 steps");
            // released buffers wait in the pool for the next step, which needs the same sizes: it stays small
            assertTrue(b.context().pooledBytes() < 64 * 1024, b.context().pooledBytes() + " bytes pooled");
        }
        assertEquals(start, b.context().liveBytes(), "live bytes after closing the inputs");
        assertTrue(Float.isFinite(last[0]));
    }

    @Test
    void aClosedTensorsBufferServesTheNextTensorOfTheSameSize() {
        ClBackend b = own;
        b.context().trimPool();
        Tensor first = b.upload(new float[] {1, 2, 3, 4, 5, 6, 7}, Shape.of(7));
        first.close();
        assertEquals(28, b.context().pooledBytes());
        try (Tensor second = b.zeros(Shape.of(7, 1))) {
            assertEquals(0, b.context().pooledBytes(), "the pooled buffer was taken");
            assertArrayEquals(new float[7], second.toArray(), "zeros() clears a reused buffer");
        }
        b.context().trimPool();
        assertEquals(0, b.context().pooledBytes());
    }

    @Test
    void closingTwiceIsHarmlessAndAClosedTensorSaysSo() {
        ClBackend b = own;
        long before = b.context().liveBytes();
        Tensor t = b.zeros(Shape.of(3, 4));
        assertEquals(before + 48, b.context().liveBytes());
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertEquals(before, b.context().liveBytes());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.relu(t));
        assertTrue(e.getMessage().contains("relu.forward") && e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, t::toArray);
    }

    @Test
    void anAllocationTooLargeForTheDeviceNamesTheRequestedSize() {
        ClBackend b = own;
        int elements = org.layerkit.api.Contracts.MAX_ELEMENTS; // the largest tensor any backend accepts
        Assumptions.assumeTrue((long) elements * 4 > b.context().maxAllocBytes(),
                "this device could hold a buffer of 8 GiB");
        long before = b.context().liveBytes();
        BackendException e = assertThrows(BackendException.class, () -> b.zeros(Shape.of(elements)));
        assertTrue(e.getMessage().contains("out of device memory"), e.getMessage());
        assertTrue(e.getMessage().contains(Long.toString((long) elements * 4)), e.getMessage());
        assertEquals(before, b.context().liveBytes());
    }
}
