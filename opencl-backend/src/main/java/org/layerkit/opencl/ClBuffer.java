package org.layerkit.opencl;

import org.jocl.cl_mem;
import org.layerkit.api.TrackedStorage;

/**
 * The device buffer of one {@link ClTensor}, tracked by its context's {@link org.layerkit.api.StorageTracker}; it
 * never refers to the tensor. However it is released — the tensor closed, found unreachable unclosed, or the
 * backend closing — the buffer goes back to the context's pool by size ({@link ClContext#release}), which a later
 * tensor reuses safely because the one in-order queue runs the new owner's commands after the old owner's. A
 * tensor found unreachable can only be one no host code still enqueues commands for: every launch holds the tensors
 * whose buffers it passes until it has enqueued ({@link ClLaunch}), and the other paths to a buffer keep their
 * tensor reachable the same way ({@link java.lang.ref.Reference#reachabilityFence}).
 */
final class ClBuffer extends TrackedStorage {
    private final ClContext ctx;
    private volatile cl_mem mem;

    ClBuffer(Object tensor, ClContext ctx, cl_mem mem, long bytes) {
        super(tensor, ctx.tracker(), bytes);
        this.ctx = ctx;
        this.mem = mem;
    }

    /** The buffer, or null once released. */
    cl_mem mem() {
        return mem;
    }

    @Override
    protected void free(Release reason) {
        cl_mem m = mem;
        mem = null;
        if (m != null) {
            ctx.release(m, bytes());
        }
    }
}
