package org.layerkit.cpu;

import org.layerkit.api.TrackedStorage;

/**
 * What the backend's {@link org.layerkit.api.StorageTracker} tracks for one {@link CpuTensor}: its size and the pins
 * of the normalization caches that keep it as their input. It refers neither to the tensor nor to the tensor's
 * array: the array belongs to the tensor alone, so a tensor dropped without close() takes its array with it into the
 * garbage, and both die young like any short-lived Java object. (Were the array reachable from here, the cleaner
 * would keep it alive past the collection that finds the tensor, and every dropped array would be promoted to the
 * old generation; and handing it to the pool would also need every kernel to keep its tensors reachable while it
 * reads their arrays, since the JIT may consider a tensor dead while a loop still reads its array.) So the tracker's
 * release of a reclaimed tensor only counts it off, and a closed tensor hands its array over on the way
 * ({@link #close(float[])}): to the {@link CpuMemoryPool}, or, while a cache {@link #pin pins} it, to the last unpin.
 */
final class CpuStorage extends TrackedStorage {
    private final CpuMemoryPool pool;
    /** The array of a tensor being closed, between {@link #close(float[])} and {@link #free}. */
    private float[] closing;
    /** The array of a closed tensor while pinned, released by the last unpin; else null. */
    private float[] kept;
    private int pins;

    CpuStorage(Object tensor, org.layerkit.api.StorageTracker tracker, CpuMemoryPool pool, int length) {
        super(tensor, tracker, (long) length * Float.BYTES);
        this.pool = pool;
    }

    /** One more cache reads the tensor's array; false if the storage was released meanwhile. */
    synchronized boolean pin() {
        if (!isOpen()) {
            return false;
        }
        pins++;
        return true;
    }

    /** Lets go of one {@link #pin()}; the last one of a closed tensor hands its array back to the pool. */
    void unpin() {
        float[] d = null;
        synchronized (this) {
            if (--pins == 0 && kept != null) {
                d = kept;
                kept = null;
            }
        }
        if (d != null) {
            pool.release(d);
        }
    }

    /** Closes the tensor whose array is {@code data}: the array goes to the pool now, or after the last unpin. */
    synchronized boolean close(float[] data) {
        closing = data;
        boolean released = close();
        closing = null;
        return released;
    }

    @Override
    protected void free(Release reason) {
        float[] d;
        synchronized (this) {
            d = closing;
            closing = null;
            if (reason != Release.CLOSED || d == null) {
                return; // reclaimed: the array is garbage with its tensor; backend closed: the pool is closing too
            }
            if (pins > 0) {
                kept = d; // still read by a cache: released by the last unpin
                return;
            }
        }
        pool.release(d);
    }
}
