package org.layerkit.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.Backends;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code layerkit bench}: times the normalization and dropout kernels of one backend, or of all side by side.
 *
 * <p>For each op × shape: the median over {@code --repeats} runs (after {@code --warmup} runs) of the forward alone
 * and of forward + backward, each ended by {@code backend.synchronize()}, in TRAIN mode. Effective bandwidth counts the
 * minimum traffic of the kernel contract, 4 bytes per float, each input read once and each output written once
 * (n = elements of x, F = features/channels, R = rows N, S = statistics per call):
 * <ul>
 *   <li>batchnorm / spatial batchnorm ({@code S = F}): forward reads x, γ, β, running mean and var and writes out,
 *       mean, rstd and the running stats: 2n + 8F floats; backward reads dOut, x (or a stored x̂), γ, rstd and
 *       writes dX, dγ, dβ: 3n + 4F.
 *   <li>layernorm ({@code S = R}) and groupnorm ({@code S = N·G}): forward reads x, γ, β and writes out, mean, rstd:
 *       2n + 2F + 2S; backward reads dOut, x (or a stored x̂), γ, rstd and writes dX, dγ, dβ: 3n + 3F + S.
 *   <li>A backend whose cache stores x̂ (the OpenCL one) writes n floats more in the forward than this minimum.
 *   <li>dropout: forward reads x and writes out and mask: 3n; backward reads dOut and mask and writes dX: 3n.
 * </ul>
 * The share of host copy bandwidth compares with {@code System.arraycopy} of a large float array measured in the same
 * run (2 × its bytes per copy: one read, one write), on one thread and split over every core; the faster counts.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Time the normalization and dropout kernels of a backend, or of all side by side.",
                "Batchnorm, spatial batchnorm, layernorm, groupnorm, dropout and max pool, forward and",
                "forward+backward: median milliseconds, effective GB/s and its share of host memory-copy",
                "bandwidth; conv2d in GFLOP/s next to the backend's GEMM at the same shapes and FLOPs.",
                "--backend all compares every available backend side by side."},
        footerHeading = "%nMinimum traffic behind GB/s, in 4-byte floats (n elements of x, F features or%n"
                + "channels, R rows, S statistics), each input read once and each output written once:%n",
        footer = {
                "  batchnorm, spatial_batchnorm (S = F)",
                "    forward  2n + 8F: x, gamma, beta, running mean/var in; out, mean, rstd,",
                "             running mean/var out",
                "    backward 3n + 4F: dOut, x, gamma, rstd in; dX, dGamma, dBeta out",
                "  layernorm (S = R), groupnorm (S = N*G)",
                "    forward  2n + 2F + 2S: x, gamma, beta in; out, mean, rstd out",
                "    backward 3n + 3F + S: dOut, x, gamma, rstd in; dX, dGamma, dBeta out",
                "  (a backend whose cache stores x-hat, as opencl does, writes n more forward)",
                "  dropout",
                "    forward  3n: x in; out, mask out",
                "    backward 3n: dOut, mask in; dX out",
                "  maxpool2d (m outputs)",
                "    forward  n + 2m: x in; out, argmax out",
                "    backward 2m + n: dOut, argmax in; dX out",
                "  conv2d counts FLOPs: 2*N*F*C*K*K*H'*W' forward, 3x that forward+backward",
                "    (dX, dW, dB); GEMM GF/s is the backend's gemm on the same three products",
                "The forward+backward figure counts both. %%copy divides by the bandwidth of",
                "System.arraycopy (one read, one write per float) measured in the same run,",
                "on one thread and split over every core; the faster of the two counts.",
                "Ops run in TRAIN mode; each timed run ends with backend.synchronize()."})
public final class BenchCommand extends CommandBase {
    /** The ops this command knows, in report order. */
    static final List<String> OPS = List.of("batchnorm", "spatial_batchnorm", "layernorm", "groupnorm", "dropout",
            "conv2d", "maxpool2d");

