package org.layerkit.cpu;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.layerkit.api.BackendException;

/**
 * Recycles the arrays of closed tensors, keyed by length. On this kind of machine touching freshly allocated memory
 * is about a hundred times slower than reusing warm memory, and a training loop allocates the same shapes every
 * step, so reuse is what keeps hot loops allocation-free.
 *
 * <p>{@link #take} returns an array with arbitrary old contents: callers either overwrite every element or ask for
 * {@link #takeZeroed}. The pool holds at most {@link #MAX_PER_LENGTH} arrays per length and at most
 * {@code capacityFloats} floats in all; beyond that, released arrays are left to the garbage collector.
 */
final class CpuMemoryPool {
    static final int MAX_PER_LENGTH = 32;

    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
    private final long capacityFloats;
    private long pooledFloats;
    private long arraysAllocated;
    private boolean closed;

    CpuMemoryPool(long capacityFloats) {
        this.capacityFloats = capacityFloats;
    }

    /** An array of {@code length} floats with unspecified contents. */
    float[] take(int length) {
        synchronized (this) {
            ArrayDeque<float[]> q = free.get(length);
            if (q != null) {
                float[] a = q.pollFirst();
                if (a != null) {
                    pooledFloats -= length;
                    return a;
                }
            }
            arraysAllocated++;
        }
        return fresh(length);
    }

    /**
     * A new array of {@code length} floats; one larger than the heap could ever hold is refused at once, and a heap
     * that is merely full gives a {@link BackendException} naming the size instead of an OutOfMemoryError.
     */
    static float[] fresh(int length) {
        long bytes = (long) length * Float.BYTES;
        long max = Runtime.getRuntime().maxMemory();
        if (bytes > max) {
            throw new BackendException("cpu: out of memory: a tensor of " + length + " floats needs " + gib(bytes)
                    + ", more than the Java heap may ever hold (" + gib(max) + "; raise it with -Xmx)");
        }
        try {
            return new float[length];
        } catch (OutOfMemoryError e) {
            throw new BackendException("cpu: out of memory: a tensor of " + length + " floats needs " + gib(bytes)
                    + " and the Java heap (at most " + gib(max) + ", -Xmx) has no room left for it; close tensors "
                    + "that are no longer needed, or raise -Xmx", e);
        }
    }

    private static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /** An array of {@code length} zeros. */
    float[] takeZeroed(int length) {
        float[] a = take(length);
        java.util.Arrays.fill(a, 0f);
        return a;
    }

    /** Returns an array for reuse (or drops it when the pool is full or closed). */
    synchronized void release(float[] a) {
        if (closed || pooledFloats + a.length > capacityFloats) {
            return;
        }
        ArrayDeque<float[]> q = free.computeIfAbsent(a.length, k -> new ArrayDeque<>());
        if (q.size() < MAX_PER_LENGTH) {
            q.addFirst(a);
            pooledFloats += a.length;
        }
    }

    /** Floats currently held for reuse. */
    synchronized long pooledFloats() {
        return pooledFloats;
    }

    /** How many arrays {@link #take} had to allocate because none of that length was pooled. */
    synchronized long arraysAllocated() {
        return arraysAllocated;
    }

    /** Drops every pooled array and stops pooling. */
    synchronized void close() {
        closed = true;
        free.clear();
        pooledFloats = 0;
    }
}
