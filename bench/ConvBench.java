import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;
import org.layerkit.api.Backend;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.cpu.CpuBackend;

/**
 * Times layerkit's CPU conv2d and max pool the way {@code bench/pytorch_bench.py conv} times PyTorch: forward, and
 * forward + backward (dX, dW, dB; and without dX, as a first layer), median of {@code repeats} runs after a warm-up
 * of at least {@code warmup} runs and two seconds, inputs reused and results closed outside the timed region. For
 * each conv shape it also times the native GEMMs the convolution performs, each as one call over the whole batch
 * (forward [F,K]·[K,N·P]; dW [F,N·P]·[N·P,K]ᵀ-stored; dX [F,K]ᵀ·[F,N·P]; K = C·KH·KW, P = H'·W'): the same FLOPs with
 * nothing else, the yardstick of the "% of GEMM" column in bench/compare.sh --conv; and a square GEMM of the same
 * FLOPs (side ∛(F·K·N·P)), what the native GEMM does at its best with as much work ({@code gemm_square(...)} rows,
 * their own FLOPs in forward_flops).
 *
 * <p>Run from the repository root with the classpath of cpu-backend (see bench/compare.sh):
 * {@code java -cp "$CP" bench/ConvBench.java [repeats] [warmup] [convSpecs] [poolSpecs]}, specs as in
 * pytorch_bench.py ({@code 128x1x28x28:32:3:1,...} and {@code 128x32x28x28:2:2,...}). Prints CSV:
 * {@code impl,op,shape,forward_ms,forward_backward_ms,forward_flops,forward_min_ms,forward_backward_min_ms} (medians,
 * then the fastest run); the GEMM rows are op {@code gemm(...)} with the forward GEMM in forward_ms and all three in
 * forward_backward_ms.
 */
public final class ConvBench {
    static int repeats = 20;
    static int warmup = 5;
    static final long WARMUP_NANOS = 2_000_000_000L;
    /** The fastest run of the last {@link #time} call. */
    static double lastMin;

