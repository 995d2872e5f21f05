package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.layerkit.cpu.Numerics.assertClose;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Bounds;
import org.layerkit.conformance.Tolerance;

class CpuGemmTest {
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    /** α·op(A)·op(B) + β·C by the definition, in double, row-major. */
    private static double[] naive(float[] a, Shape as, boolean ta, float[] b, Shape bs, boolean tb, float[] c,
                                  int m, int n, int k, double alpha, double beta) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a[p * as.dim(1) + i] : a[i * as.dim(1) + p];
                    double bv = tb ? b[j * bs.dim(1) + p] : b[p * bs.dim(1) + j];
                    s += av * bv;
                }
                out[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * n + j]);
            }
        }
        return out;
    }

    private static void checkAllTransposes(int m, int n, int k, float alpha, float beta, long seed) {
        Random r = new Random(seed);
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                Shape as = ta ? Shape.of(k, m) : Shape.of(m, k);
                Shape bs = tb ? Shape.of(n, k) : Shape.of(k, n);
                float[] a = Numerics.gaussian(r, as.size(), 0, 1);
                float[] b = Numerics.gaussian(r, bs.size(), 0, 1);
                float[] c = Numerics.gaussian(r, m * n, 0, 1);
                double[] expected = naive(a, as, ta, b, bs, tb, c, m, n, k, alpha, beta);
                try (Tensor tA = be.upload(a, as); Tensor tB = be.upload(b, bs); Tensor tC = be.upload(c,
                        Shape.of(m, n))) {
                    be.gemm(tA, ta, tB, tb, tC, alpha, beta);
                    assertClose("gemm transA=" + ta + " transB=" + tb + " alpha=" + alpha + " beta=" + beta,
                            Shape.of(m, n), expected, tC.toArray(), Bounds.gemm(a, as.dim(0), as.dim(1), ta, b,
                                    bs.dim(0), bs.dim(1), tb, c, alpha, beta));
                }
            }
        }
    }

    @Test
    void allFourTransposeCombinationsMatchANaiveLoop() {
        checkAllTransposes(7, 5, 13, 1f, 0f, 1);
        checkAllTransposes(65, 33, 129, 1f, 0f, 2);
        checkAllTransposes(1, 1, 1, 1f, 0f, 3);
    }

    @Test
    void alphaAndBetaScaleTheProductAndTheOldContents() {
        checkAllTransposes(9, 11, 6, 0.5f, 2f, 4);
        checkAllTransposes(31, 3, 17, -1.5f, 1f, 5);
    }

    /**
     * Products of at least {@link CpuGemm#MIN_SPLIT_FLOPS} multiply-adds, which run as bands of C's rows on the cores
     * when BLAS is single-threaded (OPENBLAS_NUM_THREADS=1, as the launcher sets it): odd sizes, so the bands are
     * unequal and a transposed A is entered at a column offset.
     */
    @Test
    void aProductSplitIntoRowBandsMatchesANaiveLoop() {
        assertTrue(131L * 67 * 257 >= CpuGemm.MIN_SPLIT_FLOPS);
        checkAllTransposes(131, 67, 257, 1f, 0f, 6);
        checkAllTransposes(131, 67, 257, -0.5f, 1f, 7);
    }

    /** OpenBLAS's thread count as it reads it: the first positive of three variables, capped by the cores. */
    @Test
    void blasThreadsFollowsOpenBlasVariables() {
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(1, CpuGemm.blasThreads(Map.of("OPENBLAS_NUM_THREADS", "1", "OMP_NUM_THREADS", "8")));
        assertEquals(1, CpuGemm.blasThreads(Map.of("OPENBLAS_NUM_THREADS", "x", "GOTO_NUM_THREADS", " 1 ")));
        assertEquals(1, CpuGemm.blasThreads(Map.of("OPENBLAS_NUM_THREADS", "0", "OMP_NUM_THREADS", "1")));
        assertEquals(Math.min(2, cores), CpuGemm.blasThreads(Map.of("OMP_NUM_THREADS", "2")));
        assertEquals(cores, CpuGemm.blasThreads(Map.of("OPENBLAS_NUM_THREADS", "100000")));
        assertEquals(cores, CpuGemm.blasThreads(Map.of()));
    }

    // The small integer products below are exact in float32: every product and partial sum is an integer below 2^24,
    // so no rounding happens in any order (Tolerance.EXACT).

    @Test
    void betaZeroIgnoresNaNInC() {
        float[] a = {1, 2, 3, 4};
        float[] b = {5, 6, 7, 8};
        float[] c = new float[4];
        Arrays.fill(c, Float.NaN);
        try (Tensor tA = be.upload(a, Shape.of(2, 2)); Tensor tB = be.upload(b, Shape.of(2, 2));
             Tensor tC = be.upload(c, Shape.of(2, 2))) {
            be.gemm(tA, false, tB, false, tC, 1f, 0f);
            assertClose("gemm with NaN in C and beta 0", Shape.of(2, 2), new double[] {19, 22, 43, 50}, tC.toArray(),
                    Tolerance.EXACT);
        }
    }

    @Test
    void anOutputThatIsAlsoAnInputIsReadBeforeItIsOverwritten() {
        try (Tensor a = be.upload(new float[] {1, 2, 3, 4}, Shape.of(2, 2));
             Tensor b = be.upload(new float[] {5, 6, 7, 8}, Shape.of(2, 2))) {
            be.gemm(a, false, b, false, a, 1f, 0f); // a = a·b
            assertClose("gemm with c == a", Shape.of(2, 2), new double[] {19, 22, 43, 50}, a.toArray(), Tolerance.EXACT);
            be.gemm(b, true, b, false, b, 1f, 1f); // b = bᵀ·b + b
            assertClose("gemm with c == a == b", Shape.of(2, 2), new double[] {74 + 5, 86 + 6, 86 + 7, 100 + 8},
                    b.toArray(), Tolerance.EXACT);
        }
    }

    @Test
    void matmulReturnsANewProduct() {
        try (Tensor tA = be.upload(new float[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3));
             Tensor p = be.matmul(tA, false, tA, true)) {
            assertClose("matmul a·aᵀ", Shape.of(2, 2), new double[] {14, 32, 32, 77}, p.toArray(), Tolerance.EXACT);
        }
    }

    @Test
    void deviceNameReportsTheBlasInUse() {
        assertTrue(be.device().name().contains("BLAS: "), be.device().name());
    }
}
