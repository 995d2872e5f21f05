package org.layerkit.api;

/**
 * The geometry of a 2-D convolution besides its tensors: stride and zero padding per axis, plus dilation and groups,
 * which exist so that a model asking for them is refused with a clear message rather than computed wrong: every
 * backend accepts only dilation 1 and groups 1 for now ({@link Contracts#conv2dForward} rejects the rest).
 *
 * <p>Output size per axis (floor division, as PyTorch and CS231N): H' = ⌊(H + 2·padH − dilationH·(KH − 1) − 1) /
 * strideH⌋ + 1, which is ⌊(H + 2·padH − KH) / strideH⌋ + 1 for dilation 1; the same for W. The record itself checks
 * nothing (like {@link DropoutOptions}); the op checks it and names the op in its message.
 *
 * @param strideH   vertical step of the window, ≥ 1
 * @param strideW   horizontal step of the window, ≥ 1
 * @param padH      zero rows added above and below the input, ≥ 0
 * @param padW      zero columns added left and right of the input, ≥ 0
 * @param dilationH spacing of the kernel's rows; must be 1
 * @param dilationW spacing of the kernel's columns; must be 1
 * @param groups    input/output channel groups; must be 1
 */
public record Conv2dParams(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {

    /** The same stride and padding on both axes, dilation 1, groups 1. */
    public static Conv2dParams of(int stride, int padding) {
        return new Conv2dParams(stride, stride, padding, padding, 1, 1, 1);
    }

    /** Stride and padding per axis, dilation 1, groups 1. */
    public static Conv2dParams of(int strideH, int strideW, int padH, int padW) {
        return new Conv2dParams(strideH, strideW, padH, padW, 1, 1, 1);
    }

    /** H' for an input of height {@code h} and a kernel of height {@code kh}; valid once the op has checked it. */
    public long outputHeight(long h, long kh) {
        return outputSize(h, kh, strideH, padH, dilationH);
    }

    /** W' for an input of width {@code w} and a kernel of width {@code kw}; valid once the op has checked it. */
    public long outputWidth(long w, long kw) {
        return outputSize(w, kw, strideW, padW, dilationW);
    }

    /** ⌊(in + 2·pad − dilation·(k − 1) − 1) / stride⌋ + 1, in long so that no term can overflow. */
    static long outputSize(long in, long k, int stride, int pad, int dilation) {
        return Math.floorDiv(in + 2L * pad - (long) dilation * (k - 1) - 1, (long) stride) + 1;
    }
}
