package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

class ClGemmTest {

    @Test
    void moreRowsThanOneLaunchCanCoverAreComputedInSlabs() {
        ClBackend b = ClTestBackend.backend();
        // 65,535 work-groups of 64 rows along y is one launch's limit on NVIDIA; go past it by 100 rows
        int m = ClLaunch.MAX_GROUPS_Y * 64 + 100;
        float[] a = new float[m];
        for (int i = 0; i < m; i++) {
            a[i] = (i % 1000) - 500;
        }
        try (Tensor at = b.upload(a, Shape.of(m, 1)); Tensor bt = b.upload(new float[] {2, -1}, Shape.of(1, 2));
             Tensor c = b.matmul(at, false, bt, false)) {
            float[] out = c.toArray();
            for (int i = 0; i < m; i += 997) {
                assertEquals(2 * a[i], out[2 * i], 0f, "C[" + i + ",0]");
                assertEquals(-a[i], out[2 * i + 1], 0f, "C[" + i + ",1]");
            }
            assertEquals(2 * a[m - 1], out[2 * (m - 1)], 0f, "the last row");
        }
    }
}
