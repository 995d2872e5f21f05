/** ONNX export of trained nets: each layer type maps to ONNX operators ({@link org.layerkit.onnx.StandardLayers}). */
package org.layerkit.onnx;
