package org.layerkit.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** allReduceSum's default: the gathered arrays added in rank order. */
class CollectiveTest {
    /** A rank of R whose allGather returns fixed arrays, as if every rank had called it. */
    record Fixed(int rank, double[][] all) implements Collective {
        @Override
        public int size() {
            return all.length;
        }

        @Override
        public double[][] allGather(double[] local) {
            return all;
        }

        @Override
        public void barrier() {
        }
    }

    @Test
    void allReduceSumAddsInRankOrder() {
        // (1e16 + 1) + (-1e16) = 0 in double, 1e16 + (1 + -1e16) = 1e16 + -9999999999999998 = 2: the order shows
        double[][] all = {{1e16, 5}, {1, 6}, {-1e16, 7}};
        double[] sum = new Fixed(1, all).allReduceSum(all[1]);
        assertEquals((1e16 + 1) + -1e16, sum[0]);
        assertEquals(0.0, sum[0]);
        assertEquals(18.0, sum[1]);
    }

    @Test
    void allReduceSumRefusesArraysOfDifferentLengths() {
        double[][] all = {{1, 2}, {3}};
        CollectiveException e = assertThrows(CollectiveException.class,
                () -> new Fixed(0, all).allReduceSum(all[0]));
        assertTrue(e.getMessage().contains("expected the same length on every rank, got 2 doubles on rank 0 and 1 on rank 1"),
                e.getMessage());
    }
}
