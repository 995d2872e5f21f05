package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.Backends;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

class CpuBackendBasicsTest {

    @Test
    void providerIsDiscoveredByNameAndDescribesTheCpu() {
        BackendProvider p = Backends.provider("cpu", CpuBackendBasicsTest.class.getClassLoader());
        assertInstanceOf(CpuBackendProvider.class, p);
        assertEquals(100, p.priority());
        assertTrue(p.availability().isAvailable());
        DeviceInfo d = p.devices().get(0);
        assertEquals("JVM", d.platform());
        assertFalse(d.gpu());
        assertEquals(Runtime.getRuntime().availableProcessors(), d.computeUnits());
        assertEquals(Runtime.getRuntime().maxMemory(), d.memoryBytes());
        assertTrue(d.name().startsWith("CPU (") && d.name().contains("BLAS: "), d.name());
        try (Backend b = Backends.get("cpu")) {
            assertEquals("cpu", b.name());
        }
    }

    @Test
    void theOnlyDeviceIsSelectedByIndexOrNameAndAnythingElseIsRejected() {
        CpuBackendProvider p = new CpuBackendProvider();
        p.create(BackendOptions.of("device", "0")).close();
        p.create(BackendOptions.of("device", "CPU")).close();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of("device", "1")));
        assertTrue(e.getMessage().contains("device expected 0") && e.getMessage().contains("got '1'"),
                e.getMessage());
    }

    @Test
    void vectorOptionChoosesTheVectorApiKernelsOrTheLoopsAndRejectsAnythingElse() {
        CpuBackendProvider p = new CpuBackendProvider();
        try (CpuBackend auto = (CpuBackend) p.create(BackendOptions.none());
             CpuBackend off = (CpuBackend) p.create(BackendOptions.of("vector", "off"))) {
            assertEquals(CpuBackend.VECTOR_API_PRESENT, auto.vectorApi());
            assertFalse(off.vectorApi());
            assertEquals(CpuBackend.VECTOR_API_PRESENT, auto.device().name().contains("Vector API"),
                    auto.device().name());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of("vector", "fast")));
        assertTrue(e.getMessage().startsWith("cpu: vector expected auto") && e.getMessage().contains("got 'fast'"),
                e.getMessage());
    }

    @Test
    void theBuildRunsTheVectorApiKernels() {
        assertTrue(CpuBackend.VECTOR_API_PRESENT, "surefire runs with --add-modules jdk.incubator.vector");
    }

    @Test
    void zerosAreZeroEvenWhenThePoolHandsBackADirtyArray() {
        try (CpuBackend be = new CpuBackend()) {
            Tensor dirty = be.upload(new float[] {1, 2, 3, 4}, Shape.of(4));
            dirty.close();
            assertEquals(4, be.pool().pooledFloats(), "a closed tensor's array goes back to the pool");
            try (Tensor z = be.zeros(Shape.of(2, 2))) {
                assertEquals(0, be.pool().pooledFloats(), "zeros reuses the pooled array");
                assertArrayEquals(new float[4], z.toArray());
            }
        }
    }

    @Test
    void aWarmTrainingStepReusesPooledStorageInsteadOfAllocating() {
        Shape s = Shape.of(256, 512); // 512 KiB per tensor: the chunked, multi-threaded paths
        try (CpuBackend be = new CpuBackend(); Tensor x = be.zeros(s); Tensor g = be.zeros(Shape.of(512));
             Tensor b = be.zeros(Shape.of(512)); Tensor rm = be.zeros(Shape.of(512));
             Tensor rv = be.zeros(Shape.of(512))) {
            be.fill(g, 1f);
            Runnable step = () -> {
                try (var r = be.batchNormForward(x, g, b, rm, rv, new org.layerkit.api.BatchNormParams(1e-5f, 0.9f,
                        false), org.layerkit.api.Mode.TRAIN); var grads = be.batchNormBackward(r.out(), r.cache(), g);
                     var d = be.dropoutForward(grads.dX(), new org.layerkit.api.DropoutOptions(0.5, 1, 0),
                             org.layerkit.api.Mode.TRAIN)) {
                    assertEquals(s, d.out().shape());
                }
            };
            // the first step allocates its tensors' arrays; closing them returns every one to the pool, so each
            // later step finds all it needs there. Counted by the pool, so neither the JIT nor the core count matters
            step.run();
            long first = be.pool().arraysAllocated();
            assertTrue(first > 0, "the first step allocates its outputs");
            for (int i = 0; i < 5; i++) {
                step.run();
            }
            assertEquals(first, be.pool().arraysAllocated(), "arrays allocated by 5 warm steps beyond the first");
        }
    }

    @Test
    void toArrayReturnsACopy() {
        try (CpuBackend be = new CpuBackend(); Tensor t = be.upload(new float[] {1, 2}, Shape.of(2))) {
            float[] a = t.toArray();
            a[0] = 99;
            assertArrayEquals(new float[] {1, 2}, t.toArray());
            assertNotSame(t.toArray(), t.toArray());
        }
    }

    @Test
    void uploadCopiesTheCallersArray() {
        try (CpuBackend be = new CpuBackend()) {
            float[] src = {5, 6};
            try (Tensor t = be.upload(src, Shape.of(2))) {
                src[0] = 0;
                assertArrayEquals(new float[] {5, 6}, t.toArray());
            }
        }
    }
}
