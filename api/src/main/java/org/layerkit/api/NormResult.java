package org.layerkit.api;

/** The output of a normalization forward and the cache its backward needs. The caller owns both. */
public record NormResult(Tensor out, NormCache cache) implements AutoCloseable {
    @Override
    public void close() {
        out.close();
        cache.close();
    }
}
