package org.layerkit.onnx;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Locale;

import org.layerkit.conformance.Tolerance;

/**
 * Checks ONNX Runtime's output against layerkit's on the same inputs, within ONNX_LOGITS (docs/tolerances.md): each
 * within SAFETY·E of the float64 forward (E from {@link EvalErrorModel}), so the two within 2·SAFETY·E of each other;
 * the predicted classes agree on every row whose top two float64 scores are further apart than their bounds allow.
 */
final class Agreement {
    /** The largest error / bound ratio seen, over every check of the run (what the bounds leave unused). */
    static double maxRatio;

    private Agreement() {
    }

    /** Both outputs against the model and each other; returns the number of rows whose argmax the bound leaves open. */
    static int check(String what, EvalErrorModel model, float[] layerkit, float[] ort) {
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
        // argmax: each side's top class is the float64 forward's wherever the top score exceeds every other by
        // more than both bounds allow (each side within SAFETY·E of the float64 value)
        int open = 0;
        for (int i = 0; i < n; i++) {
            int top = 0;
            for (int j = 1; j < k; j++) {
                if (model.out[i * k + j] > model.out[i * k + top]) {
                    top = j;
                }
            }
            boolean decided = true;
            for (int j = 0; j < k; j++) {
                if (j != top && model.out[i * k + top] - model.out[i * k + j]
                        <= Tolerance.SAFETY * (model.err[i * k + top] + model.err[i * k + j])) {
                    decided = false;
                }
            }
            int a = argmax(layerkit, i, k);
            int b = argmax(ort, i, k);
            if (!decided) {
                open++;
            } else if (a != b || a != top) {
                fail(String.format(Locale.ROOT, "%s: row %d: layerkit predicts class %d, ONNX Runtime %d, the float64 "
                        + "forward %d with a margin beyond the bounds (ONNX_LOGITS)", what, i, a, b, top));
            }
        }
        return open;
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
            double ratio = diff / bound;
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

    static int argmax(float[] x, int row, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (x[row * k + j] > x[row * k + best]) {
                best = j;
            }
        }
        return best;
    }
}
