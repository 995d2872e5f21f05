package org.layerkit.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link CpuConv}: adding a run of one array into a run of another at a different offset
 * (col2im's fold), which C2 leaves scalar because the two accesses have different index forms; and the stride-1
 * direct convolution of one sample ({@link #convGrid}), which replaces im2col + GEMM where it applies. Like
 * {@link CpuVector}, every member links against {@code jdk.incubator.vector}, so nothing here may be touched unless
 * {@link CpuBackend#vectorApi()}; the loops path computes addInto's sums element by element (the same single
 * additions, so the results are identical) and the convolution as im2col + GEMM (the same products, summed in
 * another order).
 */
final class CpuConvVector {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private CpuConvVector() {
    }

    /** Floats per vector: a workspace that {@link #convGrid} reads or writes in whole vectors needs this much slack. */
    static int lanes() {
        return F.length();
    }

    /**
     * Stride-1 direct convolution of one sample on a <em>grid</em> (see {@link CpuConv}'s forwardDirect): for each
     * output channel f &lt; fo and grid position s &lt; m,
     * <pre>
     *   dst[f·ldd + s] = Σ_{e &lt; kLen} w[f·kLen + e] · src[off[e] + s]      one FMA per term, e in order
     * </pre>
     * where e runs over (input channel, tap) and off[e] is where that channel's plane, shifted by the tap, starts in
     * the padded input src. Positions are computed in whole vectors: src must be readable, and dst rows writable, up
     * to m rounded up to {@link #lanes()} (the extra lanes are junk, never read back). Each output is one FMA chain
     * over e in the same order whatever the blocking, vector width or thread count, so the result is too.
     *
     * <p>Register block: 4 channels × 6 vectors, 24 accumulators of AVX-512's 32 vector registers (AVX2's 16 spill
     * some); each term loads 6 vectors of src and broadcasts 4 weights for 24 FMAs. The vectors after the 6-blocks go
     * in pairs, 8 channels × 2 vectors (at the 32→64 layer's 14 vectors per channel, 4 × 2 blocks took a quarter of
     * the kernel's time for a seventh of its work; 8 × 2 cut the forward by 0.3 ms of 9.6). The (e)
     * loop is a single loop over a table of offsets: with two nested loops (channel, tap) C2 kept the accumulators
     * boxed (1.6 GFLOP/s instead of ~140, JDK 17).
     */
    static void convGrid(float[] src, int[] off, int kLen, float[] w, int fo, float[] dst, int ldd, int m) {
        int l = F.length();
        int vectors = (m + l - 1) / l;
        int f0 = 0;
        // 8 channels at a time: 6-vector blocks for each 4, then the pairs of vectors after them for all 8
        for (; f0 + 8 <= fo; f0 += 8) {
            sixBlocks(src, off, kLen, w, f0, dst, ldd, vectors);
            int v = sixBlocks(src, off, kLen, w, f0 + 4, dst, ldd, vectors);
            for (; v + 2 <= vectors; v += 2) {
                block8x2(src, off, kLen, w, f0, dst, ldd, v * l);
            }
            if (v < vectors) {
                block4x1(src, off, kLen, w, f0, dst, ldd, v * l);
                block4x1(src, off, kLen, w, f0 + 4, dst, ldd, v * l);
            }
        }
        for (; f0 + 4 <= fo; f0 += 4) {
            int v = sixBlocks(src, off, kLen, w, f0, dst, ldd, vectors);
            for (; v + 2 <= vectors; v += 2) {
                block4x2(src, off, kLen, w, f0, dst, ldd, v * l);
            }
            if (v < vectors) {
                block4x1(src, off, kLen, w, f0, dst, ldd, v * l);
            }
        }
        // the last 1 to 3 channels, a vector at a time
        for (; f0 < fo; f0++) {
            for (int v = 0; v < vectors; v++) {
                FloatVector a = FloatVector.zero(F);
                int wb = f0 * kLen;
                for (int e = 0; e < kLen; e++) {
                    a = FloatVector.fromArray(F, src, off[e] + v * l).fma(FloatVector.broadcast(F, w[wb + e]), a);
                }
                a.intoArray(dst, f0 * ldd + v * l);
            }
        }
    }

    /** Channels f0 .. f0 + 3 of {@link #convGrid} in blocks of 6 vectors; returns the first vector left over. */
    private static int sixBlocks(float[] src, int[] off, int kLen, float[] w, int f0, float[] dst, int ldd,
                                 int vectors) {
        int v = 0;
        for (; v + 6 <= vectors; v += 6) {
            block4x6(src, off, kLen, w, f0, dst, ldd, v * F.length());
        }
        return v;
    }

    /** Channels f0 .. f0 + 3, positions s0 .. s0 + 6·lanes − 1 of {@link #convGrid}. */
    private static void block4x6(float[] src, int[] off, int kLen, float[] w, int f0, float[] dst, int ldd, int s0) {
        int l = F.length();
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F);
        FloatVector a03 = FloatVector.zero(F), a04 = FloatVector.zero(F), a05 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F);
        FloatVector a13 = FloatVector.zero(F), a14 = FloatVector.zero(F), a15 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F);
        FloatVector a23 = FloatVector.zero(F), a24 = FloatVector.zero(F), a25 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F);
        FloatVector a33 = FloatVector.zero(F), a34 = FloatVector.zero(F), a35 = FloatVector.zero(F);
        int w0 = f0 * kLen;
        int w1 = w0 + kLen;
        int w2 = w1 + kLen;
        int w3 = w2 + kLen;
        for (int e = 0; e < kLen; e++) {
            int b = off[e] + s0;
            FloatVector x0 = FloatVector.fromArray(F, src, b);
            FloatVector x1 = FloatVector.fromArray(F, src, b + l);
            FloatVector x2 = FloatVector.fromArray(F, src, b + 2 * l);
            FloatVector x3 = FloatVector.fromArray(F, src, b + 3 * l);
            FloatVector x4 = FloatVector.fromArray(F, src, b + 4 * l);
            FloatVector x5 = FloatVector.fromArray(F, src, b + 5 * l);
            FloatVector c = FloatVector.broadcast(F, w[w0 + e]);
            a00 = x0.fma(c, a00);
            a01 = x1.fma(c, a01);
            a02 = x2.fma(c, a02);
            a03 = x3.fma(c, a03);
            a04 = x4.fma(c, a04);
            a05 = x5.fma(c, a05);
            c = FloatVector.broadcast(F, w[w1 + e]);
            a10 = x0.fma(c, a10);
            a11 = x1.fma(c, a11);
            a12 = x2.fma(c, a12);
            a13 = x3.fma(c, a13);
            a14 = x4.fma(c, a14);
            a15 = x5.fma(c, a15);
            c = FloatVector.broadcast(F, w[w2 + e]);
            a20 = x0.fma(c, a20);
            a21 = x1.fma(c, a21);
            a22 = x2.fma(c, a22);
            a23 = x3.fma(c, a23);
            a24 = x4.fma(c, a24);
            a25 = x5.fma(c, a25);
            c = FloatVector.broadcast(F, w[w3 + e]);
            a30 = x0.fma(c, a30);
            a31 = x1.fma(c, a31);
            a32 = x2.fma(c, a32);
            a33 = x3.fma(c, a33);
            a34 = x4.fma(c, a34);
            a35 = x5.fma(c, a35);
        }
        int d = f0 * ldd + s0;
        a00.intoArray(dst, d);
        a01.intoArray(dst, d + l);
        a02.intoArray(dst, d + 2 * l);
        a03.intoArray(dst, d + 3 * l);
        a04.intoArray(dst, d + 4 * l);
        a05.intoArray(dst, d + 5 * l);
        d += ldd;
        a10.intoArray(dst, d);
        a11.intoArray(dst, d + l);
        a12.intoArray(dst, d + 2 * l);
        a13.intoArray(dst, d + 3 * l);
        a14.intoArray(dst, d + 4 * l);
        a15.intoArray(dst, d + 5 * l);
        d += ldd;
        a20.intoArray(dst, d);
        a21.intoArray(dst, d + l);
        a22.intoArray(dst, d + 2 * l);
        a23.intoArray(dst, d + 3 * l);
        a24.intoArray(dst, d + 4 * l);
        a25.intoArray(dst, d + 5 * l);
        d += ldd;
        a30.intoArray(dst, d);
        a31.intoArray(dst, d + l);
        a32.intoArray(dst, d + 2 * l);
        a33.intoArray(dst, d + 3 * l);
        a34.intoArray(dst, d + 4 * l);
        a35.intoArray(dst, d + 5 * l);
    }

    /**
     * Channels f0 .. f0 + 3, positions s0 .. s0 + 2·lanes − 1 of {@link #convGrid} (pairs of vectors after the
     * 6-blocks where fewer than 8 channels are left: 8 accumulators keep both FMA pipes busy).
     */
    private static void block4x2(float[] src, int[] off, int kLen, float[] w, int f0, float[] dst, int ldd, int s0) {
        int l = F.length();
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F), a20 = FloatVector.zero(F), a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F);
        int w0 = f0 * kLen;
        for (int e = 0; e < kLen; e++) {
            int b = off[e] + s0;
            FloatVector x0 = FloatVector.fromArray(F, src, b);
            FloatVector x1 = FloatVector.fromArray(F, src, b + l);
            FloatVector c = FloatVector.broadcast(F, w[w0 + e]);
            a00 = x0.fma(c, a00);
            a01 = x1.fma(c, a01);
            c = FloatVector.broadcast(F, w[w0 + kLen + e]);
            a10 = x0.fma(c, a10);
            a11 = x1.fma(c, a11);
            c = FloatVector.broadcast(F, w[w0 + 2 * kLen + e]);
            a20 = x0.fma(c, a20);
            a21 = x1.fma(c, a21);
            c = FloatVector.broadcast(F, w[w0 + 3 * kLen + e]);
            a30 = x0.fma(c, a30);
            a31 = x1.fma(c, a31);
        }
        int d = f0 * ldd + s0;
        a00.intoArray(dst, d);
        a01.intoArray(dst, d + l);
        a10.intoArray(dst, d + ldd);
        a11.intoArray(dst, d + ldd + l);
        a20.intoArray(dst, d + 2 * ldd);
        a21.intoArray(dst, d + 2 * ldd + l);
        a30.intoArray(dst, d + 3 * ldd);
        a31.intoArray(dst, d + 3 * ldd + l);
    }

    /**
     * Channels f0 .. f0 + 7, positions s0 .. s0 + 2·lanes − 1 of {@link #convGrid}: the pairs of vectors after the
     * 6-blocks, 8 channels at a time where there are 8 (2 loads and 8 broadcasts for 16 FMAs, where 4×2 has 6 for 8).
     */
    private static void block8x2(float[] src, int[] off, int kLen, float[] w, int f0, float[] dst, int ldd, int s0) {
        int l = F.length();
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F), a20 = FloatVector.zero(F), a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a40 = FloatVector.zero(F);
        FloatVector a41 = FloatVector.zero(F), a50 = FloatVector.zero(F), a51 = FloatVector.zero(F);
        FloatVector a60 = FloatVector.zero(F), a61 = FloatVector.zero(F), a70 = FloatVector.zero(F);
        FloatVector a71 = FloatVector.zero(F);
        int w0 = f0 * kLen;
        for (int e = 0; e < kLen; e++) {
            int b = off[e] + s0;
            FloatVector x0 = FloatVector.fromArray(F, src, b);
            FloatVector x1 = FloatVector.fromArray(F, src, b + l);
            FloatVector c = FloatVector.broadcast(F, w[w0 + e]);
            a00 = x0.fma(c, a00);
            a01 = x1.fma(c, a01);
            c = FloatVector.broadcast(F, w[w0 + kLen + e]);
            a10 = x0.fma(c, a10);
            a11 = x1.fma(c, a11);
            c = FloatVector.broadcast(F, w[w0 + 2 * kLen + e]);
            a20 = x0.fma(c, a20);
            a21 = x1.fma(c, a21);
            c = FloatVector.broadcast(F, w[w0 + 3 * kLen + e]);
            a30 = x0.fma(c, a30);
            a31 = x1.fma(c, a31);
            c = FloatVector.broadcast(F, w[w0 + 4 * kLen + e]);
            a40 = x0.fma(c, a40);
            a41 = x1.fma(c, a41);
            c = FloatVector.broadcast(F, w[w0 + 5 * kLen + e]);
            a50 = x0.fma(c, a50);
            a51 = x1.fma(c, a51);
            c = FloatVector.broadcast(F, w[w0 + 6 * kLen + e]);
            a60 = x0.fma(c, a60);
            a61 = x1.fma(c, a61);
            c = FloatVector.broadcast(F, w[w0 + 7 * kLen + e]);
            a70 = x0.fma(c, a70);
            a71 = x1.fma(c, a71);
        }
        int d = f0 * ldd + s0;
        a00.intoArray(dst, d);
        a01.intoArray(dst, d + l);
        a10.intoArray(dst, d + ldd);
        a11.intoArray(dst, d + ldd + l);
        a20.intoArray(dst, d + 2 * ldd);
        a21.intoArray(dst, d + 2 * ldd + l);
        a30.intoArray(dst, d + 3 * ldd);
        a31.intoArray(dst, d + 3 * ldd + l);
        a40.intoArray(dst, d + 4 * ldd);
        a41.intoArray(dst, d + 4 * ldd + l);
        a50.intoArray(dst, d + 5 * ldd);
        a51.intoArray(dst, d + 5 * ldd + l);
        a60.intoArray(dst, d + 6 * ldd);
        a61.intoArray(dst, d + 6 * ldd + l);
        a70.intoArray(dst, d + 7 * ldd);
        a71.intoArray(dst, d + 7 * ldd + l);
    }

    /** Channels f0 .. f0 + 3, positions s0 .. s0 + lanes − 1 of {@link #convGrid} (an odd vector at the end). */
    private static void block4x1(float[] src, int[] off, int kLen, float[] w, int f0, float[] dst, int ldd, int s0) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int w0 = f0 * kLen;
        for (int e = 0; e < kLen; e++) {
            FloatVector x = FloatVector.fromArray(F, src, off[e] + s0);
            a0 = x.fma(FloatVector.broadcast(F, w[w0 + e]), a0);
            a1 = x.fma(FloatVector.broadcast(F, w[w0 + kLen + e]), a1);
            a2 = x.fma(FloatVector.broadcast(F, w[w0 + 2 * kLen + e]), a2);
            a3 = x.fma(FloatVector.broadcast(F, w[w0 + 3 * kLen + e]), a3);
        }
        int d = f0 * ldd + s0;
        a0.intoArray(dst, d);
        a1.intoArray(dst, d + ldd);
        a2.intoArray(dst, d + 2 * ldd);
        a3.intoArray(dst, d + 3 * ldd);
    }

    /**
     * dst[dOff + r·dw + j] = src[sOff + r·sw + j] (+ b with {@code addBias}) for rows r &lt; rows, j &lt; dw: the grid's
     * rows without their junk into NCHW. Whole vectors, rows in ascending order: a row's last vector may write up to
     * lanes − 1 floats past the row's end, into rows of dst that are written after it; a row whose spill would pass
     * {@code dLimit} (the end of what the caller owns) is copied element by element. src must be readable a vector
     * past each row. (System.arraycopy per 14-float row cost 1 ms of the 32→64 forward's 10.)
     */
    static void copyRows(float[] src, int sOff, int sw, float[] dst, int dOff, int dw, int rows, int dLimit,
                         float b, boolean addBias) {
        int l = F.length();
        int span = (dw + l - 1) / l * l;
        FloatVector vb = FloatVector.broadcast(F, b);
        for (int r = 0; r < rows; r++) {
            int s = sOff + r * sw;
            int d = dOff + r * dw;
            if (d + span <= dLimit) {
                for (int j = 0; j < span; j += l) {
                    FloatVector v = FloatVector.fromArray(F, src, s + j);
                    (addBias ? v.add(vb) : v).intoArray(dst, d + j);
                }
            } else {
                for (int j = 0; j < dw; j++) {
                    dst[d + j] = addBias ? src[s + j] + b : src[s + j];
                }
            }
        }
    }

    /**
     * b[bOff + r·wp + j] = a[aOff + r·ww + j] for rows r &lt; rows, j &lt; ww: rows of x (or dOut) into the inside of a
     * zero-bordered padded buffer, wp ≥ ww apart. Where a row rounded up to whole vectors (its span) fits in wp, the
     * row goes as whole vectors and the span − ww floats it spilled into the padding after it (this row's right
     * border, the next row's left one, or the bottom rows) are set back to zero; otherwise, or where a would be read
     * past its end, System.arraycopy. (arraycopy per 14-float row cost about 1 ms of the 32→64 layer's forward.)
     */
    static void padRows(float[] a, int aOff, int rows, int ww, float[] b, int bOff, int wp) {
        int l = F.length();
        int span = (ww + l - 1) / l * l;
        for (int r = 0; r < rows; r++) {
            int from = aOff + r * ww;
            int to = bOff + r * wp;
            if (span <= wp && from + span <= a.length) {
                for (int j = 0; j < span; j += l) {
                    FloatVector.fromArray(F, a, from + j).intoArray(b, to + j);
                }
                for (int j = ww; j < span; j++) {
                    b[to + j] = 0f;
                }
            } else {
                System.arraycopy(a, from, b, to, ww);
            }
        }
    }

    /** dst[dOff + t] += src[sOff + t] for t in [0, len). */
    static void addInto(float[] dst, int dOff, float[] src, int sOff, int len) {
        int t = 0;
        for (int end = F.loopBound(len); t < end; t += F.length()) {
            FloatVector.fromArray(F, dst, dOff + t).add(FloatVector.fromArray(F, src, sOff + t)).intoArray(dst, dOff + t);
        }
        for (; t < len; t++) {
            dst[dOff + t] += src[sOff + t];
        }
    }
}
