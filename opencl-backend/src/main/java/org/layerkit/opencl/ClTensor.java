package org.layerkit.opencl;

import java.lang.ref.Reference;
import org.jocl.Sizeof;
import org.jocl.cl_mem;
import org.layerkit.api.Backend;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * A float32 tensor in one OpenCL buffer of its backend's context, held by a {@link ClBuffer} that the context
 * tracks; close() releases the buffer to the context's pool. A tensor dropped without closing is found by the
 * garbage collector and its buffer released the same way (reported by {@link org.layerkit.api.LeakDetector}); closing
 * the backend releases every buffer, after which its tensors refuse use.
 *
 * <p>A dropout mask may be <em>pending</em> (see {@link ClDropoutKernels}): its buffer is allocated but not yet
 * written, and the tensor holds the Philox parameters that define its contents instead. Every way to the buffer
 * goes through {@link #mem()} (the storage's buffer is read nowhere else but in {@link #materialize()}), and it
 * writes a pending mask into the buffer first, once: kernel launches ({@link ClLaunch#mem(ClTensor)}), CLBlast,
 * copies, uploads into it and {@link #toArray()} all see the written mask. Only {@link ClDropoutKernels#backward}
 * looks at the parameters ({@link #pendingMask()}) and regenerates the mask instead of reading it.
 */
final class ClTensor implements Tensor {
    private final ClBackend backend;
    private final Shape shape;
    private final ClBuffer storage;
    /** The parameters of a mask not yet written into its buffer; null once written (or for any other tensor). */
    private volatile ClDropoutKernels.MaskParams pending;

    ClTensor(ClBackend backend, Shape shape, String op) {
        this.backend = backend;
        this.shape = shape;
        ClContext ctx = backend.context();
        // at most 2^31 - 2^16 elements, so that kernels index with ints and step loops by up to 2^16
        long bytes = (long) Contracts.requireStorable(op, shape) * Sizeof.cl_float;
        this.storage = new ClBuffer(this, ctx, ctx.allocateReclaiming(op, bytes), bytes);
        ctx.tracker().track(storage, shape);
    }

    /** A new tensor holding the dropout mask of {@code params}, written into its buffer on the first read. */
    static ClTensor pendingMask(ClBackend backend, Shape shape, String op, ClDropoutKernels.MaskParams params) {
        ClTensor t = new ClTensor(backend, shape, op);
        t.pending = params;
        return t;
    }

    /**
     * The buffer, for a kernel, a copy or a read to use; a pending mask is written into it first, so whatever is
     * enqueued after this call sees it.
     */
    cl_mem mem() {
        cl_mem m = storage.mem();
        if (m == null) {
            throw closed("opencl");
        }
        if (pending != null) {
            materialize();
        }
        return m;
    }

    /**
     * The Philox parameters of this mask while it is still pending (not yet written into its buffer), else null. A
     * caller that regenerates the mask from them needs no buffer and leaves it pending.
     */
    ClDropoutKernels.MaskParams pendingMask() {
        return pending;
    }

    /**
     * Enqueues the kernel that writes the pending mask, exactly once. Under the context's lock, the lock every launch
     * and copy takes anyway (CLBlast's calls reach {@link #mem()} while holding it), so there is one lock order.
     */
    private void materialize() {
        ClContext ctx = backend.context();
        synchronized (ctx) {
            ClDropoutKernels.MaskParams p = pending;
            cl_mem m = storage.mem();
            if (p != null && m != null) {
                backend.dropoutKernels().writeMask(m, shape.size(), p);
                pending = null;
            }
        }
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
        if (storage.mem() == null) {
            throw closed("tensor.toArray");
        }
        float[] data = backend.context().read("tensor.toArray", mem(), 0, shape.size());
        // the buffer is this tensor's until the read has finished
        Reference.reachabilityFence(this);
        // the queue has drained up to here anyway: report a bad softmax label of an earlier call now
        backend.checkLabels();
        return data;
    }

    /** The error for a use after close: of the tensor, or of its backend (which released it). */
    private IllegalStateException closed(String op) {
        return Contracts.closedTensor(op, "tensor", this);
    }

    @Override
    public boolean isClosed() {
        return !storage.isOpen();
    }

    /** Releases the buffer to the pool; a mask still pending is never written. */
    @Override
    public void close() {
        pending = null;
        storage.close();
    }

    @Override
    public String toString() {
        return "ClTensor" + shape + (isClosed() ? " (closed)" : pending != null ? " (mask pending)" : "");
    }
}
