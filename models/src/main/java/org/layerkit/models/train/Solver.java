package org.layerkit.models.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.Standardizer;
import org.layerkit.models.dist.DataParallelTrainer;
import org.layerkit.models.optim.Optimizer;

/**
 * Minibatch training of a {@link SequentialNet} with an {@link Optimizer}, as CS231N's {@code Solver}: each epoch
 * shuffles the training set, takes one optimizer step per minibatch, decays the learning rate, measures train
 * accuracy on a subsample and validation accuracy, and remembers the parameters of the best validation accuracy
 * (restored at the end).
 *
 * <p>Each step uploads the minibatch and otherwise stays on the net's backend; the loss is read back only every
 * {@link SolverConfig#lossEvery()} iterations, once per epoch for the mean, and once at the run's first iteration
 * for the divergence rule. Training stops with a {@link TrainingDivergedException}, before the epoch's checkpoint
 * is written and before the best parameters are restored, when at one of these reads
 * <ul>
 *   <li>the loss is NaN or infinite;
 *   <li>the loss is finite but above {@link SolverConfig#divergenceFactor()} × max(first loss, ln K) (see
 *       {@code Divergence} below; {@link SolverConfig.Builder#noDivergenceCheck()} switches this off);
 *   <li>a batch-norm running statistic (any of {@link SequentialNet#buffers()}) holds a NaN or ±∞. This is
 *       checked in the same host read as the loss, so it costs no extra synchronisation: "the step" where it is
 *       reported is the read at which it is first seen, exactly the step where it happened with {@code lossEvery}
 *       = 1, else within the {@code lossEvery} iterations since the previous read (the message names both).
 * </ul>
 *
 * <p>A solver, its net and its optimizer are confined to the thread that calls {@link #train()}, which also calls
 * the listeners; solvers on different threads may share one backend.
 *
 * <pre>{@code
 * TrainingHistory h = new Solver(net, optimizer, splits, SolverConfig.builder().epochs(10).build())
 *         .addListener(new ConsoleListener(System.out, 100))
 *         .train();
 * }</pre>
 */
public final class Solver {
    private final SequentialNet net;
    private final Optimizer optimizer;
    private final Dataset train;
    private final Dataset validation;
    private final SolverConfig config;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private DataParallelTrainer parallel;
    private int completedEpochs;
    private Standardizer standardizer;

    /**
     * Trains on {@code data.train()} and validates on {@code data.validation()}; the test split is not touched.
     * Checkpoints keep {@code data.standardizer()}.
     */
    public Solver(SequentialNet net, Optimizer optimizer, DatasetSplits data, SolverConfig config) {
        this(net, optimizer, data.train(), data.validation(), config);
        this.standardizer = data.standardizer();
    }

    public Solver(SequentialNet net, Optimizer optimizer, Dataset train, Dataset validation, SolverConfig config) {
        int d = net.inputSize();
        if (train.featureCount() != d || validation.featureCount() != d) {
            throw new IllegalArgumentException("Solver: data expected " + d + " values per example (the net's input "
                    + net.inputShape() + "), got train " + train.featureCount() + " and validation "
                    + validation.featureCount());
        }
        if (train.size() < 2) {
            throw new IllegalArgumentException("Solver: train expected at least 2 examples, got " + train.size());
        }
        if (config.batchSize() > train.size()) {
            throw new IllegalArgumentException("Solver: batchSize expected at most the " + train.size()
                    + " training examples, got " + config.batchSize());
        }
        this.net = net;
        this.optimizer = optimizer;
        this.train = train;
        this.validation = validation;
        this.config = config;
    }

    public Solver addListener(TrainingListener l) {
        listeners.add(l);
        return this;
    }

    /**
     * Continues a run whose first {@code epochs} epochs are done (e.g. from {@link Checkpoint#epochsCompleted()}):
     * {@link #train()} then runs epochs {@code epochs+1 … config.epochs()} with the same shuffles an uninterrupted
     * run would have used. The optimizer (learning rate, state, t) should come from the same checkpoint.
     */
    public Solver resumeAfter(int epochs) {
        if (epochs < 0 || epochs >= config.epochs()) {
            throw new IllegalArgumentException("Solver.resumeAfter: epochs expected 0.." + (config.epochs() - 1)
                    + ", got " + epochs);
        }
        completedEpochs = epochs;
        return this;
    }

