package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * conv2d on the device against a float64 loop nest of its definition (docs/ops/conv2d.md): im2col with CLBlast's GEMM
 * and with the tiled kernel, whole batches and chunked ones (workspaces too small for a sample included), and the
 * direct kernels (option {@code conv=direct}).
 *
 * <p>Bounds: every value is a float32 sum of n products (n = C·KH·KW + 1 for out with the bias, N·H'·W' for dW and
 * dB, at most F·KH·KW for dX), in any order, so |error| ≤ γ_n·Σ|terms| with γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham,
 * §3.1), whatever the order, FMA or not; Σ|terms| is the same loop nest run on |x|, |w|, |dOut| in float64. The check
 * uses the largest such bound over the tensor, as the kit does.
 */
class ClConvTest {
    private static final double U = Math.ulp(1.0f) / 2;
    private static final Map<String, ClBackend> BACKENDS = new ConcurrentHashMap<>();

    private static ClBackend backend(String gemm) {
        ClTestBackend.assumeAvailable();
        return BACKENDS.computeIfAbsent(gemm,
                g -> (ClBackend) new ClBackendProvider().create(BackendOptions.of(ClBackendProvider.GEMM, g)));
    }

    @AfterAll
    static void closeBackends() {
        BACKENDS.values().forEach(ClBackend::close);
        BACKENDS.clear();
    }

    static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    // ---------------------------------------------------------------- float64 reference

    /** The geometry of one case. */
    record Geo(int n, int c, int h, int w, int f, int kh, int kw, int sh, int sw, int ph, int pw) {
        int ho() {
            return (h + 2 * ph - kh) / sh + 1;
        }

        int wo() {
            return (w + 2 * pw - kw) / sw + 1;
        }

        Conv2dParams params() {
            return Conv2dParams.of(sh, sw, ph, pw);
        }

        Shape xShape() {
            return Shape.of(n, c, h, w);
        }

        Shape wShape() {
            return Shape.of(f, c, kh, kw);
        }

        /** x̃[n,c,hh,ww] with zero padding: x's value, or 0 outside. */
        double xAt(double[] x, int nn, int cc, int hh, int ww) {
            if (hh < 0 || hh >= h || ww < 0 || ww >= w) {
                return 0;
            }
            return x[((nn * c + cc) * h + hh) * w + ww];
        }
    }

    /** out[n,f,i,j] = bias[f] + Σ w[f,c,p,q]·x̃[n,c,i·sh+p−ph,j·sw+q−pw]. */
    static double[] forward(Geo g, double[] x, double[] w, double[] bias) {
        int ho = g.ho(), wo = g.wo();
        double[] out = new double[g.n() * g.f() * ho * wo];
        for (int n = 0; n < g.n(); n++) {
            for (int f = 0; f < g.f(); f++) {
                for (int i = 0; i < ho; i++) {
                    for (int j = 0; j < wo; j++) {
                        double s = bias == null ? 0 : bias[f];
                        for (int c = 0; c < g.c(); c++) {
                            for (int p = 0; p < g.kh(); p++) {
                                for (int q = 0; q < g.kw(); q++) {
                                    s += w[((f * g.c() + c) * g.kh() + p) * g.kw() + q]
                                            * g.xAt(x, n, c, i * g.sh() + p - g.ph(), j * g.sw() + q - g.pw());
                                }
                            }
                        }
                        out[((n * g.f() + f) * ho + i) * wo + j] = s;
                    }
                }
            }
        }
        return out;
    }

