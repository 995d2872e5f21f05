package org.layerkit.api;

/** The output of a max-pool forward and the cache (argmax positions) its backward needs. The caller owns both. */
public record MaxPool2dResult(Tensor out, MaxPool2dCache cache) implements AutoCloseable {
    @Override
    public void close() {
        out.close();
        cache.close();
    }
}
