package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layerkit.api.LossResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Bad softmax labels are checked on the device and reported at the next synchronization point, not by a blocking
 * read in the call: the row's loss and dLogits are NaN, and the first bad row of the first offending call is named.
 */
class ClLossLabelCheckTest {
    private static final float[] LOGITS = {1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 0, 0};

    @Test
    void badLabelGivesNaNRowAndIsReportedAtTheNextRead() {
        ClBackend b = ClTestBackend.backend();
        try (Tensor logits = b.upload(LOGITS, Shape.of(3, 4)); Tensor labels = b.upload(new float[] {0, 7, 2},
                Shape.of(3)); LossResult r = b.softmaxCrossEntropy(logits, labels)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.dLogits().toArray());
            assertEquals("softmax_cross_entropy: labels[1] expected an integer class index in [0,4), got 7.0",
                    e.getMessage());
            // reported once; the results are readable afterwards and poisoned where the label was bad
            float[] d = r.dLogits().toArray();
            for (int k = 0; k < 4; k++) {
                assertTrue(Float.isNaN(d[4 + k]), "dLogits[1," + k + "] = " + d[4 + k]);
                assertFalse(Float.isNaN(d[k]), "dLogits[0," + k + "]");
                assertFalse(Float.isNaN(d[8 + k]), "dLogits[2," + k + "]");
            }
            assertTrue(Float.isNaN(r.loss().item()));
        }
    }

    @Test
    void firstOffendingCallIsReportedBySynchronizeOrAnyRead() {
        ClBackend b = ClTestBackend.backend();
        try (Tensor logits = b.upload(LOGITS, Shape.of(3, 4));
             Tensor first = b.upload(new float[] {0, 1, -1}, Shape.of(3));
             Tensor second = b.upload(new float[] {1.5f, 1, 2}, Shape.of(3));
             Tensor good = b.upload(new float[] {3, 1, 2}, Shape.of(3));
             LossResult r1 = b.softmaxCrossEntropy(logits, first);
             LossResult r2 = b.softmaxCrossEntropy(logits, second);
             LossResult r3 = b.softmaxCrossEntropy(logits, good)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::synchronize);
            assertEquals("softmax_cross_entropy: labels[2] expected an integer class index in [0,4), got -1.0",
                    e.getMessage());
            assertDoesNotThrow(b::synchronize);
            assertFalse(Float.isNaN(r3.loss().item()));
            // a later bad call is reported by a read of an unrelated tensor
            try (LossResult r4 = b.softmaxCrossEntropy(logits, second)) {
                IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, logits::toArray);
                assertEquals("softmax_cross_entropy: labels[0] expected an integer class index in [0,4), got 1.5",
                        e2.getMessage());
            }
            assertDoesNotThrow(logits::toArray);
        }
    }
}
