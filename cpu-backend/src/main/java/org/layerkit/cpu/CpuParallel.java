package org.layerkit.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Splits a kernel's rows (or slabs) into contiguous chunks run on the common {@link ForkJoinPool} plus the calling
 * thread. Work below {@link #MIN_PARALLEL_ELEMENTS} elements stays on the calling thread, where thread hand-off
 * would cost more than it saves.
 *
 * <p>The number of chunks depends only on the problem size and {@link #THREADS}, never on timing, so reductions that
 * combine per-chunk partial sums in chunk order are deterministic from run to run on one machine. A machine with
 * more cores splits into more chunks and so sums in another order: results differ in the last bits, within the
 * bounds of docs/tolerances.md (the test matrix runs the numeric suites with 1 and with 64 threads' chunking).
 */
final class CpuParallel {
    /** Tensors smaller than this run single-threaded. */
    static final int MIN_PARALLEL_ELEMENTS = 1 << 16;

    /** System property: the number of threads kernels split their work for (default: the common pool's + 1). */
    static final String THREADS_PROPERTY = "layerkit.cpu.threads";

    /**
     * Threads kernels split their work for: the common pool's workers plus the caller, or
     * {@value #THREADS_PROPERTY} (1 runs every kernel on the calling thread; more than the cores splits into that
     * many threads' chunks, as a larger machine would, run by the pool's workers).
     */
    static final int THREADS = threads(System.getProperty(THREADS_PROPERTY),
            ForkJoinPool.getCommonPoolParallelism() + 1);

    private CpuParallel() {
    }

    /** The thread count from the property's value, or {@code fallback} when it is absent. */
    static int threads(String property, int fallback) {
        if (property == null || property.isBlank()) {
            return Math.max(1, fallback);
        }
        try {
            int t = Integer.parseInt(property.trim());
            if (t >= 1) {
                return t;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("cpu: " + THREADS_PROPERTY + " expected a whole number >= 1, got '"
                + property + "'");
    }

    /** Work on rows {@code [from, to)} of chunk {@code chunk}. */
    @FunctionalInterface
    interface ChunkBody {
        void run(int chunk, int from, int to);
    }

    /**
     * How many chunks to split {@code rows} rows of {@code elementsPerRow} elements into: 1 for small work,
     * otherwise a few per thread (for balance), never more than the rows.
     */
    static int chunks(int rows, long elementsPerRow) {
        long total = (long) rows * Math.max(1, elementsPerRow);
        if (THREADS == 1 || rows < 2 || total < MIN_PARALLEL_ELEMENTS) {
            return 1;
        }
        return (int) Math.min(rows, 4L * THREADS);
    }

    /** Runs {@code body} over {@code chunks} contiguous, near-equal parts of {@code [0, rows)}. */
    static void forChunks(int chunks, int rows, ChunkBody body) {
        forChunks(chunks, rows, true, body);
    }

    /**
     * {@link #forChunks(int, int, ChunkBody)}, or, when not {@code parallel}, the same chunks one after another on the
     * calling thread (for bodies whose inner calls bring threads of their own, such as a multi-threaded BLAS).
     */
    static void forChunks(int chunks, int rows, boolean parallel, ChunkBody body) {
        if (!parallel) {
            for (int k = 0; k < chunks; k++) {
                body.run(k, chunkStart(k, chunks, rows), chunkStart(k + 1, chunks, rows));
            }
            return;
        }
        if (chunks <= 1) {
            body.run(0, 0, rows);
            return;
        }
        IntStream.range(0, chunks).parallel().forEach(k -> body.run(k,
                chunkStart(k, chunks, rows), chunkStart(k + 1, chunks, rows)));
    }

    /** The first row of chunk {@code k} of {@code chunks} over {@code [0, rows)} (k = chunks gives rows). */
    static int chunkStart(int k, int chunks, int rows) {
        return (int) ((long) k * rows / chunks);
    }

    /** {@link #forChunks} with the chunk count chosen by {@link #chunks}. */
    static void forRows(int rows, long elementsPerRow, ChunkBody body) {
        forChunks(chunks(rows, elementsPerRow), rows, body);
    }
}
