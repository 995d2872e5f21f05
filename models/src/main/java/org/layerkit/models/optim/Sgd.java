package org.layerkit.models.optim;

import java.util.List;
import java.util.Map;

import org.layerkit.api.Parameter;

/** Vanilla SGD: w −= lr·dw. No state. */
public final class Sgd extends Optimizer {
    Sgd(OptimizerConfig config, Map<String, Parameter> parameters) {
        super(config, parameters, List.of());
    }

    @Override
    protected void update(String name, Parameter p, float lr) {
        backend.sgd(p.value(), p.grad(), lr);
    }
}
