package org.layerkit.models.dist;

import java.util.ArrayList;
import java.util.List;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Collective;
import org.layerkit.api.CollectiveException;
import org.layerkit.api.Contracts;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Synchronized batch normalization, one instance per replica: every replica holds some rows of the batch, and TRAIN
 * normalizes each with the statistics of the whole batch, as one batch norm on the unsplit batch would
 * ({@code docs/ops/batchnorm_parts.md}). Plain ({@code [N,D]}) or spatial ({@code [N,C,H,W]}).
 *
 * <ul>
 *   <li><b>TRAIN forward</b>: local statistics (count, mean, M2) → all-gather → merged in rank order with Chan's
 *       formula (the same bits on every replica) → each replica normalizes its rows with the global mean and
 *       1/√(σ²+ε); the running statistics are updated from the global mean and variance (unbiased when the params
 *       say so, as PyTorch's SyncBatchNorm does) on the host in double, rounded once, so every replica's running
 *       buffers stay bitwise equal whatever its backend.</li>
 *   <li><b>backward</b>: local Σ dOut and Σ dOut·x̂ → all-reduce (rank order) → dX from the global sums and count.
 *       dγ, dβ returned are this replica's own sums (its rows' contribution), as in PyTorch: a data-parallel trainer
 *       sums parameter gradients over replicas anyway.</li>
 *   <li><b>EVAL</b> never communicates: the fused batch norm with the running statistics.</li>
 *   <li>A replica with no rows passes {@code x = null} and still joins every exchange (a rank that skips one leaves
 *       the others waiting: the collective then fails them); a global count of 1 is an error on every replica, a local
 *       count of 1 is not. A failure on one replica between exchanges aborts the collective, so the others fail at
 *       once instead of timing out.</li>
 * </ul>
 * Every exchange carries a tag (forward or backward, and the channel count), so replicas out of step fail with a
 * message that says so. Confined to one thread (its replica's), like a layer; a {@code Layer} wraps it by holding
 * the {@link Step} between its forward and backward.
 */
public final class SyncBatchNorm {
    private static final double TAG_FORWARD = 1;
    private static final double TAG_BACKWARD = 2;

    private final Backend backend;
    private final Collective collective;
    private final boolean spatial;
    private final int channels;

    /**
     * @param backend    this replica's backend; it must support {@link Op#BATCHNORM_PARTS}
     * @param collective this replica's member of the group
     * @param spatial    {@code [N,C,H,W]} input (statistics over N·H·W) rather than {@code [N,D]}
     * @param channels   D or C
     */
    public SyncBatchNorm(Backend backend, Collective collective, boolean spatial, int channels) {
        String op = "sync_batchnorm";
        if (backend == null) {
            throw Contracts.bad(op, "backend", "a Backend", "null");
        }
        if (!backend.supports(Op.BATCHNORM_PARTS)) {
            throw Contracts.unsupported(backend, Op.BATCHNORM_PARTS, op);
        }
        if (collective == null) {
            throw Contracts.bad(op, "collective", "a Collective", "null");
        }
        if (channels < 1) {
            throw Contracts.bad(op, "channels", ">= 1", channels);
        }
        this.backend = backend;
        this.collective = collective;
        this.spatial = spatial;
        this.channels = channels;
    }

    private String op(String part) {
        return (spatial ? "sync_spatial_batchnorm." : "sync_batchnorm.") + part;
    }

    /**
     * What a TRAIN forward keeps for its backward: the output (null for a replica without rows), the cache, the global
     * count and the global statistics. Close it after the backward.
     */
    public static final class Step implements AutoCloseable {
        private final Tensor out;
        private final NormCache cache;
        private final BatchNormStats global;

        Step(Tensor out, NormCache cache, BatchNormStats global) {
            this.out = out;
            this.cache = cache;
            this.global = global;
        }

        /** y = γ·x̂ + β of this replica's rows; null for a replica without rows. Owned by the step. */
        public Tensor out() {
            return out;
        }

        /** The whole batch's statistics, identical on every replica. */
        public BatchNormStats global() {
            return global;
        }

        @Override
        public void close() {
            if (out != null) {
                out.close();
            }
            if (cache != null) {
                cache.close();
            }
        }
    }

    /**
     * TRAIN forward of this replica's rows {@code x} ({@code null} for none), exchanging statistics with the others.
     * Updates {@code runningMean}/{@code runningVar} ({@code [C]}, of this backend) in place from the global
     * statistics with {@code params.decay()}.
     *
     * @throws IllegalArgumentException on every replica when the whole batch has fewer than 2 values per channel
     */
    public Step forward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                        BatchNormParams params) {
        BatchNormStats local;
        try {
            checkParams(gamma, beta, runningMean, runningVar, params);
            if (x != null) {
                Contracts.requireRank(op("forward"), "x", x, spatial ? 4 : 2, backend);
                if (x.shape().dim(1) != channels) {
                    throw Contracts.bad(op("forward"), "x", channels + " channels (dimension 1)", "shape " + x.shape());
                }
                local = spatial ? backend.spatialBatchNormLocalStats(x) : backend.batchNormLocalStats(x);
            } else {
                local = BatchNormStats.empty(channels);
            }
        } catch (RuntimeException e) {
            collective.abort(e);
            throw e;
        }
        // exchange [tag, C, count, mean…, M2…]; merge in rank order: the same bits on every replica
        double[][] all = exchange(TAG_FORWARD, local.toArray());
        List<BatchNormStats> parts = new ArrayList<>(all.length);
        for (double[] a : all) {
            parts.add(BatchNormStats.fromArray(a));
        }
        BatchNormStats global = BatchNormStats.mergeInOrder(parts);
        if (global.count() < 2) {
            // every replica sees the same global count and throws the same error; none is left waiting
            throw Contracts.bad(op("forward"), "x", "at least 2 values per channel over all " + collective.size()
                    + " replicas in TRAIN mode (batch statistics of one value are undefined; use EVAL)",
                    global.count() + " (this replica: " + local.count() + ")");
        }
        try {
            updateRunning(global, runningMean, runningVar, params);
            if (x == null) {
                return new Step(null, null, global);
            }
            double[] invstd = global.invstd(params.eps());
            NormResult r = spatial ? backend.spatialBatchNormNormalize(x, gamma, beta, global.mean(), invstd)
                    : backend.batchNormNormalize(x, gamma, beta, global.mean(), invstd);
            return new Step(r.out(), r.cache(), global);
        } catch (RuntimeException e) {
            collective.abort(e);
            throw e;
        }
    }

    /**
     * Backward of a TRAIN {@link #forward}: dX of this replica's rows (null for none) and this replica's dγ, dβ
     * (zeros for none); exchanges the two sums with the others. {@code dOut} is null exactly when the forward's x was.
     */
    public NormGrads backward(Tensor dOut, Step step, Tensor gamma) {
        BatchNormGradSums local;
        try {
            if (step == null) {
                throw Contracts.bad(op("backward"), "step", "the Step of this replica's TRAIN forward", "null");
            }
            if ((dOut == null) != (step.cache == null)) {
                throw Contracts.bad(op("backward"), "dOut", step.cache == null
                        ? "null (the forward had no rows on this replica)" : "a tensor of the forward's shape", dOut);
            }
            Contracts.requireShape(op("backward"), "gamma", gamma, Shape.of(channels), backend);
            local = dOut == null ? BatchNormGradSums.zeros(channels)
                    : spatial ? backend.spatialBatchNormBackwardReduce(dOut, step.cache)
                    : backend.batchNormBackwardReduce(dOut, step.cache);
        } catch (RuntimeException e) {
            collective.abort(e);
            throw e;
        }
        double[][] all = exchange(TAG_BACKWARD, local.toArray());
        double[] sum = all[0].clone();
        for (int r = 1; r < all.length; r++) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += all[r][i];
            }
        }
        BatchNormGradSums global = BatchNormGradSums.fromArray(sum);
        Tensor dX = null;
        Tensor dGamma = null;
        try {
            if (dOut != null) {
                dX = spatial ? backend.spatialBatchNormBackwardElementwise(dOut, step.cache, gamma, global,
                        step.global.count())
                        : backend.batchNormBackwardElementwise(dOut, step.cache, gamma, global, step.global.count());
            }
            dGamma = upload(local.sumDyXhat());
            return new NormGrads(dX, dGamma, upload(local.sumDy()));
        } catch (RuntimeException e) {
            if (dX != null) {
                dX.close();
            }
            if (dGamma != null) {
                dGamma.close();
            }
            collective.abort(e);
            throw e;
        }
    }

    /** EVAL: the fused batch norm with the running statistics; no exchange. {@code x} must not be null. */
    public NormResult eval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                           BatchNormParams params) {
        return spatial ? backend.spatialBatchNormForward(x, gamma, beta, runningMean, runningVar, params, Mode.EVAL)
                : backend.batchNormForward(x, gamma, beta, runningMean, runningVar, params, Mode.EVAL);
    }

    private void checkParams(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, BatchNormParams p) {
        String op = op("forward");
        Shape c = Shape.of(channels);
        Contracts.requireShape(op, "gamma", gamma, c, backend);
        Contracts.requireShape(op, "beta", beta, c, backend);
        Contracts.requireShape(op, "runningMean", runningMean, c, backend);
        Contracts.requireShape(op, "runningVar", runningVar, c, backend);
        if (p == null) {
            throw Contracts.bad(op, "params", "BatchNormParams", "null");
        }
        Contracts.requireEps(op, p.eps());
        if (!(p.decay() >= 0f && p.decay() <= 1f)) {
            throw Contracts.bad(op, "decay", "a value in [0,1]", p.decay());
        }
    }

    /**
     * r = decay·r + (1−decay)·batch in double from the global statistics, rounded once to float; the variance
     * M2/(M−1) when unbiased, else M2/M. Host arithmetic on identical inputs: identical bits on every replica.
     */
    private void updateRunning(BatchNormStats global, Tensor runningMean, Tensor runningVar, BatchNormParams p) {
        float[] rm = runningMean.toArray();
        float[] rv = runningVar.toArray();
        double[] var = p.unbiasedRunningVar() ? global.unbiasedVariance() : global.variance();
        double d = p.decay();
        for (int c = 0; c < channels; c++) {
            rm[c] = (float) (d * rm[c] + (1 - d) * global.mean()[c]);
            rv[c] = (float) (d * rv[c] + (1 - d) * var[c]);
        }
        try (Tensor m = backend.upload(rm, runningMean.shape()); Tensor v = backend.upload(rv, runningVar.shape())) {
            backend.copy(m, runningMean);
            backend.copy(v, runningVar);
        }
    }

    private Tensor upload(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return backend.upload(f, Shape.of(v.length));
    }

    /** All-gathers [tag, C, payload…] and checks every replica is at the same exchange with the same C. */
    private double[][] exchange(double tag, double[] payload) {
        double[] msg = new double[payload.length + 2];
        msg[0] = tag;
        msg[1] = channels;
        System.arraycopy(payload, 0, msg, 2, payload.length);
        double[][] all = collective.allGather(msg);
        double[][] payloads = new double[all.length][];
        for (int r = 0; r < all.length; r++) {
            double[] a = all[r];
            if (a.length < 2 || a[0] != tag || a[1] != channels) {
                CollectiveException e = new CollectiveException(op(tag == TAG_FORWARD ? "forward" : "backward")
                        + ": replica " + collective.rank() + " expected every replica at its " + name(tag)
                        + " exchange with " + channels + " channels, got replica " + r + " at its "
                        + (a.length < 2 ? "unknown" : name(a[0])) + " exchange with "
                        + (a.length < 2 ? "?" : (long) a[1]) + " channels");
                collective.abort(e);
                throw e;
            }
            payloads[r] = java.util.Arrays.copyOfRange(a, 2, a.length);
        }
        return payloads;
    }

    private static String name(double tag) {
        return tag == TAG_FORWARD ? "forward (statistics)" : tag == TAG_BACKWARD ? "backward (sums)" : "unknown";
    }
}
