package org.layerkit.opencl;

import org.jocl.cl_command_queue;
import org.jocl.cl_mem;
import org.jocl.blast.CLBlastStatusCode;
import org.layerkit.api.BackendException;
import org.layerkit.api.Contracts;
import org.layerkit.api.Tensor;

/**
 * C = α·op(A)·op(B) + β·C, by CLBlast's SGEMM or by the tiled kernel of {@code kernels/gemm.cl}, as {@link Choice}
 * says (option {@code gemm} of {@link ClBackendProvider}). Both enqueue on the context's in-order queue without
 * events or host waits, so either is ordered after the commands that write A, B and C, like every other kernel.
 *
 * <p>When CLBlast was picked automatically and its first call here fails (a device it cannot build its kernels for,
 * say), GEMM falls back to the tiled kernel for the rest of this backend's life and logs one warning; when it was
 * requested explicitly, or fails after it has worked once, the failure is a {@link BackendException} naming op
 * {@code gemm}, the device and CLBlast's status code.
 */
final class ClGemmKernels {
    private static final System.Logger LOG = System.getLogger(ClGemmKernels.class.getName());
    private static final String CL = "gemm";
    /** C tile per work-group and work-items per axis of the tiled kernel (TS and RTS in gemm.cl). */
    private static final int TILE = 64;
    private static final int THREADS = 16;

    /** Which GEMM a backend uses, whether it was asked for by name, and the description ("clblast 1.5.2"). */
    record Choice(boolean clblast, boolean explicit, String description) {
        static Choice tiled(boolean explicit, String why) {
            return new Choice(false, explicit, why == null ? "tiled" : "tiled (" + why + ")");
        }

        static Choice clblast(boolean explicit, ClBlast.Load load) {
            return new Choice(true, explicit, "clblast " + load.version());
        }
    }

    /** CLBlast's SGEMM as called here ({@link ClBlast#sgemm}); tests put in one that fails. */
    interface Sgemm {
        int call(boolean transA, boolean transB, int m, int n, int k, float alpha, cl_mem a, cl_mem b, float beta,
                 cl_mem c, cl_command_queue queue);
    }

    private final ClBackend b;
    private volatile Sgemm sgemm = ClBlast::sgemm;
    /** Guarded by the context's lock (like launches); volatile for {@link #describe()}. */
    private volatile Choice choice;
    /** Whether a CLBlast call has succeeded on this backend (after that, failures are errors, not fallbacks). */
    private boolean clblastWorked;
    private final boolean clblastChosen;

    ClGemmKernels(ClBackend b, Choice choice) {
        this.b = b;
        this.choice = choice;
        this.clblastChosen = choice.clblast();
    }

    /** e.g. {@code clblast 1.5.2}, {@code tiled}, {@code tiled (clblast unavailable: ...)}. */
    String describe() {
        return choice.description();
    }

    void gemm(Tensor a, boolean transA, Tensor bm, boolean transB, Tensor c, float alpha, float beta) {
        Contracts.gemm(b, a, transA, bm, transB, c);
        int m = c.shape().dim(0);
        int n = c.shape().dim(1);
        int k = transA ? a.shape().dim(0) : a.shape().dim(1);
        gemm("gemm", b.cl(a), transA, b.cl(bm), transB, b.cl(c), m, n, k, alpha, beta);
    }

    /**
     * C = α·op(A)·op(B) + β·C on the leading M·K, K·N and M·N floats of the buffers, row-major with op(A) [M,K],
     * op(B) [K,N], C [M,N] and no padding between rows: for ops that use GEMM internally (convolution), whose
     * arguments were checked by the op and whose workspaces may be larger than one product needs. {@code op} names
     * the calling op in errors.
     */
    void gemm(String op, ClTensor a, boolean transA, ClTensor bm, boolean transB, ClTensor c, int m, int n, int k,
              float alpha, float beta) {
        if (choice.clblast() && clblast(op, a, transA, bm, transB, c, m, n, k, alpha, beta)) {
            return;
        }
        tiled(op, a, transA, bm, transB, c, m, n, k, alpha, beta);
    }

