package org.layerkit.opencl.tools;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.Shape;
import org.layerkit.conformance.ConformanceReport;
import org.layerkit.conformance.ConformanceRunner;
import org.layerkit.opencl.ClBackendProvider;

/**
 * Runs the conformance kit on an OpenCL device (by default the first GPU, else the first device), prints the report
 * and its summary, then times the layer kernels and GEMM (the norms against the device's copy bandwidth).
 *
 * <pre>
 * GpuCheck [--device INDEX|NAME] [--size N,D]... [--spatial N,C,H,W|none] [--groups G]
 *          [--gemm-shapes MxKxN,...|none] [--reps R] [--include REGEX] [--exclude REGEX] [--no-conformance]
 *          [--no-timing] [--fuse-columns auto|on|off] [--rows-per-item auto|N] [--group-size auto|N]
 *          [--gemm auto|clblast|tiled] [--conv-shapes NxCxHxWfFkKsSpP,...|none]
 *          [--pool-shapes NxCxHxW,...|none] [--option KEY=VALUE]...
 * </pre>
 * Timings: batchnorm, layernorm and dropout at each {@code --size} (default 4096,4096), spatial batchnorm and
 * groupnorm at {@code --spatial} (default 256,64,32,32, the same 16.8 M elements), then GEMM in the three forms a
 * fully connected layer uses at each {@code MxKxN} of {@code --gemm-shapes} (default the Fashion-MNIST net's first
 * two layers at batch 128, then 1024³ and 4096³ — 4096³ only on GPUs), with CLBlast and with the tiled kernel side by
 * side; then conv2d forward and forward+backward at each {@code --conv-shapes} (default the Fashion-MNIST CNN's two
 * convolutions at batch 128, {@link OpTimings#CNN_CONVS}) with im2col + CLBlast, im2col + the tiled GEMM and the
 * direct kernels side by side (options {@code conv} and {@code gemm}), next to the GEMM of the same product, and
 * maxpool2d (2×2, stride 2) at each {@code --pool-shapes} (default {@link OpTimings#CNN_POOLS}).
 * {@code --fuse-columns}, {@code --rows-per-item}, {@code --group-size} and {@code --gemm} set the backend
 * options {@code fuseColumns} (batchnorm's one-launch kernels), {@code rowsPerItem} (rows per work-item of its
 * element-wise kernels), {@code groupSize} (work-items per group) and {@code gemm} (for the conformance run and the
 * layer timings); {@code --option} sets any other backend option: run once with the defaults and again with other
 * values to compare.
 * Exit status: 0 when every case passed, 1 when a case failed, 2 for bad usage or no OpenCL device.
 */
public final class GpuCheck {
    private GpuCheck() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static final String USAGE = "usage: GpuCheck [--device INDEX|NAME] [--size N,D]... [--spatial N,C,H,W|none] "
            + "[--groups G] [--gemm-shapes MxKxN,...|none] [--reps R] [--include REGEX] [--exclude REGEX] "
            + "[--no-conformance] [--no-timing] [--fuse-columns auto|on|off] [--rows-per-item auto|N] "
            + "[--group-size auto|N] [--gemm auto|clblast|tiled] [--conv-shapes NxCxHxWfFkKsSpP,...|none] "
            + "[--pool-shapes NxCxHxW,...|none] [--option KEY=VALUE]...";

