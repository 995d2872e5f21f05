package org.layerkit.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Map;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.Standardizer;

/**
 * The per-feature standardization {@code x' = (x − mean)/std} fitted on the training split by {@code train}, saved in
 * the model file's metadata (base64 float32 little-endian under {@link #MEAN_KEY} and {@link #STD_KEY}) so that
 * {@code evaluate} feeds the net the same inputs it was trained on.
 *
 * @param mean per-feature mean
 * @param std  per-feature standard deviation (1 where a feature never varies)
 */
record InputScaling(float[] mean, float[] std) {
    static final String MEAN_KEY = "cli.input_mean";
    static final String STD_KEY = "cli.input_std";

    /** Fits on the training split (the models module's {@link Standardizer}). */
    static InputScaling fit(Dataset train) {
        Standardizer s = Standardizer.fit(train);
        return new InputScaling(s.mean(), s.std());
    }

    /** The scaling stored in a model's metadata, or null when the model was trained on raw inputs. */
    static InputScaling fromMetadata(Map<String, String> meta) {
        String m = meta.get(MEAN_KEY);
        String s = meta.get(STD_KEY);
        if (m == null || s == null) {
            return null;
        }
        float[] mean = decode(m);
        float[] std = decode(s);
        if (mean.length != std.length) {
            throw new CliException("model metadata: " + MEAN_KEY + " has " + mean.length + " values but " + STD_KEY
                    + " has " + std.length);
        }
        return new InputScaling(mean, std);
    }

    void toMetadata(Map<String, String> meta) {
        meta.put(MEAN_KEY, encode(mean));
        meta.put(STD_KEY, encode(std));
    }

    DatasetSplits apply(DatasetSplits s) {
        return new DatasetSplits(apply(s.train()), apply(s.validation()), apply(s.test()));
    }

    /** A new data set with standardized features (the same arithmetic as {@link Standardizer#apply}). */
    Dataset apply(Dataset data) {
        int d = data.featureCount();
        if (d != mean.length) {
            throw new CliException(data.name() + " has " + d + " features, but the model's input scaling was fitted "
                    + "on " + mean.length + ": is it the data set the model was trained on?");
        }
        float[] x = data.features();
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            int j = i % d;
            out[i] = (x[i] - mean[j]) / std[j];
        }
        return new Dataset(data.name(), out, data.labels(), d, data.classes());
    }

    private static String encode(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return Base64.getEncoder().encodeToString(b.array());
    }

    private static float[] decode(String s) {
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new CliException("model metadata: input scaling is not valid base64: " + e.getMessage(), e);
        }
        if (bytes.length % 4 != 0) {
            throw new CliException("model metadata: input scaling has " + bytes.length + " bytes, not whole floats");
        }
        float[] v = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }
}
