package org.layerkit.models.examples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNet;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.models.layers.WeightInit;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.optim.OptimizerKind;
import org.layerkit.models.train.ConsoleListener;
import org.layerkit.models.train.EpochEvent;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingHistory;

/**
 * Trains a fully connected net on Fashion-MNIST and reports test accuracy and time per epoch — the run behind
 * {@code docs/results.md}. Options ({@code --name=value}), defaults in brackets:
 * {@code --data} [/usr/share/datasets/fashion-mnist], {@code --hidden} [256,128,100], {@code --norm} [batch],
 * {@code --keep} [0.9], {@code --init} [he], {@code --reg} [0], {@code --optimizer} [adam], {@code --lr} [1e-3],
 * {@code --lr-decay} [0.9], {@code --epochs} [20], {@code --batch} [128], {@code --seed} [1], {@code --val} [5000],
 * {@code --train-size} [all], {@code --print-every} [0], {@code --checkpoint} [none: the per-epoch checkpoint for
 * resuming], {@code --save} [none: the final model, with the best validation parameters]. The backend comes from
 * {@code -Dlayerkit.backend} or {@code LAYERKIT_BACKEND}.
 */
public final class FashionMnistTraining {
    private FashionMnistTraining() {
    }

    /** The parsed options. */
    record Options(Path data, List<Integer> hidden, Normalization norm, double keep, WeightInit init, double reg,
                   OptimizerKind optimizer, double lr, double lrDecay, int epochs, int batch, long seed, int val,
                   int trainSize, int printEvery, Path checkpoint, Path save) {

        static Options parse(String[] args) {
            Map<String, String> m = new LinkedHashMap<>();
            for (String a : args) {
                if (!a.startsWith("--") || !a.contains("=")) {
                    throw new IllegalArgumentException("expected --name=value, got '" + a + "'");
                }
                m.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
            }
            Options o = new Options(Path.of(m.getOrDefault("data", FashionMnist.DEFAULT_DIR.toString())),
                    Arrays.stream(m.getOrDefault("hidden", "256,128,100").split(",")).map(String::trim)
                            .filter(s -> !s.isEmpty()).map(Integer::valueOf).toList(),
                    Normalization.parse(m.getOrDefault("norm", "batch")),
                    Double.parseDouble(m.getOrDefault("keep", "0.9")),
                    WeightInit.parse(m.getOrDefault("init", "he")),
                    Double.parseDouble(m.getOrDefault("reg", "0")),
                    OptimizerKind.parse(m.getOrDefault("optimizer", "adam")),
                    Double.parseDouble(m.getOrDefault("lr", "1e-3")),
                    Double.parseDouble(m.getOrDefault("lr-decay", "0.9")),
                    Integer.parseInt(m.getOrDefault("epochs", "20")),
                    Integer.parseInt(m.getOrDefault("batch", "128")),
                    Long.parseLong(m.getOrDefault("seed", "1")),
                    Integer.parseInt(m.getOrDefault("val", Integer.toString(FashionMnist.DEFAULT_VALIDATION))),
                    Integer.parseInt(m.getOrDefault("train-size", "0")),
                    Integer.parseInt(m.getOrDefault("print-every", "0")),
                    m.containsKey("checkpoint") ? Path.of(m.get("checkpoint")) : null,
                    m.containsKey("save") ? Path.of(m.get("save")) : null);
            List<String> known = List.of("data", "hidden", "norm", "keep", "init", "reg", "optimizer", "lr", "lr-decay",
                    "epochs", "batch", "seed", "val", "train-size", "print-every", "checkpoint", "save");
            for (String k : m.keySet()) {
                if (!known.contains(k)) {
                    throw new IllegalArgumentException("unknown option --" + k + "; known: " + known);
                }
            }
            return o;
        }

        FullyConnectedNetConfig net() {
            return FullyConnectedNetConfig.builder(784, FashionMnist.CLASSES).hidden(hidden).normalization(norm)
                    .dropoutKeep(keep).weightInit(init).reg(reg).seed(seed).build();
        }

        SolverConfig solver() {
            return SolverConfig.builder().epochs(epochs).batchSize(batch).learningRateDecay(lrDecay).seed(seed)
                    .checkpoint(checkpoint).build();
        }
    }

    /** The outcome of one run. */
    record Result(TrainingHistory history, double testAccuracy, double secondsPerEpoch, String backend) {
    }

    /** Loads the data (standardized on the training split) for {@code o}. */
    static DatasetSplits load(Options o) throws IOException {
        DatasetSplits s = FashionMnist.load(o.data(), o.val());
        if (o.trainSize() > 0) {
            s = s.withTrainSize(o.trainSize());
        }
        return s.standardized();
    }

    /** Trains once on {@code backend}; prints progress to {@code out}. */
    static Result train(Backend backend, DatasetSplits data, Options o, PrintStream out) throws IOException {
        try (FullyConnectedNet net = new FullyConnectedNet(backend, o.net());
             Optimizer opt = OptimizerConfig.defaults(o.optimizer()).withLearningRate(o.lr()).create(net.parameters())) {
            TrainingHistory h = new Solver(net, opt, data, o.solver())
                    .addListener(new ConsoleListener(out, o.printEvery())).train();
            double test = net.accuracy(data.test(), 1000);
            double spe = h.epochs().stream().mapToDouble(EpochEvent::seconds).average().orElse(Double.NaN);
            if (o.save() != null) {
                Checkpoint.of(net, opt, data.standardizer(), Map.of(Checkpoint.EPOCHS_COMPLETED,
                        Integer.toString(o.epochs()), "best_epoch", Integer.toString(h.bestEpoch()),
                        "test_accuracy", Double.toString(test), "backend", backend.name())).save(o.save());
                out.println("saved the final model (parameters of epoch " + h.bestEpoch() + ") to " + o.save());
            }
            return new Result(h, test, spe, backend.name() + " on " + backend.device().name());
        }
    }

    public static void main(String[] args) throws IOException {
        Options o = Options.parse(args);
        DatasetSplits data = load(o);
        try (Backend backend = Backends.select()) {
            System.out.printf(Locale.ROOT, "%s | net %s | %s lr=%g decay=%g | %d epochs, batch %d | backend %s (%s) | %s%n",
                    Instant.now(), o.net(), o.optimizer().id(), o.lr(), o.lrDecay(), o.epochs(), o.batch(),
                    backend.name(), backend.device().describe(), data.train());
            Result r = train(backend, data, o, System.out);
            System.out.printf(Locale.ROOT, "best val acc %.4f (epoch %d); test acc %.4f; %.2f s/epoch (training steps); backend %s%n",
                    r.history().bestValAccuracy(), r.history().bestEpoch(), r.testAccuracy(), r.secondsPerEpoch(),
                    r.backend());
            if (o.checkpoint() != null) {
                System.out.println("checkpoint (last epoch) in " + o.checkpoint() + ", "
                        + Checkpoint.load(o.checkpoint()).epochsCompleted() + " epochs");
            }
        }
    }
}
