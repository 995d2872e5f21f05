package org.layerkit.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.XYChart;
import org.layerkit.api.Backend;
import org.layerkit.models.ConvNetConfig;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.NetConfig;
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
 *   <li>{@code norm-batch-size} — the groupnorm paper's experiment (Wu and He 2018, figure 1): the same CNN with batch,
 *       group, layer and no normalization at batch sizes 2 to 64, with the learning rate scaled linearly with the
 *       batch size as the paper does (lr = base·B/32), SGD with momentum 0.9; test and validation accuracy against
 *       the batch size per normalization;
 *   <li>{@code batch-size} — the same net with batch (or layer) normalization at several batch sizes, against a
 *       baseline without normalization at the smallest batch size;
 *   <li>{@code dropout} — a wide net (500) on a small training set with several keep probabilities, against no
 *       dropout: train and validation accuracy per epoch (dropout narrows the gap).
 * </ul>
 * Writes {@code <name>-loss.csv}, {@code <name>-accuracy.csv} and {@code <name>.png} to the output directory
 * ({@code norm-batch-size} also {@code norm-batch-size.csv}, one row per run). The defaults are sized to finish in a
 * few minutes on two CPU cores (norm-batch-size: about half an hour): training data subsampled, few epochs.
 */
@Command(name = "experiment", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Reproduce the CS231N notebook experiments and the groupnorm paper's batch-size one (PNGs, CSVs).",
                "On Fashion-MNIST by default:",
                "  batchnorm        with vs without batch normalization (5 hidden layers of 100)",
                "  batch-size       batch sizes with batch/layer norm vs a baseline without normalization",
                "  dropout          keep probabilities vs no dropout on a small training set (1 hidden layer of 500)",
                "  norm-batch-size  --net cnn: batch, group, layer and no norm at batch sizes 2..64, a CNN",
                "                   (conv16-conv32-fc64 by default; the norm after every conv and the hidden",
                "                   affine layer), SGD momentum 0.9, lr = base*B/32 as in Wu & He 2018,",
                "                   3 epochs on 20000 training images (about half an hour on two cores)",
                "Writes PNG plots and CSVs to the output directory."})
public final class ExperimentCommand extends CommandBase {
    /** The experiments by name. */
    enum Kind {
        BATCHNORM("batchnorm"), BATCH_SIZE("batch-size"), DROPOUT("dropout"), NORM_BATCH_SIZE("norm-batch-size");

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

    @Parameters(index = "0", paramLabel = "EXPERIMENT",
            description = "batchnorm, batch-size, dropout or norm-batch-size.")
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
            description = "Epochs per run (default: 10; dropout 20; norm-batch-size 3).")
    Integer epochs;

    @Option(names = "--hidden", paramLabel = "WIDTHS", split = ",",
            description = "Hidden layer widths (default: 100,100,100,100,100; dropout 500; norm-batch-size 64).")
    List<Integer> hidden;

    @Option(names = "--net", paramLabel = "mlp|cnn", converter = TrainCommand.NetConverter.class,
            description = "The net of norm-batch-size: cnn (the default) or mlp (batch, layer and no norm); the other "
                    + "experiments use the MLP.")
    TrainCommand.Net net;

    @Option(names = "--channels", paramLabel = "C1,C2,...", split = ",",
            description = "norm-batch-size, cnn: channels per stage (default: 16,32).")
    List<Integer> channels;

    @Option(names = "--norms", paramLabel = "KIND", split = ",", converter = TrainCommand.NormConverter.class,
            description = "norm-batch-size: the normalizations to compare (default: batch,group,layer,none for "
                    + "cnn; batch,layer,none for mlp).")
    List<Normalization> norms;

    @Option(names = "--groups", paramLabel = "G",
            description = "norm-batch-size: groups of group norm; must divide every stage's channels (default: the "
                    + "largest common divisor of the channels up to 8).")
    Integer groups;

    @Option(names = "--weight-scale", paramLabel = "STD",
            description = "Std of the Gaussian initial weights, as in the notebooks (default: 0.02; dropout 0.01).")
    Double weightScale;

    @Option(names = "--lr", paramLabel = "RATE", description = "Adam learning rate (default: 1e-3; dropout 5e-4); "
            + "norm-batch-size: the base rate of SGD with momentum at batch 32, lr = base*B/32 (default: 0.01).")
    Double lr;

