package org.layerkit.api;

/**
 * The output of a dropout forward and its mask: every mask element is exactly 0 or {@link DropoutOptions#scale()}
 * (in EVAL mode, or with keep = 1, all are 1). Backward is dX = dOut ⊙ mask. The caller owns both.
 */
public record DropoutResult(Tensor out, Tensor mask) implements AutoCloseable {
    @Override
    public void close() {
        out.close();
        mask.close();
    }
}
