package org.layerkit.opencl.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.opencl.ClBackend;

/**
 * Wall-clock timings of the layer kernels on any backend, with an effective bandwidth for each: the bytes an op
 * must move at least (every input read once, every output written once) divided by its time, and that as a share
 * of the backend's own device-to-device copy bandwidth. Each timed step closes what it creates; the clock stops
 * after {@link Backend#synchronize()}.
 */
public final class OpTimings {
    private static final int FLOAT = 4;

    /**
     * One measurement.
     *
     * @param name  op and direction, e.g. {@code batchnorm.forward+backward}
     * @param shape the input shape
     * @param ms    milliseconds per step (the mean of the fastest round of repetitions, see {@link #time})
     * @param bytes bytes the step moves at least
     */
    public record Timing(String name, Shape shape, double ms, long bytes) {
        /** Effective bandwidth in GB/s (10⁹ bytes per second). */
        public double gbPerSecond() {
            return bytes / (ms * 1e-3) / 1e9;
        }

        /** One table row; {@code copy} is the copy bandwidth's timing (null: no share column). */
        public String row(Timing copy) {
            String share = copy == null ? "" : String.format(Locale.ROOT, "%8.0f%%",
                    100 * gbPerSecond() / copy.gbPerSecond());
            return String.format(Locale.ROOT, "%-28s %-13s %10.3f %9.1f%s", name, shape, ms, gbPerSecond(), share);
        }
    }

    private OpTimings() {
    }

    /** The header of {@link Timing#row} and {@link GemmTiming#row} lines. */
    public static String header() {
        return String.format(Locale.ROOT, "%-28s %-13s %10s %9s %9s", "op", "shape", "ms", "GB/s", "of copy");
    }

    /**
     * Times batchnorm, layernorm and dropout forward and forward+backward on [N,D] (TRAIN), and a copy of [N,D]
     * (first in the list), each {@code reps} times after two warm-up steps.
     */
    public static List<Timing> layers(Backend b, int n, int d, int reps) {
        Shape shape = Shape.of(n, d);
        long elems = (long) n * d * FLOAT;
        long feat = (long) d * FLOAT;
        List<Timing> out = new ArrayList<>();
        float[] xs = gaussian(Math.multiplyExact(n, d), 1);
        float[] ones = new float[d];
        java.util.Arrays.fill(ones, 1f);
        BatchNormParams bn = new BatchNormParams(1e-5f, 0.9f, false);
        try (Tensor x = b.upload(xs, shape); Tensor dOut = b.upload(xs, shape); Tensor copy = b.zeros(shape);
             Tensor gamma = b.upload(ones, Shape.of(d)); Tensor beta = b.zeros(Shape.of(d));
             RunningStats running = RunningStats.initial(b, d)) {
            // copy: read x, write copy
            out.add(time(b, "copy", shape, 2 * elems, reps, () -> b.copy(x, copy)));
            // batchnorm forward: read x, γ, β, running stats; write y, x̂ (+ the [D] statistics)
            out.add(time(b, "batchnorm.forward", shape, 3 * elems + 6 * feat, reps, () -> {
                b.batchNormForward(x, gamma, beta, running.mean(), running.var(), bn, Mode.TRAIN).close();
            }));
            // + backward: read dOut, x̂; write dX (+ dγ, dβ)
            out.add(time(b, "batchnorm.forward+backward", shape, 6 * elems + 9 * feat, reps, () -> {
                try (NormResult f = b.batchNormForward(x, gamma, beta, running.mean(), running.var(), bn,
                        Mode.TRAIN); NormGrads g = b.batchNormBackward(dOut, f.cache(), gamma)) {
                    // closed by try
                }
            }));
            out.add(time(b, "layernorm.forward", shape, 3 * elems + 2 * feat, reps, () -> {
                b.layerNormForward(x, gamma, beta, 1e-5f).close();
            }));
            out.add(time(b, "layernorm.forward+backward", shape, 6 * elems + 5 * feat, reps, () -> {
                try (NormResult f = b.layerNormForward(x, gamma, beta, 1e-5f);
                     NormGrads g = b.layerNormBackward(dOut, f.cache(), gamma)) {
                    // closed by try
                }
            }));
            // dropout (keep 0.5, as PyTorch's Dropout(0.5) in bench/pytorch_bench.py) forward: read x; write out and
            // the mask, unless the OpenCL backend leaves the mask pending (written only if read, see ClDropoutKernels)
            long maskBytes = b instanceof ClBackend c && c.pendingDropoutMasks() ? 0 : elems;
            long[] offset = {0};
            out.add(time(b, "dropout.forward", shape, 2 * elems + maskBytes, reps, () -> {
                b.dropoutForward(x, new DropoutOptions(0.5, 7, offset[0]++), Mode.TRAIN).close();
            }));
            // + backward: read dOut and the mask (a pending one is regenerated instead); write dX
            out.add(time(b, "dropout.forward+backward", shape, 4 * elems + 2 * maskBytes, reps, () -> {
                try (DropoutResult f = b.dropoutForward(x, new DropoutOptions(0.5, 7, offset[0]++), Mode.TRAIN);
                     Tensor dX = b.dropoutBackward(dOut, f.mask())) {
                    // closed by try
                }
            }));
        }
        return out;
    }

