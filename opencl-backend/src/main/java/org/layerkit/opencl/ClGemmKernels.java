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
        if (ctx.kernelWorkGroupSize(CL, "gemm_tiled") >= (long) THREADS * THREADS) {
            // one 16×16 work-group per 64×64 tile of C
            ctx.launch("gemm", CL, "gemm_tiled").mem(b.cl(a)).i(transA ? 1 : 0).mem(b.cl(bm)).i(transB ? 1 : 0)
                    .mem(b.cl(c)).i(m).i(n).i(k).f(alpha).f(beta)
                    .run2d(ClLaunch.roundUp(n, TILE) / TILE * THREADS, ClLaunch.roundUp(m, TILE) / TILE * THREADS,
                            THREADS, THREADS);
        } else {
            // small work-groups: one work-item per element of C
            int side = ClLaunch.floorPow2((long) Math.sqrt(ctx.kernelWorkGroupSize(CL, "gemm_simple")));
            ctx.launch("gemm", CL, "gemm_simple").mem(b.cl(a)).i(transA ? 1 : 0).mem(b.cl(bm)).i(transB ? 1 : 0)
                    .mem(b.cl(c)).i(m).i(n).i(k).f(alpha).f(beta)
                    .run2d(ClLaunch.roundUp(n, side), ClLaunch.roundUp(m, side), side, side);
        }
    }
}
