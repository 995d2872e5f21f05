package org.layerkit.api;

import java.util.Arrays;

/**
 * The dimensions of a dense, row-major tensor. Immutable.
 *
 * <p>Shape letters used throughout layerkit: N batch, D features, C channels, H×W spatial, G groups, K classes.
 */
public final class Shape implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final int[] dims;

    /** A deserialized shape is checked as {@link #of} checks a new one. */
    private Object readResolve() {
        return of(dims);
    }

    private Shape(int[] dims) {
        this.dims = dims;
    }

    /** A shape with the given dimensions; every dimension must be at least 1. */
    public static Shape of(int... dims) {
        if (dims == null || dims.length == 0) {
            throw new IllegalArgumentException("Shape: expected at least one dimension, got none");
        }
        long size = 1;
        for (int d : dims) {
            if (d < 1) {
                throw new IllegalArgumentException("Shape: every dimension must be >= 1, got " + Arrays.toString(dims));
            }
            size *= d;
            if (size > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("Shape: " + Arrays.toString(dims) + " has more than 2^31-9 elements");
            }
        }
        return new Shape(dims.clone());
    }

    public int rank() {
        return dims.length;
    }

    public int dim(int axis) {
        return dims[axis];
    }

    public int[] dims() {
        return dims.clone();
    }

    /** The number of elements. */
    public int size() {
        int s = 1;
        for (int d : dims) {
            s *= d;
        }
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** Like {@code [N,D]} with numbers: {@code [1000,333]}. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append(dims[i]);
        }
        return b.append(']').toString();
    }
}
