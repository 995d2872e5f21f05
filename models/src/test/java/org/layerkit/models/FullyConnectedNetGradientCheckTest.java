package org.layerkit.models;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.BiConsumer;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.NumericalGradient;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.layers.DropoutLayer;

/**
 * The analytic loss and gradients of a small MLP ({@link SequentialNet} of a {@link FullyConnectedNetConfig}) computed by the CPU backend (float32) agree
 * with central-difference numerical gradients of an independent float64 implementation of the same net, evaluated
 * at exactly the same (float) parameters and inputs, within bounds derived for each instance (docs/tolerances.md):
 * <ul>
 *   <li>FC_NET_GRADIENT, per element: |analytic − numerical| ≤ SAFETY·(E + E_num), where E is the running error
 *       bound of the float32 computation ({@link NetErrorModel}: every op's rounding, and the errors it inherits
 *       weighted by the instance's own sensitivities, e.g. 1/σ of a batch statistic over N = 4 rows) and E_num the
 *       numerical gradient's own error (NUMERICAL_GRADIENT);</li>
 *   <li>FC_NET_LOSS: |loss − float64 loss| ≤ SAFETY·E_loss from the same analysis;</li>
 *   <li>FC_NET_GRADIENT_NORM, the CS231N-style whole-gradient criterion: ‖a − n‖₂ ≤ ‖SAFETY·(E + E_num)‖₂, the
 *       same bound in the 2-norm.</li>
 * </ul>
 * The error model's own float64 backward is checked against the numerical gradients too. A central difference is
 * only valid where no evaluation moves a ReLU input across its kink, and the bounds only where no rounding can:
 * instances where either happens are rejected (fixed instances fail, the sweep skips them). Every failure reports
 * each tensor's shape, max error, its bound and the bound's name, and the first bad index.
 */
