package org.layerkit.models.optim;

import java.util.List;
import java.util.Map;

import org.layerkit.api.Parameter;

/** RMSProp: c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε). State slot {@code cache}. */
public final class RmsProp extends Optimizer {
    private final float decayRate;
    private final float eps;

    RmsProp(OptimizerConfig config, Map<String, Parameter> parameters) {
        super(config, parameters, List.of("cache"));
        this.decayRate = (float) config.decayRate();
        this.eps = (float) config.eps();
    }

    @Override
    protected void update(String name, Parameter p, float lr) {
        backend.rmsprop(p.value(), p.grad(), state(name, "cache"), lr, decayRate, eps);
    }
}
