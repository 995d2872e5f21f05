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

/** Layer normalization of each row of x {@code [N,D]} over D; identical in TRAIN and EVAL. */
public final class LayerNormLayer extends NormLayer {
    public static final String TYPE = "layernorm";

    private final float eps;

    public LayerNormLayer(Backend backend, int features, float eps) {
        super(backend, TYPE, features);
        this.eps = eps;
    }

    @Override
    public String type() {
        return TYPE;
    }

    public float eps() {
        return eps;
    }

    @Override
    protected int inputRank() {
        return 2;
    }

    @Override
    protected NormResult normForward(Tensor x, Tensor gamma, Tensor beta, Mode mode) {
        Checks.features(TYPE + ".forward", x, 2, features);
        return backend.layerNormForward(x, gamma, beta, eps);
    }

    @Override
    protected NormGrads normBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return backend.layerNormBackward(dOut, cache, gamma);
    }

    /** {@code layernorm}: {@code features} (required), {@code eps} (1e-5). */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new LayerNormLayer(backend, config.getInt("features"),
                    (float) config.getDouble("eps", BatchNormOptions.DEFAULT_EPS));
        }
    }
}
