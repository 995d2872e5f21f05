package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.layerkit.api.BackendException;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Catalogue;
import org.layerkit.conformance.ConformanceCase;
import org.layerkit.conformance.Outcome;
import org.layerkit.conformance.Tolerance;

/**
 * Option {@code gemm}: CLBlast's SGEMM and the tiled kernel both pass the kit's GEMM cases and agree with each
 * other, a bad value is rejected, the device names the GEMM in use, and {@code auto} falls back to the tiled kernel
 * when CLBlast fails at its first call.
 */
class ClGemmChoiceTest {
    /** The shared backend whose option {@code gemm} is {@code gemm} ({@link ClTestBackend#withGemm}). */
    private static ClBackend backend(String gemm) {
        return ClTestBackend.withGemm(gemm);
    }

    @TestFactory
    Stream<DynamicTest> theKitsGemmCasesPassWithClBlastAndWithTheTiledKernel() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String gemm : List.of("clblast", "tiled")) {
            for (ConformanceCase c : Catalogue.select("^gemm", null)) {
                tests.add(DynamicTest.dynamicTest("gemm=" + gemm + ": " + c.name(), () -> {
                    Outcome o = c.run(backend(gemm));
                    assertTrue(o.isPassed(), c.name() + " with gemm=" + gemm + ": " + o.status() + " " + o.message());
                }));
            }
        }
        return tests.stream();
    }

    @Test
    void clBlastAndTheTiledKernelAgreeOnOddShapesAndEveryTranspose() {
        ClBackend clblast = backend("clblast");
        ClBackend tiled = backend("tiled");
        Random r = new Random(20261126);
        int[][] mkn = {{1, 1, 1}, {127, 785, 33}, {2, 1, 1000}, {65, 64, 63}, {1, 300, 1}, {300, 7, 129}};
        for (int[] s : mkn) {
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0;
                boolean tb = (t & 2) != 0;
                float alpha = t == 3 ? -1.5f : 1f;
                float beta = t == 1 ? 0.5f : 0f;
                String what = "M=" + s[0] + " K=" + s[1] + " N=" + s[2] + " transA=" + ta + " transB=" + tb
                        + " alpha=" + alpha + " beta=" + beta;
                float[][] out = new float[2][];
                float[] a = uniform(r, s[0] * s[1]);
                float[] b = uniform(r, s[1] * s[2]);
                float[] c = beta == 0 ? nans(s[0] * s[2]) : uniform(r, s[0] * s[2]);
                ClBackend[] both = {clblast, tiled};
                for (int i = 0; i < 2; i++) {
                    ClBackend be = both[i];
                    try (Tensor at = be.upload(a, ta ? Shape.of(s[1], s[0]) : Shape.of(s[0], s[1]));
                         Tensor bt = be.upload(b, tb ? Shape.of(s[2], s[1]) : Shape.of(s[1], s[2]));
                         Tensor ct = be.upload(c, Shape.of(s[0], s[2]))) {
                        be.gemm(at, ta, bt, tb, ct, alpha, beta);
                        out[i] = ct.toArray();
                    }
                }
                int m = s[0];
                int k = s[1];
                int n = s[2];
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        // GEMM (docs/tolerances.md) for each of the two results, so twice it between them:
                        // 2·SAFETY·(sum(K) + γ(3))·(|α|·Σ|a·b| + |β·c|), in any summation order
                        double mag = 0;
                        for (int q = 0; q < k; q++) {
                            mag += Math.abs(a[ta ? q * m + i : i * k + q]) * Math.abs(b[tb ? j * k + q : q * n + j]);
                        }
                        double tol = 2 * Tolerance.SAFETY * (Tolerance.sum(k) + Tolerance.gamma(3))
                                * (Math.abs(alpha) * mag + (beta == 0 ? 0 : Math.abs(beta * c[i * n + j])));
                        int e = i * n + j;
                        if (!(Math.abs(out[0][e] - out[1][e]) <= tol)) {
                            fail(what + ": C[" + i + "," + j + "] clblast " + out[0][e] + ", tiled " + out[1][e]
                                    + " (bound GEMM between two results: " + tol + ")");
                        }
                    }
                }
            }
        }
    }

    @Test
    void moreRowsThanOneTiledLaunchCoversComeOutTheSameFromClBlast() {
        // the tiled kernel goes in slabs of 65,535 work-groups of 64 rows; CLBlast's own launch must cover them too
        int m = ClLaunch.MAX_GROUPS_Y * 64 + 100;
        float[] a = new float[m];
        for (int i = 0; i < m; i++) {
            a[i] = (i % 1000) - 500;
        }
        for (String gemm : List.of("clblast", "tiled")) {
            ClBackend b = backend(gemm);
            try (Tensor at = b.upload(a, Shape.of(m, 1)); Tensor bt = b.upload(new float[] {2, -1}, Shape.of(1, 2));
                 Tensor c = b.matmul(at, false, bt, false)) {
                float[] out = c.toArray();
                for (int i = 0; i < m; i += 997) {
                    assertEquals(2 * a[i], out[2 * i], 0f, gemm + ": C[" + i + ",0]");
                    assertEquals(-a[i], out[2 * i + 1], 0f, gemm + ": C[" + i + ",1]");
                }
                assertEquals(2 * a[m - 1], out[2 * (m - 1)], 0f, gemm + ": the last row");
            }
        }
    }

    @Test
    void aBadGemmValueIsRejectedWithTheChoices() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of(ClBackendProvider.GEMM, "cublas")));
        assertEquals("opencl: gemm expected auto, clblast or tiled, got cublas", e.getMessage());
        System.setProperty("layerkit.opencl.gemm", "fastest");
        try {
            e = assertThrows(IllegalArgumentException.class, () -> p.create(BackendOptions.none()));
            assertEquals("opencl: gemm expected auto, clblast or tiled, got fastest", e.getMessage());
        } finally {
            System.clearProperty("layerkit.opencl.gemm");
        }
    }

    @Test
    void theDeviceNamesTheGemmInUse() {
        assertTrue(backend("tiled").device().name().endsWith(" (gemm=tiled)"), backend("tiled").device().name());
        String clblast = backend("clblast").device().name();
        assertTrue(clblast.endsWith(" (gemm=clblast " + ClBlast.load().version() + ")"), clblast);
        assertTrue(clblast.contains("(gemm=clblast 1.5.2)"), clblast);
        assertEquals(backend("tiled").context().device().name() + " (gemm=tiled)", backend("tiled").device().name());
        // what `layerkit backends` lists follows the system property like create() does
        System.setProperty("layerkit.opencl.gemm", "tiled");
        try {
            for (DeviceInfo d : new ClBackendProvider().devices()) {
                assertTrue(d.name().endsWith(" (gemm=tiled)"), d.describe());
            }
        } finally {
            System.clearProperty("layerkit.opencl.gemm");
        }
    }

    @Test
    void aDeviceIsFoundByTheWholeNameTheProviderListsWithItsGemm() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        DeviceInfo listed = p.devices().get(0);
        assertTrue(listed.name().contains(" (gemm="), listed.name());
        try (ClBackend b = (ClBackend) p.create(BackendOptions.of(Map.of("device", listed.name(),
                ClBackendProvider.GEMM, "tiled")))) {
            assertEquals(listed.name().replaceFirst(" \\(gemm=.*$", ""), b.context().device().name());
        }
    }

    @Test
    void autoUsesWhatTheMeasuredChoiceSaysAndNamesIt() {
        ClBackend auto = backend("auto");
        boolean clblast = ClBackendProvider.autoUsesClBlast(auto.context().device()) && ClBlast.load().ok();
        assertEquals(clblast, auto.gemmDescription().startsWith("clblast "), auto.gemmDescription());
    }

    @Test
    void autoFallsBackToTheTiledKernelWithOneWarningWhenClBlastFailsAtFirstUse() {
        ClTestBackend.assumeAvailable();
        Logger log = Logger.getLogger(ClGemmKernels.class.getName());
        List<LogRecord> warnings = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord rec) {
                if (rec.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(rec);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(h);
        try (ClBackend b = (ClBackend) new ClBackendProvider().create(BackendOptions.of(ClBackendProvider.GEMM,
                "auto"))) {
            if (!b.gemmDescription().startsWith("clblast")) {
                return; // auto did not pick CLBlast here: nothing to fall back from
            }
            b.gemmKernels().sgemmForTests((ta, tb, m, n, k, alpha, a, bm, beta, c, q) -> -11);
            float[] a = {1, 2, 3, 4, 5, 6};
            for (int rep = 0; rep < 2; rep++) {
                try (Tensor at = b.upload(a, Shape.of(2, 3)); Tensor bt = b.upload(a, Shape.of(3, 2));
                     Tensor c = b.matmul(at, false, bt, false)) {
                    assertEquals(List.of(22f, 28f, 49f, 64f), boxed(c.toArray()));
                }
            }
            assertEquals("tiled (clblast failed on first use: CLBlastOpenCLBuildProgramFailure (-11))",
                    b.gemmDescription());
            assertTrue(b.device().name().endsWith("(gemm=tiled (clblast failed on first use: "
                    + "CLBlastOpenCLBuildProgramFailure (-11)))"), b.device().name());
            assertEquals(1, warnings.size(), "one warning for the fallback");
            String w = warnings.get(0).getMessage();
            assertTrue(w.contains("CLBlastOpenCLBuildProgramFailure") && w.contains("tiled"), w);
        } finally {
            log.removeHandler(h);
        }
    }

    @Test
    void anExplicitClBlastThatFailsNamesTheOpTheDeviceAndTheStatus() {
        ClTestBackend.assumeAvailable();
        try (ClBackend b = (ClBackend) new ClBackendProvider().create(BackendOptions.of(ClBackendProvider.GEMM,
                "clblast"))) {
            b.gemmKernels().sgemmForTests((ta, tb, m, n, k, alpha, a, bm, beta, c, q) -> -1011);
            try (Tensor x = b.upload(new float[] {1, 2}, Shape.of(1, 2));
                 Tensor y = b.upload(new float[] {3, 4}, Shape.of(2, 1))) {
                BackendException e = assertThrows(BackendException.class, () -> b.matmul(x, false, y, false));
                String m = e.getMessage();
                assertTrue(m.startsWith("gemm"), m);
                assertTrue(m.contains(b.context().device().name()), m);
                assertTrue(m.contains("CLBlastInsufficientMemoryA (-1011)"), m);
                assertTrue(b.gemmDescription().startsWith("clblast"), "no fallback when asked for by name");
            }
            assertFalse(b.isClosed());
        }
    }

    @Test
    void clBlastShortOfMemoryForItsTemporariesGetsThePooledBuffersAndOneMoreTry() {
        ClTestBackend.assumeAvailable();
        try (ClBackend b = (ClBackend) new ClBackendProvider().create(BackendOptions.of(ClBackendProvider.GEMM,
                "clblast"))) {
            int[] calls = {0};
            b.gemmKernels().sgemmForTests((ta, tb, m, n, k, alpha, a, bm, beta, c, q) -> ++calls[0] == 1
                    ? -4 // CLBlastTempBufferAllocFailure
                    : ClBlast.sgemm(ta, tb, m, n, k, alpha, a, bm, beta, c, q));
            b.zeros(Shape.of(1000)).close(); // something in the pool
            assertTrue(b.context().pooledBytes() > 0);
            float[] a = {1, 2, 3, 4, 5, 6};
            try (Tensor at = b.upload(a, Shape.of(2, 3)); Tensor bt = b.upload(a, Shape.of(3, 2));
                 Tensor c = b.matmul(at, false, bt, false)) {
                assertEquals(List.of(22f, 28f, 49f, 64f), boxed(c.toArray()));
            }
            assertEquals(2, calls[0]);
        }
    }

    private static float[] uniform(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return x;
    }

    private static float[] nans(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }

    private static List<Float> boxed(float[] x) {
        List<Float> out = new ArrayList<>();
        for (float v : x) {
            out.add(v);
        }
        return out;
    }
}