    @Mixin
    BackendMixin backendMixin = new BackendMixin();

    @Option(names = "--shape", paramLabel = "DIMS", split = ",",
            description = "Shapes such as 4096x1024 (rank 2: batchnorm, layernorm, dropout) or 64x64x32x32 "
                    + "(rank 4: spatial_batchnorm, groupnorm; dropout too when no rank-2 shape is given); "
                    + "repeatable or comma-separated "
                    + "(default: 4096x1024, 65536x256, 64x64x32x32, 256x16x32x32).")
    List<String> shapes = new ArrayList<>(List.of("4096x1024", "65536x256", "64x64x32x32", "256x16x32x32"));

    @Option(names = "--ops", paramLabel = "OP", split = ",",
            description = "Ops to time (default: all): ${COMPLETION-CANDIDATES}.", completionCandidates = OpNames.class)
    List<String> ops = new ArrayList<>(OPS);

    @Option(names = "--conv", paramLabel = "SPEC", split = ",",
            description = "conv2d shapes NxCxHxW:F:K:PAD (stride 1), repeatable or comma-separated "
                    + "(default: " + BenchConv.DEFAULT_CONV + ", a small Fashion-MNIST CNN at batch 128).")
    List<String> convSpecs = new ArrayList<>(List.of(BenchConv.DEFAULT_CONV.split(",")));

