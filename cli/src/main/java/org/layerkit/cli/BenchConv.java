package org.layerkit.cli;

import java.util.Locale;
import java.util.Random;
import org.layerkit.api.Backend;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Op;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The convolution and max-pool measurements of {@code layerkit bench}: conv2d forward and forward + backward (dX, dW,
 * dB) in GFLOP/s next to the backend's own GEMMs of the same shapes and FLOPs, and max pool in GB/s like the other
 * memory-bound ops. Shapes come as specs: {@code NxCxHxW:F:K:PAD} for a stride-1 convolution,
 * {@code NxCxHxW:K:STRIDE} for a pool.
 */
final class BenchConv {
    /** A small Fashion-MNIST CNN at batch 128: 1→32 at 28×28 and 32→64 at 14×14, 3×3 pad 1. */
    static final String DEFAULT_CONV = "128x1x28x28:32:3:1,128x32x14x14:64:3:1";
    /** Its 2×2 pools. */
    static final String DEFAULT_POOL = "128x32x28x28:2:2,128x64x14x14:2:2";

    private BenchConv() {
    }

    /** Times one step the way the command does (median after warm-up, synchronized). */
    @FunctionalInterface
    interface Timer {
        double time(Backend b, BenchCommand.Step step);
    }

    /** A stride-1 convolution: x [N,C,H,W], F filters of K×K, zero padding. */
    record ConvSpec(Shape x, int f, int k, int pad) {
        Shape out() {
            return Shape.of(x.dim(0), f, x.dim(2) + 2 * pad - k + 1, x.dim(3) + 2 * pad - k + 1);
        }

        /** 2·N·F·C·K²·H'·W': the forward's multiply-adds, twice. */
        long flops() {
            Shape o = out();
            return 2L * o.dim(0) * f * x.dim(1) * k * k * o.dim(2) * o.dim(3);
        }

        String label() {
            return "conv2d(F=" + f + ",K=" + k + ",pad=" + pad + ")";
        }
    }

    /** A max pool: x [N,C,H,W], K×K windows moved by the stride. */
    record PoolSpec(Shape x, int k, int stride) {
        Shape out() {
            return Shape.of(x.dim(0), x.dim(1), (x.dim(2) - k) / stride + 1, (x.dim(3) - k) / stride + 1);
        }

        String label() {
            return "maxpool2d(K=" + k + ",S=" + stride + ")";
        }
    }

    /** {@code 128x1x28x28:32:3:1} into a {@link ConvSpec}; the message says what was wrong. */
    static ConvSpec parseConv(String s) {
        int[] v = parse(s, 3, "--conv", "NxCxHxW:F:K:PAD such as 128x32x14x14:64:3:1");
        Shape x = Shape.of(v[0], v[1], v[2], v[3]);
        if (v[4] < 1 || v[5] < 1 || v[6] < 0 || v[5] > v[2] + 2 * v[6] || v[5] > v[3] + 2 * v[6]) {
            throw new IllegalArgumentException("--conv " + s + ": expected F >= 1, K >= 1, PAD >= 0 and a kernel no "
                    + "larger than the padded input");
        }
        return new ConvSpec(x, v[4], v[5], v[6]);
    }

    /** {@code 128x32x28x28:2:2} into a {@link PoolSpec}. */
    static PoolSpec parsePool(String s) {
        int[] v = parse(s, 2, "--pool", "NxCxHxW:K:STRIDE such as 128x32x28x28:2:2");
        Shape x = Shape.of(v[0], v[1], v[2], v[3]);
        if (v[4] < 1 || v[5] < 1 || v[4] > v[2] || v[4] > v[3]) {
            throw new IllegalArgumentException("--pool " + s + ": expected K >= 1, STRIDE >= 1 and a window inside "
                    + "the input");
        }
        return new PoolSpec(x, v[4], v[5]);
    }

    private static int[] parse(String s, int fields, String option, String expected) {
        String[] pieces = s.trim().split(":");
        String[] dims = pieces[0].toLowerCase(Locale.ROOT).split("[x*]");
        if (dims.length != 4 || pieces.length != 1 + fields) {
            throw new IllegalArgumentException(option + ": expected " + expected + ", got '" + s + "'");
        }
        int[] v = new int[4 + fields];
        try {
            for (int i = 0; i < 4; i++) {
                v[i] = Integer.parseInt(dims[i].trim());
            }
            for (int i = 0; i < fields; i++) {
                v[4 + i] = Integer.parseInt(pieces[1 + i].trim());
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": expected " + expected + ", got '" + s + "'");
        }
        return v;
    }