class FullyConnectedNetGradientCheckTest {
    private static final int N = 4;
    private static final int D = 6;
    private static final int K = 3;
    /** The central-difference step: the roundoff E_num ≈ U64·|loss|/H stays ~1e-10, far below float32's E. */
    private static final double H = 1e-6;

    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    static List<Arguments> variants() {
        return List.of(
                Arguments.of("none", FullyConnectedNetConfig.builder(D, K).hidden(7, 5).heInit().reg(0.1).seed(3).build()),
                Arguments.of("batchnorm", FullyConnectedNetConfig.builder(D, K).hidden(7, 5).normalization(Normalization.BATCH)
                        .heInit().reg(0.1).seed(4).build()),
                Arguments.of("layernorm", FullyConnectedNetConfig.builder(D, K).hidden(7, 5).normalization(Normalization.LAYER)
                        .heInit().reg(0.1).seed(5).build()),
                Arguments.of("batchnorm+dropout", FullyConnectedNetConfig.builder(D, K).hidden(7, 5)
                        .normalization(Normalization.BATCH).dropoutKeep(0.75).heInit().reg(0.3).seed(6).build()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void lossAndEveryGradientMatchFloat64NumericalGradient(String name, FullyConnectedNetConfig config) {
        check(name, config, 42, false, NO_PLANT);
    }

    /**
     * The check can fail: planted errors in the batchnorm net's analytic gradients — dγ1 without its x̂ factor, dW2
     * without the reg·W2 term, one element of dW1 5 % off — are each caught, with the first bad index reported.
     */
    @Test
    void plantedGradientErrorsFailTheCheck() {
        FullyConnectedNetConfig bn = FullyConnectedNetConfig.builder(D, K).hidden(7, 5)
                .normalization(Normalization.BATCH).heInit().reg(0.1).seed(4).build();
        Map<String, BiConsumer<Map<String, double[]>, Map<String, double[]>>> bugs = new LinkedHashMap<>();
        bugs.put("dgamma1 without x̂", (g, p) -> g.put("gamma1", g.get("beta1").clone()));
        bugs.put("dW2 without reg·W2", (g, p) -> {
            for (int i = 0; i < g.get("W2").length; i++) {
                g.get("W2")[i] -= 0.1 * p.get("W2")[i];
            }
        });
        bugs.put("dW1[0] 5% off", (g, p) -> g.get("W1")[0] *= 1.05);
        for (Map.Entry<String, BiConsumer<Map<String, double[]>, Map<String, double[]>>> bug : bugs.entrySet()) {
            AssertionError e = assertThrows(AssertionError.class,
                    () -> check("batchnorm with " + bug.getKey(), bn, 42, false, bug.getValue()), bug.getKey());
            assertTrue(e.getMessage().contains("FIRST BAD INDEX"), e.getMessage());
        }
    }

    /**
     * A sweep over random instances: the bounds follow each instance's conditioning (a batch statistic over N = 4
     * rows can have a tiny variance, whose 1/σ amplifies every rounding before it), so the same criteria hold on all
     * of them. Instances where a ReLU input lies within reach of its kink are skipped.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("sweep")
    void gradientsStayAtFloat32RoundOffAcrossRandomInstances(String name, FullyConnectedNetConfig config, long dataSeed) {
        check(name, config, dataSeed, true, NO_PLANT);
    }

    static List<Arguments> sweep() {
        List<Arguments> l = new ArrayList<>();
        for (int seed = 100; seed < 110; seed++) {
            for (Normalization norm : List.of(Normalization.NONE, Normalization.BATCH, Normalization.LAYER)) {
                l.add(Arguments.of(norm.id() + " seed " + seed, FullyConnectedNetConfig.builder(D, K).hidden(7, 5)
                        .normalization(norm).dropoutKeep(seed % 2 == 0 ? 1 : 0.8).heInit().reg(0.05).seed(seed).build(),
                        seed));
            }
        }
        return l;
    }

    private static final BiConsumer<Map<String, double[]>, Map<String, double[]>> NO_PLANT = (g, p) -> {
    };

    /**
     * Checks one instance; {@code plant} may alter the backend's analytic gradients given the parameters (to show
     * that the check fails).
     */
    private static void check(String name, FullyConnectedNetConfig config, long dataSeed, boolean sweep,
                              BiConsumer<Map<String, double[]>, Map<String, double[]>> plant) {
        Random rnd = new Random(dataSeed);
        float[] x = new float[N * D];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        int[] y = {0, 2, 1, 2};
        float[] yf = {0, 2, 1, 2};

        try (SequentialNet net = new SequentialNet(backend, config);
             Tensor xt = backend.upload(x, Shape.of(N, D));
             Tensor yt = backend.upload(yf, Shape.of(N))) {
            // Float64 copies of exactly the parameters the backend uses (under the CS231N names the reference
            // and the error model use), and the dropout masks' Philox keys.
            Map<String, String> cs231n = new LinkedHashMap<>();
            config.legacyNames().forEach((old, now) -> cs231n.put(now, old));
            Map<String, double[]> params = new LinkedHashMap<>();
            net.parameters().forEach((n, p) -> params.put(cs231n.get(n), toDouble(p.value().toArray())));
            List<Long> seeds = new ArrayList<>();
            List<Long> offsets = new ArrayList<>();
            for (Layer l : net.layers()) {
                if (l instanceof DropoutLayer d) {
                    seeds.add(d.seed());
                    offsets.add(d.offset());
                }
            }
            long[] s = toLongs(seeds);
            long[] o = toLongs(offsets);
            Float64ReferenceNet ref = new Float64ReferenceNet(config, s, o);
            double[] xd = toDouble(x);

            float analyticLoss = net.loss(xt, yt).item();
            Map<String, double[]> analytic = new LinkedHashMap<>();
            net.parameters().forEach((n, p) -> analytic.put(cs231n.get(n), toDouble(p.grad().toArray())));
            plant.accept(analytic, params);
            double refLoss = ref.loss(params, xd, y, N);
            NetErrorModel e32 = new NetErrorModel(config, s, o, params, xd, y, N, Tolerance.U);
            NetErrorModel e64 = new NetErrorModel(config, s, o, params, xd, y, N, Tolerance.U64);
            Map<String, NumericalGradient.Estimate> numerical = ref.numericalGradient(params, xd, y, N, H,
                    e64.lossError);
            String invalid = ref.kinkCrossed() ? "a central difference moves a ReLU input across its kink"
                    : e32.reluMargin <= 0 ? "a ReLU input lies within float32 round-off of its kink" : null;
            if (sweep) {
                assumeTrue(invalid == null, invalid);
            } else {
                assertTrue(invalid == null, name + ": " + invalid + "; pick another instance");
            }

            StringBuilder report = new StringBuilder(String.format(Locale.ROOT,
                    "%s: loss %.9f (float64 %.9f), error %.2e, bound FC_NET_LOSS %.2e%n", name, analyticLoss,
                    refLoss, Math.abs(analyticLoss - refLoss), Tolerance.SAFETY * e32.lossError));
            boolean ok = Math.abs(analyticLoss - refLoss) <= Tolerance.SAFETY * e32.lossError;
            // the error model's float64 forward and backward are the net's: same loss, gradients within E_num
            boolean modelOk = Math.abs(e64.loss - refLoss) <= Tolerance.SAFETY * e64.lossError;
            double diff2 = 0;
            double bound2 = 0;
            double n2 = 0;
            for (Map.Entry<String, Parameter> e : net.parameters().entrySet()) {
                String p = cs231n.get(e.getKey());
                double[] a = analytic.get(p);
                double[] num = numerical.get(p).grad();
                double[] numErr = numerical.get(p).error();
                double[] err32 = e32.gradError.get(p);
                double worstRatio = 0;
                double maxErr = 0;
                int worst = -1;
                int firstBad = -1;
                for (int i = 0; i < a.length; i++) {
                    double err = Math.abs(a[i] - num[i]);
                    double bound = Tolerance.SAFETY * (err32[i] + numErr[i]);
                    diff2 += err * err;
                    bound2 += bound * bound;
                    n2 += num[i] * num[i];
                    if (err > maxErr || worst < 0) {
                        maxErr = err;
                        worst = i;
                    }
                    worstRatio = Math.max(worstRatio, err / bound);
                    if (firstBad < 0 && !(err <= bound)) {
                        firstBad = i;
                    }
                    double modelBound = Tolerance.SAFETY * (e64.gradError.get(p)[i] + numErr[i]);
                    modelOk &= Math.abs(e64.grad.get(p)[i] - num[i]) <= modelBound;
                }
                ok &= firstBad < 0;
                report.append(String.format(Locale.ROOT,
                        "  %-6s shape %-7s max abs error %.2e at %d (bound FC_NET_GRADIENT %.2e there; worst "
                                + "error/bound %.2f; CS231N rel error %.1e)%s%n",
                        p, e.getValue().grad().shape(), maxErr, worst,
                        Tolerance.SAFETY * (err32[worst] + numErr[worst]), worstRatio,
                        NumericalGradient.relativeError(a, num),
                        firstBad < 0 ? "" : String.format(Locale.ROOT,
                                "  FIRST BAD INDEX %d: analytic %.9g numerical %.9g bound %.2e", firstBad,
                                a[firstBad], num[firstBad], Tolerance.SAFETY * (err32[firstBad] + numErr[firstBad]))));
            }
            boolean normOk = Math.sqrt(diff2) <= Math.sqrt(bound2);
            ok &= normOk;
            report.append(String.format(Locale.ROOT,
                    "  whole gradient (%d values): ||a - n|| %.2e, bound FC_NET_GRADIENT_NORM %.2e "
                            + "(relative to ||n||: %.2e of %.2e)%n", net.parameterCount(), Math.sqrt(diff2),
                    Math.sqrt(bound2), Math.sqrt(diff2 / n2), Math.sqrt(bound2 / n2)));
            if (!modelOk) {
                report.append("  the error model's own float64 loss or gradients disagree with the reference net "
                        + "(a bug in NetErrorModel, not in the backend)\n");
            }
            if (!sweep) {
                System.out.print(report);
            }
            assertTrue(ok && modelOk, report.toString());
        }
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

    private static long[] toLongs(List<Long> l) {
        return l.stream().mapToLong(Long::longValue).toArray();
    }
}
