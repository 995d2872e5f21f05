package org.layerkit.onnx;

import java.nio.FloatBuffer;
import java.util.Map;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.layerkit.onnx.proto.ModelProto;

/** Runs an exported model in ONNX Runtime (CPU execution provider), as a serving application would. */
public final class Ort {
    /** ONNX Runtime's graph optimizations: ALL (the default a user gets) and none (the graph as exported). */
    public enum Level {
        ALL(OrtSession.SessionOptions.OptLevel.ALL_OPT),
        NONE(OrtSession.SessionOptions.OptLevel.NO_OPT);

        final OrtSession.SessionOptions.OptLevel opt;

        Level(OrtSession.SessionOptions.OptLevel opt) {
            this.opt = opt;
        }
    }

    private Ort() {
    }

    /** The model's single output for input {@code x} of shape {@code shape}, flattened row-major. */
    public static float[] run(ModelProto model, String input, float[] x, long[] shape, Level level) throws OrtException {
        return run(model.toByteArray(), input, x, shape, level);
    }

    public static float[] run(byte[] model, String input, float[] x, long[] shape, Level level) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(level.opt);
            try (OrtSession session = env.createSession(model, options);
                 OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
                 OrtSession.Result r = session.run(Map.of(input, t))) {
                FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
                float[] f = new float[out.remaining()];
                out.get(f);
                return f;
            }
        }
    }
}
