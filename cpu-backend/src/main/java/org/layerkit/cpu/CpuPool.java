package org.layerkit.cpu;

import java.util.Arrays;
import org.layerkit.api.Contracts;
import org.layerkit.api.MaxPool2dCache;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Max pooling and global average pooling (semantics and derivations in {@code docs/ops/pooling.md}): plain loops,
 * split over the N·C planes. Shape letters: x [N,C,H,W], out [N,C,H',W'] (max) or [N,C] (average).
 */
final class CpuPool {
    private CpuPool() {
    }

    // ================================================================================================== max pool

    static MaxPool2dResult maxForward(CpuBackend be, Tensor x, Pool2dParams p) {
        Shape os = Contracts.maxPool2dForward(be, x, p);
        Shape s = x.shape();
        int planes = s.dim(0) * s.dim(1);
        int h = s.dim(2);
        int w = s.dim(3);
        int oh = os.dim(2);
        int ow = os.dim(3);
        float[] xs = CpuBackend.data(x);
        CpuTensor out = be.allocate(os);
        CpuTensor argmax = be.allocate(os);
        float[] y = out.data();
        float[] arg = argmax.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(planes, (long) h * w, (chunk, from, to) -> {
            int[] keys = CpuScratch.get().ints(0, h * w);
            for (int plane = from; plane < to; plane++) {
                int base = plane * h * w;
                int o = plane * oh * ow;
                if (p.kernelH() == 2 && p.kernelW() == 2) {
                    // the plane's keys first (vectors where the JVM has them), then the windows on the keys
                    if (vector) {
                        CpuVector.maxPoolKeys(xs, base, h * w, keys);
                    } else {
                        for (int t = 0; t < h * w; t++) {
                            keys[t] = key(xs[base + t]);
                        }
                    }
                    max2x2(xs, keys, base, w, oh, ow, p.strideH(), p.strideW(), y, arg, o);
                    continue;
                }
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++, o++) {
                        // the window's best as the largest rank (see rank): the max of longs compiles to
                        // conditional moves, where the scan's comparisons were branches that random data
                        // mispredicts half the time (1.6x slower for [128,32,28,28], one thread)
                        int top = i * p.strideH() * w + j * p.strideW();
                        long best = rank(xs[base + top], top);
                        for (int kp = 0; kp < p.kernelH(); kp++) {
                            int row = top + kp * w;
                            for (int kq = 0; kq < p.kernelW(); kq++) {
                                best = Math.max(best, rank(xs[base + row + kq], row + kq));
                            }
                        }
                        int bestAt = ~(int) best;
                        y[o] = xs[base + bestAt];   // the element itself: −0 stays −0, a NaN keeps its bits
                        arg[o] = bestAt; // h·W + w, exact: Contracts refuses planes above 2^24 positions
                    }
                }
            }
        });
        return new MaxPool2dResult(out, new MaxPool2dCache(argmax, s, p));
    }

    /**
     * The 2×2 windows of one plane (the common pool), the same scan rule as the general loop with the four
     * comparisons unrolled into integer selects on the plane's keys ({@link #key}, computed beforehand into keys):
     * no branch and no float left in the loop. [128,32,28,28] on one thread, CPU ms: 17 for the branching scan,
     * 10.7 for the general loop below, 6.6 with the keys computed per element here, 5.8 with them precomputed.
     */
    private static void max2x2(float[] xs, int[] keys, int base, int w, int oh, int ow, int sh, int sw, float[] y,
                               float[] arg, int o) {
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++, o++) {
                int a = i * sh * w + j * sw;     // the window's first element; then a + 1, a + w, a + w + 1
                int ka = keys[a];
                int kb = keys[a + 1];
                int kc = keys[a + w];
                int kd = keys[a + w + 1];
                // the top pair: b replaces a iff its key is strictly greater (tb = 1), likewise d and c
                int tb = greater(kb, ka);
                int kab = ka ^ ((ka ^ kb) & -tb);
                int td = greater(kd, kc);
                int kcd = kc ^ ((kc ^ kd) & -td);
                // the bottom pair's best replaces the top's iff strictly greater
                int t = greater(kcd, kab);
                int at = a + tb + ((w + td - tb) & -t);
                y[o] = xs[base + at];
                arg[o] = at;
            }
        }
    }

    /** 1 when u &gt; v, else 0, without a branch (the difference of two keys needs 33 bits). */
    private static int greater(int u, int v) {
        return (int) (((long) v - u) >>> 63);
    }

    /**
     * A key that orders floats as the max-pool scan does: as numbers, with −0 = +0 (−|v| for negatives), and every
     * NaN one above +∞ (so all NaNs tie and the first stays).
     */
    static int key(float v) {
        int bits = Float.floatToRawIntBits(v);
        int mag = Math.min(bits & 0x7FFFFFFF, 0x7F800001);     // |v|'s bits; every NaN → one above +∞ (0x7F800000)
        int neg = (bits >> 31) & ((mag - 0x7F800001) >> 31);    // all ones for a negative number (not a NaN)
        return (mag ^ neg) - neg;                               // −|v| for negatives: −0 and +0 both 0
    }

    /**
     * The rank of the value v at plane position pos in a window scan, as one long: the window's maximum under the
     * scan rule of {@code docs/ops/pooling.md} — v replaces the best so far iff v &gt; best, or v is NaN while the
     * best is not; ties keep the first in row-major order — is the element of the largest rank. High 32 bits:
     * {@link #key}; low 32 bits: ~pos, so that of equal keys the earlier position ranks higher.
     */
    private static long rank(float v, int pos) {
        return ((long) key(v) << 32) | (~pos & 0xFFFFFFFFL);
    }

    /** dX = 0 except dX[argmax] += dOut, window by window in output order (overlapping windows add). */
    static Tensor maxBackward(CpuBackend be, Tensor dOut, MaxPool2dCache cache) {
        String op = "maxpool2d.backward";
        Contracts.maxPool2dBackward(be, dOut, cache);
        Shape s = cache.inputShape();
        int planes = s.dim(0) * s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        int ohw = dOut.shape().dim(2) * dOut.shape().dim(3);
        float[] dy = CpuBackend.data(dOut);
        float[] arg = CpuBackend.data(cache.argmax());
        CpuTensor dX = be.allocate(s);
        float[] dx = dX.data();
        CpuParallel.forRows(planes, hw, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                int base = plane * hw;
                // the plane's zeros, written while it is in cache for the adds (not a pass over all of dX first)
                Arrays.fill(dx, base, base + hw, 0f);
                for (int o = plane * ohw, end = o + ohw; o < end; o++) {
                    float a = arg[o];
                    int at = (int) a;
                    if (at != a || at < 0 || at >= hw) {
                        throw Contracts.bad(op, "cache.argmax", "positions h·W + w in [0, " + hw + ") as a max-pool"
                                + " forward writes them", a + " at index " + o);
                    }
                    dx[base + at] += dy[o];
                }
            }
        });
        return dX;
    }

    // ======================================================================================= global average pool

    /** out[n,c] = Σ x[n,c,·] / (H·W), each plane summed in double and rounded once. */
    static Tensor avgForward(CpuBackend be, Tensor x) {
        Shape os = Contracts.globalAvgPoolForward(be, x);
        int planes = os.size();
        int hw = x.shape().dim(2) * x.shape().dim(3);
        float[] xs = CpuBackend.data(x);
        CpuTensor out = be.allocate(os);
        float[] y = out.data();
        CpuParallel.forRows(planes, hw, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                double sum = 0;
                for (int k = plane * hw, end = k + hw; k < end; k++) {
                    sum += xs[k];
                }
                y[plane] = (float) (sum / hw);
            }
        });
        return out;
    }

    /** dX[n,c,·] = dOut[n,c] / (H·W), one rounding of the exact quotient. */
    static Tensor avgBackward(CpuBackend be, Tensor dOut, Shape inputShape) {
        Contracts.globalAvgPoolBackward(be, dOut, inputShape);
        int planes = dOut.size();
        int hw = inputShape.dim(2) * inputShape.dim(3);
        float[] dy = CpuBackend.data(dOut);
        CpuTensor dX = be.allocate(inputShape);
        float[] dx = dX.data();
        CpuParallel.forRows(planes, hw, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                java.util.Arrays.fill(dx, plane * hw, (plane + 1) * hw, (float) (dy[plane] / (double) hw));
            }
        });
        return dX;
    }
}
