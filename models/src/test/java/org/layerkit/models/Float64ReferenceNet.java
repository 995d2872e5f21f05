package org.layerkit.models;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.DropoutOptions;
import org.layerkit.api.Philox4x32;
import org.layerkit.conformance.NumericalGradient;

/**
 * An independent float64 implementation of the MLP's ({@link SequentialNet} of a {@link FullyConnectedNetConfig})
 * training loss (TRAIN mode), written straight from the CS231N formulas with plain loops, so that numerical
 * gradients of it are accurate to ~1e-10 and can judge the float32 analytic gradients of a backend.
 */
final class Float64ReferenceNet {
    private final FullyConnectedNetConfig config;
    private final long[] dropoutSeeds;
    private final long[] dropoutOffsets;
    private double minReluInput;
    /** The sides of the ReLU inputs at the point the numerical gradient is taken, and whether any evaluation left it. */
    private List<Boolean> baseSides;
    private final List<Boolean> sides = new ArrayList<>();
    private boolean sideChanged;

    /** {@code dropoutSeeds[i]}/{@code dropoutOffsets[i]}: the Philox key and offset of hidden layer i+1's dropout. */
    Float64ReferenceNet(FullyConnectedNetConfig config, long[] dropoutSeeds, long[] dropoutOffsets) {
        this.config = config;
        this.dropoutSeeds = dropoutSeeds;
        this.dropoutOffsets = dropoutOffsets;
    }

    /** The loss of x {@code [n,d]} with labels y under {@code params} (by CS231N name, row-major). */
    double loss(Map<String, double[]> params, double[] x, int[] y, int n) {
        minReluInput = Double.POSITIVE_INFINITY;
        sides.clear();
        List<Integer> hidden = config.hiddenDims();
        int layers = hidden.size() + 1;
        double[] h = x;
        int width = config.inputDim();
        double reg = 0;
        for (int l = 1; l <= layers; l++) {
            int out = l == layers ? config.numClasses() : hidden.get(l - 1);
            double[] w = params.get("W" + l);
            double[] b = params.get("b" + l);
            double[] a = new double[n * out];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < out; j++) {
                    double s = b[j];
                    for (int k = 0; k < width; k++) {
                        s += h[i * width + k] * w[k * out + j];
                    }
                    a[i * out + j] = s;
                }
            }
            for (double v : w) {
                reg += v * v;
            }
            h = a;
            width = out;
            if (l == layers) {
                break;
            }
            double eps = config.batchNorm().eps();
            switch (config.normalization()) {
                case BATCH -> h = batchNorm(h, n, width, params.get("gamma" + l), params.get("beta" + l), eps);
                case LAYER -> h = layerNorm(h, n, width, params.get("gamma" + l), params.get("beta" + l), eps);
                case NONE -> { }
            }
            for (int i = 0; i < h.length; i++) {
                minReluInput = Math.min(minReluInput, Math.abs(h[i]));
                sides.add(h[i] > 0);
                h[i] = Math.max(h[i], 0);
            }
            if (config.useDropout()) {
                DropoutOptions o = new DropoutOptions(config.dropoutKeep(), dropoutSeeds[l - 1], dropoutOffsets[l - 1]);
                double scale = o.scale();
                for (int i = 0; i < h.length; i++) {
                    boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(o.seed(), o.offset(), i), o.threshold());
                    h[i] = kept ? h[i] * scale : 0;
                }
            }
        }
        double loss = 0;
        int k = config.numClasses();
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, h[i * k + j]);
            }
            double sum = 0;
            for (int j = 0; j < k; j++) {
                sum += Math.exp(h[i * k + j] - max);
            }
            loss += -(h[i * k + y[i]] - max - Math.log(sum));
        }
        if (baseSides != null && !sides.equals(baseSides)) {
            sideChanged = true;
        }
        return loss / n + 0.5 * config.reg() * reg;
    }

    /**
     * The smallest |input| of any ReLU in the last {@link #loss} call: a central difference with step h is only
     * valid when no ReLU input lies within reach of the kink at 0.
     */
    double minReluInput() {
        return minReluInput;
    }

    private static double[] batchNorm(double[] x, int n, int d, double[] gamma, double[] beta, double eps) {
        double[] out = new double[x.length];
        for (int j = 0; j < d; j++) {
            double mean = 0;
            for (int i = 0; i < n; i++) {
                mean += x[i * d + j];
            }
            mean /= n;
            double var = 0;
            for (int i = 0; i < n; i++) {
                double c = x[i * d + j] - mean;
                var += c * c;
            }
            var /= n;
            for (int i = 0; i < n; i++) {
                out[i * d + j] = gamma[j] * (x[i * d + j] - mean) / Math.sqrt(var + eps) + beta[j];
            }
        }
        return out;
    }

    private static double[] layerNorm(double[] x, int n, int d, double[] gamma, double[] beta, double eps) {
        double[] out = new double[x.length];
        for (int i = 0; i < n; i++) {
            double mean = 0;
            for (int j = 0; j < d; j++) {
                mean += x[i * d + j];
            }
            mean /= d;
            double var = 0;
            for (int j = 0; j < d; j++) {
                double c = x[i * d + j] - mean;
                var += c * c;
            }
            var /= d;
            for (int j = 0; j < d; j++) {
                out[i * d + j] = gamma[j] * (x[i * d + j] - mean) / Math.sqrt(var + eps) + beta[j];
            }
        }
        return out;
    }

    /**
     * Central differences (f(p+h) − f(p−h))/2h of {@link #loss} for every element of every parameter, in double
     * precision, each with its error bound (NumericalGradient.evalArrayWithError: Richardson's estimate of the
     * truncation from the same difference at 2h, and the roundoff of evaluations each within {@code evalError}).
     * Valid only where no evaluation moves a ReLU input across its kink: {@link #kinkCrossed()} says whether one did.
     */
    Map<String, NumericalGradient.Estimate> numericalGradient(Map<String, double[]> params, double[] x, int[] y, int n,
                                                              double h, double evalError) {
        loss(params, x, y, n);
        baseSides = new ArrayList<>(sides);
        sideChanged = false;
        Map<String, NumericalGradient.Estimate> grads = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> e : params.entrySet()) {
            grads.put(e.getKey(), NumericalGradient.evalScalarWithError(v -> loss(params, x, y, n), e.getValue(), h,
                    evalError));
        }
        baseSides = null;
        return grads;
    }

    /** Whether an evaluation of the last {@link #numericalGradient} moved a ReLU input across 0. */
    boolean kinkCrossed() {
        return sideChanged;
    }
}
