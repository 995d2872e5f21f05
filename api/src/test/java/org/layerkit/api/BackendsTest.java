package org.layerkit.api;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BackendsTest {
    @Test
    void unknownBackendNameListsInstalledProviders() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.get("nope"));
        assertTrue(e.getMessage().contains("unknown backend 'nope'"), e.getMessage());
        assertTrue(e.getMessage().contains("installed: "), e.getMessage());
    }

    @Test
    void blankNameIsRejectedWithWhatWasExpected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.get(" "));
        assertTrue(e.getMessage().contains("expected a backend name"), e.getMessage());
    }

    @Test
    void availabilityDescribesTheCauseChain() {
        Availability a = Availability.unavailable("libOpenCL.so not found: install ocl-icd-opencl-dev",
                new UnsatisfiedLinkError("no OpenCL in java.library.path"));
        assertTrue(a.describe().startsWith("libOpenCL.so not found"), a.describe());
        assertTrue(a.describe().contains("caused by: UnsatisfiedLinkError: no OpenCL"), a.describe());
    }

    @Test
    void shapeRejectsNonPositiveDimensions() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Shape.of(3, 0));
        assertTrue(e.getMessage().contains("[3, 0]"), e.getMessage());
    }
}
