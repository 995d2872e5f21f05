package org.layerkit.models;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Layers;
import org.layerkit.api.LossResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.layers.StatefulLayer;

/**
 * The one net of layerkit: an ordered list of {@link Layer}s (built from a {@link NetSpec} through the
 * {@code LayerFactory} SPI) followed by softmax cross-entropy, as PyTorch's {@code nn.Sequential} and DJL's
 * {@code SequentialBlock}. The MLP ({@link FullyConnectedNetConfig}) and the CNN ({@link ConvNetConfig}) are
 * configurations of it, so the {@code Solver}, checkpoints, evaluation and export work on both alike.
 *
 * <p><b>Shapes.</b> The net takes {@code [N, inputShape…]} ({@code [N,784]} for the MLP, {@code [N,1,28,28]} for the
 * Fashion-MNIST CNN; a flat {@code [N, D]} batch is also accepted for image nets and viewed as images). When the net is
 * built, each layer's output shape is chained from the input shape ({@link Layer#outputShape}), so a layer that cannot
 * take its predecessor's output is refused before any data flows, naming both.
 *
 * <p><b>Names.</b> Parameters, buffers and counters are named {@code <index>.<name>} after the layer's position
 * ({@code 0.W}, {@code 0.b}, {@code 1.gamma}, {@code 1.running_mean}, {@code 3.offset}), as in a PyTorch
 * {@code state_dict}: stable for a given spec, so checkpoints and exports name tensors reliably.
 * {@link FullyConnectedNetConfig#legacyNames()} maps CS231N's names ({@code W1}, {@code gamma1}, …) to these.
 *
 * <p><b>Training.</b> {@link #loss} runs a TRAIN forward, the loss (plus 0.5·reg·ΣW² over every parameter named
 * {@code W}) and the backward, overwriting every gradient; the backward stops at the first layer with parameters and
 * asks it for no input gradient (the data needs none: one GEMM of three saved for an affine or conv layer).
 *
 * <p>Tensors returned by {@link #loss}, {@link #forward} and {@link #scores} belong to the net and stay valid until
 * the next call of any of them; the caller keeps ownership of its inputs. Not thread-safe: a net (its layers keep
 * each forward's caches for the backward) is used by one thread at a time; nets on different threads may share one
 * backend.
 *
 * <pre>{@code
 * try (SequentialNet net = new SequentialNet(backend, ConvNetConfig.preset("fashion", Shape.of(1, 28, 28), 10).build())) {
 *     float loss = net.loss(x, y).item();  // TRAIN forward + backward: every Parameter.grad is overwritten
 *     int[] labels = net.predict(x);       // EVAL forward + argmax
 * }
 * }</pre>
 */
public final class SequentialNet implements AutoCloseable {
    /** The name of the parameters L2 regularization applies to (affine and conv weights). */
    public static final String REGULARIZED = "W";

    private final Backend backend;
    private final NetSpec spec;
    private final List<Layer> layers = new ArrayList<>();
    private final List<Shape> outputShapes = new ArrayList<>();
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, StatefulLayer> stateful = new LinkedHashMap<>();
    private final List<Parameter> regularized = new ArrayList<>();
    /** The first layer with parameters (the backward stops there), or layers.size() if none has any. */
    private int firstTrainable;
    private LossResult lossResult;
    private Tensor inputView;
    private boolean closed;

