package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NumericalGradient;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.SpatialDropoutLayer;

/**
 * The loss and every gradient of small convolutional {@link SequentialNet}s, computed by the CPU backend in float32,
 * agree with an independent float64 implementation ({@link SequentialErrorModel}) within the float32 error bound that
 * a running error analysis of the instance gives (docs/tolerances.md): CNN_NET_LOSS for the loss and
 * CNN_NET_GRADIENT per gradient element, |a − g| ≤ SAFETY·E, E carrying the instance's own condition (1/σ of
 * statistics over few values, cancellation in sums). The float64 gradients g are first checked against central
 * differences of the float64 loss (CS231N's check of a backward) within SAFETY·(E64 + E_num), the model's own float64
 * error plus the numerical gradient's (NUMERICAL_GRADIENT), so both the backward formulas and the float32
 * computation are judged. Each failure reports the tensor, its shape, the max error, its bound and the first bad
 * index.
 *
 * <p>Valid instances only: the bounds assume no rounding moves a ReLU input across 0 or changes a max-pool window's
 * maximum ({@code margin > 0}), and the central differences that no step of h does (checked in every perturbed run).
 */
class ConvNetGradientCheckTest {
    private static final int N = 8;
    /** The central-difference step: the roundoff E_num ≈ U64·|loss|/H stays ~1e-10, far below float32's E. */
    private static final double H = 1e-6;

    /** The largest bound may be this fraction of a tensor's gradient scale, so that a 5 % error fails. */
    private static final double USEFUL = 0.05;

    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    private static ConvNetConfig.Builder tiny() {
        return ConvNetConfig.builder(Shape.of(2, 6, 6), 3).channels(4).kernel(3).pool(2).reg(0.1);
    }

