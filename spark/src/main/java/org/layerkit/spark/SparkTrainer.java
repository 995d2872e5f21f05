package org.layerkit.spark;

import java.io.Serializable;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Backends;
import org.layerkit.api.CollectiveException;
import org.layerkit.api.Tensor;
import org.layerkit.models.NetConfig;
import org.layerkit.models.NetSpec;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.Standardizer;
import org.layerkit.models.dist.DataParallelTrainer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.ConsoleListener;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingHistory;

/**
 * Data-parallel training in Spark's barrier execution mode: R replicas, one barrier task each (Spark starts them
 * together), each a {@link DataParallelTrainer#member member} of one group over a {@link BarrierCollective}, driven by
 * its own {@link Solver} — the same trainer and solver loop as {@code layerkit train --replicas R}, so shuffles,
 * learning-rate decay, evaluation and best-epoch restore are those of the in-process run, and on the same backend kind
 * the result is that run's bit for bit. Driver side.
 *
 * <pre>{@code
 * SparkTrainer.Result r = SparkTrainer.on(spark)
 *         .replicas(4).backend("cpu")
 *         .train(netConfig, OptimizerConfig.sgdMomentum(0.05), SolverConfig.builder().epochs(10).build(), splits);
 * r.save(Path.of("model.lkc"));                       // then: layerkit evaluate --model model.lkc
 * }</pre>
 *
 * <p>The training and validation splits are broadcast once (a Spark broadcast variable; the test split stays on the
 * driver); every task makes the whole batch from them and runs its own rows, so no data moves per step. Each task
 * evaluates the same accuracies on its own copy of the net. The result carries rank 0's model as checkpoint bytes
 * (net, batch-norm statistics, the standardizer; no optimizer state, as {@code layerkit train --save} writes), its
 * {@link TrainingHistory}, and a SHA-256 of every rank's final parameters, buffers and counters, which the driver
 * checks are equal.
 *
 * <p>Cost: every collective call is one {@code BarrierTaskContext.allGather} through the driver, which Spark completes
 * about once a second (it polls with a 1 s sleep): a step makes two per batch-norm layer and one for the gradients,
 * so an MLP with one batch norm takes ≈3 s per step however small — this mode is for nets whose step takes seconds
 * anyway, or for a cluster where the data lives. Construction and {@code broadcastFromReplica0} add one call each.
 *
 * <p>Needs {@code spark.barrier.sync.timeout} set ({@link SparkBarrier}) and R task slots. Failures come back as a
 * {@link SparkTrainingException} naming the rank and what failed (a backend missing on an executor, a diverged run),
 * or as the {@link CollectiveException} of a collective that failed.
 */
public final class SparkTrainer {
    /** The prefix of a replica's failure message, by which the driver finds it in Spark's job-abort text. */
    static final String FAILED = "layerkit training on Spark: ";

    private final JavaSparkContext sc;
    private final int replicas;
    private final String backend;
    /** Rank 0's progress lines: every this many iterations, 0 epochs only, -1 none. */
    private final int logEvery;

    private SparkTrainer(JavaSparkContext sc, int replicas, String backend, int logEvery) {
        this.sc = sc;
        this.replicas = replicas;
        this.backend = backend;
        this.logEvery = logEvery;
    }

    /** Training on {@code spark}'s cluster: 2 replicas on the {@code cpu} backend until changed. */
    public static SparkTrainer on(SparkSession spark) {
        return on(JavaSparkContext.fromSparkContext(spark.sparkContext()));
    }

    /** Training on {@code sc}'s cluster: 2 replicas on the {@code cpu} backend until changed. */
    public static SparkTrainer on(JavaSparkContext sc) {
        if (sc == null) {
            throw new IllegalArgumentException("SparkTrainer.on: expected a Spark context, got null");
        }
        return new SparkTrainer(sc, 2, "cpu", -1);
    }

    /** R replicas, one barrier task each: the cluster needs R task slots free at once. */
    public SparkTrainer replicas(int r) {
        if (r < 1) {
            throw new IllegalArgumentException("SparkTrainer.replicas: expected >= 1 (one barrier task per replica), "
                    + "got " + r);
        }
        return new SparkTrainer(sc, r, backend, logEvery);
    }

