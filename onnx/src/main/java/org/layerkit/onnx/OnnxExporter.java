package org.layerkit.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.Shape;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.AtomicFile;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Standardizer;
import org.layerkit.onnx.proto.GraphProto;
import org.layerkit.onnx.proto.ModelProto;
import org.layerkit.onnx.proto.OperatorSetIdProto;
import org.layerkit.onnx.proto.StringStringEntryProto;
import org.layerkit.onnx.proto.TensorProto;
import org.layerkit.onnx.proto.TensorShapeProto;
import org.layerkit.onnx.proto.TypeProto;
import org.layerkit.onnx.proto.ValueInfoProto;

/**
 * Exports a trained net's EVAL computation as an ONNX model: the layers in order, each mapped by its type
 * ({@link StandardLayers}), behind the input standardization the net was trained with, from pixels scaled to [0,1]
 * to class scores ({@code logits}). Docs: {@code docs/onnx.md}.
 *
 * <pre>{@code
 * OnnxExporter exporter = OnnxExporter.builder().opset(17).build();
 * try (Backend backend = Backends.get("cpu")) {
 *     ModelProto model = exporter.export(Checkpoint.load(Path.of("m.lkm")), backend);
 *     OnnxExporter.write(model, Path.of("m.onnx"));                 // atomic
 * }
 * }</pre>
 *
 * <p>The model has one input, {@link #inputName()} ({@code pixels}: float32 {@code [N, …]} with a symbolic batch
 * dimension N and the net's per-example shape), and one output, {@link #outputName()} ({@code logits}). When the net
 * was trained on standardized inputs (the checkpoint's {@code STDZ} section), the model starts with
 * {@code Sub(input.mean)} and {@code Div(input.std)}: the same two float operations layerkit applies, so the first
 * layer sees bit-identical inputs (folding them into the first Gemm's weights would round differently; docs/onnx.md).
 *
 * <p>Immutable and thread-safe; an export reads the layers' tensors and changes nothing.
 */
public final class OnnxExporter {
    /** The lowest opset written: Gemm-13, Relu-14 … every mapping of {@link StandardLayers} exists there. */
    public static final int MIN_OPSET = 13;
    /**
     * The highest opset written: 21, the newest that ONNX Runtime 1.20 (what the tests run) implements, and the first
     * with a per-channel GroupNormalization.
     */
    public static final int MAX_OPSET = 21;
    /** The default opset: 17, the oldest with LayerNormalization and the most widely supported one that has it. */
    public static final int DEFAULT_OPSET = 17;
    /** The model's input when not renamed. */
    public static final String DEFAULT_INPUT = "pixels";
    /** The model's output when not renamed. */
    public static final String DEFAULT_OUTPUT = "logits";
    /** The symbolic batch dimension. */
    public static final String BATCH = "N";
    /** {@code producer_name} of every exported model. */
    public static final String PRODUCER = "layerkit";

    private final int opset;
    private final String inputName;
    private final String outputName;
    private final Map<Class<? extends Layer>, LayerExporter<?>> exporters;

    private OnnxExporter(Builder b) {
        this.opset = b.opset;
        this.inputName = b.inputName;
        this.outputName = b.outputName;
        this.exporters = Map.copyOf(b.exporters);
    }

    /** A builder with opset {@link #DEFAULT_OPSET} and the standard layers' mappings. */
    public static Builder builder() {
        return new Builder();
    }

    public int opset() {
        return opset;
    }

    public String inputName() {
        return inputName;
    }

    public String outputName() {
        return outputName;
    }

    /** The ONNX IR version written for an opset: that of the ONNX release that introduced the opset (1.8 … 1.16). */
    public static long irVersion(int opset) {
        requireOpset(opset);
        if (opset <= 14) {
            return 7;      // ONNX 1.8 (opset 13), 1.9 (14)
        } else if (opset <= 18) {
            return 8;      // 1.10 (15) … 1.13 (18)
        } else if (opset <= 20) {
            return 9;      // 1.14 (19), 1.15 (20)
        }
        return 10;         // 1.16 (21)
    }

