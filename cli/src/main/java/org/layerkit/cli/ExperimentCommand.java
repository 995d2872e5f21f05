package org.layerkit.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.XYChart;
import org.layerkit.api.Backend;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.EpochEvent;
import org.layerkit.models.train.LossPoint;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingDivergedException;
import org.layerkit.models.train.TrainingHistory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code layerkit experiment}: the experiments of CS231N's BatchNormalization and Dropout notebooks, on Fashion-MNIST:
 * <ul>
 *   <li>{@code batchnorm} — a deep net (5 × 100) with and without batch normalization: training loss per iteration,
 *       train and validation accuracy per epoch;
 *   <li>{@code batch-size} — the same net with batch (or layer) normalization at several batch sizes, against a
 *       baseline without normalization at the smallest batch size;
 *   <li>{@code dropout} — a wide net (500) on a small training set with several keep probabilities, against no
 *       dropout: train and validation accuracy per epoch (dropout narrows the gap).
 * </ul>
 * Writes {@code <name>-loss.csv}, {@code <name>-accuracy.csv} and {@code <name>.png} to the output directory. The
 * defaults are sized to finish in a few minutes on two CPU cores: training data subsampled, few epochs.
 */
@Command(name = "experiment", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Reproduce the CS231N batchnorm, batch-size and dropout experiments (PNG plots, CSVs).",
                "On Fashion-MNIST by default:",
                "  batchnorm   with vs without batch normalization (5 hidden layers of 100)",
                "  batch-size  batch sizes with batch/layer norm vs a baseline without normalization",
                "  dropout     keep probabilities vs no dropout on a small training set (1 hidden layer of 500)",
                "Writes PNG plots and CSVs to the output directory."})
public final class ExperimentCommand extends CommandBase {
    /** The experiments by name. */
    enum Kind {
        BATCHNORM("batchnorm"), BATCH_SIZE("batch-size"), DROPOUT("dropout");

        final String id;

        Kind(String id) {
            this.id = id;
        }

        static Kind parse(String s) {
            String t = s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
            for (Kind k : values()) {
                if (k.id.equals(t) || k.id.replace("-", "").equals(t)) {
                    return k;
                }
            }
            return null;
        }
    }

    @Parameters(index = "0", paramLabel = "EXPERIMENT", description = "batchnorm, batch-size or dropout.")
    String experiment;

    @Mixin
    BackendMixin backendMixin = new BackendMixin();

    @Mixin
    DataMixin data = new DataMixin();

    @Mixin
    DivergenceMixin divergence = new DivergenceMixin();

    @Option(names = "--out", paramLabel = "DIR",
            description = "Directory for the plots and CSVs (default: results/experiment-<name>).")
    Path outDir;

    @Option(names = "--epochs", paramLabel = "N",
            description = "Epochs per run (default: 10; dropout 20).")
    Integer epochs;

    @Option(names = "--hidden", paramLabel = "WIDTHS", split = ",",
            description = "Hidden layer widths (default: 100,100,100,100,100; dropout 500).")
    List<Integer> hidden;

    @Option(names = "--weight-scale", paramLabel = "STD",
            description = "Std of the Gaussian initial weights, as in the notebooks (default: 0.02; dropout 0.01).")
    Double weightScale;

    @Option(names = "--lr", paramLabel = "RATE", description = "Adam learning rate (default: 1e-3; dropout 5e-4).")
    Double lr;

    @Option(names = "--batch-size", paramLabel = "N",
            description = "Minibatch size of the batchnorm and dropout experiments (default: 50; dropout 100).")
    Integer batchSize;

    @Option(names = "--batch-sizes", paramLabel = "N", split = ",", defaultValue = "5,10,50",
            description = "Batch sizes of the batch-size experiment (default: ${DEFAULT-VALUE}).")
    List<Integer> batchSizes;

    @Option(names = "--norm", paramLabel = "KIND", defaultValue = "batch", converter = TrainCommand.NormConverter.class,
            description = "Normalization of the batch-size experiment: batch or layer (default: ${DEFAULT-VALUE}).")
    Normalization norm;

    @Option(names = "--keep-probs", paramLabel = "P", split = ",", defaultValue = "0.75,0.5,0.25",
            description = "Keep probabilities of the dropout experiment, each against no dropout "
                    + "(default: ${DEFAULT-VALUE}).")
    List<Double> keepProbs;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seeds weights, masks and shuffles; every run uses the same (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--progress", paramLabel = "STYLE", defaultValue = "none", converter = Progress.StyleConverter.class,
            description = "Progress within an epoch: auto, bar, plain or none (default: ${DEFAULT-VALUE}; "
                    + "a summary line per epoch is always printed).")
    Progress.Style progressStyle;

    /** One training run of an experiment. */
    record Run(String name, FullyConnectedNetConfig net, OptimizerConfig optimizer, SolverConfig solver) {
    }

    /** What a run recorded. */
    record Result(Run run, TrainingHistory history, double seconds) {
    }

