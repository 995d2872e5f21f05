package org.layerkit.opencl;

import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Contracts;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Batchnorm, spatial batchnorm, layernorm and groupnorm on the device ({@code kernels/norm.cl}).
 *
 * <p>Shape letters: N batch, C channels (D features of [N,D] are C with HW = 1), HW = H·W, G groups, M elements
 * per statistic. Per-channel statistics (batchnorm M = N·HW) and per-group statistics (layernorm = groupnorm with
 * G = 1, M = (C/G)·HW) share the kernels.
 *
 * <p>Where the statistics alone fill the device ({@link ClLayout#plan} needs no chunks), each op is one launch
 * (for batchnorm by default on GPUs only; see {@link ClBackendProvider#FUSE_COLUMNS}):
 * a work-group owns whole statistics and reduces, then applies ({@code norm_rows_*} for per-group statistics,
 * {@code norm_columns_*} for per-channel ones). Otherwise (few, long statistics) the split path runs: forward is
 * chunked stats, merge, apply (3 launches); backward is chunked sums, one merge, apply, plus for layer/group norm
 * the per-channel dγ, dβ sums.
 */
final class ClNormKernels {
    private static final String CL = "norm";
    private final ClBackend b;
    /** When batchnorm takes its one-launch norm_columns_* kernels (TRAIN forward, backward). */
    enum ColumnFusion {
        /** Never: stats, merge, apply (the default on CPU devices, where PoCL ran the column kernels 3× slower). */
        OFF,
        /**
         * Where the plan needs no chunks — the column groups alone fill the device, or each column is too short to
         * split (a training batch of 128 rows) — one launch instead of three; else the split path. The GPU default.
         */
        WHERE_FILLED,
        /**
         * Always in TRAIN: also where the plan would chunk, one work-group per block of whole columns of up to 1024
         * work-items. Measured on an H100: 2.4× slower than the split path at [4096,4096], 30× at [65536,256].
         */
        ALWAYS
    }

    private final ColumnFusion fuseColumns;
    /**
     * Rows each work-item of the per-channel element-wise kernels covers, so that its channel's values load once
     * per that many elements: by default 8 on GPUs (on an H100, 1, 4, 8 and 16 rows timed within 7 % of each other,
     * batchnorm forward [4096,4096] 0.151–0.161 ms; 8 was at the fast end) and 1 on CPU devices (PoCL ran batchnorm
     * forward [4096,1024] in 47 ms with 8 against 24 ms with 1: the rows loop breaks its vectorization).
     */
    private final int rowsPerItem;

    ClNormKernels(ClBackend b, ColumnFusion fuseColumns, int rowsPerItem) {
        this.b = b;
        this.fuseColumns = fuseColumns;
        this.rowsPerItem = rowsPerItem;
    }

    // ---------------------------------------------------------------- batchnorm [N,D] and spatial [N,C,H,W]

    NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                BatchNormParams p, Mode mode) {
        Contracts.batchNormForward(b, x, gamma, beta, runningMean, runningVar, p, mode);
        Shape s = x.shape();
        return forward(NormKind.BATCHNORM, x, gamma, beta, s.dim(0), s.dim(1), 1, 1, p.eps(), mode,
                runningMean, runningVar, p);
    }

    NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                       BatchNormParams p, Mode mode) {
        Contracts.spatialBatchNormForward(b, x, gamma, beta, runningMean, runningVar, p, mode);
        Shape s = x.shape();
        return forward(NormKind.SPATIAL_BATCHNORM, x, gamma, beta, s.dim(0), s.dim(1), s.dim(2) * s.dim(3), 1,
                p.eps(), mode, runningMean, runningVar, p);
    }

    NormGrads batchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(b, NormKind.BATCHNORM, dOut, cache, gamma);
        return backward(NormKind.BATCHNORM, dOut, cache, gamma);
    }

    NormGrads spatialBatchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(b, NormKind.SPATIAL_BATCHNORM, dOut, cache, gamma);
        return backward(NormKind.SPATIAL_BATCHNORM, dOut, cache, gamma);
    }

    // ---------------------------------------------------------------- batchnorm in parts (both layouts)

    /** x viewed as [N,C,HW]: HW = 1 for [N,D]. */
    private static int hw(Shape s) {
        return s.rank() == 4 ? s.dim(2) * s.dim(3) : 1;
    }

    /**
     * Count, mean and M2 per channel: the forward's stage 1 ({@code norm_partial_stats}: per chunk the mean as a float
     * pair and the standard deviation, which handle data near the float range), then the chunks merged on the host in
     * double with Chan's formula, in chunk order, M2 of a chunk = n·sd².
     */
    BatchNormStats localStats(Tensor x, boolean spatial) {
        Contracts.batchNormLocalStats(b, x, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".local_stats";
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        ClContext ctx = b.context();
        ClLayout layout = ClLayout.perChannel(n, c, hw(s));
        ClLayout.Plan plan = layout.plan(ctx, CL, "norm_partial_stats");
        Shape partials = Shape.of(plan.chunks(), layout.stats());
        float[] hi;
        float[] lo;
        float[] sd;
        try (ClTensor pMean = b.allocate(partials, op); ClTensor pMeanLo = b.allocate(partials, op);
             ClTensor pStd = b.allocate(partials, op)) {
            ClLaunch partial = ctx.launch(op, CL, "norm_partial_stats").mem(b.cl(x));
            layout.args(partial).i(plan.chunkLen()).mem(pMean).mem(pMeanLo).mem(pStd);
            layout.run(ctx, partial, plan);
            hi = pMean.toArray();
            lo = pMeanLo.toArray();
            sd = pStd.toArray();
        }
        long m = layout.perStat();
        double[] mean = new double[c];
        double[] m2 = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double count = 0;
            for (int k = 0; k < plan.chunks(); k++) {
                int at = k * c + ch;
                double nb = Math.min(m - (long) k * plan.chunkLen(), plan.chunkLen());
                double mb = (double) hi[at] + lo[at];
                double m2b = nb * ((double) sd[at] * sd[at]);
                if (count == 0) {
                    mean[ch] = mb;
                    m2[ch] = m2b;
                } else {
                    double delta = mb - mean[ch];
                    double total = count + nb;
                    mean[ch] += delta * (nb / total);
                    m2[ch] += m2b + delta * delta * (count * nb / total);
                }
                count += nb;
            }
        }
        return new BatchNormStats(m, mean, m2);
    }

    /** {@code norm_apply} with the given statistics (the mean as a float pair, as the forward's merge writes it). */
    NormResult normalize(Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd, boolean spatial) {
        Contracts.batchNormNormalize(b, x, gamma, beta, mean, invstd, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".normalize";
        Shape s = x.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        float[] hi = new float[c];
        float[] lo = new float[c];
        float[] rs = new float[c];
        for (int ch = 0; ch < c; ch++) {
            hi[ch] = (float) mean[ch];
            lo[ch] = Float.isFinite(hi[ch]) ? (float) (mean[ch] - hi[ch]) : 0f;
            rs[ch] = (float) invstd[ch];
        }
        Shape cs = Shape.of(c);
        ClTensor out = null;
        ClTensor xhat = null;
        ClTensor tMean = null;
        ClTensor tRstd = null;
        ClTensor tLo = null;
        try {
            out = b.allocate(s, op);
            xhat = b.allocate(s, op);
            tMean = b.cl(b.upload(hi, cs));
            tRstd = b.cl(b.upload(rs, cs));
            tLo = b.cl(b.upload(lo, cs));
            // x̂ = (x − μ)·rstd, y = γ·x̂ + β
            b.context().launch(op, CL, "norm_apply").mem(b.cl(x)).mem(tMean).mem(tLo).mem(tRstd).mem(b.cl(gamma))
                    .mem(b.cl(beta)).mem(xhat).mem(out).i(n).i(c).i(hw(s)).i(1).i(1)
                    .runRows(c * hw(s), ClLaunch.ceilDiv(n, rowsPerItem));
            NormKind kind = spatial ? NormKind.SPATIAL_BATCHNORM : NormKind.BATCHNORM;
            return new NormResult(out, new NormCache(kind, Mode.TRAIN, 1, xhat, tMean, tRstd));
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, xhat, tMean, tRstd);
            throw e;
        } finally {
            ClBackend.closeAll(tLo);
        }
    }

    /** Σ dOut and Σ dOut·x̂ per channel: the fused backward's {@code norm_grad_sums} (and merge), read back. */
    BatchNormGradSums backwardReduce(Tensor dOut, NormCache cache, boolean spatial) {
        Contracts.batchNormBackwardReduce(b, dOut, cache, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".backward_reduce";
        Shape s = cache.xhat().shape();
        int c = s.dim(1);
        try (ClTensor sumDy = b.allocate(Shape.of(c), op); ClTensor sumDyXhat = b.allocate(Shape.of(c), op)) {
            // γ is not read (useGamma = 0): any tensor of the backend stands in
            gradSums(op, dOut, cache, cache.rstd(), false, c, hw(s), 1, ClLayout.perChannel(s.dim(0), c, hw(s)),
                    sumDy, sumDyXhat);
            float[] a = sumDy.toArray();
            float[] ax = sumDyXhat.toArray();
            double[] da = new double[c];
            double[] dax = new double[c];
            for (int ch = 0; ch < c; ch++) {
                da[ch] = a[ch];
                dax[ch] = ax[ch];
            }
            return new BatchNormGradSums(da, dax);
        }
    }

    /**
     * dX = a·dOut − (b + k·x̂) per channel ({@code bn_parts_dx}), with a = γ·rstd, b = a·Σ dOut/M and
     * k = a·Σ dOut·x̂/M formed on the host in double from the global sums and count (which may pass 2³¹).
     */
    Tensor backwardElementwise(Tensor dOut, NormCache cache, Tensor gamma, BatchNormGradSums global, long count,
                               boolean spatial) {
        Contracts.batchNormBackwardElementwise(b, dOut, cache, gamma, global, count, spatial);
        String op = (spatial ? "spatial_batchnorm" : "batchnorm") + ".backward_elementwise";
        Shape s = cache.xhat().shape();
        int n = s.dim(0);
        int c = s.dim(1);
        float[] g = gamma.toArray();
        float[] r = cache.rstd().toArray();
        float[] ca = new float[c];
        float[] cb = new float[c];
        float[] ck = new float[c];
        for (int ch = 0; ch < c; ch++) {
            double gr = (double) g[ch] * r[ch];
            ca[ch] = (float) gr;
            cb[ch] = (float) (gr * global.sumDy()[ch] / count);
            ck[ch] = (float) (gr * global.sumDyXhat()[ch] / count);
        }
        Shape cs = Shape.of(c);
        ClTensor dX = null;
        try (ClTensor ta = b.cl(b.upload(ca, cs)); ClTensor tb = b.cl(b.upload(cb, cs));
             ClTensor tk = b.cl(b.upload(ck, cs))) {
            dX = b.allocate(s, op);
            b.context().launch(op, CL, "bn_parts_dx").mem(b.cl(dOut)).mem(b.cl(cache.xhat())).mem(ta).mem(tb)
                    .mem(tk).mem(dX).i(n).i(c).i(hw(s)).runRows(c * hw(s), ClLaunch.ceilDiv(n, rowsPerItem));
            return dX;
        } catch (RuntimeException e) {
            ClBackend.closeAll(dX);
            throw e;
        }
    }

    // ---------------------------------------------------------------- layernorm [N,D] and groupnorm [N,C,H,W]

    NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Contracts.layerNormForward(b, x, gamma, beta, eps);
        Shape s = x.shape();
        return forward(NormKind.LAYERNORM, x, gamma, beta, s.dim(0), s.dim(1), 1, 1, eps, Mode.TRAIN, null, null,
                null);
    }

    NormGrads layerNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(b, NormKind.LAYERNORM, dOut, cache, gamma);
        return backward(NormKind.LAYERNORM, dOut, cache, gamma);
    }

    NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        Contracts.groupNormForward(b, x, gamma, beta, groups, eps);
        Shape s = x.shape();
        return forward(NormKind.GROUPNORM, x, gamma, beta, s.dim(0), s.dim(1), s.dim(2) * s.dim(3), groups, eps,
                Mode.TRAIN, null, null, null);
    }

    NormGrads groupNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(b, NormKind.GROUPNORM, dOut, cache, gamma);
        return backward(NormKind.GROUPNORM, dOut, cache, gamma);
    }

    // ---------------------------------------------------------------- shared forward and backward

    private static boolean perChannel(NormKind kind) {
        return kind == NormKind.BATCHNORM || kind == NormKind.SPATIAL_BATCHNORM;
    }

    /** x viewed as [N,C,HW]; statistics per channel (batchnorm kinds) or per (n, group). */
    private NormResult forward(NormKind kind, Tensor x, Tensor gamma, Tensor beta, int n, int c, int hw, int groups,
                               float eps, Mode mode, Tensor runningMean, Tensor runningVar, BatchNormParams p) {
        String op = kind.id() + ".forward";
        ClContext ctx = b.context();
        boolean channel = perChannel(kind);
        Shape statShape = channel ? Shape.of(c) : kind == NormKind.GROUPNORM ? Shape.of(n, groups) : Shape.of(n);
        ClTensor out = null;
        ClTensor xhat = null;
        ClTensor mean = null;
        ClTensor rstd = null;
        ClTensor meanLo = null;
        try {
            out = b.allocate(x.shape(), op);
            xhat = b.allocate(x.shape(), op);
            mean = b.allocate(statShape, op);
            rstd = b.allocate(statShape, op);
            meanLo = b.allocate(statShape, op);
            if (fusedForward(op, x, gamma, beta, channel, mode, n, c, hw, groups, eps, xhat, out, mean, rstd, p,
                    runningMean, runningVar)) {
                NormCache cache = new NormCache(kind, mode, kind == NormKind.GROUPNORM ? groups : 1, xhat, mean,
                        rstd);
                return new NormResult(out, cache);
            }
            if (channel && mode == Mode.EVAL) {
                // statistics = the running ones
                ctx.launch(op, CL, "norm_eval_stats").mem(b.cl(runningMean)).mem(b.cl(runningVar)).f(eps)
                        .mem(mean).mem(meanLo).mem(rstd).i(c).run1d(c);
            } else {
                // batch (or per-row/group) statistics; batchnorm TRAIN also updates the running ones in place
                ClLayout layout = channel ? ClLayout.perChannel(n, c, hw) : ClLayout.perGroup(n, c, hw, groups);
                boolean update = channel && mode == Mode.TRAIN;
                stats(op, x, layout, eps, mean, meanLo, rstd, update, p, update ? runningMean : null,
                        update ? runningVar : null);
            }
            // x̂ = (x − μ)·rstd, y = γ·x̂ + β
            ctx.launch(op, CL, "norm_apply").mem(b.cl(x)).mem(mean).mem(meanLo).mem(rstd).mem(b.cl(gamma))
                    .mem(b.cl(beta)).mem(xhat).mem(out).i(n).i(c).i(hw).i(groups).i(channel ? 1 : 0)
                    .runRows(c * hw, channel ? ClLaunch.ceilDiv(n, rowsPerItem) : n);
            NormCache cache = new NormCache(kind, mode, kind == NormKind.GROUPNORM ? groups : 1, xhat, mean, rstd);
            return new NormResult(out, cache);
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, xhat, mean, rstd);
            throw e;
        } finally {
            ClBackend.closeAll(meanLo);
        }
    }

    /**
     * One launch for the whole forward when the statistics alone fill the device (the layout's plan needs no
     * chunks): per-group statistics by {@code norm_rows_forward} (one work-group per row or (n, group), float4
     * reads), per-channel TRAIN statistics by {@code norm_columns_forward}. Returns false where the split path
     * (stats, merge, apply) is needed: few long statistics, or batchnorm EVAL.
     */
    private boolean fusedForward(String op, Tensor x, Tensor gamma, Tensor beta, boolean channel, Mode mode, int n,
                                 int c, int hw, int groups, float eps, ClTensor xhat, ClTensor out, ClTensor mean,
                                 ClTensor rstd, BatchNormParams p, Tensor runningMean, Tensor runningVar) {
        ClContext ctx = b.context();
        if (channel) {
            if (mode != Mode.TRAIN) {
                return false;
            }
            ClLayout layout = ClLayout.perChannel(n, c, hw);
            ClLayout.Plan plan = columnsPlan(layout, "norm_columns_forward");
            if (plan == null) {
                return false;
            }
            ClLaunch l = ctx.launch(op, CL, "norm_columns_forward").mem(b.cl(x)).mem(b.cl(gamma)).mem(b.cl(beta))
                    .i(layout.stats()).i(layout.perStat()).i(layout.sBase()).i(layout.inner())
                    .i(layout.outerStride()).f(eps).mem(xhat).mem(out).mem(mean).mem(rstd).i(1).f(p.decay())
                    .i(p.unbiasedRunningVar() ? 1 : 0).mem(b.cl(runningMean)).mem(b.cl(runningVar));
            layout.run(ctx, l, plan);
            return true;
        }
        ClLayout layout = ClLayout.perGroup(n, c, hw, groups);
        ClLayout.Plan plan = layout.plan(ctx, CL, "norm_rows_forward");
        if (plan.chunks() > 1) {
            return false;
        }
        int ly = rowGroup(plan, layout.perStat());
        ctx.launch(op, CL, "norm_rows_forward").mem(b.cl(x)).mem(b.cl(gamma)).mem(b.cl(beta)).i(layout.perStat())
                .i(c).i(hw).i(groups).f(eps).mem(xhat).mem(out).mem(mean).mem(rstd)
                .local((long) ly * ctx.accBytes()).run2d(layout.stats(), ly, 1, ly);
        return true;
    }

    /**
     * The launch plan of a one-launch per-channel kernel under {@link #fuseColumns}, or null for the split path.
     * {@link ColumnFusion#ALWAYS} where the plan would chunk: the plan's LX columns per work-group, as many
     * work-items per column as fit in 1024 (and the kernel's limit), each group over whole columns.
     */
    private ClLayout.Plan columnsPlan(ClLayout layout, String kernel) {
        if (fuseColumns == ColumnFusion.OFF) {
            return null;
        }
        ClContext ctx = b.context();
        ClLayout.Plan plan = layout.plan(ctx, CL, kernel);
        if (plan.chunks() == 1) {
            return plan;
        }
        if (fuseColumns != ColumnFusion.ALWAYS) {
            return null;
        }
        long group = Math.min(1024, ctx.kernelWorkGroupSize(CL, kernel));
        int ly = Math.max(1, Math.min(ClLaunch.floorPow2(Math.max(1, group / plan.lx())),
                ClLaunch.ceilPow2(layout.perStat())));
        return new ClLayout.Plan(plan.lx(), ly, 1, layout.perStat());
    }

    /**
     * Work-items per statistic of the row kernels, which read float4s: the plan's LY, but no more than a quarter of
     * the statistic's elements need (at least 1).
     */
    private static int rowGroup(ClLayout.Plan plan, int perStat) {
        return Math.max(1, Math.min(plan.ly(), ClLaunch.ceilPow2((perStat + 3) / 4)));
    }

    /**
     * Stage 1: every chunk's mean and standard deviation into [P,S] partials; stage 2: Chan's merge per statistic,
     * then rstd and
     * (when {@code update}) the running statistics.
     */
    private void stats(String op, Tensor x, ClLayout layout, float eps, ClTensor mean, ClTensor meanLo,
                       ClTensor rstd, boolean update, BatchNormParams p, Tensor runningMean, Tensor runningVar) {
        ClContext ctx = b.context();
        ClLayout.Plan plan = layout.plan(ctx, CL, "norm_partial_stats");
        Shape partials = Shape.of(plan.chunks(), layout.stats());
        try (ClTensor pMean = b.allocate(partials, op); ClTensor pMeanLo = b.allocate(partials, op);
             ClTensor pStd = b.allocate(partials, op)) {
            ClLaunch partial = ctx.launch(op, CL, "norm_partial_stats").mem(b.cl(x));
            layout.args(partial).i(plan.chunkLen()).mem(pMean).mem(pMeanLo).mem(pStd);
            layout.run(ctx, partial, plan);
            // unused running-stat arguments point at harmless buffers
            ctx.launch(op, CL, "norm_merge_stats").mem(pMean).mem(pMeanLo).mem(pStd).i(layout.stats())
                    .i(layout.perStat()).i(plan.chunks()).i(plan.chunkLen()).f(eps).mem(mean).mem(meanLo).mem(rstd)
                    .i(update ? 1 : 0).f(update ? p.decay() : 0f).i(update && p.unbiasedRunningVar() ? 1 : 0)
                    .mem(update ? b.cl(runningMean) : mean).mem(update ? b.cl(runningVar) : rstd)
                    .run1d(layout.stats());
        }
    }

    /**
     * sumA = Σ a and sumAX = Σ a·x̂ per statistic of the layout, a = dOut·γ[c] when {@code useGamma}; split statistics
     * go through [P,S] partial sums.
     */
    private void gradSums(String op, Tensor dOut, NormCache cache, Tensor gamma, boolean useGamma, int c, int hw,
                          int groups, ClLayout layout, ClTensor sumA, ClTensor sumAX) {
        ClContext ctx = b.context();
        ClLayout.Plan plan = layout.plan(ctx, CL, "norm_grad_sums");
        ClTensor pA = null;
        ClTensor pAX = null;
        try {
            if (plan.chunks() > 1) {
                pA = b.allocate(Shape.of(plan.chunks(), layout.stats()), op);
                pAX = b.allocate(Shape.of(plan.chunks(), layout.stats()), op);
            }
            ClLaunch l = ctx.launch(op, CL, "norm_grad_sums").mem(b.cl(dOut)).mem(b.cl(cache.xhat()))
                    .mem(b.cl(gamma)).i(useGamma ? 1 : 0).i(c).i(hw).i(groups);
            layout.args(l).i(plan.chunkLen()).mem(pA != null ? pA : sumA).mem(pAX != null ? pAX : sumAX);
            layout.run(ctx, l, plan);
            if (pA != null) {
                // add the chunks of each statistic, both sums in one launch
                ctx.launch(op, CL, "norm_merge_sums").mem(pA).mem(pAX).i(layout.stats()).i(plan.chunks())
                        .mem(sumA).mem(sumAX).run1d(layout.stats());
            }
        } finally {
            ClBackend.closeAll(pA, pAX);
        }
    }

    private NormGrads backward(NormKind kind, Tensor dOut, NormCache cache, Tensor gamma) {
        String op = kind.id() + ".backward";
        ClContext ctx = b.context();
        Shape s = cache.xhat().shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int hw = s.rank() == 4 ? s.dim(2) * s.dim(3) : 1;
        int groups = cache.groups();
        boolean channel = perChannel(kind);
        ClTensor dX = null;
        ClTensor dGamma = null;
        ClTensor dBeta = null;
        ClTensor sumA = null;
        ClTensor sumAX = null;
        try {
            dX = b.allocate(s, op);
            dGamma = b.allocate(Shape.of(c), op);
            dBeta = b.allocate(Shape.of(c), op);
            ClLayout perChannel = ClLayout.perChannel(n, c, hw);
            if (channel) {
                ClLayout.Plan plan = columnsPlan(perChannel, "norm_columns_backward");
                if (plan != null) {
                    // one launch: dβ, dγ and dX per channel
                    ClLaunch l = ctx.launch(op, CL, "norm_columns_backward").mem(b.cl(dOut)).mem(b.cl(cache.xhat()))
                            .mem(b.cl(gamma)).mem(b.cl(cache.rstd())).i(perChannel.stats()).i(perChannel.perStat())
                            .i(perChannel.sBase()).i(perChannel.inner()).i(perChannel.outerStride())
                            .i(cache.mode() == Mode.EVAL ? 1 : 0).mem(dX).mem(dGamma).mem(dBeta);
                    perChannel.run(ctx, l, plan);
                    return new NormGrads(dX, dGamma, dBeta);
                }
            }
            // dβ = Σ dOut and dγ = Σ dOut·x̂ per channel (for batchnorm also the sums in dX)
            gradSums(op, dOut, cache, gamma, false, c, hw, 1, perChannel, dBeta, dGamma);
            if (channel) {
                // dX = (γ·rstd/M)·(M·dOut − Σ dOut − x̂·Σ dOut·x̂), or γ·rstd·dOut in EVAL
                ctx.launch(op, CL, "norm_backward_apply").mem(b.cl(dOut)).mem(b.cl(cache.xhat())).mem(b.cl(gamma))
                        .mem(b.cl(cache.rstd())).mem(dBeta).mem(dGamma).mem(dX).i(n).i(c).i(hw).i(1).i(1)
                        .i(perChannel.perStat()).i(cache.mode() == Mode.EVAL ? 1 : 0)
                        .runRows(c * hw, ClLaunch.ceilDiv(n, rowsPerItem));
            } else {
                // g = dOut·γ: Σ g and Σ g·x̂ per (n, group), then dX = (rstd/M)·(M·g − Σ g − x̂·Σ g·x̂)
                ClLayout perGroup = ClLayout.perGroup(n, c, hw, groups);
                ClLayout.Plan plan = perGroup.plan(ctx, CL, "norm_rows_backward");
                if (plan.chunks() == 1) {
                    // one launch: Σ g, Σ g·x̂ and dX per row or (n, group)
                    int ly = rowGroup(plan, perGroup.perStat());
                    ctx.launch(op, CL, "norm_rows_backward").mem(b.cl(dOut)).mem(b.cl(cache.xhat()))
                            .mem(b.cl(gamma)).mem(b.cl(cache.rstd())).i(perGroup.perStat()).i(c).i(hw).i(groups)
                            .mem(dX).local((long) ly * ctx.accBytes()).run2d(perGroup.stats(), ly, 1, ly);
                    return new NormGrads(dX, dGamma, dBeta);
                }
                Shape statShape = Shape.of(perGroup.stats());
                sumA = b.allocate(statShape, op);
                sumAX = b.allocate(statShape, op);
                gradSums(op, dOut, cache, gamma, true, c, hw, groups, perGroup, sumA, sumAX);
                ctx.launch(op, CL, "norm_backward_apply").mem(b.cl(dOut)).mem(b.cl(cache.xhat())).mem(b.cl(gamma))
                        .mem(b.cl(cache.rstd())).mem(sumA).mem(sumAX).mem(dX).i(n).i(c).i(hw).i(groups).i(0)
                        .i(perGroup.perStat()).i(0).runRows(c * hw, n);
            }
            return new NormGrads(dX, dGamma, dBeta);
        } catch (RuntimeException e) {
            ClBackend.closeAll(dX, dGamma, dBeta);
            throw e;
        } finally {
            // released once the queued kernels that read them have finished (clReleaseMemObject semantics)
            ClBackend.closeAll(sumA, sumAX);
        }
    }
}
