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
import org.layerkit.api.BackendException;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.Backends;
import org.layerkit.api.Shape;
import org.layerkit.models.ConvNetConfig;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.NetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.dist.DataParallelTrainer;
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
 * {@code layerkit train}: trains a net with the models module's {@link Solver}, showing progress per epoch, then
 * reports train/validation/test accuracy and optionally saves the model, a metrics CSV and a plot of the curves.
 * {@code --net mlp} (the default, the main job) is CS231N's {@code FullyConnectedNet} (affine → norm → ReLU → dropout
 * per hidden layer); {@code --net cnn} a convolutional net from a {@link ConvNetConfig} preset, its options overriding
 * the preset's settings. Both are a {@link SequentialNet}.
 */
@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Train a fully connected or convolutional net (batch/layer/group norm, dropout) on any backend.",
                "Without options: the MLP 784-256-128-100-10, batchnorm, dropout keep 0.9, Adam,",
                "10 epochs on Fashion-MNIST, on the best available backend.",
                "--net cnn: [conv -> norm -> ReLU -> maxpool] per stage -> affine layers, from a preset:",
                "  fashion  (default) conv3x3x32, conv3x3x64, each batchnorm, ReLU, maxpool 2, spatial",
                "           dropout keep 0.8; affine 256, batchnorm, ReLU, dropout 0.5; affine 10 (0.92+)",
                "  cs231n   CS231N's three-layer convnet: conv7x7x32, ReLU, maxpool 2; affine 100, ReLU; affine 10",
                "  vgg      like fashion with two 3x3 convs per stage",
                "  CNN defaults: " + TrainCommand.CNN_EPOCHS + " epochs, Adam, images standardized by one mean/std per "
                        + "channel."})
public final class TrainCommand extends CommandBase {
    /** Epochs of {@code --net cnn} without {@code --epochs}. */
    static final int CNN_EPOCHS = 15;

    /** Which net to train. */
    enum Net {
        MLP, CNN
    }

    @Mixin
    BackendMixin backendMixin = new BackendMixin();

    @Mixin
    DataMixin data = new DataMixin();

    @Mixin
    DivergenceMixin divergence = new DivergenceMixin();

    @Option(names = "--replicas", paramLabel = "R", defaultValue = "1",
            description = "Data-parallel training over R replicas of --backend (each its own instance, on its own "
                    + "thread): every batch split by rows, batch norm synchronized, gradients all-reduced: the "
                    + "update of one device on the whole batch (default: ${DEFAULT-VALUE}).")
    int replicas = 1;

    @Option(names = "--devices", paramLabel = "B[:D],...", split = ",",
            description = "Data-parallel training with one replica per listed backend, e.g. cpu,cpu or "
                    + "cpu,opencl:0 (backend name, optionally :device as in --device); instead of --backend, "
                    + "--device and --replicas.")
    List<String> devices;

    @Option(names = "--net", paramLabel = "mlp|cnn", defaultValue = "mlp", converter = NetConverter.class,
            description = "mlp: a fully connected net (the default); cnn: a convolutional net from --preset.")
    Net netType;

    @Option(names = "--preset", paramLabel = "NAME",
            description = "CNN preset: fashion (default), cs231n or vgg (see above); the options below override it.")
    String preset;

    @Option(names = "--hidden", paramLabel = "WIDTHS", split = ",",
            description = "Hidden affine layer widths (default: 256,128,100 for mlp; the preset's for cnn).")
    List<Integer> hidden;

    @Option(names = "--norm", paramLabel = "KIND", converter = NormConverter.class,
            description = "Normalization: batch, layer or none after each hidden affine layer of the mlp (default "
                    + "batch); batch, group, layer (= group with G = 1) or none after each conv of the cnn (default: "
                    + "the preset's), the same family after its hidden affine layers (layer norm for group).")
    Normalization norm;

    @Option(names = "--groups", paramLabel = "G",
            description = "Groups of --norm group; must divide every stage's channels (default: 8).")
    Integer groups;

