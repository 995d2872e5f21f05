package org.layerkit.cli.testing;

import java.util.List;
import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.BackendUnavailableException;
import org.layerkit.api.DeviceInfo;

/**
 * A provider that is never available, with a known reason and cause, and the highest priority of all: tests check
 * that an explicit {@code --backend=unavailable-test} fails with this reason and that auto-selection passes it over.
 */
public final class UnavailableBackendProvider implements BackendProvider {
    public static final String NAME = "unavailable-test";
    public static final String REASON = "test provider: the imaginary accelerator is not plugged in";
    public static final String CAUSE = "no such device: /dev/imaginary0";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 10_000;
    }

    @Override
    public Availability availability() {
        return Availability.unavailable(REASON, new java.io.FileNotFoundException(CAUSE));
    }

    @Override
    public List<DeviceInfo> devices() {
        return List.of();
    }

    @Override
    public Backend create(BackendOptions options) {
        throw new BackendUnavailableException(availability().describe(), availability().cause());
    }
}
