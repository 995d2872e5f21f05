package org.layerkit.opencl;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * The normalization cases of the conformance kit with reductions accumulating in float (option
 * {@code accumulator=float}), the path of devices without {@code cl_khr_fp64}, whatever the device here: the shifted
 * two-pass statistics must stay accurate in float, and data whose squares pass the float range
 * ({@code mean=1e20,std=1e19}, {@code magnitude=3e38}) must be measured again in a domain scaled by a power of two
 * instead of overflowing. Once with the split kernels (stats, merge, apply) and once with the one-launch ones.
 */
class ClFloatAccumulatorConformanceTest {
    /** The normalization cases but the largest shapes (PoCL on two cores takes long enough). */
    private static final String NORMS = "^(batchnorm|spatial_batchnorm|layernorm|groupnorm)\\."
            + "(?!.*(N=65536|D=333|H=15,W=17))";

    private static Backend floatBackend(String fuseColumns) {
        ClTestBackend.assumeAvailable();
        return new ClBackendProvider().create(BackendOptions.of(java.util.Map.of(ClBackendProvider.ACCUMULATOR,
                "float", ClBackendProvider.FUSE_COLUMNS, fuseColumns)));
    }

    /** Split statistics kernels (partial stats, merge) and the row kernels. */
    static class Split extends BackendConformanceTest {
        @Override
        protected Backend backend() {
            return floatBackend("off");
        }

        @Override
        protected String include() {
            String p = super.include();
            return p != null ? p : NORMS;
        }
    }

    /** The one-launch per-channel kernels, on the cases of batch norm near the float range and a few ordinary ones. */
    static class Fused extends BackendConformanceTest {
        @Override
        protected Backend backend() {
            return floatBackend("on");
        }

        @Override
        protected String include() {
            String p = super.include();
            return p != null ? p : "^(spatial_)?batchnorm\\.(forward\\.train|backward)\\[N=(64|4|8),";
        }
    }
}
