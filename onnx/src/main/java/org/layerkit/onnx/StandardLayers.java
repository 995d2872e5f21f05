package org.layerkit.onnx;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Layer;
import org.layerkit.api.Pool2dParams;
import org.layerkit.models.layers.AffineLayer;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.Conv2dLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.FlattenLayer;
import org.layerkit.models.layers.GlobalAvgPoolLayer;
import org.layerkit.models.layers.GroupNormLayer;
import org.layerkit.models.layers.LayerNormLayer;
import org.layerkit.models.layers.MaxPoolLayer;
import org.layerkit.models.layers.ReluLayer;
import org.layerkit.models.layers.SpatialBatchNormLayer;
import org.layerkit.models.layers.SpatialDropoutLayer;

/**
 * The mapping table: each standard layer type and the ONNX operators that compute its EVAL output (docs/onnx.md).
 * Shape letters: N batch (symbolic in the model), D features, C channels, H×W spatial, G groups.
 *
 * <table>
 *   <caption>layer → ONNX</caption>
 *   <tr><th>layer</th><th>opset 13–16</th><th>17–20</th><th>21</th></tr>
 *   <tr><td>affine [N,D]</td><td colspan="3">Gemm(x, W, b)</td></tr>
 *   <tr><td>batchnorm [N,D], spatial_batchnorm [N,C,H,W]</td><td colspan="3">BatchNormalization with the running
 *       mean and variance</td></tr>
 *   <tr><td>layernorm [N,D]</td><td>decomposed</td><td colspan="2">LayerNormalization(axis −1)</td></tr>
 *   <tr><td>groupnorm [N,C,H,W]</td><td colspan="2">decomposed</td><td>GroupNormalization</td></tr>
 *   <tr><td>relu</td><td colspan="3">Relu</td></tr>
 *   <tr><td>dropout, spatial_dropout</td><td colspan="3">nothing (EVAL is the identity)</td></tr>
 *   <tr><td>conv2d [N,C,H,W]</td><td colspan="3">Conv(x, W [F,C,K,K], b [F]), strides, pads</td></tr>
 *   <tr><td>maxpool [N,C,H,W]</td><td colspan="3">MaxPool, kernel_shape, strides, no padding</td></tr>
 *   <tr><td>global_avgpool [N,C,H,W] → [N,C]</td><td colspan="3">GlobalAveragePool, Flatten</td></tr>
 *   <tr><td>flatten [N,…] → [N,D]</td><td colspan="3">Flatten (axis 1)</td></tr>
 * </table>
 *
 * <p>"Decomposed" is the same function in primitive operators, two-pass as layerkit computes it:
 * μ = ReduceMean(x), d = x − μ, σ² = ReduceMean(d·d), x̂ = d / Sqrt(σ² + ε), then y = γ·x̂ + β — over the row for
 * layer norm, over each group of a Reshape to [N,G,(C/G)·H·W] for group norm. GroupNormalization is used only from
 * opset 21: opset 18 defined it with one scale and bias per group, layerkit's γ and β are per channel.
 *
 * <p>A new layer type is one {@link #put} line in {@link #table()} and a method here.
 */
public final class StandardLayers {
    private StandardLayers() {
    }

    /** The standard layers' exporters, by exact layer class. */
    public static Map<Class<? extends Layer>, LayerExporter<?>> table() {
        Map<Class<? extends Layer>, LayerExporter<?>> m = new LinkedHashMap<>();
        put(m, AffineLayer.class, StandardLayers::affine);
        put(m, BatchNormLayer.class, StandardLayers::batchNorm);
        put(m, SpatialBatchNormLayer.class, StandardLayers::batchNorm);
        put(m, LayerNormLayer.class, StandardLayers::layerNorm);
        put(m, GroupNormLayer.class, StandardLayers::groupNorm);
        put(m, ReluLayer.class, (layer, g) -> g.output(g.node("Relu", List.of(g.input())), g.inputShape()));
        put(m, DropoutLayer.class, (layer, g) -> g.output(g.input(), g.inputShape()));
        put(m, SpatialDropoutLayer.class, (layer, g) -> g.output(g.input(), g.inputShape()));
        put(m, Conv2dLayer.class, StandardLayers::conv2d);
        put(m, MaxPoolLayer.class, StandardLayers::maxPool);
        put(m, GlobalAvgPoolLayer.class, StandardLayers::globalAvgPool);
        put(m, FlattenLayer.class, StandardLayers::flatten);
        return m;
    }