    public static void main(String[] args) {
        repeats = args.length > 0 ? Integer.parseInt(args[0]) : repeats;
        warmup = args.length > 1 ? Integer.parseInt(args[1]) : warmup;
        String convSpecs = args.length > 2 ? args[2] : "128x1x28x28:32:3:1,128x32x14x14:64:3:1";
        String poolSpecs = args.length > 3 ? args[3] : "128x32x28x28:2:2,128x64x14x14:2:2";
        System.out.println("impl,op,shape,forward_ms,forward_backward_ms,forward_flops,forward_min_ms,"
                + "forward_backward_min_ms");
        try (Backend b = new CpuBackend()) {
            for (int[] s : specs(convSpecs, 3)) {
                conv(b, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
            }
            for (int[] s : specs(poolSpecs, 2)) {
                pool(b, Shape.of(s[0], s[1], s[2], s[3]), s[4], s[5]);
            }
        }
    }

    static void conv(Backend b, int n, int c, int h, int w, int f, int k, int pad) {
        Random rnd = new Random(42);
        Conv2dParams p = Conv2dParams.of(1, pad);
        int oh = h + 2 * pad - k + 1;
        int ow = w + 2 * pad - k + 1;
        Shape xs = Shape.of(n, c, h, w);
        Shape os = Shape.of(n, f, oh, ow);
        long flops = 2L * n * f * c * k * k * oh * ow;
        String shape = dims(xs);
        try (Tensor x = b.upload(randn(rnd, xs.size()), xs);
             Tensor wt = b.upload(randn(rnd, f * c * k * k), Shape.of(f, c, k, k));
             Tensor bias = b.upload(randn(rnd, f), Shape.of(f));
             Tensor dOut = b.upload(randn(rnd, os.size()), os)) {
            double fwd = time(() -> new AutoCloseable[] {b.conv2dForward(x, wt, bias, p)});
            double fwdMin = lastMin;
            for (boolean dx : new boolean[] {true, false}) {
                double fb = time(() -> {
                    Conv2dResult r = b.conv2dForward(x, wt, bias, p);
                    return new AutoCloseable[] {r, b.conv2dBackward(dOut, r.cache(), wt, dx)};
                });
                String op = (dx ? "conv2d" : "conv2d_no_dx") + "(F=" + f + ",K=" + k + ",pad=" + pad + ")";
                System.out.printf(Locale.ROOT, "layerkit,%s,%s,%.3f,%.3f,%d,%.3f,%.3f%n", op, shape, fwd, fb, flops,
                        fwdMin, lastMin);
            }
        }
        // the GEMMs of the convolution alone, one call each over the whole batch
        int kk = c * k * k;
        int cols = n * oh * ow;
        try (Tensor wm = b.upload(randn(rnd, f * kk), Shape.of(f, kk));
             Tensor colm = b.upload(randn(rnd, kk * cols), Shape.of(kk, cols));
             Tensor dOutT = b.upload(randn(rnd, f * cols), Shape.of(f, cols));
             Tensor out = b.zeros(Shape.of(f, cols));
             Tensor dW = b.zeros(Shape.of(f, kk));
             Tensor dCols = b.zeros(Shape.of(kk, cols))) {
            double fwd = time(() -> {
                b.gemm(wm, false, colm, false, out, 1f, 0f);
                return new AutoCloseable[0];
            });
            double fwdMin = lastMin;
            double all = time(() -> {
                b.gemm(wm, false, colm, false, out, 1f, 0f);       // out = W·cols
                b.gemm(dOutT, false, colm, true, dW, 1f, 0f);      // dW = dOut·colsᵀ
                b.gemm(wm, true, dOutT, false, dCols, 1f, 0f);     // dcols = Wᵀ·dOut
                return new AutoCloseable[0];
            });
            System.out.printf(Locale.ROOT, "layerkit,gemm(F=%d,K=%d,pad=%d),%s,%.3f,%.3f,%d,%.3f,%.3f%n", f, k, pad,
                    shape, fwd, all, flops, fwdMin, lastMin);
        }
        // a square GEMM of the forward's FLOPs (2·s³ = 2·F·K·N·P): what the native GEMM does at its best with as much
        // work, three calls for forward + backward
        int side = (int) Math.round(Math.cbrt((double) f * kk * cols));
        try (Tensor a = b.upload(randn(rnd, side * side), Shape.of(side, side));
             Tensor bm = b.upload(randn(rnd, side * side), Shape.of(side, side));
             Tensor sq = b.zeros(Shape.of(side, side))) {
            double one = time(() -> {
                b.gemm(a, false, bm, false, sq, 1f, 0f);
                return new AutoCloseable[0];
            });
            System.out.printf(Locale.ROOT, "layerkit,gemm_square(F=%d,K=%d,pad=%d),%s,%.3f,%.3f,%d,%.3f,%.3f%n", f, k,
                    pad, shape, one, 3 * one, 2L * side * side * side, lastMin, 3 * lastMin);
        }
    }

    static void pool(Backend b, Shape xs, int k, int stride) {
        Random rnd = new Random(43);
        Pool2dParams p = Pool2dParams.of(k, stride);
        Shape os = Shape.of(xs.dim(0), xs.dim(1), (xs.dim(2) - k) / stride + 1, (xs.dim(3) - k) / stride + 1);
        try (Tensor x = b.upload(randn(rnd, xs.size()), xs);
             Tensor dOut = b.upload(randn(rnd, os.size()), os)) {
            double fwd = time(() -> new AutoCloseable[] {b.maxPool2dForward(x, p)});
            double fwdMin = lastMin;
            double fb = time(() -> {
                MaxPool2dResult r = b.maxPool2dForward(x, p);
                return new AutoCloseable[] {r, b.maxPool2dBackward(dOut, r.cache())};
            });
            System.out.printf(Locale.ROOT, "layerkit,maxpool2d(K=%d,stride=%d),%s,%.3f,%.3f,0,%.3f,%.3f%n", k, stride,
                    dims(xs), fwd, fb, fwdMin, lastMin);
        }
    }

    /** Median ms of {@code repeats} runs after the warm-up; results are closed after the clock stops. */
    static double time(Supplier<AutoCloseable[]> step) {
        long warmStart = System.nanoTime();
        for (int i = 0; i < warmup || System.nanoTime() - warmStart < WARMUP_NANOS; i++) {
            close(step.get());
        }
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            AutoCloseable[] results = step.get();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            close(results);
        }
        Arrays.sort(ms);
        lastMin = ms[0];
        return repeats % 2 == 1 ? ms[repeats / 2] : (ms[repeats / 2 - 1] + ms[repeats / 2]) / 2;
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

    /** "128x1x28x28:32:3:1,..." into {N, C, H, W, then the fields}. */
    static List<int[]> specs(String text, int fields) {
        List<int[]> out = new ArrayList<>();
        for (String part : text.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            String[] pieces = part.trim().split(":");
            String[] dims = pieces[0].toLowerCase(Locale.ROOT).split("x");
            if (dims.length != 4 || pieces.length != 1 + fields) {
                throw new IllegalArgumentException("ConvBench: expected NxCxHxW with " + fields + " ':' fields, got '"
                        + part + "'");
            }
            int[] s = new int[4 + fields];
            for (int i = 0; i < 4; i++) {
                s[i] = Integer.parseInt(dims[i]);
            }
            for (int i = 0; i < fields; i++) {
                s[4 + i] = Integer.parseInt(pieces[1 + i]);
            }
            out.add(s);
        }
        return out;
    }

    static String dims(Shape s) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.rank(); i++) {
            b.append(i > 0 ? "," : "").append(s.dim(i));
        }
        return b.append(']').toString();
    }

    static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
