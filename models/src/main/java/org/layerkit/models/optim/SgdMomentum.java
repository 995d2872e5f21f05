package org.layerkit.models.optim;

import java.util.List;
import java.util.Map;

import org.layerkit.api.Parameter;

/** SGD with momentum: v = μ·v − lr·dw; w += v. State slot {@code velocity}. */
public final class SgdMomentum extends Optimizer {
    private final float momentum;

    SgdMomentum(OptimizerConfig config, Map<String, Parameter> parameters) {
        super(config, parameters, List.of("velocity"));
        this.momentum = (float) config.momentum();
    }

    @Override
    protected void update(String name, Parameter p, float lr) {
        backend.sgdMomentum(p.value(), p.grad(), state(name, "velocity"), lr, momentum);
    }
}
