package org.layerkit.api;

/** Which normalization produced a {@link NormCache}; backward checks that it gets its own kind. */
public enum NormKind {
    BATCHNORM("batchnorm"),
    SPATIAL_BATCHNORM("spatial_batchnorm"),
    LAYERNORM("layernorm"),
    GROUPNORM("groupnorm");

    private final String id;

    NormKind(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }
}
