package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * maxpool2d and the global average pool on the device against their definitions (docs/ops/pooling.md): the max pool's
 * out and argmax bit for bit (ties to the first position in row-major window order, NaN wins), its backward exact
 * without overlap and within γ_m·Σ|dOut| with overlapping windows (m covering windows), the same dX on every run.
 */
class ClPoolTest {
    private static final double U = Math.ulp(1.0f) / 2;

    /** Values with many ties (small integers), some NaN and ±∞ when {@code specials}. */
    private static float[] tiedValues(Random r, int n, boolean specials) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(3) - 1;
            if (specials) {
                int s = r.nextInt(40);
                x[i] = s == 0 ? Float.NaN : s == 1 ? Float.NEGATIVE_INFINITY : s == 2 ? Float.POSITIVE_INFINITY : x[i];
            }
        }
        return x;
    }

    /** The reference scan: the first element, then strictly greater or the first NaN, in row-major window order. */
    private static float[][] maxPool(float[] x, int planes, int h, int w, Pool2dParams p) {
        int ho = (int) p.outputHeight(h), wo = (int) p.outputWidth(w);
        float[] out = new float[planes * ho * wo];
        float[] arg = new float[out.length];
        for (int pl = 0; pl < planes; pl++) {
            for (int i = 0; i < ho; i++) {
                for (int j = 0; j < wo; j++) {
                    int a = (i * p.strideH()) * w + j * p.strideW();
                    float best = x[pl * h * w + a];
                    for (int u = 0; u < p.kernelH(); u++) {
                        for (int v = 0; v < p.kernelW(); v++) {
                            int pos = (i * p.strideH() + u) * w + j * p.strideW() + v;
                            float val = x[pl * h * w + pos];
                            if (val > best || (Float.isNaN(val) && !Float.isNaN(best))) {
                                best = val;
                                a = pos;
                            }
                        }
                    }
                    out[(pl * ho + i) * wo + j] = best;
                    arg[(pl * ho + i) * wo + j] = a;
                }
            }
        }
        return new float[][] {out, arg};
    }

    @ParameterizedTest(name = "N={0} C={1} {2}x{3} k={4}x{5} s={6}x{7} specials={8}")
    @CsvSource({
            "2, 3, 8, 8, 2, 2, 2, 2, false",     // the CNN's pool: no overlap, windows tile the plane
            "2, 3, 9, 12, 3, 3, 3, 3, true",     // windows tile the plane, 3×3
            "1, 2, 7, 7, 2, 2, 2, 2, true",      // stride = kernel on an odd plane: the last row and column in none
            "2, 3, 8, 8, 2, 2, 2, 2, true",
            "1, 2, 7, 9, 3, 3, 2, 2, true",      // overlap (stride < kernel), odd sizes
            "3, 1, 6, 5, 3, 3, 1, 1, false",     // stride 1: up to 9 windows per element
            "2, 2, 9, 10, 2, 3, 1, 2, true",     // non-square window and strides
            "1, 1, 5, 5, 5, 5, 1, 1, false",     // one window over the whole plane
            "2, 4, 7, 7, 2, 2, 3, 3, false",     // stride > kernel: elements no window covers
            "1, 1, 1, 1, 1, 1, 1, 1, true",
            "128, 32, 28, 28, 2, 2, 2, 2, false",// the Fashion-MNIST CNN's first pool
    })
    void maxPoolMatchesItsDefinition(int n, int c, int h, int w, int kh, int kw, int sh, int sw, boolean specials) {
        ClBackend b = ClTestBackend.backend();
        Pool2dParams p = new Pool2dParams(kh, kw, sh, sw);
        Random r = new Random(n * 131L + c * 17L + h + kw);
        int planes = n * c;
        float[] x = tiedValues(r, planes * h * w, specials);
        float[][] want = maxPool(x, planes, h, w, p);
        int ho = (int) p.outputHeight(h), wo = (int) p.outputWidth(w);
        Shape outShape = Shape.of(n, c, ho, wo);
        float[] dOut = new float[outShape.size()];
        for (int i = 0; i < dOut.length; i++) {
            dOut[i] = (float) r.nextGaussian();
        }
        // dX: each window's dOut at its argmax, added up in float64
        double[] dX = new double[x.length];
        double[] mag = new double[x.length];
        for (int pl = 0; pl < planes; pl++) {
            for (int o = 0; o < ho * wo; o++) {
                int at = (int) want[1][pl * ho * wo + o] + pl * h * w;
                dX[at] += dOut[pl * ho * wo + o];
                mag[at] += Math.abs(dOut[pl * ho * wo + o]);
            }
        }
        // at most m = ⌈KH/SH⌉·⌈KW/SW⌉ windows add into one element: γ_m·Σ|dOut|; exact with one window
        int m = ((kh + sh - 1) / sh) * ((kw + sw - 1) / sw);
        double gm = (m - 1) * U / (1 - (m - 1) * U);
        String name = "x [" + n + "," + c + "," + h + "," + w + "] " + p;
        try (Tensor xt = b.upload(x, Shape.of(n, c, h, w)); Tensor dt = b.upload(dOut, outShape);
             MaxPool2dResult res = b.maxPool2dForward(xt, p)) {
            assertEquals(outShape, res.out().shape());
            assertBits(name + " out", want[0], res.out().toArray());
            assertBits(name + " argmax", want[1], res.cache().argmax().toArray());
            float[] first = null;
            for (int rep = 0; rep < 2; rep++) {
                try (Tensor dx = b.maxPool2dBackward(dt, res.cache())) {
                    float[] got = dx.toArray();
                    for (int i = 0; i < got.length; i++) {
                        if (!(Math.abs(got[i] - dX[i]) <= gm * mag[i])) {
                            fail(name + " dX: first bad index " + i + ": got " + got[i] + ", want " + dX[i]
                                    + " (bound " + gm * mag[i] + ")");
                        }
                    }
                    if (first == null) {
                        first = got;
                    } else {
                        assertBits(name + " dX of a second backward", first, got);
                    }
                }
            }
        }
    }

    private static void assertBits(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                fail(what + ": first difference at index " + i + ": got " + got[i] + ", want " + want[i]);
            }
        }
    }

    @ParameterizedTest(name = "N={0} C={1} {2}x{3}")
    @CsvSource({"2, 3, 4, 4", "1, 1, 1, 1", "3, 5, 7, 9", "128, 64, 7, 7", "2, 2, 300, 301", "1, 2, 1, 100003"})
    void globalAveragePoolMatchesItsDefinition(int n, int c, int h, int w) {
        ClBackend b = ClTestBackend.backend();
        Random r = new Random(h * 7L + w);
        int hw = h * w;
        float[] x = new float[n * c * hw];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() + 3);
        }
        float[] dOut = new float[n * c];
        for (int i = 0; i < dOut.length; i++) {
            dOut[i] = (float) r.nextGaussian();
        }
        // out: a sum of H·W terms and a scale, c(H·W + 1)·Σ|x|/(H·W); dX: two roundings of dOut/(H·W)
        double g = (hw + 1) * U / (1 - (hw + 1) * U);
        try (Tensor xt = b.upload(x, Shape.of(n, c, h, w)); Tensor out = b.globalAvgPoolForward(xt);
             Tensor dt = b.upload(dOut, Shape.of(n, c)); Tensor dx = b.globalAvgPoolBackward(dt, xt.shape())) {
            assertEquals(Shape.of(n, c), out.shape());
            float[] got = out.toArray();
            float[] gotDx = dx.toArray();
            for (int pl = 0; pl < n * c; pl++) {
                double s = 0;
                double a = 0;
                for (int q = 0; q < hw; q++) {
                    s += x[pl * hw + q];
                    a += Math.abs(x[pl * hw + q]);
                }
                assertEquals(s / hw, got[pl], g * a / hw, "out[" + pl + "]");
                double want = (double) dOut[pl] / hw;
                for (int q = 0; q < hw; q++) {
                    assertEquals(want, gotDx[pl * hw + q], 2.5 * U * Math.abs(want), "dX[" + (pl * hw + q) + "]");
                }
            }
        }
    }

    @Test
    void overlappingWindowsThatPickTheSameElementAddTheirGradients() {
        ClBackend b = ClTestBackend.backend();
        // one large value in the middle of a 5×5 plane: all nine 3×3 windows of stride 1 pick it
        float[] x = new float[25];
        x[12] = 10f;
        float[] dOut = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        try (Tensor xt = b.upload(x, Shape.of(1, 1, 5, 5)); Tensor dt = b.upload(dOut, Shape.of(1, 1, 3, 3));
             MaxPool2dResult res = b.maxPool2dForward(xt, Pool2dParams.of(3, 1));
             Tensor dx = b.maxPool2dBackward(dt, res.cache())) {
            float[] got = dx.toArray();
            for (int i = 0; i < 25; i++) {
                assertEquals(i == 12 ? 45f : 0f, got[i], "dX[" + i + "]");
            }
        }
    }

    /** out and argmax equal the CPU backend's bit for bit (and dX too where no windows overlap). */
    @ParameterizedTest(name = "k={0} s={1} {2}x{3}")
    @CsvSource({"2, 2, 13, 11", "3, 2, 13, 11", "3, 3, 13, 11", "1, 1, 13, 11", "2, 2, 14, 12"})
    void maxPoolMatchesTheCpuBackend(int k, int s, int h, int w) {
        ClBackend b = ClTestBackend.backend();
        Pool2dParams p = Pool2dParams.of(k, s);
        Shape xs = Shape.of(4, 5, h, w);
        Random r = new Random(k * 10L + s);
        float[] x = tiedValues(r, xs.size(), true);
        Shape os = Shape.of(4, 5, (int) p.outputHeight(h), (int) p.outputWidth(w));
        float[] d = new float[os.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) r.nextGaussian();
        }
        try (org.layerkit.api.Backend cpu = new org.layerkit.cpu.CpuBackendProvider()
                .create(org.layerkit.api.BackendOptions.none());
             Tensor xc = cpu.upload(x, xs); Tensor dc = cpu.upload(d, os); MaxPool2dResult rc = cpu.maxPool2dForward(xc, p);
             Tensor dxc = cpu.maxPool2dBackward(dc, rc.cache());
             Tensor xt = b.upload(x, xs); Tensor dt = b.upload(d, os); MaxPool2dResult rt = b.maxPool2dForward(xt, p);
             Tensor dxt = b.maxPool2dBackward(dt, rt.cache())) {
            assertBits("out against cpu", rc.out().toArray(), rt.out().toArray());
            assertBits("argmax against cpu", rc.cache().argmax().toArray(), rt.cache().argmax().toArray());
            if (s >= k) {
                assertBits("dX against cpu", dxc.toArray(), dxt.toArray());
            }
        }
    }
}
