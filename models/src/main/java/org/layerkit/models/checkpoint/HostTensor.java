package org.layerkit.models.checkpoint;

import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** A tensor's shape and contents copied to the host, independent of any backend. */
public record HostTensor(Shape shape, float[] data) {
    public HostTensor {
        if (data.length != shape.size()) {
            throw new IllegalArgumentException("HostTensor: data expected " + shape.size() + " values for shape " + shape
                    + ", got " + data.length);
        }
    }

    /** Copies a device tensor to the host. */
    public static HostTensor of(Tensor t) {
        return new HostTensor(t.shape(), t.toArray());
    }

    /** Overwrites {@code target} (same shape) with these values. */
    public void copyInto(Tensor target) {
        Backend b = target.backend();
        try (Tensor src = b.upload(data, shape)) {
            b.copy(src, target);
        }
    }
}
