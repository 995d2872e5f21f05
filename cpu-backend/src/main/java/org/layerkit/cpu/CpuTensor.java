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
 *
 * <p>A <em>view</em> ({@link #view}, what {@code Backend.reshape} returns) is a tensor of another shape over its base
 * tensor's array. It has no {@link CpuStorage} of its own — the tracker counts, reclaims and reports only the base —
 * and holds the base strongly, so the base cannot be reclaimed while the view is reachable. Reads, writes, versions
 * and pins all go to the base (a write through the view counts a new version of the base; a cache that pins the
 * view pins the base's array); closing the view only closes the view, and a view refuses use like a closed tensor
 * once its base is closed, which includes every tensor of a closed backend.
 */
final class CpuTensor implements Tensor {
    private final CpuBackend backend;
    private final Shape shape;
    /** The tensor owning the array when this is a view, else null. */
    private final CpuTensor base;
    /** The storage the tracker tracks; null for a view (its base's storage is the one). */
    private final CpuStorage storage;
    /** The contents while open; null once closed (also null for the closed backend's, whose storage says so). */
    private float[] data;
    private int version;
    /** Whether a view was closed (a view has no array of its own to drop). */
    private volatile boolean viewClosed;

    CpuTensor(CpuBackend backend, Shape shape, float[] data) {
        this.backend = backend;
        this.shape = shape;
        this.base = null;
        this.data = data;
        this.storage = new CpuStorage(this, backend.tracker(), backend.pool(), data.length);
        backend.tracker().track(storage, shape);
    }

    private CpuTensor(CpuTensor base, Shape shape) {
        this.backend = base.backend;
        this.shape = shape;
        this.base = base;
        this.storage = null;
    }

    /** A view of this tensor's storage under {@code shape} (same element count, checked by the caller). */
    CpuTensor view(Shape shape) {
        return new CpuTensor(base != null ? base : this, shape);
    }

    /** Whether this tensor is a view of another one's storage. */
    boolean isView() {
        return base != null;
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
        if (base != null) {
            requireOpenView("cpu");
            return base.data();
        }
        float[] d = data;
        if (d == null || !storage.isOpen()) {
            throw closed("cpu");
        }
        return d;
    }

    private IllegalStateException closed(String op) {
        return Contracts.closedTensor(op, "tensor", this);
    }

    private void requireOpenView(String op) {
        if (viewClosed || backend.isClosed()) {
            throw closed(op);
        }
        if (base.isClosed()) {
            throw new IllegalStateException(op + ": tensor expected an open tensor, got a view " + shape
                    + " of a closed tensor " + base.shape);
        }
    }

    /** The storage for an in-place write: like {@link #data()}, and counts a new version of the contents. */
    float[] dataForWrite() {
        if (base != null) {
            requireOpenView("cpu");
            return base.dataForWrite();
        }
        float[] d = data();
        version++;
        return d;
    }

    /** How many in-place writes the contents have had (the base's, for a view). */
    int version() {
        return base != null ? base.version() : version;
    }

    /** Keeps the array out of the pool until {@link #unpin()}, even if the tensor is closed meanwhile. */
    float[] pin() {
        if (base != null) {
            requireOpenView("cpu");
            return base.pin();
        }
        float[] d = data();
        if (!storage.pin()) {
            throw closed("cpu");
        }
        return d;
    }

    /** Lets go of one {@link #pin()}; the last one of a closed tensor hands the array back to the pool. */
    void unpin() {
        if (base != null) {
            base.unpin();
            return;
        }
        storage.unpin();
    }

    @Override
    public float[] toArray() {
        if (base != null) {
            requireOpenView("tensor.toArray");
            return base.toArray();
        }
        float[] d = data;
        if (d == null || !storage.isOpen()) {
            throw closed("tensor.toArray");
        }
        return d.clone();
    }

    @Override
    public boolean isClosed() {
        if (base != null) {
            return viewClosed || base.isClosed();
        }
        return !storage.isOpen();
    }

    @Override
    public void close() {
        if (base != null) {
            viewClosed = true; // the storage is the base's: closing a view releases nothing
            return;
        }
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
        return "CpuTensor" + shape + (base != null ? " (view)" : "") + (isClosed() ? " (closed)" : "");
    }
}
