package org.layerkit.opencl;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.layerkit.api.Availability;
import org.layerkit.api.BackendOptions;

/**
 * The one OpenCL backend the tests share (PoCL builds each kernel family once per context, so sharing keeps the
 * suite fast). Without OpenCL the calling test is skipped with the reason, unless
 * {@code -Dlayerkit.requireOpenCL=true} (set by .ci/run), which turns the skip into a failure.
 */
final class ClTestBackend {
    static final String REQUIRE_PROPERTY = "layerkit.requireOpenCL";
    private static ClBackend shared;
    private static final Map<String, ClBackend> byOption = new HashMap<>();

    private ClTestBackend() {
    }

    static synchronized ClBackend shared() {
        if (shared == null || shared.isClosed()) {
            shared = (ClBackend) new ClBackendProvider().create(BackendOptions.none());
        }
        return shared;
    }

    /** Skips (or, when OpenCL is required, fails) the calling test if no OpenCL device is usable here. */
    static void assumeAvailable() {
        Availability a = new ClBackendProvider().availability();
        if (!a.isAvailable()) {
            if (Boolean.getBoolean(REQUIRE_PROPERTY)) {
                Assertions.fail("OpenCL is required here (-D" + REQUIRE_PROPERTY + "=true) but unavailable: "
                        + a.describe(), a.cause());
            }
            Assumptions.abort("OpenCL unavailable, skipping: " + a.describe());
        }
    }

    /**
     * {@link #assumeAvailable()}, then a shared backend whose option {@code dropoutMask} is {@code mode}
     * ({@code pending} or {@code eager}), so dropout tests check both paths whatever the device's default.
     */
    static ClBackend withDropoutMasks(String mode) {
        return withOption(ClBackendProvider.DROPOUT_MASK, mode);
    }

    /**
     * {@link #assumeAvailable()}, then a shared backend whose option {@code gemm} is {@code gemm} ({@code clblast},
     * {@code tiled} or {@code auto}), so GEMM and convolution tests check both kernels whatever the device's default.
     */
    static ClBackend withGemm(String gemm) {
        return withOption(ClBackendProvider.GEMM, gemm);
    }

    /** A shared backend with one option set (created once per key and value, like {@link #shared()}). */
    private static synchronized ClBackend withOption(String key, String value) {
        assumeAvailable();
        ClBackend b = byOption.get(key + "=" + value);
        if (b == null || b.isClosed()) {
            b = (ClBackend) new ClBackendProvider().create(BackendOptions.of(key, value));
            byOption.put(key + "=" + value, b);
        }
        return b;
    }

    /** {@link #assumeAvailable()}, then the shared backend. */
    static ClBackend backend() {
        assumeAvailable();
        return shared();
    }

    /**
     * {@link #assumeAvailable()}, then a backend of the caller's own, which it closes: for tests that count live
     * buffers exactly. Tensors that other tests drop unclosed on a shared backend are reclaimed whenever the garbage
     * collector finds them, which would change such a count in the middle of a test.
     */
    static ClBackend isolated(BackendOptions options) {
        assumeAvailable();
        return (ClBackend) new ClBackendProvider().create(options);
    }
}
