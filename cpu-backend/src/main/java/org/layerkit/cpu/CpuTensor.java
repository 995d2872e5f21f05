package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * A tensor on the heap: a {@code float[]} of exactly {@code shape.size()} elements, row-major. Closing hands the
 * array back to the backend's {@link CpuMemoryPool}, so a closed tensor refuses every further use.
 *
 * <p>A normalization cache that keeps this tensor as its forward's input {@link #pin pins} it: closing it then
 * only closes it for its owner, and the array goes back to the pool when the last pin is let go. Every in-place
 * write goes through {@link #dataForWrite()}, which counts a new {@link #version()}, so a cache can tell that its
 * input was changed after the forward.
 */
final class CpuTensor implements Tensor {
    private final CpuBackend backend;
    private final Shape shape;
    private float[] data;
    /** The array while pinned after its owner closed the tensor, else null. */
    private float[] kept;
    private int pins;
    private int version;

    CpuTensor(CpuBackend backend, Shape shape, float[] data) {
        this.backend = backend;
        this.shape = shape;
        this.data = data;
    }

    @Override
    public Shape shape() {
        return shape;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    /** The live storage, for kernels of this backend; the contract checks have already ruled out a closed tensor. */
    float[] data() {
        float[] d = data;
        if (d == null) {
            throw new IllegalStateException("cpu: expected an open tensor, got a closed tensor of shape " + shape);
        }
        return d;
    }

    /** The storage for an in-place write: like {@link #data()}, and counts a new version of the contents. */
    float[] dataForWrite() {
        float[] d = data();
        version++;
        return d;
    }

    /** How many in-place writes the contents have had. */
    int version() {
        return version;
    }

    /** Keeps the array out of the pool until {@link #unpin()}, even if the tensor is closed meanwhile. */
    synchronized float[] pin() {
        float[] d = data();
        pins++;
        return d;
    }

    /** Lets go of one {@link #pin()}; the last one of a closed tensor hands the array back to the pool. */
    void unpin() {
        float[] d = null;
        synchronized (this) {
            if (--pins == 0 && kept != null) {
                d = kept;
                kept = null;
            }
        }
        if (d != null) {
            backend.pool().release(d);
        }
    }

    @Override
    public float[] toArray() {
        return data().clone();
    }

    @Override
    public boolean isClosed() {
        return data == null;
    }

    @Override
    public void close() {
        float[] d;
        synchronized (this) {
            d = data;
            data = null;
            if (pins > 0) {
                kept = d;   // still read by a cache: released by the last unpin
                d = null;
            }
        }
        if (d != null) {
            backend.pool().release(d);
        }
    }

    @Override
    public String toString() {
        return "CpuTensor" + shape + (isClosed() ? " (closed)" : "");
    }
}
