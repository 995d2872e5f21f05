package org.layerkit.opencl;

import org.layerkit.api.Backend;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * {@link ClFloatAccumulatorConformanceTest} with the one-launch per-channel kernels ({@code fuseColumns=on}), on the
 * TRAIN cases of batch norm near the float range and a few ordinary ones.
 */
class ClFloatAccumulatorFusedConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        return ClFloatAccumulatorConformanceTest.floatBackend("on");
    }

    @Override
    protected String include() {
        String p = super.include();
        return p != null ? p : "^(spatial_)?batchnorm\\.(forward\\.train|backward)\\[N=(64|4|8),";
    }
}
