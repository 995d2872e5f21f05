package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Backends;
import org.layerkit.api.DeviceInfo;

class ClBackendProviderTest {

    @Test
    void isFoundByServiceLoaderUnderItsName() {
        assertInstanceOf(ClBackendProvider.class,
                Backends.provider("opencl", ClBackendProviderTest.class.getClassLoader()));
    }

    @Test
    void aMissingOpenClLibraryIsExplainedWithWhatToInstall() {
        String reason = ClDevices.reasonFor(new UnsatisfiedLinkError(
                "Could not initialize native OpenCL library. Implementation library could not be loaded"));
        assertTrue(reason.startsWith("libOpenCL.so not found"), reason);
        assertTrue(reason.contains("ocl-icd-opencl-dev") && reason.contains("pocl-opencl-icd"), reason);
        assertTrue(ClDevices.NO_PLATFORM.contains("install an ICD"), ClDevices.NO_PLATFORM);
    }

    @Test
    void devicesFormOneFlatIndexOverAllPlatforms() {
        ClTestBackend.assumeAvailable();
        List<DeviceInfo> devices = new ClBackendProvider().devices();
        assertFalse(devices.isEmpty());
        for (int i = 0; i < devices.size(); i++) {
            DeviceInfo d = devices.get(i);
            assertEquals(i, d.index());
            assertFalse(d.name().isBlank());
            assertTrue(d.memoryBytes() > 0 && d.computeUnits() > 0, d.describe());
        }
    }

    @Test
    void priorityRanksAboveTheCpuBackendOnlyWhenTheDefaultDeviceIsAGpu() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        boolean gpu = p.devices().stream().anyMatch(DeviceInfo::gpu);
        assertEquals(gpu ? 200 : 50, p.priority());
        assertEquals(gpu, ClTestBackend.shared().device().gpu(), "the default device is the first GPU, if any");
    }

    @Test
    void aDeviceIsChosenByIndexOrNameSubstring() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        DeviceInfo last = p.devices().get(p.devices().size() - 1);
        try (Backend byIndex = p.create(BackendOptions.of("device", Integer.toString(last.index())))) {
            assertEquals(last, byIndex.device());
        }
        String part = last.name().substring(0, Math.min(6, last.name().length())).toUpperCase();
        try (Backend byName = p.create(BackendOptions.of(Map.of("device", part)))) {
            assertTrue(byName.device().name().toUpperCase().contains(part), byName.device().describe());
        }
    }

    @Test
    void theDeviceSystemPropertyIsReadWhenNoOptionIsGiven() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        System.setProperty("layerkit.opencl.device", "99");
        try {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.create(BackendOptions.none()));
            assertTrue(e.getMessage().contains("99"), e.getMessage());
        } finally {
            System.clearProperty("layerkit.opencl.device");
        }
    }

    @Test
    void aBadDeviceChoiceListsTheDevices() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        // the listed name carries the GEMM in use, " (gemm=...)"; the message lists the devices' own names
        String first = p.devices().get(0).name().replaceFirst(" \\(gemm=.*$", "");
        IllegalArgumentException byIndex = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of("device", "1000")));
        assertTrue(byIndex.getMessage().contains(first), byIndex.getMessage());
        IllegalArgumentException byName = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of("device", "no-such-device-anywhere")));
        assertTrue(byName.getMessage().contains("no-such-device-anywhere") && byName.getMessage().contains(first),
                byName.getMessage());
    }

    @Test
    void tuningOptionsAreCheckedAndAccepted() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of(ClBackendProvider.FUSE_COLUMNS, "sometimes")));
        assertEquals("opencl: fuseColumns expected auto, on or off, got sometimes", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of(ClBackendProvider.ROWS_PER_ITEM, "0")));
        assertEquals("opencl: rowsPerItem expected auto or a number >= 1, got 0", e.getMessage());
        for (String bad : new String[] {"0", "96", "2048", "many"}) {
            e = assertThrows(IllegalArgumentException.class,
                    () -> p.create(BackendOptions.of(ClBackendProvider.GROUP_SIZE, bad)));
            assertEquals("opencl: groupSize expected auto or a power of two from 1 to 1024, got " + bad,
                    e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of(ClBackendProvider.DROPOUT_MASK, "lazy")));
        assertEquals("opencl: dropoutMask expected auto, pending or eager, got lazy", e.getMessage());
        for (String mask : new String[] {"pending", "eager"}) {
            try (ClBackend b = (ClBackend) p.create(BackendOptions.of(ClBackendProvider.DROPOUT_MASK, mask))) {
                assertEquals(mask.equals("pending"), b.pendingDropoutMasks(), mask);
            }
        }
        try (ClBackend b = (ClBackend) p.create(BackendOptions.none())) {
            assertEquals(b.device().gpu(), b.pendingDropoutMasks(), "auto: pending on GPUs only");
        }
        try (Backend b = p.create(BackendOptions.of(Map.of(ClBackendProvider.FUSE_COLUMNS, "off",
                ClBackendProvider.ROWS_PER_ITEM, "3", ClBackendProvider.GROUP_SIZE, "1024")))) {
            assertEquals("opencl", b.name());
        }
    }

    @Test
    void convolutionOptionsAreCheckedAndAccepted() {
        ClTestBackend.assumeAvailable();
        ClBackendProvider p = new ClBackendProvider();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of(ClBackendProvider.CONV, "winograd")));
        assertEquals("opencl: conv expected auto, im2col or direct, got winograd", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> p.create(BackendOptions.of(ClBackendProvider.CONV_WORKSPACE, "0")));
        assertEquals("opencl: convWorkspace expected auto or a number of MiB >= 1, got 0", e.getMessage());
        try (ClBackend b = (ClBackend) p.create(BackendOptions.none())) {
            ClConvKernels k = b.convKernels();
            assertEquals(ClConvKernels.Algorithm.IM2COL, k.algorithm());
            long cap = Math.min(b.context().maxAllocBytes(), b.context().device().memoryBytes() / 16);
            assertEquals(Math.max(1L << 20, Math.min(256L << 20, cap)), k.forwardBytes());
            assertEquals(b.device().gpu() ? k.forwardBytes() : 1L << 20, k.backwardBytes(),
                    "auto: 1 MiB backward chunks on CPU devices");
        }
        try (ClBackend b = (ClBackend) p.create(BackendOptions.of(Map.of(ClBackendProvider.CONV, "direct",
                ClBackendProvider.CONV_WORKSPACE, "3")))) {
            assertEquals(ClConvKernels.Algorithm.DIRECT, b.convKernels().algorithm());
            assertEquals(3L << 20, b.convKernels().forwardBytes());
            assertEquals(3L << 20, b.convKernels().backwardBytes());
        }
    }
}
