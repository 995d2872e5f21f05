package org.layerkit.opencl;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

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
 * substring; the default is the first GPU, else the first device. Option {@code gemm} picks CLBlast or the own tiled
 * kernel for GEMM; {@link #devices()} and {@link ClBackend#device()} name the GEMM after the device name.
 */
public final class ClBackendProvider implements BackendProvider {
    public static final String NAME = "opencl";
    /**
     * Option (or system property {@code layerkit.opencl.fuseColumns}) for batchnorm's one-launch kernels
     * ({@code norm_columns_*}): {@code auto} (default: off, measured — the split stats/merge/apply path was 2.4×
     * faster on an H100 at [4096,4096] and 30× at [65536,256], and 3× faster on PoCL at [4096,1024]), {@code on}
     * (always in TRAIN, whole columns per work-group of up to 1024 work-items) or {@code off}.
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
    /**
     * Option (or system property {@code layerkit.opencl.gemm}): {@code auto} (default, see
     * {@link #autoUsesClBlast}), {@code clblast} (CLBlast's SGEMM; an error if CLBlast cannot be loaded or fails) or
     * {@code tiled} (the own kernel of {@code kernels/gemm.cl}).
     */
    static final String GEMM = "gemm";
    /** Above the CPU backend's 100 when the default device is a GPU. */
    static final int GPU_PRIORITY = 200;
    /** Below the CPU backend when OpenCL would run on the same CPU (PoCL). */
    static final int CPU_PRIORITY = 50;

    private static final System.Logger LOG = System.getLogger(ClBackendProvider.class.getName());
    /** The warning that {@code gemm=auto} falls back because CLBlast does not load is logged once per JVM. */
    private static final AtomicBoolean warnedNoClBlast = new AtomicBoolean();

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
        String gemm = BackendOptions.none().get(NAME, GEMM).orElse("auto");
        for (ClDevices.Entry e : probe().devices()) {
            String described;
            try {
                described = gemmChoice(gemm, e.info()).description();
            } catch (RuntimeException ex) {
                described = gemm + " unusable: " + ex.getMessage();
            }
            out.add(withGemm(e.info(), described));
        }
        return List.copyOf(out);
    }

    /**
     * Whether {@code gemm=auto} uses CLBlast on this device (when CLBlast loads). A measured choice, to revisit when
     * new measurements come in (a GPU session timing both with {@code -Dlayerkit.opencl.gemm=tiled|clblast}):
     * on PoCL over two CPU cores CLBlast beat the tiled kernel at every shape timed, about 2× (128×784·784×256:
     * 18–25 against 8–10 GFLOP/s; 1024³: 16 against 8–9; the transposed products of an affine backward 3–4×). On
     * GPUs CLBlast's tuned kernels are expected to win as well, but the two have not been timed side by side on one
     * yet.
     */
    static boolean autoUsesClBlast(DeviceInfo device) {
        return true; // CPU devices (PoCL): measured; GPUs: expected, to be measured
    }

    /**
     * The GEMM for option value {@code gemm} on {@code device}. Loads CLBlast (once per JVM) only when it may be
     * used; under {@code auto} a CLBlast that does not load means the tiled kernel, under {@code clblast} a
     * {@link BackendUnavailableException}.
     */
    static ClGemmKernels.Choice gemmChoice(String gemm, DeviceInfo device) {
        switch (gemm) {
            case "tiled":
                return ClGemmKernels.Choice.tiled(true, null);
            case "clblast": {
                ClBlast.Load load = ClBlast.load();
                if (!load.ok()) {
                    throw new BackendUnavailableException("opencl: gemm=clblast requested on " + device.name()
                            + ", but CLBlast is unavailable: " + load.reason() + " (option gemm=tiled uses the own "
                            + "kernel)", load.cause());
                }
                return ClGemmKernels.Choice.clblast(true, load);
            }
            case "auto": {
                if (!autoUsesClBlast(device)) {
                    return ClGemmKernels.Choice.tiled(false, null);
                }
                ClBlast.Load load = ClBlast.load();
                if (load.ok()) {
                    return ClGemmKernels.Choice.clblast(false, load);
                }
                if (!warnedNoClBlast.getAndSet(true)) {
                    LOG.log(System.Logger.Level.WARNING, "opencl: CLBlast is unavailable, gemm uses the tiled kernel: "
                            + load.reason(), load.cause());
                }
                return ClGemmKernels.Choice.tiled(false, "clblast unavailable: " + load.reason());
            }
            default:
                throw new IllegalArgumentException("opencl: " + GEMM + " expected auto, clblast or tiled, got " + gemm);
        }
    }

    /** {@code device} with {@code " (gemm=<gemm>)"} after its name, the way the CPU backend names its BLAS. */
    static DeviceInfo withGemm(DeviceInfo d, String gemm) {
        return new DeviceInfo(d.index(), d.platform(), d.vendor(), d.name() + " (gemm=" + gemm + ")",
                d.memoryBytes(), d.computeUnits(), d.gpu());
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
            case "auto", "off", "false" -> ClNormKernels.ColumnFusion.OFF;
            case "on", "true" -> ClNormKernels.ColumnFusion.ALWAYS;
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
        ClGemmKernels.Choice gemm = gemmChoice(o.get(NAME, GEMM).orElse("auto"), entry.info());
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
        return new ClBackend(ctx, fuseColumns, rowsPerItem, gemm);
    }
}
