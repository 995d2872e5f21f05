package org.layerkit.opencl;

/**
 * A family of S statistics, each over M elements, as the reduction kernels address it (see
 * {@code kernels/common.cl}): element j of statistic s lives at s·sBase + ⌊j/inner⌋·outerStride + j mod inner.
 */
record ClLayout(int stats, int perStat, int sBase, int inner, int outerStride) {
    /** Work-groups per compute unit a reduction aims for before it splits statistics into chunks. */
    static final int GROUPS_PER_COMPUTE_UNIT = 4;
    /** Elements each work-item still sums at least after a split. */
    static final int MIN_ELEMENTS_PER_ITEM = 32;
    /** At most this many chunks per statistic. */
    static final int MAX_CHUNKS = 256;
    /** Bytes of a column block one work-group reduces on a CPU device (about an L1 data cache). */
    static final int CPU_COLUMN_BLOCK_BYTES = 32 << 10;

    /**
     * How a reduction over a layout is launched: LX statistics side by side (32 when neighbouring statistics are
     * neighbouring addresses, so the reads coalesce; else 1) times LY work-items per statistic, and each statistic
     * split into {@code chunks} chunks of {@code chunkLen} elements, one work-group row per chunk.
     */
    record Plan(int lx, int ly, int chunks, int chunkLen) {
    }

    /** Per channel c of [N,C,HW] over N·HW elements (batchnorm with HW = 1, spatial batchnorm). */
    static ClLayout perChannel(int n, int c, int hw) {
        return new ClLayout(c, n * hw, hw, hw, c * hw);
    }

    /** Per (n, group) of [N,C,HW] over (C/G)·HW contiguous elements (layernorm with G = 1, HW = 1; groupnorm). */
    static ClLayout perGroup(int n, int c, int hw, int groups) {
        int m = (c / groups) * hw;
        return new ClLayout(n * groups, m, m, m, 0);
    }

    /** Columns of [N,D]: statistic d over the N rows. */
    static ClLayout columns(int n, int d) {
        return new ClLayout(d, n, 1, 1, d);
    }

    /** One statistic over a whole vector of {@code total} elements. */
    static ClLayout whole(int total) {
        return new ClLayout(1, total, 0, total, 0);
    }

    /**
     * The launch plan on this device: LX·LY within {@link ClContext#reductionGroup}, LY within
     * {@link ClContext#treeWidth}; when the statistics alone give
     * fewer than {@value #GROUPS_PER_COMPUTE_UNIT} work-groups per compute unit, each statistic is split into
     * chunks (as many as fill the device, leaving every work-item {@value #MIN_ELEMENTS_PER_ITEM}+ elements).
     */
    Plan plan(ClContext ctx, String family, String kernel) {
        int group = ctx.reductionGroup(family, kernel);
        int lx = inner == 1 ? Math.min(Math.min(32, ClLaunch.ceilPow2(stats)), group) : 1;
        int ly = Math.min(Math.min(group / lx, ctx.treeWidth()), ClLaunch.ceilPow2(perStat));
        long groups = ceilDiv(stats, lx);
        long target = (long) GROUPS_PER_COMPUTE_UNIT * Math.max(1, ctx.device().computeUnits());
        int chunks = 1;
        if (groups < target) {
            long wanted = ceilDiv(target, groups);
            long byWork = perStat / ((long) ly * MIN_ELEMENTS_PER_ITEM);
            chunks = (int) Math.max(1, Math.min(wanted, Math.min(byWork, MAX_CHUNKS)));
        }
        if (inner == 1 && !ctx.device().gpu()) {
            // columns on a CPU device: PoCL runs each work-item's loop down its column in turn, so the rows of one
            // chunk should stay in L1 between the work-items of a group (PoCL, column sums of [4096,1024]: see
            // docs/benchmarks.md)
            long maxRows = Math.max(MIN_ELEMENTS_PER_ITEM, CPU_COLUMN_BLOCK_BYTES / (4L * lx));
            chunks = (int) Math.max(chunks, Math.min(ceilDiv(perStat, maxRows), MAX_CHUNKS));
        }
        int chunkLen = (int) ceilDiv(perStat, chunks);
        return new Plan(lx, ly, (int) ceilDiv(perStat, chunkLen), chunkLen);
    }

    /** Appends S, M, sBase, inner, outerStride to a launch, in the kernels' argument order. */
    ClLaunch args(ClLaunch launch) {
        return launch.i(stats).i(perStat).i(sBase).i(inner).i(outerStride);
    }

    /** Launches a reduction kernel whose last argument is its LX·LY accumulators of scratch. */
    void run(ClContext ctx, ClLaunch launch, Plan plan) {
        launch.local((long) plan.lx() * plan.ly() * ctx.accBytes())
                .run2d(ClLaunch.roundUp(stats, plan.lx()), (long) plan.ly() * plan.chunks(), plan.lx(), plan.ly());
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
