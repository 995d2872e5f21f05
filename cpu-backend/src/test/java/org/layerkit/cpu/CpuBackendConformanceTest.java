package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.conformance.BackendConformanceTest;

/** The whole conformance catalogue against the CPU backend, found the way users find it. */
class CpuBackendConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }

    @Override
    protected Backend newBackend() {
        return Backends.get("cpu");
    }
}
