package org.layerkit.models.dist;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.layerkit.api.Backend;
import org.layerkit.api.Collective;
import org.layerkit.api.CollectiveException;
import org.layerkit.api.InProcessCollective;
import org.layerkit.api.Layer;
import org.layerkit.api.LossResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Tensor;
import org.layerkit.models.NetConfig;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.RowIndexed;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * Data-parallel training: a group of R replicas, each a {@link SequentialNet} on its own {@link Backend} (cpu × R,
 * opencl × R, or a mix) with the same initial parameters, its batch-norm layers made synchronous
 * ({@link SyncBatchNormLayer}) over one {@link Collective} group. A trainer holds the group's <em>local</em>
 * replicas, each on its own thread:
 * <ul>
 *   <li>all R of them, in one process, over an {@link InProcessCollective} group
 *       ({@link #DataParallelTrainer(List, NetConfig, OptimizerConfig)}); or</li>
 *   <li>one member of a group whose other replicas run elsewhere — other threads, or other JVMs, as the tasks of a
 *       Spark barrier stage ({@link #member(Backend, Collective, NetConfig, OptimizerConfig)}; its rank and the group
 *       size R are the collective's). Every member is driven alike: the same {@link #step} calls with the whole
 *       batch and the global row counts, each member running only its own rows.</li>
 * </ul>
 * Both run the same replica code, so a group of members equals the all-local trainer bit for bit (same backend kinds,
 * same ops, exchanges summed in rank order).
 *
 * <p>A {@link #step} splits the batch by rows — replica r takes rows [first_r, first_r + n_r) of N, uneven splits
 * allowed, n_r = 0 included (that replica still joins every exchange) — and makes the update that one device makes on
 * the whole batch:
 * <ul>
 *   <li>the loss is the mean over the global batch, so each replica scales its ∂loss/∂logits (a mean over its own
 *       n_r rows) by n_r/N before its backward; the synchronized batch norms then exchange sums of the same
 *       global loss, and each replica's parameter gradients are its rows' share of the global gradient;</li>
 *   <li>the shares are all-reduced (summed in double in rank order, rounded once to float: the same bits on every
 *       replica), then L2 regularization adds reg·W once, and every replica applies the same optimizer update, so
 *       parameters stay bitwise equal on replicas of the same backend kind;</li>
 *   <li>dropout masks follow the global row index: each replica's dropout layers draw from element
 *       first_r·(row size) on ({@link RowIndexed}), so a split batch draws exactly the unsplit batch's masks.</li>
 * </ul>
 * The collective calls per step: two per batch-norm layer (forward statistics, backward sums) and one all-reduce of the
 * loss and gradients; one more when the group mixes backend kinds (rank 0's parameters broadcast after each update,
 * as kinds may round the same update differently).
 *
 * <p>Construction is itself a collective call (every member must construct, at the same time): rank 0's parameters,
 * buffers, counters and optimizer state reach every replica, whatever each backend's initialization did, and the
 * replicas learn whether the group mixes backend kinds. Evaluation, checkpoints and export use any replica's net
 * ({@link #net(int)}; replica 0's by convention). A failure on one replica aborts the group, so the others fail at
 * once instead of waiting; the trainer is then unusable.
 */
public final class DataParallelTrainer implements AutoCloseable {
    /** This trainer's replicas, in rank order. */
    private final List<Replica> replicas = new ArrayList<>();
    /** R: the replicas of the whole group. */
    private final int groupSize;
    /** One thread per local replica; null when there is one (it runs on the caller's thread). */
    private final ExecutorService pool;
    private RuntimeException broken;
    private boolean closed;

    /** One replica per backend, all in this process, with {@link InProcessCollective#DEFAULT_TIMEOUT}. */
    public DataParallelTrainer(List<Backend> backends, NetConfig config, OptimizerConfig optimizer) {
        this(backends, config, optimizer, InProcessCollective.DEFAULT_TIMEOUT);
    }

    /**
     * One replica per backend, all in this process (the trainer does not own the backends); a collective call fails
     * after waiting {@code timeout} for the others.
     */
    public DataParallelTrainer(List<Backend> backends, NetConfig config, OptimizerConfig optimizer, Duration timeout) {
        this(checkBackends(backends), InProcessCollective.group(backends.size(), timeout), config, optimizer);
    }

    /**
     * The replica of rank {@code collective.rank()} in a group of {@code collective.size()} whose other replicas run
     * elsewhere (other threads, or other JVMs: one per task of a Spark barrier stage), each constructed with the same
     * net and optimizer configuration and a collective of the same group, at the same time (construction exchanges
     * rank 0's initial state). {@link #step} takes the whole batch and the global row counts on every member; the
     * trainer does not own the backend.
     */
    public static DataParallelTrainer member(Backend backend, Collective collective, NetConfig config,
                                             OptimizerConfig optimizer) {
        if (backend == null || collective == null) {
            throw new IllegalArgumentException("DataParallelTrainer.member: " + (backend == null ? "backend"
                    : "collective") + " expected a value, got null");
        }
        if (collective.size() < 1 || collective.rank() < 0 || collective.rank() >= collective.size()) {
            throw new IllegalArgumentException("DataParallelTrainer.member: collective expected a rank in 0.."
                    + (collective.size() - 1) + " of a group of size >= 1, got rank " + collective.rank() + " of "
                    + collective.size());
        }
        return new DataParallelTrainer(List.of(backend), List.of(collective), config, optimizer);
    }

    private static List<Backend> checkBackends(List<Backend> backends) {
        if (backends == null || backends.isEmpty()) {
            throw new IllegalArgumentException("DataParallelTrainer: backends expected one or more (one per replica),"
                    + " got " + (backends == null ? "null" : "none"));
        }
        for (int r = 0; r < backends.size(); r++) {
            if (backends.get(r) == null) {
                throw new IllegalArgumentException("DataParallelTrainer: backends expected a Backend for replica " + r
                        + ", got null");
            }
        }
        return backends;
    }

    /** The local replicas: one per backend, on {@code collectives} (same group, ascending ranks). */
    private DataParallelTrainer(List<Backend> backends, List<Collective> collectives, NetConfig config,
                                OptimizerConfig optimizer) {
        if (config == null || optimizer == null) {
            throw new IllegalArgumentException("DataParallelTrainer: " + (config == null ? "config" : "optimizer")
                    + " expected a value, got null");
        }
        this.groupSize = collectives.get(0).size();
        try {
            for (int i = 0; i < backends.size(); i++) {
                replicas.add(new Replica(backends.get(i), config, optimizer, collectives.get(i)));
            }
        } catch (RuntimeException e) {
            collectives.forEach(c -> c.abort(e));
            replicas.forEach(Replica::close);
            throw e;
        }
        int n = replicas.size();
        pool = n == 1 ? null : Executors.newFixedThreadPool(n, new java.util.concurrent.ThreadFactory() {
            private int next;

            @Override
            public synchronized Thread newThread(Runnable task) {
                Thread t = new Thread(task, "layerkit-replica-" + replicas.get(next++).rank);
                t.setDaemon(true);
                return t;
            }
        });
        try {
            // the same initial state everywhere: rank 0's, whatever each backend's init did
            onEveryReplica("DataParallelTrainer", Replica::syncFromRank0);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Makes every replica's parameters, buffers, counters and optimizer state (tensors, step count, learning rate)
     * equal to rank 0's — after loading a checkpoint into replica 0's net and optimizer, for instance. A collective
     * call: every member of the group calls it.
     */
    public void broadcastFromReplica0() {
        checkUsable();
        onEveryReplica("DataParallelTrainer.broadcastFromReplica0", Replica::syncFromRank0);
    }

    /** R: the number of replicas in the group (here and elsewhere). */
    public int replicas() {
        return groupSize;
    }

    /** The number of replicas this trainer holds: R for the all-local trainer, 1 for a {@link #member}. */
    public int localReplicas() {
        return replicas.size();
    }

    /** The rank of this trainer's first replica in the group (0 for the all-local trainer). */
    public int rank() {
        return replicas.get(0).rank;
    }

    /**
     * This trainer's r-th replica's net (replica r of the group for the all-local trainer; a member's own for r = 0):
     * its parameters and buffers equal every other replica's after each step.
     */
    public SequentialNet net(int r) {
        return local(r).net;
    }

    /** This trainer's r-th replica's optimizer (as {@link #net(int)}). */
    public Optimizer optimizer(int r) {
        return local(r).optimizer;
    }

    private Replica local(int r) {
        if (r < 0 || r >= replicas.size()) {
            throw new IndexOutOfBoundsException("DataParallelTrainer: replica expected 0.." + (replicas.size() - 1)
                    + " (the replicas held here" + (replicas.size() < groupSize ? ", a member of a group of "
                    + groupSize : "") + "), got " + r);
        }
        return replicas.get(r);
    }

    /** Sets every local replica's learning rate (a schedule applies it to all alike, on every member). */
    public void setLearningRate(double lr) {
        replicas.forEach(p -> p.optimizer.setLearningRate(lr));
    }

    /** The even split of n rows over r replicas: ⌈n/r⌉ for the first n mod r replicas, ⌊n/r⌋ for the rest. */
    public static int[] evenSplit(int n, int r) {
        int[] c = new int[r];
        for (int i = 0; i < r; i++) {
            c[i] = n / r + (i < n % r ? 1 : 0);
        }
        return c;
    }

    /** One step on {@code n} rows split evenly over the group's replicas; see {@link #step(float[], int[], int[])}. */
    public double step(float[] x, int[] y, int n) {
        return step(x, y, evenSplit(n, groupSize));
    }

    /**
     * One training step on the batch {@code x} ({@code N} rows of the net's input size D, row-major) with labels
     * {@code y} ({@code N}), the group's replica r taking the next {@code counts[r]} rows (N = Σ counts; zeros
     * allowed; one count per replica of the whole group — a {@link #member} is given the whole batch and runs its own
     * rows). Returns the loss of the whole batch (the mean data loss plus 0.5·reg·ΣW²) before the update, the same
     * on every replica.
     */
    public double step(float[] x, int[] y, int[] counts) {
        checkUsable();
        int d = replicas.get(0).net.inputSize();
        if (counts == null || counts.length != groupSize) {
            throw new IllegalArgumentException("DataParallelTrainer.step: counts expected one row count per replica ("
                    + groupSize + "), got " + (counts == null ? "null" : counts.length));
        }
        int total = 0;
        for (int c : counts) {
            if (c < 0) {
                throw new IllegalArgumentException("DataParallelTrainer.step: counts expected >= 0 each, got "
                        + java.util.Arrays.toString(counts));
            }
            total += c;
        }
        if (total < 1 || x == null || y == null || x.length != (long) total * d || y.length != total) {
            throw new IllegalArgumentException("DataParallelTrainer.step: expected N = Σ counts >= 1 rows, x of N·D = "
                    + total + "·" + d + " floats and y of N labels, got counts " + java.util.Arrays.toString(counts)
                    + ", x " + (x == null ? "null" : x.length) + ", y " + (y == null ? "null" : y.length));
        }
        int n = total;
        return onEveryReplica("DataParallelTrainer.step", p -> {
            int from = 0;
            for (int r = 0; r < p.rank; r++) {
                from += counts[r];
            }
            return p.step(x, y, from, counts[p.rank], n);
        });
    }

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("DataParallelTrainer: closed");
        }
        if (broken != null) {
            throw new IllegalStateException("DataParallelTrainer: unusable after an earlier failure: "
                    + broken.getMessage(), broken);
        }
    }

    /**
     * Runs {@code work} on every local replica at once (each on its own thread, or on this one when there is one) and
     * returns the first replica's result; a failure makes the trainer unusable and is rethrown — the root cause, not a
     * replica that the collective failed because another one had failed.
     */
    private double onEveryReplica(String what, java.util.function.ToDoubleFunction<Replica> work) {
        if (pool == null) {
            try {
                return work.applyAsDouble(replicas.get(0));
            } catch (RuntimeException e) {
                broken = e;
                throw e;
            }
        }
        List<Future<Double>> futures = new ArrayList<>();
        for (Replica p : replicas) {
            futures.add(pool.submit(() -> work.applyAsDouble(p)));
        }
        double first = Double.NaN;
        RuntimeException failure = null;
        for (int r = 0; r < futures.size(); r++) {
            try {
                double v = futures.get(r).get();
                if (r == 0) {
                    first = v;
                }
            } catch (ExecutionException e) {
                RuntimeException c = e.getCause() instanceof RuntimeException re ? re
                        : new IllegalStateException("replica " + replicas.get(r).rank + " failed: " + e.getCause(),
                        e.getCause());
                if (failure == null || (failure instanceof CollectiveException
                        && !(c instanceof CollectiveException))) {
                    failure = c;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new IllegalStateException(what + ": interrupted", e);
            }
        }
        if (failure != null) {
            broken = failure;
            throw failure;
        }
        return first;
    }

    /** Stops the replica threads and closes every local replica's net and optimizer (not the backends). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (pool != null) {
            pool.shutdownNow();
        }
        replicas.forEach(Replica::close);
    }

    /** One replica: its net, its synchronized layer list, its optimizer and its member of the group. */
    private static final class Replica {
        final int rank;
        final Backend backend;
        final SequentialNet net;
        final Optimizer optimizer;
        final Collective collective;
        /** The net's layers with every batch norm replaced by its synchronized wrapper. */
        final List<Layer> layers = new ArrayList<>();
        final List<Parameter> params;
        final List<Parameter> regularized = new ArrayList<>();
        final int firstTrainable;
        final float reg;
        /**
         * Whether rank 0's parameters are broadcast after each update (the group mixes backend kinds); learnt at
         * construction.
         */
        boolean broadcast;

        Replica(Backend backend, NetConfig config, OptimizerConfig optimizer, Collective collective) {
            this.rank = collective.rank();
            this.backend = backend;
            this.collective = collective;
            this.net = new SequentialNet(backend, config);
            Optimizer o = null;
            try {
                o = optimizer.create(net.parameters());
                int ft = -1;
                for (int i = 0; i < net.layers().size(); i++) {
                    Layer l = net.layers().get(i);
                    layers.add(l instanceof BatchNormLayer bn ? new SyncBatchNormLayer(backend, bn, collective) : l);
                    if (ft < 0 && !l.parameters().isEmpty()) {
                        ft = i;
                    }
                }
                this.firstTrainable = ft < 0 ? layers.size() : ft;
            } catch (RuntimeException e) {
                if (o != null) {
                    o.close();
                }
                net.close();
                throw e;
            }
            this.optimizer = o;
            this.params = List.copyOf(net.parameters().values());
            net.parameters().forEach((name, p) -> {
                if (SequentialNet.REGULARIZED.equals(p.name())) {
                    regularized.add(p);
                }
            });
            this.reg = (float) net.spec().reg();
        }

        /** This replica's part of a step: rows [from, from + rows) of an n-row batch. */
        double step(float[] x, int[] y, int from, int rows, int n) {
            try {
                double weightedLoss = rows > 0 ? trainRows(x, y, from, rows, n) : trainNoRows();
                // all-reduce [n_r/N·loss_r, gradients…]: each replica's share of the global loss and gradient
                int size = 1;
                for (Parameter p : params) {
                    size += p.grad().size();
                }
                double[] payload = new double[size];
                payload[0] = weightedLoss;
                int at = 1;
                for (Parameter p : params) {
                    float[] g = p.grad().toArray();
                    for (float v : g) {
                        payload[at++] = v;
                    }
                }
                double[] sum = collective.allReduceSum(payload);
                at = 1;
                for (Parameter p : params) {
                    float[] g = new float[p.grad().size()];
                    for (int i = 0; i < g.length; i++) {
                        g[i] = (float) sum[at++]; // rounded once, the same bits on every replica
                    }
                    try (Tensor t = backend.upload(g, p.grad().shape())) {
                        backend.copy(t, p.grad());
                    }
                }
                double loss = sum[0];
                if (reg > 0) {
                    for (Parameter w : regularized) {
                        backend.axpy(reg, w.value(), w.grad());              // dW += reg·W, once
                        try (Tensor ss = backend.sumOfSquares(w.value())) {
                            loss += 0.5 * reg * ss.item();                   // loss += 0.5·reg·ΣW²
                        }
                    }
                }
                optimizer.step();
                if (broadcast) {
                    broadcastParameters();
                }
                return loss;
            } catch (RuntimeException e) {
                collective.abort(e);
                throw e;
            }
        }

        /** Every replica takes replica 0's updated parameters (rank 0 sends them, the others nothing). */
        private void broadcastParameters() {
            double[] mine = new double[0];
            if (rank == 0) {
                int size = 0;
                for (Parameter p : params) {
                    size += p.value().size();
                }
                mine = new double[size];
                int at = 0;
                for (Parameter p : params) {
                    for (float v : p.value().toArray()) {
                        mine[at++] = v;
                    }
                }
            }
            double[] w = collective.allGather(mine)[0];
            if (rank != 0) {
                int at = 0;
                for (Parameter p : params) {
                    float[] f = new float[p.value().size()];
                    for (int i = 0; i < f.length; i++) {
                        f[i] = (float) w[at++]; // exact: floats widened and narrowed
                    }
                    try (Tensor t = backend.upload(f, p.value().shape())) {
                        backend.copy(t, p.value());
                    }
                }
            }
        }

        /**
         * One all-gather: every rank sends its backend's name, rank 0 also its whole state — parameters, buffers,
         * counters, optimizer state tensors, step count and learning rate, floats widened to double and longs split
         * into two 32-bit halves, so every value arrives exactly — which the other ranks take. Returns 0.
         */
        double syncFromRank0() {
            try {
                double[] name = chars(backend.name());
                double[] state = rank == 0 ? encodeState() : new double[0];
                double[] mine = new double[1 + name.length + state.length];
                mine[0] = name.length;
                System.arraycopy(name, 0, mine, 1, name.length);
                System.arraycopy(state, 0, mine, 1 + name.length, state.length);
                double[][] all = collective.allGather(mine);
                // backends of different kinds may round the same update differently (FMA or not): rank 0's
                // parameters are then broadcast after every update
                String first = null;
                boolean mixed = false;
                for (double[] m : all) {
                    String kind = new String(toChars(m, 1, (int) m[0]));
                    mixed |= first != null && !first.equals(kind);
                    first = first == null ? kind : first;
                }
                broadcast = mixed;
                if (rank != 0) {
                    double[] zero = all[0];
                    decodeState(zero, 1 + (int) zero[0]);
                }
                return 0;
            } catch (RuntimeException e) {
                collective.abort(e);
                throw e;
            }
        }

        private double[] encodeState() {
            List<double[]> parts = new ArrayList<>();
            net.parameters().values().forEach(p -> parts.add(widen(p.value().toArray())));
            net.buffers().values().forEach(b -> parts.add(widen(b.toArray())));
            net.counters().values().forEach(c -> parts.add(halves(c)));
            optimizer.state().values().forEach(t -> parts.add(widen(t.toArray())));
            parts.add(halves(optimizer.stepCount()));
            parts.add(new double[] {optimizer.learningRate()});
            int size = 0;
            for (double[] part : parts) {
                size += part.length;
            }
            double[] out = new double[size];
            int at = 0;
            for (double[] part : parts) {
                System.arraycopy(part, 0, out, at, part.length);
                at += part.length;
            }
            return out;
        }

        /** Takes rank 0's {@link #encodeState()} from {@code m[at…]}; its layout must be this replica's. */
        private void decodeState(double[] m, int at) {
            int expected = encodeState().length;
            if (m.length - at != expected) {
                throw new CollectiveException("DataParallelTrainer: rank " + rank + " of " + collective.size()
                        + " expected rank 0's state as " + expected + " values (its own net and optimizer), got "
                        + (m.length - at) + ": the replicas were built with different net or optimizer "
                        + "configurations");
            }
            int[] pos = {at};
            net.parameters().values().forEach(p -> load(m, pos, p.value()));
            net.buffers().values().forEach(b -> load(m, pos, b));
            for (String name : net.counters().keySet()) {
                net.setCounter(name, joinHalves(m, pos[0]));
                pos[0] += 2;
            }
            optimizer.state().values().forEach(t -> load(m, pos, t));
            optimizer.setStepCount(joinHalves(m, pos[0]));
            optimizer.setLearningRate(m[pos[0] + 2]);
        }

        private void load(double[] m, int[] pos, Tensor target) {
            float[] f = new float[target.size()];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) m[pos[0]++]; // exact: floats widened and narrowed
            }
            try (Tensor t = backend.upload(f, target.shape())) {
                backend.copy(t, target);
            }
        }

        private static double[] widen(float[] f) {
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
            return d;
        }

        /** A long as two exact doubles: its high and low 32 bits. */
        private static double[] halves(long v) {
            return new double[] {(double) (v >> 32), (double) (v & 0xffff_ffffL)};
        }

        private static long joinHalves(double[] m, int at) {
            return ((long) m[at] << 32) | (long) m[at + 1];
        }

        private static double[] chars(String s) {
            double[] d = new double[s.length()];
            for (int i = 0; i < d.length; i++) {
                d[i] = s.charAt(i);
            }
            return d;
        }

        private static char[] toChars(double[] m, int from, int n) {
            char[] c = new char[n];
            for (int i = 0; i < n; i++) {
                c[i] = (char) m[from + i];
            }
            return c;
        }

        private double trainRows(float[] x, int[] y, int from, int rows, int n) {
            int d = net.inputSize();
            for (Layer l : layers) {
                if (l instanceof RowIndexed ri) {
                    ri.firstRow(from);
                }
            }
            float[] xs = java.util.Arrays.copyOfRange(x, from * d, (from + rows) * d);
            float[] ys = new float[rows];
            for (int i = 0; i < rows; i++) {
                ys[i] = y[from + i];
            }
            try (Tensor xt = backend.upload(xs, net.batchShape(rows));
                 Tensor yt = backend.upload(ys, org.layerkit.api.Shape.of(rows))) {
                Tensor h = xt;
                for (Layer l : layers) {
                    h = l.forward(h, Mode.TRAIN);
                }
                try (LossResult lr = backend.softmaxCrossEntropy(h, yt)) {
                    Tensor dOut = lr.dLogits();
                    if (rows != n) {
                        // the global loss is the mean over all N rows: this replica's rows weigh n_r/N
                        backend.scale(dOut, (float) ((double) rows / n));
                    }
                    for (int i = layers.size() - 1; i > firstTrainable; i--) {
                        dOut = layers.get(i).backward(dOut);
                    }
                    if (firstTrainable < layers.size()) {
                        layers.get(firstTrainable).backward(dOut, false);
                    }
                    return (double) rows / n * lr.loss().item();
                }
            }
        }

        /** A replica without rows: joins every exchange, advances the dropout offsets, contributes zero gradients. */
        private double trainNoRows() {
            for (Parameter p : params) {
                backend.fill(p.grad(), 0f);
            }
            for (Layer l : layers) {
                if (l instanceof SyncBatchNormLayer s) {
                    s.forwardEmpty();
                } else if (l instanceof RowIndexed ri) {
                    ri.forwardEmpty();
                }
            }
            for (int i = layers.size() - 1; i >= 0; i--) {
                if (layers.get(i) instanceof SyncBatchNormLayer s) {
                    s.backwardEmpty();
                }
            }
            return 0;
        }

        void close() {
            for (Layer l : layers) {
                if (l instanceof SyncBatchNormLayer s) {
                    s.close();
                }
            }
            if (optimizer != null) {
                optimizer.close();
            }
            net.close();
        }
    }
}
