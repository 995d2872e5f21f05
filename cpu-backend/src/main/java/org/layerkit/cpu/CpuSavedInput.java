package org.layerkit.cpu;

import org.layerkit.api.Backend;
import org.layerkit.api.NormCache;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The forward's input x as a CPU normalization cache keeps it, so that the forward writes only y and the backward
 * recomputes x̂ = ((x − hi) − lo)·rs while it reads x (see {@link CpuNormKernels}): x's array (pinned, so that the
 * caller may close x), the version of its contents at the forward, and lo, the float tail of each mean (hi is the
 * cache's float mean, rs its float rstd). The recomputed x̂ is bit-identical to the forward's.
 */
final class CpuSavedInput implements NormCache.SavedInput {
    private final CpuBackend backend;
    private final CpuTensor x;
    private final float[] xs;
    private final int version;
    private final CpuTensor lo;
    private boolean closed;

    /** Pins x; takes ownership of lo (a tensor of the statistics' shape). */
    CpuSavedInput(CpuBackend backend, CpuTensor x, CpuTensor lo) {
        this.backend = backend;
        this.x = x;
        this.xs = x.pin();
        this.version = x.version();
        this.lo = lo;
    }

    /**
     * x's contents as the forward saw them, for {@code op}; throws {@link IllegalStateException} if x was changed in
     * place since (the gradients would belong to another input).
     */
    float[] input(String op) {
        if (closed) {
            throw new IllegalStateException(op + ": cache expected an open cache, got a closed one");
        }
        if (x.version() != version) {
            throw new IllegalStateException(op + ": cache expected its forward's input x unchanged (the cpu"
                    + " backend's cache keeps x and recomputes x̂ from it), got x " + x.shape() + " modified in place"
                    + " after the forward (by fill, copy, scale, axpy, addBias, gemm or an optimizer step); run the"
                    + " forward again, or give the forward a copy of x");
        }
        return xs;
    }

    /** lo per statistic: mean = hi + lo. */
    float[] lo() {
        return lo.data();
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public Shape shape() {
        return x.shape();
    }

    @Override
    public Tensor normalize(NormCache cache) {
        return CpuNormKernels.normalized(backend, cache, this);
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
            lo.close();
        }
    }
}
