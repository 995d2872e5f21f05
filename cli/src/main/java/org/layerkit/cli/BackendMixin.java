package org.layerkit.cli;

import java.util.Locale;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Backends;
import picocli.CommandLine.Option;

/**
 * {@code --backend} and {@code --device}, shared by the subcommands that compute. An explicit backend name goes
 * through {@link Backends#get}: when that backend is unavailable the command fails with the reason and never falls
 * back. {@code auto} goes through {@link Backends#select} (the {@code layerkit.backend} property, else
 * {@code LAYERKIT_BACKEND}, else the highest-priority available backend).
 */
public final class BackendMixin {
    /** The name that asks for automatic selection. */
    public static final String AUTO = "auto";

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = AUTO,
            description = "Backend: cpu, opencl or auto (default: ${DEFAULT-VALUE}, the best available one; "
                    + "see `layerkit backends`). An explicit name never falls back to another backend.")
    String backend = AUTO;

    @Option(names = "--device", paramLabel = "DEVICE",
            description = "Device of the backend: an index from `layerkit backends` or part of its name.")
    String device;

    /** The requested name, lower case. */
    public String backendName() {
        return backend.trim().toLowerCase(Locale.ROOT);
    }

    public boolean isAuto() {
        return AUTO.equals(backendName());
    }

    /** The options handed to the provider: {@code device=...} when {@code --device} was given. */
    public BackendOptions options() {
        return device == null || device.isBlank() ? BackendOptions.none() : BackendOptions.of("device", device.trim());
    }

    /** Creates the requested backend (the caller closes it). */
    public Backend open() {
        return open(backendName());
    }

    /** Creates the named backend ({@code auto} selects) with this mixin's device option. */
    public Backend open(String name) {
        try {
            return AUTO.equals(name) ? Backends.select(options()) : Backends.get(name, options());
        } catch (IllegalArgumentException e) {
            // e.g. a device index out of range: a problem with what the user asked for, not a crash
            throw new CliException((device != null ? "--device " + device + ": " : "") + e.getMessage(), e);
        }
    }
}
