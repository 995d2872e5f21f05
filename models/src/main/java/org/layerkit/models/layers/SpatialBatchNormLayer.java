package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Tensor;

/** Batch normalization per channel of x {@code [N,C,H,W]} over N·H·W, with running statistics of shape {@code [C]}. */
public final class SpatialBatchNormLayer extends BatchNormLayer {
    public static final String TYPE = "spatial_batchnorm";

    public SpatialBatchNormLayer(Backend backend, int channels, BatchNormOptions options) {
        super(backend, TYPE, channels, options);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    protected int inputRank() {
        return 4;
    }

    @Override
    protected NormResult normForward(Tensor x, Tensor gamma, Tensor beta, Mode mode) {
        Checks.features(TYPE + ".forward", x, 4, features);
        return backend.spatialBatchNormForward(x, gamma, beta, running, options, mode);
    }

    @Override
    protected NormGrads normBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return backend.spatialBatchNormBackward(dOut, cache, gamma);
    }

    /** {@code spatial_batchnorm}: {@code channels} (required) and the options of {@code batchnorm}. */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new SpatialBatchNormLayer(backend, config.getInt("channels"), options(config));
        }
    }
}
