package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.cpu.CpuBackendProvider;

/**
 * The same seed and offset give the same mask, out and dX, bit for bit, on the OpenCL device (masks written eagerly
 * or on first read) and on the CPU backend.
 */
class ClDropoutMatchesCpuTest {
    private static Backend cpu;

    @BeforeAll
    static void openCpu() {
        cpu = new CpuBackendProvider().create(BackendOptions.none());
    }

    @AfterAll
    static void closeCpu() {
        cpu.close();
    }

    @ParameterizedTest(name = "keep={0} seed={1} offset={2} shape={3}x{4}")
    @CsvSource({
            "0.5, 0, 0, 1, 1",
            "0.8, 1, 1, 3, 7",
            "0.9, 2541551405711093505, 12, 64, 65",
            "0.3, -6148914691236517206, 4294967295, 1000, 333",
            "0.999, 7, 9223372036854775807, 17, 4099",
    })
    void masksAndOutputsAreBitIdenticalToTheCpuBackend(double keep, long seed, long offset, int n, int d) {
        float[] x = new float[n * d];
        float[] g = new float[n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i * 0.37) * 3;
            g[i] = (float) Math.cos(i * 0.11) - 0.25f;
        }
        DropoutOptions o = new DropoutOptions(keep, seed, offset);
        for (String masks : new String[] {"eager", "pending"}) {
            ClBackend cl = ClTestBackend.withDropoutMasks(masks);
            try (Tensor xc = cl.upload(x, Shape.of(n, d)); Tensor xp = cpu.upload(x, Shape.of(n, d));
                 Tensor gc = cl.upload(g, Shape.of(n, d)); Tensor gp = cpu.upload(g, Shape.of(n, d));
                 DropoutResult rc = cl.dropoutForward(xc, o, Mode.TRAIN);
                 DropoutResult rp = cpu.dropoutForward(xp, o, Mode.TRAIN);
                 // the backward first, while a pending mask is still pending: it regenerates the mask
                 Tensor dc = cl.dropoutBackward(gc, rc.mask());
                 Tensor dp = cpu.dropoutBackward(gp, rp.mask())) {
                assertArrayEquals(bits(dp.toArray()), bits(dc.toArray()), masks + " dX");
                assertArrayEquals(bits(rp.mask().toArray()), bits(rc.mask().toArray()), masks + " mask");
                assertArrayEquals(bits(rp.out().toArray()), bits(rc.out().toArray()), masks + " out");
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
