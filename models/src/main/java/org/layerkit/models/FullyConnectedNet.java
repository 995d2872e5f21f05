package org.layerkit.models;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LossResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.layers.AffineLayer;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.LayerNormLayer;
import org.layerkit.models.layers.ReluLayer;
import org.layerkit.models.layers.StatefulLayer;

/**
 * A fully connected classifier as in CS231N's {@code fc_net.py}:
 * {affine → [batchnorm | layernorm] → relu → [dropout]} × (L−1) → affine → softmax cross-entropy.
 *
 * <p>Everything lives on one backend: parameters, gradients, activations and the loss. Parameters are named as in
 * CS231N: {@code W1, b1, gamma1, beta1, …, WL, bL}; batch-norm running statistics are the buffers
 * {@code running_mean1, running_var1, …}.
 *
 * <p>Tensors returned by {@link #loss} and {@link #scores} belong to the net and stay valid until the next call of
 * either; the caller keeps ownership of its inputs. Not thread-safe: a net (its layers keep each forward's caches
 * for the backward) is used by one thread at a time; nets on different threads may share one backend.
 *
 * <pre>{@code
 * try (FullyConnectedNet net = new FullyConnectedNet(backend, config)) {
 *     float loss = net.loss(x, y).item();  // TRAIN forward + backward: every Parameter.grad is overwritten
 *     int[] labels = net.predict(x);       // EVAL forward + argmax
 * }
 * }</pre>
 */
public final class FullyConnectedNet implements AutoCloseable {
    private final Backend backend;
    private final FullyConnectedNetConfig config;
    private final List<Layer> layers = new ArrayList<>();
    private final List<AffineLayer> affines = new ArrayList<>();
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, StatefulLayer> stateful = new LinkedHashMap<>();
    private LossResult lossResult;
    private boolean closed;