    /**
     * Times spatial batchnorm and groupnorm ({@code groups} groups) forward and forward+backward on [N,C,H,W]
     * (TRAIN), each {@code reps} times after two warm-up steps.
     */
    public static List<Timing> spatial(Backend b, Shape shape, int groups, int reps) {
        if (shape.rank() != 4) {
            throw new IllegalArgumentException("spatial timings: shape expected [N,C,H,W], got " + shape);
        }
        int c = shape.dim(1);
        long elems = (long) shape.size() * FLOAT;
        long chan = (long) c * FLOAT;
        long groupStats = (long) shape.dim(0) * groups * FLOAT;
        List<Timing> out = new ArrayList<>();
        float[] xs = gaussian(shape.size(), 2);
        float[] ones = new float[c];
        java.util.Arrays.fill(ones, 1f);
        BatchNormParams bn = new BatchNormParams(1e-5f, 0.9f, false);
        try (Tensor x = b.upload(xs, shape); Tensor dOut = b.upload(xs, shape);
             Tensor gamma = b.upload(ones, Shape.of(c)); Tensor beta = b.zeros(Shape.of(c));
             RunningStats running = RunningStats.initial(b, c)) {
            // the same traffic counts as batchnorm / layernorm, per channel and per (n, group)
            out.add(time(b, "spatial_batchnorm.forward", shape, 3 * elems + 6 * chan, reps, () -> {
                b.spatialBatchNormForward(x, gamma, beta, running.mean(), running.var(), bn, Mode.TRAIN).close();
            }));
            out.add(time(b, "spatial_batchnorm.fwd+bwd", shape, 6 * elems + 9 * chan, reps, () -> {
                try (NormResult f = b.spatialBatchNormForward(x, gamma, beta, running.mean(), running.var(), bn,
                        Mode.TRAIN); NormGrads g = b.spatialBatchNormBackward(dOut, f.cache(), gamma)) {
                    // closed by try
                }
            }));
            String gn = "groupnorm(G=" + groups + ")";
            out.add(time(b, gn + ".forward", shape, 3 * elems + 2 * chan + 2 * groupStats, reps, () -> {
                b.groupNormForward(x, gamma, beta, groups, 1e-5f).close();
            }));
            out.add(time(b, gn + ".fwd+bwd", shape, 6 * elems + 5 * chan + 3 * groupStats, reps, () -> {
                try (NormResult f = b.groupNormForward(x, gamma, beta, groups, 1e-5f);
                     NormGrads g = b.groupNormBackward(dOut, f.cache(), gamma)) {
                    // closed by try
                }
            }));
        }
        return out;
    }

    /**
     * One GEMM timing: C[M,N] = op(A)·op(B) with op(A) [M,K], op(B) [K,N].
     *
     * @param ms      milliseconds per call (the mean of the fastest round, see {@link #time})
     * @param gflops  2·M·N·K / time, in 10⁹ floating-point operations per second
     */
    public record GemmTiming(int m, int k, int n, boolean transA, boolean transB, double ms, double gflops) {
        /** One table row. */
        public String row() {
            String op = (transA ? "Aᵀ" : "A") + "·" + (transB ? "Bᵀ" : "B");
            return String.format(Locale.ROOT, "%-28s %-13s %10.4f %9.1f GFLOP/s", "gemm " + op,
                    m + "x" + k + "x" + n, ms, gflops);
        }
    }

    /**
     * Times GEMM at each {@code {M, K, N}} with each of the transposes a fully connected layer uses: forward
     * X·W, weight gradient Xᵀ·dOut, input gradient dOut·Wᵀ (the shapes given are the forward's).
     */
    public static List<GemmTiming> gemm(Backend b, List<int[]> shapes, int reps) {
        List<GemmTiming> out = new ArrayList<>();
        for (int[] mkn : shapes) {
            int m = mkn[0];
            int k = mkn[1];
            int n = mkn[2];
            // forward C[M,N] = A[M,K]·B[K,N]; weight gradient [K,N] = A[M,K]ᵀ·G[M,N]; input gradient
            // [M,K] = G[M,N]·B[K,N]ᵀ
            out.add(gemmOne(b, m, k, n, false, false, Shape.of(m, k), Shape.of(k, n), reps));
            out.add(gemmOne(b, k, m, n, true, false, Shape.of(m, k), Shape.of(m, n), reps));
            out.add(gemmOne(b, m, n, k, false, true, Shape.of(m, n), Shape.of(k, n), reps));
        }
        return out;
    }