    private static <L extends Layer> void put(Map<Class<? extends Layer>, LayerExporter<?>> m, Class<L> type,
                                              LayerExporter<? super L> exporter) {
        m.put(type, exporter);
    }

    /** affine [N,D] → [N,out]: Gemm(x, W [D,out], b [out]) = x·W + b. */
    static void affine(AffineLayer layer, LayerGraph g) {
        g.requireInput(1, layer.in(), Integer.toString(layer.in()));
        String w = g.initializer(layer.weight().name(), layer.weight().value());
        String b = g.initializer(layer.bias().name(), layer.bias().value());
        g.output(g.node("Gemm", List.of(g.input(), w, b)), layer.out());
    }

    /**
     * batchnorm [N,D] and spatial_batchnorm [N,C,H,W] in EVAL: y = γ·(x − running_mean)/√(running_var + ε) + β per
     * feature or channel, which is BatchNormalization with the running statistics as its mean and var inputs.
     */
    static void batchNorm(BatchNormLayer layer, LayerGraph g) {
        if (layer instanceof SpatialBatchNormLayer) {
            g.requireInput(3, layer.features(), layer.features() + ",H,W");
        } else {
            g.requireInput(1, layer.features(), Integer.toString(layer.features()));
        }
        String gamma = g.initializer(layer.gamma().name(), layer.gamma().value());
        String beta = g.initializer(layer.beta().name(), layer.beta().value());
        String mean = g.initializer("running_mean", layer.running().mean());
        String var = g.initializer("running_var", layer.running().var());
        g.output(g.node("BatchNormalization", List.of(g.input(), gamma, beta, mean, var),
                LayerGraph.floatAttr("epsilon", layer.options().eps())), g.inputShape());
    }

    /** layernorm [N,D]: LayerNormalization over the last axis from opset 17, decomposed below. */
    static void layerNorm(LayerNormLayer layer, LayerGraph g) {
        int d = layer.features();
        g.requireInput(1, d, Integer.toString(d));
        String gamma = g.initializer(layer.gamma().name(), layer.gamma().value());
        String beta = g.initializer(layer.beta().name(), layer.beta().value());
        if (g.opset() >= 17) {
            g.output(g.node("LayerNormalization", List.of(g.input(), gamma, beta), LayerGraph.intAttr("axis", -1),
                    LayerGraph.floatAttr("epsilon", layer.eps())), d);
            return;
        }
        String xhat = normalize(g, g.input(), 1, layer.eps());
        g.output(g.node("Add", List.of(g.node("Mul", List.of(xhat, gamma)), beta)), d);
    }

    /**
     * groupnorm [N,C,H,W] with G groups: GroupNormalization from opset 21; below, a Reshape to [N,G,(C/G)·H·W], the
     * normalization over its last axis, a Reshape back and γ, β of shape [C,1,1] broadcast over H×W.
     */
    static void groupNorm(GroupNormLayer layer, LayerGraph g) {
        int c = layer.features();
        g.requireInput(3, c, c + ",H,W");
        int[] shape = g.inputShape();
        if (g.opset() >= 21) {
            String gamma = g.initializer(layer.gamma().name(), layer.gamma().value());
            String beta = g.initializer(layer.beta().name(), layer.beta().value());
            g.output(g.node("GroupNormalization", List.of(g.input(), gamma, beta),
                    LayerGraph.floatAttr("epsilon", layer.eps()), LayerGraph.intAttr("num_groups", layer.groups())),
                    shape);
            return;
        }
        int[] perChannel = new int[shape.length];      // [C,1,1]: broadcasts over the spatial axes
        java.util.Arrays.fill(perChannel, 1);
        perChannel[0] = c;
        String gamma = g.initializer(layer.gamma().name(), layer.gamma().value().toArray(), perChannel);
        String beta = g.initializer(layer.beta().name(), layer.beta().value().toArray(), perChannel);
        String grouped = g.reshape(g.input(), 0, layer.groups(), -1);         // [N, G, (C/G)·H·W]
        String xhat = normalize(g, grouped, 2, layer.eps());
        long[] back = new long[shape.length + 1];                              // [N, C, H, W] with N copied (0)
        for (int i = 0; i < shape.length; i++) {
            back[i + 1] = shape[i];
        }
        String restored = g.reshape(xhat, back);
        g.output(g.node("Add", List.of(g.node("Mul", List.of(restored, gamma)), beta)), shape);
    }

