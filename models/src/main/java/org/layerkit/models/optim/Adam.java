package org.layerkit.models.optim;

import java.util.List;
import java.util.Map;

import org.layerkit.api.Parameter;

/** Adam with bias correction at step t: state slots {@code m} (first moment) and {@code v} (second moment). */
public final class Adam extends Optimizer {
    private final float beta1;
    private final float beta2;
    private final float eps;

    Adam(OptimizerConfig config, Map<String, Parameter> parameters) {
        super(config, parameters, List.of("m", "v"));
        this.beta1 = (float) config.beta1();
        this.beta2 = (float) config.beta2();
        this.eps = (float) config.eps();
    }

    @Override
    protected void update(String name, Parameter p, float lr) {
        long t = stepCount();
        if (t > Integer.MAX_VALUE) {
            throw new IllegalStateException("adam: step count " + t + " exceeds the kernel's int range");
        }
        backend.adam(p.value(), p.grad(), state(name, "m"), state(name, "v"), lr, beta1, beta2, eps, (int) t);
    }
}
