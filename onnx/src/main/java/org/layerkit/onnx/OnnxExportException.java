package org.layerkit.onnx;

/**
 * A net that cannot be exported as asked: a layer without an ONNX mapping, an opset outside the supported range or
 * too low for a layer, shapes that do not chain, a non-finite parameter. The message names the layer (its index in
 * the net and its type) and what was expected.
 */
public final class OnnxExportException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OnnxExportException(String message) {
        super(message);
    }
}
