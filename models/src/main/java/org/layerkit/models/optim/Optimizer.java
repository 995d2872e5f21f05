package org.layerkit.models.optim;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Parameter;
import org.layerkit.api.Tensor;

/**
 * Updates a fixed set of named parameters in place from their gradients, with the backend's update kernels. Its
 * state (velocity, caches, moments) is zero-initialised on the parameters' backend at construction and exposed by
 * name ({@code <parameter>.<slot>}, e.g. {@code W1.m}) so that checkpoints can save and restore it.
 *
 * <p>The learning rate is mutable so that a solver can decay it; the step count t (Adam's bias correction) starts at
 * 0 and {@link #step()} increments it before updating. Create one with {@link OptimizerConfig#create}.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final Backend backend;
    private final OptimizerConfig initial;
    private final Map<String, Parameter> parameters;
    private final Map<String, Tensor> state = new LinkedHashMap<>();
    private double learningRate;
    private long steps;
    private boolean closed;

    protected Optimizer(OptimizerConfig config, Map<String, Parameter> parameters, List<String> slots) {
        if (parameters.isEmpty()) {
            throw new IllegalArgumentException(config.kind().id() + ": parameters expected at least one, got none");
        }
        this.initial = config;
        this.learningRate = config.learningRate();
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        this.backend = parameters.values().iterator().next().value().backend();
        for (Map.Entry<String, Parameter> e : this.parameters.entrySet()) {
            for (String slot : slots) {
                state.put(e.getKey() + "." + slot, backend.zeros(e.getValue().value().shape()));
            }
        }
    }

    /** The rule and hyper-parameters, with the current learning rate. */
    public OptimizerConfig config() {
        return initial.withLearningRate(learningRate);
    }

    public OptimizerKind kind() {
        return initial.kind();
    }

    public double learningRate() {
        return learningRate;
    }

    public void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(kind().id() + ": learningRate expected a finite value >= 0, got " + lr);
        }
        learningRate = lr;
    }

    /** The number of {@link #step()} calls so far (t). */
    public long stepCount() {
        return steps;
    }

    /** Restores t, e.g. from a checkpoint. */
    public void setStepCount(long t) {
        if (t < 0) {
            throw new IllegalArgumentException(kind().id() + ": stepCount expected >= 0, got " + t);
        }
        steps = t;
    }

    /** The parameters this optimizer updates, by name. */
    public Map<String, Parameter> parameters() {
        return parameters;
    }

    /** The state tensors by {@code <parameter>.<slot>} name; the optimizer's own (restoring writes into them). */
    public Map<String, Tensor> state() {
        return Collections.unmodifiableMap(state);
    }

    /** One update of every parameter from its current gradient (t is incremented first). */
    public void step() {
        if (closed) {
            throw new IllegalStateException(kind().id() + ": the optimizer has been closed");
        }
        steps++;
        float lr = (float) learningRate;
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            update(e.getKey(), e.getValue(), lr);
        }
    }

    /** Applies the rule to one parameter. */
    protected abstract void update(String name, Parameter p, float lr);

    /** The state tensor {@code <name>.<slot>}. */
    protected final Tensor state(String name, String slot) {
        return state.get(name + "." + slot);
    }

    /** Releases the state tensors (not the parameters). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            state.values().forEach(Tensor::close);
        }
    }
}
