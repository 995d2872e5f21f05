package org.layerkit.opencl;

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

    /** {@link #assumeAvailable()}, then the shared backend. */
    static ClBackend backend() {
        assumeAvailable();
        return shared();
    }
}
