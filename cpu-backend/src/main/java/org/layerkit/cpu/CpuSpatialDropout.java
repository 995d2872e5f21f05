package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Spatial dropout (mapping in {@code docs/ops/spatial_dropout.md}): plane (n, c) of x [N,C,H,W] is kept or dropped as
 * {@link CpuDropout} decides element i = n·C + c, so the [N,C] mask is computed with dropout's own Philox batches
 * ({@link CpuDropout#philoxBatch}) over N·C elements; then out = x·mask[n,c] plane by plane, split over planes.
 */
final class CpuSpatialDropout {
    private CpuSpatialDropout() {
    }

    static DropoutResult forward(CpuBackend be, Tensor x, DropoutOptions o, Mode mode) {
        Contracts.spatialDropoutForward(be, x, o, mode);
        Shape s = x.shape();
        int planes = s.dim(0) * s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        float[] xs = CpuBackend.data(x);
        CpuTensor out = be.allocate(s);
        CpuTensor mask = be.allocate(Shape.of(s.dim(0), s.dim(1)));
        float[] y = out.data();
        float[] m = mask.data();
        if (mode == Mode.EVAL || o.threshold() >= (1 << 24)) {
            // the identity: EVAL, or keep = 1 (every word passes and the scale is exactly 1)
            System.arraycopy(xs, 0, y, 0, xs.length);
            java.util.Arrays.fill(m, 1f);
            return new DropoutResult(out, mask);
        }
        planeMask(planes, o, m);
        CpuParallel.forRows(planes, hw, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                float scale = m[plane];
                for (int k = plane * hw, end = k + hw; k < end; k++) {
                    y[k] = xs[k] * scale; // x·scale if kept, x·0 if dropped: the float product of dropout
                }
            }
        });
        return new DropoutResult(out, mask);
    }

    /**
     * mask[i] for planes i &lt; size: Philox4x32-10 with counter (⌊i/4⌋, 0, offset lo, offset hi) and key (seed lo,
     * seed hi), word i mod 4, kept iff (word &gt;&gt;&gt; 8) &lt; T; then the scale, else 0.
     */
    static void planeMask(int size, DropoutOptions o, float[] mask) {
        if (o.start() != 0) {
            CpuDropout.maskFrom(o, size, mask); // planes start … start + size − 1 of a larger batch
            return;
        }
        int threshold = o.threshold();
        float scale = o.scale();
        int k0 = (int) o.seed();
        int k1 = (int) (o.seed() >>> 32);
        int c2 = (int) o.offset();
        int c3 = (int) (o.offset() >>> 32);
        // the chunk-body slots of the scratch: free here, before this call's own chunks run (which use none)
        long[][] table = CpuScratch.get().longTable(8, CpuDropout.BATCH);
        int blocks = (size + 3) >>> 2;
        for (int base = 0; base < blocks; base += CpuDropout.BATCH) {
            int nb = Math.min(CpuDropout.BATCH, blocks - base);
            int at = CpuDropout.philoxBatch(base, nb, c2, c3, k0, k1, table);
            for (int b = 0; b < nb; b++) {
                for (int j = 0; j < 4; j++) {
                    int e = ((base + b) << 2) + j;
                    if (e < size) {
                        int word = (int) table[at + j][b];
                        mask[e] = (word >>> 8) < threshold ? scale : 0f;
                    }
                }
            }
        }
    }

    static Tensor backward(CpuBackend be, Tensor dOut, Tensor mask) {
        Contracts.spatialDropoutBackward(be, dOut, mask);
        Shape s = dOut.shape();
        int planes = s.dim(0) * s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        float[] dy = CpuBackend.data(dOut);
        float[] m = CpuBackend.data(mask);
        CpuTensor dX = be.allocate(s);
        float[] dx = dX.data();
        CpuParallel.forRows(planes, hw, (chunk, from, to) -> {
            for (int plane = from; plane < to; plane++) {
                float scale = m[plane];
                for (int k = plane * hw, end = k + hw; k < end; k++) {
                    dx[k] = dy[k] * scale;
                }
            }
        });
        return dX;
    }
}
