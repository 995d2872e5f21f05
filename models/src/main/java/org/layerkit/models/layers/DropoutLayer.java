package org.layerkit.models.layers;

import org.layerkit.api.Backend;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Tensor;

/**
 * Inverted dropout: TRAIN keeps each element with probability {@code keep} and scales survivors by 1/keep, using the
 * Philox mask of (seed, offset); the offset advances by one after every TRAIN forward, so successive batches get
 * fresh masks and a run is reproducible on every backend. EVAL is the identity.
 */
public final class DropoutLayer extends MaskedDropoutLayer {
    public static final String TYPE = "dropout";
    /** The counter holding the Philox offset of the next TRAIN forward. */
    public static final String OFFSET = MaskedDropoutLayer.OFFSET;

    public DropoutLayer(Backend backend, double keep, long seed) {
        super(backend, TYPE, keep, seed);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    long wordsPerRow(Tensor x) {
        return x.size() / x.shape().dim(0);   // one word per element
    }

    @Override
    DropoutResult draw(Tensor x, DropoutOptions options, Mode mode) {
        return backend.dropoutForward(x, options, mode);
    }

    @Override
    Tensor applyMask(Tensor dOut, Tensor mask) {
        return backend.dropoutBackward(dOut, mask);
    }

    /** {@code dropout}: {@code keep} (required, in (0,1]), {@code seed} (0). */
    public static final class Factory extends TypedFactory {
        public Factory() {
            super(TYPE, (backend, config) -> new DropoutLayer(backend, config.getDouble("keep"),
                    config.getLong("seed", 0)));
        }
    }
}
