package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jocl.cl_program;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendException;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

class ClContextTest {

    @Test
    void aKernelThatFailsToBuildCarriesTheBuildLog() {
        ClContext ctx = ClTestBackend.backend().context();
        String broken = "__kernel void broken(__global float* x) { x[0] = no_such_identifier * 2.0f; }";
        BackendException e = assertThrows(BackendException.class, () -> ctx.build("broken", broken));
        assertTrue(e.getMessage().contains("build log"), e.getMessage());
        assertTrue(e.getMessage().contains("no_such_identifier"), e.getMessage());
        assertTrue(e.getMessage().contains(ctx.device().name()), e.getMessage());
    }

    @Test
    void aValidSourceBuildsThroughTheSamePath() {
        ClContext ctx = ClTestBackend.backend().context();
        cl_program p = ctx.build("ok", "__kernel void ok(__global float* x) { x[get_global_id(0)] = 1.0f; }");
        ctx.releaseProgram(p);
    }

    @Test
    void aClErrorNamesTheOpTheDeviceAndTheErrorCode() {
        ClContext ctx = ClTestBackend.backend().context();
        BackendException e = assertThrows(BackendException.class, () -> ctx.kernel("elementwise", "no_such_kernel"));
        assertTrue(e.getMessage().contains("elementwise.no_such_kernel"), e.getMessage());
        assertTrue(e.getMessage().contains("CL_INVALID_KERNEL_NAME"), e.getMessage());
        assertTrue(e.getMessage().contains(ctx.device().name()), e.getMessage());
    }

    @Test
    void aTensorOfAnotherBackendIsRejected() {
        ClBackend b = ClTestBackend.backend();
        try (Backend other = new ClBackendProvider().create(BackendOptions.none());
             Tensor foreign = other.upload(new float[] {1, -2, 3}, Shape.of(3))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.relu(foreign));
            assertTrue(e.getMessage().startsWith("relu.forward: x expected a tensor of backend 'opencl'"),
                    e.getMessage());
        }
    }

    @Test
    void copyingATensorOntoItselfLeavesItAsItWas() {
        ClBackend b = ClTestBackend.backend();
        try (Tensor t = b.upload(new float[] {1, 2, 3}, Shape.of(3))) {
            b.copy(t, t);
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {1, 2, 3}, t.toArray());
        }
    }

    @Test
    void uploadAndReadBackRoundTrip() {
        ClBackend b = ClTestBackend.backend();
        float[] data = {1.5f, -0f, Float.NaN, 3e38f, -7};
        try (Tensor t = b.upload(data, Shape.of(5))) {
            float[] back = t.toArray();
            for (int i = 0; i < data.length; i++) {
                assertEquals(Float.floatToRawIntBits(data[i]), Float.floatToRawIntBits(back[i]), "element " + i);
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.upload(new float[3], Shape.of(2, 2)));
        assertTrue(e.getMessage().startsWith("upload: data expected length 4"), e.getMessage());
    }
}
