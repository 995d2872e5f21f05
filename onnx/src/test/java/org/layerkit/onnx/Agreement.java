package org.layerkit.onnx;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Locale;
import java.util.Map;

import ai.onnxruntime.OrtException;
import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.Standardizer;

/**
 * Checks ONNX Runtime's output against layerkit's on the same inputs, within ONNX_LOGITS (docs/tolerances.md): each
 * within SAFETY·E of the float64 forward (E from {@link EvalErrorModel}), so the two within 2·SAFETY·E of each other;
 * the predicted classes agree on every row whose top two float64 scores are further apart than their bounds allow.
 */
public final class Agreement {
    /** The largest error / bound ratio of ONNX Runtime against layerkit seen over every whole-net check of the run. */
    public static double maxRatio;
    /** The same over every single-layer check ({@link #layerwise}). */
    public static double maxLayerRatio;

    private Agreement() {
    }

    /** Both outputs against the model and each other; returns the number of rows whose argmax the bound leaves open. */
    public static int check(String what, EvalErrorModel model, float[] layerkit, float[] ort) {
        int n = model.rows();
        int k = model.cols();
        if (layerkit.length != model.out.length || ort.length != model.out.length) {
            fail(what + ": expected " + model.out.length + " outputs ([" + n + "," + k + "]), layerkit gave "
                    + layerkit.length + ", ONNX Runtime " + ort.length);
        }
        compare(what + ": layerkit against the float64 forward", model, layerkit, null, 1);
        compare(what + ": ONNX Runtime against the float64 forward", model, ort, null, 1);
        double pair = compare(what + ": ONNX Runtime against layerkit", model, ort, layerkit, 2);
        maxRatio = Math.max(maxRatio, pair);
        return openRows(what, model, layerkit, ort);
    }

    /**
     * The rows whose predicted class the bounds leave open; fails when layerkit's or ONNX Runtime's prediction differs
     * from the float64 forward's on any other row.
     */
    private static int openRows(String what, EvalErrorModel model, float[] layerkit, float[] ort) {
        int n = model.rows();
        int k = model.cols();
        boolean[] decided = decided(model);
        int open = 0;
        for (int i = 0; i < n; i++) {
            int a = argmax(layerkit, i, k);
            int b = argmax(ort, i, k);
            int top = argmax(model.out, i, k);
            if (!decided[i]) {
                open++;
            } else if (a != b || a != top) {
                fail(String.format(Locale.ROOT, "%s: row %d: layerkit predicts class %d, ONNX Runtime %d, the float64 "
                        + "forward %d with a margin beyond the bounds (ONNX_LOGITS)", what, i, a, b, top));
            }
        }
        return open;
    }

    /**
     * Each layer on its own: the layer exported alone, fed layerkit's own float32 input to that layer (the EVAL output
     * of the layers before it), in ONNX Runtime against the layer's EVAL forward in layerkit, within the layer's own
     * rounding only (its inputs are exact floats, so nothing is inherited: tight where the whole net's first-order
     * propagation is loose); the input standardization, as its own model, must give layerkit's standardized inputs
     * bit for bit (EXACT: the same two correctly rounded operations). {@code x} are the net's inputs [n, shape].
     */
    public static void layerwise(String what, OnnxExporter e, List<? extends Layer> layers, int[] shape,
                                 Standardizer std, float[] x, int n, Backend backend, Ort.Level level)
            throws OrtException {
        float[] in = x;
        if (std != null) {
            float[] ort = Ort.run(e.export(List.of(), shape, std, Map.of()), e.inputName(), x, dims(n, shape), level);
            float[] lk = std.apply(new Dataset("x", x, new int[n], x.length / n, 1)).features();
            for (int i = 0; i < lk.length; i++) {
                if (Float.floatToIntBits(lk[i]) != Float.floatToIntBits(ort[i])) {
                    fail(String.format(Locale.ROOT, "%s: the standardization at [%d,%d]: layerkit %.9g, ONNX Runtime "
                            + "%.9g: expected bit-identical values (EXACT)", what, i / (lk.length / n),
                            i % (lk.length / n), lk[i], ort[i]));
                }
            }
            in = lk;
        }
        int[] cur = shape.clone();
        for (int l = 0; l < layers.size(); l++) {
            Layer layer = layers.get(l);
            float[] ort = Ort.run(e.export(List.of(layer), cur, null, Map.of()), e.inputName(), in, dims(n, cur), level);
            EvalErrorModel model = EvalErrorModel.of(List.of(layer), in, n, cur, null);
            float[] lk;
            int[] next;
            try (Tensor t = backend.upload(in, Shape.of(toInts(dims(n, cur))))) {
                Tensor y = layer.forward(t, Mode.EVAL);
                lk = y.toArray();
                int[] dy = y.shape().dims();
                next = java.util.Arrays.copyOfRange(dy, 1, dy.length);
            }
            String where = what + ": layer " + l + " (" + layer.type() + ") alone";
            if (lk.length != ort.length) {
                fail(where + ": layerkit gave " + lk.length + " values, ONNX Runtime " + ort.length);
            }
            compare(where + ": layerkit against the float64 forward", model, lk, null, 1);
            compare(where + ": ONNX Runtime against the float64 forward", model, ort, null, 1);
            maxLayerRatio = Math.max(maxLayerRatio, compare(where + ": ONNX Runtime against layerkit", model, ort, lk,
                    2));
            in = lk;
            cur = next;
        }
    }

