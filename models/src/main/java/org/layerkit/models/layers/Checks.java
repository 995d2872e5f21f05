package org.layerkit.models.layers;

import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Argument checks shared by the layers; messages follow the api's "op: arg expected X, got Y" style. */
final class Checks {
    private Checks() {
    }

    static void positive(String op, String arg, int value) {
        if (value < 1) {
            throw Contracts.bad(op, arg, "an integer >= 1", value);
        }
    }

    static void features(String op, Tensor x, int rank, int features) {
        if (x == null) {
            throw new IllegalArgumentException(op + ": x expected a tensor, got null");
        }
        Shape s = x.shape();
        if (s.rank() != rank || s.dim(1) != features) {
            throw new IllegalArgumentException(op + ": x expected rank " + rank + " with dimension 1 = " + features
                    + ", got shape " + s);
        }
    }

    /**
     * An input shape a layer can take: rank {@code rank} and, when {@code features} &gt; 0, dimension 1 equal to it;
     * otherwise an IllegalArgumentException naming the layer ({@code op}), what it expected and what it got.
     */
    static Shape requireShape(String op, Shape s, int rank, int features) {
        if (s == null) {
            throw new IllegalArgumentException(op + ": input expected a shape, got null");
        }
        if (s.rank() != rank || (features > 0 && s.dim(1) != features)) {
            throw new IllegalArgumentException(op + ": input expected rank " + rank
                    + (features > 0 ? " with dimension 1 = " + features : "") + " ("
                    + (rank == 4 ? "[N,C,H,W]" : rank == 2 ? "[N,D]" : "rank " + rank) + "), got shape " + s);
        }
        return s;
    }

    static void forwardDone(String op, Object cache) {
        if (cache == null) {
            throw new IllegalStateException(op + ": backward called before any forward");
        }
    }

    static void close(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + c + " failed", e);
            }
        }
    }
}
