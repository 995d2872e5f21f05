package org.layerkit.opencl;

import org.jocl.Sizeof;
import org.jocl.cl_mem;
import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** A float32 tensor in one OpenCL buffer of its backend's context; close() releases the buffer. */
final class ClTensor implements Tensor {
    private final ClBackend backend;
    private final Shape shape;
    private final long bytes;
    private volatile cl_mem mem;

    ClTensor(ClBackend backend, Shape shape, String op) {
        this.backend = backend;
        this.shape = shape;
        this.bytes = (long) shape.size() * Sizeof.cl_float;
        this.mem = backend.context().allocate(op, bytes);
    }

    cl_mem mem() {
        cl_mem m = mem;
        if (m == null) {
            throw new IllegalStateException("opencl: a closed tensor of shape " + shape + " was used");
        }
        return m;
    }

    @Override
    public Shape shape() {
        return shape;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    /**
     * Blocking read; the in-order queue finishes the work that writes this tensor first. Throws the
     * IllegalArgumentException of a bad softmax label of an earlier call not yet reported (see ClLossKernels).
     */
    @Override
    public float[] toArray() {
        if (mem == null) {
            throw new IllegalStateException("tensor.toArray: expected an open tensor, got a closed tensor of shape "
                    + shape);
        }
        float[] data = backend.context().read("tensor.toArray", mem, 0, shape.size());
        // the queue has drained up to here anyway: report a bad softmax label of an earlier call now
        backend.checkLabels();
        return data;
    }

    @Override
    public synchronized boolean isClosed() {
        return mem == null;
    }

    @Override
    public synchronized void close() {
        if (mem != null) {
            cl_mem m = mem;
            mem = null;
            backend.context().release(m, bytes);
        }
    }

    @Override
    public String toString() {
        return "ClTensor" + shape + (mem == null ? " (closed)" : "");
    }
}
