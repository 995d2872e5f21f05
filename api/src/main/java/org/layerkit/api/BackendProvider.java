package org.layerkit.api;

import java.util.List;

/**
 * The service a backend module registers in {@code META-INF/services/org.layerkit.api.BackendProvider}.
 * Implementations must have a public no-argument constructor and must not touch native libraries in it:
 * discovery instantiates every provider, available or not.
 */
public interface BackendProvider {
    /** The short name users select it by, e.g. {@code cpu} or {@code opencl}; lower case, unique. */
    String name();

    /**
     * Rank under automatic selection: the highest-priority available provider wins. The CPU backend is 100; a
     * provider whose best device is a GPU should rank above it, one that would run on the same CPU below it.
     */
    int priority();

    /** Whether {@link #create} can succeed here, and if not, why (with the cause chain). Cheap and cached. */
    Availability availability();

    /** The devices this provider can run on (empty when unavailable). */
    List<DeviceInfo> devices();

    /**
     * Creates a backend. Throws {@link BackendUnavailableException} with the reason when unavailable, and
     * {@link IllegalArgumentException} for a bad option (e.g. a device index out of range).
     */
    Backend create(BackendOptions options);
}
