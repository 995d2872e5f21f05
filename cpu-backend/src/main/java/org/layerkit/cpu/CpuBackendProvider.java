package org.layerkit.cpu;

import java.util.List;
import java.util.Locale;
import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.DeviceInfo;

/**
 * The {@code cpu} backend provider: always available, priority 100, one device (this JVM's CPU). Native BLAS is
 * loaded only when a device is described or a backend created, never while providers are being discovered. The
 * {@code device} option may be absent, {@code 0}, or a case-insensitive part of the device name such as "cpu". The
 * {@code vector} option is {@code auto} (the default: the Vector API kernels of {@link CpuVector} when the JVM runs
 * with {@code --add-modules jdk.incubator.vector}, which the device name then says) or {@code off}.
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
        DeviceInfo info = describeDevice();
        BackendOptions o = options == null ? BackendOptions.none() : options;
        String device = o.get(NAME, "device").map(String::trim).orElse(null);
        boolean index = device != null && device.chars().allMatch(Character::isDigit);
        if (device != null && (index ? !device.matches("0+")
                : !info.name().toLowerCase(Locale.ROOT).contains(device.toLowerCase(Locale.ROOT)))) {
            throw new IllegalArgumentException("cpu: device expected 0 or part of the name of the only device, "
                    + info.describe() + ", got '" + device + "'");
        }
        String vector = o.get(NAME, "vector").map(v -> v.trim().toLowerCase(Locale.ROOT)).orElse("auto");
        if (!vector.equals("auto") && !vector.equals("off")) {
            throw new IllegalArgumentException("cpu: vector expected auto (the Vector API kernels when the JVM runs"
                    + " with --add-modules jdk.incubator.vector) or off (the auto-vectorized loops), got '" + vector
                    + "'");
        }
        return new CpuBackend(info, vector.equals("auto"));
    }

    /** Device #0: the JVM's CPU, with the core count and the BLAS implementation GEMM uses. */
    static DeviceInfo describeDevice() {
        int cores = Runtime.getRuntime().availableProcessors();
        String name = "CPU (" + cores + (cores == 1 ? " core" : " cores") + ", BLAS: " + CpuGemm.describe()
                + (CpuBackend.VECTOR_API_PRESENT ? ", Vector API " + CpuVector.bits() + "-bit" : "") + ")";
        return new DeviceInfo(0, "JVM", System.getProperty("java.vendor", "unknown"), name,
                Runtime.getRuntime().maxMemory(), cores, false);
    }
}
