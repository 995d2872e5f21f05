package org.layerkit.api;

/**
 * The window of a 2-D max pool: kernel and stride per axis, no padding (every window lies inside the input), floor
 * division for the output size: H' = ⌊(H − kernelH) / strideH⌋ + 1, the same for W. A stride smaller than the
 * kernel gives overlapping windows. The record itself checks nothing; the op does and names itself in the message.
 *
 * @param kernelH window height, ≥ 1 and ≤ H
 * @param kernelW window width, ≥ 1 and ≤ W
 * @param strideH vertical step, ≥ 1
 * @param strideW horizontal step, ≥ 1
 */
public record Pool2dParams(int kernelH, int kernelW, int strideH, int strideW) {

    /** A square window of {@code kernel} moved by {@code stride} on both axes. */
    public static Pool2dParams of(int kernel, int stride) {
        return new Pool2dParams(kernel, kernel, stride, stride);
    }

    /** H' for an input of height {@code h}; valid once the op has checked it. */
    public long outputHeight(long h) {
        return Math.floorDiv(h - kernelH, (long) strideH) + 1;
    }

    /** W' for an input of width {@code w}; valid once the op has checked it. */
    public long outputWidth(long w) {
        return Math.floorDiv(w - kernelW, (long) strideW) + 1;
    }
}
