import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Supplier;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.cpu.CpuBackend;

/**
 * Times layerkit's CPU normalization and dropout kernels the way {@code bench/pytorch_bench.py ops} times PyTorch:
 * TRAIN mode, median of {@code repeats} runs after {@code warmup} runs, inputs reused, and every result tensor closed
 * (back to the backend's pool) outside the timed region — so steady-state calls allocate nothing new, as in a
 * training loop. Also measures host copy bandwidth (System.arraycopy of 512 MiB, bytes read + written) on one thread
 * and on all threads, in the same run.
 *
 * <p>Run from the repository root with the classpath of cpu-backend (see bench/compare.sh):
 * {@code java -cp "$CP" bench/CpuBench.java [repeats] [warmup]}. Prints CSV:
 * {@code impl,op,shape,forward_ms,forward_backward_ms,fwd_bytes,fwd_bwd_bytes,forward_min_ms,forward_backward_min_ms},
 * then {@code copy} rows. An optional third argument, a regex, picks the ops to time.
 *
 * <p>Minimum traffic (4 bytes per float; n elements, F features/channels, S statistics): batchnorm / spatial
 * batchnorm forward 2n + 8F (reads x, γ, β, running mean/var; writes out, mean, rstd, running mean/var),
 * backward 3n + 4F (reads dOut and x, writes dX); layernorm / groupnorm forward 2n + 2F + 2S, backward 3n + 3F + S;
 * dropout 3n each way — the same counts as {@code layerkit bench}.
 */
public final class CpuBench {
    static int repeats = 20;
    static int warmup = 5;
    static final long WARMUP_NANOS = 2_000_000_000L;
    static java.util.regex.Pattern only = java.util.regex.Pattern.compile(".*");
    static double lastMin;

    public static void main(String[] args) {
        if (args.length > 0) {
            repeats = Integer.parseInt(args[0]);
        }
        if (args.length > 1) {
            warmup = Integer.parseInt(args[1]);
        }
        if (args.length > 2) {
            only = java.util.regex.Pattern.compile(args[2]);
        }
        System.out.println("impl,op,shape,forward_ms,forward_backward_ms,fwd_bytes,fwd_bwd_bytes,forward_min_ms,forward_backward_min_ms");
        try (Backend b = new CpuBackend()) {
            for (int[] s : List.of(new int[] {4096, 1024}, new int[] {65536, 256})) {
                Shape shape = Shape.of(s);
                row(b, "batchnorm", shape);
                row(b, "layernorm", shape);
                row(b, "dropout", shape);
            }
            for (int[] s : List.of(new int[] {64, 64, 32, 32}, new int[] {256, 16, 32, 32})) {
                Shape shape = Shape.of(s);
                row(b, "spatial_batchnorm", shape);
                row(b, "groupnorm", shape);
            }
        }
        if (only.matcher("copy").matches()) {
            copyBandwidth();
        }
    }

