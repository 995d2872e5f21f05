package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.dist.DataParallelTrainer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * Data-parallel training of an MLP with batch norm and dropout equals training on one device (docs/tolerances.md,
 * DATA_PARALLEL_GRADIENT and DATA_PARALLEL_TRAJECTORY): 2 replicas × 64 rows against 1 × 128 on the same batches,
 * for 50 SGD steps, on cpu, on two OpenCL devices (PoCL's two pthread devices here, {@link TwoOpenClDevices}) and on
 * one of each; uneven splits, a replica with no rows and three replicas for single steps; replicas stay bitwise
 * equal, and two runs are bitwise identical.
 */
class DataParallelMlpTest {
    private static final int D = 10;
    private static final int K = 4;
    private static final int N = 128;
    private static final int POOL = 512;
    private static final double LR = 0.05;

    private static FullyConnectedNetConfig config() {
        return FullyConnectedNetConfig.builder(D, K).hidden(16, 12).normalization(Normalization.BATCH)
                .dropoutKeep(0.8).heInit().reg(0.01).seed(7).build();
    }

    /** Four Gaussian blobs in D dimensions, POOL rows; batch k is rows [(k·N) mod POOL, … + N). */
    private static final float[] X = new float[POOL * D];
    private static final int[] Y = new int[POOL];

    static {
        Random r = new Random(11);
        for (int i = 0; i < POOL; i++) {
            Y[i] = r.nextInt(K);
            for (int f = 0; f < D; f++) {
                X[i * D + f] = (float) (r.nextGaussian() + (f % K == Y[i] ? 1.5 : 0));
            }
        }
    }

    private static float[] batchX(int k) {
        int from = (k * N) % POOL;
        return java.util.Arrays.copyOfRange(X, from * D, (from + N) * D);
    }

    private static int[] batchY(int k) {
        int from = (k * N) % POOL;
        return java.util.Arrays.copyOfRange(Y, from, from + N);
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Parameters (or gradients) by CS231N name, widened. */
    private static Map<String, double[]> byLegacyName(SequentialNet net, boolean grads) {
        Map<String, String> cs231n = new LinkedHashMap<>();
        net.spec();
        config().legacyNames().forEach((old, now) -> cs231n.put(now, old));
        Map<String, double[]> m = new LinkedHashMap<>();
        net.parameters().forEach((n, p) -> m.put(cs231n.get(n), toDouble((grads ? p.grad() : p.value()).toArray())));
        return m;
    }

    /** The error model at the net's current parameters, dropout keys and this batch. */
    private static NetErrorModel model(SequentialNet net, Map<String, double[]> params, float[] x, int[] y) {
        List<Long> seeds = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        for (Layer l : net.layers()) {
            if (l instanceof DropoutLayer d) {
                seeds.add(d.seed());
                offsets.add(d.offset());
            }
        }
        long[] s = seeds.stream().mapToLong(Long::longValue).toArray();
        long[] o = offsets.stream().mapToLong(Long::longValue).toArray();
        return new NetErrorModel(config(), s, o, params, toDouble(x), y, y.length, Tolerance.U);
    }

    /**
     * DATA_PARALLEL_GRADIENT: a float32 gradient of the whole batch, however the batch was split, is within
     * SAFETY·E of the float64 gradient at the same parameters (E: the error model's bound, FC_NET_GRADIENT's without
     * the numerical part). Returns the worst error/bound ratio.
     */
    private static double checkGradient(String what, Map<String, double[]> grads, NetErrorModel m) {
        // ReLU inputs within round-off of their kink are counted both ways by the model (see NetErrorModel)
        double worst = 0;
        for (Map.Entry<String, double[]> e : grads.entrySet()) {
            double[] g = e.getValue();
            double[] exact = m.grad.get(e.getKey());
            double[] err = m.gradError.get(e.getKey());
            for (int i = 0; i < g.length; i++) {
                double bound = Tolerance.SAFETY * err[i];
                double d = Math.abs(g[i] - exact[i]);
                worst = Math.max(worst, d / bound);
                if (!(d <= bound)) {
                    fail(String.format(Locale.ROOT, "%s: gradient %s (%d values) outside DATA_PARALLEL_GRADIENT at "
                            + "first bad index %d: got %.9g, float64 %.9g, error %.2e, bound %.2e", what, e.getKey(),
                            g.length, i, g[i], exact[i], d, bound));
                }
            }
        }
        return worst;
    }

    /** Every parameter, buffer and counter of replica r equals replica 0's bit for bit. */
    private static void assertReplicasEqual(DataParallelTrainer t, String when) {
        SequentialNet a = t.net(0);
        for (int r = 1; r < t.replicas(); r++) {
            SequentialNet b = t.net(r);
            for (Map.Entry<String, Parameter> e : a.parameters().entrySet()) {
                assertArrayEquals(e.getValue().value().toArray(), b.parameters().get(e.getKey()).value().toArray(),
                        when + ": replica " + r + "'s " + e.getKey() + " differs from replica 0's");
            }
            for (Map.Entry<String, Tensor> e : a.buffers().entrySet()) {
                assertArrayEquals(e.getValue().toArray(), b.buffers().get(e.getKey()).toArray(),
                        when + ": replica " + r + "'s " + e.getKey() + " differs from replica 0's");
            }
            assertEquals(a.counters(), b.counters(), when + ": counters of replica " + r);
        }
    }

    /**
     * 50 SGD steps, 2 × 64 against 1 × 128. Each step: both gradients within DATA_PARALLEL_GRADIENT of the float64
     * gradient at their own parameters; the replicas bitwise equal; and the distance between the two trajectories
     * within DATA_PARALLEL_TRAJECTORY: |Δw'| ≤ |Δw| + lr·(SAFETY·E_dp + |g64(w_dp) − g64(w_1)| + SAFETY·E_1)
     * + SAFETY·γ(2)·(|w| + |lr·dw|) per side (OPTIMIZER_W), the middle term evaluated in float64 at the actual
     * parameters — how far the float64 training map itself carries the two apart.
     */
    private static void fiftySteps(Supplier<Backend> backends, String name) {
        fiftySteps(backends, name, two -> { });
    }

    /** {@link #fiftySteps(Supplier, String)}, {@code checkReplicas} first given the two replicas' backends. */
    private static void fiftySteps(Supplier<Backend> backends, String name, Consumer<List<Backend>> checkReplicas) {
        int steps = 50;
        List<Backend> owned = new ArrayList<>();
        try {
            Backend single = backends.get();
            owned.add(single);
            owned.add(backends.get());
            owned.add(backends.get());
            List<Backend> two = List.copyOf(owned.subList(1, 3));
            checkReplicas.accept(two);
            try (SequentialNet net = new SequentialNet(single, config());
                 Optimizer sgd = OptimizerConfig.sgd(LR).create(net.parameters());
                 DataParallelTrainer dp = new DataParallelTrainer(two, config(), OptimizerConfig.sgd(LR))) {
                // the same initial parameters
                net.parameters().forEach((n, p) -> assertArrayEquals(p.value().toArray(),
                        dp.net(0).parameters().get(n).value().toArray(), n));
                double worstGrad = 0;
                double worstTraj = 0;
                double lastLossDp = 0;
                double lastLoss1 = 0;
                double firstLoss = 0;
                float lr = (float) LR;
                for (int k = 0; k < steps; k++) {
                    float[] x = batchX(k);
                    int[] y = batchY(k);
                    Map<String, double[]> w1 = byLegacyName(net, false);
                    Map<String, double[]> wdp = byLegacyName(dp.net(0), false);
                    NetErrorModel m1 = model(net, w1, x, y);
                    NetErrorModel mdp = model(dp.net(0), wdp, x, y);
                    float[] yf = new float[N];
                    for (int i = 0; i < N; i++) {
                        yf[i] = y[i];
                    }
                    try (Tensor xt = single.upload(x, Shape.of(N, D)); Tensor yt = single.upload(yf, Shape.of(N))) {
                        lastLoss1 = net.loss(xt, yt).item();
                    }
                    lastLossDp = dp.step(x, y, new int[] {64, 64});
                    if (k == 0) {
                        firstLoss = lastLossDp;
                    }
                    Map<String, double[]> g1 = byLegacyName(net, true);
                    Map<String, double[]> gdp = byLegacyName(dp.net(0), true);
                    worstGrad = Math.max(worstGrad, checkGradient(name + " step " + k + " (1 x 128)", g1, m1));
                    worstGrad = Math.max(worstGrad, checkGradient(name + " step " + k + " (2 x 64)", gdp, mdp));
                    sgd.step();
                    assertReplicasEqual(dp, name + " step " + k);
                    Map<String, double[]> w1n = byLegacyName(net, false);
                    Map<String, double[]> wdpn = byLegacyName(dp.net(0), false);
                    for (String p : w1.keySet()) {
                        double[] a0 = wdp.get(p);
                        double[] b0 = w1.get(p);
                        double[] a1 = wdpn.get(p);
                        double[] b1 = w1n.get(p);
                        for (int i = 0; i < a0.length; i++) {
                            // DATA_PARALLEL_GRADIENT: checked above; DATA_PARALLEL_TRAJECTORY: below
                            double exactGap = Math.abs(mdp.grad.get(p)[i] - m1.grad.get(p)[i]);
                            // DATA_PARALLEL_TRAJECTORY: the step moves the two apart by at most this
                            double bound = Math.abs(a0[i] - b0[i])
                                    + lr * (Tolerance.SAFETY * (mdp.gradError.get(p)[i] + m1.gradError.get(p)[i])
                                    + exactGap)
                                    + Tolerance.SAFETY * Tolerance.gamma(2) * (Math.abs(a0[i]) + Math.abs(b0[i])
                                    + lr * (Math.abs(gdp.get(p)[i]) + Math.abs(g1.get(p)[i])));
                            double gap = Math.abs(a1[i] - b1[i]);
                            if (gap > 0) {
                                worstTraj = Math.max(worstTraj, gap / bound);
                            }
                            if (!(gap <= bound)) {
                                fail(String.format(Locale.ROOT, "%s step %d: %s[%d] of 2 x 64 and 1 x 128 apart by "
                                        + "%.3e after the step, outside DATA_PARALLEL_TRAJECTORY %.3e (before: %.3e)",
                                        name, k, p, i, gap, bound, Math.abs(a0[i] - b0[i])));
                            }
                        }
                    }
                }
                double diff2 = 0;
                double norm2 = 0;
                for (Map.Entry<String, double[]> e : byLegacyName(net, false).entrySet()) {
                    double[] a = byLegacyName(dp.net(0), false).get(e.getKey());
                    for (int i = 0; i < a.length; i++) {
                        diff2 += (a[i] - e.getValue()[i]) * (a[i] - e.getValue()[i]);
                        norm2 += e.getValue()[i] * e.getValue()[i];
                    }
                }
                System.out.printf(Locale.ROOT, "%s: %d steps, loss %.4f -> %.4f (1 x 128: %.4f); worst error/bound "
                        + "DATA_PARALLEL_GRADIENT %.2e, DATA_PARALLEL_TRAJECTORY %.2e; final parameters "
                        + "||w_dp - w_1|| / ||w_1|| = %.2e%n", name, steps, firstLoss, lastLossDp, lastLoss1, worstGrad,
                        worstTraj, Math.sqrt(diff2 / norm2));
                assertTrue(lastLossDp < firstLoss, name + ": training did not lower the loss: " + firstLoss + " -> "
                        + lastLossDp);
            }
        } finally {
            owned.forEach(Backend::close);
        }
    }

    @Test
    void fiftySgdStepsOfTwoReplicasOf64MatchOneDeviceOf128OnCpu() {
        fiftySteps(() -> Backends.get("cpu"), "cpu");
    }

    /**
     * The replicas on OpenCL devices 0 and 1 — two distinct cl_device_ids (PoCL's two pthread devices here) — and the
     * single device on device 0.
     */
    @Test
    void fiftySgdStepsOfTwoReplicasOf64OnTwoOpenClDevicesMatchOneDeviceOf128() {
        TwoOpenClDevices.require();
        java.util.Iterator<Integer> devices = List.of(0, 0, 1).iterator();
        fiftySteps(() -> TwoOpenClDevices.open(devices.next()), "opencl:0,opencl:1",
                two -> TwoOpenClDevices.assertDistinct(two.get(0), two.get(1)));
    }

    @Test
    void fiftySgdStepsOfACpuAndAnOpenClReplicaMatchOneDeviceAndStayBitwiseEqual() {
        boolean available = Backends.providers().stream()
                .anyMatch(p -> p.name().equals("opencl") && p.availability().isAvailable());
        if (!available && Boolean.getBoolean("layerkit.requireOpenCL")) {
            throw new AssertionError("OpenCL is required (-Dlayerkit.requireOpenCL=true) but unavailable");
        }
        Assumptions.assumeTrue(available, "no OpenCL device");
        java.util.Iterator<String> kinds = List.of("cpu", "cpu", "opencl").iterator();
        fiftySteps(() -> Backends.get(kinds.next()), "cpu + opencl");
    }

    /** One step from the same parameters under uneven splits, an empty replica and three replicas. */
    @Test
    void unevenSplitsAndAnEmptyReplicaGiveTheWholeBatchGradient() {
        float[] x = batchX(1);
        int[] y = batchY(1);
        int[][] splits = {{100, 28}, {1, 127}, {128, 0}, {0, 128}, {50, 0, 78}, {43, 43, 42}};
        try (Backend b = Backends.get("cpu")) {
            for (int[] split : splits) {
                List<Backend> bs = new ArrayList<>();
                for (int r = 0; r < split.length; r++) {
                    bs.add(b); // replicas may share one (thread-safe) backend
                }
                try (DataParallelTrainer dp = new DataParallelTrainer(bs, config(), OptimizerConfig.sgd(LR))) {
                    Map<String, double[]> w = byLegacyName(dp.net(0), false);
                    NetErrorModel m = model(dp.net(0), w, x, y);
                    double loss = dp.step(x, y, split);
                    String what = "split " + java.util.Arrays.toString(split);
                    checkGradient(what, byLegacyName(dp.net(0), true), m);
                    assertTrue(Math.abs(loss - m.loss) <= Tolerance.SAFETY * m.lossError + 8 * Tolerance.U
                            * Math.abs(m.loss), what + ": loss " + loss + " against float64 " + m.loss);
                    assertReplicasEqual(dp, what);
                }
            }
        }
    }

    /** Two runs of the same steps give the same bits. */
    @Test
    void twoRunsAreBitwiseIdentical() {
        try (Backend b = Backends.get("cpu")) {
            List<Map<String, double[]>> runs = new ArrayList<>();
            for (int run = 0; run < 2; run++) {
                try (DataParallelTrainer dp = new DataParallelTrainer(List.of(b, b), config(),
                        OptimizerConfig.sgd(LR))) {
                    for (int k = 0; k < 5; k++) {
                        dp.step(batchX(k), batchY(k), new int[] {70, 58});
                    }
                    runs.add(byLegacyName(dp.net(1), false));
                }
            }
            runs.get(0).forEach((n, v) -> assertArrayEquals(v, runs.get(1).get(n), n));
        }
    }
}
