package org.layerkit.opencl;

import java.util.ArrayList;
import java.util.List;

import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.BackendUnavailableException;
import org.layerkit.api.DeviceInfo;

/**
 * The {@code opencl} backend provider. The constructor touches no native code; the first call to
 * {@link #availability()}, {@link #devices()} or {@link #priority()} probes the OpenCL platforms once and caches
 * the outcome. Option {@code device} (or {@code -Dlayerkit.opencl.device}) picks a device by index or name
 * substring; the default is the first GPU, else the first device.
 */
public final class ClBackendProvider implements BackendProvider {
    public static final String NAME = "opencl";
    /**
     * Option (or system property {@code layerkit.opencl.fuseColumns}) for batchnorm's one-launch kernels
     * ({@code norm_columns_*}): {@code auto} (default: on GPUs where the column groups alone fill the device, since
     * a work-group's column reads coalesce there; never on CPU devices, where PoCL ran them 3× slower than the split
     * path on [4096,1024]), {@code on} (always in TRAIN, whole columns per work-group of up to 1024 work-items, to
     * time against the split path on a GPU) or {@code off}.
     */
    static final String FUSE_COLUMNS = "fuseColumns";
    /**
     * Option (or system property {@code layerkit.opencl.rowsPerItem}): rows each work-item of batchnorm's
     * element-wise kernels covers, {@code auto} (8 on GPUs, 1 on CPU devices) or a number ≥ 1.
     */
    static final String ROWS_PER_ITEM = "rowsPerItem";
    /**
     * Option (or system property {@code layerkit.opencl.groupSize}): work-items per work-group that element-wise
     * launches and reduction trees aim for, {@code auto} (256) or a power of two from 1 to 1024 (each kernel's own
     * limit still caps it) — for timing other sizes on a new device.
     */
    static final String GROUP_SIZE = "groupSize";
    /** Above the CPU backend's 100 when the default device is a GPU. */
    static final int GPU_PRIORITY = 200;
    /** Below the CPU backend when OpenCL would run on the same CPU (PoCL). */
    static final int CPU_PRIORITY = 50;

    private volatile ClDevices.Probe probe;

    private ClDevices.Probe probe() {
        ClDevices.Probe p = probe;
        if (p == null) {
            synchronized (this) {
                p = probe;
                if (p == null) {
                    p = ClDevices.probe();
                    probe = p;
                }
            }
        }
        return p;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        ClDevices.Probe p = probe();
        return p.ok() && ClDevices.defaultDevice(p.devices()).info().gpu() ? GPU_PRIORITY : CPU_PRIORITY;
    }

    @Override
    public Availability availability() {
        ClDevices.Probe p = probe();
        return p.ok() ? Availability.available() : Availability.unavailable(p.reason(), p.cause());
    }

    @Override
    public List<DeviceInfo> devices() {
        List<DeviceInfo> out = new ArrayList<>();
        for (ClDevices.Entry e : probe().devices()) {
            out.add(e.info());
        }
        return List.copyOf(out);
    }

    @Override
    public Backend create(BackendOptions options) {
        ClDevices.Probe p = probe();
        if (!p.ok()) {
            throw new BackendUnavailableException("backend 'opencl' is unavailable: "
                    + availability().describe(), p.cause());
        }
        BackendOptions o = options == null ? BackendOptions.none() : options;
        ClDevices.Entry entry = ClDevices.choose(p.devices(), o.get(NAME, "device"));
        String fuse = o.get(NAME, FUSE_COLUMNS).orElse("auto");
        ClNormKernels.ColumnFusion fuseColumns = switch (fuse) {
            case "auto" -> entry.info().gpu() ? ClNormKernels.ColumnFusion.WHERE_FILLED
                    : ClNormKernels.ColumnFusion.OFF;
            case "on", "true" -> ClNormKernels.ColumnFusion.ALWAYS;
            case "off", "false" -> ClNormKernels.ColumnFusion.OFF;
            default -> throw new IllegalArgumentException("opencl: " + FUSE_COLUMNS
                    + " expected auto, on or off, got " + fuse);
        };
        String rows = o.get(NAME, ROWS_PER_ITEM).orElse("auto");
        int rowsPerItem;
        try {
            rowsPerItem = rows.equals("auto") ? (entry.info().gpu() ? 8 : 1) : Integer.parseInt(rows);
        } catch (NumberFormatException e) {
            rowsPerItem = 0;
        }
        if (rowsPerItem < 1) {
            throw new IllegalArgumentException("opencl: " + ROWS_PER_ITEM + " expected auto or a number >= 1, got "
                    + rows);
        }
        String groupOption = o.get(NAME, GROUP_SIZE).orElse("auto");
        int groupSize;
        try {
            groupSize = groupOption.equals("auto") ? ClLaunch.PREFERRED_GROUP : Integer.parseInt(groupOption);
        } catch (NumberFormatException e) {
            groupSize = 0;
        }
        if (groupSize < 1 || groupSize > 1024 || Integer.bitCount(groupSize) != 1) {
            throw new IllegalArgumentException("opencl: " + GROUP_SIZE
                    + " expected auto or a power of two from 1 to 1024, got " + groupOption);
        }
        ClContext ctx = ClContext.open(entry, groupSize);
        return new ClBackend(ctx, fuseColumns, rowsPerItem);
    }
}