    /**
     * Trains through {@code trainer}: each minibatch is split evenly over its replicas
     * ({@link DataParallelTrainer#step(float[], int[], int)}); this solver's net and optimizer must be its replica 0's,
     * which the solver evaluates, snapshots and checkpoints (every replica holds the same parameters). The learning
     * rate schedule applies to every replica.
     */
    public Solver dataParallel(DataParallelTrainer trainer) {
        if (trainer == null || trainer.net(0) != net || trainer.optimizer(0) != optimizer) {
            throw new IllegalArgumentException("Solver.dataParallel: trainer expected a DataParallelTrainer whose "
                    + "replica 0 is this solver's net and optimizer, got " + (trainer == null ? "null" : "another"));
        }
        // what was loaded into replica 0 (a resumed checkpoint) reaches every replica
        trainer.broadcastFromReplica0();
        this.parallel = trainer;
        return this;
    }

    /** The number of minibatches per epoch: ⌊N / batchSize⌋. */
    public int iterationsPerEpoch() {
        return train.size() / config.batchSize();
    }

    /** Runs the remaining epochs; returns what was recorded. */
    public TrainingHistory train() {
        Backend backend = net.backend();
        int n = train.size();
        int batch = config.batchSize();
        int perEpoch = iterationsPerEpoch();
        long totalIterations = (long) perEpoch * config.epochs();
        int d = train.featureCount();
        float[] xHost = new float[batch * d];
        float[] yHost = new float[batch];
        Shape xShape = net.batchShape(batch);
        int[] order = new int[n];
        List<LossPoint> losses = new ArrayList<>();
        List<EpochEvent> epochs = new ArrayList<>();
        Map<String, Tensor> best = new LinkedHashMap<>();
        double bestVal = Double.NEGATIVE_INFINITY;
        int bestEpoch = 0;
        Divergence divergence = new Divergence();
        listeners.forEach(l -> l.onStart(config, perEpoch));
        int[] yLabels = parallel == null ? null : new int[batch];
        try (Tensor lossSum = backend.zeros(Shape.of(1));
             Tensor parallelLoss = parallel == null ? null : backend.zeros(Shape.of(1));
             LossReader reader = new LossReader(backend, net.buffers())) {
            for (int epoch = completedEpochs + 1; epoch <= config.epochs(); epoch++) {
                Random rnd = new Random(mix(config.seed(), epoch));
                for (int i = 0; i < n; i++) {
                    order[i] = i;
                }
                shuffle(order, rnd);
                backend.fill(lossSum, 0f);
                double lr = optimizer.learningRate();
                long epochStart = System.nanoTime();
                long lastReadTime = epochStart;
                int examplesSinceRead = 0;
                long iteration = (long) (epoch - 1) * perEpoch;
                for (int it = 0; it < perEpoch; it++) {
                    iteration++;
                    train.gather(order, it * batch, batch, xHost, yHost);
                    try (Tensor x = parallel == null ? backend.upload(xHost, xShape) : null;
                         Tensor y = parallel == null ? backend.upload(yHost, Shape.of(batch)) : null) {
                        Tensor loss;
                        if (parallel == null) {
                            loss = net.loss(x, y);
                            optimizer.step();
                        } else {
                            // the batch split over the replicas, their gradients all-reduced, every one updated
                            for (int i = 0; i < batch; i++) {
                                yLabels[i] = (int) yHost[i];
                            }
                            backend.fill(parallelLoss, (float) parallel.step(xHost, yLabels, batch));
                            loss = parallelLoss;
                        }
                        backend.axpy(1f, loss, lossSum);
                        examplesSinceRead += batch;
                        boolean due = iteration % config.lossEvery() == 0;
                        // the divergence rule needs the loss of the run's first iteration (computed before any
                        // update): one extra read per run when lossEvery > 1
                        boolean reference = config.checksDivergence() && !divergence.hasReference();
                        if (due || reference) {
                            double value = read(reader, loss, false, epoch, iteration, lr, divergence);
                            if (reference) {
                                divergence.setReference(value);
                            }
                            divergence.check(value, false, epoch, iteration, lr);
                            if (due) {
                                long now = System.nanoTime();
                                double eps = examplesSinceRead / Math.max(1e-9, (now - lastReadTime) / 1e9);
                                lastReadTime = now;
                                examplesSinceRead = 0;
                                losses.add(new LossPoint(epoch, iteration, value));
                                BatchEvent ev = new BatchEvent(epoch, config.epochs(), iteration, totalIterations,
                                        value, eps);
                                listeners.forEach(l -> l.onBatch(ev));
                            }
                        }
                    }
                }
                double meanLoss = read(reader, lossSum, true, epoch, iteration, lr, divergence) / perEpoch;
                divergence.check(meanLoss, true, epoch, iteration, lr);
                double seconds = (System.nanoTime() - epochStart) / 1e9;
                double trainAcc = net.accuracy(sample(train, config.trainAccuracySamples(), rnd), config.evalBatchSize());
                double valAcc = net.accuracy(sample(validation, config.valAccuracySamples(), rnd), config.evalBatchSize());
                boolean improved = validation.size() > 0 && valAcc > bestVal;
                if (improved) {
                    bestVal = valAcc;
                    bestEpoch = epoch;
                    snapshot(backend, best);
                }
                if (parallel != null) {
                    parallel.setLearningRate(optimizer.learningRate() * config.learningRateDecay());
                } else {
                    optimizer.setLearningRate(optimizer.learningRate() * config.learningRateDecay());
                }
                EpochEvent ev = new EpochEvent(epoch, config.epochs(), trainAcc, valAcc, meanLoss, seconds, lr, improved);
                epochs.add(ev);
                completedEpochs = epoch;
                if (config.checkpoint() != null) {
                    saveCheckpoint(epoch, bestVal);
                }
                listeners.forEach(l -> l.onEpoch(ev));
            }
            if (config.restoreBest() && !best.isEmpty()) {
                restore(backend, best);
            }
        } finally {
            best.values().forEach(Tensor::close);
        }
        TrainingHistory h = new TrainingHistory(losses, epochs, bestEpoch == 0 ? Double.NaN : bestVal, bestEpoch);
        listeners.forEach(l -> l.onEnd(h));
        return h;
    }

