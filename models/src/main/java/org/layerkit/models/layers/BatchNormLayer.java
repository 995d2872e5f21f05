package org.layerkit.models.layers;

import java.util.LinkedHashMap;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Tensor;

/**
 * Batch normalization of x {@code [N,D]} over N. TRAIN uses batch statistics and updates the running mean and
 * variance (buffers {@code running_mean}, {@code running_var}); EVAL normalizes with the running statistics.
 */
public class BatchNormLayer extends NormLayer implements StatefulLayer {
    public static final String TYPE = "batchnorm";
    /** The counter holding the number of running-statistics updates. */
    public static final String BATCHES_TRACKED = "batches_tracked";

    protected final BatchNormOptions options;
    protected RunningStats running;

    public BatchNormLayer(Backend backend, int features, BatchNormOptions options) {
        this(backend, TYPE, features, options);
    }

    BatchNormLayer(Backend backend, String op, int features, BatchNormOptions options) {
        super(backend, op, features);
        this.options = options;
        this.running = RunningStats.initial(backend, features);
    }

    @Override
    public String type() {
        return TYPE;
    }

    public BatchNormOptions options() {
        return options;
    }

    public RunningStats running() {
        return running;
    }

    @Override
    protected int inputRank() {
        return 2;
    }

    @Override
    protected NormResult normForward(Tensor x, Tensor gamma, Tensor beta, Mode mode) {
        Checks.features(type() + ".forward", x, 2, features);
        return backend.batchNormForward(x, gamma, beta, running, options, mode);
    }

    @Override
    protected NormGrads normBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return backend.batchNormBackward(dOut, cache, gamma);
    }

    @Override
    public Map<String, Tensor> buffers() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("running_mean", running.mean());
        m.put("running_var", running.var());
        return m;
    }

    @Override
    public Map<String, Long> counters() {
        return Map.of(BATCHES_TRACKED, running.batchesTracked());
    }

    @Override
    public void setCounter(String name, long value) {
        if (!BATCHES_TRACKED.equals(name) || value < 0) {
            throw new IllegalArgumentException(type() + ": counter expected " + BATCHES_TRACKED + " >= 0, got "
                    + name + " = " + value);
        }
        running = new RunningStats(running.mean(), running.var(), value);
    }

    @Override
    public void close() {
        super.close();
        running.close();
    }

    /** Reads {@code eps}, {@code decay}, {@code unbiased_running_var}, {@code cumulative_average} (defaults of the api). */
    static BatchNormOptions options(LayerConfig c) {
        BatchNormOptions d = BatchNormOptions.defaults();
        return new BatchNormOptions((float) c.getDouble("eps", d.eps()), (float) c.getDouble("decay", d.decay()),
                c.getBoolean("unbiased_running_var", false), c.getBoolean("cumulative_average", false));
    }

    /**
     * {@code batchnorm}: {@code features} (required), {@code eps} (1e-5), {@code decay} (0.9; PyTorch momentum m is
     * 1−m), {@code unbiased_running_var} (false), {@code cumulative_average} (false).
     */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new BatchNormLayer(backend, config.getInt("features"), options(config));
        }
    }
}
