package org.layerkit.models.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.Standardizer;
import org.layerkit.models.optim.Optimizer;

/**
 * Minibatch training of a {@link FullyConnectedNet} with an {@link Optimizer}, as CS231N's {@code Solver}: each epoch
 * shuffles the training set, takes one optimizer step per minibatch, decays the learning rate, measures train
 * accuracy on a subsample and validation accuracy, and remembers the parameters of the best validation accuracy
 * (restored at the end).
 *
 * <p>Each step uploads the minibatch and otherwise stays on the net's backend; the loss is read back only every
 * {@link SolverConfig#lossEvery()} iterations (plus once per epoch for the mean). A NaN or infinite loss stops
 * training with a {@link TrainingDivergedException}.
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
    private final FullyConnectedNet net;
    private final Optimizer optimizer;
    private final Dataset train;
    private final Dataset validation;
    private final SolverConfig config;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private int completedEpochs;
    private Standardizer standardizer;

    /**
     * Trains on {@code data.train()} and validates on {@code data.validation()}; the test split is not touched.
     * Checkpoints keep {@code data.standardizer()}.
     */
    public Solver(FullyConnectedNet net, Optimizer optimizer, DatasetSplits data, SolverConfig config) {
        this(net, optimizer, data.train(), data.validation(), config);
        this.standardizer = data.standardizer();
    }

    public Solver(FullyConnectedNet net, Optimizer optimizer, Dataset train, Dataset validation, SolverConfig config) {
        int d = net.config().inputDim();
        if (train.featureCount() != d || validation.featureCount() != d) {
            throw new IllegalArgumentException("Solver: data expected " + d + " features, got train "
                    + train.featureCount() + " and validation " + validation.featureCount());
        }
        if (train.size() < 2) {
            throw new IllegalArgumentException("Solver: train expected at least 2 examples, got " + train.size());
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

    /** The number of minibatches per epoch: ⌊N / batch⌋ with batch = min(batchSize, N). */
    public int iterationsPerEpoch() {
        return train.size() / Math.min(config.batchSize(), train.size());
    }

    /** Runs the remaining epochs; returns what was recorded. */
    public TrainingHistory train() {
        Backend backend = net.backend();
        int n = train.size();
        int batch = Math.min(config.batchSize(), n);
        int perEpoch = iterationsPerEpoch();
        long totalIterations = (long) perEpoch * config.epochs();
        int d = train.featureCount();
        float[] xHost = new float[batch * d];
        float[] yHost = new float[batch];
        int[] order = new int[n];
        List<LossPoint> losses = new ArrayList<>();
        List<EpochEvent> epochs = new ArrayList<>();
        Map<String, Tensor> best = new LinkedHashMap<>();
        double bestVal = Double.NEGATIVE_INFINITY;
        int bestEpoch = 0;
        listeners.forEach(l -> l.onStart(config, perEpoch));
        Tensor lossSum = backend.zeros(Shape.of(1));
        try {
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
                    try (Tensor x = backend.upload(xHost, Shape.of(batch, d));
                         Tensor y = backend.upload(yHost, Shape.of(batch))) {
                        Tensor loss = net.loss(x, y);
                        optimizer.step();
                        backend.axpy(1f, loss, lossSum);
                        examplesSinceRead += batch;
                        if (iteration % config.lossEvery() == 0) {
                            double value = loss.item();
                            if (!Double.isFinite(value)) {
                                throw new TrainingDivergedException(epoch, iteration, value,
                                        "learning rate " + lr + "; try a smaller one");
                            }
                            long now = System.nanoTime();
                            double eps = examplesSinceRead / Math.max(1e-9, (now - lastReadTime) / 1e9);
                            lastReadTime = now;
                            examplesSinceRead = 0;
                            losses.add(new LossPoint(epoch, iteration, value));
                            BatchEvent ev = new BatchEvent(epoch, config.epochs(), iteration, totalIterations, value, eps);
                            listeners.forEach(l -> l.onBatch(ev));
                        }
                    }
                }
                double meanLoss = lossSum.item() / perEpoch;
                double seconds = (System.nanoTime() - epochStart) / 1e9;
                if (!Double.isFinite(meanLoss)) {
                    throw new TrainingDivergedException(epoch, iteration, meanLoss,
                            "the mean loss of the epoch; it became non-finite between loss reads (lossEvery "
                                    + config.lossEvery() + "), learning rate " + lr);
                }
                double trainAcc = net.accuracy(sample(train, config.trainAccuracySamples(), rnd), config.evalBatchSize());
                double valAcc = net.accuracy(sample(validation, config.valAccuracySamples(), rnd), config.evalBatchSize());
                boolean improved = validation.size() > 0 && valAcc > bestVal;
                if (improved) {
                    bestVal = valAcc;
                    bestEpoch = epoch;
                    snapshot(backend, best);
                }
                optimizer.setLearningRate(optimizer.learningRate() * config.learningRateDecay());
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
            lossSum.close();
            best.values().forEach(Tensor::close);
        }
        TrainingHistory h = new TrainingHistory(losses, epochs, bestEpoch == 0 ? Double.NaN : bestVal, bestEpoch);
        listeners.forEach(l -> l.onEnd(h));
        return h;
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
