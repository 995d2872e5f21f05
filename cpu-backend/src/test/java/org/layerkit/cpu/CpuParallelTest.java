package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuParallelTest {
    @Test
    void threadsComeFromThePropertyOrThePool() {
        assertEquals(3, CpuParallel.threads(null, 3));
        assertEquals(1, CpuParallel.threads(" ", 0));
        assertEquals(1, CpuParallel.threads("1", 8));
        assertEquals(64, CpuParallel.threads(" 64 ", 2));
    }

    @Test
    void aBadThreadCountNamesThePropertyAndTheValue() {
        for (String bad : new String[] {"0", "-2", "two"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CpuParallel.threads(bad, 2));
            assertTrue(e.getMessage().contains(CpuParallel.THREADS_PROPERTY) && e.getMessage().contains(bad),
                    e.getMessage());
        }
    }

    @Test
    void oneThreadMeansOneChunkAndChunksNeverDependOnTiming() {
        int chunks = CpuParallel.chunks(1 << 12, 1 << 10);
        assertEquals(CpuParallel.THREADS == 1 ? 1 : Math.min(1 << 12, 4 * CpuParallel.THREADS), chunks);
        assertEquals(chunks, CpuParallel.chunks(1 << 12, 1 << 10));
    }
}