    private static long[] dims(int n, int[] shape) {
        long[] d = new long[shape.length + 1];
        d[0] = n;
        for (int i = 0; i < shape.length; i++) {
            d[i + 1] = shape[i];
        }
        return d;
    }

    private static int[] toInts(long[] d) {
        int[] r = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            r[i] = (int) d[i];
        }
        return r;
    }

    /** Max over elements of |a − (b or the float64 value)| / (sides·SAFETY·E); fails when above 1. */
    private static double compare(String what, EvalErrorModel model, float[] a, float[] b, int sides) {
        int bad = 0;
        int first = -1;
        double worst = 0;
        int worstAt = 0;
        for (int i = 0; i < a.length; i++) {
            double ref = b == null ? model.out[i] : b[i];
            double bound = sides * Tolerance.SAFETY * model.err[i];
            double diff = Math.abs(a[i] - ref);
            double ratio = bound > 0 ? diff / bound : diff == 0 ? 0 : Double.POSITIVE_INFINITY;
            if (!(diff <= bound)) {
                bad++;
                if (first < 0) {
                    first = i;
                }
            }
            if (!(ratio <= worst)) {
                worst = ratio;
                worstAt = i;
            }
        }
        if (bad > 0) {
            int k = model.cols();
            double ref = b == null ? model.out[first] : b[first];
            fail(String.format(Locale.ROOT, "%s: shape [%d,%d]: %d of %d values outside ONNX_LOGITS%s; max "
                    + "error/bound %.3g at [%d,%d]; first bad index [%d,%d]: expected %.9g, got %.9g, error %.3g, "
                    + "bound %.3g (float64 forward %.9g)", what, model.rows(), k, bad, a.length,
                    sides == 2 ? " (between two results: 2×)" : "", worst, worstAt / k, worstAt % k, first / k,
                    first % k, ref, a[first], Math.abs(a[first] - ref), sides * Tolerance.SAFETY * model.err[first],
                    model.out[first]));
        }
        return worst;
    }

    /**
     * Per row, whether its predicted class is decided within the bounds: the float64 forward's top score exceeds every
     * other by more than SAFETY times the sum of their bounds, so every float32 evaluation within them predicts it.
     */
    public static boolean[] decided(EvalErrorModel model) {
        int n = model.rows();
        int k = model.cols();
        boolean[] d = new boolean[n];
        for (int i = 0; i < n; i++) {
            int top = argmax(model.out, i, k);
            d[i] = true;
            for (int j = 0; j < k; j++) {
                if (j != top && model.out[i * k + top] - model.out[i * k + j]
                        <= Tolerance.SAFETY * (model.err[i * k + top] + model.err[i * k + j])) {
                    d[i] = false;
                }
            }
        }
        return d;
    }

    public static int argmax(float[] x, int row, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (x[row * k + j] > x[row * k + best]) {
                best = j;
            }
        }
        return best;
    }

    private static int argmax(double[] x, int row, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (x[row * k + j] > x[row * k + best]) {
                best = j;
            }
        }
        return best;
    }
}
