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
 * Data-parallel training in one process: R replicas, each a {@link SequentialNet} on its own {@link Backend} (cpu × R,
 * opencl × R, or a mix) with the same initial parameters, its batch-norm layers made synchronous
 * ({@link SyncBatchNormLayer}) over one {@link InProcessCollective} group, each replica on its own thread.
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
 * Evaluation, checkpoints and export use any replica's net ({@link #net(int)}; replica 0's by convention). A failure
 * on one replica aborts the group, so the others fail at once instead of waiting; the trainer is then unusable.
 */
public final class DataParallelTrainer implements AutoCloseable {
    private final List<Replica> replicas = new ArrayList<>();
    private final ExecutorService pool;
    private RuntimeException broken;
    private boolean closed;

    /** One replica per backend, with {@link InProcessCollective#DEFAULT_TIMEOUT}. */
    public DataParallelTrainer(List<Backend> backends, NetConfig config, OptimizerConfig optimizer) {
        this(backends, config, optimizer, InProcessCollective.DEFAULT_TIMEOUT);
    }

    /**
     * One replica per backend (the trainer does not own the backends); a collective call fails after waiting
     * {@code timeout} for the others.
     */
    public DataParallelTrainer(List<Backend> backends, NetConfig config, OptimizerConfig optimizer, Duration timeout) {
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
        if (config == null || optimizer == null) {
            throw new IllegalArgumentException("DataParallelTrainer: " + (config == null ? "config" : "optimizer")
                    + " expected a value, got null");
        }
        List<Collective> group = InProcessCollective.group(backends.size(), timeout);
        // backends of different kinds may round the same update differently (FMA or not): replica 0's parameters
        // are then broadcast after every update
        boolean mixed = backends.stream().map(Backend::name).distinct().count() > 1;
        try {
            for (int r = 0; r < backends.size(); r++) {
                replicas.add(new Replica(r, backends.get(r), config, optimizer, group.get(r), mixed));
            }
            // the same initial parameters and buffers everywhere: replica 0's, whatever each backend's init did
            Replica first = replicas.get(0);
            for (int r = 1; r < replicas.size(); r++) {
                copyState(first.net, replicas.get(r).net);
            }
        } catch (RuntimeException e) {
            replicas.forEach(Replica::close);
            throw e;
        }
        int n = backends.size();
        pool = Executors.newFixedThreadPool(n, new java.util.concurrent.ThreadFactory() {
            private int next;

            @Override
            public synchronized Thread newThread(Runnable task) {
                Thread t = new Thread(task, "layerkit-replica-" + next++);
                t.setDaemon(true);
                return t;
            }
        });
    }

    /**
     * Makes every replica's parameters, buffers, counters and optimizer state (tensors, step count, learning rate)
     * equal to replica 0's — after loading a checkpoint into replica 0's net and optimizer, for instance.
     */
    public void broadcastFromReplica0() {
        Replica first = replicas.get(0);
        for (int r = 1; r < replicas.size(); r++) {
            Replica p = replicas.get(r);
            copyState(first.net, p.net);
            first.net.counters().forEach(p.net::setCounter);
            first.optimizer.state().forEach((name, t) -> copy(t, p.optimizer.state().get(name), p.backend));
            p.optimizer.setStepCount(first.optimizer.stepCount());
            p.optimizer.setLearningRate(first.optimizer.learningRate());
        }
    }

    private static void copyState(SequentialNet from, SequentialNet to) {
        for (Map.Entry<String, Parameter> e : from.parameters().entrySet()) {
            copy(e.getValue().value(), to.parameters().get(e.getKey()).value(), to.backend());
        }
        for (Map.Entry<String, Tensor> e : from.buffers().entrySet()) {
            copy(e.getValue(), to.buffers().get(e.getKey()), to.backend());
        }
    }

    private static void copy(Tensor src, Tensor dst, Backend b) {
        try (Tensor t = b.upload(src.toArray(), dst.shape())) {
            b.copy(t, dst);
        }
    }

    /** The number of replicas R. */
    public int replicas() {
        return replicas.size();
    }

    /** Replica r's net: its parameters and buffers equal every other replica's after each step. */
    public SequentialNet net(int r) {
        return replicas.get(r).net;
    }

    /** Replica r's optimizer. */
    public Optimizer optimizer(int r) {
        return replicas.get(r).optimizer;
    }

    /** Sets every replica's learning rate (a schedule applies it to all alike). */
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

    /** One step on {@code n} rows split evenly over the replicas; see {@link #step(float[], int[], int[])}. */
    public double step(float[] x, int[] y, int n) {
        return step(x, y, evenSplit(n, replicas.size()));
    }

    /**
     * One training step on the batch {@code x} ({@code N} rows of the net's input size D, row-major) with labels
     * {@code y} ({@code N}), replica r taking the next {@code counts[r]} rows (N = Σ counts; zeros allowed). Returns
     * the loss of the whole batch (the mean data loss plus 0.5·reg·ΣW²) before the update.
     */
    public double step(float[] x, int[] y, int[] counts) {
        if (closed) {
            throw new IllegalStateException("DataParallelTrainer: closed");
        }
        if (broken != null) {
            throw new IllegalStateException("DataParallelTrainer: unusable after an earlier failure: "
                    + broken.getMessage(), broken);
        }
        int d = replicas.get(0).net.inputSize();
        if (counts == null || counts.length != replicas.size()) {
            throw new IllegalArgumentException("DataParallelTrainer.step: counts expected one row count per replica ("
                    + replicas.size() + "), got " + (counts == null ? "null" : counts.length));
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
        List<Future<Double>> futures = new ArrayList<>();
        int first = 0;
        for (int r = 0; r < replicas.size(); r++) {
            Replica p = replicas.get(r);
            int from = first;
            int rows = counts[r];
            int n = total;
            futures.add(pool.submit(() -> p.step(x, y, from, rows, n)));
            first += rows;
        }
        double loss = Double.NaN;
        RuntimeException failure = null;
        for (int r = 0; r < futures.size(); r++) {
            try {
                double l = futures.get(r).get();
                if (r == 0) {
                    loss = l;
                }
            } catch (ExecutionException e) {
                RuntimeException c = e.getCause() instanceof RuntimeException re ? re
                        : new IllegalStateException("replica " + r + " failed: " + e.getCause(), e.getCause());
                // the root cause, not a replica that was failed by the collective because another one failed
                if (failure == null || (failure instanceof CollectiveException
                        && !(c instanceof CollectiveException))) {
                    failure = c;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new IllegalStateException("DataParallelTrainer.step: interrupted", e);
            }
        }
        if (failure != null) {
            broken = failure;
            throw failure;
        }
        return loss;
    }

    /** Stops the replica threads and closes every replica's net and optimizer (not the backends). */
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
        /** Whether replica 0's parameters are broadcast after each update (backends of different kinds). */
        final boolean broadcast;

        Replica(int rank, Backend backend, NetConfig config, OptimizerConfig optimizer, Collective collective,
                boolean broadcast) {
            this.rank = rank;
            this.broadcast = broadcast;
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
