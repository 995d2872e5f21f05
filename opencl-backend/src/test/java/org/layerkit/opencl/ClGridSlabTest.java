package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Ranges that NVIDIA's limit of 65,535 work-groups along y and z splits into slabs ({@link ClLaunch#runGrid}) give
 * the same values, bit for bit: a backend whose launches may use one work-group along y and z (and work-groups of 4
 * work-items, at most 3 along x and 2 along y and z, like a GPU's per-dimension limits, so every range is cut many
 * times) against the shared one, on every kernel launched that way.
 */
class ClGridSlabTest {
    private static ClBackend slabs;

    @BeforeAll
    static void open() {
        ClTestBackend.assumeAvailable();
        slabs = (ClBackend) new ClBackendProvider().create(BackendOptions.of(Map.of(ClBackendProvider.GROUP_SIZE, "4")));
        slabs.context().gridGroupLimitForTests(1);
        slabs.context().maxWorkItemsForTests(3, 2, 2);
    }

    @AfterAll
    static void close() {
        if (slabs != null) {
            slabs.close();
        }
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    private static int[] bits(Tensor t) {
        float[] a = t.toArray();
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }

    /** out, dW, dX of im2col (and of the direct kernels, whose dW is a reduction and is compared elsewhere). */
    @Test
    void convolutionInSlabsIsBitIdentical() {
        ClBackend one = ClTestBackend.backend();
        Shape xs = Shape.of(3, 5, 9, 7);
        Shape ws = Shape.of(6, 5, 3, 3);
        Conv2dParams p = Conv2dParams.of(2, 1, 1, 2);
        Shape os = Shape.of(3, 6, 5, 9);
        float[] x = random(xs.size(), 1);
        float[] w = random(ws.size(), 2);
        float[] bias = random(6, 3);
        float[] d = random(os.size(), 4);
        for (ClConvKernels.Algorithm algorithm : ClConvKernels.Algorithm.values()) {
            int[][] results = new int[2][];
            int[][] dws = new int[2][];
            int[][] dxs = new int[2][];
            ClBackend[] backends = {one, slabs};
            for (int k = 0; k < 2; k++) {
                ClBackend b = backends[k];
                ClConvKernels conv = new ClConvKernels(b, algorithm, 1L << 20);
                try (Tensor xt = b.upload(x, xs); Tensor wt = b.upload(w, ws); Tensor bt = b.upload(bias, Shape.of(6));
                     Tensor dt = b.upload(d, os); Conv2dResult r = conv.forward(xt, wt, bt, p);
                     Conv2dGrads g = conv.backward(dt, r.cache(), wt, true)) {
                    results[k] = bits(r.out());
                    dws[k] = bits(g.dW());
                    dxs[k] = bits(g.dX());
                }
            }
            assertArrayEquals(results[0], results[1], algorithm + " out");
            if (algorithm == ClConvKernels.Algorithm.IM2COL) {
                assertArrayEquals(dws[0], dws[1], algorithm + " dW");
            }
            assertArrayEquals(dxs[0], dxs[1], algorithm + " dX");
        }
    }

    @Test
    void poolingAndSpatialDropoutInSlabsAreBitIdentical() {
        ClBackend one = ClTestBackend.backend();
        Shape xs = Shape.of(3, 4, 7, 6);
        Pool2dParams p = Pool2dParams.of(3, 2);
        Shape os = Shape.of(3, 4, 3, 2);
        float[] x = random(xs.size(), 5);
        float[] d = random(os.size(), 6);
        float[] dx = random(xs.size(), 7);
        float[] g = random(12, 8);
        DropoutOptions o = new DropoutOptions(0.6, 11, 2);
        int[][][] got = new int[2][][];
        ClBackend[] backends = {one, slabs};
        for (int k = 0; k < 2; k++) {
            ClBackend b = backends[k];
            try (Tensor xt = b.upload(x, xs); Tensor dt = b.upload(d, os); Tensor dxt = b.upload(dx, xs);
                 Tensor gt = b.upload(g, Shape.of(3, 4)); MaxPool2dResult r = b.maxPool2dForward(xt, p);
                 Tensor back = b.maxPool2dBackward(dt, r.cache()); Tensor avgBack = b.globalAvgPoolBackward(gt, xs);
                 // 2×2 windows that tile [3,4,6,6] exactly: the tiled backward
                 Tensor x6 = b.upload(java.util.Arrays.copyOf(x, 3 * 4 * 36), Shape.of(3, 4, 6, 6));
                 Tensor d3 = b.upload(java.util.Arrays.copyOf(dx, 3 * 4 * 9), Shape.of(3, 4, 3, 3));
                 MaxPool2dResult r6 = b.maxPool2dForward(x6, Pool2dParams.of(2, 2));
                 Tensor back6 = b.maxPool2dBackward(d3, r6.cache());
                 DropoutResult sd = b.spatialDropoutForward(xt, o, Mode.TRAIN);
                 Tensor sdBack = b.spatialDropoutBackward(dxt, sd.mask())) {
                got[k] = new int[][] {bits(r.out()), bits(r.cache().argmax()), bits(back), bits(avgBack),
                        bits(sd.out()), bits(sdBack), bits(back6)};
            }
        }
        String[] names = {"maxpool out", "argmax", "maxpool dX", "avgpool dX", "spatial dropout out",
                "spatial dropout dX", "tiled maxpool dX"};
        for (int i = 0; i < names.length; i++) {
            assertArrayEquals(got[0][i], got[1][i], names[i]);
        }
    }
}