    /** {dX, dW, dB} of the definition: each output's dOut times the coefficient of each input it contains. */
    static double[][] backward(Geo g, double[] x, double[] w, double[] dOut) {
        int ho = g.ho(), wo = g.wo();
        double[] dX = new double[g.n() * g.c() * g.h() * g.w()];
        double[] dW = new double[g.f() * g.c() * g.kh() * g.kw()];
        double[] dB = new double[g.f()];
        for (int n = 0; n < g.n(); n++) {
            for (int f = 0; f < g.f(); f++) {
                for (int i = 0; i < ho; i++) {
                    for (int j = 0; j < wo; j++) {
                        double d = dOut[((n * g.f() + f) * ho + i) * wo + j];
                        dB[f] += d;
                        for (int c = 0; c < g.c(); c++) {
                            for (int p = 0; p < g.kh(); p++) {
                                for (int q = 0; q < g.kw(); q++) {
                                    int hh = i * g.sh() + p - g.ph();
                                    int ww = j * g.sw() + q - g.pw();
                                    int wi = ((f * g.c() + c) * g.kh() + p) * g.kw() + q;
                                    dW[wi] += d * g.xAt(x, n, c, hh, ww);
                                    if (hh >= 0 && hh < g.h() && ww >= 0 && ww < g.w()) {
                                        dX[((n * g.c() + c) * g.h() + hh) * g.w() + ww] += d * w[wi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return new double[][] {dX, dW, dB};
    }

    // ---------------------------------------------------------------- checks

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    static double[] wide(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    static double[] abs(double[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = Math.abs(a[i]);
        }
        return d;
    }

    /** |got − want| ≤ γ_terms·max Σ|t| everywhere; the message names shape, max error, bound and first bad index. */
    static void assertClose(String what, Shape shape, double[] want, double[] magnitude, long terms, float[] got) {
        assertEquals(want.length, got.length, what + ": length");
        double maxMag = 0;
        for (double m : magnitude) {
            maxMag = Math.max(maxMag, m);
        }
        double bound = gamma(terms) * maxMag;
        double maxErr = 0;
        int firstBad = -1;
        for (int i = 0; i < want.length; i++) {
            double e = Math.abs(got[i] - want[i]);
            if (!(e <= bound) && firstBad < 0) {
                firstBad = i;
            }
            maxErr = Math.max(maxErr, Double.isNaN(e) ? Double.POSITIVE_INFINITY : e);
        }
        if (firstBad >= 0) {
            fail(what + " " + shape + ": max error " + maxErr + " > bound " + bound + " (γ_" + terms + "·" + maxMag
                    + "); first bad index " + firstBad + ": got " + got[firstBad] + ", want " + want[firstBad]);
        }
    }

    /** Forward and backward of one case on {@code conv} (a kernel set of some backend and workspace), checked. */
    static void check(ClBackend b, ClConvKernels conv, Geo g, boolean withBias, boolean inputGrad, long seed) {
        Random r = new Random(seed);
        float[] x = random(r, g.n() * g.c() * g.h() * g.w());
        float[] w = random(r, g.f() * g.c() * g.kh() * g.kw());
        float[] bias = withBias ? random(r, g.f()) : null;
        Shape outShape = Shape.of(g.n(), g.f(), g.ho(), g.wo());
        float[] dOut = random(r, outShape.size());
        double[] xd = wide(x), wd = wide(w), bd = bias == null ? null : wide(bias), dd = wide(dOut);
        String name = "x " + g.xShape() + " w " + g.wShape() + " " + g.params() + (withBias ? " bias" : "");
        try (Tensor xt = b.upload(x, g.xShape()); Tensor wt = b.upload(w, g.wShape());
             Tensor bt = bias == null ? null : b.upload(bias, Shape.of(g.f()));
             Tensor dt = b.upload(dOut, outShape);
             Conv2dResult res = conv.forward(xt, wt, bt, g.params())) {
            assertEquals(outShape, res.out().shape(), name);
            assertClose(name + " out", outShape, forward(g, xd, wd, bd),
                    forward(g, abs(xd), abs(wd), bd == null ? null : abs(bd)), (long) g.c() * g.kh() * g.kw() + 1,
                    res.out().toArray());
            double[][] want = backward(g, xd, wd, dd);
            double[][] mag = backward(g, abs(xd), abs(wd), abs(dd));
            try (Conv2dGrads grads = conv.backward(dt, res.cache(), wt, inputGrad)) {
                long nhw = (long) g.n() * g.ho() * g.wo();
                assertClose(name + " dW", g.wShape(), want[1], mag[1], nhw, grads.dW().toArray());
                if (withBias) {
                    assertClose(name + " dB", Shape.of(g.f()), want[2], mag[2], nhw, grads.dB().toArray());
                } else {
                    assertNull(grads.dB(), name + " dB without a bias");
                }
                if (inputGrad) {
                    assertClose(name + " dX", g.xShape(), want[0], mag[0], (long) g.f() * g.kh() * g.kw(),
                            grads.dX().toArray());
                } else {
                    assertNull(grads.dX(), name + " dX with inputGrad = false");
                }
            }
        }
    }

    // ---------------------------------------------------------------- cases

    @ParameterizedTest(name = "{0} N={1} C={2} {3}x{4} F={5} k={6}x{7} s={8},{9} p={10},{11}")
    @CsvSource({
            // path (im2col with gemm=clblast or gemm=tiled, or the direct kernels), N, C, H, W, F, KH, KW, SH, SW, PH, PW
            "clblast, 2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1",
            "tiled,   2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1",
            "clblast, 1, 1, 5, 7, 3, 1, 1, 1, 1, 0, 0",    // N = 1, C = 1, 1×1 kernel, non-square
            "tiled,   1, 1, 5, 7, 3, 1, 1, 1, 1, 0, 0",
            "clblast, 3, 2, 11, 9, 5, 3, 3, 2, 2, 0, 0",   // stride 2, no padding, odd sizes
            "tiled,   3, 2, 11, 9, 5, 3, 3, 2, 2, 0, 0",
            "clblast, 2, 3, 9, 12, 2, 7, 7, 1, 1, 2, 2",   // 7×7 kernel, padding 2
            "tiled,   2, 3, 9, 12, 2, 7, 7, 1, 1, 2, 2",
            "clblast, 2, 1, 13, 10, 6, 7, 7, 2, 2, 3, 3",  // 7×7 stride 2, C = 1
            "clblast, 4, 5, 6, 10, 3, 2, 3, 1, 2, 2, 1",   // non-square kernel, stride and padding per axis
            "tiled,   4, 5, 6, 10, 3, 2, 3, 1, 2, 2, 1",
            "clblast, 2, 2, 4, 4, 3, 3, 3, 3, 3, 0, 0",    // stride = kernel: no overlap
            "clblast, 1, 2, 5, 5, 2, 2, 2, 3, 3, 0, 0",    // stride > kernel: rows and columns no window reaches
            "clblast, 2, 2, 3, 3, 2, 3, 3, 1, 1, 3, 3",    // padding as large as the kernel: outer outputs = bias
            "clblast, 1, 3, 1, 1, 4, 1, 1, 1, 1, 0, 0",    // 1×1 plane
            "tiled,   1, 3, 1, 1, 4, 3, 3, 1, 1, 1, 1",    // 1×1 plane in a 3×3 kernel
            "clblast, 8, 16, 33, 33, 24, 3, 3, 1, 1, 1, 1",// beyond one 64×64 GEMM tile in every direction
            "tiled,   8, 16, 33, 33, 24, 3, 3, 1, 1, 1, 1",
            "clblast, 2, 70, 5, 5, 65, 3, 3, 1, 1, 1, 1",  // K = 630, F = 65: tiles of the other operand
            "direct,  2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1",
            "direct,  1, 1, 5, 7, 3, 1, 1, 1, 1, 0, 0",
            "direct,  3, 2, 11, 9, 5, 3, 3, 2, 2, 0, 0",
            "direct,  2, 3, 9, 12, 2, 7, 7, 1, 1, 2, 2",
            "direct,  4, 5, 6, 10, 3, 2, 3, 1, 2, 2, 1",
            "direct,  1, 2, 5, 5, 2, 2, 2, 3, 3, 0, 0",
            "direct,  2, 2, 3, 3, 2, 3, 3, 1, 1, 3, 3",
            "direct,  8, 16, 33, 33, 24, 3, 3, 1, 1, 1, 1",
    })
    void matchesTheDefinitionOnEveryPath(String path, int n, int c, int h, int w, int f, int kh, int kw, int sh,
                                         int sw, int ph, int pw) {
        boolean direct = path.equals("direct");
        ClBackend b = backend(direct ? "clblast" : path);
        Geo g = new Geo(n, c, h, w, f, kh, kw, sh, sw, ph, pw);
        ClConvKernels conv = new ClConvKernels(b,
                direct ? ClConvKernels.Algorithm.DIRECT : ClConvKernels.Algorithm.IM2COL, 256L << 20);
        check(b, conv, g, true, true, 31L * n + 7 * c + h + kw);
        check(b, conv, g, false, false, 17L * n + 5 * f + w + kh);
    }

    /**
     * Workspaces too small for the batch: chunks of whole samples (20 000 bytes: 2 samples of 9 output rows), of 4
     * output rows that straddle samples (4 000), of 3 rows, 3 chunks per sample (3 000), of 1 row (1 byte); each
     * gives the results of one chunk, within the same bounds.
     */
    @ParameterizedTest(name = "gemm={0} workspace={1} bytes")
    @CsvSource({"clblast, 20000", "clblast, 4000", "clblast, 3000", "clblast, 1", "tiled, 4000", "tiled, 1"})
    void chunkedBatchesGiveTheSameResults(String gemm, long workspaceBytes) {
        ClBackend b = backend(gemm);
        // K = 27, F = 4, W' = 9: one output row's columns take 27·9·4 = 972 bytes, a sample 9 rows = 8748 bytes
        Geo g = new Geo(5, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1);
        ClConvKernels conv = new ClConvKernels(b, ClConvKernels.Algorithm.IM2COL, workspaceBytes);
        check(b, conv, g, true, true, workspaceBytes);
        // stride 2: the windows that cover an input row come from two output rows, possibly in two chunks
        check(b, conv, new Geo(3, 2, 10, 7, 3, 3, 3, 2, 2, 1, 1), true, true, workspaceBytes + 1);
    }

    @Test
    void chunkPlansKeepWholeSamplesWhenOneFits() {
        ClBackend b = backend("clblast");
        Geo g = new Geo(5, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1);
        ClConvKernels.Geometry geo = ClConvKernels.Geometry.of(g.xShape(), g.wShape(), g.params());
        ClConvKernels conv = new ClConvKernels(b, ClConvKernels.Algorithm.IM2COL, 1L << 20);
        assertEquals(new ClConvKernels.Plan(45, true), conv.plan("t", geo, 1L << 20));
        assertEquals(new ClConvKernels.Plan(18, true), conv.plan("t", geo, 20000));
        assertEquals(new ClConvKernels.Plan(4, false), conv.plan("t", geo, 4000));
        assertEquals(new ClConvKernels.Plan(1, false), conv.plan("t", geo, 1));
    }

    @Test
    void theBackwardUsesTheForwardsInputAfterXIsClosedOrOverwritten() {
        ClBackend b = backend("clblast");
        Geo g = new Geo(2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1);
        Random r = new Random(5);
        float[] x = random(r, g.n() * g.c() * g.h() * g.w());
        float[] w = random(r, g.f() * g.c() * g.kh() * g.kw());
        Shape outShape = Shape.of(g.n(), g.f(), g.ho(), g.wo());
        float[] dOut = random(r, outShape.size());
        double[][] want = backward(g, wide(x), wide(w), wide(dOut));
        double[][] mag = backward(g, abs(wide(x)), abs(wide(w)), abs(wide(dOut)));
        long nhw = (long) g.n() * g.ho() * g.wo();
        try (Tensor wt = b.upload(w, g.wShape()); Tensor dt = b.upload(dOut, outShape)) {
            // closed
            Tensor xt = b.upload(x, g.xShape());
            try (Conv2dResult res = b.conv2dForward(xt, wt, null, g.params())) {
                xt.close();
                try (Conv2dGrads grads = b.conv2dBackward(dt, res.cache(), wt)) {
                    assertClose("dW after x closed", g.wShape(), want[1], mag[1], nhw, grads.dW().toArray());
                }
            }
            // overwritten in place
            try (Tensor xt2 = b.upload(x, g.xShape()); Conv2dResult res = b.conv2dForward(xt2, wt, null, g.params())) {
                b.fill(xt2, 3f);
                try (Conv2dGrads grads = b.conv2dBackward(dt, res.cache(), wt)) {
                    assertClose("dW after x overwritten", g.wShape(), want[1], mag[1], nhw, grads.dW().toArray());
                }
            }
        }
    }

    @Test
    void workspacesComeBackToThePoolAndNothingLeaks() {
        ClBackend b = backend("clblast");
        Geo g = new Geo(4, 3, 10, 10, 5, 3, 3, 1, 1, 1, 1);
        Random r = new Random(3);
        try (Tensor xt = b.upload(random(r, 1200), g.xShape()); Tensor wt = b.upload(random(r, 135), g.wShape());
             Tensor dt = b.upload(random(r, 2000), Shape.of(4, 5, 10, 10))) {
            long live = b.context().liveBytes();
            for (int i = 0; i < 5; i++) {
                try (Conv2dResult res = b.conv2dForward(xt, wt, null, g.params());
                     Conv2dGrads grads = b.conv2dBackward(dt, res.cache(), wt)) {
                    assertTrue(res.out().shape().size() > 0);
                }
                assertEquals(live, b.context().liveBytes(), "live bytes after step " + i);
            }
        }
    }
}
