package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Uploads do not wait for the device, yet the caller may reuse its array as soon as upload returns. */
class ClUploadTest {

    @Test
    void callerMayOverwriteItsArrayRightAfterUpload() {
        ClBackend b = ClTestBackend.backend();
        float[] host = new float[1000];
        List<Tensor> ts = new ArrayList<>();
        List<Integer> ks = new ArrayList<>();
        try {
            // many uploads queued behind kernels, the same host array overwritten after each
            for (int k = 0; k < 200; k++) {
                Arrays.fill(host, k);
                Tensor t = b.upload(host, Shape.of(10, 100));
                b.scale(t, 2f);
                ts.add(t);
                ks.add(k);
                if (k % 50 == 49) {
                    // its device buffer goes back to the pool and is reused by a later upload of the same size
                    ts.remove(0).close();
                    ks.remove(0);
                }
            }
            Arrays.fill(host, -1f);
            for (int i = 0; i < ts.size(); i++) {
                float[] want = new float[1000];
                Arrays.fill(want, 2f * ks.get(i));
                assertArrayEquals(want, ts.get(i).toArray(), "upload " + ks.get(i));
            }
        } finally {
            ts.forEach(Tensor::close);
        }
    }

    @Test
    void uploadsAreInOrderWithKernelsOnTheSameBuffer() {
        ClBackend b = ClTestBackend.backend();
        float[] host = {1, 2, 3, 4, 5};
        try (Tensor t = b.upload(host, Shape.of(5))) {
            b.scale(t, 3f);
            host[0] = 100;
            try (Tensor u = b.upload(host, Shape.of(5))) {
                b.axpy(1f, t, u);
                assertArrayEquals(new float[] {103, 8, 12, 16, 20}, u.toArray());
            }
        }
    }
}
