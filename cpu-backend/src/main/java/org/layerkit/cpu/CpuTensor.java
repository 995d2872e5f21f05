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
 *
 * <p>A <em>view</em> ({@link #view}, what {@code Backend.reshape} returns) is a tensor of another shape over its base
 * tensor's array: it holds the base (strongly, so the base's array cannot be reclaimed while the view is in use) and
 * owns no storage. Reads, writes, versions and pins all go to the base; closing the view only closes the view, and a
 * view whose base was closed refuses use like a closed tensor.
 */
final class CpuTensor implements Tensor {
    private final CpuBackend backend;
    private final Shape shape;
    /** The tensor owning the array when this is a view, else null. */
    private final CpuTensor base;
    private float[] data;
    /** The array while pinned after its owner closed the tensor, else null. */
    private float[] kept;
    private int pins;
    private int version;
    /** Whether a view was closed (a view has no array of its own to drop). */
    private volatile boolean viewClosed;

    CpuTensor(CpuBackend backend, Shape shape, float[] data) {
        this.backend = backend;
        this.shape = shape;
        this.data = data;
        this.base = null;
    }

    private CpuTensor(CpuTensor base, Shape shape) {
        this.backend = base.backend;
        this.shape = shape;
        this.base = base;
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
            requireOpenView();
            return base.data();
        }
        float[] d = data;
        if (d == null) {
            throw new IllegalStateException("cpu: expected an open tensor, got a closed tensor of shape " + shape);
        }
        return d;
    }

    private void requireOpenView() {
        if (viewClosed) {
            throw new IllegalStateException("cpu: expected an open tensor, got a closed tensor (a view) of shape "
                    + shape);
        }
        if (base.isClosed()) {
            throw new IllegalStateException("cpu: expected an open tensor, got a view " + shape + " of a closed tensor "
                    + base.shape);
        }
    }

    /** The storage for an in-place write: like {@link #data()}, and counts a new version of the contents. */
    float[] dataForWrite() {
        if (base != null) {
            requireOpenView();
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
    synchronized float[] pin() {
        if (base != null) {
            requireOpenView();
            return base.pin();
        }
        float[] d = data();
        pins++;
        return d;
    }

    /** Lets go of one {@link #pin()}; the last one of a closed tensor hands the array back to the pool. */
    void unpin() {
        if (base != null) {
            base.unpin();
            return;
        }
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
        if (base != null) {
            return viewClosed || base.isClosed();
        }
        return data == null;
    }

    @Override
    public void close() {
        if (base != null) {
            viewClosed = true; // the storage is the base's
            return;
        }
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
        return "CpuTensor" + shape + (base != null ? " (view)" : "") + (isClosed() ? " (closed)" : "");
    }
}
