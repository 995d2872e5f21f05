package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The OpenCL backend's {@code reshape} is a device-side copy (Backend.reshape's javadoc allows one where storage
 * cannot be shared): an ordinary tracked tensor with its own buffer, independent of t — counted live until closed,
 * untouched by writes to t or by t's close, and released with the backend. The kit's {@code reshape.*} cases check
 * the rules that hold for a view and a copy alike.
 */
class ClReshapeTest {
    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i * 7 % 11) - 5;
        }
        return v;
    }

    @Test
    void aReshapeIsATrackedCopyIndependentOfItsSource() {
        ClTestBackend.assumeAvailable();
        try (ClBackend b = ClTestBackend.isolated(BackendOptions.none())) {
            Tensor t = b.upload(ramp(24), Shape.of(4, 6));
            b.synchronize();
            long live = b.context().liveTensors();
            long bytes = b.context().liveBytes();
            Tensor r = b.reshape(t, Shape.of(2, 12));
            assertEquals(Shape.of(2, 12), r.shape());
            assertEquals(live + 1, b.context().liveTensors(), "the copy is a tracked tensor");
            assertEquals(bytes + 24 * Float.BYTES, b.context().liveBytes(), "the copy holds its own buffer");
            b.scale(t, 2f);
            assertArrayEquals(ramp(24), r.toArray(), "a write to t after the reshape does not reach the copy");
            t.close();
            assertFalse(r.isClosed(), "closing t leaves the copy open");
            assertArrayEquals(ramp(24), r.toArray());
            r.close();
            assertEquals(live - 1, b.context().liveTensors(), "both released");
            assertEquals(bytes - 24 * Float.BYTES, b.context().liveBytes());
        }
    }

    @Test
    void closingTheBackendReleasesAReshapeWithEveryOtherTensor() {
        ClTestBackend.assumeAvailable();
        ClBackend b = ClTestBackend.isolated(BackendOptions.none());
        Tensor t = b.upload(ramp(24), Shape.of(4, 6));
        Tensor r = b.reshape(t, Shape.of(24));
        b.close();
        assertTrue(r.isClosed());
        assertEquals(0, b.context().liveTensors());
        IllegalStateException e = assertThrows(IllegalStateException.class, r::toArray);
        assertTrue(e.getMessage().contains("of the closed backend 'opencl'"), e.getMessage());
        r.close();
        t.close();
    }
}
