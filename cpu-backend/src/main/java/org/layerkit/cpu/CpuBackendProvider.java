package org.layerkit.cpu;

import java.util.List;
import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.DeviceInfo;

/**
 * The {@code cpu} backend provider: always available, priority 100, one device (this JVM's CPU). Native BLAS is
 * loaded only when a device is described or a backend created, never while providers are being discovered.
 */
public final class CpuBackendProvider implements BackendProvider {
    /** The name users select the backend by. */
    public static final String NAME = "cpu";
    /** The reference priority the other providers rank against. */
    public static final int PRIORITY = 100;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return PRIORITY;
    }

    @Override
    public Availability availability() {
        return Availability.available();
    }

    @Override
    public List<DeviceInfo> devices() {
        return List.of(describeDevice());
    }

    @Override
    public Backend create(BackendOptions options) {
        String device = options == null ? null : options.get(NAME, "device").orElse(null);
        if (device != null && !device.trim().equals("0") && !device.trim().equalsIgnoreCase("cpu")) {
            throw new IllegalArgumentException("cpu: device expected 0 (the only CPU device), got " + device);
        }
        return new CpuBackend(describeDevice());
    }

    /** Device #0: the JVM's CPU, with the core count and the BLAS implementation GEMM uses. */
    static DeviceInfo describeDevice() {
        int cores = Runtime.getRuntime().availableProcessors();
        String name = "CPU (" + cores + (cores == 1 ? " core" : " cores") + ", BLAS: " + CpuGemm.describe() + ")";
        return new DeviceInfo(0, "JVM", System.getProperty("java.vendor", "unknown"), name,
                Runtime.getRuntime().maxMemory(), cores, false);
    }
}
