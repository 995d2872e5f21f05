package org.layerkit.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.XYChart;
import org.layerkit.api.Backend;
import org.layerkit.models.FullyConnectedNet;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.layers.WeightInit;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.optim.OptimizerKind;
import org.layerkit.models.train.EpochEvent;
import org.layerkit.models.train.LossPoint;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingDivergedException;
import org.layerkit.models.train.TrainingHistory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code layerkit train}: trains a fully connected net (CS231N {@code FullyConnectedNet}: affine → norm → ReLU →
 * dropout per hidden layer) with the models module's {@link Solver}, showing progress per epoch, then reports
 * train/validation/test accuracy and optionally saves the model, a metrics CSV and a plot of the curves.
 */
@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Train a fully connected net with batch/layer norm and dropout on the chosen backend.",
                "Without options: 784-256-128-100-10, batchnorm, dropout keep 0.9, Adam,",
                "10 epochs on Fashion-MNIST, on the best available backend."})
public final class TrainCommand extends CommandBase {
    @Mixin
    BackendMixin backendMixin = new BackendMixin();

    @Mixin
    DataMixin data = new DataMixin();

    @Mixin
    DivergenceMixin divergence = new DivergenceMixin();

    @Option(names = "--hidden", paramLabel = "WIDTHS", split = ",", defaultValue = "256,128,100",
            description = "Hidden layer widths (default: ${DEFAULT-VALUE}).")
    List<Integer> hidden;

    @Option(names = "--norm", paramLabel = "KIND", defaultValue = "batch", converter = NormConverter.class,
            description = "Normalization after each hidden affine layer: batch, layer or none (default: ${DEFAULT-VALUE}).")
    Normalization norm;

    @Option(names = "--keep-prob", paramLabel = "P", defaultValue = "0.9",
            description = "Dropout keep probability after each hidden ReLU; 1 = no dropout (default: ${DEFAULT-VALUE}).")
    double keepProb;

    @Option(names = "--init", paramLabel = "he|SCALE", defaultValue = "he",
            description = "Weight initialisation: he, or the std of a Gaussian such as 0.01 (default: ${DEFAULT-VALUE}).")
    String init;

    @Option(names = "--optimizer", paramLabel = "NAME", defaultValue = "adam", converter = OptimizerConverter.class,
            description = "sgd, momentum, rmsprop or adam (default: ${DEFAULT-VALUE}).")
    OptimizerKind optimizer;

    @Option(names = "--lr", paramLabel = "RATE",
            description = "Learning rate (default: 1e-3 for adam, 1e-2 otherwise).")
    Double lr;

    @Option(names = "--lr-decay", paramLabel = "F", defaultValue = "0.9",
            description = "Multiply the learning rate by this after every epoch (default: ${DEFAULT-VALUE}).")
    double lrDecay;

    @Option(names = "--reg", paramLabel = "L2", defaultValue = "0",
            description = "L2 regularisation strength: loss += 0.5·reg·ΣW² (default: ${DEFAULT-VALUE}).")
    double reg;

    @Option(names = "--epochs", paramLabel = "N", defaultValue = "10", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "128",
            description = "Examples per minibatch, 2 to the size of the training split; each epoch takes "
                    + "floor(N/batch) full batches (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seeds weights, dropout masks and shuffles (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--no-standardize",
            description = "Feed pixels in [0,1] as they are instead of standardizing each feature on the training split.")
    boolean noStandardize;

    @Option(names = "--loss-every", paramLabel = "N", defaultValue = "10",
            description = "Read the loss from the device every N iterations (progress, NaN check, loss curve); "
                    + "larger values save synchronisations on GPUs (default: ${DEFAULT-VALUE}).")
    int lossEvery;

    @Option(names = "--save", paramLabel = "FILE", description = "Save the trained model (e.g. model.lkm).")
    Path save;

    @Option(names = "--metrics-csv", paramLabel = "FILE", description = "Write one CSV row of metrics per epoch.")
    Path metricsCsv;

    @Option(names = "--plot", paramLabel = "FILE", description = "Draw loss and accuracy curves into a PNG.")
    Path plot;

    @Option(names = "--progress", paramLabel = "STYLE", defaultValue = "auto", converter = Progress.StyleConverter.class,
            description = "auto (a bar on a terminal, plain lines otherwise), bar, plain or none (default: ${DEFAULT-VALUE}).")
    Progress.Style progressStyle;

