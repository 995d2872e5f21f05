package org.layerkit.models.optim;

import java.util.Locale;

/** The update rules of CS231N's {@code optim.py}. */
public enum OptimizerKind {
    SGD("sgd"),
    SGD_MOMENTUM("sgd_momentum"),
    RMSPROP("rmsprop"),
    ADAM("adam");

    private final String id;

    OptimizerKind(String id) {
        this.id = id;
    }

    /** The lower-case name, as in {@code optim.py}: {@code sgd, sgd_momentum, rmsprop, adam}. */
    public String id() {
        return id;
    }

    /** Parses {@link #id()} (also {@code momentum}, any case, '-' for '_'). */
    public static OptimizerKind parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (OptimizerKind k : values()) {
            if (k.id.equals(t)) {
                return k;
            }
        }
        if (t.equals("momentum")) {
            return SGD_MOMENTUM;
        }
        throw new IllegalArgumentException("optimizer: expected one of sgd, sgd_momentum, rmsprop, adam, got '" + s + "'");
    }
}
