package org.layerkit.models;

import java.util.Locale;

/** The normalization a {@link FullyConnectedNet} puts after each hidden affine layer. */
public enum Normalization {
    /** No normalization. */
    NONE,
    /** Batch normalization (statistics over the batch, running statistics in EVAL). */
    BATCH,
    /** Layer normalization (statistics over the features of each example). */
    LAYER;

    /** {@code none}, {@code batch}/{@code batchnorm}, {@code layer}/{@code layernorm} (any case). */
    public static Normalization parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "none", "" -> NONE;
            case "batch", "batchnorm" -> BATCH;
            case "layer", "layernorm" -> LAYER;
            default -> throw new IllegalArgumentException("normalization: expected none, batch or layer, got '" + s + "'");
        };
    }

    /** The lower-case name {@link #parse} accepts. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
