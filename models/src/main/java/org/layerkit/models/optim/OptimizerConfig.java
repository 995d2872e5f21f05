package org.layerkit.models.optim;

import java.util.LinkedHashMap;
import java.util.Map;

import org.layerkit.api.Contracts;
import org.layerkit.api.Parameter;
import org.layerkit.models.MapFields;

/**
 * An update rule and its hyper-parameters, with CS231N {@code optim.py} defaults: learning rate 1e-2 (1e-3 for
 * Adam), momentum 0.9, RMSProp decay_rate 0.99, eps 1e-8, β1 0.9, β2 0.999. Fields that a rule does not use are
 * ignored by it.
 */
public record OptimizerConfig(OptimizerKind kind, double learningRate, double momentum, double decayRate,
                              double beta1, double beta2, double eps) implements java.io.Serializable {
    public static final double DEFAULT_MOMENTUM = 0.9;
    public static final double DEFAULT_DECAY_RATE = 0.99;
    public static final double DEFAULT_EPS = 1e-8;
    public static final double DEFAULT_BETA1 = 0.9;
    public static final double DEFAULT_BETA2 = 0.999;

    public OptimizerConfig {
        if (kind == null) {
            throw new IllegalArgumentException("OptimizerConfig: kind expected sgd, sgd_momentum, rmsprop or adam, got null");
        }
        check(learningRate >= 0 && Double.isFinite(learningRate), "learningRate", "a finite value >= 0", learningRate);
        check(momentum >= 0 && momentum < 1, "momentum", "a value in [0,1)", momentum);
        check(decayRate >= 0 && decayRate < 1, "decayRate", "a value in [0,1)", decayRate);
        check(beta1 >= 0 && beta1 < 1, "beta1", "a value in [0,1)", beta1);
        check(beta2 >= 0 && beta2 < 1, "beta2", "a value in [0,1)", beta2);
        check(eps > 0 && Double.isFinite(eps), "eps", "a finite value > 0", eps);
    }

    private static void check(boolean ok, String arg, String expected, double actual) {
        if (!ok) {
            throw Contracts.bad("OptimizerConfig", arg, expected, actual);
        }
    }

    /** The {@code optim.py} defaults for {@code kind}. */
    public static OptimizerConfig defaults(OptimizerKind kind) {
        return new OptimizerConfig(kind, kind == OptimizerKind.ADAM ? 1e-3 : 1e-2, DEFAULT_MOMENTUM, DEFAULT_DECAY_RATE,
                DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_EPS);
    }

    /** w −= lr·dw. */
    public static OptimizerConfig sgd(double learningRate) {
        return defaults(OptimizerKind.SGD).withLearningRate(learningRate);
    }

    /** v = μ·v − lr·dw; w += v (μ = 0.9). */
    public static OptimizerConfig sgdMomentum(double learningRate) {
        return defaults(OptimizerKind.SGD_MOMENTUM).withLearningRate(learningRate);
    }

    /** c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε) (ρ = 0.99, ε = 1e-8). */
    public static OptimizerConfig rmsprop(double learningRate) {
        return defaults(OptimizerKind.RMSPROP).withLearningRate(learningRate);
    }

    /** Adam with bias correction (β1 0.9, β2 0.999, ε 1e-8). */
    public static OptimizerConfig adam(double learningRate) {
        return defaults(OptimizerKind.ADAM).withLearningRate(learningRate);
    }

    public OptimizerConfig withLearningRate(double lr) {
        return new OptimizerConfig(kind, lr, momentum, decayRate, beta1, beta2, eps);
    }

    public OptimizerConfig withMomentum(double m) {
        return new OptimizerConfig(kind, learningRate, m, decayRate, beta1, beta2, eps);
    }

    public OptimizerConfig withDecayRate(double d) {
        return new OptimizerConfig(kind, learningRate, momentum, d, beta1, beta2, eps);
    }

    public OptimizerConfig withBetas(double b1, double b2) {
        return new OptimizerConfig(kind, learningRate, momentum, decayRate, b1, b2, eps);
    }

    public OptimizerConfig withEps(double e) {
        return new OptimizerConfig(kind, learningRate, momentum, decayRate, beta1, beta2, e);
    }

    /** Creates the optimizer for {@code parameters} (e.g. {@code net.parameters()}), its state zeroed on their backend. */
    public Optimizer create(Map<String, Parameter> parameters) {
        return switch (kind) {
            case SGD -> new Sgd(this, parameters);
            case SGD_MOMENTUM -> new SgdMomentum(this, parameters);
            case RMSPROP -> new RmsProp(this, parameters);
            case ADAM -> new Adam(this, parameters);
        };
    }

    /** The configuration as ordered string pairs (what checkpoints store); {@link #fromMap} reads it back. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("kind", kind.id());
        m.put("learning_rate", Double.toString(learningRate));
        m.put("momentum", Double.toString(momentum));
        m.put("decay_rate", Double.toString(decayRate));
        m.put("beta1", Double.toString(beta1));
        m.put("beta2", Double.toString(beta2));
        m.put("eps", Double.toString(eps));
        return m;
    }

    /**
     * Parses {@link #toMap()}; absent hyper-parameters take the defaults of the kind, a malformed one is an
     * IllegalArgumentException naming the field.
     */
    public static OptimizerConfig fromMap(Map<String, String> m) {
        String k = MapFields.string(m, "kind");
        OptimizerKind kind;
        try {
            kind = OptimizerKind.parse(k);
        } catch (IllegalArgumentException e) {
            throw MapFields.malformed("kind", "sgd, sgd_momentum, rmsprop or adam", k);
        }
        OptimizerConfig d = defaults(kind);
        return new OptimizerConfig(d.kind,
                MapFields.real(m, "learning_rate", d.learningRate), MapFields.real(m, "momentum", d.momentum),
                MapFields.real(m, "decay_rate", d.decayRate), MapFields.real(m, "beta1", d.beta1),
                MapFields.real(m, "beta2", d.beta2), MapFields.real(m, "eps", d.eps));
    }

    @Override
    public String toString() {
        return switch (kind) {
            case SGD -> "sgd lr=" + learningRate;
            case SGD_MOMENTUM -> "sgd_momentum lr=" + learningRate + " momentum=" + momentum;
            case RMSPROP -> "rmsprop lr=" + learningRate + " decay_rate=" + decayRate + " eps=" + eps;
            case ADAM -> "adam lr=" + learningRate + " beta1=" + beta1 + " beta2=" + beta2 + " eps=" + eps;
        };
    }
}
