package org.layerkit.opencl;

/**
 * A family of S statistics, each over M elements, as the reduction kernels address it (see
 * {@code kernels/common.cl}): element j of statistic s lives at s·sBase + ⌊j/inner⌋·outerStride + j mod inner.
 */
record ClLayout(int stats, int perStat, int sBase, int inner, int outerStride) {
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
     * Launches {@code launch} (whose kernel takes the LX·LY accumulators of scratch as its last argument) over this layout: LX statistics
     * side by side (32 when neighbouring statistics are neighbouring addresses, for coalesced reads, else 1) times
     * LY work-items per statistic, LX·LY = {@link ClContext#reductionGroup} at most.
     */
    void run(ClContext ctx, ClLaunch launch, String family, String kernel) {
        int group = ctx.reductionGroup(family, kernel);
        int lx = inner == 1 ? Math.min(Math.min(32, ClLaunch.ceilPow2(stats)), group) : 1;
        int ly = Math.min(group / lx, ClLaunch.ceilPow2(perStat));
        launch.local((long) lx * ly * ctx.accBytes())
                .run2d(ClLaunch.roundUp(stats, lx), ly, lx, ly);
    }

    /** Appends S, M, sBase, inner, outerStride to a launch, in the kernels' argument order. */
    ClLaunch args(ClLaunch launch) {
        return launch.i(stats).i(perStat).i(sBase).i(inner).i(outerStride);
    }
}
