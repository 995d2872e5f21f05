package org.layerkit.models.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Collective;
import org.layerkit.api.InProcessCollective;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.SpatialBatchNormLayer;
import org.layerkit.models.layers.SpatialDropoutLayer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * The layer parts of data-parallel training: dropout layers given their first global row draw exactly the unsplit
 * batch's masks (uneven splits, slices straddling Philox blocks), a replica without rows advances them as a forward
 * would; the SyncBatchNorm layer never communicates in EVAL and names its type; bad trainer input is a clear error.
 */
class DataParallelLayersTest {
    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    private static float[] ones(int n) {
        float[] f = new float[n];
        Arrays.fill(f, 1f);
        return f;
    }

    /** The TRAIN output of x = ones, which is the mask, of rows [from, to) given firstRow = from. */
    private static float[] maskOfRows(Layer layer, Shape rowShape, int from, int to) {
        int[] d = rowShape.dims().clone();
        d[0] = to - from;
        Shape s = Shape.of(d);
        if (layer instanceof DropoutLayer dl) {
            dl.firstRow(from);
        } else {
            ((SpatialDropoutLayer) layer).firstRow(from);
        }
        try (Tensor x = backend.upload(ones(s.size()), s)) {
            return layer.forward(x, Mode.TRAIN).toArray();
        }
    }

    private static void splitMasksEqualWholeMask(Layer whole, Layer a, Layer b, Layer c, Shape shape) {
        int n = shape.dim(0);
        float[] all = maskOfRows(whole, shape, 0, n);
        int[][] splits = {{0, 3}, {3, 4}, {4, n}};
        Layer[] parts = {a, b, c};
        int rowSize = shape.size() / n;
        for (int i = 0; i < 3; i++) {
            float[] part = maskOfRows(parts[i], shape, splits[i][0], splits[i][1]);
            assertArrayEquals(Arrays.copyOfRange(all, splits[i][0] * rowSize, splits[i][1] * rowSize), part,
                    whole.type() + ": mask of rows " + Arrays.toString(splits[i]) + " given its first global row");
        }
        // and without the first row, the slice draws another mask: the row index matters
        float[] misplaced = maskOfRows(b, shape, 0, 1); // row 3's slice drawn as if it were row 0
        assertTrue(!Arrays.equals(Arrays.copyOfRange(all, 3 * rowSize, 4 * rowSize), misplaced),
                "a slice drawn from row 0 instead of its global row must differ");
    }

    @Test
    void dropoutLayersGivenTheirFirstGlobalRowDrawTheUnsplitBatchsMasks() {
        // D = 13: the slices' first elements (39, 52) straddle Philox blocks of four
        try (DropoutLayer w = new DropoutLayer(backend, 0.5, 99); DropoutLayer a = new DropoutLayer(backend, 0.5, 99);
             DropoutLayer b = new DropoutLayer(backend, 0.5, 99); DropoutLayer c = new DropoutLayer(backend, 0.5, 99)) {
            splitMasksEqualWholeMask(w, a, b, c, Shape.of(9, 13));
        }
        // C = 5 planes per row
        try (SpatialDropoutLayer w = new SpatialDropoutLayer(backend, 0.5, 7);
             SpatialDropoutLayer a = new SpatialDropoutLayer(backend, 0.5, 7);
             SpatialDropoutLayer b = new SpatialDropoutLayer(backend, 0.5, 7);
             SpatialDropoutLayer c = new SpatialDropoutLayer(backend, 0.5, 7)) {
            splitMasksEqualWholeMask(w, a, b, c, Shape.of(7, 5, 2, 3));
        }
    }

    @Test
    void aReplicaWithoutRowsAdvancesItsDropoutOffsetLikeAForward() {
        try (DropoutLayer d = new DropoutLayer(backend, 0.5, 1)) {
            d.forwardEmpty();
            assertEquals(1, d.offset());
            assertThrows(IllegalArgumentException.class, () -> d.firstRow(-1));
        }
    }

    @Test
    void syncBatchNormLayerNeverCommunicatesInEval() {
        // a group of two in which only rank 0 runs: an exchange would time out after 1 s and fail
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(1));
        try (BatchNormLayer bn = new BatchNormLayer(backend, 3, BatchNormOptions.defaults());
             SyncBatchNormLayer s = new SyncBatchNormLayer(backend, bn, group.get(0));
             SpatialBatchNormLayer sbn = new SpatialBatchNormLayer(backend, 2, BatchNormOptions.defaults());
             SyncBatchNormLayer ss = new SyncBatchNormLayer(backend, sbn, group.get(0));
             Tensor x = backend.upload(new float[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3));
             Tensor x4 = backend.upload(new float[16], Shape.of(2, 2, 2, 2))) {
            assertEquals("sync_batchnorm", s.type());
            assertEquals("sync_spatial_batchnorm", ss.type());
            try (Tensor expected = bn.forward(x, Mode.EVAL)) {
                float[] want = expected.toArray();
                assertArrayEquals(want, s.forward(x, Mode.EVAL).toArray());
            }
            assertEquals(16, ss.forward(x4, Mode.EVAL).size());
            assertEquals(bn.parameters(), s.parameters(), "the wrapper shares the wrapped layer's parameters");
        }
    }

    @Test
    void badTrainerInputIsAClearError() {
        FullyConnectedNetConfig cfg = FullyConnectedNetConfig.builder(3, 2).hidden(4)
                .normalization(Normalization.BATCH).seed(1).build();
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> new DataParallelTrainer(List.of(), cfg, OptimizerConfig.sgd(0.1)));
        assertTrue(none.getMessage().contains("one or more"), none.getMessage());
        try (DataParallelTrainer t = new DataParallelTrainer(List.of(backend, backend), cfg, OptimizerConfig.sgd(0.1))) {
            float[] x = new float[4 * 3];
            int[] y = new int[4];
            IllegalArgumentException counts = assertThrows(IllegalArgumentException.class,
                    () -> t.step(x, y, new int[] {4}));
            assertTrue(counts.getMessage().contains("one row count per replica (2)"), counts.getMessage());
            IllegalArgumentException sum = assertThrows(IllegalArgumentException.class,
                    () -> t.step(x, y, new int[] {2, 1}));
            assertTrue(sum.getMessage().contains("N = Σ counts"), sum.getMessage());
            // a global batch of one row is an error on every replica (batch statistics of one value), not a hang
            IllegalArgumentException one = assertThrows(IllegalArgumentException.class,
                    () -> t.step(new float[3], new int[1], new int[] {1, 0}));
            assertTrue(one.getMessage().contains("at least 2 values per channel"), one.getMessage());
            IllegalStateException after = assertThrows(IllegalStateException.class, () -> t.step(x, y, 4));
            assertTrue(after.getMessage().contains("unusable after an earlier failure"), after.getMessage());
        }
    }
}
