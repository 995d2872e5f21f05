package org.layerkit.opencl.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

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
     * @param ms    milliseconds per step (mean over the timed repetitions)
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

    /** The header of {@link Timing#row} lines. */
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
        Random r = new Random(1);
        float[] xs = new float[n * d];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
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
            // dropout forward: read x; write out, mask
            long[] offset = {0};
            out.add(time(b, "dropout.forward", shape, 3 * elems, reps, () -> {
                b.dropoutForward(x, new DropoutOptions(0.8, 7, offset[0]++), Mode.TRAIN).close();
            }));
            // + backward: read dOut, mask; write dX
            out.add(time(b, "dropout.forward+backward", shape, 6 * elems, reps, () -> {
                try (DropoutResult f = b.dropoutForward(x, new DropoutOptions(0.8, 7, offset[0]++), Mode.TRAIN);
                     Tensor dX = b.dropoutBackward(dOut, f.mask())) {
                    // closed by try
                }
            }));
        }
        return out;
    }

    /**
     * GFLOP/s of C = A·B (β = 0) for A [M,K], B [K,N], {@code reps} times after two warm-up calls (the first call
     * also builds the GEMM's kernels); at least one repetition.
     */
    public static double gemmGflops(Backend b, int m, int k, int n, int reps) {
        Random r = new Random(1);
        float[] a = new float[m * k];
        float[] bs = new float[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextFloat();
        }
        for (int i = 0; i < bs.length; i++) {
            bs[i] = r.nextFloat();
        }
        try (Tensor at = b.upload(a, Shape.of(m, k)); Tensor bt = b.upload(bs, Shape.of(k, n));
             Tensor c = b.zeros(Shape.of(m, n))) {
            Timing t = time(b, "gemm", Shape.of(m, n), 0, Math.max(1, reps),
                    () -> b.gemm(at, false, bt, false, c, 1f, 0f));
            return 2.0 * m * n * k / (t.ms() * 1e-3) / 1e9;
        }
    }

    /** Mean milliseconds of {@code step} over {@code reps} repetitions after two warm-up steps. */
    public static Timing time(Backend b, String name, Shape shape, long bytes, int reps, Runnable step) {
        for (int i = 0; i < 2; i++) {
            step.run();
        }
        b.synchronize();
        long start = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            step.run();
        }
        b.synchronize();
        double ms = (System.nanoTime() - start) / 1e6 / reps;
        return new Timing(name, shape, ms, bytes);
    }
}
