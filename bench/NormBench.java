import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Times the TRAIN forward and forward+backward of the four normalizations on any backend through the public api
 * only (so that bench/ab.sh can run it on older builds too): median of {@code repeats} timed calls after warm-up,
 * every result closed inside the step, the clock stopped after {@code synchronize()}. Prints CSV
 * {@code backend,op,shape,forward_ms,forward_backward_ms}.
 * Usage: {@code java -cp CP bench/NormBench.java BACKEND [repeats] [regex of ops]}.
 */
public final class NormBench {
    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "cpu";
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        java.util.regex.Pattern only = java.util.regex.Pattern.compile(args.length > 2 ? args[2] : ".*");
        System.out.println("backend,op,shape,forward_ms,forward_backward_ms");
        try (Backend b = Backends.get(name)) {
            for (int[] s : new int[][] {{128, 256}, {4096, 1024}, {65536, 256}}) {
                if (only.matcher("batchnorm").find()) {
                    run(b, "batchnorm", Shape.of(s), repeats);
                }
                if (only.matcher("layernorm").find()) {
                    run(b, "layernorm", Shape.of(s), repeats);
                }
            }
            for (int[] s : new int[][] {{64, 64, 32, 32}, {256, 16, 32, 32}}) {
                if (only.matcher("spatial_batchnorm").find()) {
                    run(b, "spatial_batchnorm", Shape.of(s), repeats);
                }
                if (only.matcher("groupnorm").find()) {
                    run(b, "groupnorm", Shape.of(s), repeats);
                }
            }
        }
    }

    private static void run(Backend b, String op, Shape s, int repeats) {
        Random r = new Random(7);
        float[] xs = new float[s.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        int c = s.dim(1);
        try (Tensor x = b.upload(xs, s); Tensor dOut = b.upload(xs, s); Tensor g = b.upload(new float[c], Shape.of(c));
             Tensor be = b.zeros(Shape.of(c)); Tensor rm = b.zeros(Shape.of(c)); Tensor rv = b.zeros(Shape.of(c))) {
            b.fill(g, 1f);
            double f = median(b, () -> fwd(b, op, x, g, be, rm, rv).close(), repeats);
            double fb = median(b, () -> {
                try (NormResult res = fwd(b, op, x, g, be, rm, rv); NormGrads gr = bwd(b, op, dOut, res, g)) {
                    // closed
                }
            }, repeats);
            System.out.printf(Locale.ROOT, "%s,%s,%s,%.4f,%.4f%n", b.name(), op, s.toString().replace(',', 'x'), f,
                    fb);
        }
    }

    private static NormResult fwd(Backend b, String op, Tensor x, Tensor g, Tensor be, Tensor rm, Tensor rv) {
        BatchNormParams p = new BatchNormParams(1e-5f, 0.9f, false);
        return switch (op) {
            case "batchnorm" -> b.batchNormForward(x, g, be, rm, rv, p, Mode.TRAIN);
            case "spatial_batchnorm" -> b.spatialBatchNormForward(x, g, be, rm, rv, p, Mode.TRAIN);
            case "layernorm" -> b.layerNormForward(x, g, be, 1e-5f);
            default -> b.groupNormForward(x, g, be, 8, 1e-5f);
        };
    }

    private static NormGrads bwd(Backend b, String op, Tensor dOut, NormResult r, Tensor g) {
        return switch (op) {
            case "batchnorm" -> b.batchNormBackward(dOut, r.cache(), g);
            case "spatial_batchnorm" -> b.spatialBatchNormBackward(dOut, r.cache(), g);
            case "layernorm" -> b.layerNormBackward(dOut, r.cache(), g);
            default -> b.groupNormBackward(dOut, r.cache(), g);
        };
    }

    /** Median ms of {@code repeats} timed steps after warm-up (at least 5 steps and half a second). */
    private static double median(Backend b, Runnable step, int repeats) {
        long until = System.nanoTime() + 500_000_000L;
        for (int i = 0; i < 5 || System.nanoTime() < until; i++) {
            step.run();
            b.synchronize(); // an asynchronous backend would otherwise queue thousands of calls here
        }
        double[] t = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            step.run();
            b.synchronize();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return t[repeats / 2];
    }
}
