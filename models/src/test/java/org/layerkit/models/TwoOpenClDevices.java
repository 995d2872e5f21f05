package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.Backends;
import org.layerkit.api.DeviceInfo;
import org.layerkit.opencl.ClBackend;

/**
 * OpenCL backends on two distinct devices for the data-parallel tests. PoCL gives a CPU two devices when
 * {@code POCL_DEVICES="pthread pthread"} is in the environment before the ICD loads: this module's surefire sets it
 * for the test JVM (property {@code layerkit.test.poclDevices}). With fewer than two devices the tests are skipped,
 * or fail where {@code -Dlayerkit.requireOpenCL=true} (scripts/test.sh) says OpenCL must be tested.
 */
final class TwoOpenClDevices {
    private TwoOpenClDevices() {
    }

    /** Skips (or, under layerkit.requireOpenCL, fails) unless the opencl backend sees at least two devices. */
    static void require() {
        BackendProvider p = Backends.providers().stream().filter(x -> x.name().equals("opencl")).findFirst()
                .orElse(null);
        List<DeviceInfo> devices = p != null && p.availability().isAvailable() ? p.devices() : List.of();
        if (devices.size() < 2) {
            String why = "two OpenCL devices expected, got " + devices.size() + " ("
                    + devices.stream().map(DeviceInfo::describe).toList() + "; POCL_DEVICES="
                    + System.getenv("POCL_DEVICES") + "): PoCL gives two with POCL_DEVICES=\"pthread pthread\" in "
                    + "the environment of the JVM, which models/pom.xml sets for its tests";
            if (Boolean.getBoolean("layerkit.requireOpenCL")) {
                throw new AssertionError(why + " (-Dlayerkit.requireOpenCL=true)");
            }
            Assumptions.assumeTrue(false, why);
        }
    }

    /** A new opencl backend on device {@code index} of the provider's list. */
    static Backend open(int index) {
        return Backends.get("opencl", BackendOptions.of("device", String.valueOf(index)));
    }

    /** a and b compute on two different devices: different indices and different native cl_device_ids. */
    static void assertDistinct(Backend a, Backend b) {
        assertNotEquals(a.device().index(), b.device().index(), "the replicas' device indices: " + a.device()
                .describe() + " and " + b.device().describe());
        long ha = ((ClBackend) a).context().deviceHandle();
        long hb = ((ClBackend) b).context().deviceHandle();
        assertNotEquals(ha, hb, "the replicas' cl_device_id: both 0x" + Long.toHexString(ha) + " ("
                + a.device().describe() + " and " + b.device().describe() + ")");
    }
}