    /** The whole check; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String include = null;
        String exclude = null;
        List<int[]> sizes = new ArrayList<>();
        int[] spatial = {256, 64, 32, 32};
        int groups = 8;
        List<int[]> gemmShapes = new ArrayList<>(List.of(new int[] {128, 784, 256}, new int[] {128, 256, 128},
                new int[] {1024, 1024, 1024}, new int[] {4096, 4096, 4096}));
        List<OpTimings.ConvShape> convShapes = new ArrayList<>(OpTimings.CNN_CONVS);
        List<Shape> poolShapes = new ArrayList<>(OpTimings.CNN_POOLS);
        int reps = 20;
        boolean conformance = true;
        boolean timing = true;
        Map<String, String> opts = new LinkedHashMap<>();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--device" -> opts.put("device", args[++i]);
                    case "--include" -> include = args[++i];
                    case "--exclude" -> exclude = args[++i];
                    case "--reps" -> reps = Integer.parseInt(args[++i]);
                    // batchnorm's one-launch kernels (default on GPUs) against the split path: time both
                    case "--fuse-columns" -> opts.put("fuseColumns", args[++i]);
                    case "--rows-per-item" -> opts.put("rowsPerItem", args[++i]);
                    case "--group-size" -> opts.put("groupSize", args[++i]);
                    case "--option" -> {
                        String kv = args[++i];
                        int eq = kv.indexOf('=');
                        if (eq <= 0) {
                            throw new IllegalArgumentException("--option expected KEY=VALUE, got " + kv);
                        }
                        opts.put(kv.substring(0, eq), kv.substring(eq + 1));
                    }
                    case "--size" -> sizes.add(ints(args[++i], ",", 2, "--size"));
                    case "--spatial" -> spatial = args[++i].equals("none") ? null
                            : ints(args[i], ",", 4, "--spatial");
                    case "--groups" -> groups = Integer.parseInt(args[++i]);
                    case "--gemm" -> opts.put("gemm", args[++i]);
                    case "--gemm-shapes" -> {
                        gemmShapes.clear();
                        if (!args[++i].equals("none")) {
                            for (String mkn : args[i].split(",")) {
                                gemmShapes.add(ints(mkn, "x", 3, "--gemm-shapes"));
                            }
                        }
                    }
                    case "--conv-shapes" -> {
                        convShapes.clear();
                        if (!args[++i].equals("none")) {
                            for (String c : args[i].split(",")) {
                                convShapes.add(OpTimings.ConvShape.parse(c));
                            }
                        }
                    }
                    case "--pool-shapes" -> {
                        poolShapes.clear();
                        if (!args[++i].equals("none")) {
                            for (String nchw : args[i].split(",")) {
                                poolShapes.add(Shape.of(ints(nchw, "x", 4, "--pool-shapes")));
                            }
                        }
                    }
                    case "--no-conformance" -> conformance = false;
                    case "--no-timing" -> timing = false;
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            err.println("GpuCheck: " + e.getMessage() + "\n" + USAGE);
            return 2;
        }
        if (sizes.isEmpty()) {
            sizes.add(new int[] {4096, 4096});
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
        BackendOptions options = BackendOptions.of(opts);
        int status = 0;
        try (Backend b = provider.create(options)) {
            out.println("checking " + b.device().describe() + (opts.isEmpty() ? "" : " with options " + opts));
            if (conformance) {
                long start = System.nanoTime();
                ConformanceReport report = new ConformanceRunner(b).include(include).exclude(exclude).run();
                out.print(report.toText());
                out.printf("conformance: %s (%.1f s)%n", report.summary(), (System.nanoTime() - start) / 1e9);
                status = report.ok() ? 0 : 1;
            }
            if (timing) {
                out.println();
                out.println("timings, TRAIN mode, per call: the fastest of " + OpTimings.ROUNDS + " rounds of " + reps
                        + " calls queued back to back, on " + b.device().name()
                        + ":");
                out.println(OpTimings.header());
                OpTimings.Timing copy = null;
                for (int[] nd : sizes) {
                    List<OpTimings.Timing> rows = OpTimings.layers(b, nd[0], nd[1], reps);
                    copy = rows.get(0);
                    for (OpTimings.Timing t : rows) {
                        out.println(t.row(copy));
                    }
                }
                if (spatial != null) {
                    for (OpTimings.Timing t : OpTimings.spatial(b, Shape.of(spatial), groups, reps)) {
                        out.println(t.row(copy));
                    }
                }
                for (Shape pool : poolShapes) {
                    for (OpTimings.Timing t : OpTimings.maxPool(b, pool, 2, 2, reps)) {
                        out.println(t.row(copy));
                    }
                }
            }
        } catch (IllegalArgumentException e) {
            err.println("GpuCheck: " + e.getMessage());
            return 2;
        }
        if (timing && !gemmShapes.isEmpty()) {
            gemmTimings(provider, opts, gemmShapes, reps, out);
        }
        if (timing && !convShapes.isEmpty()) {
            convTimings(provider, opts, convShapes, reps, out);
        }
        return status;
    }

    /** The conv2d table: im2col with CLBlast, im2col with the tiled GEMM, the direct kernels, each on its backend. */
    private static void convTimings(ClBackendProvider provider, Map<String, String> opts,
                                    List<OpTimings.ConvShape> shapes, int reps, PrintStream out) {
        String[][] variants = {{"im2col", "clblast"}, {"im2col", "tiled"}, {"direct", null}};
        for (String[] v : variants) {
            Map<String, String> o = new LinkedHashMap<>(opts);
            o.put("conv", v[0]);
            if (v[1] != null) {
                o.put("gemm", v[1]);
            }
            String label = "conv=" + v[0] + (v[1] == null ? "" : " gemm=" + v[1]);
            out.println();
            out.println(label + ", per call: the fastest of " + OpTimings.ROUNDS + " rounds of " + reps
                    + " calls (forward+backward counts 3× the forward's FLOPs):");
            try (Backend b = provider.create(BackendOptions.of(o))) {
                for (OpTimings.FlopTiming t : OpTimings.conv(b, shapes, reps)) {
                    if (v[1] != null || !t.name().startsWith("gemm")) {
                        out.println(t.row());
                    }
                }
            } catch (RuntimeException e) {
                out.println(label + " unavailable: " + e.getMessage());
            }
        }
    }

    /** The GEMM table: each shape and form with CLBlast, then with the tiled kernel, each on its own backend. */
    private static void gemmTimings(ClBackendProvider provider, Map<String, String> opts, List<int[]> shapes,
                                    int reps, PrintStream out) {
        for (String impl : new String[] {"clblast", "tiled"}) {
            Map<String, String> o = new LinkedHashMap<>(opts);
            o.put("gemm", impl);
            out.println();
            out.println("gemm=" + impl + ", per call: the fastest of " + OpTimings.ROUNDS + " rounds of " + reps
                    + " calls:");
            try (Backend b = provider.create(BackendOptions.of(o))) {
                // 4096³ is 137 GFLOP a call: minutes on a CPU device such as PoCL
                List<int[]> fit = shapes.stream()
                        .filter(s -> b.device().gpu() || (long) s[0] * s[1] * s[2] <= 1L << 31).toList();
                for (OpTimings.GemmTiming g : OpTimings.gemm(b, fit, reps)) {
                    out.println(g.row());
                }
            } catch (RuntimeException e) {
                out.println("gemm=" + impl + " unavailable: " + e.getMessage());
            }
        }
    }

    private static int[] ints(String text, String sep, int count, String what) {
        String[] parts = text.split(sep);
        if (parts.length != count) {
            throw new IllegalArgumentException(what + " expected " + count + " numbers separated by '" + sep
                    + "', got " + text);
        }
        int[] v = new int[count];
        for (int i = 0; i < count; i++) {
            v[i] = Integer.parseInt(parts[i].trim());
            if (v[i] < 1) {
                throw new IllegalArgumentException(what + " expected positive sizes, got " + text);
            }
        }
        return v;
    }
}
