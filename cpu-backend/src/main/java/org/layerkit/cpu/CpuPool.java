package org.layerkit.cpu;

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
        CpuParallel.forRows(planes, (long) h * w, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                int base = plane * h * w;
                int o = plane * oh * ow;
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++, o++) {
                        // scan the window in row-major order from its first element: a value replaces the best so
                        // far iff it is greater, or NaN while the best is not (ties keep the first; the first NaN
                        // wins)
                        int top = i * p.strideH() * w + j * p.strideW();
                        int bestAt = top;
                        float best = xs[base + top];
                        for (int kp = 0; kp < p.kernelH(); kp++) {
                            int row = top + kp * w;
                            for (int kq = 0; kq < p.kernelW(); kq++) {
                                float v = xs[base + row + kq];
                                if (v > best || (v != v && best == best)) {
                                    best = v;
                                    bestAt = row + kq;
                                }
                            }
                        }
                        y[o] = best;
                        arg[o] = bestAt; // h·W + w, exact: Contracts refuses planes above 2^24 positions
                    }
                }
            }
        });
        return new MaxPool2dResult(out, new MaxPool2dCache(argmax, s, p));
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
        CpuTensor dX = (CpuTensor) be.zeros(s);
        float[] dx = dX.data();
        CpuParallel.forRows(planes, hw, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                int base = plane * hw;
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