    @Override
    protected int execute() {
        Kind kind = Kind.parse(experiment);
        if (kind == null) {
            throw usage("unknown experiment '" + experiment + "': expected batchnorm, batch-size or dropout");
        }
        validate(kind);
        divergence.validate(this::usage);
        Path dir = Files2.requireDirectory(outDir != null ? outDir : Path.of("results", "experiment-" + kind.id),
                "--out");
        PrintWriter out = out();
        try (Backend backend = backendMixin.open()) {
            int defaultTrain = kind == Kind.DROPOUT ? 1000 : 5000;
            DataSets.Loaded loaded = data.load(DataSets.Kind.FASHION_MNIST.id, defaultTrain);
            DatasetSplits splits = loaded.splits().standardized();
            if (data.valSize == null && splits.validation().size() > 1000) {
                // a thousand examples measure validation accuracy well enough for curves and keep each epoch short
                splits = new DatasetSplits(splits.train(), splits.validation().slice(0, 1000), splits.test(),
                        splits.standardizer());
            }
            List<Run> runs = runs(kind, splits);
            for (Run run : runs) {
                if (run.solver().batchSize() > splits.train().size()) {
                    throw new CliException("run " + run.name() + ": batch size " + run.solver().batchSize()
                            + " is larger than the " + splits.train().size() + " training examples; give a larger "
                            + "--train-size or smaller batches");
                }
            }
            out.printf(Locale.ROOT, "experiment %s: %d runs on %s; %d train / %d val examples of %s%n", kind.id,
                    runs.size(), backend.name() + " (" + backend.device().name() + ")", splits.train().size(),
                    splits.validation().size(), loaded.title());
            out.flush();
            List<Result> results = new ArrayList<>();
            for (Run run : runs) {
                out.println("run " + run.name() + ": " + run.net() + ", " + run.optimizer() + ", batch "
                        + run.solver().batchSize() + ", " + run.solver().epochs() + " epochs");
                out.flush();
                long start = System.nanoTime();
                try (SequentialNet net = new SequentialNet(backend, run.net());
                     Optimizer opt = run.optimizer().create(net.parameters())) {
                    Progress progress = new Progress(out, progressStyle, 10_000_000_000L);
                    TrainingHistory h;
                    try {
                        h = new Solver(net, opt, splits, run.solver())
                                .addListener(new ProgressListener(progress, "  " + run.name() + ": ")).train();
                    } catch (TrainingDivergedException e) {
                        throw DivergenceMixin.diverged(e, "run " + run.name() + ": ", null);
                    }
                    results.add(new Result(run, h, (System.nanoTime() - start) / 1e9));
                }
            }
            printSummary(out, results);
            Path lossCsv = dir.resolve(kind.id + "-loss.csv");
            Path accCsv = dir.resolve(kind.id + "-accuracy.csv");
            Path png = dir.resolve(kind.id + ".png");
            writeCsvs(results, lossCsv, accCsv);
            Charts.savePng(png, charts(kind, results), "--out");
            out.println("wrote " + png);
            out.println("wrote " + lossCsv);
            out.println("wrote " + accCsv);
        }
        return 0;
    }

    private void validate(Kind kind) {
        data.validate(this::usage);
        if (epochs != null && epochs < 1) {
            throw usage("--epochs must be at least 1, got " + epochs);
        }
        if (hidden != null && (hidden.isEmpty() || hidden.stream().anyMatch(h -> h < 1))) {
            throw usage("--hidden: expected widths >= 1, got " + hidden);
        }
        if (weightScale != null && !(weightScale > 0 && Double.isFinite(weightScale))) {
            throw usage("--weight-scale must be > 0, got " + weightScale);
        }
        if (lr != null && !(lr > 0 && Double.isFinite(lr))) {
            throw usage("--lr must be > 0, got " + lr);
        }
        if (batchSize != null && batchSize < 2) {
            throw usage("--batch-size must be at least 2, got " + batchSize);
        }
        if (batchSizes.isEmpty() || batchSizes.stream().anyMatch(b -> b < 2)) {
            throw usage("--batch-sizes: expected sizes >= 2 (batch norm needs two examples), got " + batchSizes);
        }
        if (kind == Kind.BATCH_SIZE && norm == Normalization.NONE) {
            throw usage("--norm: the batch-size experiment compares batch or layer normalization with a baseline "
                    + "without; choose batch or layer");
        }
        if (keepProbs.isEmpty() || keepProbs.stream().anyMatch(p -> !(p > 0 && p <= 1))) {
            throw usage("--keep-probs: expected probabilities in (0,1], got " + keepProbs);
        }
    }

