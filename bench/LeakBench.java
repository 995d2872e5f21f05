import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Issue 19's probe of forgotten close(): batchnorm forward + backward on [128,256], {@code steps} times, with the
 * results closed (try-with-resources) or dropped, on one backend. Prints one CSV row: the process's resident memory
 * (VmRSS) before the loop, after it, after System.gc() (repeated until the live count stops falling, at most 20
 * times 50 ms), and after backend.close(); the backend's live tensor count at the same points (its own counter, where
 * the backend has one, else -1); milliseconds per step; and the leak detector's reclaimed count.
 *
 * <p>Run by bench/leak.sh, one JVM per row: {@code java -cp CP bench/LeakBench.java cpu|opencl close|leak [steps]}.
 * Written against the public api only (the live counts by reflection), so that it also runs on older layerkit
 * builds for a before/after comparison.
 */
public final class LeakBench {
    public static void main(String[] args) throws Exception {
        String name = args[0];
        boolean close = args[1].equals("close");
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
        Shape s = Shape.of(128, 256);
        Random r = new Random(19);
        float[] xs = new float[s.size()];
        float[] ds = new float[s.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
            ds[i] = (float) r.nextGaussian();
        }
        Backend b = Backends.get(name);
        Tensor x = b.upload(xs, s);
        Tensor dOut = b.upload(ds, s);
        Tensor gamma = b.upload(new float[256], Shape.of(256));
        b.fill(gamma, 1f);
        Tensor beta = b.zeros(Shape.of(256));
        Tensor rm = b.zeros(Shape.of(256));
        Tensor rv = b.zeros(Shape.of(256));
        BatchNormParams p = new BatchNormParams(1e-5f, 0.9f, false);
        // warm-up: kernels built, JIT compiled, pools filled (closed, so nothing leaks here)
        for (int i = 0; i < 200; i++) {
            try (NormResult f = b.batchNormForward(x, gamma, beta, rm, rv, p, Mode.TRAIN);
                 NormGrads g = b.batchNormBackward(dOut, f.cache(), gamma)) {
                b.synchronize();
            }
        }
        System.gc();
        long rss0 = rssKb();
        long live0 = live(b);
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            if (close) {
                try (NormResult f = b.batchNormForward(x, gamma, beta, rm, rv, p, Mode.TRAIN);
                     NormGrads g = b.batchNormBackward(dOut, f.cache(), gamma)) {
                    if (i % 100 == 99) {
                        b.synchronize();
                    }
                }
            } else {
                dropped(b, x, gamma, beta, rm, rv, dOut, p);
                if (i % 100 == 99) {
                    b.synchronize();
                }
            }
        }
        b.synchronize();
        double msPerStep = (System.nanoTime() - t0) / 1e6 / steps;
        long rss1 = rssKb();
        long live1 = live(b);
        long liveGc = live1;
        for (int i = 0; i < 20; i++) {
            System.gc();
            Thread.sleep(50);
            long now = live(b);
            if (now == liveGc && i > 0) {
                break;
            }
            liveGc = now;
        }
        long rss2 = rssKb();
        b.close();
        System.gc();
        Thread.sleep(200);
        long rss3 = rssKb();
        long live3 = live(b);
        System.out.printf(Locale.ROOT, "%s,%s,%d,%.1f,%.1f,%.1f,%.1f,%d,%d,%d,%d,%.3f,%s%n", name,
                close ? "closed" : "dropped", steps, rss0 / 1024.0, rss1 / 1024.0, rss2 / 1024.0, rss3 / 1024.0,
                live0, live1, liveGc, live3, msPerStep, reclaimed());
    }

    /** One forward + backward whose 7 result tensors nobody closes. */
    private static void dropped(Backend b, Tensor x, Tensor gamma, Tensor beta, Tensor rm, Tensor rv, Tensor dOut,
                                BatchNormParams p) {
        NormResult f = b.batchNormForward(x, gamma, beta, rm, rv, p, Mode.TRAIN);
        b.batchNormBackward(dOut, f.cache(), gamma);
    }

    static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** The backend's live tensor count: liveTensors() of the backend or of its context, else liveBuffers(); -1. */
    static long live(Backend b) {
        for (String m : new String[] {"liveTensors", "liveBuffers"}) {
            Long v = call(b, m);
            if (v != null) {
                return v;
            }
            Object ctx = callObject(b, "context");
            if (ctx != null) {
                v = call(ctx, m);
                if (v != null) {
                    return v;
                }
            }
        }
        return -1;
    }

    private static Long call(Object o, String method) {
        Object v = callObject(o, method);
        return v instanceof Number n ? n.longValue() : null;
    }

    private static Object callObject(Object o, String method) {
        try {
            Method m = o.getClass().getMethod(method);
            return m.invoke(o);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    private static String reclaimed() {
        try {
            Class<?> c = Class.forName("org.layerkit.api.LeakDetector");
            return String.valueOf(c.getMethod("reclaimedCount").invoke(null));
        } catch (ReflectiveOperationException e) {
            return "n/a";
        }
    }
}
