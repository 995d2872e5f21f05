import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.opencl.ClBackendProvider;

/**
 * Times the OpenCL backend's conv2d variants side by side on one device (PoCL here): im2col + CLBlast, im2col + the
 * tiled GEMM, and the direct kernels (options {@code conv} and {@code gemm}), forward and forward+backward at the
 * Fashion-MNIST CNN's convolutions (N = 128: 1→32 at 28×28 and 32→64 at 14×14, 3×3, padding 1), the GEMM products
 * that im2col runs there, and maxpool2d 2×2.
 *
 * <p>The variants take turns within each round (A, B, C, A, B, C, ...), so that a machine shared with other work
 * loads them alike. Each measurement is a call queued {@code reps} times and ended by {@code synchronize()}; the
 * table gives, per call, the median over rounds of the wall time and of the process's CPU time (PoCL's worker
 * threads included: on a loaded machine the CPU time moves far less than the wall time, and it is the cost the
 * kernels impose; on an idle machine with all cores busy, wall ≈ CPU / cores).
 *
 * <p>Run from the repository root after building opencl-backend (see docs/benchmarks.md for the class path):
 * {@code java -cp "$CP" bench/ClConvBench.java [rounds] [reps] [regex] [variants]}; the regex picks rows by name;
 * variants are backend option sets separated by {@code ;}, e.g. {@code conv=im2col,gemm=clblast,convWorkspace=4}
 * (default: im2col with each GEMM, and direct).
 */
public final class ClConvBench {
    static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    record Conv(String name, int n, int c, int h, int w, int f, int k, int pad) {
        Shape x() {
            return Shape.of(n, c, h, w);
        }

        Shape weights() {
            return Shape.of(f, c, k, k);
        }

        Shape out() {
            return Shape.of(n, f, h + 2 * pad - k + 1, w + 2 * pad - k + 1);
        }

        double gflop() {
            return 2.0 * n * f * out().dim(2) * out().dim(3) * c * k * k / 1e9;
        }
    }

    /** One timed step: a name, its work in GFLOP (0: none counted) and the step. */
    record Step(String name, double gflop, Runnable run, Backend backend) {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        java.util.regex.Pattern only = java.util.regex.Pattern.compile(args.length > 2 ? args[2] : ".*");
        List<Conv> convs = List.of(new Conv("conv1 1→32 28×28", 128, 1, 28, 28, 32, 3, 1),
                new Conv("conv2 32→64 14×14", 128, 32, 14, 14, 64, 3, 1));
        String spec = args.length > 3 ? args[3]
                : "conv=im2col,gemm=clblast;conv=im2col,gemm=tiled;conv=direct,gemm=clblast";
        Map<String, Map<String, String>> variants = new LinkedHashMap<>();
        for (String set : spec.split(";")) {
            Map<String, String> o = new LinkedHashMap<>();
            for (String kv : set.split(",")) {
                String[] p = kv.split("=", 2);
                o.put(p[0].trim(), p[1].trim());
            }
            variants.put(set.replace("conv=", "").replace("gemm=", "").replace(",", "+"), o);
        }
        ClBackendProvider provider = new ClBackendProvider();
        List<Backend> backends = new ArrayList<>();
        List<Tensor> tensors = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        Random r = new Random(1);
        for (Map.Entry<String, Map<String, String>> v : variants.entrySet()) {
            Backend b = provider.create(BackendOptions.of(v.getValue()));
            backends.add(b);
            for (Conv c : convs) {
                Tensor x = keep(tensors, b.upload(gaussian(r, c.x().size()), c.x()));
                Tensor w = keep(tensors, b.upload(gaussian(r, c.weights().size()), c.weights()));
                Tensor bias = keep(tensors, b.upload(gaussian(r, c.f()), Shape.of(c.f())));
                Tensor dOut = keep(tensors, b.upload(gaussian(r, c.out().size()), c.out()));
                Conv2dParams p = Conv2dParams.of(1, c.pad());
                steps.add(new Step(c.name() + " forward | " + v.getKey(), c.gflop(),
                        () -> b.conv2dForward(x, w, bias, p).close(), b));
                steps.add(new Step(c.name() + " fwd+bwd | " + v.getKey(), 3 * c.gflop(), () -> {
                    try (Conv2dResult res = b.conv2dForward(x, w, bias, p);
                         Conv2dGrads g = b.conv2dBackward(dOut, res.cache(), w)) {
                        // closed by try
                    }
                }, b));
                if (!v.getKey().startsWith("im2col")) {
                    continue;
                }
                // the three products of im2col at this layer: forward W·cols, dW = dProd·colsᵀ, dCols = Wᵀ·dProd
                int kk = c.c() * c.k() * c.k();
                int j = c.n() * c.out().dim(2) * c.out().dim(3);
                Tensor wm = keep(tensors, b.upload(gaussian(r, c.f() * kk), Shape.of(c.f(), kk)));
                Tensor cols = keep(tensors, b.upload(gaussian(r, kk * j), Shape.of(kk, j)));
                Tensor prod = keep(tensors, b.upload(gaussian(r, c.f() * j), Shape.of(c.f(), j)));
                Tensor dw = keep(tensors, b.zeros(Shape.of(c.f(), kk)));
                Tensor dcols = keep(tensors, b.zeros(Shape.of(kk, j)));
                double g1 = 2.0 * c.f() * kk * j / 1e9;
                steps.add(new Step(c.name() + " gemm W·cols | " + v.getKey(), g1,
                        () -> b.gemm(wm, false, cols, false, prod, 1f, 0f), b));
                steps.add(new Step(c.name() + " gemm dProd·colsᵀ | " + v.getKey(), g1,
                        () -> b.gemm(prod, false, cols, true, dw, 1f, 0f), b));
                steps.add(new Step(c.name() + " gemm Wᵀ·dProd | " + v.getKey(), g1,
                        () -> b.gemm(wm, true, prod, false, dcols, 1f, 0f), b));
            }
        }
        // max pooling on the first backend
        Backend b0 = backends.get(0);
        for (Shape s : List.of(Shape.of(128, 32, 28, 28), Shape.of(128, 64, 14, 14))) {
            Pool2dParams p = Pool2dParams.of(2, 2);
            Shape os = Shape.of(s.dim(0), s.dim(1), s.dim(2) / 2, s.dim(3) / 2);
            Tensor x = keep(tensors, b0.upload(gaussian(r, s.size()), s));
            Tensor d = keep(tensors, b0.upload(gaussian(r, os.size()), os));
            steps.add(new Step("maxpool2 " + s + " forward", 0, () -> b0.maxPool2dForward(x, p).close(), b0));
            steps.add(new Step("maxpool2 " + s + " fwd+bwd", 0, () -> {
                try (MaxPool2dResult res = b0.maxPool2dForward(x, p); Tensor dx = b0.maxPool2dBackward(d, res.cache())) {
                    // closed by try
                }
            }, b0));
        }
        steps.removeIf(s -> !only.matcher(s.name()).find());