    /**
     * The backend each task opens on its executor: a name ({@code cpu}, {@code opencl}) or name:device as
     * {@code layerkit train --devices} takes it ({@code opencl:0}). Every replica uses the same one; replicas of one
     * kind keep bitwise-equal parameters (see {@link DataParallelTrainer}).
     */
    public SparkTrainer backend(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("SparkTrainer.backend: expected a backend such as cpu, opencl or "
                    + "opencl:0, got " + (spec == null ? "null" : "a blank name"));
        }
        return new SparkTrainer(sc, replicas, spec.trim(), logEvery);
    }

    /**
     * Rank 0 prints the {@link Solver}'s progress as it trains ({@link ConsoleListener}: a loss line every
     * {@code everyIterations} iterations, 0 for the per-epoch lines only) to its executor's standard output — the
     * console in local mode, the executor's stdout log on a cluster (the driver sees the history only at the end).
     * Off until set.
     */
    public SparkTrainer logProgress(int everyIterations) {
        if (everyIterations < 0) {
            throw new IllegalArgumentException("SparkTrainer.logProgress: everyIterations expected >= 0 (0: epochs "
                    + "only), got " + everyIterations);
        }
        return new SparkTrainer(sc, replicas, backend, everyIterations);
    }

    public int replicas() {
        return replicas;
    }

    public String backend() {
        return backend;
    }

    /** Trains on {@code data.train()}, validating on {@code data.validation()}; the checkpoint keeps the standardizer. */
    public Result train(NetConfig net, OptimizerConfig optimizer, SolverConfig solver, DatasetSplits data) {
        if (data == null) {
            throw new IllegalArgumentException("SparkTrainer.train: data expected DatasetSplits, got null");
        }
        return train(net, optimizer, solver, data.train(), data.validation(), data.standardizer());
    }

    /**
     * Trains on {@code train}, validating on {@code validation} (may be empty); {@code standardizer} (may be null) is
     * what was applied to the data, kept in the checkpoint. A {@link SolverConfig#checkpoint()} file is written by
     * rank 0 on its executor's file system after each epoch.
     */
    public Result train(NetConfig net, OptimizerConfig optimizer, SolverConfig solver, Dataset train,
                        Dataset validation, Standardizer standardizer) {
        if (net == null || optimizer == null || solver == null || train == null || validation == null) {
            throw new IllegalArgumentException("SparkTrainer.train: net, optimizer, solver, train and validation "
                    + "expected values, got null for " + (net == null ? "net" : optimizer == null ? "optimizer"
                    : solver == null ? "solver" : train == null ? "train" : "validation"));
        }
        NetSpec spec = net.spec();
        // the Solver's own checks, on the driver, before Spark starts anything
        if (train.featureCount() != spec.inputShape().size() || validation.featureCount() != train.featureCount()) {
            throw new IllegalArgumentException("SparkTrainer.train: data expected " + spec.inputShape().size()
                    + " values per example (the net's input " + spec.inputShape() + "), got train "
                    + train.featureCount() + " and validation " + validation.featureCount());
        }
        if (solver.batchSize() > train.size()) {
            throw new IllegalArgumentException("SparkTrainer.train: batchSize expected at most the " + train.size()
                    + " training examples, got " + solver.batchSize());
        }
        Broadcast<Shipment> shipped = sc.broadcast(new Shipment(train, validation));
        long start = System.nanoTime();
        List<ReplicaResult> results;
        try {
            results = SparkBarrier.run(sc, replicas, task(shipped, backend, spec, optimizer, solver, standardizer,
                    logEvery));
        } catch (CollectiveException | SparkTrainingException e) {
            throw e;
        } catch (RuntimeException e) {
            throw explain(e);
        } finally {
            shipped.destroy();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        List<String> digests = results.stream().map(ReplicaResult::digest).toList();
        for (int r = 1; r < digests.size(); r++) {
            if (!digests.get(r).equals(digests.get(0))) {
                throw new SparkTrainingException(FAILED + "the replicas' final parameters differ: rank 0's SHA-256 is "
                        + digests.get(0) + ", rank " + r + "'s " + digests.get(r) + " (backend " + backend + " on "
                        + results.get(0).host() + " and " + results.get(r).host() + "); every replica must end with "
                        + "the same parameters and statistics, so the model saved from rank 0 would not be what the "
                        + "others trained");
            }
        }
        return new Result(results.get(0).checkpoint(), results.get(0).history(), digests, seconds);
    }

    /** What every task reads: the training and validation splits. */
    private record Shipment(Dataset train, Dataset validation) implements Serializable {
    }

    /** One replica's outcome; only rank 0 sends the checkpoint. */
    record ReplicaResult(int rank, String host, String digest, TrainingHistory history, byte[] checkpoint)
            implements Serializable {
    }

    /** The barrier task (static, so that it captures only what it names, all serializable). */
    private static SparkBarrier.ReplicaFunction<ReplicaResult> task(Broadcast<Shipment> shipped, String backendSpec,
                                                                   NetSpec spec, OptimizerConfig optimizer,
                                                                   SolverConfig solver, Standardizer standardizer,
                                                                   int logEvery) {
        return collective -> {
            int rank = collective.rank();
            String where = "replica " + rank + " of " + collective.size() + " on " + host();
            Backend backend;
            try {
                backend = openBackend(backendSpec);
            } catch (RuntimeException e) {
                throw new SparkTrainingException(FAILED + where + ": backend '" + backendSpec + "' is not available "
                        + "on this executor: " + e.getMessage(), e);
            }
            try (backend; DataParallelTrainer trainer = DataParallelTrainer.member(backend, collective, spec,
                    optimizer)) {
                Shipment data = shipped.value();
                // one checkpoint file, written by rank 0 (as the in-process run's one solver writes it)
                SolverConfig mine = rank == 0 ? solver : solver.toBuilder().checkpoint(null).build();
                TrainingHistory history;
                try {
                    Solver s = new Solver(trainer.net(0), trainer.optimizer(0), data.train(), data.validation(),
                            mine).dataParallel(trainer);
                    if (rank == 0 && logEvery >= 0) {
                        s.addListener(new ConsoleListener(System.out, logEvery));
                    }
                    history = s.train();
                } catch (CollectiveException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new SparkTrainingException(FAILED + where + " (backend " + backend.name() + "): "
                            + e.getClass().getSimpleName() + ": " + e.getMessage(), e);
                }
                SequentialNet net = trainer.net(0);
                byte[] checkpoint = null;
                if (rank == 0) {
                    Map<String, String> meta = new LinkedHashMap<>();
                    meta.put(Checkpoint.EPOCHS_COMPLETED, Integer.toString(history.epochs().size()));
                    meta.put("backend", backend.name());
                    meta.put("spark.replicas", Integer.toString(collective.size()));
                    meta.put("spark.best_epoch", Integer.toString(history.bestEpoch()));
                    if (!Double.isNaN(history.bestValAccuracy())) {
                        meta.put("spark.best_val_accuracy", Double.toString(history.bestValAccuracy()));
                    }
                    checkpoint = Checkpoint.of(net, null, standardizer, meta).toBytes(Path.of("spark-trained-model"));
                }
                return new ReplicaResult(rank, host(), digest(net), history, checkpoint);
            }
        };
    }

    /** {@code name} or {@code name:device}, as {@code layerkit train --devices} reads it. */
    static Backend openBackend(String spec) {
        int colon = spec.indexOf(':');
        String name = (colon < 0 ? spec : spec.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        String device = colon < 0 ? null : spec.substring(colon + 1).trim();
        return Backends.get(name, device == null ? BackendOptions.none() : BackendOptions.of("device", device));
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "(unknown host)";
        }
    }

    /**
     * SHA-256 of the net's parameters and buffers (names, shapes and raw float bits, in order) and its counters: equal
     * exactly when the replicas hold the same model.
     */
    static String digest(SequentialNet net) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        net.parameters().forEach((n, p) -> tensors.put(n, p.value()));
        tensors.putAll(net.buffers());
        tensors.forEach((n, t) -> {
            md.update((n + t.shape()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            float[] v = t.toArray();
            ByteBuffer b = ByteBuffer.allocate(4 * v.length);
            for (float f : v) {
                b.putInt(Float.floatToRawIntBits(f));
            }
            md.update(b.array());
        });
        net.counters().forEach((n, c) -> {
            md.update(n.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update(ByteBuffer.allocate(8).putLong(c).array());
        });
        return HexFormat.of().formatHex(md.digest());
    }

    /** A replica's failure found in Spark's job-abort text (which carries the task's exception as text). */
    static RuntimeException explain(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SparkTrainingException s) {
                return new SparkTrainingException(s.getMessage(), e);
            }
            String msg = String.valueOf(t.getMessage());
            int at = msg.indexOf(FAILED);
            if (at >= 0) {
                int end = msg.indexOf('\n', at);
                return new SparkTrainingException(msg.substring(at, end < 0 ? msg.length() : end), e);
            }
        }
        return e;
    }

    /**
     * What a run returns: rank 0's model as the bytes of a checkpoint file, its training history, every rank's
     * SHA-256 of its final model (all equal) and the run's wall time on the driver.
     */
    public record Result(byte[] checkpoint, TrainingHistory history, List<String> digests, double seconds) {
        public Result {
            digests = List.copyOf(digests);
        }

        /** The trained model (for {@link Checkpoint#toNet}). */
        public Checkpoint model() {
            try {
                return Checkpoint.read(checkpoint, Path.of("spark-trained-model"));
            } catch (java.io.IOException e) {
                throw new IllegalStateException("the checkpoint from rank 0 does not read back: " + e.getMessage(), e);
            }
        }

        /** Writes the model to {@code file} (atomically, as {@code layerkit train --save} does). */
        public void save(Path file) throws java.io.IOException {
            model().save(file);
        }
    }
}