    private static GemmTiming gemmOne(Backend b, int m, int k, int n, boolean transA, boolean transB, Shape aShape,
                                      Shape bShape, int reps) {
        try (Tensor a = b.upload(gaussian(aShape.size(), 3), aShape);
             Tensor bm = b.upload(gaussian(bShape.size(), 4), bShape);
             Tensor c = b.zeros(Shape.of(m, n))) {
            Timing t = time(b, "gemm", Shape.of(m, n), 0, reps, () -> b.gemm(a, transA, bm, transB, c, 1f, 0f));
            return new GemmTiming(m, k, n, transA, transB, t.ms(), 2.0 * m * n * k / (t.ms() * 1e-3) / 1e9);
        }
    }

    // ---------------------------------------------------------------- convolution and pooling

    /**
     * A convolution to time: x [N,C,H,W], F filters of K×K, stride S, padding P on both axes, written
     * {@code NxCxHxWfFkKsSpP} (e.g. {@code 128x32x14x14f64k3s1p1}, the Fashion-MNIST CNN's second layer).
     */
    public record ConvShape(int n, int c, int h, int w, int f, int k, int stride, int pad) {
        private static final java.util.regex.Pattern FORM =
                java.util.regex.Pattern.compile("(\\d+)x(\\d+)x(\\d+)x(\\d+)f(\\d+)k(\\d+)s(\\d+)p(\\d+)");

        /** Parses {@code NxCxHxWfFkKsSpP}. */
        public static ConvShape parse(String text) {
            java.util.regex.Matcher m = FORM.matcher(text.trim());
            if (!m.matches()) {
                throw new IllegalArgumentException("conv shape expected NxCxHxWfFkKsSpP such as "
                        + "128x32x14x14f64k3s1p1, got " + text);
            }
            int[] v = new int[8];
            for (int i = 0; i < 8; i++) {
                v[i] = Integer.parseInt(m.group(i + 1));
            }
            return new ConvShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        }

        Shape x() {
            return Shape.of(n, c, h, w);
        }

        Shape weights() {
            return Shape.of(f, c, k, k);
        }

        Conv2dParams params() {
            return Conv2dParams.of(stride, pad);
        }

        /** Output positions per sample, H'·W'. */
        long positions() {
            return params().outputHeight(h, k) * params().outputWidth(w, k);
        }

        /** Multiply-adds × 2 of the forward: 2·N·F·H'·W'·C·K·K (each of dW and dX costs the same). */
        long flops() {
            return 2L * n * f * positions() * c * k * k;
        }

        @Override
        public String toString() {
            return n + "x" + c + "x" + h + "x" + w + "f" + f + "k" + k + "s" + stride + "p" + pad;
        }
    }

    /** The Fashion-MNIST CNN's convolutions at batch 128: 1→32 at 28×28 and 32→64 at 14×14, 3×3, padding 1. */
    public static final List<ConvShape> CNN_CONVS = List.of(ConvShape.parse("128x1x28x28f32k3s1p1"),
            ConvShape.parse("128x32x14x14f64k3s1p1"));
    /** The Fashion-MNIST CNN's 2×2 max pools at batch 128 (after each convolution). */
    public static final List<Shape> CNN_POOLS = List.of(Shape.of(128, 32, 28, 28), Shape.of(128, 64, 14, 14));

    /**
     * One timing counted in floating-point operations.
     *
     * @param ms     milliseconds per call (the mean of the fastest round, see {@link #time})
     * @param gflops operations / time, in 10⁹ per second
     */
    public record FlopTiming(String name, String shape, double ms, double gflops) {
        /** One table row. */
        public String row() {
            return String.format(Locale.ROOT, "%-28s %-22s %10.3f %9.1f GFLOP/s", name, shape, ms, gflops);
        }
    }

