package org.layerkit.api;

/** The output of a convolution forward and the cache its backward needs. The caller owns both. */
public record Conv2dResult(Tensor out, Conv2dCache cache) implements AutoCloseable {
    @Override
    public void close() {
        out.close();
        cache.close();
    }
}
