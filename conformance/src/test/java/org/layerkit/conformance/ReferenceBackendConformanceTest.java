package org.layerkit.conformance;

import org.layerkit.api.Backend;

/**
 * The catalogue against the rounded float64 reference, through the same JUnit entry point backend authors use:
 * every case must pass, so a failure here is a wrong case (or tolerance), not a wrong backend.
 */
class ReferenceBackendConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        return new ReferenceBackend();
    }

    @Override
    protected Backend newBackend() {
        return new ReferenceBackend();
    }
}
