package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Spatial (channel) dropout of x {@code [N,C,H,W]}, PyTorch's {@code Dropout2d}: TRAIN keeps each whole (n, c) plane
 * with probability {@code keep} and scales it by 1/keep, with the Philox mask of (seed, offset) — the same decisions
 * as {@link DropoutLayer} makes for an {@code [N,C]} tensor; the offset advances after every TRAIN forward. EVAL is the
 * identity.
 */
public final class SpatialDropoutLayer extends MaskedDropoutLayer {
    public static final String TYPE = "spatial_dropout";

    public SpatialDropoutLayer(Backend backend, double keep, long seed) {
        super(backend, TYPE, keep, seed);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Shape outputShape(Shape input) {
        return Checks.requireShape(TYPE, input, 4, 0);
    }

    @Override
    long wordsPerRow(Tensor x) {
        return x.shape().dim(1);   // one word per (n, c) plane
    }

    @Override
    DropoutResult draw(Tensor x, DropoutOptions options, Mode mode) {
        return backend.spatialDropoutForward(x, options, mode);
    }

    @Override
    Tensor applyMask(Tensor dOut, Tensor mask) {
        return backend.spatialDropoutBackward(dOut, mask);
    }

    /** {@code spatial_dropout}: {@code keep} (required, in (0,1]), {@code seed} (0). */
    public static final class Factory extends TypedFactory {
        public Factory() {
            super(TYPE, (backend, config) -> new SpatialDropoutLayer(backend, config.getDouble("keep"),
                    config.getLong("seed", 0)));
        }
    }
}
