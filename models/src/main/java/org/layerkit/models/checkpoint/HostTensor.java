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

    /** The flat index of the first NaN or ±∞ value, or -1 when every value is finite. */
    public int firstNonFinite() {
        for (int i = 0; i < data.length; i++) {
            if (!Float.isFinite(data[i])) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Where the first non-finite value is, for messages: {@code "NaN at index 1234 ([1,450] of [256,784])"}, or
     * null when every value is finite.
     */
    public String describeFirstNonFinite() {
        int i = firstNonFinite();
        return i < 0 ? null : data[i] + " at index " + i + " (" + position(shape, i) + " of " + shape + ")";
    }

    /** The row-major coordinates of flat index {@code i} in {@code shape}, such as {@code [1,450]}. */
    static String position(Shape shape, int i) {
        int[] dims = shape.dims();
        int[] at = new int[dims.length];
        int rest = i;
        for (int k = dims.length - 1; k >= 0; k--) {
            at[k] = rest % dims[k];
            rest /= dims[k];
        }
        StringBuilder b = new StringBuilder("[");
        for (int k = 0; k < at.length; k++) {
            b.append(k == 0 ? "" : ",").append(at[k]);
        }
        return b.append(']').toString();
    }

    /** Overwrites {@code target} (same shape) with these values. */
    public void copyInto(Tensor target) {
        Backend b = target.backend();
        try (Tensor src = b.upload(data, shape)) {
            b.copy(src, target);
        }
    }
}
