package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * A tensor on the heap: a {@code float[]} of exactly {@code shape.size()} elements, row-major, held by a
 * {@link CpuStorage} that the backend tracks. Closing hands the array back to the backend's {@link CpuMemoryPool},
 * so a closed tensor refuses every further use; so does every tensor of a closed backend. A tensor dropped without
 * closing is found by the garbage collector and reported by {@link org.layerkit.api.LeakDetector}.
 *
 * <p>A normalization cache that keeps this tensor as its forward's input {@link #pin pins} it: closing it then
 * only closes it for its owner, and the array goes back to the pool when the last pin is let go. Every in-place
 * write goes through {@link #dataForWrite()}, which counts a new {@link #version()}, so a cache can tell that its
 * input was changed after the forward.
 */
final class CpuTensor implements Tensor {
    private final CpuBackend backend;
    private final Shape shape;
    private final CpuStorage storage;
    /** The contents while open; null once closed (also null for the closed backend's, whose storage says so). */
    private float[] data;
    private int version;

    CpuTensor(CpuBackend backend, Shape shape, float[] data) {
        this.backend = backend;
        this.shape = shape;
        this.data = data;
        this.storage = new CpuStorage(this, backend.tracker(), backend.pool(), data.length);
        backend.tracker().track(storage, shape);
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
        if (d == null || !storage.isOpen()) {
            throw closed("cpu");
        }
        return d;
    }

    private IllegalStateException closed(String op) {
        return Contracts.closedTensor(op, "tensor", this);
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
    float[] pin() {
        float[] d = data();
        if (!storage.pin()) {
            throw closed("cpu");
        }
        return d;
    }

    /** Lets go of one {@link #pin()}; the last one of a closed tensor hands the array back to the pool. */
    void unpin() {
        storage.unpin();
    }

    @Override
    public float[] toArray() {
        float[] d = data;
        if (d == null || !storage.isOpen()) {
            throw closed("tensor.toArray");
        }
        return d.clone();
    }

    @Override
    public boolean isClosed() {
        return !storage.isOpen();
    }

    @Override
    public void close() {
        float[] d;
        synchronized (this) {
            d = data;
            data = null;
        }
        if (d != null) {
            storage.close(d);
        }
    }

    @Override
    public String toString() {
        return "CpuTensor" + shape + (isClosed() ? " (closed)" : "");
    }
}
