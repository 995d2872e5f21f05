package org.layerkit.opencl;

import java.util.Map;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * The normalization cases of the conformance kit with reductions accumulating in float (option
 * {@code accumulator=float}), the path of devices without {@code cl_khr_fp64}, whatever the device here: the shifted
 * two-pass statistics must stay accurate in float, and data whose squares pass the float range
 * ({@code mean=1e20,std=1e19}, {@code magnitude=3e38}) must be measured again in a domain scaled by a power of two
 * instead of overflowing. Here with the split kernels (partial statistics, merge, apply) and the row kernels;
 * {@link ClFloatAccumulatorFusedConformanceTest} takes the one-launch per-channel kernels.
 */
class ClFloatAccumulatorConformanceTest extends BackendConformanceTest {
    /** The normalization cases but the largest shapes (PoCL on two cores takes long enough). */
    static final String NORMS = "^(batchnorm|spatial_batchnorm|layernorm|groupnorm)\\."
            + "(?!.*(N=65536|D=333|H=15,W=17))";

    /** A backend with float accumulators and the given {@code fuseColumns}. */
    static Backend floatBackend(String fuseColumns) {
        ClTestBackend.assumeAvailable();
        return new ClBackendProvider().create(BackendOptions.of(Map.of(ClBackendProvider.ACCUMULATOR, "float",
                ClBackendProvider.FUSE_COLUMNS, fuseColumns)));
    }

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
