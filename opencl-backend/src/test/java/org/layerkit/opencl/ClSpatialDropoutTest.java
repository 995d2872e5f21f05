package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Philox4x32;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.cpu.CpuBackendProvider;

/**
 * Spatial dropout's [N,C] mask is dropout's mask of an [N,C] tensor bit for bit (the api's Philox mapping at element
 * n·C + c), on backends whose dropout masks are written eagerly and pending alike, and the CPU backend's mask bit
 * for bit; out and dX are one float product with it per element.
 */
class ClSpatialDropoutTest {
    private static Backend cpu;

    @BeforeAll
    static void openCpu() {
        cpu = new CpuBackendProvider().create(BackendOptions.none());
    }

    @AfterAll
    static void closeCpu() {
        cpu.close();
    }

    @ParameterizedTest(name = "keep={0} seed={1} offset={2} [{3},{4},{5},{6}]")
    @CsvSource({
            "0.5, 0, 0, 1, 1, 1, 1",
            "0.8, 42, 3, 2, 3, 4, 5",
            "0.9, 81985529216486895, 7, 128, 32, 14, 14",
            "0.25, -1, -1, 3, 7, 1, 1",
            "0.999, 1311768467463790320, 4294967296, 5, 13, 3, 1",
            "1.0, 5, 3, 2, 2, 2, 2",
    })
    void masksAreDropoutsMaskOfNxCAndOutputsOneProduct(double keep, long seed, long offset, int n, int c, int h,
                                                       int w) {
        DropoutOptions o = new DropoutOptions(keep, seed, offset);
        int hw = h * w;
        float[] x = new float[n * c * hw];
        float[] g = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i * 0.37) * 3;
            g[i] = (float) Math.cos(i * 0.11) - 0.25f;
        }
        int[] cpuMask;
        int[] cpuOut;
        int[] cpuDx;
        try (Tensor xt = cpu.upload(x, Shape.of(n, c, h, w)); Tensor gt = cpu.upload(g, Shape.of(n, c, h, w));
             DropoutResult r = cpu.spatialDropoutForward(xt, o, Mode.TRAIN);
             Tensor dx = cpu.spatialDropoutBackward(gt, r.mask())) {
            cpuMask = bits(r.mask().toArray());
            cpuOut = bits(r.out().toArray());
            cpuDx = bits(dx.toArray());
        }
        for (String masks : new String[] {"eager", "pending"}) {
            ClBackend b = ClTestBackend.withDropoutMasks(masks);
            try (Tensor xt = b.upload(x, Shape.of(n, c, h, w)); Tensor gt = b.upload(g, Shape.of(n, c, h, w));
                 Tensor flat = b.zeros(Shape.of(n, c));
                 DropoutResult r = b.spatialDropoutForward(xt, o, Mode.TRAIN);
                 DropoutResult plain = b.dropoutForward(flat, o, Mode.TRAIN);
                 Tensor dx = b.spatialDropoutBackward(gt, r.mask())) {
                assertEquals(Shape.of(n, c), r.mask().shape());
                float[] mask = r.mask().toArray();
                float[] plainMask = plain.mask().toArray();
                float[] out = r.out().toArray();
                float[] dX = dx.toArray();
                assertArrayEquals(cpuMask, bits(mask), masks + " mask against cpu");
                assertArrayEquals(cpuOut, bits(out), masks + " out against cpu");
                assertArrayEquals(cpuDx, bits(dX), masks + " dX against cpu");
                for (int p = 0; p < n * c; p++) {
                    boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(seed, offset, p), o.threshold());
                    float m = kept ? o.scale() : 0f;
                    assertEquals(Float.floatToRawIntBits(m), Float.floatToRawIntBits(mask[p]), masks + " mask " + p);
                    assertEquals(Float.floatToRawIntBits(plainMask[p]), Float.floatToRawIntBits(mask[p]),
                            masks + " mask " + p + " against dropoutForward of [N,C]");
                    for (int q = 0; q < hw; q++) {
                        int i = p * hw + q;
                        assertEquals(Float.floatToRawIntBits(x[i] * m), Float.floatToRawIntBits(out[i]),
                                masks + " out " + i);
                        assertEquals(Float.floatToRawIntBits(g[i] * m), Float.floatToRawIntBits(dX[i]),
                                masks + " dX " + i);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"eager", "pending"})
    void evalIsACopyWithAMaskOfOnes(String masks) {
        ClBackend b = ClTestBackend.withDropoutMasks(masks);
        float[] x = {1, -2, Float.NaN, -0f, 5, 6, 7, 8, 9, 10, 11, 12};
        try (Tensor xt = b.upload(x, Shape.of(2, 3, 2, 1));
             DropoutResult r = b.spatialDropoutForward(xt, new DropoutOptions(0.3, 1, 2), Mode.EVAL)) {
            float[] out = r.out().toArray();
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(out[i]), "out " + i);
            }
            for (float m : r.mask().toArray()) {
                assertEquals(1f, m);
            }
        }
    }

    /** A pending [N,C] dropout mask handed to the spatial backward is written first, so dX uses its values. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"eager", "pending"})
    void theBackwardReadsAnyNxCMaskIncludingAPendingOne(String masks) {
        ClBackend b = ClTestBackend.withDropoutMasks(masks);
        DropoutOptions o = new DropoutOptions(0.5, 99, 1);
        float[] g = new float[4 * 5 * 3];
        for (int i = 0; i < g.length; i++) {
            g[i] = i + 0.5f;
        }
        try (Tensor flat = b.zeros(Shape.of(4, 5)); DropoutResult plain = b.dropoutForward(flat, o, Mode.TRAIN);
             Tensor gt = b.upload(g, Shape.of(4, 5, 3, 1)); Tensor dx = b.spatialDropoutBackward(gt, plain.mask())) {
            float[] dX = dx.toArray();
            float[] mask = plain.mask().toArray();
            for (int i = 0; i < g.length; i++) {
                assertEquals(Float.floatToRawIntBits(g[i] * mask[i / 3]), Float.floatToRawIntBits(dX[i]), "dX " + i);
            }
        }
    }

    private static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }
}