    private List<Run> runs(Kind kind, DatasetSplits splits) {
        int d = splits.train().featureCount();
        int k = splits.train().classes();
        boolean drop = kind == Kind.DROPOUT;
        List<Integer> widths = hidden != null ? hidden : drop ? List.of(500) : Collections.nCopies(5, 100);
        double scale = weightScale != null ? weightScale : drop ? 1e-2 : 2e-2;
        OptimizerConfig adam = OptimizerConfig.adam(lr != null ? lr : drop ? 5e-4 : 1e-3);
        int e = epochs != null ? epochs : drop ? 20 : 10;
        int batch = batchSize != null ? batchSize : drop ? 100 : 50;
        FullyConnectedNetConfig.Builder base = FullyConnectedNetConfig.builder(d, k).hidden(widths).weightScale(scale)
                .seed(seed);
        SolverConfig.Builder solver = divergence.apply(SolverConfig.builder().epochs(e).batchSize(batch).seed(seed)
                .restoreBest(false));
        List<Run> runs = new ArrayList<>();
        switch (kind) {
            case BATCHNORM -> {
                runs.add(new Run("batchnorm", base.normalization(Normalization.BATCH).build(), adam, solver.build()));
                runs.add(new Run("baseline", base.normalization(Normalization.NONE).build(), adam, solver.build()));
            }
            case BATCH_SIZE -> {
                List<Integer> sizes = batchSizes.stream().sorted().distinct().toList();
                runs.add(new Run("baseline_" + sizes.get(0), base.normalization(Normalization.NONE).build(), adam,
                        solver.batchSize(sizes.get(0)).build()));
                for (int b : sizes) {
                    runs.add(new Run(norm.id() + "norm_" + b, base.normalization(norm).build(), adam,
                            solver.batchSize(b).build()));
                }
            }
            case DROPOUT -> {
                runs.add(new Run("keep_1.0", base.dropoutKeep(1).build(), adam, solver.build()));
                for (double p : keepProbs) {
                    if (p < 1) {
                        runs.add(new Run("keep_" + p, base.dropoutKeep(p).build(), adam, solver.build()));
                    }
                }
            }
        }
        return runs;
    }

    private static void printSummary(PrintWriter out, List<Result> results) {
        out.println();
        out.printf("%-18s %10s %10s %10s %10s %9s%n", "run", "final loss", "train acc", "val acc", "best val", "time");
        for (Result r : results) {
            List<EpochEvent> ep = r.history().epochs();
            EpochEvent last = ep.get(ep.size() - 1);
            out.printf(Locale.ROOT, "%-18s %10.4f %10.4f %10s %10s %9s%n", r.run().name(), last.meanLoss(),
                    last.trainAccuracy(), accuracy(last.valAccuracy()), accuracy(r.history().bestValAccuracy()),
                    Progress.duration(r.seconds()));
        }
        out.println();
    }

    /** An accuracy to 4 places, "-" where there is none (no validation split). */
    private static String accuracy(double a) {
        return Double.isNaN(a) ? "-" : String.format(Locale.ROOT, "%.4f", a);
    }

    private static void writeCsvs(List<Result> results, Path lossCsv, Path accCsv) {
        StringBuilder loss = new StringBuilder("run,epoch,iteration,loss\n");
        StringBuilder acc = new StringBuilder(
                "run,batch_size,keep_prob,normalization,epoch,mean_loss,train_accuracy,val_accuracy,seconds\n");
        for (Result r : results) {
            for (LossPoint p : r.history().losses()) {
                loss.append(Csv.row(r.run().name(), p.epoch(), p.iteration(), Csv.num(p.loss())));
            }
            for (EpochEvent e : r.history().epochs()) {
                acc.append(Csv.row(r.run().name(), r.run().solver().batchSize(), r.run().net().dropoutKeep(),
                        r.run().net().normalization().id(), e.epoch(), Csv.num(e.meanLoss()),
                        Csv.num(e.trainAccuracy()), Csv.num(e.valAccuracy()), Csv.num(e.seconds())));
            }
        }
        Files2.write(lossCsv, loss.toString(), "--out", "the losses");
        Files2.write(accCsv, acc.toString(), "--out", "the accuracies");
    }

    /** The notebook's figures: loss per iteration (batchnorm only), train and val accuracy per epoch. */
    private static List<XYChart> charts(Kind kind, List<Result> results) {
        List<XYChart> charts = new ArrayList<>();
        String what = switch (kind) {
            case BATCHNORM -> "with and without batch normalization";
            case BATCH_SIZE -> "normalization at several batch sizes";
            case DROPOUT -> "dropout keep probabilities";
        };
        if (kind == Kind.BATCHNORM) {
            XYChart loss = Charts.chart("Training loss — " + what, "iteration", "loss");
            for (Result r : results) {
                Charts.dots(loss, r.run().name(),
                        r.history().losses().stream().mapToDouble(LossPoint::iteration).toArray(),
                        r.history().losses().stream().mapToDouble(LossPoint::loss).toArray());
            }
            charts.add(loss);
        }
        XYChart train = Charts.chart("Training accuracy — " + what, "epoch", "accuracy");
        XYChart val = Charts.chart("Validation accuracy — " + what, "epoch", "accuracy");
        for (Result r : results) {
            double[] x = r.history().epochs().stream().mapToDouble(EpochEvent::epoch).toArray();
            Charts.line(train, r.run().name(), x, r.history().trainAccuracies(), true);
            Charts.line(val, r.run().name(), x, r.history().valAccuracies(), true);
        }
        charts.add(train);
        charts.add(val);
        return charts;
    }
}
