package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.Tensor;

/** fill, copy, scale and axpy, in place. */
final class CpuElementwise {
    private CpuElementwise() {
    }

    static void fill(CpuBackend be, Tensor t, float value) {
        Contracts.requireOwned("fill", "t", t, be);
        java.util.Arrays.fill(CpuBackend.written(t), value);
    }

    static void copy(CpuBackend be, Tensor src, Tensor dst) {
        Contracts.sameShape(be, "copy", "src", src, "dst", dst);
        float[] s = CpuBackend.data(src);
        System.arraycopy(s, 0, CpuBackend.written(dst), 0, s.length);
    }

    static void scale(CpuBackend be, Tensor t, float alpha) {
        Contracts.requireOwned("scale", "t", t, be);
        float[] a = CpuBackend.written(t);
        CpuParallel.forRows(a.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                a[i] *= alpha;
            }
        });
    }

    static void axpy(CpuBackend be, float alpha, Tensor x, Tensor y) {
        Contracts.sameShape(be, "axpy", "x", x, "y", y);
        float[] xs = CpuBackend.data(x);
        float[] ys = CpuBackend.written(y);
        CpuParallel.forRows(xs.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                ys[i] += alpha * xs[i];
            }
        });
    }
}
