package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The fused folds give bit for bit what the element-wise loops followed by {@link CpuLoops#sum} give. */
class CpuLoopsTest {
    private static float[] values(Random r, int len, double mean) {
        float[] a = new float[len];
        for (int i = 0; i < len; i++) {
            a[i] = (float) (mean + r.nextGaussian());
        }
        return a;
    }

    @ParameterizedTest(name = "len {0}")
    @ValueSource(ints = {CpuLoops.FUSED, CpuLoops.FUSED_WIDE})
    void fusedFoldsAreBitIdenticalToTheLoopsTheyReplace(int len) {
        assertTrue(CpuLoops.fused(len));
        Random r = new Random(len);
        for (double mean : new double[] {0, 3, 1e4}) {
            float[] t = values(r, len, mean);
            float[] g = values(r, len, 1);
            float[] u = values(r, len, 0);
            float[] keep = t.clone();
            float c = t[0];
            float[] v = new float[len];
            float[] w = new float[len];
            float[] p = new float[len];

            CpuLoops.shifted(v, t, c, len);
            CpuLoops.squared(w, v, len);
            double su = CpuLoops.sum(v, len);
            double suu = CpuLoops.sum(w, len);
            assertEquals(su, CpuLoops.sumShifted(t, c, p, len), 0.0, () -> "Σ(t − c), len " + len + ", mean " + mean);
            assertEquals(suu, CpuLoops.sumShiftedSquares(t, c, p, len), 0.0,
                    () -> "Σ(t − c)², len " + len + ", mean " + mean);

            CpuLoops.product(w, t, g, len);
            CpuLoops.product(v, w, u, len);
            double sg = CpuLoops.sum(w, len);
            double sgu = CpuLoops.sum(v, len);
            assertEquals(sg, CpuLoops.sumProducts(t, g, p, len), 0.0, () -> "Σ t·g, len " + len);
            assertEquals(sgu, CpuLoops.sumProducts(t, g, u, p, len), 0.0, () -> "Σ (t·g)·u, len " + len);
            assertEquals(java.util.Arrays.toString(keep), java.util.Arrays.toString(t), "the folds leave t unchanged");
        }
    }

    @ParameterizedTest(name = "len {0}")
    @ValueSource(ints = {64, 128, 255, 512, 768, 1023, 1280, 2048})
    void otherLengthsAreNotFused(int len) {
        assertFalse(CpuLoops.fused(len));
    }
}