    private static void requireOpset(int opset) {
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new OnnxExportException("opset " + opset + " is not supported: expected " + MIN_OPSET + " to "
                    + MAX_OPSET + " (default " + DEFAULT_OPSET + ")");
        }
    }

    // ------------------------------------------------------------------ exporting

    /**
     * The model of a saved net: built on {@code backend} from the checkpoint (configuration, weights, running
     * statistics), exported with the checkpoint's input standardization and its metadata ({@link #metadata}).
     */
    public ModelProto export(Checkpoint checkpoint, Backend backend) {
        try (SequentialNet net = checkpoint.toNet(backend)) {
            return export(net, checkpoint.standardizer(), metadata(checkpoint));
        }
    }

    /**
     * The model of {@code net} (input {@code [N, inputShape…]}: {@code [N,784]} for the MLP, {@code [N,1,28,28]} for
     * the CNN) behind {@code standardizer} (null: none).
     */
    public ModelProto export(SequentialNet net, Standardizer standardizer, Map<String, String> metadata) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("layerkit.net", net.spec().toString());
        m.putAll(metadata);
        return export(net.layers(), net.inputShape().dims(), standardizer, m);
    }

    /**
     * The model of {@code layers} applied in order to an input of per-example shape {@code inputShape} ({@code [D]},
     * or {@code [C,H,W]}), behind {@code standardizer} (null: none; else it has one mean and std per input element),
     * with {@code metadata} as the model's {@code metadata_props}. Fails with an {@link OnnxExportException} naming
     * the first layer that has no mapping, needs a higher opset, or does not fit the shape it receives.
     */
    public ModelProto export(List<? extends Layer> layers, int[] inputShape, Standardizer standardizer,
                             Map<String, String> metadata) {
        for (int d : inputShape) {
            if (d < 1) {
                throw new OnnxExportException("input shape " + Arrays.toString(inputShape) + ": dimensions must be >= 1");
            }
        }
        List<LayerExporter<Layer>> plan = plan(layers);
        GraphProto.Builder graph = GraphProto.newBuilder().setName("layerkit");
        LayerGraph g = new LayerGraph(graph, opset);
        graph.addInput(valueInfo(inputName, inputShape, "float32 [" + BATCH + "," + dims(inputShape)
                + "]: pixel values scaled to [0,1] (byte / 255)"));
        String value = inputName;
        int[] shape = inputShape.clone();
        if (standardizer != null) {
            long size = 1;
            for (int d : shape) {
                size *= d;
            }
            if (standardizer.featureCount() != size) {
                throw new OnnxExportException("the input standardization has " + standardizer.featureCount()
                        + " features, the input shape " + Arrays.toString(shape) + " holds " + size);
            }
            // x' = (x − mean) / std per input element: the same two roundings as Standardizer.apply
            g.begin("input", "input.standardize", "the input standardization", value, shape);
            String mean = g.initializer("mean", standardizer.mean(), shape);
            String std = g.initializer("std", standardizer.std(), shape);
            value = g.node("Div", List.of(g.node("Sub", List.of(value, mean)), std));
        }
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            g.begin(Integer.toString(i), i + "." + layer.type(), describe(i, layer), value, shape);
            plan.get(i).export(layer, g);
            if (g.result() == null) {
                throw g.fail("its exporter declared no output");
            }
            // the exporter's shape must be the layer's own: a mismatch is a bug in the mapping, not the user's
            int[] declared = g.resultShape();
            int[] batch = new int[shape.length + 1];
            batch[0] = 1;
            System.arraycopy(shape, 0, batch, 1, shape.length);
            int[] own = layer.outputShape(Shape.of(batch)).dims();
            if (!Arrays.equals(declared, Arrays.copyOfRange(own, 1, own.length))) {
                throw new IllegalStateException(describe(i, layer) + ": its ONNX mapping gives shape "
                        + Arrays.toString(declared) + " per example, the layer "
                        + Arrays.toString(Arrays.copyOfRange(own, 1, own.length)));
            }
            value = g.result();
            shape = declared;
        }
        value = nameOutput(graph, value);
        graph.addOutput(valueInfo(outputName, shape, "float32 [" + BATCH + "," + dims(shape)
                + "]: the net's output (class scores before softmax)"));

        ModelProto.Builder model = ModelProto.newBuilder()
                .setIrVersion(irVersion(opset))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .setProducerName(PRODUCER)
                .setProducerVersion(version())
                .setDocString("A net trained with layerkit, exported with its EVAL computation (batch norm with its "
                        + "running statistics, no dropout): " + inputName + " in, " + outputName + " out.")
                .setGraph(graph);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("layerkit.version", version());
        meta.putAll(metadata);
        meta.forEach((k, v) -> model.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return model.build();
    }

    /** Each layer's exporter, checked before anything is built: a mapping exists and the opset is high enough. */
    @SuppressWarnings("unchecked")
    private List<LayerExporter<Layer>> plan(List<? extends Layer> layers) {
        List<LayerExporter<Layer>> plan = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            LayerExporter<?> e = exporters.get(layer.getClass());
            if (e == null) {
                throw new OnnxExportException(describe(i, layer) + " has no ONNX mapping (" + layer.getClass().getName()
                        + "); this exporter maps " + supported() + "; a layer of your own needs "
                        + "OnnxExporter.Builder.register");
            }
            if (opset < e.minOpset()) {
                throw new OnnxExportException(describe(i, layer) + " needs opset " + e.minOpset()
                        + " or higher, the export asked for opset " + opset);
            }
            plan.add((LayerExporter<Layer>) e);
        }
        return plan;
    }

    private String supported() {
        return exporters.keySet().stream().map(Class::getSimpleName).sorted().collect(Collectors.joining(", "));
    }

    private static String describe(int index, Layer layer) {
        return "layer " + index + " (" + layer.type() + ")";
    }

    /** Renames the final value to the output name: in its producing node, or through an Identity of the input. */
    private String nameOutput(GraphProto.Builder graph, String value) {
        for (int n = graph.getNodeCount() - 1; n >= 0; n--) {
            var node = graph.getNodeBuilder(n);
            for (int o = 0; o < node.getOutputCount(); o++) {
                if (node.getOutput(o).equals(value)) {
                    node.setOutput(o, outputName);
                    return outputName;
                }
            }
        }
        // no node produced it: the graph input itself (a net of dropout layers only, no standardization)
        graph.addNode(org.layerkit.onnx.proto.NodeProto.newBuilder().setName("output").setOpType("Identity")
                .addInput(value).addOutput(outputName));
        return outputName;
    }

    private static ValueInfoProto valueInfo(String name, int[] shape, String doc) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(BATCH));
        for (int d : shape) {
            s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return ValueInfoProto.newBuilder().setName(name).setDocString(doc)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                        .setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s)))
                .build();
    }

    private static String dims(int[] shape) {
        return Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }

    // ------------------------------------------------------------------ metadata

    /**
     * The model metadata for a checkpoint: {@code class_names} (from the checkpoint's {@code cli.class_names}, when
     * recorded) and every checkpoint metadata entry as {@code training.<key>} with the CLI's {@code cli.} prefix
     * dropped ({@code training.command}, {@code training.test_accuracy}, {@code training.val_accuracy},
     * {@code training.dataset}, {@code training.epochs_completed}, …), plus {@code layerkit.input} and
     * {@code layerkit.output} saying what the model takes and gives.
     */
    public Map<String, String> metadata(Checkpoint checkpoint) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("layerkit.input", inputName + ": float32 [" + BATCH + "," + dims(checkpoint.spec().inputShape().dims())
                + "], pixel values scaled to [0,1] (byte / 255)" + (checkpoint.standardizer() != null
                ? "; the model standardizes them as in training ((x - mean) / std, initializers input.mean and "
                        + "input.std)"
                : "; the net was trained on them as they are (no standardization)"));
        m.put("layerkit.output", outputName + ": float32 [" + BATCH + "," + checkpoint.spec().numClasses()
                + "], class scores before softmax; the predicted class is their argmax");
        String names = checkpoint.metadata().get(CLASS_NAMES_KEY);
        if (names != null) {
            m.put("class_names", names);
        }
        checkpoint.metadata().forEach((k, v) -> {
            if (!k.equals(CLASS_NAMES_KEY)) {
                m.put("training." + (k.startsWith("cli.") ? k.substring(4) : k), v);
            }
        });
        return m;
    }

    /** The checkpoint metadata key of the class names, comma-separated in class order (written by the CLI's train). */
    public static final String CLASS_NAMES_KEY = "cli.class_names";

    // ------------------------------------------------------------------ writing

    /**
     * Writes {@code model} to {@code file} atomically (a temporary file in the same directory, forced to disk, renamed
     * over the target): a failure leaves an existing file as it was and no partial file behind.
     */
    public static void write(ModelProto model, Path file) throws IOException {
        AtomicFile.write(file, ByteBuffer.wrap(model.toByteArray()));
    }

    /** The layerkit version that writes {@code producer_version}. */
    public static String version() {
        return Version.VALUE;
    }

    private static final class Version {
        static final String VALUE = load();

        private static String load() {
            try (InputStream in = OnnxExporter.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    return "unknown";
                }
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "unknown");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Configures an {@link OnnxExporter}. */
    public static final class Builder {
        private int opset = DEFAULT_OPSET;
        private String inputName = DEFAULT_INPUT;
        private String outputName = DEFAULT_OUTPUT;
        private final Map<Class<? extends Layer>, LayerExporter<?>> exporters = new LinkedHashMap<>(StandardLayers.table());

        private Builder() {
        }

        /** The ONNX opset, {@link #MIN_OPSET} to {@link #MAX_OPSET}; default {@link #DEFAULT_OPSET}. */
        public Builder opset(int opset) {
            requireOpset(opset);
            this.opset = opset;
            return this;
        }

        public Builder inputName(String name) {
            this.inputName = requireName(name, "inputName");
            return this;
        }

        public Builder outputName(String name) {
            this.outputName = requireName(name, "outputName");
            return this;
        }

        /**
         * Maps layers of class {@code type} (exactly that class, not subclasses) with {@code exporter}, replacing a
         * standard mapping if there is one: the extension point for layers defined outside layerkit.
         */
        public <L extends Layer> Builder register(Class<L> type, LayerExporter<? super L> exporter) {
            exporters.put(type, exporter);
            return this;
        }

        public OnnxExporter build() {
            if (inputName.equals(outputName)) {
                throw new IllegalArgumentException("OnnxExporter: inputName and outputName expected different names, "
                        + "got '" + inputName + "' for both");
            }
            return new OnnxExporter(this);
        }

        private static String requireName(String name, String what) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("OnnxExporter: " + what + " expected a non-empty name, got '"
                        + name + "'");
            }
            return name;
        }
    }
}
