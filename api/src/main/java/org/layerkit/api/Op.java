package org.layerkit.api;

/**
 * The op families of the kernel contract. A backend that lacks one says so through {@link Backend#supports(Op)};
 * the conformance kit then reports its cases UNSUPPORTED rather than FAILED.
 */
public enum Op {
    BATCHNORM("batchnorm"),
    SPATIAL_BATCHNORM("spatial_batchnorm"),
    LAYERNORM("layernorm"),
    GROUPNORM("groupnorm"),
    DROPOUT("dropout"),
    GEMM("gemm"),
    BIAS("bias"),
    RELU("relu"),
    SOFTMAX_CROSS_ENTROPY("softmax_cross_entropy"),
    ARGMAX("argmax"),
    OPTIMIZER("optimizer"),
    ELEMENTWISE("elementwise"),
    CONV2D("conv2d"),
    MAXPOOL2D("maxpool2d"),
    GLOBAL_AVGPOOL("global_avgpool"),
    SPATIAL_DROPOUT("spatial_dropout");

    private final String id;

    Op(String id) {
        this.id = id;
    }

    /** The lower-case name used in case names and error messages, e.g. {@code batchnorm}. */
    public String id() {
        return id;
    }
}