    /**
     * CLBlast's SGEMM, enqueued under the context's lock like a kernel launch; false when it failed on its first
     * use under {@code gemm=auto} and this backend has switched to the tiled kernel.
     */
    private boolean clblast(String op, ClTensor a, boolean transA, ClTensor bm, boolean transB, ClTensor c, int m,
                            int n, int k, float alpha, float beta) {
        ClContext ctx = b.context();
        synchronized (ctx) {
            ctx.checkOpen(op);
            Choice now = choice;
            if (!now.clblast()) {
                return false; // another thread fell back meanwhile
            }
            int status = sgemm.call(transA, transB, m, n, k, alpha, a.mem(), bm.mem(), beta, c.mem(), ctx.queue());
            if (status == CLBlastStatusCode.CLBlastTempBufferAllocFailure && ctx.pooledBytes() > 0) {
                // CLBlast allocates its padded copies per call: free the pooled buffers and try once more
                ctx.trimPool();
                status = sgemm.call(transA, transB, m, n, k, alpha, a.mem(), bm.mem(), beta, c.mem(), ctx.queue());
            }
            if (status == 0) {
                clblastWorked = true;
                return true;
            }
            String what = "CLBlast error " + ClBlast.statusName(status);
            if (now.explicit() || clblastWorked) {
                // an op that multiplies internally (conv2d.forward, ...) names itself first
                throw new BackendException((op.equals("gemm") ? "" : op + ": ") + "gemm (CLBlast SGEMM, M=" + m
                        + ", N=" + n + ", K=" + k + "): " + what + " on " + ctx.device().name() + " ["
                        + ctx.device().platform() + "]"
                        + (now.explicit() ? "; option gemm=tiled uses the own kernel instead" : ""));
            }
            choice = Choice.tiled(false, "clblast failed on first use: " + ClBlast.statusName(status));
            LOG.log(System.Logger.Level.WARNING, "opencl: gemm falls back to the tiled kernel on "
                    + ctx.device().name() + ": " + what + " at its first call (" + op + ", M=" + m + ", N=" + n
                    + ", K=" + k + "); set option gemm=tiled to skip CLBlast");
            return false;
        }
    }

    /** Replaces the CLBlast call (tests). */
    void sgemmForTests(Sgemm s) {
        sgemm = s;
    }

    /** Lets go of CLBlast's programs for this context (they hold it alive) if this backend used CLBlast. */
    void close() {
        if (clblastChosen) {
            ClBlast.clearCache();
        }
    }

    private void tiled(String op, ClTensor a, boolean transA, ClTensor bm, boolean transB, ClTensor c, int m, int n,
                       int k, float alpha, float beta) {
        ClContext ctx = b.context();
        boolean tiled = ctx.kernelWorkGroupSize(CL, "gemm_tiled") >= (long) THREADS * THREADS;
        // tiled: one 16×16 work-group per 64×64 tile of C; else one work-item per element in side×side groups
        int side = tiled ? THREADS
                : ClLaunch.floorPow2((long) Math.sqrt(ctx.kernelWorkGroupSize(CL, "gemm_simple")));
        int rowsPerGroup = tiled ? TILE : side;
        // at most MAX_GROUPS_Y work-groups along y per launch: larger C goes in slabs of rows
        long slab = (long) ClLaunch.MAX_GROUPS_Y * rowsPerGroup;
        for (long row = 0; row < m; row += slab) {
            long rows = Math.min(slab, m - row);
            ctx.launch(op, CL, tiled ? "gemm_tiled" : "gemm_simple").mem(a).i(transA ? 1 : 0)
                    .mem(bm).i(transB ? 1 : 0).mem(c).i(m).i(n).i(k).f(alpha).f(beta).i((int) row)
                    .run2d(ClLaunch.roundUp(n, rowsPerGroup) / rowsPerGroup * side,
                            ClLaunch.roundUp(rows, rowsPerGroup) / rowsPerGroup * side, side, side);
        }
    }
}