    /**
     * Times conv2d (with a bias) forward and forward+backward (dX, dW, dB) at each shape, and, for scale, the
     * backend's GEMM of the forward's product alone: W [F, C·K·K] times the columns [C·K·K, N·H'·W'], the same
     * multiply-adds.
     */
    public static List<FlopTiming> conv(Backend b, List<ConvShape> shapes, int reps) {
        List<FlopTiming> out = new ArrayList<>();
        for (ConvShape s : shapes) {
            Conv2dParams p = s.params();
            Shape outShape = Shape.of(s.n(), s.f(), (int) p.outputHeight(s.h(), s.k()),
                    (int) p.outputWidth(s.w(), s.k()));
            try (Tensor x = b.upload(gaussian(s.x().size(), 5), s.x());
                 Tensor w = b.upload(gaussian(s.weights().size(), 6), s.weights());
                 Tensor bias = b.upload(gaussian(s.f(), 7), Shape.of(s.f()));
                 Tensor dOut = b.upload(gaussian(outShape.size(), 8), outShape)) {
                Timing f = time(b, "conv2d.forward", s.x(), 0, reps, () -> b.conv2dForward(x, w, bias, p).close());
                out.add(new FlopTiming("conv2d.forward", s.toString(), f.ms(), s.flops() / (f.ms() * 1e6)));
                Timing fb = time(b, "conv2d.forward+backward", s.x(), 0, reps, () -> {
                    try (Conv2dResult r = b.conv2dForward(x, w, bias, p);
                         Conv2dGrads g = b.conv2dBackward(dOut, r.cache(), w)) {
                        // closed by try
                    }
                });
                out.add(new FlopTiming("conv2d.forward+backward", s.toString(), fb.ms(),
                        3 * s.flops() / (fb.ms() * 1e6)));
            }
            int kk = s.c() * s.k() * s.k();
            long cols = (long) s.n() * s.positions();
            if (cols <= Integer.MAX_VALUE && (long) kk * cols <= Integer.MAX_VALUE - 8) {
                GemmTiming g = gemmOne(b, s.f(), kk, (int) cols, false, false, Shape.of(s.f(), kk),
                        Shape.of(kk, (int) cols), reps);
                out.add(new FlopTiming("gemm W·cols (same FLOPs)", s.f() + "x" + kk + "x" + cols, g.ms(),
                        g.gflops()));
            }
        }
        return out;
    }

    /**
     * Times maxpool2d forward and forward+backward at {@code x} with a {@code kernel}×{@code kernel} window moved by
     * {@code stride}; GB/s counts x read, out and argmax written (forward), dOut and argmax read and dX written
     * (backward).
     */
    public static List<Timing> maxPool(Backend b, Shape x, int kernel, int stride, int reps) {
        Pool2dParams p = Pool2dParams.of(kernel, stride);
        Shape outShape = Shape.of(x.dim(0), x.dim(1), (int) p.outputHeight(x.dim(2)), (int) p.outputWidth(x.dim(3)));
        long in = (long) x.size() * FLOAT;
        long outBytes = (long) outShape.size() * FLOAT;
        List<Timing> out = new ArrayList<>();
        try (Tensor xt = b.upload(gaussian(x.size(), 9), x); Tensor dOut = b.upload(gaussian(outShape.size(), 10),
                outShape)) {
            String name = "maxpool2d(K=" + kernel + ",stride=" + stride + ")"; // as bench/pytorch_bench.py names it
            out.add(time(b, name + ".forward", x, in + 2 * outBytes, reps, () -> b.maxPool2dForward(xt, p).close()));
            out.add(time(b, name + ".fwd+bwd", x, 2 * in + 4 * outBytes, reps, () -> {
                try (MaxPool2dResult r = b.maxPool2dForward(xt, p); Tensor dX = b.maxPool2dBackward(dOut, r.cache())) {
                    // closed by try
                }
            }));
        }
        return out;
    }

    private static float[] gaussian(int size, long seed) {
        Random r = new Random(seed);
        float[] v = new float[size];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    /** Rounds of {@code reps} repetitions each timing takes; it reports the fastest round. */
    static final int ROUNDS = 3;

    /**
     * Milliseconds per call of {@code step}: after two warm-up steps, {@value #ROUNDS} rounds of {@code reps} calls
     * queued back to back, each ended by {@link Backend#synchronize()}; the mean of the fastest round. (A single
     * round of 100 calls of 0.2 ms on an H100 now and then caught a host pause — GC, JIT — and read 2× slow.)
     */
    public static Timing time(Backend b, String name, Shape shape, long bytes, int reps, Runnable step) {
        for (int i = 0; i < 2; i++) {
            step.run();
        }
        b.synchronize();
        double ms = Double.MAX_VALUE;
        for (int round = 0; round < ROUNDS; round++) {
            long start = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                step.run();
            }
            b.synchronize();
            ms = Math.min(ms, (System.nanoTime() - start) / 1e6 / reps);
        }
        return new Timing(name, shape, ms, bytes);
    }
}
