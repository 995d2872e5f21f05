package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.Conv2dCache;

/**
 * The forward's input x as a CPU convolution cache keeps it, for the backward to unfold again (see {@link CpuConv}):
 * x's array, pinned so that the caller may close x, and the version of its contents at the forward, so that a
 * backward after an in-place change of x refuses instead of returning gradients of another input — the rules of
 * {@link CpuSavedInput}, without the normalization's statistics.
 */
final class CpuConvInput implements Conv2dCache.Saved {
    private final CpuBackend backend;
    private final CpuTensor x;
    private final float[] xs;
    private final int version;
    private boolean closed;

    /** Pins x. */
    CpuConvInput(CpuBackend backend, CpuTensor x) {
        this.backend = backend;
        this.x = x;
        this.xs = x.pin();
        this.version = x.version();
    }

    /**
     * x's contents as the forward saw them, for {@code op}; throws {@link IllegalStateException} if the cache is
     * closed or x was changed in place since.
     */
    synchronized float[] input(String op) {
        if (closed) {
            throw new IllegalStateException(op + ": cache expected an open cache, got a closed one");
        }
        if (x.version() != version) {
            throw new IllegalStateException(op + ": cache expected its forward's input x unchanged (the cpu"
                    + " backend's convolution cache keeps x, not a copy), got x " + x.shape() + " modified in place"
                    + " after the forward (by fill, copy, scale, axpy, addBias, gemm or an optimizer step); run the"
                    + " forward again, or give the forward a copy of x");
        }
        return xs;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            x.unpin();
        }
    }
}
