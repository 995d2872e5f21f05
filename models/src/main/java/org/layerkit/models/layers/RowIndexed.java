package org.layerkit.models.layers;

/**
 * A layer whose TRAIN forward depends on each row's index in the whole batch, not only on its values: the dropout
 * layers, whose Philox masks are drawn by element index. A data-parallel trainer gives each replica's layers the
 * global index of its first row, so that a split batch draws exactly the masks that the unsplit batch draws.
 */
public interface RowIndexed {
    /** The global index of the next forward's first row (0, the default, for a whole batch). */
    void firstRow(long row);

    /**
     * A TRAIN forward of no rows (a replica whose share of the batch is empty): advances the layer's state exactly as
     * a TRAIN forward would, so every replica's counters stay equal.
     */
    void forwardEmpty();
}