    @Option(names = "--batch-size", paramLabel = "N",
            description = "Minibatch size of the batchnorm and dropout experiments (default: 50; dropout 100).")
    Integer batchSize;

    @Option(names = "--batch-sizes", paramLabel = "N", split = ",",
            description = "Batch sizes of the batch-size experiment (default: 5,10,50) and of norm-batch-size "
                    + "(default: 2,4,8,16,32,64).")
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

    @Option(names = "--progress", paramLabel = "STYLE", converter = Progress.StyleConverter.class,
            description = "Progress within an epoch: auto, bar, plain or none (default: none; a summary line per "
                    + "epoch is always printed); norm-batch-size: progress over its grid of runs, a bar on a terminal "
                    + "(default: auto).")
    Progress.Style progressStyle;

    /**
     * One training run of an experiment.
     *
     * @param norm the normalization's name, for the CSVs
     * @param keep the dropout keep probability, for the CSVs
     */
    record Run(String name, NetConfig net, OptimizerConfig optimizer, SolverConfig solver, String norm, double keep) {
        Run(String name, FullyConnectedNetConfig net, OptimizerConfig optimizer, SolverConfig solver) {
            this(name, net, optimizer, solver, net.normalization().id(), net.dropoutKeep());
        }
    }

    /** What a run recorded; {@code testAccuracy} is measured for norm-batch-size only (else NaN). */
    record Result(Run run, TrainingHistory history, double seconds, double testAccuracy) {
    }

