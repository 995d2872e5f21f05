package org.layerkit.onnx;

import org.layerkit.api.Layer;

/**
 * Writes one layer type's EVAL computation as ONNX nodes: reads the layer's input value from {@link LayerGraph#input()}
 * (with its per-example shape), appends nodes and initializers, and declares the result with
 * {@link LayerGraph#output}. The standard layers' exporters are in {@link StandardLayers}; a new layer type is one more
 * entry there, or {@link OnnxExporter.Builder#register} for a layer defined outside layerkit.
 *
 * @param <L> the layer class it exports
 */
@FunctionalInterface
public interface LayerExporter<L extends Layer> {
    /** Appends the nodes that compute {@code layer}'s EVAL output from {@code graph.input()}, then calls output. */
    void export(L layer, LayerGraph graph);

    /**
     * The lowest opset at which this exporter can express its layer; exporting at a lower one is an
     * {@link OnnxExportException} naming the layer and this opset. Defaults to {@link OnnxExporter#MIN_OPSET}.
     */
    default int minOpset() {
        return OnnxExporter.MIN_OPSET;
    }
}