    /**
     * Reads {@code loss} (one minibatch's, or the epoch's sum when {@code sum}) with {@link LossReader}, which also
     * checks the running statistics in the same host read; throws {@link TrainingDivergedException} when the loss or
     * a statistic is not finite.
     */
    private double read(LossReader reader, Tensor loss, boolean sum, int epoch, long iteration, double lr,
                        Divergence divergence) {
        double value = reader.read(loss);
        if (Double.isFinite(value)) {
            divergence.lastFinite = iteration;
            return value;
        }
        double own = sum ? loss.item() / iterationsPerEpoch() : loss.item();
        if (!Double.isFinite(own)) {
            if (sum) {
                throw new TrainingDivergedException(epoch, iteration, own,
                        "the mean loss of the epoch; it became non-finite between loss reads (lossEvery "
                                + config.lossEvery() + "), learning rate " + lr);
            }
            throw new TrainingDivergedException(epoch, iteration, own, "learning rate " + lr + "; try a smaller one");
        }
        String bad = reader.firstNonFinite();
        throw new TrainingDivergedException(epoch, iteration, own,
                TrainingDivergedException.Cause.NON_FINITE_STATISTIC,
                "batch-norm running statistic " + bad + " although the loss is finite",
                (divergence.lastFinite == 0 ? "first read of this run"
                        : "they were finite at the read of iteration " + divergence.lastFinite)
                        + "; the batch statistics were NaN or overflowed float32: check the inputs' scale, learning "
                        + "rate " + lr);
    }

