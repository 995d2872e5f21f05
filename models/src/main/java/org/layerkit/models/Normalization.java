package org.layerkit.models;

import java.util.Locale;

/**
 * The normalization of a net's hidden layers. In an MLP ({@link FullyConnectedNetConfig}) after each hidden affine
 * layer: none, batch or layer. In a CNN ({@link ConvNetConfig}) after each conv: none, batch (spatial batch norm, per
 * channel over N·H·W), group (group norm with G groups) or layer (group norm with G = 1, over C·H·W).
 */
public enum Normalization {
    /** No normalization. */
    NONE,
    /** Batch normalization (statistics over the batch, running statistics in EVAL). */
    BATCH,
    /** Layer normalization (statistics over the features of each example). */
    LAYER,
    /** Group normalization (statistics per example over groups of channels); convolutional nets only. */
    GROUP;

    /** {@code none}, {@code batch}/{@code batchnorm}, {@code layer}/{@code layernorm}, {@code group}/{@code groupnorm}. */
    public static Normalization parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "none", "" -> NONE;
            case "batch", "batchnorm" -> BATCH;
            case "layer", "layernorm" -> LAYER;
            case "group", "groupnorm" -> GROUP;
            default -> throw new IllegalArgumentException("normalization: expected none, batch, layer or group, got '"
                    + s + "'");
        };
    }

    /** The lower-case name {@link #parse} accepts. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
