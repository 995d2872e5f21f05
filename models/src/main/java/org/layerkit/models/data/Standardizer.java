package org.layerkit.models.data;

/**
 * Per-feature standardization x' = (x − mean)/std, with mean and std fitted on the training set only and then applied
 * to every split. A feature with zero spread (e.g. an always-black border pixel) gets std 1, so it becomes 0.
 */
public final class Standardizer {
    private final float[] mean;
    private final float[] std;

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
        return new Dataset(data.name(), out, data.labels(), d, data.classes());
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
