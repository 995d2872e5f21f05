package org.layerkit.models.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.conformance.Bounds;
import org.layerkit.conformance.Tolerance;

class OptimizerTest {
    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    @Test
    void defaultsAreThoseOfCs231nOptim() {
        OptimizerConfig a = OptimizerConfig.defaults(OptimizerKind.ADAM);
        assertEquals(1e-3, a.learningRate());
        assertEquals(0.9, a.beta1());
        assertEquals(0.999, a.beta2());
        assertEquals(1e-8, a.eps());
        assertEquals(0.9, OptimizerConfig.defaults(OptimizerKind.SGD_MOMENTUM).momentum());
        assertEquals(0.99, OptimizerConfig.defaults(OptimizerKind.RMSPROP).decayRate());
        assertEquals(1e-2, OptimizerConfig.defaults(OptimizerKind.SGD).learningRate());
    }

    /**
     * Three updates on the backend agree with the optim.py formulas evaluated in double precision from the float
     * hyperparameters the backend receives, within OPTIMIZER_W (docs/tolerances.md) carried over the steps.
     */
    @ParameterizedTest
    @EnumSource(OptimizerKind.class)
    void updatesFollowOptimPyFormulas(OptimizerKind kind) {
        float[] w0 = {0.5f, -1.25f, 2f, 0f, 3f, -0.1f};
        float[][] grads = {{0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f}, {-0.3f, 0.2f, 0.1f, 0f, 0.5f, -0.6f},
                {0.05f, 0.05f, -1f, 2f, 0.1f, 0.2f}};
        OptimizerConfig cfg = OptimizerConfig.defaults(kind).withLearningRate(0.05);
        Shape s = Shape.of(2, 3);
        Parameter p = new Parameter("W1", backend.upload(w0, s), backend.zeros(s));
        double[] w = new double[6];
        double[] a = new double[6];
        double[] b = new double[6];
        for (int i = 0; i < 6; i++) {
            w[i] = w0[i];
        }
        // the hyperparameters as the backend gets them: rounded to float
        double lr = (float) cfg.learningRate();
        double momentum = (float) cfg.momentum();
        double decay = (float) cfg.decayRate();
        double beta1 = (float) cfg.beta1();
        double beta2 = (float) cfg.beta2();
        double eps = (float) cfg.eps();
        Bounds.OptimizerErrors err = new Bounds.OptimizerErrors(6);
        String rule = switch (kind) {
            case SGD -> "sgd";
            case SGD_MOMENTUM -> "sgd_momentum";
            case RMSPROP -> "rmsprop";
            case ADAM -> "adam";
        };
        try (Optimizer opt = cfg.create(Map.of("W1", p))) {
            for (int t = 1; t <= 3; t++) {
                try (var g = backend.upload(grads[t - 1], s)) {
                    backend.copy(g, p.grad());
                }
                opt.step();
                double[] g = new double[6];
                for (int i = 0; i < 6; i++) {
                    g[i] = grads[t - 1][i];
                }
                err.step(rule, w, a, b, g, lr, momentum, decay, beta1, beta2, eps, t);
                for (int i = 0; i < 6; i++) {
                    double dw = grads[t - 1][i];
                    switch (kind) {
                        case SGD -> w[i] -= lr * dw;
                        case SGD_MOMENTUM -> {
                            a[i] = momentum * a[i] - lr * dw;
                            w[i] += a[i];
                        }
                        case RMSPROP -> {
                            a[i] = decay * a[i] + (1 - decay) * dw * dw;
                            w[i] -= lr * dw / (Math.sqrt(a[i]) + eps);
                        }
                        case ADAM -> {
                            a[i] = beta1 * a[i] + (1 - beta1) * dw;
                            b[i] = beta2 * b[i] + (1 - beta2) * dw * dw;
                            double mt = a[i] / (1 - Math.pow(beta1, t));
                            double vt = b[i] / (1 - Math.pow(beta2, t));
                            w[i] -= lr * mt / (Math.sqrt(vt) + eps);
                        }
                    }
                }
            }
            float[] got = p.value().toArray();
            Tolerance tol = Tolerance.derived("OPTIMIZER_W", Tolerance.maxAbs(err.w), 0);
            for (int i = 0; i < 6; i++) {
                assertTrue(tol.accepts(got[i], w[i]), kind + " element " + i + ": expected " + w[i] + ", got "
                        + got[i] + ", error " + Math.abs(got[i] - w[i]) + " outside " + tol);
            }
            assertEquals(3, opt.stepCount());
        } finally {
            p.value().close();
            p.grad().close();
        }
    }

    @Test
    void stateIsNamedByParameterAndSlotAndLivesOnTheBackend() {
        Shape s = Shape.of(3);
        Parameter p = new Parameter("b1", backend.zeros(s), backend.zeros(s));
        try (Optimizer adam = OptimizerConfig.adam(1e-3).create(Map.of("b1", p));
             Optimizer mom = OptimizerConfig.sgdMomentum(1e-2).create(Map.of("b1", p));
             Optimizer rms = OptimizerConfig.rmsprop(1e-2).create(Map.of("b1", p));
             Optimizer sgd = OptimizerConfig.sgd(1e-2).create(Map.of("b1", p))) {
            assertEquals(List.of("b1.m", "b1.v"), List.copyOf(adam.state().keySet()));
            assertEquals(List.of("b1.velocity"), List.copyOf(mom.state().keySet()));
            assertEquals(List.of("b1.cache"), List.copyOf(rms.state().keySet()));
            assertTrue(sgd.state().isEmpty());
            assertTrue(adam.state().values().stream().allMatch(t -> t.backend() == backend));
        } finally {
            p.value().close();
            p.grad().close();
        }
    }

    @Test
    void configRoundTripsAndBadValuesAreNamed() {
        OptimizerConfig c = OptimizerConfig.rmsprop(3e-4).withDecayRate(0.9).withEps(1e-6);
        assertEquals(c, OptimizerConfig.fromMap(c.toMap()));
        assertEquals(OptimizerKind.SGD_MOMENTUM, OptimizerKind.parse("SGD-Momentum"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OptimizerConfig.adam(-1));
        assertTrue(e.getMessage().contains("learningRate"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> OptimizerKind.parse("adagrad"));
        assertTrue(e.getMessage().contains("adagrad"), e.getMessage());
    }
}
