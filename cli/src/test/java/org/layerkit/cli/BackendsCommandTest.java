package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.cli.testing.UnavailableBackendProvider;

class BackendsCommandTest {
    @Test
    void listsEveryProviderWithAvailabilityDevicesAndTheAutoChoice() {
        Cli.Run r = Cli.run("backends");
        assertEquals(0, r.exit(), r::toString);
        String out = r.out();
        assertTrue(out.matches("(?s).*\\bcpu\\s+priority\\s+100\\s+available.*"), out);
        assertTrue(out.contains("opencl"), out);
        assertTrue(out.contains("#0 "), "a device line is expected for cpu\n" + out);
        // the test-only provider: listed, unavailable, with its reason and cause chain
        assertTrue(out.contains(UnavailableBackendProvider.NAME), out);
        assertTrue(out.contains("UNAVAILABLE: " + UnavailableBackendProvider.REASON), out);
        assertTrue(out.contains(UnavailableBackendProvider.CAUSE), out);
        // auto-selection passes over the unavailable provider although it has the highest priority
        assertTrue(out.contains("--backend=auto uses: "), out);
        assertFalse(out.contains("--backend=auto uses: " + UnavailableBackendProvider.NAME), out);
    }
}