    /**
     * Forward and forward + backward of one convolution, and the three GEMMs it performs, each one call over the
     * whole batch (out = W·cols, dW = dOut·colsᵀ, dcols = Wᵀ·dOut; K = C·KH·KW rows of cols, N·H'·W' columns): the same
     * FLOPs with nothing else around them.
     */
    static BenchCommand.Result conv(Backend b, ConvSpec s, Timer timer) {
        String device = b.device().name();
        if (!b.supports(Op.CONV2D) || !b.supports(Op.GEMM)) {
            return BenchCommand.Result.unsupported(b.name(), device, s.label(), s.x());
        }
        Random rnd = new Random(42);
        Conv2dParams p = Conv2dParams.of(1, s.pad());
        Shape ws = Shape.of(s.f(), s.x().dim(1), s.k(), s.k());
        double fwdMs;
        double fwdBwdMs;
        try (Tensor x = b.upload(randn(rnd, s.x().size()), s.x());
             Tensor w = b.upload(randn(rnd, ws.size()), ws);
             Tensor bias = b.upload(randn(rnd, s.f()), Shape.of(s.f()));
             Tensor dOut = b.upload(randn(rnd, s.out().size()), s.out())) {
            b.synchronize();
            fwdMs = timer.time(b, () -> b.conv2dForward(x, w, bias, p)::close);
            fwdBwdMs = timer.time(b, () -> {
                Conv2dResult r = b.conv2dForward(x, w, bias, p);
                return BenchCommand.then(r::close, () -> b.conv2dBackward(dOut, r.cache(), w));
            });
        }
        int k = s.x().dim(1) * s.k() * s.k();
        int cols = s.out().dim(0) * s.out().dim(2) * s.out().dim(3);
        double gemmMs;
        try (Tensor wm = b.upload(randn(rnd, s.f() * k), Shape.of(s.f(), k));
             Tensor colm = b.upload(randn(rnd, k * cols), Shape.of(k, cols));
             Tensor dOutT = b.upload(randn(rnd, s.f() * cols), Shape.of(s.f(), cols));
             Tensor out = b.zeros(Shape.of(s.f(), cols));
             Tensor dW = b.zeros(Shape.of(s.f(), k));
             Tensor dCols = b.zeros(Shape.of(k, cols))) {
            gemmMs = timer.time(b, () -> {
                b.gemm(wm, false, colm, false, out, 1f, 0f);
                b.gemm(dOutT, false, colm, true, dW, 1f, 0f);
                b.gemm(wm, true, dOutT, false, dCols, 1f, 0f);
                return () -> { };
            });
        }
        long flops = s.flops();
        return new BenchCommand.Result(b.name(), device, s.label(), s.x(), fwdMs, fwdBwdMs, 0, 0, null, flops,
                3 * flops, gemmMs);
    }

    /**
     * Forward and forward + backward of one max pool. Minimum traffic: forward reads x (n) and writes out and argmax
     * (m each, m = N·C·H'·W'): n + 2m floats; backward reads dOut and argmax and writes dX: 2m + n.
     */
    static BenchCommand.Result pool(Backend b, PoolSpec s, Timer timer) {
        String device = b.device().name();
        if (!b.supports(Op.MAXPOOL2D)) {
            return BenchCommand.Result.unsupported(b.name(), device, s.label(), s.x());
        }
        Random rnd = new Random(43);
        Pool2dParams p = Pool2dParams.of(s.k(), s.stride());
        long n = s.x().size();
        long m = s.out().size();
        try (Tensor x = b.upload(randn(rnd, s.x().size()), s.x());
             Tensor dOut = b.upload(randn(rnd, s.out().size()), s.out())) {
            b.synchronize();
            double fwdMs = timer.time(b, () -> b.maxPool2dForward(x, p)::close);
            double fwdBwdMs = timer.time(b, () -> {
                MaxPool2dResult r = b.maxPool2dForward(x, p);
                return BenchCommand.then(r::close, () -> b.maxPool2dBackward(dOut, r.cache()));
            });
            return new BenchCommand.Result(b.name(), device, s.label(), s.x(), fwdMs, fwdBwdMs, 4 * (n + 2 * m),
                    4 * (2 * n + 4 * m), null);
        }
    }

    private static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
