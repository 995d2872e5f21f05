import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.regex.Pattern;
import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.cpu.CpuBackend;

/**
 * Times SGEMM through the cpu backend ({@code Backend.gemm}: argument checks, then {@code CpuGemm}, netlib's JNI
 * binding to the system's {@code libblas.so.3}, OpenBLAS on Debian) at the shapes training uses: the Fashion-MNIST
 * MLP 784-256-128-100-10 at batch 128 in the three forms {@code AffineLayer} calls (forward x·W, dX = dOut·Wᵀ,
 * dW = xᵀ·dOut; the first layer computes no dX), two im2col convolution products, and 1024³. β = 0, as the layers
 * call it.
 *
 * <p>One process measures one OpenBLAS configuration: {@code OPENBLAS_CORETYPE} and {@code OPENBLAS_NUM_THREADS}
 * are read once, when the library loads, so comparing core types or thread counts takes one JVM each —
 * {@code bench/openblas-coretypes.sh} runs this program under each, interleaved, and tabulates the medians.
 *
 * <p>Per shape: calls until {@code --warmup-ms} have passed (at least 3), then {@code --samples} samples, each a
 * batch of calls lasting at least {@code --sample-ms}; prints the median and the fastest sample's per-call time as
 * CSV: {@code name,form,m,k,n,gflop,median_ms,min_ms,median_gflops,median_cpu_ms}. GFLOP counts 2·M·K·N.
 * {@code median_cpu_ms} is the calling thread's CPU time per call: with {@code OPENBLAS_NUM_THREADS=1} OpenBLAS
 * computes on the calling thread, so this is the kernels' own time, which time slices lost to other processes on a
 * shared machine do not inflate as they inflate the wall clock (with more threads it counts only the caller's
 * share).
 *
 * <pre>
 * java -cp CP bench/GemmBench.java [--samples N] [--sample-ms MS] [--warmup-ms MS] [--only REGEX]
 * </pre>
 * CP: api and cpu-backend classes plus netlib's blas jar (see bench/openblas-coretypes.sh).
 */
public final class GemmBench {
    /** One product: C[M,N] = op(A)·op(B), op(A) [M,K], op(B) [K,N]. */
    record Case(String name, boolean transA, boolean transB, int m, int k, int n) {
        String form() {
            return (transA ? "Aᵀ" : "A") + "·" + (transB ? "Bᵀ" : "B");
        }

        double gflop() {
            return 2.0 * m * k * n / 1e9;
        }
    }

    /** The shapes: the MLP's products at batch 128 (layers 1-3), im2col convolutions, and a square reference. */
    static final List<Case> CASES = List.of(
            new Case("fc1.forward", false, false, 128, 784, 256),     // x[128,784]·W1[784,256]
            new Case("fc1.dW", true, false, 784, 128, 256),           // xᵀ·dOut
            new Case("fc2.forward", false, false, 128, 256, 128),
            new Case("fc2.dX", false, true, 128, 128, 256),           // dOut[128,128]·W2ᵀ
            new Case("fc2.dW", true, false, 256, 128, 128),
            new Case("fc3.forward", false, false, 128, 128, 100),
            new Case("fc3.dX", false, true, 128, 100, 128),
            new Case("fc3.dW", true, false, 128, 128, 100),
            new Case("conv3x3.c1->32@28x28", false, false, 128 * 28 * 28, 9, 32),   // im2col[N·H·W, C·9]·W
            new Case("conv3x3.c32->64@14x14", false, false, 128 * 14 * 14, 288, 64),
            new Case("square1024", false, false, 1024, 1024, 1024));

    public static void main(String[] args) {
        int samples = 7;
        double sampleMs = 25;
        double warmupMs = 300;
        Pattern only = Pattern.compile(".*");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--samples" -> samples = Integer.parseInt(args[++i]);
                case "--sample-ms" -> sampleMs = Double.parseDouble(args[++i]);
                case "--warmup-ms" -> warmupMs = Double.parseDouble(args[++i]);
                case "--only" -> only = Pattern.compile(args[++i]);
                default -> {
                    System.err.println("GemmBench: unknown argument " + args[i]
                            + " (expected --samples N, --sample-ms MS, --warmup-ms MS, --only REGEX)");
                    System.exit(2);
                }
            }
        }
        try (Backend b = new CpuBackend()) {
            System.out.println("# device: " + b.device().describe());
            System.out.println("name,form,m,k,n,gflop,median_ms,min_ms,median_gflops,median_cpu_ms");
            for (Case c : CASES) {
                if (only.matcher(c.name()).find()) {
                    run(b, c, samples, sampleMs, warmupMs);
                }
            }
        }
    }

    static void run(Backend b, Case c, int samples, double sampleMs, double warmupMs) {
        Random rnd = new Random(7);
        Shape aShape = c.transA() ? Shape.of(c.k(), c.m()) : Shape.of(c.m(), c.k());
        Shape bShape = c.transB() ? Shape.of(c.n(), c.k()) : Shape.of(c.k(), c.n());
        try (Tensor a = b.upload(uniform(rnd, aShape.size()), aShape);
             Tensor bm = b.upload(uniform(rnd, bShape.size()), bShape);
             Tensor out = b.zeros(Shape.of(c.m(), c.n()))) {
            Runnable call = () -> b.gemm(a, c.transA(), bm, c.transB(), out, 1f, 0f);
            // warm-up: the JNI path compiled, OpenBLAS's buffers and threads started, caches in steady state
            long start = System.nanoTime();
            int warm = 0;
            while (warm < 3 || (System.nanoTime() - start) / 1e6 < warmupMs) {
                call.run();
                warm++;
            }
            b.synchronize();
            double perCallMs = (System.nanoTime() - start) / 1e6 / warm;
            int batch = Math.max(1, (int) Math.ceil(sampleMs / perCallMs));
            double[] ms = new double[samples];
            double[] cpuMs = new double[samples];
            for (int s = 0; s < samples; s++) {
                long c0 = CPU.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                for (int i = 0; i < batch; i++) {
                    call.run();
                }
                b.synchronize();
                ms[s] = (System.nanoTime() - t0) / 1e6 / batch;
                cpuMs[s] = (CPU.getCurrentThreadCpuTime() - c0) / 1e6 / batch;
            }
            double median = median(ms);
            System.out.printf(Locale.ROOT, "%s,%s,%d,%d,%d,%.6f,%.4f,%.4f,%.2f,%.4f%n", c.name(), c.form(), c.m(),
                    c.k(), c.n(), c.gflop(), median, Arrays.stream(ms).min().orElseThrow(),
                    c.gflop() / (median / 1e3), median(cpuMs));
        }
    }

    private static final java.lang.management.ThreadMXBean CPU =
            java.lang.management.ManagementFactory.getThreadMXBean();

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int h = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
    }

    static float[] uniform(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextFloat() * 2 - 1;
        }
        return v;
    }

    private GemmBench() {
    }
}
