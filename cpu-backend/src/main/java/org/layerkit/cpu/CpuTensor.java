package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * A tensor on the heap: a {@code float[]} of exactly {@code shape.size()} elements, row-major. Closing hands the
 * array back to the backend's {@link CpuMemoryPool}, so a closed tensor refuses every further use.
 */
final class CpuTensor implements Tensor {
    private final CpuBackend backend;
    private final Shape shape;
    private float[] data;

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