    @Option(names = "--channels", paramLabel = "C1,C2,...", split = ",",
            description = "CNN: output channels per stage, one stage each (default: the preset's, e.g. 32,64).")
    List<Integer> channels;

    @Option(names = "--convs-per-stage", paramLabel = "N",
            description = "CNN: conv -> norm -> ReLU blocks per stage before its pool (default: the preset's).")
    Integer convsPerStage;

    @Option(names = "--kernel", paramLabel = "K",
            description = "CNN: odd conv kernel size, padding (K-1)/2 (default: the preset's).")
    Integer kernel;

    @Option(names = "--no-hidden-norm",
            description = "CNN: normalize only after the convs, not after the hidden affine layers.")
    boolean noHiddenNorm;

    @Option(names = "--global-pool",
            description = "CNN: global average pooling instead of flattening after the last stage.")
    boolean globalPool;

    @Option(names = "--conv-keep-prob", paramLabel = "P",
            description = "CNN: spatial dropout keep probability after each stage; 1 = none (default: the preset's).")
    Double convKeepProb;

    @Option(names = "--keep-prob", paramLabel = "P",
            description = "Dropout keep probability after each hidden ReLU; 1 = no dropout (default: 0.9 for mlp, "
                    + "the preset's for cnn).")
    Double keepProb;

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
            description = "L2 regularisation strength: loss += 0.5·reg·ΣW² over affine and conv weights "
                    + "(default: ${DEFAULT-VALUE}).")
    double reg;

    @Option(names = "--epochs", paramLabel = "N",
            description = "Epochs (default: 10 for mlp, " + CNN_EPOCHS + " for cnn).")
    Integer epochs;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "128",
            description = "Examples per minibatch, 2 to the size of the training split; each epoch takes "
                    + "floor(N/batch) full batches (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "Seeds weights, dropout masks and shuffles (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--no-standardize",
            description = "Feed pixels in [0,1] as they are instead of standardizing them on the training split "
                    + "(mlp: each pixel by its own mean and std; cnn: each channel by one mean and std).")
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
        List<Backend> replicaBackends = openReplicas();
        try (Backend backend = replicaBackends.get(0); Cleanup others = () -> extraBackends.forEach(Backend::close)) {
            DataSets.Loaded loaded = data.load(DataSets.Kind.FASHION_MNIST.id, 0);
            if (netType == Net.CNN && loaded.splits().train().exampleShape().rank() != 3) {
                throw new CliException("--net cnn needs images, but " + loaded.title() + " has examples of shape "
                        + loaded.splits().train().exampleShape());
            }
            // the standardizer (fitted on the training split) travels with the splits into the checkpoint's STDZ
            // section, so that the saved model applies to raw data: per pixel for the MLP, per channel for the CNN
            DatasetSplits splits = noStandardize ? loaded.splits()
                    : netType == Net.CNN ? loaded.splits().standardizedPerChannel() : loaded.splits().standardized();
            int trainN = splits.train().size();
            if (batchSize > trainN) {
                throw new CliException("--batch-size " + batchSize + " is larger than the " + trainN
                        + " training examples of " + loaded.title() + ": give --batch-size " + trainN + " or less");
            }
            NetConfig netConfig = netConfig(splits);
            int epochs = epochs();
            OptimizerConfig optConfig = OptimizerConfig.defaults(optimizer);
            if (lr != null) {
                optConfig = optConfig.withLearningRate(lr);
            }
            SolverConfig solverConfig = divergence.apply(SolverConfig.builder().epochs(epochs).batchSize(batchSize)
                    .learningRateDecay(lrDecay).seed(seed).lossEvery(lossEvery)).build();
            out.println("data:    " + loaded.describe() + (splits.standardizer() == null ? ""
                    : netType == Net.CNN ? ", standardized per channel" : ", standardized"));
            out.println("net:     " + netConfig);
            out.println("train:   " + optConfig + ", lr decay " + lrDecay + " per epoch, " + epochs + " epochs of "
                    + batchSize + " examples");
            out.println("backend: " + backend.name() + " on " + backend.device().describe());
            for (int r = 1; r < replicaBackends.size(); r++) {
                out.println("         replica " + r + ": " + replicaBackends.get(r).name() + " on "
                        + replicaBackends.get(r).device().describe());
            }
            if (replicaBackends.size() > 1) {
                out.println("         data-parallel: " + replicaBackends.size() + " replicas, each batch of "
                        + batchSize + " split by rows, synchronized batch norm");
            }
            out.flush();

            long start = System.nanoTime();
            DataParallelTrainer trainer = replicaBackends.size() > 1 ? newTrainer(replicaBackends, netConfig,
                    optConfig) : null;
            try (DataParallelTrainer closesReplicas = trainer;
                 SequentialNet net = trainer != null ? trainer.net(0) : newNet(backend, netConfig);
                 Optimizer opt = trainer != null ? trainer.optimizer(0) : optConfig.create(net.parameters())) {
                if (netType == Net.CNN) {
                    out.println(indent(net.summary()));
                    out.flush();
                }
                Progress progress = new Progress(out, progressStyle, 10_000_000_000L);
                TrainingHistory history;
                try {
                    Solver solver = new Solver(net, opt, splits, solverConfig);
                    if (trainer != null) {
                        solver.dataParallel(trainer);
                    }
                    history = solver.addListener(new ProgressListener(progress, "")).train();
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
                    writePlot(history, netConfig.toString(), splits.train().size() / solverConfig.batchSize());
                    out.println("wrote plot to " + plot.toAbsolutePath().normalize());
                }
            }
        }
        return 0;
    }

    /**
     * The replicas' backends: --devices' list, or --replicas instances of --backend (one when not data-parallel).
     * The caller closes the first; the others are closed with it (extraBackends).
     */
    private List<Backend> openReplicas() {
        List<Backend> list = new ArrayList<>();
        try {
            if (devices != null) {
                for (String spec : devices) {
                    String t = spec.trim();
                    int colon = t.indexOf(':');
                    String name = (colon < 0 ? t : t.substring(0, colon)).toLowerCase(Locale.ROOT);
                    String dev = colon < 0 ? null : t.substring(colon + 1).trim();
                    try {
                        list.add(Backends.get(name, dev == null ? BackendOptions.none()
                                : BackendOptions.of("device", dev)));
                    } catch (IllegalArgumentException | BackendException e) {
                        throw new CliException("--devices: replica " + list.size() + " '" + t + "': "
                                + e.getMessage(), e);
                    }
                }
            } else {
                for (int r = 0; r < replicas; r++) {
                    list.add(backendMixin.open());
                }
            }
        } catch (RuntimeException e) {
            list.forEach(Backend::close);
            throw e;
        }
        extraBackends.addAll(list.subList(1, list.size()));
        return list;
    }

    private final List<Backend> extraBackends = new ArrayList<>();

    /** A resource whose close throws nothing checked. */
    private interface Cleanup extends AutoCloseable {
        @Override
        void close();
    }

    private static DataParallelTrainer newTrainer(List<Backend> backends, NetConfig config, OptimizerConfig opt) {
        try {
            return new DataParallelTrainer(backends, config, opt);
        } catch (IllegalArgumentException e) {
            throw new CliException("data-parallel training: " + e.getMessage(), e);
        }
    }

    private void validate() {
        data.validate(this::usage);
        if (replicas < 1) {
            throw usage("--replicas must be at least 1, got " + replicas);
        }
        if (devices != null) {
            if (replicas != 1) {
                throw usage("--devices lists the replicas itself: give --devices or --replicas, not both");
            }
            if (!backendMixin.isAuto() || backendMixin.device != null) {
                throw usage("--devices names each replica's backend and device: give --devices or --backend/--device,"
                        + " not both");
            }
            if (devices.isEmpty() || devices.stream().anyMatch(d -> d.isBlank() || d.trim().startsWith(":"))) {
                throw usage("--devices: expected a comma-separated list of backend[:device] (e.g. cpu,opencl:0), got "
                        + String.join(",", devices));
            }
        }
        divergence.validate(this::usage);
        if (hidden != null) {
            for (int h : hidden) {
                if (h < 1) {
                    throw usage("--hidden: every width must be at least 1, got " + hidden);
                }
            }
        }
        if (keepProb != null && !(keepProb > 0 && keepProb <= 1)) {
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
        if (epochs != null && epochs < 1) {
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
        if (netType == Net.MLP) {
            List<String> cnnOnly = new ArrayList<>();
            if (preset != null) {
                cnnOnly.add("--preset");
            }
            if (groups != null) {
                cnnOnly.add("--groups");
            }
            if (channels != null) {
                cnnOnly.add("--channels");
            }
            if (convsPerStage != null) {
                cnnOnly.add("--convs-per-stage");
            }
            if (kernel != null) {
                cnnOnly.add("--kernel");
            }
            if (noHiddenNorm) {
                cnnOnly.add("--no-hidden-norm");
            }
            if (globalPool) {
                cnnOnly.add("--global-pool");
            }
            if (convKeepProb != null) {
                cnnOnly.add("--conv-keep-prob");
            }
            if (!cnnOnly.isEmpty()) {
                throw usage(String.join(", ", cnnOnly) + (cnnOnly.size() == 1 ? " applies" : " apply")
                        + " to --net cnn only");
            }
            if (norm == Normalization.GROUP) {
                throw usage("--norm group needs channels: it applies to --net cnn; the mlp takes batch, layer or none");
            }
            return;
        }
        if (preset != null && !ConvNetConfig.presets().containsKey(preset.trim().toLowerCase(Locale.ROOT))) {
            throw usage("--preset: expected one of " + String.join(", ", ConvNetConfig.presets().keySet()) + ", got '"
                    + preset + "'");
        }
        if (channels != null && (channels.isEmpty() || channels.stream().anyMatch(c -> c < 1))) {
            throw usage("--channels: expected one count >= 1 per stage, got " + channels);
        }
        if (convsPerStage != null && convsPerStage < 1) {
            throw usage("--convs-per-stage must be at least 1, got " + convsPerStage);
        }
        if (kernel != null && (kernel < 1 || kernel % 2 == 0)) {
            throw usage("--kernel must be an odd size >= 1 (padding (K-1)/2 keeps H x W), got " + kernel);
        }
        if (groups != null && groups < 1) {
            throw usage("--groups must be at least 1, got " + groups);
        }
        if (groups != null && norm != Normalization.GROUP) {
            throw usage("--groups applies to --norm group");
        }
        if (convKeepProb != null && !(convKeepProb > 0 && convKeepProb <= 1)) {
            throw usage("--conv-keep-prob must be in (0,1], got " + convKeepProb);
        }
    }

    private int epochs() {
        return epochs != null ? epochs : netType == Net.CNN ? CNN_EPOCHS : 10;
    }

    private NetConfig netConfig(DatasetSplits splits) {
        if (netType == Net.MLP) {
            return FullyConnectedNetConfig.builder(splits.train().featureCount(), splits.train().classes())
                    .hidden(hidden != null ? hidden : List.of(256, 128, 100))
                    .normalization(norm != null ? norm : Normalization.BATCH)
                    .dropoutKeep(keepProb != null ? keepProb : 0.9).weightInit(WeightInit.parse(init))
                    .reg(reg).seed(seed).build();
        }
        ConvNetConfig.Builder b = ConvNetConfig.preset(preset != null ? preset : ConvNetConfig.DEFAULT_PRESET,
                splits.train().exampleShape(), splits.train().classes());
        if (hidden != null) {
            b.hidden(hidden);
        }
        if (norm != null) {
            b.norm(norm);
        }
        if (groups != null) {
            b.groups(groups);
        }
        if (channels != null) {
            b.channels(channels);
        }
        if (convsPerStage != null) {
            b.convsPerStage(convsPerStage);
        }
        if (kernel != null) {
            b.kernel(kernel);
        }
        if (noHiddenNorm) {
            b.normalizeHidden(false);
        }
        if (globalPool) {
            b.globalPool(true);
        }
        if (convKeepProb != null) {
            b.convKeep(convKeepProb);
        }
        if (keepProb != null) {
            b.dropoutKeep(keepProb);
        }
        b.weightInit(WeightInit.parse(init)).reg(reg).seed(seed);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CliException("--net cnn: " + e.getMessage() + (groups == null && norm == Normalization.GROUP
                    ? " (the default of --groups; give --groups G that divides every stage's channels)" : ""), e);
        }
    }

    /** The net, or a one-line error when the configuration does not fit the data (a pool on a too small image). */
    static SequentialNet newNet(Backend backend, NetConfig config) {
        try {
            return new SequentialNet(backend, config);
        } catch (IllegalArgumentException e) {
            Shape in = config.spec().inputShape();
            throw new CliException(in.rank() == 3 ? "the net does not fit " + in + " images (each stage's pool "
                    + "halves H and W: give fewer --channels stages or a smaller --kernel): " + e.getMessage()
                    : e.getMessage(), e);
        }
    }

    private static String indent(String text) {
        return "         " + text.replace("\n", "\n         ");
    }

    private Map<String, String> metadata(DataSets.Loaded loaded, Backend backend, TrainingHistory h, double trainAcc,
                                         double valAcc, double testAcc) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Checkpoint.EPOCHS_COMPLETED, Integer.toString(h.epochs().size()));
        m.put("cli.command", commandLine());
        m.put("cli.net", netType.name().toLowerCase(Locale.ROOT));
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

    /** The CS231N figure: minibatch losses (and each epoch's mean at its last iteration), accuracies per epoch. */
    private void writePlot(TrainingHistory h, String net, int iterationsPerEpoch) {
        XYChart loss = Charts.chart("Training loss", "iteration", "loss");
        Charts.dots(loss, "minibatch loss", h.losses().stream().mapToDouble(LossPoint::iteration).toArray(),
                h.losses().stream().mapToDouble(LossPoint::loss).toArray());
        Charts.line(loss, "epoch mean", h.epochs().stream().mapToDouble(e -> (double) e.epoch() * iterationsPerEpoch)
                .toArray(), h.meanLosses(), true);
        double[] epochX = h.epochs().stream().mapToDouble(EpochEvent::epoch).toArray();
        XYChart acc = Charts.chart("Accuracy", "epoch", "accuracy");
        Charts.line(acc, "train", epochX, h.trainAccuracies(), true);
        if (h.epochs().stream().anyMatch(e -> !Double.isNaN(e.valAccuracy()))) {
            Charts.line(acc, "val", epochX, h.valAccuracies(), true);
        }
        List<XYChart> charts = new ArrayList<>(List.of(loss, acc));
        // the net's description is longer than a chart title: a caption over both charts
        Charts.savePng(plot, charts, net, "--plot");
    }

    /** {@code batch}, {@code layer}, {@code group}, {@code none} for picocli. */
    static final class NormConverter implements picocli.CommandLine.ITypeConverter<Normalization> {
        @Override
        public Normalization convert(String value) {
            try {
                return Normalization.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("expected batch, layer, group or none, got '"
                        + value + "'");
            }
        }
    }

    /** {@code mlp}, {@code cnn} for picocli. */
    static final class NetConverter implements picocli.CommandLine.ITypeConverter<Net> {
        @Override
        public Net convert(String value) {
            try {
                return Net.valueOf(value.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("expected mlp or cnn, got '" + value + "'");
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