    /**
     * The finite-divergence rule: a loss read above {@code divergenceFactor × max(L₁, ln K)}, where L₁ is the loss of
     * the run's first iteration (before any update) and K the number of classes, stops training.
     *
     * <p>Why this form: ln K is the loss of a net that predicts the uniform distribution, the starting point of a
     * well-initialised net; L₁ covers nets that start above it (large initial weights, a high L2 term 0.5·reg·ΣW²,
     * which only shrinks while training is healthy). A healthy run moves its loss down from there; minibatch noise,
     * tiny batches and early steps of a large learning rate lift single losses only a few times above the start
     * (measured on Fashion-MNIST: at most 4.1× over 23 healthy runs with batches of 2 to 128, L2 up to 1, weight
     * scales up to 1 and Adam up to lr 0.1; docs/reliability.md), while a learning rate that blows the net up
     * drives the loss orders of magnitude higher within a few iterations (Adam at lr 10: 1150× at iteration 2). The
     * default factor {@value SolverConfig#DEFAULT_DIVERGENCE_FACTOR} sits between the two.
     */
    private final class Divergence {
        private double reference = Double.NaN;
        private double threshold = Double.POSITIVE_INFINITY;
        private String rule = "";
        /** The last iteration whose read was finite (0: none yet). */
        long lastFinite;

        boolean hasReference() {
            return !Double.isNaN(reference);
        }

        void setReference(double firstLoss) {
            double lnK = Math.log(net.numClasses());
            reference = Math.max(firstLoss, lnK);
            threshold = config.divergenceFactor() * reference;
            rule = String.format(Locale.ROOT, "%.4g = %s × max(first loss %.4g, ln %d = %.4g)", threshold,
                    trim(config.divergenceFactor()), firstLoss, net.numClasses(), lnK);
        }

        void check(double loss, boolean mean, int epoch, long iteration, double lr) {
            if (loss > threshold) {
                throw new TrainingDivergedException(epoch, iteration, loss,
                        TrainingDivergedException.Cause.LOSS_ABOVE_THRESHOLD,
                        (mean ? "the epoch's mean loss is " : "loss is ") + loss + ", above the divergence threshold "
                                + rule,
                        "learning rate " + lr + "; try a smaller one");
            }
        }
    }

    private static String trim(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private void saveCheckpoint(int epoch, double bestVal) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(Checkpoint.EPOCHS_COMPLETED, Integer.toString(epoch));
        meta.put("epochs_planned", Integer.toString(config.epochs()));
        meta.put("best_val_accuracy", Double.toString(bestVal));
        meta.put("backend", net.backend().name());
        try {
            Checkpoint.of(net, optimizer, standardizer, meta).save(config.checkpoint());
        } catch (IOException e) {
            throw new UncheckedIOException("saving the checkpoint of epoch " + epoch + " failed", e);
        }
    }

    /** Copies every parameter and buffer into {@code best} (allocated on first use, reused after). */
    private void snapshot(Backend backend, Map<String, Tensor> best) {
        Map<String, Tensor> live = liveTensors();
        live.forEach((name, t) -> {
            Tensor copy = best.get(name);
            if (copy == null) {
                best.put(name, backend.copyOf(t));
            } else {
                backend.copy(t, copy);
            }
        });
    }

    private void restore(Backend backend, Map<String, Tensor> best) {
        liveTensors().forEach((name, t) -> backend.copy(best.get(name), t));
    }

    private Map<String, Tensor> liveTensors() {
        Map<String, Tensor> live = new LinkedHashMap<>();
        net.parameters().forEach((name, p) -> live.put(name, p.value()));
        live.putAll(net.buffers());
        return live;
    }

    private static Dataset sample(Dataset data, int count, Random rnd) {
        if (count == 0 || count >= data.size()) {
            return data;
        }
        int[] idx = new int[data.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        // partial Fisher-Yates: the first `count` entries become a uniform sample without replacement
        for (int i = 0; i < count; i++) {
            int j = i + rnd.nextInt(idx.length - i);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        return data.subset(java.util.Arrays.copyOf(idx, count));
    }

    private static void shuffle(int[] a, Random rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** A per-epoch seed: SplitMix64 finalizer of (seed, epoch). */
    private static long mix(long seed, int epoch) {
        long z = seed + 0x9E3779B97F4A7C15L * (epoch + 1L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
