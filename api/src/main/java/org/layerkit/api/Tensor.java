package org.layerkit.api;

/**
 * A dense float32, row-major tensor owned by one {@link Backend} (a heap array on the CPU, a device buffer on
 * OpenCL). Data crosses between host and backend only through {@link Backend#upload} and {@link #toArray()}.
 *
 * <p>Closing releases the storage (possibly back to the backend's pool); using a closed tensor, or passing a
 * tensor to another backend, is an error that says so. Closing twice is harmless. A tensor whose backend was closed
 * is closed too. A tensor dropped without closing is released when the garbage collector finds it, and reported
 * ({@link LeakDetector}).
 *
 * <p>Threads: any number of threads may read a tensor at once ({@link #toArray()}, inputs of ops); an in-place
 * write or {@link #close()} must not overlap other uses of the same tensor (see {@link Backend}).
 */
public interface Tensor extends AutoCloseable {
    /** The dimensions of this tensor. */
    Shape shape();

    /** The backend that owns the storage. */
    Backend backend();

    /** Copies the contents to a new host array (waits for pending work on this tensor). */
    float[] toArray();

    /** Whether {@link #close()} has been called. */
    boolean isClosed();

    /** Releases the storage; idempotent. */
    @Override
    void close();

    /** The number of elements. */
    default int size() {
        return shape().size();
    }

    /** The single element of a one-element tensor, such as a loss. */
    default float item() {
        if (size() != 1) {
            throw new IllegalArgumentException("Tensor.item: expected a tensor of one element, got shape " + shape());
        }
        return toArray()[0];
    }
}