    /** One CSV row: forward and forward+backward median ms for {@code op} at {@code shape}. */
    static void row(Backend b, String op, Shape shape) {
        if (!only.matcher(op).matches()) {
            return;
        }
        int n = shape.size();
        int f = shape.dim(1);
        int groups = 8;
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
            Supplier<AutoCloseable[]> fwd;
            Supplier<AutoCloseable[]> fwdBwd;
            long fwdFloats;
            long bwdFloats;
            switch (op) {
                case "batchnorm", "spatial_batchnorm" -> {
                    boolean spatial = op.startsWith("spatial");
                    Supplier<NormResult> forward = () -> spatial
                            ? b.spatialBatchNormForward(x, gamma, beta, runMean, runVar, bn, Mode.TRAIN)
                            : b.batchNormForward(x, gamma, beta, runMean, runVar, bn, Mode.TRAIN);
                    fwd = () -> new AutoCloseable[] {forward.get()};
                    fwdBwd = () -> {
                        NormResult r = forward.get();
                        return new AutoCloseable[] {r, spatial ? b.spatialBatchNormBackward(dOut, r.cache(), gamma)
                                : b.batchNormBackward(dOut, r.cache(), gamma)};
                    };
                    fwdFloats = 2L * n + 8L * f;
                    bwdFloats = 3L * n + 4L * f;
                }
                case "layernorm" -> {
                    fwd = () -> new AutoCloseable[] {b.layerNormForward(x, gamma, beta, 1e-5f)};
                    fwdBwd = () -> {
                        NormResult r = b.layerNormForward(x, gamma, beta, 1e-5f);
                        return new AutoCloseable[] {r, b.layerNormBackward(dOut, r.cache(), gamma)};
                    };
                    fwdFloats = 2L * n + 2L * f + 2L * shape.dim(0);
                    bwdFloats = 3L * n + 3L * f + shape.dim(0);
                }
                case "groupnorm" -> {
                    fwd = () -> new AutoCloseable[] {b.groupNormForward(x, gamma, beta, groups, 1e-5f)};
                    fwdBwd = () -> {
                        NormResult r = b.groupNormForward(x, gamma, beta, groups, 1e-5f);
                        return new AutoCloseable[] {r, b.groupNormBackward(dOut, r.cache(), gamma)};
                    };
                    long stats = (long) shape.dim(0) * groups;
                    fwdFloats = 2L * n + 2L * f + 2L * stats;
                    bwdFloats = 3L * n + 3L * f + stats;
                }
                default -> {
                    fwd = () -> new AutoCloseable[] {
                            b.dropoutForward(x, new DropoutOptions(0.5, 1234L, offset[0]++), Mode.TRAIN)};
                    fwdBwd = () -> {
                        DropoutResult r = b.dropoutForward(x, new DropoutOptions(0.5, 1234L, offset[0]++), Mode.TRAIN);
                        return new AutoCloseable[] {r, b.dropoutBackward(dOut, r.mask())};
                    };
                    fwdFloats = 3L * n;
                    bwdFloats = 3L * n;
                }
            }
            double fwdMs = time(fwd);
            double fwdMin = lastMin;
            double fwdBwdMs = time(fwdBwd);
            double fwdBwdMin = lastMin;
            String label = op.equals("groupnorm") ? "groupnorm(G=" + groups + ")" : op;
            System.out.printf(Locale.ROOT, "layerkit,%s,%s,%.3f,%.3f,%d,%d,%.3f,%.3f%n", label, dims(shape), fwdMs,
                    fwdBwdMs, 4 * fwdFloats, 4 * (fwdFloats + bwdFloats), fwdMin, fwdBwdMin);
        }
    }

    /**
     * Median ms of {@code repeats} timed runs after a warm-up of at least {@code warmup} runs and at least
     * {@link #WARMUP_NANOS} (so that C2 has compiled the kernels: steady state, as in a training loop); results are
     * closed after the clock stops.
     */
    static double time(Supplier<AutoCloseable[]> step) {
        double[] ms = new double[repeats];
        long warmStart = System.nanoTime();
        for (int i = 0; i < warmup || System.nanoTime() - warmStart < WARMUP_NANOS; i++) {
            close(step.get());
        }
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            AutoCloseable[] results = step.get();
            long t1 = System.nanoTime();
            ms[i] = (t1 - t0) / 1e6;
            close(results);
        }
        lastMin = Arrays.stream(ms).min().orElse(Double.NaN);
        return median(ms);
    }

    static void close(AutoCloseable[] results) {
        for (AutoCloseable r : results) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Copy GB/s (2 × bytes per copy) of a 512 MiB float array: one thread, then split over every core. */
    static void copyBandwidth() {
        int n = 128 * 1024 * 1024;
        float[] src = new float[n];
        float[] dst = new float[n];
        Arrays.fill(src, 1f);
        Arrays.fill(dst, 2f);
        int threads = ForkJoinPool.getCommonPoolParallelism() + 1;
        for (int t : new int[] {1, threads}) {
            double[] ms = new double[7];
            for (int i = -2; i < ms.length; i++) {
                long t0 = System.nanoTime();
                if (t == 1) {
                    System.arraycopy(src, 0, dst, 0, n);
                } else {
                    java.util.stream.IntStream.range(0, t).parallel().forEach(k -> {
                        int from = (int) ((long) k * n / t);
                        int to = (int) ((long) (k + 1) * n / t);
                        System.arraycopy(src, from, dst, from, to - from);
                    });
                }
                long t1 = System.nanoTime();
                if (i >= 0) {
                    ms[i] = (t1 - t0) / 1e6;
                }
            }
            System.out.printf(Locale.ROOT, "layerkit,copy_GBps_%dthread,[%d],%.1f,%n", t, n,
                    2.0 * 4 * n / (median(ms) * 1e6));
        }
    }

    static String dims(Shape s) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.rank(); i++) {
            b.append(i > 0 ? "," : "").append(s.dim(i));
        }
        return b.append(']').toString();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    static float[] uniform(Random r, int n, float lo, float hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = lo + (hi - lo) * r.nextFloat();
        }
        return a;
    }
}
