package org.layerkit.conformance;

import org.layerkit.api.Pool2dParams;

/**
 * Derived float32 error bounds of conv2d and the pools (docs/tolerances.md names each by the {@link Tolerance#name()}
 * it returns). Every conv2d value and every average is a float32 sum of n terms, which a correct kernel may add in
 * any order — im2col + GEMM, a direct loop nest, blocks or chunks added afterwards, FMA or not — so each bound is
 * {@link Tolerance#ofSum} of its length n, the roundings around the sum, and the largest magnitude Σ|terms| over the
 * instance: the same op run in float64 on |x|, |w|, |dOut| (for conv2d, {@link Reference#conv2dForward} and
 * {@link Reference#conv2dBackward} on absolute values). The kit's cases use them, and so can a backend's own tests.
 * Max pool's values and argmax are exact ({@link Tolerance#EXACT}); spatial dropout is one product
 * ({@code ONE_ROUNDING}, as dropout).
 */
public final class ConvBounds {
    /**
     * GLOBAL_AVGPOOL_DX: dX = dOut/(H·W) broadcast over the plane, one division (an OpenCL division may be off by
     * {@link Tolerance#DIV} roundings) or a product with the rounded 1/(H·W) (two): relative γ(DIV).
     */
    public static final Tolerance GLOBAL_AVGPOOL_DX = Tolerance.derived("GLOBAL_AVGPOOL_DX", 0,
            Tolerance.gamma(Tolerance.DIV));

    private ConvBounds() {
    }

    /**
     * CONV2D_OUT: out[n,f,i,j] is a dot product of K = C·KH·KW terms, then the bias added (and, through a GEMM, a
     * scale by α = 1): (sum(K) + γ(2))·max(conv(|x|, |w|) + |bias|).
     *
     * @param magnitudes {@link Reference#conv2dForward} of |x|, |w| and |bias|
     */
    public static Tolerance conv2dOut(Reference.Conv2dShape g, double[] magnitudes) {
        return Tolerance.ofSum("CONV2D_OUT", (long) g.c() * g.kh() * g.kw(), 2, Tolerance.maxAbs(magnitudes));
    }

    /**
     * CONV2D_DX: dX[n,c,h,w] sums dOut·w over the filters and the window taps that read it, at most F·KH·KW terms
     * (a GEMM over F and col2im's fold over the covering windows, in either order): sum(F·KH·KW)·max Σ|dOut·w|.
     *
     * @param magnitudes {@link Reference#conv2dBackward}'s dx of |dOut|, |x|, |w|
     */
    public static Tolerance conv2dDx(Reference.Conv2dShape g, double[] magnitudes) {
        return Tolerance.ofSum("CONV2D_DX", (long) g.f() * g.kh() * g.kw(), 0, Tolerance.maxAbs(magnitudes));
    }

    /**
     * CONV2D_DW: dW[f,c,p,q] = Σ over the N·H'·W' outputs of dOut·x̃, in any blocking (blocks or chunks accumulated
     * with β = 1 are one more order): sum(N·H'·W')·max Σ|dOut·x̃|.
     *
     * @param magnitudes {@link Reference#conv2dBackward}'s dw of |dOut|, |x|, |w|
     */
    public static Tolerance conv2dDw(Reference.Conv2dShape g, double[] magnitudes) {
        return Tolerance.ofSum("CONV2D_DW", outputsPerFilter(g), 0, Tolerance.maxAbs(magnitudes));
    }

    /**
     * CONV2D_DB: dB[f] = Σ dOut over the N·H'·W' outputs of filter f: sum(N·H'·W')·max Σ|dOut|.
     *
     * @param magnitudes {@link Reference#conv2dBackward}'s db of |dOut|
     */
    public static Tolerance conv2dDb(Reference.Conv2dShape g, double[] magnitudes) {
        return Tolerance.ofSum("CONV2D_DB", outputsPerFilter(g), 0, Tolerance.maxAbs(magnitudes));
    }

    private static long outputsPerFilter(Reference.Conv2dShape g) {
        return (long) g.n() * g.outH() * g.outW();
    }

    /**
     * Windows of {@code p} that can cover one input element: ⌈KH/SH⌉·⌈KW/SW⌉, 1 where the windows do not overlap
     * (stride ≥ kernel).
     */
    public static long maxPoolOverlap(Pool2dParams p) {
        return (long) ceilDiv(p.kernelH(), p.strideH()) * ceilDiv(p.kernelW(), p.strideW());
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /**
     * MAXPOOL_DX: an element of dX is the sum of the dOut of the windows whose maximum it is, at most
     * {@link #maxPoolOverlap} terms: exact without overlap, else sum(m)·max Σ|dOut|.
     *
     * @param magnitudes the max-pool backward of |dOut| (the same argmax)
     */
    public static Tolerance maxPoolDx(Pool2dParams p, double[] magnitudes) {
        long m = maxPoolOverlap(p);
        return m == 1 ? Tolerance.EXACT : Tolerance.ofSum("MAXPOOL_DX", m, 0, Tolerance.maxAbs(magnitudes));
    }

    /**
     * GLOBAL_AVGPOOL_OUT: a sum of H·W terms then a division by H·W (or terms scaled by the rounded 1/(H·W)
     * before the sum): (sum(H·W) + γ(DIV))·max mean|x| over the planes.
     *
     * @param magnitudes the global average pool of |x|
     */
    public static Tolerance globalAvgPoolOut(long hw, double[] magnitudes) {
        return Tolerance.ofSum("GLOBAL_AVGPOOL_OUT", hw, Tolerance.DIV, Tolerance.maxAbs(magnitudes));
    }

    /**
     * The magnitudes with every non-finite entry (an output whose terms hold NaN or ±∞) set to 0: such an output is
     * compared exactly anyway (an expected NaN or ±∞ must come out as itself, {@link Tolerance#accepts}), and its
     * magnitude must not make the bound of the finite outputs infinite.
     */
    public static double[] finiteOnly(double[] magnitudes) {
        double[] m = magnitudes.clone();
        for (int i = 0; i < m.length; i++) {
            if (!Double.isFinite(m[i])) {
                m[i] = 0;
            }
        }
        return m;
    }
}
