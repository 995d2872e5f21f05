package org.layerkit.opencl;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * Every case of the conformance kit on the default OpenCL device (PoCL here, a GPU where there is one; pick another
 * with {@code -Dlayerkit.opencl.device=N}). Skipped with the reason when OpenCL is missing, failed instead under
 * {@code -Dlayerkit.requireOpenCL=true}.
 */
class ClBackendConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        // the kit closes its backend after the class; ClTestBackend opens a fresh one for later classes
        return ClTestBackend.backend();
    }

    @Override
    protected Backend newBackend() {
        return new ClBackendProvider().create(BackendOptions.none());
    }
}