    @Option(names = "--pool", paramLabel = "SPEC", split = ",",
            description = "maxpool2d shapes NxCxHxW:K:STRIDE, repeatable or comma-separated "
                    + "(default: " + BenchConv.DEFAULT_POOL + ").")
    List<String> poolSpecs = new ArrayList<>(List.of(BenchConv.DEFAULT_POOL.split(",")));

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "10",
            description = "Timed runs per measurement; the median is reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3",
            description = "Untimed runs first (JIT, kernel compilation; default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--warmup-ms", paramLabel = "MS", defaultValue = "1000",
            description = "Keep warming up until at least this many milliseconds have passed as well, so the JIT has "
                    + "compiled the kernels and the numbers are steady state, as in a training loop "
                    + "(default: ${DEFAULT-VALUE}).")
    long warmupMs;

    @Option(names = "--groups", paramLabel = "G", defaultValue = "8",
            description = "Groups for groupnorm; the largest divisor of C not above G is used (default: ${DEFAULT-VALUE}).")
    int groups;

    @Option(names = "--keep", paramLabel = "P", defaultValue = "0.5",
            description = "Dropout keep probability (default: ${DEFAULT-VALUE}).")
    double keep;

    @Option(names = "--copy-mib", paramLabel = "MiB", defaultValue = "64",
            description = "Size of the float array copied to measure host memory bandwidth (default: ${DEFAULT-VALUE}).")
    int copyMib;

    @Option(names = "--csv", paramLabel = "FILE", description = "Also write the results as CSV.")
    Path csv;

    /**
     * One measured op × shape × backend. Memory-bound ops count bytes; conv2d counts FLOPs instead and carries the
     * time of the backend's GEMMs of the same shapes ({@code gemmMs}, see {@link BenchConv#conv}).
     */
    record Result(String backend, String device, String op, Shape shape, double fwdMs, double fwdBwdMs,
                  long fwdBytes, long fwdBwdBytes, String note, long fwdFlops, long fwdBwdFlops, double gemmMs) {
        Result(String backend, String device, String op, Shape shape, double fwdMs, double fwdBwdMs, long fwdBytes,
               long fwdBwdBytes, String note) {
            this(backend, device, op, shape, fwdMs, fwdBwdMs, fwdBytes, fwdBwdBytes, note, 0, 0, Double.NaN);
        }

        static Result unsupported(String backend, String device, String op, Shape shape) {
            return new Result(backend, device, op, shape, Double.NaN, Double.NaN, 0, 0, "unsupported");
        }

        boolean measured() {
            return note == null;
        }

        /** A compute-bound row (conv2d), reported in GFLOP/s. */
        boolean compute() {
            return fwdFlops > 0;
        }

        double fwdGflops() {
            return fwdFlops / (fwdMs * 1e6);
        }

        double fwdBwdGflops() {
            return fwdBwdFlops / (fwdBwdMs * 1e6);
        }

        /** The same FLOPs through the backend's GEMM alone. */
        double gemmGflops() {
            return fwdBwdFlops / (gemmMs * 1e6);
        }

        double fwdGbps() {
            return fwdBytes / (fwdMs * 1e6);
        }

        double fwdBwdGbps() {
            return fwdBwdBytes / (fwdBwdMs * 1e6);
        }
    }

    /** Completion candidates for {@code --ops}. */
    static final class OpNames extends ArrayList<String> {
        private static final long serialVersionUID = 1L;

        OpNames() {
            super(OPS);
        }
    }

    @Override
    protected int execute() throws IOException {
        if (repeats < 1) {
            throw usage("--repeats must be at least 1, got " + repeats);
        }
        if (warmupMs < 0) {
            throw usage("--warmup-ms must be at least 0, got " + warmupMs);
        }
        if (warmup < 0) {
            throw usage("--warmup must be at least 0, got " + warmup);
        }
        if (groups < 1) {
            throw usage("--groups must be at least 1, got " + groups);
        }
        if (!(keep > 0 && keep <= 1)) {
            throw usage("--keep must be in (0,1], got " + keep);
        }
        if (copyMib < 1) {
            throw usage("--copy-mib must be at least 1, got " + copyMib);
        }
        for (String op : ops) {
            if (!OPS.contains(op)) {
                throw usage("unknown op '" + op + "' in --ops; choose from " + String.join(", ", OPS));
            }
        }
        List<BenchConv.ConvSpec> convs = new ArrayList<>();
        List<BenchConv.PoolSpec> pools = new ArrayList<>();
        try {
            for (String spec : convSpecs) {
                convs.add(BenchConv.parseConv(spec));
            }
            for (String spec : poolSpecs) {
                pools.add(BenchConv.parsePool(spec));
            }
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        List<Shape> parsed = new ArrayList<>();
        for (String s : shapes) {
            parsed.add(parseShape(s));
        }
        if (csv != null) {
            Files2.requireWritableFile(csv, "--csv", "the timings");
        }
        PrintWriter out = out();

        List<String> names = backendNames();
        double[] copy = hostCopyGbps();
        double copyGbps = Math.max(copy[0], copy[1]);
        out.printf(Locale.ROOT, "host memory copy (System.arraycopy of %d MiB): %.2f GB/s on one thread, %.2f GB/s on %d;"
                + " %%copy is against %.2f GB/s%n", copyMib, copy[0], copy[1], Runtime.getRuntime().availableProcessors(),
                copyGbps);

        boolean anyRank2 = parsed.stream().anyMatch(sh -> sh.rank() == 2);
        List<Result> results = new ArrayList<>();
        boolean all = names.size() > 1 || "all".equals(backendMixin.backendName());
        for (String name : names) {
            Backend opened;
            try {
                opened = backendMixin.open(name);
            } catch (RuntimeException e) {
                if (!all) {
                    throw e;
                }
                // one broken backend should not hide the numbers of the others
                out.println("skipping " + name + ": " + CommandBase.message(e));
                continue;
            }
            try (Backend backend = opened) {
                out.printf("timing on %s: %s (median of %d after >= %d warm-up runs and >= %d ms)%n", backend.name(),
                        backend.device().describe(), repeats, warmup, warmupMs);
                out.flush();
                for (String op : ops) {
                    if (op.equals("conv2d")) {
                        for (BenchConv.ConvSpec spec : convs) {
                            results.add(BenchConv.conv(backend, spec, this::time));
                        }
                        continue;
                    }
                    if (op.equals("maxpool2d")) {
                        for (BenchConv.PoolSpec spec : pools) {
                            results.add(BenchConv.pool(backend, spec, this::time));
                        }
                        continue;
                    }
                    for (Shape shape : parsed) {
                        if (appliesTo(op, shape, anyRank2)) {
                            results.add(measure(backend, op, shape));
                        }
                    }
                }
            }
        }
        printTable(out, results, copyGbps, names.size() > 1);
        if (csv != null) {
            writeCsv(results, copyGbps);
            out.println("wrote " + csv.toAbsolutePath().normalize());
        }
        return 0;
    }

    /** {@code all}: every available provider (unavailable ones are noted and skipped); otherwise the one name. */
    private List<String> backendNames() {
        if (!"all".equals(backendMixin.backendName())) {
            return List.of(backendMixin.backendName());
        }
        List<String> names = new ArrayList<>();
        for (BackendProvider p : Backends.providers()) {
            Availability a = p.availability();
            if (a.isAvailable()) {
                names.add(p.name());
            } else {
                out().println("skipping " + p.name() + ": unavailable: " + a.describe());
            }
        }
        if (names.isEmpty()) {
            throw new CliException("no backend is available: " + Backends.describe(Backends.providers()));
        }
        return names;
    }

    /** Rank-2 ops on rank-2 shapes, rank-4 ops on rank-4 shapes; dropout on rank-2 shapes if any, else on all. */
    static boolean appliesTo(String op, Shape shape, boolean anyRank2) {
        return switch (op) {
            case "batchnorm", "layernorm" -> shape.rank() == 2;
            case "spatial_batchnorm", "groupnorm" -> shape.rank() == 4;
            default -> shape.rank() == 2 || !anyRank2;
        };
    }

    /** {@code 4096x1024} or {@code 4096*1024} into a shape; a usage error otherwise. */
    Shape parseShape(String s) {
        String[] parts = s.trim().toLowerCase(Locale.ROOT).split("[x*]");
        int[] dims = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                dims[i] = Integer.parseInt(parts[i].trim());
            }
            Shape shape = Shape.of(dims);
            if (shape.rank() != 2 && shape.rank() != 4) {
                throw usage("--shape " + s + ": expected rank 2 (NxD) or rank 4 (NxCxHxW), got rank " + shape.rank());
            }
            return shape;
        } catch (NumberFormatException e) {
            throw usage("--shape: expected dimensions like 4096x1024, got '" + s + "'");
        } catch (IllegalArgumentException e) {
            throw usage("--shape " + s + ": " + e.getMessage());
        }
    }

    /**
     * Median GB/s (read + write bytes) of copying a large float array with System.arraycopy, on one thread and split
     * over every core ({@code [one thread, all threads]}); kernels are compared with the faster, since the backends
     * use every core too.
     */
    double[] hostCopyGbps() {
        int n = (int) Math.min((long) copyMib * 1024 * 1024 / 4, Integer.MAX_VALUE - 8);
        float[] src = new float[n];
        float[] dst = new float[n];
        Arrays.fill(src, 1f);
        int threads = Runtime.getRuntime().availableProcessors();
        double one = copyGbps(n, 1, () -> System.arraycopy(src, 0, dst, 0, n));
        double all = copyGbps(n, threads, () -> java.util.stream.IntStream.range(0, threads).parallel().forEach(t -> {
            int from = (int) ((long) n * t / threads);
            int to = (int) ((long) n * (t + 1) / threads);
            System.arraycopy(src, from, dst, from, to - from);
        }));
        if (dst[0] != 1f || dst[n - 1] != 1f) {
            throw new IllegalStateException("arraycopy check failed");
        }
        return new double[] {one, all};
    }

    private double copyGbps(int n, int threads, Runnable copy) {
        double[] ms = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            long t0 = System.nanoTime();
            copy.run();
            long t1 = System.nanoTime();
            if (i >= warmup) {
                ms[i - warmup] = (t1 - t0) / 1e6;
            }
        }
        return 2.0 * 4 * n / (median(ms) * 1e6);
    }

    private Result measure(Backend b, String op, Shape shape) {
        String device = b.device().name();
        Op family = switch (op) {
            case "batchnorm" -> Op.BATCHNORM;
            case "spatial_batchnorm" -> Op.SPATIAL_BATCHNORM;
            case "layernorm" -> Op.LAYERNORM;
            case "groupnorm" -> Op.GROUPNORM;
            default -> Op.DROPOUT;
        };
        if (!b.supports(family)) {
            return new Result(b.name(), device, op, shape, Double.NaN, Double.NaN, 0, 0, "unsupported");
        }
        int n = shape.size();
        int f = op.equals("layernorm") || op.equals("batchnorm") ? shape.dim(1)
                : shape.rank() == 4 ? shape.dim(1) : 1;
        int g = op.equals("groupnorm") ? largestDivisorAtMost(f, groups) : 1;
        Random rnd = new Random(42);
        try (Tensor x = b.upload(randn(rnd, n), shape);
             Tensor dOut = b.upload(randn(rnd, n), shape);
             Tensor gamma = b.upload(uniform(rnd, f, 0.5f, 1.5f), Shape.of(f));
             Tensor beta = b.upload(uniform(rnd, f, -0.5f, 0.5f), Shape.of(f));
             Tensor runMean = b.zeros(Shape.of(f));
             Tensor runVar = b.zeros(Shape.of(f))) {
            b.fill(runVar, 1f);
            BatchNormParams bn = new BatchNormParams(1e-5f, 0.9f, false);
            long[] offset = {0};
            Step fwd;
            Step fwdBwd;
            long fwdFloats;
            long bwdFloats;
            switch (op) {
                case "batchnorm", "spatial_batchnorm" -> {
                    boolean spatial = op.startsWith("spatial");
                    Step forward = () -> (spatial
                            ? b.spatialBatchNormForward(x, gamma, beta, runMean, runVar, bn, Mode.TRAIN)
                            : b.batchNormForward(x, gamma, beta, runMean, runVar, bn, Mode.TRAIN))::close;
                    fwd = forward;
                    fwdBwd = () -> {
                        NormResult r = spatial
                                ? b.spatialBatchNormForward(x, gamma, beta, runMean, runVar, bn, Mode.TRAIN)
                                : b.batchNormForward(x, gamma, beta, runMean, runVar, bn, Mode.TRAIN);
                        return then(r::close, () -> spatial
                                ? b.spatialBatchNormBackward(dOut, r.cache(), gamma)
                                : b.batchNormBackward(dOut, r.cache(), gamma));
                    };
                    fwdFloats = 2L * n + 8L * f;
                    bwdFloats = 3L * n + 4L * f;
                }
                case "layernorm" -> {
                    fwd = () -> b.layerNormForward(x, gamma, beta, 1e-5f)::close;
                    fwdBwd = () -> {
                        NormResult r = b.layerNormForward(x, gamma, beta, 1e-5f);
                        return then(r::close, () -> b.layerNormBackward(dOut, r.cache(), gamma));
                    };
                    int rows = shape.dim(0);
                    fwdFloats = 2L * n + 2L * f + 2L * rows;
                    bwdFloats = 3L * n + 3L * f + rows;
                }
                case "groupnorm" -> {
                    fwd = () -> b.groupNormForward(x, gamma, beta, g, 1e-5f)::close;
                    fwdBwd = () -> {
                        NormResult r = b.groupNormForward(x, gamma, beta, g, 1e-5f);
                        return then(r::close, () -> b.groupNormBackward(dOut, r.cache(), gamma));
                    };
                    long stats = (long) shape.dim(0) * g;
                    fwdFloats = 2L * n + 2L * f + 2L * stats;
                    bwdFloats = 3L * n + 3L * f + stats;
                }
                default -> {
                    fwd = () -> b.dropoutForward(x, new DropoutOptions(keep, 1234L, offset[0]++), Mode.TRAIN)::close;
                    fwdBwd = () -> {
                        DropoutResult r = b.dropoutForward(x, new DropoutOptions(keep, 1234L, offset[0]++),
                                Mode.TRAIN);
                        return then(r::close, () -> b.dropoutBackward(dOut, r.mask()));
                    };
                    fwdFloats = 3L * n;
                    bwdFloats = 3L * n;
                }
            }
            b.synchronize();
            double fwdMs = time(b, fwd);
            double fwdBwdMs = time(b, fwdBwd);
            String label = op.equals("groupnorm") ? op + "(G=" + g + ")" : op;
            return new Result(b.name(), device, label, shape, fwdMs, fwdBwdMs, 4 * fwdFloats,
                    4 * (fwdFloats + bwdFloats), null);
        }
    }

    /** One timed unit of work: queues kernels and returns how to release their results. */
    @FunctionalInterface
    interface Step {
        Runnable run();
    }

    /** Runs {@code second} after the first step's results exist; releases both (the first even if second fails). */
    static Runnable then(Runnable releaseFirst, java.util.function.Supplier<? extends AutoCloseable> second) {
        AutoCloseable r2;
        try {
            r2 = second.get();
        } catch (RuntimeException e) {
            releaseFirst.run();
            throw e;
        }
        return () -> {
            try {
                r2.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing benchmark results failed", e);
            } finally {
                releaseFirst.run();
            }
        };
    }

    /**
     * Median milliseconds of {@code repeats} runs after at least {@code warmup} runs and {@code warmupMs}. The clock stops after
     * {@code backend.synchronize()}; releasing the results happens outside the timed region.
     */
    private double time(Backend b, Step step) {
        long warmUntil = System.nanoTime() + warmupMs * 1_000_000L;
        for (int i = 0; i < warmup || System.nanoTime() < warmUntil; i++) {
            Runnable release = step.run();
            b.synchronize();
            release.run();
        }
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            Runnable release = step.run();
            b.synchronize();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            release.run();
        }
        return median(ms);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    static int largestDivisorAtMost(int c, int max) {
        for (int g = Math.min(c, max); g > 1; g--) {
            if (c % g == 0) {
                return g;
            }
        }
        return 1;
    }

    private static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    private static float[] uniform(Random r, int n, float lo, float hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = lo + (hi - lo) * r.nextFloat();
        }
        return a;
    }

    private void printTable(PrintWriter out, List<Result> results, double copyGbps, boolean sideBySide) {
        out.println();
        if (results.isEmpty()) {
            out.println("nothing to time: no op of --ops applies to the ranks of --shape");
            return;
        }
        out.printf("%-22s %-14s %-8s %10s %9s %6s %10s %9s %6s%s%n", "op", "shape", "backend",
                "fwd ms", "fwd GB/s", "%copy", "f+b ms", "f+b GB/s", "%copy", sideBySide ? "  f+b vs " + results.get(0).backend() : "");
        // group rows by op and shape so that backends of one measurement stand next to each other
        Map<String, List<Result>> groups = new LinkedHashMap<>();
        for (Result r : results) {
            if (!r.compute() && !r.op().startsWith("conv2d")) {
                groups.computeIfAbsent(r.op() + " " + r.shape(), k -> new ArrayList<>()).add(r);
            }
        }
        for (List<Result> group : groups.values()) {
            Result first = group.get(0);
            for (Result r : group) {
                if (!r.measured()) {
                    out.printf("%-22s %-14s %-8s %s%n", r.op(), r.shape(), r.backend(), r.note());
                    continue;
                }
                String speedup = "";
                if (sideBySide && first.measured()) {
                    speedup = String.format(Locale.ROOT, "  %8.2fx", first.fwdBwdMs() / r.fwdBwdMs());
                }
                out.printf(Locale.ROOT, "%-22s %-14s %-8s %10.3f %9.2f %5.0f%% %10.3f %9.2f %5.0f%%%s%n",
                        r.op(), r.shape(), r.backend(), r.fwdMs(), r.fwdGbps(), 100 * r.fwdGbps() / copyGbps,
                        r.fwdBwdMs(), r.fwdBwdGbps(), 100 * r.fwdBwdGbps() / copyGbps, speedup);
            }
        }
        out.println("GB/s counts the minimum traffic (each input read once, each output written once; "
                + "see `layerkit bench --help`); %copy is the share of host copy bandwidth"
                + (sideBySide ? "; f+b vs " + results.get(0).backend() + " is its f+b time over this one's." : "."));
        printComputeTable(out, results);
    }

    /** conv2d rows: GFLOP/s, and the share of the backend's GEMM throughput at the same shapes and FLOPs. */
    private static void printComputeTable(PrintWriter out, List<Result> results) {
        List<Result> compute = results.stream().filter(r -> r.compute() || r.op().startsWith("conv2d")).toList();
        if (compute.isEmpty()) {
            return;
        }
        out.println();
        out.printf("%-26s %-16s %-8s %10s %9s %10s %9s %10s %6s%n", "op", "shape", "backend", "fwd ms", "fwd GF/s",
                "f+b ms", "f+b GF/s", "GEMM GF/s", "%GEMM");
        for (Result r : compute) {
            if (!r.measured()) {
                out.printf("%-26s %-16s %-8s %s%n", r.op(), r.shape(), r.backend(), r.note());
                continue;
            }
            out.printf(Locale.ROOT, "%-26s %-16s %-8s %10.3f %9.1f %10.3f %9.1f %10.1f %5.0f%%%n", r.op(), r.shape(),
                    r.backend(), r.fwdMs(), r.fwdGflops(), r.fwdBwdMs(), r.fwdBwdGflops(), r.gemmGflops(),
                    100 * r.fwdBwdGflops() / r.gemmGflops());
        }
        out.println("conv2d f+b computes dX, dW and dB: 3x the forward's 2*N*F*C*K*K*H'*W' FLOPs. GEMM GF/s runs the "
                + "same FLOPs as the three GEMMs of an im2col convolution over the whole batch (out = W*cols, "
                + "dW = dOut*cols^T, dcols = W^T*dOut) on the same backend; %GEMM is f+b GF/s over it.");
    }

    private void writeCsv(List<Result> results, double copyGbps) throws IOException {
        StringBuilder b = new StringBuilder(
                "backend,device,op,shape,fwd_ms,fwd_bwd_ms,fwd_bytes,fwd_bwd_bytes,fwd_gbps,fwd_bwd_gbps,"
                        + "host_copy_gbps,fwd_copy_share,fwd_bwd_copy_share,note,fwd_flops,fwd_bwd_flops,"
                        + "fwd_gflops,fwd_bwd_gflops,gemm_gflops\n");
        for (Result r : results) {
            b.append(Csv.row(r.backend(), r.device(), r.op(), r.shape().toString(),
                    Csv.num(r.fwdMs()), Csv.num(r.fwdBwdMs()), Long.toString(r.fwdBytes()),
                    Long.toString(r.fwdBwdBytes()),
                    r.measured() && !r.compute() ? Csv.num(r.fwdGbps()) : "",
                    r.measured() && !r.compute() ? Csv.num(r.fwdBwdGbps()) : "",
                    Csv.num(copyGbps),
                    r.measured() && !r.compute() ? Csv.num(r.fwdGbps() / copyGbps) : "",
                    r.measured() && !r.compute() ? Csv.num(r.fwdBwdGbps() / copyGbps) : "",
                    r.note() == null ? "" : r.note(),
                    Long.toString(r.fwdFlops()), Long.toString(r.fwdBwdFlops()),
                    r.measured() && r.compute() ? Csv.num(r.fwdGflops()) : "",
                    r.measured() && r.compute() ? Csv.num(r.fwdBwdGflops()) : "",
                    r.measured() && r.compute() ? Csv.num(r.gemmGflops()) : ""));
        }
        Files2.write(csv, b.toString(), "--csv", "the timings");
    }
}
