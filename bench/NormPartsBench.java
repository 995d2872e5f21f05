import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Backends;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Batchnorm in parts against the fused op, at NormBench's shapes, in one run: the TRAIN forward as the parts compose
 * it on one replica (local statistics → merge of the one part → invstd → normalize with the given statistics) and the
 * backward (backward reduce → backward element-wise with the part's own sums and count, then dγ and dβ uploaded as
 * tensors, the outputs the fused backward returns); the fused batchnorm forward (TRAIN, which also updates the
 * running statistics) and backward on the same tensors. Each timed round runs fused and parts back to back,
 * alternating which goes first, so that both see the same machine load; the clock stops after
 * {@code synchronize()}, every result is closed inside the step. Prints CSV
 * {@code backend,op,shape,fused_fwd_ms,parts_fwd_ms,fwd_ratio,fused_fb_ms,parts_fb_ms,fb_ratio} (medians of the
 * rounds; ratio = parts / fused, of the medians). Public api only.
 * Usage: {@code java -cp CP bench/NormPartsBench.java BACKEND [rounds] [regex of ops]} (bench/norm_parts.sh).
 */
public final class NormPartsBench {
    private static final BatchNormParams P = new BatchNormParams(1e-5f, 0.9f, false);

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "cpu";
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        java.util.regex.Pattern only = java.util.regex.Pattern.compile(args.length > 2 ? args[2] : ".*");
        System.out.println("backend,op,shape,fused_fwd_ms,parts_fwd_ms,fwd_ratio,fused_fb_ms,parts_fb_ms,fb_ratio");
        try (Backend b = Backends.get(name)) {
            if (only.matcher("batchnorm").find()) {
                for (int[] s : new int[][] {{128, 256}, {4096, 1024}, {65536, 256}}) {
                    run(b, false, Shape.of(s), rounds);
                }
            }
            if (only.matcher("spatial_batchnorm").find()) {
                for (int[] s : new int[][] {{64, 64, 32, 32}, {256, 16, 32, 32}}) {
                    run(b, true, Shape.of(s), rounds);
                }
            }
        }
    }

    private static void run(Backend b, boolean spatial, Shape s, int rounds) {
        Random r = new Random(7);
        float[] xs = new float[s.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        int c = s.dim(1);
        try (Tensor x = b.upload(xs, s); Tensor dOut = b.upload(xs, s); Tensor g = b.zeros(Shape.of(c));
             Tensor be = b.zeros(Shape.of(c)); Tensor rm = b.zeros(Shape.of(c)); Tensor rv = b.zeros(Shape.of(c))) {
            b.fill(g, 1f);
            Runnable fusedF = () -> fusedFwd(b, spatial, x, g, be, rm, rv).close();
            Runnable partsF = () -> partsFwd(b, spatial, x, g, be).close();
            Runnable fusedFb = () -> {
                try (NormResult res = fusedFwd(b, spatial, x, g, be, rm, rv);
                     NormGrads gr = spatial ? b.spatialBatchNormBackward(dOut, res.cache(), g)
                             : b.batchNormBackward(dOut, res.cache(), g)) {
                    // closed
                }
            };
            Runnable partsFb = () -> {
                try (NormResult res = partsFwd(b, spatial, x, g, be); NormGrads gr = partsBwd(b, spatial, dOut,
                        res, g)) {
                    // closed
                }
            };
            double[][] t = timeAlternating(b, rounds, fusedF, partsF, fusedFb, partsFb);
            double ff = median(t[0]);
            double pf = median(t[1]);
            double ffb = median(t[2]);
            double pfb = median(t[3]);
            System.out.printf(Locale.ROOT, "%s,%s,%s,%.4f,%.4f,%.3f,%.4f,%.4f,%.3f%n", b.name(),
                    spatial ? "spatial_batchnorm" : "batchnorm", s.toString().replace(',', 'x'), ff, pf, pf / ff, ffb,
                    pfb, pfb / ffb);
        }
    }

    private static NormResult fusedFwd(Backend b, boolean spatial, Tensor x, Tensor g, Tensor be, Tensor rm,
                                       Tensor rv) {
        return spatial ? b.spatialBatchNormForward(x, g, be, rm, rv, P, Mode.TRAIN)
                : b.batchNormForward(x, g, be, rm, rv, P, Mode.TRAIN);
    }

    /** Local statistics, the merge of the one part (as a replica merges all), invstd, normalize. */
    private static NormResult partsFwd(Backend b, boolean spatial, Tensor x, Tensor g, Tensor be) {
        BatchNormStats local = spatial ? b.spatialBatchNormLocalStats(x) : b.batchNormLocalStats(x);
        BatchNormStats global = BatchNormStats.mergeInOrder(List.of(local));
        double[] invstd = global.invstd(P.eps());
        return spatial ? b.spatialBatchNormNormalize(x, g, be, global.mean(), invstd)
                : b.batchNormNormalize(x, g, be, global.mean(), invstd);
    }

    /** Backward reduce, backward element-wise with those sums and the part's count; dγ and dβ as tensors. */
    private static NormGrads partsBwd(Backend b, boolean spatial, Tensor dOut, NormResult res, Tensor g) {
        Shape s = dOut.shape();
        long count = spatial ? (long) s.dim(0) * s.dim(2) * s.dim(3) : s.dim(0);
        BatchNormGradSums sums = spatial ? b.spatialBatchNormBackwardReduce(dOut, res.cache())
                : b.batchNormBackwardReduce(dOut, res.cache());
        Tensor dX = spatial ? b.spatialBatchNormBackwardElementwise(dOut, res.cache(), g, sums, count)
                : b.batchNormBackwardElementwise(dOut, res.cache(), g, sums, count);
        return new NormGrads(dX, upload(b, sums.sumDyXhat()), upload(b, sums.sumDy()));
    }

    private static Tensor upload(Backend b, double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return b.upload(f, Shape.of(v.length));
    }

    /**
     * Warm-up (every step at least 5 times and half a second in all), then {@code rounds} rounds that each time every
     * step once, in forward order on even rounds and reversed on odd ones; ms per step and round.
     */
    private static double[][] timeAlternating(Backend b, int rounds, Runnable... steps) {
        long until = System.nanoTime() + 500_000_000L;
        for (int i = 0; i < 5 || System.nanoTime() < until; i++) {
            for (Runnable step : steps) {
                step.run();
                b.synchronize();
            }
        }
        double[][] t = new double[steps.length][rounds];
        for (int k = 0; k < rounds; k++) {
            for (int j = 0; j < steps.length; j++) {
                int i = k % 2 == 0 ? j : steps.length - 1 - j;
                long t0 = System.nanoTime();
                steps[i].run();
                b.synchronize();
                t[i][k] = (System.nanoTime() - t0) / 1e6;
            }
        }
        return t;
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
