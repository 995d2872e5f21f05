package org.layerkit.opencl;

import org.layerkit.api.Contracts;
import org.layerkit.api.Tensor;

/** C = α·op(A)·op(B) + β·C with the tiled kernel of {@code kernels/gemm.cl}. */
final class ClGemmKernels {
    private static final String CL = "gemm";
    /** C tile per work-group and work-items per axis of the tiled kernel (TS and RTS in gemm.cl). */
    private static final int TILE = 64;
    private static final int THREADS = 16;
    private final ClBackend b;

    ClGemmKernels(ClBackend b) {
        this.b = b;
    }

    void gemm(Tensor a, boolean transA, Tensor bm, boolean transB, Tensor c, float alpha, float beta) {
        Contracts.gemm(b, a, transA, bm, transB, c);
        ClContext ctx = b.context();
        int m = c.shape().dim(0);
        int n = c.shape().dim(1);
        int k = transA ? a.shape().dim(0) : a.shape().dim(1);
        boolean tiled = ctx.kernelWorkGroupSize(CL, "gemm_tiled") >= (long) THREADS * THREADS;
        // tiled: one 16×16 work-group per 64×64 tile of C; else one work-item per element in side×side groups
        int side = tiled ? THREADS
                : ClLaunch.floorPow2((long) Math.sqrt(ctx.kernelWorkGroupSize(CL, "gemm_simple")));
        int rowsPerGroup = tiled ? TILE : side;
        // at most MAX_GROUPS_Y work-groups along y per launch: larger C goes in slabs of rows
        long slab = (long) ClLaunch.MAX_GROUPS_Y * rowsPerGroup;
        for (long row = 0; row < m; row += slab) {
            long rows = Math.min(slab, m - row);
            ctx.launch("gemm", CL, tiled ? "gemm_tiled" : "gemm_simple").mem(b.cl(a)).i(transA ? 1 : 0)
                    .mem(b.cl(bm)).i(transB ? 1 : 0).mem(b.cl(c)).i(m).i(n).i(k).f(alpha).f(beta).i((int) row)
                    .run2d(ClLaunch.roundUp(n, rowsPerGroup) / rowsPerGroup * side,
                            ClLaunch.roundUp(rows, rowsPerGroup) / rowsPerGroup * side, side, side);
        }
    }
}
