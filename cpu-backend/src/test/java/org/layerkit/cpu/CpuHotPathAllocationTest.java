package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Once warm, a kernel call allocates no arrays on the calling thread: outputs come from the pool (closed results go
 * back to it) and row buffers, per-chunk partials, coefficients and conv2d's unfolded columns from {@link CpuScratch}.
 * What remains are a few small objects per call (tensors, records, lambdas, the fork/join tasks of the parallel
 * chunks), so the bound here, 16 KiB, is far below the smallest array the kernels could allocate per call on these
 * shapes (a 4 KiB row buffer on every chunk, a 1 MiB output). The ops: every normalization and dropout
 * ({@link #measureNormsAndDropout}); conv2d, max and global average pooling and spatial dropout
 * ({@link #measureConvAndPool}). Allocation is counted by the JVM, never timed, and the measurement is made the same
 * on every machine, whatever its speed, load or core count. It runs in a child JVM that
 * <ul>
 *   <li>pins the common fork/join pool at {@value #CHILD_WORKERS} workers: the fork/join tasks grow with the number
 *       of chunks, which follows the core count (batchnorm forward + backward allocated 2.5 KiB on the calling
 *       thread with 2 threads, 13.5 KiB with the pool at 63 workers), while the claim checked here — no arrays —
 *       does not depend on it;
 *   <li>runs with {@code -Xbatch}: the Vector API path allocates its vectors as objects until C2 has compiled the
 *       kernels (25 MB per call with C1 only), and C2 compiles in the background, so a fixed warm-up count would
 *       race the compiler on a slow or loaded machine. With {@code -Xbatch} a method reaching a compilation
 *       threshold is compiled before that call goes on, so the compiled state after N calls is the same anywhere.
 *       The Vector API kernels run once per row or slab, many times a call, and reach C2's invocation threshold
 *       (5,000) within the first few hundred calls; code that runs once a call reaches it by call 5,000. The Vector
 *       API path warms until a call stays under the bound and gives up after {@link #VECTOR_CALL_CAP} calls, past
 *       every threshold, so a regression fails (after seconds).
 * </ul>
 * The loops path allocates the same with or without the JIT (checked: the same bytes with C1 only), so two calls
 * warm it: the first fills the pool and grows the calling thread's scratch, the second reuses both.
 */
class CpuHotPathAllocationTest {
    private static final long BOUND = 16 * 1024;
    /** Calls after which every method a call runs even once has passed C2's invocation threshold (5,000). */
    private static final int VECTOR_CALL_CAP = 5_100;
    private static final String CHILD_LINE = "allocation ";
    private static final int CHILD_WORKERS = 3;
    /** The ops {@link #measure} reports: four normalizations and dropout, conv2d, two pools and spatial dropout. */
    private static final int OPS = 9;
    private static String childOutput;

    /**
     * Bytes the calling thread allocates in one call of {@code step} once warm: the least of 5 calls (a call that
     * happens to refill a TLAB or grow a fork/join queue allocates more), after {@code warm} unmeasured calls; with
     * {@code cap > 0}, repeated until under {@link #BOUND} or past {@code cap} calls. Returns {bytes, calls}.
     */
    private static long[] allocatedPerCall(Supplier<AutoCloseable[]> step, int warm, int cap) throws Exception {
        com.sun.management.ThreadMXBean bean = allocationCounter();
        long id = Thread.currentThread().getId();
        long calls = 0;
        long least;
        do {
            for (int i = 0; i < warm; i++) {
                closeAll(step.get());
            }
            least = Long.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                long before = bean.getThreadAllocatedBytes(id);
                AutoCloseable[] r = step.get();
                long used = bean.getThreadAllocatedBytes(id) - before;
                closeAll(r);
                least = Math.min(least, used);
            }
            calls += warm + 5;
        } while (least >= BOUND && calls < cap);
        return new long[] {least, calls};
    }

    private static com.sun.management.ThreadMXBean allocationCounter() {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        assumeTrue(mx instanceof com.sun.management.ThreadMXBean, "per-thread allocation counter not available");
        com.sun.management.ThreadMXBean bean = (com.sun.management.ThreadMXBean) mx;
        assumeTrue(bean.isThreadAllocatedMemorySupported() && bean.isThreadAllocatedMemoryEnabled(),
                "per-thread allocation counter disabled");
        return bean;
    }

    private static void closeAll(AutoCloseable[] rs) throws Exception {
        for (AutoCloseable r : rs) {
            r.close();
        }
    }

    private static float[] gaussian(int n) {
        return Numerics.gaussian(new Random(n), n, 0, 1);
    }

    /** Every op of {@link #measureNormsAndDropout} and {@link #measureConvAndPool}, in one map. */
    private static Map<String, long[]> measure(CpuBackend be, int warm, int cap) throws Exception {
        Map<String, long[]> bytes = measureNormsAndDropout(be, warm, cap);
        bytes.putAll(measureConvAndPool(be, warm, cap));
        return bytes;
    }

    /** Forward + backward of every normalization, and dropout, each measured by {@link #allocatedPerCall}. */
    private static Map<String, long[]> measureNormsAndDropout(CpuBackend be, int warm, int cap) throws Exception {
        Map<String, long[]> bytes = new LinkedHashMap<>();
        int n = 256;
        int d = 1024;
        Shape s2 = Shape.of(n, d);
        Shape s4 = Shape.of(16, 16, 32, 32);
        try (Tensor x = be.upload(gaussian(n * d), s2);
             Tensor dOut = be.upload(gaussian(n * d), s2);
             Tensor x4 = be.upload(gaussian(s4.size()), s4);
             Tensor dOut4 = be.upload(gaussian(s4.size()), s4);
             Tensor g = be.upload(gaussian(d), Shape.of(d));
             Tensor b = be.upload(gaussian(d), Shape.of(d));
             Tensor g4 = be.upload(gaussian(16), Shape.of(16));
             Tensor b4 = be.upload(gaussian(16), Shape.of(16));
             Tensor rm = be.zeros(Shape.of(d));
             Tensor rv = be.zeros(Shape.of(d));
             Tensor rm4 = be.zeros(Shape.of(16));
             Tensor rv4 = be.zeros(Shape.of(16))) {
            BatchNormParams p = new BatchNormParams(1e-5f, 0.9f, false);
            long[] offset = {0};
            bytes.put("batchnorm", allocatedPerCall(() -> {
                NormResult r = be.batchNormForward(x, g, b, rm, rv, p, Mode.TRAIN);
                return new AutoCloseable[] {r, be.batchNormBackward(dOut, r.cache(), g)};
            }, warm, cap));
            bytes.put("spatial batchnorm", allocatedPerCall(() -> {
                NormResult r = be.spatialBatchNormForward(x4, g4, b4, rm4, rv4, p, Mode.TRAIN);
                return new AutoCloseable[] {r, be.spatialBatchNormBackward(dOut4, r.cache(), g4)};
            }, warm, cap));
            bytes.put("layernorm", allocatedPerCall(() -> {
                NormResult r = be.layerNormForward(x, g, b, 1e-5f);
                return new AutoCloseable[] {r, be.layerNormBackward(dOut, r.cache(), g)};
            }, warm, cap));
            bytes.put("groupnorm", allocatedPerCall(() -> {
                NormResult r = be.groupNormForward(x4, g4, b4, 4, 1e-5f);
                return new AutoCloseable[] {r, be.groupNormBackward(dOut4, r.cache(), g4)};
            }, warm, cap));
            bytes.put("dropout", allocatedPerCall(() -> {
                DropoutResult r = be.dropoutForward(x, new DropoutOptions(0.5, 7L, offset[0]++), Mode.TRAIN);
                return new AutoCloseable[] {r, be.dropoutBackward(dOut, r.mask())};
            }, warm, cap));
        }
        return bytes;
    }

    /**
     * Forward + backward of conv2d (a small CNN's second layer at N = 16: several blocks of unfolded columns per
     * call, from {@link CpuScratch}), max pool, global average pool and spatial dropout, each measured by
     * {@link #allocatedPerCall}.
     */
    private static Map<String, long[]> measureConvAndPool(CpuBackend be, int warm, int cap) throws Exception {
        Map<String, long[]> bytes = new LinkedHashMap<>();
        Shape xs = Shape.of(16, 32, 14, 14);
        Shape ws = Shape.of(64, 32, 3, 3);
        Shape os = Shape.of(16, 64, 14, 14);
        Shape ps = Shape.of(16, 64, 7, 7);
        try (Tensor x = be.upload(gaussian(xs.size()), xs);
             Tensor w = be.upload(gaussian(ws.size()), ws);
             Tensor b = be.upload(gaussian(64), Shape.of(64));
             Tensor dOut = be.upload(gaussian(os.size()), os);
             Tensor dPool = be.upload(gaussian(ps.size()), ps);
             Tensor dAvg = be.upload(gaussian(16 * 32), Shape.of(16, 32))) {
            Conv2dParams p = Conv2dParams.of(1, 1);
            long[] offset = {0};
            bytes.put("conv2d", allocatedPerCall(() -> {
                Conv2dResult r = be.conv2dForward(x, w, b, p);
                return new AutoCloseable[] {r, be.conv2dBackward(dOut, r.cache(), w)};
            }, warm, cap));
            bytes.put("maxpool2d", allocatedPerCall(() -> {
                MaxPool2dResult r = be.maxPool2dForward(dOut, Pool2dParams.of(2, 2));
                return new AutoCloseable[] {r, be.maxPool2dBackward(dPool, r.cache())};
            }, warm, cap));
            bytes.put("global_avgpool", allocatedPerCall(() -> new AutoCloseable[] {be.globalAvgPoolForward(x),
                be.globalAvgPoolBackward(dAvg, xs)}, warm, cap));
            bytes.put("spatial_dropout", allocatedPerCall(() -> {
                DropoutResult r = be.spatialDropoutForward(x, new DropoutOptions(0.5, 7L, offset[0]++), Mode.TRAIN);
                return new AutoCloseable[] {r, be.spatialDropoutBackward(x, r.mask())};
            }, warm, cap));
        }
        return bytes;
    }

    private static void check(String path, Map<String, long[]> measured) {
        measured.forEach((op, m) -> assertTrue(m[0] < BOUND, path + ", " + op + ": a warm forward + backward "
                + "allocated " + m[0] + " bytes on the calling thread (after " + m[1] + " calls), expected under "
                + BOUND + " (no arrays)"));
    }

    /** The child JVM's side: one line per path and op, "allocation PATH OP=BYTES,CALLS". */
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (CpuBackend be = new CpuBackend(CpuBackendProvider.describeDevice(), false)) {
            measure(be, 2, 0).forEach((op, m) -> out.println(CHILD_LINE + "loops " + op + "=" + m[0] + "," + m[1]));
        }
        try (CpuBackend be = new CpuBackend(CpuBackendProvider.describeDevice(), true)) {
            if (be.vectorApi()) {
                measure(be, 20, VECTOR_CALL_CAP).forEach((op, m) ->
                        out.println(CHILD_LINE + "vector " + op + "=" + m[0] + "," + m[1]));
            }
        }
    }

    /** Runs {@link #main} in a child JVM (once for both tests) and returns its output. */
    private static synchronized String child() throws Exception {
        if (childOutput == null) {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(testJvmOptions());
            cmd.add("-Xbatch");
            cmd.add("-Djava.util.concurrent.ForkJoinPool.common.parallelism=" + CHILD_WORKERS);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), CpuHotPathAllocationTest.class.getName()));
            Path log = Files.createTempFile("layerkit-allocation", ".txt");
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                // a guard against a hung child only (it takes seconds): no speed is asserted
                assertTrue(p.waitFor(30, TimeUnit.MINUTES), "the child JVM did not finish: " + cmd);
                String out = Files.readString(log, StandardCharsets.UTF_8);
                assertEquals(0, p.exitValue(), cmd + "\n" + out);
                childOutput = out;
            } finally {
                Files.deleteIfExists(log);
            }
        }
        return childOutput;
    }

    /**
     * This test JVM's own options (the Vector API module, a -XX:UseAVX of a test matrix, ...), for the child, minus
     * agents and debuggers that must not attach twice.
     */
    private static List<String> testJvmOptions() {
        List<String> options = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent") && !a.startsWith("-Xrunjdwp")) {
                options.add(a);
            }
        }
        return options;
    }

    /** The child's measurements of one path, by op. */
    private static Map<String, long[]> childMeasurements(String path) throws Exception {
        String out = child();
        Map<String, long[]> measured = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            if (line.startsWith(CHILD_LINE + path + " ")) {
                String[] kv = line.substring((CHILD_LINE + path + " ").length()).split("=");
                String[] v = kv[1].trim().split(",");
                measured.put(kv[0], new long[] {Long.parseLong(v[0]), Long.parseLong(v[1])});
            }
        }
        assertEquals(OPS, measured.size(), "measurements of the " + path + " path in:\n" + out);
        return measured;
    }

    @Test
    void warmLoopKernelsAllocateNoArrays() throws Exception {
        allocationCounter();
        check("loops path", childMeasurements("loops"));
    }

    @Test
    void warmVectorApiKernelsAllocateNoArraysOnceCompiled() throws Exception {
        allocationCounter();
        assumeTrue(CpuBackend.VECTOR_API_PRESENT, "this JVM runs without jdk.incubator.vector (the loops path is "
                + "checked by warmLoopKernelsAllocateNoArrays)");
        assumeTrue(testJvmOptions().stream().noneMatch(a -> a.equals("-Xint") || a.matches("-XX:TieredStopAtLevel=[0-3]")),
                "C2 is off in this JVM (" + testJvmOptions() + "): only C2 turns the Vector API's vectors into registers");
        check("Vector API path (-Xbatch)", childMeasurements("vector"));
    }
}
