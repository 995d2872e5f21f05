package org.layerkit.cpu;

/**
 * Per-thread scratch arrays, grown on demand and then kept, so that kernels allocate nothing per call once warm
 * (output tensors come from the {@link CpuMemoryPool}; this holds what a kernel needs only while it runs).
 *
 * <p>Slots are numbered. Slots below {@link #CALL} belong to chunk bodies (row buffers, per-chunk accumulators); a
 * chunk body never calls another kernel, so these are free whenever a body starts. Slots from {@link #CALL} up belong
 * to the kernel call on its calling thread (per-chunk partials, per-feature coefficients); the calling thread may run
 * chunk bodies of its own call meanwhile, which use the lower slots, so the two never collide. Arrays are returned with
 * old contents unless asked for zeros.
 *
 * <p>Arrays above {@link #KEEP_MAX} elements are handed out fresh and not kept: a thread that once ran a kernel on a
 * huge tensor (a [8, 2²⁷] batch norm needs gigabytes of column statistics) must not hold that memory for the rest of
 * its life. Training shapes stay far below it.
 */
final class CpuScratch {
    /** The first slot that belongs to a kernel call rather than to a chunk body. */
    static final int CALL = 8;

    private static final int SLOTS = 16;
    /** Longest array a slot keeps: 2²² elements (16 MiB of floats, 32 MiB of doubles). */
    static final int KEEP_MAX = 1 << 22;
    private static final ThreadLocal<CpuScratch> LOCAL = ThreadLocal.withInitial(CpuScratch::new);

    private final float[][] floats = new float[SLOTS][];
    private final double[][] doubles = new double[SLOTS][];
    private final long[][] longs = new long[SLOTS][];
    private final int[][] ints = new int[SLOTS][];

    private CpuScratch() {
    }

    /** This thread's scratch. */
    static CpuScratch get() {
        return LOCAL.get();
    }

    /** At least {@code n} floats of slot {@code slot}, old contents. */
    float[] floats(int slot, int n) {
        float[] a = floats[slot];
        if (a == null || a.length < n) {
            a = new float[n];
            floats[slot] = n <= KEEP_MAX ? a : null;
        }
        return a;
    }

    /** At least {@code n} floats of slot {@code slot}, the first {@code n} zero. */
    float[] zeroedFloats(int slot, int n) {
        float[] a = floats(slot, n);
        java.util.Arrays.fill(a, 0, n, 0f);
        return a;
    }

    /** At least {@code n} doubles of slot {@code slot}, old contents. */
    double[] doubles(int slot, int n) {
        double[] a = doubles[slot];
        if (a == null || a.length < n) {
            a = new double[n];
            doubles[slot] = n <= KEEP_MAX ? a : null;
        }
        return a;
    }

    /** At least {@code n} doubles of slot {@code slot}, the first {@code n} zero. */
    double[] zeroedDoubles(int slot, int n) {
        double[] a = doubles(slot, n);
        java.util.Arrays.fill(a, 0, n, 0.0);
        return a;
    }

    /** Slots [0, count) of the long arrays, each at least {@code n} long, as one table (old contents). */
    long[][] longTable(int count, int n) {
        if (n > KEEP_MAX) {
            throw new IllegalArgumentException("CpuScratch.longTable: n expected at most " + KEEP_MAX + ", got " + n);
        }
        for (int i = 0; i < count; i++) {
            longs(i, n);
        }
        return longs;
    }

    /** At least {@code n} ints of slot {@code slot}, old contents. */
    int[] ints(int slot, int n) {
        int[] a = ints[slot];
        if (a == null || a.length < n) {
            a = new int[n];
            ints[slot] = a;
        }
        return a;
    }

    /** At least {@code n} longs of slot {@code slot}, old contents. */
    long[] longs(int slot, int n) {
        long[] a = longs[slot];
        if (a == null || a.length < n) {
            a = new long[n];
            longs[slot] = n <= KEEP_MAX ? a : null;
        }
        return a;
    }
}
