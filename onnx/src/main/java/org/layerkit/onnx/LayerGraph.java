package org.layerkit.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.protobuf.ByteString;
import org.layerkit.api.Tensor;
import org.layerkit.onnx.proto.AttributeProto;
import org.layerkit.onnx.proto.GraphProto;
import org.layerkit.onnx.proto.NodeProto;
import org.layerkit.onnx.proto.TensorProto;

/**
 * The ONNX graph under construction, as one layer's {@link LayerExporter} sees it: the layer's input value and its
 * per-example shape (the batch dimension N is symbolic and not part of it), the opset, and methods that append
 * initializers and nodes named after the layer.
 *
 * <p>Names are stable and follow the net's layer order, as PyTorch's {@code state_dict} does: the initializers of
 * layer i are {@code i.<name>} ({@code 0.W}, {@code 1.running_mean}), its nodes and their outputs
 * {@code i.<type>/<Op>} ({@code 1.batchnorm/BatchNormalization}), with {@code _2}, {@code _3} for a repeated op.
 */
public final class LayerGraph {
    private final GraphProto.Builder graph;
    private final int opset;
    private final Set<String> names = new HashSet<>();
    private final Map<String, Integer> opCounts = new HashMap<>();
    private String initPrefix;
    private String nodePrefix;
    private String what;
    private String input;
    private int[] inputShape;
    private String output;
    private int[] outputShape;

    LayerGraph(GraphProto.Builder graph, int opset) {
        this.graph = graph;
        this.opset = opset;
    }

    /**
     * Starts the nodes of one layer (or of the input standardization) reading {@code value} of shape {@code shape}:
     * initializers will be named {@code <initPrefix>.<name>}, nodes {@code <nodePrefix>/<Op>}, errors start with
     * {@code what}.
     */
    void begin(String initPrefix, String nodePrefix, String what, String value, int[] shape) {
        this.initPrefix = initPrefix;
        this.nodePrefix = nodePrefix;
        this.what = what;
        this.input = value;
        this.inputShape = shape.clone();
        this.output = null;
        this.outputShape = null;
        opCounts.clear();
    }

    /** The layer's output value, or null when its exporter did not declare one. */
    String result() {
        return output;
    }

    int[] resultShape() {
        return outputShape.clone();
    }

    /** The ONNX opset the model imports: what each operator's version and signature follow. */
    public int opset() {
        return opset;
    }

    /** The value the layer reads. */
    public String input() {
        return input;
    }

    /** Its per-example shape: {@code [D]} for features, {@code [C,H,W]} for images (the batch dimension N excluded). */
    public int[] inputShape() {
        return inputShape.clone();
    }

    /** Declares the layer's result: {@code value} of per-example shape {@code shape}. */
    public void output(String value, int... shape) {
        this.output = value;
        this.outputShape = shape.clone();
    }

    /** An error that names the layer (its index in the net and its type): {@code layer 3 (groupnorm): <why>}. */
    public OnnxExportException fail(String why) {
        return new OnnxExportException(what + ": " + why);
    }

    /** Requires the input's per-example shape to have {@code rank} dimensions, the first {@code first} (if ≥ 0). */
    public void requireInput(int rank, int first, String meaning) {
        if (inputShape.length != rank || first >= 0 && inputShape[0] != first) {
            throw fail("expected an input of shape [N," + meaning + "], got [N"
                    + (inputShape.length == 0 ? "" : "," + Arrays.toString(inputShape).replaceAll("[\\[\\] ]", ""))
                    + "]");
        }
    }

    // ------------------------------------------------------------------ initializers

    /** A float32 initializer {@code <layer>.<name>} holding the tensor's values, with its shape; returns its name. */
    public String initializer(String name, Tensor t) {
        return initializer(name, t.toArray(), t.shape().dims());
    }

    /**
     * A float32 initializer {@code <layer>.<name>} of shape {@code dims} (none for a scalar); values must be finite (a
     * NaN would give wrong outputs without an error). Returns its name.
     */
    public String initializer(String name, float[] values, int... dims) {
        long size = 1;
        for (int d : dims) {
            size *= d;
        }
        if (size != values.length) {
            throw new IllegalArgumentException("initializer " + name + ": " + values.length + " values for shape "
                    + Arrays.toString(dims));
        }
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw fail(name + " holds " + values[i] + " at index " + i + ": refusing to export a non-finite value");
            }
        }
        String full = fresh(initPrefix + "." + name);
        ByteBuffer raw = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        TensorProto.Builder t = TensorProto.newBuilder().setName(full)
                .setDataType(TensorProto.DataType.FLOAT_VALUE).setRawData(ByteString.copyFrom(raw.array()));
        for (int d : dims) {
            t.addDims(d);
        }
        graph.addInitializer(t);
        return full;
    }

    /** A 1-D int64 initializer {@code <layer>.<name>} (shapes, axes); returns its name. */
    public String int64s(String name, long... values) {
        String full = fresh(initPrefix + "." + name);
        TensorProto.Builder t = TensorProto.newBuilder().setName(full).setDataType(TensorProto.DataType.INT64_VALUE)
                .addDims(values.length);
        for (long v : values) {
            t.addInt64Data(v);
        }
        graph.addInitializer(t);
        return full;
    }

    // ------------------------------------------------------------------ nodes

    /**
     * Appends a node of the standard domain ({@code ai.onnx}) with one output, named {@code <layer>.<type>/<opType>};
     * returns the output's name.
     */
    public String node(String opType, List<String> inputs, AttributeProto... attributes) {
        int k = opCounts.merge(opType, 1, Integer::sum);
        String name = fresh(nodePrefix + "/" + opType + (k == 1 ? "" : "_" + k));
        graph.addNode(NodeProto.newBuilder().setName(name).setOpType(opType).addAllInput(inputs).addOutput(name)
                .addAllAttribute(Arrays.asList(attributes)));
        return name;
    }

    /** {@code ReduceMean} over one axis, keeping it (size 1): the axes are an attribute before opset 18, an input from 18. */
    public String reduceMean(String x, int axis) {
        if (opset >= 18) {
            return node("ReduceMean", List.of(x, int64s("axes", axis)), intAttr("keepdims", 1));
        }
        return node("ReduceMean", List.of(x), intsAttr("axes", axis), intAttr("keepdims", 1));
    }

    /** {@code Reshape} to {@code shape} (0 copies the input's dimension, -1 is inferred). */
    public String reshape(String x, long... shape) {
        return node("Reshape", List.of(x, int64s("shape", shape)));
    }

    /** {@code base}, or {@code base_2}, {@code base_3}, … when taken (a constant that a layer needs twice). */
    private String fresh(String base) {
        String name = base;
        for (int k = 2; !names.add(name); k++) {
            name = base + "_" + k;
        }
        return name;
    }

    // ------------------------------------------------------------------ attributes

    /** A float attribute. */
    public static AttributeProto floatAttr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value)
                .build();
    }

    /** An int attribute. */
    public static AttributeProto intAttr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    /** An ints attribute. */
    public static AttributeProto intsAttr(String name, long... values) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            b.addInts(v);
        }
        return b.build();
    }
}