    /** Builds the layers on {@code backend}, initialising weights from {@code config.seed()}. */
    public FullyConnectedNet(Backend backend, FullyConnectedNetConfig config) {
        this.backend = backend;
        this.config = config;
        SplittableRandom seeds = new SplittableRandom(config.seed());
        List<Integer> dims = new ArrayList<>();
        dims.add(config.inputDim());
        dims.addAll(config.hiddenDims());
        dims.add(config.numClasses());
        long[] affineSeeds = new long[config.numLayers()];
        long[] dropoutSeeds = new long[config.numLayers()];
        for (int i = 0; i < affineSeeds.length; i++) {
            affineSeeds[i] = seeds.nextLong();
        }
        for (int i = 0; i < dropoutSeeds.length; i++) {
            dropoutSeeds[i] = seeds.nextLong();
        }
        try {
            for (int i = 1; i <= config.numLayers(); i++) {
                AffineLayer affine = new AffineLayer(backend, dims.get(i - 1), dims.get(i), config.weightInit(),
                        affineSeeds[i - 1]);
                add(affine, i);
                affines.add(affine);
                if (i == config.numLayers()) {
                    break;
                }
                int width = dims.get(i);
                switch (config.normalization()) {
                    case BATCH -> add(new BatchNormLayer(backend, width, config.batchNorm()), i);
                    case LAYER -> add(new LayerNormLayer(backend, width, config.batchNorm().eps()), i);
                    case NONE -> { }
                }
                add(new ReluLayer(backend), i);
                if (config.useDropout()) {
                    add(new DropoutLayer(backend, config.dropoutKeep(), dropoutSeeds[i - 1]), i);
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void add(Layer layer, int index) {
        layers.add(layer);
        for (Parameter p : layer.parameters()) {
            parameters.put(p.name() + index, p);
        }
        layer.buffers().forEach((name, t) -> buffers.put(name + index, t));
        if (layer instanceof StatefulLayer s) {
            stateful.put(layer.type() + index, s);
        }
    }

    public Backend backend() {
        return backend;
    }

    public FullyConnectedNetConfig config() {
        return config;
    }

    /** The layers in forward order (without the loss). */
    public List<Layer> layers() {
        return Collections.unmodifiableList(layers);
    }

    /** Every trainable parameter by CS231N name ({@code W1, b1, gamma1, beta1, …}), in a stable order. */
    public Map<String, Parameter> parameters() {
        return Collections.unmodifiableMap(parameters);
    }

    /** Non-trainable state by name ({@code running_mean1, running_var1, …}); the net's own tensors. */
    public Map<String, Tensor> buffers() {
        return Collections.unmodifiableMap(buffers);
    }

    /**
     * Integer layer state by name ({@code batchnorm1.batches_tracked}, {@code dropout1.offset}, …), a snapshot.
     */
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        stateful.forEach((layer, s) -> s.counters().forEach((k, v) -> m.put(layer + "." + k, v)));
        return m;
    }

    /** Restores a counter named as in {@link #counters()}. */
    public void setCounter(String name, long value) {
        int dot = name.lastIndexOf('.');
        StatefulLayer s = dot < 0 ? null : stateful.get(name.substring(0, dot));
        if (s == null) {
            throw new IllegalArgumentException("FullyConnectedNet: unknown counter '" + name + "'; have "
                    + counters().keySet());
        }
        s.setCounter(name.substring(dot + 1), value);
    }

    /** The number of trainable scalars. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters.values()) {
            n += p.value().size();
        }
        return n;
    }

    /** Runs the layers on x {@code [N,D]}; the result {@code [N,K]} belongs to the last layer. */
    public Tensor forward(Tensor x, Mode mode) {
        requireOpen();
        Tensor h = x;
        for (Layer layer : layers) {
            h = layer.forward(h, mode);
        }
        return h;
    }

    /** Class scores {@code [N,K]} of x {@code [N,D]} in EVAL mode (running batch-norm statistics, no dropout). */
    public Tensor scores(Tensor x) {
        return forward(x, Mode.EVAL);
    }

    /**
     * The training loss of x {@code [N,D]} against labels {@code [N]} (class indices as floats): a TRAIN forward,
     * softmax cross-entropy plus 0.5·reg·ΣW², and a backward that overwrites every parameter's gradient
     * (dW includes reg·W). Returns the loss as a one-element tensor that stays on the backend until read.
     */
    public Tensor loss(Tensor x, Tensor labels) {
        Tensor scores = forward(x, Mode.TRAIN);
        LossResult r = backend.softmaxCrossEntropy(scores, labels);
        if (lossResult != null) {
            lossResult.close();
        }
        lossResult = r;
        Tensor d = r.dLogits();
        for (int i = layers.size() - 1; i >= 1; i--) {
            d = layers.get(i).backward(d);
        }
        affines.get(0).backwardParameters(d); // the first layer's input is data: no dX needed
        if (config.reg() > 0) {
            float reg = (float) config.reg();
            for (AffineLayer a : affines) {
                Parameter w = a.weight();
                backend.axpy(reg, w.value(), w.grad());           // dW += reg·W
                try (Tensor ss = backend.sumOfSquares(w.value())) {
                    backend.axpy(0.5f * reg, ss, r.loss());       // loss += 0.5·reg·ΣW²
                }
            }
        }
        return r.loss();
    }

    /** The predicted class of each row of x {@code [N,D]} (EVAL mode). */
    public int[] predict(Tensor x) {
        try (Tensor am = backend.argmax(scores(x))) {
            float[] f = am.toArray();
            int[] out = new int[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = (int) f[i];
            }
            return out;
        }
    }

    /** The fraction of {@code data} classified correctly, evaluated in batches of {@code batchSize} (EVAL mode). */
    public double accuracy(Dataset data, int batchSize) {
        if (data.size() == 0) {
            return Double.NaN;
        }
        if (data.featureCount() != config.inputDim()) {
            throw new IllegalArgumentException("FullyConnectedNet.accuracy: data expected " + config.inputDim()
                    + " features, got " + data.featureCount() + " (" + data.name() + ")");
        }
        int b = Math.max(1, Math.min(batchSize, data.size()));
        long correct = 0;
        int[] labels = data.labels();
        for (int from = 0; from < data.size(); from += b) {
            int n = Math.min(b, data.size() - from);
            try (Tensor x = backend.upload(data.featureSlice(from, n), Shape.of(n, data.featureCount()))) {
                int[] pred = predict(x);
                for (int i = 0; i < n; i++) {
                    if (pred[i] == labels[from + i]) {
                        correct++;
                    }
                }
            }
        }
        return (double) correct / data.size();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("FullyConnectedNet: the net has been closed");
        }
    }

    /** Releases every tensor of every layer. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (lossResult != null) {
            lossResult.close();
        }
        for (Layer l : layers) {
            l.close();
        }
    }
}