    @Override
    protected int execute() {
        Kind kind = Kind.parse(experiment);
        if (kind == null) {
            throw usage("unknown experiment '" + experiment + "': expected batchnorm, batch-size, dropout or "
                    + "norm-batch-size");
        }
        validate(kind);
        divergence.validate(this::usage);
        Path dir = Files2.requireDirectory(outDir != null ? outDir : Path.of("results", "experiment-" + kind.id),
                "--out");
        PrintWriter out = out();
        try (Backend backend = backendMixin.open()) {
            int defaultTrain = kind == Kind.DROPOUT ? 1000 : kind == Kind.NORM_BATCH_SIZE ? NBS_TRAIN : 5000;
            DataSets.Loaded loaded = data.load(DataSets.Kind.FASHION_MNIST.id, defaultTrain);
            boolean cnn = kind == Kind.NORM_BATCH_SIZE && net != TrainCommand.Net.MLP;
            if (cnn && loaded.splits().train().exampleShape().rank() != 3) {
                throw new CliException("--net cnn needs images, but " + loaded.title() + " has examples of shape "
                        + loaded.splits().train().exampleShape());
            }
            DatasetSplits splits = cnn ? loaded.splits().standardizedPerChannel() : loaded.splits().standardized();
            if (data.valSize == null && splits.validation().size() > 1000) {
                // a thousand examples measure validation accuracy well enough for curves and keep each epoch short
                splits = new DatasetSplits(splits.train(), splits.validation().slice(0, 1000), splits.test(),
                        splits.standardizer());
            }
            List<Run> runs = kind == Kind.NORM_BATCH_SIZE ? normBatchSizeRuns(splits, cnn) : runs(kind, splits);
            for (Run run : runs) {
                if (run.solver().batchSize() > splits.train().size()) {
                    throw new CliException("run " + run.name() + ": batch size " + run.solver().batchSize()
                            + " is larger than the " + splits.train().size() + " training examples; give a larger "
                            + "--train-size or smaller batches");
                }
            }
            // every net is built once before any run trains, so that one that does not fit the images fails now
            // rather than after the runs before it
            for (NetConfig config : runs.stream().map(Run::net).distinct().toList()) {
                TrainCommand.newNet(backend, config).close();
            }
            out.printf(Locale.ROOT, "experiment %s: %d runs on %s; %d train / %d val examples of %s%n", kind.id,
                    runs.size(), backend.name() + " (" + backend.device().name() + ")", splits.train().size(),
                    splits.validation().size(), loaded.title());
            out.flush();
            List<Result> results = new ArrayList<>();
            boolean grid = kind == Kind.NORM_BATCH_SIZE;
            GridProgress gridProgress = grid ? new GridProgress(out, progressStyle != null ? progressStyle
                    : Progress.Style.AUTO, runs.size()) : null;
            for (Run run : runs) {
                if (!grid) {
                    out.println("run " + run.name() + ": " + run.net() + ", " + run.optimizer() + ", batch "
                            + run.solver().batchSize() + ", " + run.solver().epochs() + " epochs");
                } else if (results.isEmpty()) {
                    out.println("net: " + run.net() + "; " + run.solver().epochs() + " epochs per run, SGD momentum "
                            + "0.9, lr = " + trim(nbsBaseLr()) + "*B/32");
                }
                out.flush();
                if (gridProgress != null) {
                    gridProgress.starting(run.name());
                }
                long start = System.nanoTime();
                try (SequentialNet net = TrainCommand.newNet(backend, run.net());
                     Optimizer opt = run.optimizer().create(net.parameters())) {
                    Progress progress = new Progress(out, grid || progressStyle == null ? Progress.Style.NONE
                            : progressStyle, 10_000_000_000L);
                    TrainingHistory h;
                    try {
                        Solver solver = new Solver(net, opt, splits, run.solver());
                        if (!grid) {
                            solver.addListener(new ProgressListener(progress, "  " + run.name() + ": "));
                        }
                        h = solver.train();
                    } catch (TrainingDivergedException e) {
                        throw DivergenceMixin.diverged(e, "run " + run.name() + ": ", null);
                    }
                    double test = grid ? net.accuracy(splits.test(), 1000) : Double.NaN;
                    double seconds = (System.nanoTime() - start) / 1e9;
                    Result r = new Result(run, h, seconds, test);
                    results.add(r);
                    if (gridProgress != null) {
                        EpochEvent last = h.epochs().get(h.epochs().size() - 1);
                        gridProgress.finished(String.format(Locale.ROOT,
                                "%-16s loss %.4f  train acc %.4f  val acc %s  test acc %.4f  lr %s  %s", run.name(),
                                last.meanLoss(), last.trainAccuracy(), accuracy(last.valAccuracy()), test,
                                trim(run.optimizer().learningRate()), Progress.duration(seconds)));
                    }
                }
            }
            printSummary(out, results);
            Path lossCsv = dir.resolve(kind.id + "-loss.csv");
            Path accCsv = dir.resolve(kind.id + "-accuracy.csv");
            Path png = dir.resolve(kind.id + ".png");
            writeCsvs(results, lossCsv, accCsv);
            Charts.savePng(png, grid ? gridCharts(results) : charts(kind, results), "--out");
            out.println("wrote " + png);
            if (grid) {
                Path table = dir.resolve(kind.id + ".csv");
                writeGridCsv(results, table, splits.train().size());
                printGrid(out, results);
                out.println("wrote " + table);
            }
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
        if (batchSizes != null && (batchSizes.isEmpty() || batchSizes.stream().anyMatch(b -> b < 2))) {
            throw usage("--batch-sizes: expected sizes >= 2 (batch norm needs two examples), got " + batchSizes);
        }
        if (kind != Kind.NORM_BATCH_SIZE) {
            List<String> only = new ArrayList<>();
            if (net != null) {
                only.add("--net");
            }
            if (channels != null) {
                only.add("--channels");
            }
            if (norms != null) {
                only.add("--norms");
            }
            if (groups != null) {
                only.add("--groups");
            }
            if (!only.isEmpty()) {
                throw usage(String.join(", ", only) + (only.size() == 1 ? " applies" : " apply")
                        + " to the norm-batch-size experiment only");
            }
        } else {
            boolean cnn = net != TrainCommand.Net.MLP;
            if (norms != null && (norms.isEmpty() || (!cnn && norms.contains(Normalization.GROUP)))) {
                throw usage("--norms: expected " + (cnn ? "batch, group, layer and/or none" : "batch, layer and/or "
                        + "none (group norm needs --net cnn)") + ", got " + norms);
            }
            if (!cnn && (channels != null || groups != null)) {
                throw usage("--channels and --groups apply to --net cnn");
            }
            if (channels != null && (channels.isEmpty() || channels.stream().anyMatch(c -> c < 1))) {
                throw usage("--channels: expected one count >= 1 per stage, got " + channels);
            }
            if (groups != null && groups < 1) {
                throw usage("--groups must be at least 1, got " + groups);
            }
            if (batchSize != null) {
                throw usage("--batch-size: norm-batch-size takes its batch sizes from --batch-sizes");
            }
        }
        if (kind == Kind.BATCH_SIZE && (norm == Normalization.NONE || norm == Normalization.GROUP)) {
            throw usage("--norm: the batch-size experiment compares batch or layer normalization with a baseline "
                    + "without; choose batch or layer (norm-batch-size compares group norm too)");
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
                List<Integer> sizes = (batchSizes != null ? batchSizes : List.of(5, 10, 50)).stream().sorted()
                        .distinct().toList();
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
            default -> throw new IllegalStateException("no MLP runs for " + kind.id);
        }
        return runs;
    }

    /** The default training subset of norm-batch-size (3 epochs of it per run: 24 runs in about half an hour on two cores). */
    static final int NBS_TRAIN = 20_000;

    /** --groups, else the largest divisor of every stage's channels up to {@link ConvNetConfig#DEFAULT_GROUPS}. */
    private int nbsGroups() {
        if (groups != null) {
            return groups;
        }
        int g = 0;
        for (int c : channels != null ? channels : List.of(16, 32)) {
            g = java.math.BigInteger.valueOf(g).gcd(java.math.BigInteger.valueOf(c)).intValue();
        }
        for (int d = Math.min(g, ConvNetConfig.DEFAULT_GROUPS); d > 1; d--) {
            if (g % d == 0) {
                return d;
            }
        }
        return 1;
    }

    private double nbsBaseLr() {
        return lr != null ? lr : 0.01;
    }

    /**
     * The grid of norm-batch-size: every normalization at every batch size, the same net and epochs, SGD with
     * momentum 0.9 at lr = base·B/32 (Wu and He's linear scaling: the step per example stays the same), no dropout,
     * a constant learning rate; the parameters of the last epoch are evaluated (no selection on validation).
     */
    private List<Run> normBatchSizeRuns(DatasetSplits splits, boolean cnn) {
        int k = splits.train().classes();
        List<Integer> sizes = (batchSizes != null ? batchSizes : List.of(2, 4, 8, 16, 32, 64)).stream().sorted()
                .distinct().toList();
        List<Normalization> kinds = norms != null ? norms.stream().distinct().toList() : cnn
                ? List.of(Normalization.BATCH, Normalization.GROUP, Normalization.LAYER, Normalization.NONE)
                : List.of(Normalization.BATCH, Normalization.LAYER, Normalization.NONE);
        int e = epochs != null ? epochs : 3;
        List<Integer> widths = hidden != null ? hidden : List.of(64);
        SolverConfig.Builder solver = divergence.apply(SolverConfig.builder().epochs(e).seed(seed).restoreBest(false)
                .lossEvery(50));
        List<Run> runs = new ArrayList<>();
        for (Normalization n : kinds) {
            NetConfig netConfig;
            if (cnn) {
                ConvNetConfig.Builder b = ConvNetConfig.builder(splits.train().exampleShape(), k)
                        .channels(channels != null ? channels : List.of(16, 32)).kernel(3).pool(2).norm(n)
                        .hidden(widths).seed(seed);
                if (n == Normalization.GROUP) {
                    b.groups(nbsGroups());
                }
                try {
                    netConfig = b.build();
                } catch (IllegalArgumentException ex) {
                    throw new CliException("norm-batch-size: " + ex.getMessage(), ex);
                }
            } else {
                netConfig = FullyConnectedNetConfig.builder(splits.train().featureCount(), k).hidden(widths)
                        .normalization(n).heInit().seed(seed).build();
            }
            String normName = n == Normalization.GROUP ? "group" + nbsGroups() : n.id();
            for (int b : sizes) {
                OptimizerConfig momentum = OptimizerConfig.sgdMomentum(nbsBaseLr() * b / 32.0);
                runs.add(new Run(n.id() + "_" + b, netConfig, momentum, solver.batchSize(b).build(), normName, 1));
            }
        }
        return runs;
    }

    private static String trim(double v) {
        String s = String.format(Locale.ROOT, "%.6g", v);
        return s.contains(".") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
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
                acc.append(Csv.row(r.run().name(), r.run().solver().batchSize(), r.run().keep(),
                        r.run().norm(), e.epoch(), Csv.num(e.meanLoss()),
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
            case NORM_BATCH_SIZE -> "normalizations against batch size";
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

    /** norm-batch-size: one row per run (normalization, batch size, learning rate, accuracies, seconds). */
    private static void writeGridCsv(List<Result> results, Path file, int trainExamples) {
        StringBuilder b = new StringBuilder("run,normalization,batch_size,learning_rate,epochs,train_examples,"
                + "final_loss,train_accuracy,val_accuracy,best_val_accuracy,test_accuracy,seconds\n");
        for (Result r : results) {
            EpochEvent last = r.history().epochs().get(r.history().epochs().size() - 1);
            b.append(Csv.row(r.run().name(), r.run().norm(), r.run().solver().batchSize(),
                    Csv.num(r.run().optimizer().learningRate()), r.run().solver().epochs(), trainExamples,
                    Csv.num(last.meanLoss()), Csv.num(last.trainAccuracy()), Csv.num(last.valAccuracy()),
                    Csv.num(r.history().bestValAccuracy()), Csv.num(r.testAccuracy()), Csv.num(r.seconds())));
        }
        Files2.write(file, b.toString(), "--out", "the results");
    }

    /** norm-batch-size: test accuracy per normalization (rows) and batch size (columns). */
    private static void printGrid(PrintWriter out, List<Result> results) {
        java.util.Map<String, java.util.Map<Integer, Double>> t = new java.util.LinkedHashMap<>();
        java.util.SortedSet<Integer> sizes = new java.util.TreeSet<>();
        for (Result r : results) {
            t.computeIfAbsent(r.run().norm(), n -> new java.util.TreeMap<>()).put(r.run().solver().batchSize(),
                    r.testAccuracy());
            sizes.add(r.run().solver().batchSize());
        }
        StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%-12s", "test acc"));
        sizes.forEach(b -> h.append(String.format(Locale.ROOT, " %8s", "B=" + b)));
        out.println(h);
        t.forEach((norm, row) -> {
            StringBuilder l = new StringBuilder(String.format(Locale.ROOT, "%-12s", norm));
            sizes.forEach(b -> l.append(String.format(Locale.ROOT, " %8s", row.containsKey(b)
                    ? String.format(Locale.ROOT, "%.4f", row.get(b)) : "-")));
            out.println(l);
        });
        out.println();
    }

    /** norm-batch-size: test and validation accuracy against the batch size (log scale), one line per norm. */
    private static List<XYChart> gridCharts(List<Result> results) {
        XYChart test = Charts.chart("Test accuracy against batch size (lr = base*B/32)", "batch size (log scale)",
                "test accuracy");
        XYChart val = Charts.chart("Validation accuracy (last epoch) against batch size", "batch size (log scale)",
                "validation accuracy");
        // x is log2 B, labelled with B itself at the powers of two
        java.util.function.Function<Double, String> powersOfTwo = v -> Math.abs(v - Math.rint(v)) < 1e-6
                ? Long.toString(Math.round(Math.pow(2, Math.rint(v)))) : "";
        test.getStyler().setxAxisTickLabelsFormattingFunction(powersOfTwo);
        val.getStyler().setxAxisTickLabelsFormattingFunction(powersOfTwo);
        java.util.Map<String, List<Result>> byNorm = new java.util.LinkedHashMap<>();
        for (Result r : results) {
            byNorm.computeIfAbsent(r.run().norm(), n -> new ArrayList<>()).add(r);
        }
        byNorm.forEach((norm, rs) -> {
            double[] x = rs.stream().mapToDouble(r -> Math.log(r.run().solver().batchSize()) / Math.log(2)).toArray();
            Charts.line(test, norm, x, rs.stream().mapToDouble(Result::testAccuracy).toArray(), true);
            double[] v = rs.stream().mapToDouble(r -> r.history().epochs().get(r.history().epochs().size() - 1)
                    .valAccuracy()).toArray();
            if (java.util.Arrays.stream(v).anyMatch(a -> !Double.isNaN(a))) {
                Charts.line(val, norm, x, v, true);
            }
        });
        return List.of(test, val);
    }
}
