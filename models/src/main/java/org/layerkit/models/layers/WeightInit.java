package org.layerkit.models.layers;

import java.util.Locale;

/**
 * How an affine layer draws its initial weights: from N(0, scale²) with a fixed {@code scale} (CS231N's
 * {@code weight_scale}) or He initialisation, N(0, 2/in). Biases always start at zero.
 *
 * @param heInit whether He initialisation is used ({@code scale} is then ignored)
 * @param scale the standard deviation of the fixed-scale Gaussian, &gt; 0
 */
public record WeightInit(boolean heInit, double scale) {
    /** CS231N's default {@code weight_scale}. */
    public static final double DEFAULT_SCALE = 1e-2;

    public WeightInit {
        if (!heInit && !(scale > 0 && Double.isFinite(scale))) {
            throw new IllegalArgumentException("WeightInit: scale expected a finite value > 0, got " + scale);
        }
    }

    /** N(0, scale²). */
    public static WeightInit gaussian(double scale) {
        return new WeightInit(false, scale);
    }

    /** He et al. 2015: N(0, 2/in), suited to ReLU networks. */
    public static WeightInit he() {
        return new WeightInit(true, 0);
    }

    /** The standard deviation for a layer with {@code in} inputs. */
    public double std(int in) {
        return heInit ? Math.sqrt(2.0 / in) : scale;
    }

    /** {@code he} or the scale as a number, e.g. {@code 0.01}; the inverse of {@link #parse}. */
    @Override
    public String toString() {
        return heInit ? "he" : Double.toString(scale);
    }

    /** Parses {@code he} or a positive number (the Gaussian scale). */
    public static WeightInit parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.equals("he")) {
            return he();
        }
        try {
            return gaussian(Double.parseDouble(t));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("weight init: expected 'he' or a positive number such as 0.01, got '"
                    + s + "'", e);
        }
    }
}
