package org.layerkit.opencl;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * The conformance kit once more with batchnorm's other kernel path than the device's default (option
 * {@code fuseColumns}): the one-launch {@code norm_columns_*} kernels on a CPU device such as PoCL, the split
 * stats/merge/apply kernels on a GPU. So both paths are checked on whatever device runs the tests.
 */
class ClOtherPathConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        ClTestBackend.assumeAvailable();
        boolean gpu = ClTestBackend.shared().device().gpu();
        return new ClBackendProvider().create(BackendOptions.of(ClBackendProvider.FUSE_COLUMNS, gpu ? "off" : "on"));
    }
}
