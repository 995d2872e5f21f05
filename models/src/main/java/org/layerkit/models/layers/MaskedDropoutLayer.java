package org.layerkit.models.layers;

import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Tensor;

/**
 * What {@link DropoutLayer} and {@link SpatialDropoutLayer} share: keep and seed, the Philox offset that advances
 * after every TRAIN forward (a checkpointed counter), the global first row of a data-parallel replica's slice, and the
 * mask kept for the backward. A subclass says what one mask word covers (an element, or an (n, c) plane) and which
 * backend op draws and applies it.
 */
abstract class MaskedDropoutLayer extends ParameterFreeLayer<DropoutResult> implements StatefulLayer, RowIndexed {
    /** The counter holding the Philox offset of the next TRAIN forward. */
    static final String OFFSET = "offset";

    private final double keep;
    private final long seed;
    private long offset;
    /** The global index of the first row (data-parallel replicas): the mask starts at its first word. */
    private long firstRow;

    MaskedDropoutLayer(Backend backend, String type, double keep, long seed) {
        super(backend);
        Contracts.requireKeep(type, keep);
        this.keep = keep;
        this.seed = seed;
    }

    /** The mask words one row of {@code x} draws: its elements, or its C planes. */
    abstract long wordsPerRow(Tensor x);

    abstract DropoutResult draw(Tensor x, DropoutOptions options, Mode mode);

    abstract Tensor applyMask(Tensor dOut, Tensor mask);

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
        // word i of these rows is the word of global word firstRow·wordsPerRow + i
        long start = firstRow == 0 ? 0 : firstRow * wordsPerRow(x);
        DropoutResult result = keepForward(() -> draw(x, new DropoutOptions(keep, seed, offset, start), mode));
        if (mode == Mode.TRAIN) {
            offset++;
        }
        return result.out();
    }

    @Override
    public Tensor backward(Tensor dOut) {
        DropoutResult result = forwardResult();
        Checks.forwardDone(type() + ".backward", result);
        return keepGrad(() -> applyMask(dOut, result.mask()));
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
    public Map<String, Long> counters() {
        return Map.of(OFFSET, offset);
    }

    @Override
    public void setCounter(String name, long value) {
        if (!OFFSET.equals(name)) {
            throw new IllegalArgumentException(type() + ": counter expected " + OFFSET + ", got " + name);
        }
        offset = value;
    }

}
