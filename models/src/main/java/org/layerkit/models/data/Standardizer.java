package org.layerkit.models.data;

import org.layerkit.api.Shape;

/**
 * Standardization x'_j = (x_j − mean_j)/std_j of each feature j, with mean and std fitted on the training set only and
 * then applied to every split. Two fits: {@link #fit} per feature (what the MLP uses: each pixel its own mean and std;
 * a feature with zero spread, e.g. an always-black border pixel, gets std 1, so it becomes 0) and
 * {@link #fitPerChannel} one mean and std per image channel over all its pixels (what convolutional nets use: a
 * convolution applies the same weights at every position, so every position should see the same transform). Either
 * way the standardizer holds D means and D standard deviations (a per-channel one repeats each channel's pair over its
 * H·W features), which is exactly what a checkpoint's STDZ section stores: the transform is fully described, and
 * {@link #perChannel(Shape)} tells the per-channel case apart (for an export that folds it into the first layer).
 */
public final class Standardizer implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final float[] mean;
    private final float[] std;

    /** A deserialized standardizer is checked as {@link #of} checks a new one. */
    private Object readResolve() {
        return of(mean, std);
    }

    private Standardizer(float[] mean, float[] std) {
        this.mean = mean;
        this.std = std;
    }

    /** A standardizer with known statistics (e.g. from a checkpoint); every std must be &gt; 0. */
    public static Standardizer of(float[] mean, float[] std) {
        if (mean.length != std.length || mean.length == 0) {
            throw new IllegalArgumentException("Standardizer.of: mean and std expected the same length >= 1, got "
                    + mean.length + " and " + std.length);
        }
        for (int j = 0; j < std.length; j++) {
            if (!(std[j] > 0) || Float.isInfinite(std[j])) {
                throw new IllegalArgumentException("Standardizer.of: std[" + j + "] expected a finite value > 0, got "
                        + std[j]);
            }
        }
        return new Standardizer(mean.clone(), std.clone());
    }

    /** Fits mean and (population) standard deviation per feature on {@code train}, in double precision. */
    public static Standardizer fit(Dataset train) {
        int d = train.featureCount();
        int n = train.size();
        if (n == 0) {
            throw new IllegalArgumentException("Standardizer.fit: " + train.name() + " is empty");
        }
        float[] x = train.features();
        double[] sum = new double[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                sum[j] += x[i * d + j];
            }
        }
        double[] sq = new double[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                double c = x[i * d + j] - sum[j] / n;
                sq[j] += c * c;
            }
        }
        float[] mean = new float[d];
        float[] std = new float[d];
        for (int j = 0; j < d; j++) {
            mean[j] = (float) (sum[j] / n);
            double s = Math.sqrt(sq[j] / n);
            std[j] = s > 1e-8 ? (float) s : 1f;
        }
        return new Standardizer(mean, std);
    }

    /**
     * One mean and (population) standard deviation per channel of examples {@code [C,H,W]}, over every pixel of every
     * training example, in double precision; repeated over each channel's H·W features. A channel with zero spread
     * gets std 1.
     */
    public static Standardizer fitPerChannel(Dataset train) {
        Shape s = train.exampleShape();
        if (s.rank() != 3) {
            throw new IllegalArgumentException("Standardizer.fitPerChannel: " + train.name()
                    + " expected examples of shape [C,H,W], got " + s);
        }
        int n = train.size();
        if (n == 0) {
            throw new IllegalArgumentException("Standardizer.fitPerChannel: " + train.name() + " is empty");
        }
        int c = s.dim(0);
        int plane = s.dim(1) * s.dim(2);
        int d = train.featureCount();
        float[] x = train.features();
        float[] mean = new float[d];
        float[] std = new float[d];
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                int at = i * d + ch * plane;
                for (int p = 0; p < plane; p++) {
                    sum += x[at + p];
                }
            }
            double m = sum / ((double) n * plane);
            double sq = 0;
            for (int i = 0; i < n; i++) {
                int at = i * d + ch * plane;
                for (int p = 0; p < plane; p++) {
                    double v = x[at + p] - m;
                    sq += v * v;
                }
            }
            double sd = Math.sqrt(sq / ((double) n * plane));
            java.util.Arrays.fill(mean, ch * plane, (ch + 1) * plane, (float) m);
            java.util.Arrays.fill(std, ch * plane, (ch + 1) * plane, sd > 1e-8 ? (float) sd : 1f);
        }
        return new Standardizer(mean, std);
    }

    /**
     * Whether this is one mean and std per channel of examples of {@code shape} {@code [C,H,W]} (every feature of a
     * channel has the same pair), as {@link #fitPerChannel} makes.
     */
    public boolean perChannel(Shape shape) {
        if (shape.rank() != 3 || shape.size() != mean.length) {
            return false;
        }
        int plane = shape.dim(1) * shape.dim(2);
        for (int j = 0; j < mean.length; j++) {
            int first = j / plane * plane;
            if (mean[j] != mean[first] || std[j] != std[first]) {
                return false;
            }
        }
        return true;
    }

    /** A new data set with standardized features. */
    public Dataset apply(Dataset data) {
        int d = data.featureCount();
        if (d != mean.length) {
            throw new IllegalArgumentException("Standardizer.apply: expected " + mean.length + " features, got " + d
                    + " (" + data.name() + ")");
        }
        float[] x = data.features();
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            int j = i % d;
            out[i] = (x[i] - mean[j]) / std[j];
        }
        return data.withFeatures(out);
    }

    /** D, the number of features. */
    public int featureCount() {
        return mean.length;
    }

    public float[] mean() {
        return mean.clone();
    }

    public float[] std() {
        return std.clone();
    }
}
