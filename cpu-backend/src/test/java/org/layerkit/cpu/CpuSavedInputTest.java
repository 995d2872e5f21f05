package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Tolerance;

/**
 * The CPU caches keep the forward's input x: its array stays out of the pool until the cache closes, and every
 * in-place op of the backend counts as a change of x that the backward refuses.
 */
class CpuSavedInputTest {
    private static final Shape X = Shape.of(4, 8);
    private static final Shape P = Shape.of(8);

    private static float[] ramp(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) Math.sin(i * 0.7) * scale + 0.1f * i;
        }
        return a;
    }

    private static NormResult layerNorm(CpuBackend be, Tensor x) {
        return be.layerNormForward(x, be.upload(ramp(8, 1f), P), be.zeros(P), 1e-5f);
    }

    /** Every in-place op of the backend, applied to t (of shape [4,8]) with whatever other operands it needs. */
    static Stream<Arguments> inPlaceOps() {
        return Stream.of(
                op("fill", (be, t) -> be.fill(t, 2f)),
                op("copy into", (be, t) -> be.copy(be.zeros(X), t)),
                op("scale", (be, t) -> be.scale(t, 2f)),
                op("axpy into", (be, t) -> be.axpy(1f, be.upload(ramp(32, 1f), X), t)),
                op("addBias", (be, t) -> be.addBias(t, be.upload(ramp(8, 1f), P))),
                op("gemm into", (be, t) -> be.gemm(be.upload(ramp(12, 1f), Shape.of(4, 3)), false,
                        be.upload(ramp(24, 1f), Shape.of(3, 8)), false, t, 1f, 0f)),
                op("sgd", (be, t) -> be.sgd(t, be.upload(ramp(32, 1f), X), 0.1f)),
                op("sgdMomentum w", (be, t) -> be.sgdMomentum(t, be.upload(ramp(32, 1f), X), be.zeros(X), 0.1f,
                        0.9f)),
                op("sgdMomentum velocity", (be, t) -> be.sgdMomentum(be.zeros(X), be.upload(ramp(32, 1f), X), t,
                        0.1f, 0.9f)),
                op("rmsprop w", (be, t) -> be.rmsprop(t, be.upload(ramp(32, 1f), X), be.zeros(X), 0.1f, 0.9f,
                        1e-8f)),
                op("rmsprop cache", (be, t) -> be.rmsprop(be.zeros(X), be.upload(ramp(32, 1f), X), t, 0.1f, 0.9f,
                        1e-8f)),
                op("adam w", (be, t) -> be.adam(t, be.upload(ramp(32, 1f), X), be.zeros(X), be.zeros(X), 0.1f,
                        0.9f, 0.999f, 1e-8f, 1)),
                op("adam m", (be, t) -> be.adam(be.zeros(X), be.upload(ramp(32, 1f), X), t, be.zeros(X), 0.1f,
                        0.9f, 0.999f, 1e-8f, 1)),
                op("adam v", (be, t) -> be.adam(be.zeros(X), be.upload(ramp(32, 1f), X), be.zeros(X), t, 0.1f,
                        0.9f, 0.999f, 1e-8f, 1)));
    }

    private static Arguments op(String name, BiConsumer<CpuBackend, Tensor> write) {
        return Arguments.of(name, write);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("inPlaceOps")
    void everyInPlaceOpOnTheInputMakesTheBackwardRefuse(String name, BiConsumer<CpuBackend, Tensor> write) {
        try (CpuBackend be = new CpuBackend()) {
            Tensor x = be.upload(ramp(32, 3f), X);
            NormResult r = layerNorm(be, x);
            write.accept(be, x);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> be.layerNormBackward(be.upload(ramp(32, 1f), X), r.cache(), be.upload(ramp(8, 1f), P)));
            assertTrue(e.getMessage().startsWith("layernorm.backward: cache expected its forward's input x unchanged")
                    && e.getMessage().contains("modified in place"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> r.cache().xhat(), "x̂ cannot be recomputed either");
        }
    }

    @Test
    void closingTheInputKeepsItsArrayOutOfThePoolUntilTheCacheCloses() {
        try (CpuBackend be = new CpuBackend()) {
            Tensor x = be.upload(ramp(32, 3f), X);
            NormResult r = layerNorm(be, x);
            float[] xhat = r.cache().xhat().toArray();
            long pooled = be.pool().pooledFloats();
            x.close();
            assertTrue(x.isClosed());
            assertEquals(pooled, be.pool().pooledFloats(), "the cache still reads x's array");
            try (Tensor reuse = be.upload(new float[32], X)) {
                assertNotNull(reuse);
            }
            NormGrads g = be.layerNormBackward(be.upload(ramp(32, 1f), X), r.cache(), be.upload(ramp(8, 1f), P));
            assertNotNull(g);
            assertArrayEquals(xhat, r.cache().xhat().toArray());
            long before = be.pool().pooledFloats();
            r.close();
            assertTrue(be.pool().pooledFloats() >= before + 32, "x's array is back in the pool once the cache is closed");
            assertTrue(r.cache().isClosed());
        }
    }

    @Test
    void xhatIsComputedOnceOnFirstRequestAndEqualsTheForwardsNormalization() {
        try (CpuBackend be = new CpuBackend()) {
            float[] x = ramp(32, 3f);
            NormResult r = layerNorm(be, be.upload(x, X));
            Tensor first = r.cache().xhat();
            assertEquals(first, r.cache().xhat(), "the same tensor on the second call");
            float[] xh = first.toArray();
            float[] mean = r.cache().mean().toArray();
            float[] rstd = r.cache().rstd().toArray();
            for (int i = 0; i < 32; i++) {
                // XHAT_FROM_CACHE: the kernel forms ((x − hi) − lo)·rstd with the cached float head hi = mean and
                // a tail |lo| ≤ U·|μ|, so it differs from (x − hi)·rstd by at most |lo|·rstd plus three roundings
                double expected = (x[i] - (double) mean[i / 8]) * rstd[i / 8];
                double bound = Tolerance.SAFETY * (Tolerance.U * Math.abs(mean[i / 8]) * rstd[i / 8]
                        + Tolerance.gamma(3) * Math.abs(expected));
                assertEquals(expected, xh[i], bound, "x̂[" + i + "] outside XHAT_FROM_CACHE");
            }
            r.close();
            assertTrue(first.isClosed(), "x̂ closes with its cache");
        }
    }
}
