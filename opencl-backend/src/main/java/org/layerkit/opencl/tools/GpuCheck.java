package org.layerkit.opencl.tools;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.DeviceInfo;
import org.layerkit.conformance.ConformanceReport;
import org.layerkit.conformance.ConformanceRunner;
import org.layerkit.opencl.ClBackendProvider;

/**
 * Runs the conformance kit on an OpenCL device (by default the first GPU, else the first device), prints the report
 * and its summary, then times the layer kernels at [4096,4096] against the device's copy bandwidth.
 *
 * <pre>
 * GpuCheck [--device INDEX|NAME] [--size N,D] [--reps R] [--include REGEX] [--exclude REGEX]
 *          [--no-conformance] [--no-timing] [--fuse-columns auto|on|off] [--rows-per-item auto|N]
 *          [--gemm auto|clblast|tiled]
 * </pre>
 * {@code --fuse-columns} and {@code --rows-per-item} set the backend options {@code fuseColumns} (batchnorm's
 * one-launch kernels) and {@code rowsPerItem} (rows per work-item of its element-wise kernels): run once with the
 * defaults and again with other values to compare. {@code --gemm} sets option {@code gemm} for the conformance run
 * and the layer timings; the GEMM timings at the end time CLBlast and the tiled kernel side by side either way.
 * Exit status: 0 when every case passed, 1 when a case failed, 2 for bad usage or no OpenCL device.
 */
public final class GpuCheck {
    private GpuCheck() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** The whole check; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String device = null;
        String include = null;
        String exclude = null;
        String fuseColumns = null;
        String rowsPerItem = null;
        String gemm = null;
        int n = 4096;
        int d = 4096;
        int reps = 20;
        boolean conformance = true;
        boolean timing = true;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--device" -> device = args[++i];
                    case "--include" -> include = args[++i];
                    case "--exclude" -> exclude = args[++i];
                    case "--reps" -> reps = Integer.parseInt(args[++i]);
                    case "--fuse-columns" -> fuseColumns = args[++i];
                    case "--rows-per-item" -> rowsPerItem = args[++i];
                    case "--gemm" -> gemm = args[++i];
                    case "--size" -> {
                        String[] nd = args[++i].split(",");
                        n = Integer.parseInt(nd[0].trim());
                        d = Integer.parseInt(nd[1].trim());
                    }
                    case "--no-conformance" -> conformance = false;
                    case "--no-timing" -> timing = false;
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            err.println("GpuCheck: " + e.getMessage() + "\nusage: GpuCheck [--device INDEX|NAME] [--size N,D] "
                    + "[--reps R] [--include REGEX] [--exclude REGEX] [--no-conformance] [--no-timing] "
                    + "[--fuse-columns auto|on|off] [--rows-per-item auto|N] [--gemm auto|clblast|tiled]");
            return 2;
        }

        ClBackendProvider provider = new ClBackendProvider();
        if (!provider.availability().isAvailable()) {
            err.println("GpuCheck: OpenCL is unavailable: " + provider.availability().describe());
            return 2;
        }
        out.println("OpenCL devices:");
        for (DeviceInfo info : provider.devices()) {
            out.println("  " + info.describe());
        }
        Map<String, String> opts = new HashMap<>();
        if (device != null) {
            opts.put("device", device);
        }
        if (fuseColumns != null) {
            // batchnorm's one-launch kernels (default on GPUs) against the split path: time both on a new GPU
            opts.put("fuseColumns", fuseColumns);
        }
        if (rowsPerItem != null) {
            opts.put("rowsPerItem", rowsPerItem);
        }
        if (gemm != null) {
            opts.put("gemm", gemm);
        }
        BackendOptions options = BackendOptions.of(opts);
        int status = 0;
        try (Backend b = provider.create(options)) {
            out.println("checking " + b.device().describe());
            if (conformance) {
                long start = System.nanoTime();
                ConformanceReport report = new ConformanceRunner(b).include(include).exclude(exclude).run();
                out.print(report.toText());
                out.printf("conformance: %s (%.1f s)%n", report.summary(), (System.nanoTime() - start) / 1e9);
                status = report.ok() ? 0 : 1;
            }
            if (timing) {
                out.println();
                out.println("timings, TRAIN mode, " + reps + " repetitions each, on " + b.device().name() + ":");
                out.println(OpTimings.header());
                List<OpTimings.Timing> rows = OpTimings.layers(b, n, d, reps);
                OpTimings.Timing copy = rows.get(0);
                for (OpTimings.Timing t : rows) {
                    out.println(t.row(copy));
                }
            }
        } catch (IllegalArgumentException e) {
            err.println("GpuCheck: " + e.getMessage());
            return 2;
        }
        if (timing) {
            gemmTimings(provider, opts, reps, out);
        }
        return status;
    }

    /** GFLOP/s of CLBlast and of the tiled kernel at the shapes of an MNIST-sized affine layer and at 1024³, 4096³. */
    private static void gemmTimings(ClBackendProvider provider, Map<String, String> opts, int reps, PrintStream out) {
        int[][] shapes = {{128, 784, 256}, {1024, 1024, 1024}, {4096, 4096, 4096}};
        if (!provider.availability().isAvailable()) {
            return;
        }
        out.println();
        out.println("gemm timings, C = A[M,K]·B[K,N], GFLOP/s (" + reps + " repetitions after 2 warm-up calls):");
        out.printf("%-8s %14s %14s %14s%n", "gemm", "128x784x256", "1024^3", "4096^3");
        for (String g : new String[] {"clblast", "tiled"}) {
            Map<String, String> o = new HashMap<>(opts);
            o.put("gemm", g);
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-8s", g));
            try (Backend b = provider.create(BackendOptions.of(o))) {
                for (int[] s : shapes) {
                    if (s[0] >= 4096 && !b.device().gpu()) {
                        line.append(String.format(Locale.ROOT, " %14s", "-")); // 137 GFLOP a call: minutes on PoCL
                        continue;
                    }
                    line.append(String.format(Locale.ROOT, " %14.1f", OpTimings.gemmGflops(b, s[0], s[1],
                            s[2], reps)));
                }
                line.append("   ").append(b.device().name());
            } catch (RuntimeException e) {
                line.append(" unavailable: ").append(e.getMessage());
            }
            out.println(line);
        }
    }
}
