package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.dist.DataParallelTrainer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.SpatialDropoutLayer;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * Data-parallel training of a small CNN with spatial batch norm (synchronized), spatial dropout, a hidden affine
 * layer with batch norm and dropout: 2 replicas × 8 rows against 1 × 16 for 8 SGD steps on cpu and on two OpenCL
 * devices ({@link TwoOpenClDevices}), each step's gradients within DATA_PARALLEL_GRADIENT of the float64 gradient at
 * their own parameters ({@link SequentialErrorModel}, whose bounds hold for any split of the sums, as for the MLP) and
 * the trajectories within DATA_PARALLEL_TRAJECTORY.
 */
class DataParallelCnnTest {
    private static final int N = 16;
    private static final int STEPS = 8;
    private static final double LR = 0.05;

    private static NetConfig config() {
        return ConvNetConfig.builder(Shape.of(2, 6, 6), 3).channels(4).kernel(3).pool(2).norm(Normalization.BATCH)
                .convKeep(0.75).hidden(6).dropoutKeep(0.8).reg(0.05).seed(4).build();
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static Map<String, double[]> values(SequentialNet net, boolean grads) {
        Map<String, double[]> m = new LinkedHashMap<>();
        net.parameters().forEach((n, p) -> m.put(n, toDouble((grads ? p.grad() : p.value()).toArray())));
        return m;
    }

    private static SequentialErrorModel model(SequentialNet net, double[] x, int[] y) {
        Map<Integer, Long> offsets = new LinkedHashMap<>();
        for (int i = 0; i < net.layers().size(); i++) {
            Layer l = net.layers().get(i);
            if (l instanceof DropoutLayer d) {
                offsets.put(i, d.offset());
            } else if (l instanceof SpatialDropoutLayer d) {
                offsets.put(i, d.offset());
            }
        }
        SequentialErrorModel m = new SequentialErrorModel(net.spec(), values(net, false), offsets, Tolerance.U);
        m.run(x, y, true);
        return m;
    }

    private static void checkGradient(String what, Map<String, double[]> g, SequentialErrorModel m) {
        // ReLU inputs and pooling maxima within rounding reach of a switch are counted every way by the model
        g.forEach((name, a) -> {
            double[] exact = m.grad.get(name);
            double[] err = m.gradError.get(name);
            for (int i = 0; i < a.length; i++) {
                // DATA_PARALLEL_GRADIENT: per element, SAFETY·E of the float64 gradient at the same parameters
                double bound = Tolerance.SAFETY * err[i];
                if (!(Math.abs(a[i] - exact[i]) <= bound)) {
                    fail(String.format(Locale.ROOT, "%s: gradient %s (%d values) outside DATA_PARALLEL_GRADIENT at "
                            + "first bad index %d: got %.9g, float64 %.9g, bound %.2e", what, name, a.length, i, a[i],
                            exact[i], bound));
                }
            }
        });
    }

    @Test
    void eightSgdStepsOfTwoReplicasOf8MatchOneDeviceOf16WithSpatialSyncBatchNorm() {
        try (Backend b1 = Backends.get("cpu"); Backend r0 = Backends.get("cpu"); Backend r1 = Backends.get("cpu")) {
            eightSteps(b1, r0, r1, "cpu");
        }
    }

    /** The replicas on OpenCL devices 0 and 1 (two distinct cl_device_ids), the single device on device 0. */
    @Test
    void eightSgdStepsOfTwoReplicasOnTwoOpenClDevicesMatchOneDeviceWithSpatialSyncBatchNorm() {
        TwoOpenClDevices.require();
        try (Backend b1 = TwoOpenClDevices.open(0); Backend r0 = TwoOpenClDevices.open(0);
             Backend r1 = TwoOpenClDevices.open(1)) {
            TwoOpenClDevices.assertDistinct(r0, r1);
            eightSteps(b1, r0, r1, "opencl:0,opencl:1");
        }
    }

    /** STEPS steps of 2 × 8 on r0, r1 against 1 × 16 on b1. */
    private static void eightSteps(Backend b1, Backend r0, Backend r1, String name) {
        Shape in = config().spec().inputShape();
        Random rnd = new Random(21);
        int pool = 4 * N;
        float[] xs = new float[pool * in.size()];
        int[] ys = new int[pool];
        for (int i = 0; i < pool; i++) {
            ys[i] = i % 3;
            for (int j = 0; j < in.size(); j++) {
                xs[i * in.size() + j] = (float) (rnd.nextGaussian() + (j % 3 == ys[i] ? 1 : 0));
            }
        }
        try (SequentialNet net = new SequentialNet(b1, config());
             Optimizer sgd = OptimizerConfig.sgd(LR).create(net.parameters());
             DataParallelTrainer dp = new DataParallelTrainer(List.of(r0, r1), config(), OptimizerConfig.sgd(LR))) {
            float lr = (float) LR;
            for (int k = 0; k < STEPS; k++) {
                int from = (k * N) % pool;
                float[] x = java.util.Arrays.copyOfRange(xs, from * in.size(), (from + N) * in.size());
                int[] y = java.util.Arrays.copyOfRange(ys, from, from + N);
                float[] yf = new float[N];
                for (int i = 0; i < N; i++) {
                    yf[i] = y[i];
                }
                Map<String, double[]> w1 = values(net, false);
                Map<String, double[]> wdp = values(dp.net(0), false);
                SequentialErrorModel m1 = model(net, toDouble(x), y);
                SequentialErrorModel mdp = model(dp.net(0), toDouble(x), y);
                try (Tensor xt = b1.upload(x, net.batchShape(N)); Tensor yt = b1.upload(yf, Shape.of(N))) {
                    net.loss(xt, yt);
                }
                dp.step(x, y, new int[] {8, 8});
                Map<String, double[]> g1 = values(net, true);
                Map<String, double[]> gdp = values(dp.net(0), true);
                checkGradient(name + " step " + k + " (1 x 16)", g1, m1);
                checkGradient(name + " step " + k + " (2 x 8)", gdp, mdp);
                sgd.step();
                Map<String, double[]> w1n = values(net, false);
                Map<String, double[]> wdpn = values(dp.net(0), false);
                for (String p : w1.keySet()) {
                    assertArrayEquals(dp.net(0).parameters().get(p).value().toArray(),
                            dp.net(1).parameters().get(p).value().toArray(), name + " step " + k + ": replicas' " + p);
                    for (int i = 0; i < w1.get(p).length; i++) {
                        double a0 = wdp.get(p)[i];
                        double b0 = w1.get(p)[i];
                        // DATA_PARALLEL_TRAJECTORY: the step moves the two apart by at most this
                        double bound = Math.abs(a0 - b0) + lr * (Tolerance.SAFETY * (mdp.gradError.get(p)[i]
                                + m1.gradError.get(p)[i]) + Math.abs(mdp.grad.get(p)[i] - m1.grad.get(p)[i]))
                                + Tolerance.SAFETY * Tolerance.gamma(2) * (Math.abs(a0) + Math.abs(b0)
                                + lr * (Math.abs(gdp.get(p)[i]) + Math.abs(g1.get(p)[i])));
                        double gap = Math.abs(wdpn.get(p)[i] - w1n.get(p)[i]);
                        if (!(gap <= bound)) {
                            fail(String.format(Locale.ROOT, "%s step %d: %s[%d] of 2 x 8 and 1 x 16 apart by %.3e, "
                                    + "outside DATA_PARALLEL_TRAJECTORY %.3e", name, k, p, i, gap, bound));
                        }
                    }
                }
                dp.net(0).buffers().forEach((n, t) -> assertArrayEquals(t.toArray(),
                        dp.net(1).buffers().get(n).toArray(), name + ": replicas' " + n));
            }
        }
    }
}
