package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Backends;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * The whole conformance catalogue against the CPU backend with {@code vector=off}: the auto-vectorized loops that
 * run wherever the JVM lacks the Vector API module (this module's tests run with it, so
 * {@link CpuBackendConformanceTest} covers the Vector API kernels).
 */
class CpuLoopsPathConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu", BackendOptions.of("vector", "off"));
    }

    @Override
    protected Backend newBackend() {
        return backend();
    }
}