    /** Builds the layers of {@code config}'s spec on {@code backend}, chaining their shapes. */
    public SequentialNet(Backend backend, NetConfig config) {
        if (backend == null) {
            throw new IllegalArgumentException("SequentialNet: backend expected a Backend, got null");
        }
        if (config == null) {
            throw new IllegalArgumentException("SequentialNet: config expected a NetConfig, got null");
        }
        this.backend = backend;
        this.spec = config.spec();
        Map<String, LayerFactory> factories = Layers.factories();
        Shape shape = batchShape(1);
        firstTrainable = -1;
        try {
            for (int i = 0; i < spec.layers().size(); i++) {
                LayerSpec ls = spec.layers().get(i);
                LayerFactory f = factories.get(ls.type());
                if (f == null) {
                    throw new IllegalArgumentException("SequentialNet: layer " + i + " has unknown type '" + ls.type()
                            + "'; registered types: " + factories.keySet());
                }
                Layer layer;
                try {
                    layer = f.create(backend, ls.config());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("SequentialNet: layer " + i + " (" + ls + "): " + e.getMessage(),
                            e);
                }
                add(layer, i);
                try {
                    shape = layer.outputShape(shape);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("SequentialNet: layer " + i + " (" + ls.type()
                            + ") cannot take " + (i == 0 ? "the input, one example " + spec.inputShape()
                            : "the output of layer " + (i - 1) + " (" + spec.layers().get(i - 1).type() + "), "
                            + perExample(outputShapes.get(i - 1))) + ": " + e.getMessage(), e);
                }
                outputShapes.add(shape);
            }
            Shape expected = Shape.of(1, spec.numClasses());
            if (!shape.equals(expected)) {
                throw new IllegalArgumentException("SequentialNet: the last layer expected to output " + expected
                        + " class scores per example (" + spec.numClasses() + " classes), got " + perExample(shape));
            }
            if (firstTrainable < 0) {
                firstTrainable = layers.size();
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static String perExample(Shape batchOfOne) {
        int[] d = batchOfOne.dims();
        return d.length == 1 ? "a scalar" : Shape.of(java.util.Arrays.copyOfRange(d, 1, d.length)) + " per example";
    }

    private void add(Layer layer, int index) {
        layers.add(layer);
        List<Parameter> ps = layer.parameters();
        if (!ps.isEmpty() && firstTrainable < 0) {
            firstTrainable = index;
        }
        for (Parameter p : ps) {
            parameters.put(index + "." + p.name(), p);
            if (REGULARIZED.equals(p.name())) {
                regularized.add(p);
            }
        }
        layer.buffers().forEach((name, t) -> buffers.put(index + "." + name, t));
        if (layer instanceof StatefulLayer s) {
            stateful.put(Integer.toString(index), s);
        }
    }

    public Backend backend() {
        return backend;
    }

    /** What the net was built from. */
    public NetSpec spec() {
        return spec;
    }

    /** One example's shape ({@code [784]}, {@code [1,28,28]}). */
    public Shape inputShape() {
        return spec.inputShape();
    }

    /** The number of input values per example, D = the product of {@link #inputShape()}. */
    public int inputSize() {
        return spec.inputShape().size();
    }

    /** K. */
    public int numClasses() {
        return spec.numClasses();
    }

    /** The shape of a batch of {@code n} examples: {@code [n, inputShape…]}. */
    public Shape batchShape(int n) {
        int[] d = spec.inputShape().dims();
        int[] b = new int[d.length + 1];
        b[0] = n;
        System.arraycopy(d, 0, b, 1, d.length);
        return Shape.of(b);
    }

    /** The layers in forward order (without the loss). */
    public List<Layer> layers() {
        return Collections.unmodifiableList(layers);
    }

    /** Layer {@code i}'s output shape for a batch of {@code n}. */
    public Shape outputShape(int i, int n) {
        int[] d = outputShapes.get(i).dims();
        d[0] = n;
        return Shape.of(d);
    }

    /** Every trainable parameter by {@code <index>.<name>}, in forward order. */
    public Map<String, Parameter> parameters() {
        return Collections.unmodifiableMap(parameters);
    }

    /** Non-trainable state by {@code <index>.<name>} ({@code 1.running_mean}, …); the net's own tensors. */
    public Map<String, Tensor> buffers() {
        return Collections.unmodifiableMap(buffers);
    }

    /** Integer layer state by {@code <index>.<name>} ({@code 1.batches_tracked}, {@code 3.offset}), a snapshot. */
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
            throw new IllegalArgumentException("SequentialNet: unknown counter '" + name + "'; have "
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

    /**
     * One line per layer: index, type, output shape per example and parameter count, like Keras' {@code summary()}.
     */
    public String summary() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-5s %-18s %-16s %10s%n", "layer", "type", "output", "params"));
        b.append(String.format(Locale.ROOT, "%-5s %-18s %-16s %10s%n", "", "input", spec.inputShape(), ""));
        for (int i = 0; i < layers.size(); i++) {
            long n = 0;
            for (Parameter p : layers.get(i).parameters()) {
                n += p.value().size();
            }
            int[] d = outputShapes.get(i).dims();
            b.append(String.format(Locale.ROOT, "%-5d %-18s %-16s %10s%n", i, layers.get(i).type(),
                    Shape.of(java.util.Arrays.copyOfRange(d, 1, d.length)), n == 0 ? "" : Long.toString(n)));
        }
        b.append(String.format(Locale.ROOT, "%d parameters", parameterCount()));
        return b.toString().lines().map(String::stripTrailing).collect(java.util.stream.Collectors.joining("\n"));
    }

    /**
     * Runs the layers on x {@code [N, inputShape…]} (or a flat {@code [N, D]}); the result {@code [N,K]} belongs to
     * the last layer.
     */
    public Tensor forward(Tensor x, Mode mode) {
        requireOpen();
        Tensor h = input(x);
        for (Layer layer : layers) {
            h = layer.forward(h, mode);
        }
        return h;
    }

    /** x itself when it has the input's shape, a view of it as {@code [N, inputShape…]} when it is a flat [N, D]. */
    private Tensor input(Tensor x) {
        if (x == null) {
            throw new IllegalArgumentException("SequentialNet.forward: x expected a tensor, got null");
        }
        Shape s = x.shape();
        int n = s.dim(0);
        if (s.equals(batchShape(n))) {
            return x;
        }
        if (s.rank() == 2 && s.dim(1) == inputSize()) {
            if (inputView != null) {
                inputView.close();
            }
            inputView = backend.reshape(x, batchShape(n));
            return inputView;
        }
        throw new IllegalArgumentException("SequentialNet.forward: x expected shape " + batchShape(n)
                + (spec.inputShape().rank() > 1 ? " (or [" + n + "," + inputSize() + "])" : "") + ", got " + s);
    }

    /** Class scores {@code [N,K]} of x in EVAL mode (running batch-norm statistics, no dropout). */
    public Tensor scores(Tensor x) {
        return forward(x, Mode.EVAL);
    }

    /**
     * The training loss of x against labels {@code [N]} (class indices as floats): a TRAIN forward, softmax
     * cross-entropy plus 0.5·reg·ΣW², and a backward that overwrites every parameter's gradient (dW includes reg·W).
     * Returns the loss as a one-element tensor that stays on the backend until read.
     */
    public Tensor loss(Tensor x, Tensor labels) {
        Tensor scores = forward(x, Mode.TRAIN);
        LossResult r = backend.softmaxCrossEntropy(scores, labels);
        if (lossResult != null) {
            lossResult.close();
        }
        lossResult = r;
        Tensor d = r.dLogits();
        for (int i = layers.size() - 1; i > firstTrainable; i--) {
            d = layers.get(i).backward(d);
        }
        if (firstTrainable < layers.size()) {
            layers.get(firstTrainable).backward(d, false); // its input is data (or depends on no parameter)
        }
        if (spec.reg() > 0) {
            float reg = (float) spec.reg();
            for (Parameter w : regularized) {
                backend.axpy(reg, w.value(), w.grad());           // dW += reg·W
                try (Tensor ss = backend.sumOfSquares(w.value())) {
                    backend.axpy(0.5f * reg, ss, r.loss());       // loss += 0.5·reg·ΣW²
                }
            }
        }
        return r.loss();
    }

    /** The predicted class of each example of x (EVAL mode). */
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

    /**
     * The predicted class of every example of {@code data}, in batches of {@code batchSize} rows taken in order (EVAL
     * mode): the path of {@code layerkit evaluate} and of the Spark scorer ({@code layerkit-spark}).
     */
    public int[] predict(Dataset data, int batchSize) {
        requireFits("SequentialNet.predict", data);
        if (batchSize < 1) {
            throw new IllegalArgumentException("SequentialNet.predict: batchSize expected >= 1, got " + batchSize);
        }
        int[] out = new int[data.size()];
        for (int from = 0; from < data.size(); from += batchSize) {
            int n = Math.min(batchSize, data.size() - from);
            try (Tensor x = backend.upload(data.featureSlice(from, n), batchShape(n))) {
                System.arraycopy(predict(x), 0, out, from, n);
            }
        }
        return out;
    }

    /** The fraction of {@code data} classified correctly, evaluated in batches of {@code batchSize} (EVAL mode). */
    public double accuracy(Dataset data, int batchSize) {
        if (data.size() == 0) {
            return Double.NaN;
        }
        requireFits("SequentialNet.accuracy", data);
        int b = Math.max(1, Math.min(batchSize, data.size()));
        long correct = 0;
        int[] labels = data.labels();
        for (int from = 0; from < data.size(); from += b) {
            int n = Math.min(b, data.size() - from);
            try (Tensor x = backend.upload(data.featureSlice(from, n), batchShape(n))) {
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

    /** Refuses data whose examples have another number of values than the net's input (naming both). */
    public void requireFits(String op, Dataset data) {
        if (data.featureCount() != inputSize()) {
            throw new IllegalArgumentException(op + ": data expected " + inputSize() + " values per example (input "
                    + spec.inputShape() + "), got " + data.featureCount() + " (" + data.name() + ")");
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("SequentialNet: the net has been closed");
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
        if (inputView != null) {
            inputView.close();
        }
        for (Layer l : layers) {
            l.close();
        }
    }

    @Override
    public String toString() {
        return "SequentialNet[" + spec + "]";
    }
}
