package org.layerkit.models.layers;

import java.util.List;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Tensor;

/**
 * Inverted dropout: TRAIN keeps each element with probability {@code keep} and scales survivors by 1/keep, using the
 * Philox mask of (seed, offset); the offset advances by one after every TRAIN forward, so successive batches get
 * fresh masks and a run is reproducible on every backend. EVAL is the identity.
 */
public final class DropoutLayer implements Layer, StatefulLayer, RowIndexed {
    public static final String TYPE = "dropout";
    /** The counter holding the Philox offset of the next TRAIN forward. */
    public static final String OFFSET = "offset";

    private final Backend backend;
    private final double keep;
    private final long seed;
    private long offset;
    /** The global index of the first row (data-parallel replicas): the mask starts at its first element. */
    private long firstRow;
    private DropoutResult result;
    private Tensor dX;

    public DropoutLayer(Backend backend, double keep, long seed) {
        Contracts.requireKeep("dropout", keep);
        this.backend = backend;
        this.keep = keep;
        this.seed = seed;
    }

    @Override
    public String type() {
        return TYPE;
    }

    public double keep() {
        return keep;
    }

    public long seed() {
        return seed;
    }

    /** The offset the next TRAIN forward will use. */
    public long offset() {
        return offset;
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        // element (plane) i of these rows draws the word of global element firstRow·rowSize + i
        long start = firstRow == 0 ? 0 : firstRow * (long) (x.size() / x.shape().dim(0));
        DropoutResult r = backend.dropoutForward(x, new DropoutOptions(keep, seed, offset, start), mode);
        if (mode == Mode.TRAIN) {
            offset++;
        }
        Checks.close(result);
        result = r;
        return r.out();
    }

    @Override
    public Tensor backward(Tensor dOut) {
        Checks.forwardDone("dropout.backward", result);
        Tensor d = backend.dropoutBackward(dOut, result.mask());
        Checks.close(dX);
        dX = d;
        return dX;
    }

    @Override
    public void firstRow(long row) {
        if (row < 0) {
            throw new IllegalArgumentException(type() + ": firstRow expected >= 0, got " + row);
        }
        firstRow = row;
    }

    @Override
    public void forwardEmpty() {
        offset++; // as a TRAIN forward: the next step's masks are the same on every replica
    }

    @Override
    public List<Parameter> parameters() {
        return List.of();
    }

    @Override
    public Map<String, Long> counters() {
        return Map.of(OFFSET, offset);
    }

    @Override
    public void setCounter(String name, long value) {
        if (!OFFSET.equals(name)) {
            throw new IllegalArgumentException("dropout: counter expected " + OFFSET + ", got " + name);
        }
        offset = value;
    }

    @Override
    public void close() {
        Checks.close(result);
        Checks.close(dX);
        result = null;
        dX = null;
    }

    /** {@code dropout}: {@code keep} (required, in (0,1]), {@code seed} (0). */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new DropoutLayer(backend, config.getDouble("keep"), config.getLong("seed", 0));
        }
    }
}
