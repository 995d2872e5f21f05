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
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
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
 * {@code --train-size} [all], {@code --print-every} [0], {@code --loss-every} [10: the minibatch loss is read from
 * the device every this many iterations, as the CLI's {@code train}; progress lines appear only at such iterations],
 * {@code --checkpoint} [none: the per-epoch checkpoint for resuming], {@code --save} [none: the final model, with
 * the best validation parameters], {@code --synthetic} [0: off; N: a timing run, see below]. The backend comes from
 * {@code -Dlayerkit.backend} or {@code LAYERKIT_BACKEND}.
 *
 * <p>{@code --synthetic=N} trains the same net on N generated examples of Fashion-MNIST's shape instead of the files
 * (for machines without the data set): 28×28 pixels uniform in [0,1], standardized on the training split as the real
 * path does, labels uniform in 0..9, all drawn from {@code --seed}; plus {@code --val} validation examples drawn the
 * same way. It is a timing run: the per-epoch lines and the closing line give seconds per epoch of training steps as
 * the real run does, but there is no test set and, the labels being random, no accuracy is reported as a result.
 * {@code --data} is refused with it.
 */
public final class FashionMnistTraining {
    private FashionMnistTraining() {
    }

    /** The parsed options. */
    record Options(Path data, List<Integer> hidden, Normalization norm, double keep, WeightInit init, double reg,
                   OptimizerKind optimizer, double lr, double lrDecay, int epochs, int batch, long seed, int val,
                   int trainSize, int printEvery, int lossEvery, Path checkpoint, Path save, int synthetic) {

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
                    Integer.parseInt(m.getOrDefault("loss-every", "10")),
                    m.containsKey("checkpoint") ? Path.of(m.get("checkpoint")) : null,
                    m.containsKey("save") ? Path.of(m.get("save")) : null,
                    Integer.parseInt(m.getOrDefault("synthetic", "0")));
            List<String> known = List.of("data", "hidden", "norm", "keep", "init", "reg", "optimizer", "lr", "lr-decay",
                    "epochs", "batch", "seed", "val", "train-size", "print-every", "loss-every", "checkpoint", "save",
                    "synthetic");
            for (String k : m.keySet()) {
                if (!known.contains(k)) {
                    throw new IllegalArgumentException("unknown option --" + k + "; known: " + known);
                }
            }
            if (o.synthetic() < 0 || o.synthetic() == 1) {
                throw new IllegalArgumentException("--synthetic expected 0 (off) or a number of examples >= 2, got "
                        + o.synthetic());
            }
            if (o.synthetic() > 0 && m.containsKey("data")) {
                throw new IllegalArgumentException("--synthetic generates its data; leave out --data");
            }
            if (o.val() < 0) {
                throw new IllegalArgumentException("--val expected >= 0, got " + o.val());
            }
            return o;
        }

        FullyConnectedNetConfig net() {
            return FullyConnectedNetConfig.builder(784, FashionMnist.CLASSES).hidden(hidden).normalization(norm)
                    .dropoutKeep(keep).weightInit(init).reg(reg).seed(seed).build();
        }

        SolverConfig solver() {
            return SolverConfig.builder().epochs(epochs).batchSize(batch).learningRateDecay(lrDecay).seed(seed)
                    .lossEvery(lossEvery).checkpoint(checkpoint).build();
        }
    }

    /** The outcome of one run; {@code testAccuracy} is NaN for a {@code --synthetic} timing run. */
    record Result(TrainingHistory history, double testAccuracy, double secondsPerEpoch, String backend) {
    }

    /**
     * Loads the data (standardized on the training split) for {@code o}: the files, or for {@code --synthetic=N} N
     * generated training examples and {@code --val} validation examples (no test examples).
     */
    static DatasetSplits load(Options o) throws IOException {
        DatasetSplits s = o.synthetic() > 0
                ? new DatasetSplits(synthetic("synthetic-fashion-mnist/train", o.synthetic(), o.seed()),
                        synthetic("synthetic-fashion-mnist/val", o.val(), o.seed() + 1),
                        synthetic("synthetic-fashion-mnist/test", 0, o.seed() + 2))
                : FashionMnist.load(o.data(), o.val());
        if (o.trainSize() > 0) {
            s = s.withTrainSize(o.trainSize());
        }
        return s.standardized();
    }

    /**
     * {@code n} random examples of Fashion-MNIST's shape: 784 pixels uniform in the files' 256 grey levels scaled to
     * [0,1] (as the real loader scales them), labels uniform in 0..9, all from {@code seed}.
     */
    static Dataset synthetic(String name, int n, long seed) {
        int pixels = 28 * 28;
        Random r = new Random(seed);
        float[] x = new float[n * pixels];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(FashionMnist.CLASSES);
            for (int p = 0; p < pixels; p++) {
                x[i * pixels + p] = r.nextInt(256) / 255f;
            }
        }
        return new Dataset(name, x, y, pixels, FashionMnist.CLASSES);
    }

    /** Trains once on {@code backend}; prints progress to {@code out}. */
    static Result train(Backend backend, DatasetSplits data, Options o, PrintStream out) throws IOException {
        try (SequentialNet net = new SequentialNet(backend, o.net());
             Optimizer opt = OptimizerConfig.defaults(o.optimizer()).withLearningRate(o.lr()).create(net.parameters())) {
            TrainingHistory h = new Solver(net, opt, data, o.solver())
                    .addListener(new ConsoleListener(out, o.printEvery())).train();
            double test = o.synthetic() > 0 ? Double.NaN : net.accuracy(data.test(), 1000);
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

    /** The line before a {@code --synthetic} run that says what it is. */
    static String syntheticBanner(Options o) {
        return String.format(Locale.ROOT, "TIMING RUN on synthetic data: %d training examples of Fashion-MNIST's shape "
                + "(784 random pixels, standardized; labels uniform 0..9; seed %d), loss read every %d iterations. "
                + "The labels are random, so the accuracies below are meaningless; only the seconds count.",
                o.synthetic(), o.seed(), o.lossEvery());
    }

    /** The closing line of a {@code --synthetic} run: seconds per epoch, no accuracy. */
    static String syntheticSummary(Result r) {
        StringBuilder each = new StringBuilder();
        for (EpochEvent e : r.history().epochs()) {
            each.append(each.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", e.seconds()));
        }
        return String.format(Locale.ROOT, "timing run (synthetic data, random labels: no accuracy reported): "
                + "%.2f s/epoch (training steps); epochs: %s s; backend %s", r.secondsPerEpoch(), each, r.backend());
    }

    public static void main(String[] args) throws IOException {
        Options o = Options.parse(args);
        DatasetSplits data = load(o);
        try (Backend backend = Backends.select()) {
            run(backend, data, o, System.out);
        }
    }

    /** One run as {@link #main} prints it: a header line, the progress, a closing line. */
    static Result run(Backend backend, DatasetSplits data, Options o, PrintStream out) throws IOException {
        out.printf(Locale.ROOT, "%s | net %s | %s lr=%g decay=%g | %d epochs, batch %d | backend %s (%s) | %s%n",
                Instant.now(), o.net(), o.optimizer().id(), o.lr(), o.lrDecay(), o.epochs(), o.batch(),
                backend.name(), backend.device().describe(), data.train());
        if (o.synthetic() > 0) {
            out.println(syntheticBanner(o));
        }
        Result r = train(backend, data, o, out);
        if (o.synthetic() > 0) {
            out.println(syntheticSummary(r));
        } else {
            out.printf(Locale.ROOT, "best val acc %.4f (epoch %d); test acc %.4f; %.2f s/epoch (training steps); backend %s%n",
                    r.history().bestValAccuracy(), r.history().bestEpoch(), r.testAccuracy(), r.secondsPerEpoch(),
                    r.backend());
        }
        if (o.checkpoint() != null) {
            out.println("checkpoint (last epoch) in " + o.checkpoint() + ", "
                    + Checkpoint.load(o.checkpoint()).epochsCompleted() + " epochs");
        }
        return r;
    }
}