    @Override
    protected int execute() throws IOException {
        validate();
        // fail on an unwritable output before an hour of training, not after
        if (save != null) {
            Files2.requireReplaceableFile(save, "--save", "the model");
        }
        if (metricsCsv != null) {
            Files2.requireWritableFile(metricsCsv, "--metrics-csv", "the metrics");
        }
        if (plot != null) {
            Files2.requireWritableFile(plot, "--plot", "the plot");
        }
        PrintWriter out = out();
        try (Backend backend = backendMixin.open()) {
            DataSets.Loaded loaded = data.load(DataSets.Kind.FASHION_MNIST.id, 0);
            // the standardizer (fitted on the training split) travels with the splits into the checkpoint's STDZ
            // section, so that the saved model applies to raw data
            DatasetSplits splits = noStandardize ? loaded.splits() : loaded.splits().standardized();
            int trainN = splits.train().size();
            if (batchSize > trainN) {
                throw new CliException("--batch-size " + batchSize + " is larger than the " + trainN
                        + " training examples of " + loaded.title() + ": give --batch-size " + trainN + " or less");
            }
            FullyConnectedNetConfig netConfig = netConfig(splits);
            OptimizerConfig optConfig = OptimizerConfig.defaults(optimizer);
            if (lr != null) {
                optConfig = optConfig.withLearningRate(lr);
            }
            SolverConfig solverConfig = divergence.apply(SolverConfig.builder().epochs(epochs).batchSize(batchSize)
                    .learningRateDecay(lrDecay).seed(seed).lossEvery(lossEvery)).build();
            out.println("data:    " + loaded.describe() + (splits.standardizer() == null ? "" : ", standardized"));
            out.println("net:     " + netConfig);
            out.println("train:   " + optConfig + ", lr decay " + lrDecay + " per epoch, " + epochs + " epochs of "
                    + batchSize + " examples");
            out.println("backend: " + backend.name() + " on " + backend.device().describe());
            out.flush();

            long start = System.nanoTime();
            try (FullyConnectedNet net = new FullyConnectedNet(backend, netConfig);
                 Optimizer opt = optConfig.create(net.parameters())) {
                Progress progress = new Progress(out, progressStyle, 10_000_000_000L);
                TrainingHistory history;
                try {
                    history = new Solver(net, opt, splits, solverConfig)
                            .addListener(new ProgressListener(progress, "")).train();
                } catch (TrainingDivergedException e) {
                    throw DivergenceMixin.diverged(e, "", save);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                // the Solver restored the parameters of the best validation epoch: report those
                double trainAcc = net.accuracy(splits.train(), 1000);
                double valAcc = net.accuracy(splits.validation(), 1000);
                double testAcc = net.accuracy(splits.test(), 1000);
                // with no validation split there is nothing to select by: the last epoch's parameters stay
                String which = history.bestEpoch() > 0
                        ? "parameters of epoch " + history.bestEpoch() + ", the best on validation"
                        : "parameters of the last epoch, " + epochs + ": no validation split to choose the best by";
                out.printf(Locale.ROOT, "final:   train acc %.4f%s%s  (%s)%n", trainAcc,
                        Double.isNaN(valAcc) ? "" : String.format(Locale.ROOT, "  val acc %.4f", valAcc),
                        Double.isNaN(testAcc) ? "  no test examples"
                                : String.format(Locale.ROOT, "  test acc %.4f", testAcc), which);
                out.printf(Locale.ROOT, "         %s for %d epochs on %s (%s)%n", Progress.duration(seconds), epochs,
                        backend.name(), backend.device().name());
                if (save != null) {
                    Map<String, String> meta = metadata(loaded, backend, history, trainAcc, valAcc, testAcc);
                    try {
                        Checkpoint.of(net, null, splits.standardizer(), meta).save(save);
                    } catch (CheckpointException e) {
                        throw new CliException("--save: " + e.getMessage(), e);
                    } catch (IOException e) {
                        throw Files2.cannotWrite("--save", "the model", save, e);
                    }
                    out.println("saved model to " + save.toAbsolutePath().normalize());
                }
                if (metricsCsv != null) {
                    writeMetrics(history);
                    out.println("wrote metrics to " + metricsCsv.toAbsolutePath().normalize());
                }
                if (plot != null) {
                    writePlot(history, netConfig.toString());
                    out.println("wrote plot to " + plot.toAbsolutePath().normalize());
                }
            }
        }
        return 0;
    }

    private void validate() {
        data.validate(this::usage);
        divergence.validate(this::usage);
        for (int h : hidden) {
            if (h < 1) {
                throw usage("--hidden: every width must be at least 1, got " + hidden);
            }
        }
        if (!(keepProb > 0 && keepProb <= 1)) {
            throw usage("--keep-prob must be in (0,1], got " + keepProb);
        }
        if (lr != null && !(lr > 0 && Double.isFinite(lr))) {
            throw usage("--lr must be a finite value > 0, got " + lr);
        }
        if (!(lrDecay > 0 && lrDecay <= 1)) {
            throw usage("--lr-decay must be in (0,1], got " + lrDecay);
        }
        if (!(reg >= 0 && Double.isFinite(reg))) {
            throw usage("--reg must be >= 0, got " + reg);
        }
        if (epochs < 1) {
            throw usage("--epochs must be at least 1, got " + epochs);
        }
        if (batchSize < 2) {
            throw usage("--batch-size must be at least 2 (batch norm needs two examples), got " + batchSize);
        }
        if (lossEvery < 1) {
            throw usage("--loss-every must be at least 1, got " + lossEvery);
        }
        try {
            WeightInit.parse(init);
        } catch (IllegalArgumentException e) {
            throw usage("--init: " + e.getMessage());
        }
    }

    private FullyConnectedNetConfig netConfig(DatasetSplits splits) {
        return FullyConnectedNetConfig.builder(splits.train().featureCount(), splits.train().classes())
                .hidden(hidden).normalization(norm).dropoutKeep(keepProb).weightInit(WeightInit.parse(init))
                .reg(reg).seed(seed).build();
    }

    private Map<String, String> metadata(DataSets.Loaded loaded, Backend backend, TrainingHistory h, double trainAcc,
                                         double valAcc, double testAcc) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Checkpoint.EPOCHS_COMPLETED, Integer.toString(h.epochs().size()));
        m.put("cli.command", commandLine());
        m.put("cli.dataset", loaded.id());
        m.put("cli.data_dir", loaded.dir().toString());
        m.put("cli.val_size", Integer.toString(loaded.splits().validation().size()));
        m.put("cli.best_epoch", Integer.toString(h.bestEpoch()));
        m.put("cli.train_accuracy", Double.toString(trainAcc));
        if (!Double.isNaN(valAcc)) {
            m.put("cli.val_accuracy", Double.toString(valAcc));
        }
        if (!Double.isNaN(testAcc)) {
            m.put("cli.test_accuracy", Double.toString(testAcc));
        }
        String names = classNames(loaded.classNames());
        if (names != null && loaded.classNames().size() == loaded.splits().train().classes()) {
            m.put("cli.class_names", names);
        }
        m.put("cli.backend", backend.name() + " on " + backend.device().name());
        m.put("cli.created", Instant.now().toString());
        m.put("cli.version", VersionProvider.version());
        return m;
    }

    /** The command as typed: {@code layerkit train --epochs 1 --save m.lkm}, arguments with blanks quoted. */
    private String commandLine() {
        StringBuilder b = new StringBuilder("layerkit");
        for (String arg : spec.commandLine().getParseResult().originalArgs()) {
            b.append(' ').append(arg.isEmpty() || arg.matches(".*[\\s'\"\\\\$`].*")
                    ? "'" + arg.replace("'", "'\\''") + "'" : arg);
        }
        return b.toString();
    }

    /**
     * Class names as the metadata keeps them ({@code cli.class_names}): comma-separated in class order; null when
     * there are none or a name holds a comma (the list could not be read back).
     */
    static String classNames(List<String> names) {
        if (names.isEmpty() || names.stream().anyMatch(n -> n.contains(","))) {
            return null;
        }
        return String.join(",", names);
    }

    private void writeMetrics(TrainingHistory h) {
        StringBuilder b = new StringBuilder(
                "epoch,mean_loss,train_accuracy,val_accuracy,learning_rate,seconds,best_so_far\n");
        for (EpochEvent e : h.epochs()) {
            b.append(Csv.row(e.epoch(), Csv.num(e.meanLoss()), Csv.num(e.trainAccuracy()), Csv.num(e.valAccuracy()),
                    Csv.num(e.learningRate()), Csv.num(e.seconds()), e.improved()));
        }
        Files2.write(metricsCsv, b.toString(), "--metrics-csv", "the metrics");
    }

    private void writePlot(TrainingHistory h, String title) {
        XYChart loss = Charts.chart("Training loss — " + title, "iteration", "loss");
        Charts.dots(loss, "minibatch loss", h.losses().stream().mapToDouble(LossPoint::iteration).toArray(),
                h.losses().stream().mapToDouble(LossPoint::loss).toArray());
        double[] epochX = h.epochs().stream().mapToDouble(EpochEvent::epoch).toArray();
        XYChart acc = Charts.chart("Accuracy", "epoch", "accuracy");
        Charts.line(acc, "train", epochX, h.trainAccuracies(), true);
        if (h.epochs().stream().anyMatch(e -> !Double.isNaN(e.valAccuracy()))) {
            Charts.line(acc, "val", epochX, h.valAccuracies(), true);
        }
        List<XYChart> charts = new ArrayList<>(List.of(loss, acc));
        Charts.savePng(plot, charts, "--plot");
    }

    /** {@code batch}, {@code layer}, {@code none} for picocli. */
    static final class NormConverter implements picocli.CommandLine.ITypeConverter<Normalization> {
        @Override
        public Normalization convert(String value) {
            try {
                return Normalization.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("expected batch, layer or none, got '"
                        + value + "'");
            }
        }
    }

    /** {@code sgd}, {@code momentum}, {@code rmsprop}, {@code adam} for picocli. */
    static final class OptimizerConverter implements picocli.CommandLine.ITypeConverter<OptimizerKind> {
        @Override
        public OptimizerKind convert(String value) {
            try {
                return OptimizerKind.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(
                        "expected sgd, momentum, rmsprop or adam, got '" + value + "'");
            }
        }
    }
}