    static List<Arguments> variants() {
        return List.of(
                Arguments.of("conv+bias, no norm, hidden affine", tiny().norm(Normalization.NONE).hidden(5).seed(3)
                        .build(), 11L),
                Arguments.of("spatial batchnorm", tiny().norm(Normalization.BATCH).seed(4).build(), 12L),
                Arguments.of("groupnorm G=2, spatial dropout", tiny().norm(Normalization.GROUP).groups(2).convKeep(0.5)
                        .seed(5).build(), 13L),
                Arguments.of("layernorm (G=1), global average pool", tiny().norm(Normalization.LAYER)
                        .globalPool(true).seed(6).build(), 14L),
                Arguments.of("two stages (a stride-2 conv), batchnorm and dropout after the hidden affine",
                        NetSpec.builder(Shape.of(1, 8, 8), 3).reg(0.05)
                                .add("conv2d", "in_channels", 1, "out_channels", 2, "kernel", 3, "padding", 1, "bias", false,
                                        "seed", 1)
                                .add("relu").add("maxpool", "kernel", 2)
                                .add("conv2d", "in_channels", 2, "out_channels", 3, "kernel", 3, "stride", 2,
                                        "padding", 1, "seed", 2)
                                .add("relu").add("flatten")
                                .add("affine", "in", 12, "out", 6, "init", "he", "seed", 3)
                                .add("batchnorm", "features", 6).add("relu").add("dropout", "keep", 0.75, "seed", 4)
                                .add("affine", "in", 6, "out", 3, "init", "he", "seed", 5).build(), 15L));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void lossAndEveryGradientAreWithinTheirFloat32BoundOfTheFloat64Net(String name, NetConfig config, long seed) {
        Shape in = config.spec().inputShape();
        Random rnd = new Random(seed);
        float[] x = new float[N * in.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        int[] y = new int[N];
        float[] yf = new float[N];
        for (int i = 0; i < N; i++) {
            y[i] = (i * 7 + 1) % 3;
            yf[i] = y[i];
        }
        try (SequentialNet net = new SequentialNet(backend, config);
             Tensor xt = backend.upload(x, net.batchShape(N));
             Tensor yt = backend.upload(yf, Shape.of(N))) {
            Map<String, double[]> params = new LinkedHashMap<>();
            net.parameters().forEach((k, p) -> params.put(k, toDouble(p.value().toArray())));
            Map<Integer, Long> offsets = new LinkedHashMap<>();
            for (int i = 0; i < net.layers().size(); i++) {
                Layer l = net.layers().get(i);
                if (l instanceof DropoutLayer d) {
                    offsets.put(i, d.offset());
                } else if (l instanceof SpatialDropoutLayer d) {
                    offsets.put(i, d.offset());
                }
            }
            double[] xd = toDouble(x);
            // the same analysis at float32's and at float64's unit roundoff: E bounds the net's float32 results, E64
            // this model's own float64 evaluation
            SequentialErrorModel model = new SequentialErrorModel(net.spec(), params, offsets, Tolerance.U);
            model.run(xd, y, true);
            assertTrue(model.margin > 0, name + ": an invalid instance: a ReLU input or a pooling maximum lies within "
                    + "rounding reach of a switch (margin " + model.margin + "); pick another seed");
            Map<String, double[]> grad64 = new LinkedHashMap<>(model.grad);
            Map<String, double[]> bound = new LinkedHashMap<>(model.gradError);
            double loss64 = model.loss;
            double lossBound = Tolerance.SAFETY * model.lossError;
            SequentialErrorModel model64 = new SequentialErrorModel(net.spec(), params, offsets, Tolerance.U64);
            model64.run(xd, y, true);
            Map<String, double[]> bound64 = new LinkedHashMap<>(model64.gradError);

            // 1. the float64 backward against central differences of the float64 loss (NUMERICAL_GRADIENT)
            StringBuilder report = new StringBuilder(name + "\n");
            boolean ok = true;
            Map<String, NumericalGradient.Estimate> numerical = model64.numericalGradient(xd, y, H,
                    model64.lossError);
            for (String k : grad64.keySet()) {
                double[] a = grad64.get(k);
                double[] n = numerical.get(k).grad();
                double[] nErr = numerical.get(k).error();
                double worst = 0;
                double worstRatio = 0;
                int firstBad = -1;
                for (int i = 0; i < a.length; i++) {
                    double err = Math.abs(a[i] - n[i]);
                    double lim = Tolerance.SAFETY * (bound64.get(k)[i] + nErr[i]);
                    worst = Math.max(worst, err);
                    worstRatio = Math.max(worstRatio, err / Math.max(lim, Double.MIN_NORMAL));
                    if (firstBad < 0 && !(err <= lim)) {
                        firstBad = i;
                    }
                }
                ok &= firstBad < 0;
                report.append(String.format(Locale.ROOT, "  float64 %-9s max |analytic - numerical| %.2e (%.0f%% of"
                                + " its bound; scale %.2e)%s%n", k, worst, 100 * worstRatio, maxAbs(n),
                        firstBad < 0 ? "" : String.format(Locale.ROOT, "  FIRST BAD INDEX %d: analytic %.12g numerical"
                                + " %.12g, outside NUMERICAL_GRADIENT %.2e", firstBad, a[firstBad], n[firstBad],
                                Tolerance.SAFETY * (bound64.get(k)[firstBad] + nErr[firstBad]))));
            }
            assertTrue(ok, report.toString());

            // 2. the float32 net against the float64 one, element by element within the derived bound
            float loss32 = net.loss(xt, yt).item();
            double lossErr = Math.abs(loss32 - loss64);
            // CNN_NET_LOSS: SAFETY times the running error bound of the float32 forward and loss
            ok = lossErr <= lossBound;
            report.append(String.format(Locale.ROOT, "  loss %.9f (float64 %.9f): error %.2e, bound CNN_NET_LOSS %.2e%s%n",
                    loss32, loss64, lossErr, lossBound, lossErr <= lossBound ? "" : "  outside CNN_NET_LOSS"));
            Map<String, double[]> float32 = new LinkedHashMap<>();
            Map<String, Shape> shapes = new LinkedHashMap<>();
            net.parameters().forEach((k, p) -> {
                float32.put(k, toDouble(p.grad().toArray()));
                shapes.put(k, p.grad().shape());
            });
            ok &= compare(float32, shapes, grad64, bound, report);
            System.out.print(report);
            assertTrue(ok, report.toString());
        }
    }

    /**
     * Every float32 gradient element within SAFETY·E of the float64 one (CNN_NET_GRADIENT), and every bound small
     * enough to catch a 5 % error (USEFUL); appends one line per tensor to {@code report}.
     */
    static boolean compare(Map<String, double[]> float32, Map<String, Shape> shapes, Map<String, double[]> grad64,
                           Map<String, double[]> bound, StringBuilder report) {
        boolean ok = true;
        double netScale = 0;
        for (double[] g : grad64.values()) {
            netScale = Math.max(netScale, maxAbs(g));
        }
        for (Map.Entry<String, double[]> e : float32.entrySet()) {
            String k = e.getKey();
            double[] a = e.getValue();
            double[] n = grad64.get(k);
            double[] b = bound.get(k);
            double worstRatio = 0;
            double worstErr = 0;
            double worstBound = 0;
            int firstBad = -1;
            double maxBound = 0;
            for (int i = 0; i < a.length; i++) {
                double err = Math.abs(a[i] - n[i]);
                double lim = Tolerance.SAFETY * b[i]; // CNN_NET_GRADIENT: SAFETY times the running error bound
                maxBound = Math.max(maxBound, lim);
                if (!(err <= lim) && firstBad < 0) {
                    firstBad = i;
                }
                double ratio = err / Math.max(lim, Double.MIN_NORMAL);
                if (ratio > worstRatio) {
                    worstRatio = ratio;
                    worstErr = err;
                    worstBound = lim;
                }
            }
            // the bound must catch a wrong gradient: an element 5 % off, or reg·W left out, must fail it. A gradient
            // that is zero in exact arithmetic (a bias followed by a normalization) is judged against the net's
            // largest gradient
            double scale = maxAbs(n) <= 1e-9 * netScale ? netScale : maxAbs(n);
            boolean meaningful = maxBound <= USEFUL * scale;
            ok &= firstBad < 0 && meaningful;
            report.append(String.format(Locale.ROOT,
                    "  %-9s %-12s max error %.2e vs bound CNN_NET_GRADIENT %.2e (%.0f%% of it; largest bound %.1e of"
                            + " scale %.1e)%s%s%n",
                    k, shapes.get(k), worstErr, worstBound, 100 * worstRatio, maxBound, maxAbs(n),
                    firstBad < 0 ? "" : String.format(Locale.ROOT,
                            "  FIRST BAD INDEX %d: float32 %.9g float64 %.9g, outside CNN_NET_GRADIENT %.2e", firstBad,
                            a[firstBad], n[firstBad], Tolerance.SAFETY * b[firstBad]),
                    meaningful ? "" : "  BOUND TOO LOOSE TO CATCH A 5% ERROR"));
        }
        return ok;
    }

    /** The check is not vacuous: gradients with the errors a wrong backward makes fail it, on every variant. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void plantedErrorsFailTheCheck(String name, NetConfig config, long seed) {
        Shape in = config.spec().inputShape();
        Random rnd = new Random(seed);
        float[] x = new float[N * in.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        int[] y = new int[N];
        for (int i = 0; i < N; i++) {
            y[i] = (i * 7 + 1) % 3;
        }
        try (SequentialNet net = new SequentialNet(backend, config)) {
            Map<String, double[]> params = new LinkedHashMap<>();
            Map<String, Shape> shapes = new LinkedHashMap<>();
            net.parameters().forEach((k, p) -> {
                params.put(k, toDouble(p.value().toArray()));
                shapes.put(k, p.value().shape());
            });
            Map<Integer, Long> offsets = new LinkedHashMap<>();
            SequentialErrorModel model = new SequentialErrorModel(net.spec(), params, offsets, Tolerance.U);
            model.run(toDouble(x), y, true);
            Map<String, double[]> exact = model.grad;
            for (String k : exact.keySet()) {
                // one element 5 % off
                Map<String, double[]> planted = copy(exact);
                double[] g = planted.get(k);
                int worst = 0;
                for (int i = 1; i < g.length; i++) {
                    if (Math.abs(g[i]) > Math.abs(g[worst])) {
                        worst = i;
                    }
                }
                if (Math.abs(g[worst]) == 0 || maxAbs(g) <= 1e-9) {
                    continue; // zero in exact arithmetic: nothing to be 5 % off
                }
                g[worst] *= 1.05;
                assertFalse(compare(planted, shapes, exact, model.gradError, new StringBuilder()),
                        name + ": " + k + "[" + worst + "] 5 % off passed");
                if (k.endsWith(".W") && net.spec().reg() > 0) {
                    // dW without its reg·W term
                    Map<String, double[]> noReg = copy(exact);
                    double[] w = params.get(k);
                    double[] d = noReg.get(k);
                    for (int i = 0; i < d.length; i++) {
                        d[i] -= net.spec().reg() * w[i];
                    }
                    assertFalse(compare(noReg, shapes, exact, model.gradError, new StringBuilder()),
                            name + ": " + k + " without reg·W passed");
                }
            }
        }
    }

    private static Map<String, double[]> copy(Map<String, double[]> m) {
        Map<String, double[]> c = new LinkedHashMap<>();
        m.forEach((k, v) -> c.put(k, v.clone()));
        return c;
    }

    private static double maxAbs(double[] a) {
        double m = 0;
        for (double v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