        System.out.println("device: " + b0.device().describe());
        System.out.printf(Locale.ROOT, "rounds %d × %d calls per step, load before: %s%n", rounds, reps, load());
        // warm-up: builds, JIT, pools
        for (Step s : steps) {
            for (int i = 0; i < 2; i++) {
                s.run().run();
            }
            s.backend().synchronize();
        }
        double[][] wall = new double[steps.size()][rounds];
        double[][] cpu = new double[steps.size()][rounds];
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < steps.size(); i++) {
                Step s = steps.get(i);
                long c0 = OS.getProcessCpuTime();
                long t0 = System.nanoTime();
                for (int k = 0; k < reps; k++) {
                    s.run().run();
                }
                s.backend().synchronize();
                wall[i][round] = (System.nanoTime() - t0) / 1e6 / reps;
                cpu[i][round] = (OS.getProcessCpuTime() - c0) / 1e6 / reps;
            }
        }
        System.out.printf(Locale.ROOT, "load after: %s%n", load());
        System.out.printf(Locale.ROOT, "%-48s %10s %10s %10s %10s%n", "step", "wall ms", "cpu ms", "GFLOP/s", "(cpu)");
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            double w = median(wall[i]);
            double c = median(cpu[i]);
            System.out.printf(Locale.ROOT, "%-48s %10.2f %10.2f %10s %10s%n", s.name(), w, c,
                    s.gflop() == 0 ? "" : String.format(Locale.ROOT, "%.1f", s.gflop() / (w * 1e-3)),
                    s.gflop() == 0 ? "" : String.format(Locale.ROOT, "%.1f", s.gflop() / (c * 1e-3)));
        }
        tensors.forEach(Tensor::close);
        backends.forEach(Backend::close);
    }

    static Tensor keep(List<Tensor> all, Tensor t) {
        all.add(t);
        return t;
    }

    static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String load() {
        try {
            return new String(java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/loadavg"))).trim();
        } catch (java.io.IOException e) {
            return "?";
        }
    }
}