    /**
     * conv2d [N,C,H,W] → [N,F,H',W']: Conv with W [F,C,K,K] and b [F] (none when the layer has no bias), the layer's
     * strides and symmetric zero padding (pads = [top, left, bottom, right]), dilation 1, one group: cross-correlation,
     * as layerkit's and PyTorch's. H' = ⌊(H + 2·pad − K)/stride⌋ + 1.
     */
    static void conv2d(Conv2dLayer layer, LayerGraph g) {
        g.requireInput(3, layer.inChannels(), layer.inChannels() + ",H,W");
        Conv2dParams p = layer.params();
        if (p.dilationH() != 1 || p.dilationW() != 1 || p.groups() != 1) {
            throw g.fail("expected dilation 1 and one group, got " + p);
        }
        int[] in = g.inputShape();
        int k = layer.kernel();
        List<String> inputs = new java.util.ArrayList<>(List.of(g.input(),
                g.initializer(layer.weight().name(), layer.weight().value())));
        if (layer.bias() != null) {
            inputs.add(g.initializer(layer.bias().name(), layer.bias().value()));
        }
        String y = g.node("Conv", inputs, LayerGraph.intsAttr("kernel_shape", k, k),
                LayerGraph.intsAttr("strides", p.strideH(), p.strideW()),
                LayerGraph.intsAttr("pads", p.padH(), p.padW(), p.padH(), p.padW()),
                LayerGraph.intsAttr("dilations", 1, 1), LayerGraph.intAttr("group", 1));
        g.output(y, layer.outChannels(), (int) p.outputHeight(in[1], k), (int) p.outputWidth(in[2], k));
    }

    /** maxpool [N,C,H,W] → [N,C,H',W']: MaxPool with the layer's window and strides, no padding, floor sizes. */
    static void maxPool(MaxPoolLayer layer, LayerGraph g) {
        g.requireInput(3, -1, "C,H,W");
        Pool2dParams p = layer.params();
        int[] in = g.inputShape();
        String y = g.node("MaxPool", List.of(g.input()), LayerGraph.intsAttr("kernel_shape", p.kernelH(), p.kernelW()),
                LayerGraph.intsAttr("strides", p.strideH(), p.strideW()));
        g.output(y, in[0], (int) p.outputHeight(in[1]), (int) p.outputWidth(in[2]));
    }

    /** global_avgpool [N,C,H,W] → [N,C]: GlobalAveragePool ([N,C,1,1]), then Flatten. */
    static void globalAvgPool(GlobalAvgPoolLayer layer, LayerGraph g) {
        g.requireInput(3, -1, "C,H,W");
        String pooled = g.node("GlobalAveragePool", List.of(g.input()));
        g.output(g.node("Flatten", List.of(pooled), LayerGraph.intAttr("axis", 1)), g.inputShape()[0]);
    }

    /** flatten [N, …] → [N, ∏…]: Flatten at axis 1 (row-major, as layerkit's view of the same buffer). */
    static void flatten(FlattenLayer layer, LayerGraph g) {
        int size = 1;
        for (int d : g.inputShape()) {
            size *= d;
        }
        g.output(g.node("Flatten", List.of(g.input()), LayerGraph.intAttr("axis", 1)), size);
    }

    /**
     * (x − μ)/√(σ² + ε) over {@code axis} (kept with size 1 for broadcasting), two-pass as layerkit computes it:
     * μ = mean x, d = x − μ, σ² = mean d² (biased), then d / √(σ² + ε).
     */
    static String normalize(LayerGraph g, String x, int axis, float eps) {
        String mean = g.reduceMean(x, axis);
        String dev = g.node("Sub", List.of(x, mean));
        String var = g.reduceMean(g.node("Mul", List.of(dev, dev)), axis);
        String epsilon = g.initializer("epsilon", new float[] {eps});
        String std = g.node("Sqrt", List.of(g.node("Add", List.of(var, epsilon))));
        return g.node("Div", List.of(dev, std));
    }
}
