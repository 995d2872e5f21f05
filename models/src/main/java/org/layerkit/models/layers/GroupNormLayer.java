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

/**
 * Group normalization of x {@code [N,C,H,W]}: statistics per (n, group) over (C/G)·H·W, γ and β per channel.
 * G = 1 is layer norm over C·H·W, G = C instance norm.
 */
public final class GroupNormLayer extends NormLayer {
    public static final String TYPE = "groupnorm";

    private final int groups;
    private final float eps;

    public GroupNormLayer(Backend backend, int channels, int groups, float eps) {
        super(backend, TYPE, channels);
        if (groups < 1 || channels % groups != 0) {
            throw new IllegalArgumentException("groupnorm: groups expected a divisor of channels = " + channels
                    + ", got " + groups);
        }
        this.groups = groups;
        this.eps = eps;
    }

    @Override
    public String type() {
        return TYPE;
    }

    public int groups() {
        return groups;
    }

    public float eps() {
        return eps;
    }

    @Override
    protected int inputRank() {
        return 4;
    }

    @Override
    protected NormResult normForward(Tensor x, Tensor gamma, Tensor beta, Mode mode) {
        Checks.features(TYPE + ".forward", x, 4, features);
        return backend.groupNormForward(x, gamma, beta, groups, eps);
    }

    @Override
    protected NormGrads normBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return backend.groupNormBackward(dOut, cache, gamma);
    }

    /** {@code groupnorm}: {@code channels}, {@code groups} (required), {@code eps} (1e-5). */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new GroupNormLayer(backend, config.getInt("channels"), config.getInt("groups"),
                    (float) config.getDouble("eps", BatchNormOptions.DEFAULT_EPS));
        }
    }
}
