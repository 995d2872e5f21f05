package org.layerkit.spark.jobs;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.spark.sql.SparkSession;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.ConvNetConfig;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.NetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetException;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.models.layers.WeightInit;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.optim.OptimizerKind;
import org.layerkit.models.train.EpochEvent;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.spark.BarrierCollective;
import org.layerkit.spark.SparkTrainer;

/**
 * Trains a net on Fashion-MNIST with {@link SparkTrainer} — {@code layerkit train --replicas R} as a Spark job, with
 * that command's defaults (MLP 256-128-100 with batch norm and dropout 0.9, Adam 1e-3, learning rate ×0.9 per epoch,
 * 10 epochs of 128, the last 5000 training images for validation, pixels standardized on the training split) — then
 * evaluates the model on the driver as {@code layerkit evaluate} does and saves it:
 *
 * <pre>
 * spark-submit --master local[2] --class org.layerkit.spark.jobs.TrainJob layerkit-spark-&lt;v&gt;-shaded.jar \
 *     --replicas 2 --epochs 1 --train-size 2560 --batch-size 256 --save model.lkm
 * </pre>
 *
 * The IDX files are read on the driver (its file system) and broadcast; {@code --save} is written on the driver,
 * atomically. Rank 0 prints the Solver's progress on its executor as it trains; the driver prints each epoch's
 * figures when the run ends. {@code spark.barrier.sync.timeout} is set to {@value Jobs#DEFAULT_SYNC_TIMEOUT} when
 * spark-submit did not set it.
 */
public final class TrainJob {
    static final String JOB = "TrainJob";
    static final String USAGE = "usage: spark-submit [--master URL] --class org.layerkit.spark.jobs.TrainJob "
            + "layerkit-spark-<version>-shaded.jar [--data-dir DIR] [--replicas R] [--backend NAME[:DEVICE]] "
            + "[--net mlp|cnn] [--preset NAME] [--hidden W,W,...] [--optimizer sgd|momentum|rmsprop|adam] [--lr RATE] "
            + "[--lr-decay F] [--epochs N] [--batch-size N] [--seed N] [--train-size N] [--val-size N] "
            + "[--log-every N] [--save FILE] [--help]";
    static final String HELP = """
              --data-dir DIR      Fashion-MNIST's IDX files (train-/t10k- images and labels, .gz or not), read on the
                                  driver (default: %s)
              --replicas R        barrier tasks, one replica each; the cluster needs R free task slots (default: 2)
              --backend NAME      each replica's backend: cpu, opencl or opencl:N (default: cpu)
              --net mlp|cnn       mlp: affine-batchnorm-ReLU-dropout per hidden layer (default); cnn: a ConvNetConfig
                                  preset, images standardized per channel
              --preset NAME       cnn preset: %s (default: %s)
              --hidden W,W,...    hidden affine widths (default: 256,128,100 for mlp, the preset's for cnn)
              --optimizer NAME    sgd, momentum, rmsprop or adam (default: adam)
              --lr RATE           learning rate (default: 1e-3 for adam, 1e-2 otherwise)
              --lr-decay F        learning rate multiplied by F after each epoch (default: 0.9)
              --epochs N          (default: 10 for mlp, 15 for cnn)
              --batch-size N      examples per step, split by rows over the replicas (default: 128)
              --seed N            weights, dropout masks and shuffles (default: 1)
              --train-size N      train on the first N training examples only (default: all)
              --val-size N        the last N training examples are the validation split, 0 for none (default: 5000,
                                  a tenth of a small training set)
              --log-every N       rank 0 prints a loss line every N steps on its executor, 0 epochs only (default: 10)
              --save FILE         write the trained model (a .lkm checkpoint; layerkit evaluate --model FILE)
            Each step makes 2 collective calls per batch-norm layer plus 1 through Spark's barrier coordinator, about
            1 s each: the default MLP takes about 3-4 s per step whatever the batch size.""";

    static final List<String> VALUED = List.of("--data-dir", "--replicas", "--backend", "--net", "--preset",
            "--hidden", "--optimizer", "--lr", "--lr-decay", "--epochs", "--batch-size", "--seed", "--train-size",
            "--val-size", "--log-every", "--save");

    private TrainJob() {
    }

    /** spark-submit's entry point: the session from its configuration; exits non-zero on failure. */
    public static void main(String[] args) {
        Jobs.exitOnFailure(run(args, Jobs.submitted("layerkit TrainJob", true, System.out), true, System.out,
                System.err));
    }

    /**
     * Runs the job on {@code spark} (left running), printing to {@code out} and errors to {@code err}: 0 on success,
     * 2 for a bad command line, 1 for a failed run. The session must have {@code spark.barrier.sync.timeout} set.
     */
    public static int run(String[] args, SparkSession spark, PrintStream out, PrintStream err) {
        return run(args, () -> spark, false, out, err);
    }

    static int run(String[] args, Supplier<SparkSession> session, boolean stopSession, PrintStream out,
                   PrintStream err) {
        Supplier<String> help = () -> String.format(Locale.ROOT, HELP, FashionMnist.DEFAULT_DIR,
                String.join(", ", ConvNetConfig.presets().keySet()), ConvNetConfig.DEFAULT_PRESET);
        return Jobs.run(JOB, USAGE, help, VALUED, args, out, err, a -> train(a, session, stopSession, out));
    }

    private static int train(JobArgs a, Supplier<SparkSession> session, boolean stopSession, PrintStream out)
            throws IOException {
        // every argument checked before any data is read or Spark is started
        Path dataDir = a.directory("--data-dir", FashionMnist.DEFAULT_DIR, "Fashion-MNIST's IDX files");
        int replicas = a.integer("--replicas", 2, 1);
        String backend = a.string("--backend", "cpu");
        boolean cnn = a.choice("--net", "mlp", List.of("mlp", "cnn")).equals("cnn");
        String preset = a.string("--preset", null);
        if (preset != null && !cnn) {
            throw new JobArgs.UsageException("--preset: expected only with --net cnn, got '" + preset + "' for the mlp");
        }
        if (preset != null && !ConvNetConfig.presets().containsKey(preset.toLowerCase(Locale.ROOT))) {
            throw new JobArgs.UsageException("--preset: expected one of " + String.join(", ",
                    ConvNetConfig.presets().keySet()) + ", got '" + preset + "'");
        }
        List<Integer> hidden = a.widths("--hidden");
        OptimizerKind optimizer;
        String opt = a.string("--optimizer", "adam");
        try {
            optimizer = OptimizerKind.parse(opt);
        } catch (IllegalArgumentException e) {
            throw new JobArgs.UsageException("--optimizer: expected sgd, momentum, rmsprop or adam, got '" + opt + "'");
        }
        Double lr = a.number("--lr", null, 0, Double.MAX_VALUE);
        double lrDecay = a.number("--lr-decay", 0.9, 0, 1);
        int epochs = a.integer("--epochs", cnn ? 15 : 10, 1);
        int batchSize = a.integer("--batch-size", 128, 2);
        long seed = a.integer("--seed", 1, 0);
        Integer trainSize = a.integer("--train-size", null, 2);
        Integer valSize = a.integer("--val-size", null, 0);
        int logEvery = a.integer("--log-every", 10, 0);
        Path save = a.output("--save", "the trained model", true);

        DatasetSplits splits = load(dataDir, valSize, trainSize, cnn);
        if (batchSize > splits.train().size()) {
            throw new JobArgs.UsageException("--batch-size: expected at most the " + splits.train().size()
                    + " training examples, got " + batchSize);
        }
        NetConfig net = cnn ? cnnConfig(splits, preset, hidden, seed)
                : FullyConnectedNetConfig.builder(splits.train().featureCount(), splits.train().classes())
                        .hidden(hidden != null ? hidden : List.of(256, 128, 100)).normalization(Normalization.BATCH)
                        .dropoutKeep(0.9).weightInit(WeightInit.parse("he")).seed(seed).build();
        OptimizerConfig optConfig = OptimizerConfig.defaults(optimizer);
        if (lr != null) {
            optConfig = optConfig.withLearningRate(lr);
        }
        SolverConfig solver = SolverConfig.builder().epochs(epochs).batchSize(batchSize).learningRateDecay(lrDecay)
                .seed(seed).build();
        int steps = splits.train().size() / batchSize;

        SparkSession spark = session.get();
        try {
            String master = spark.sparkContext().master();
            if (!spark.sparkContext().getConf().contains(BarrierCollective.TIMEOUT_CONF)) {
                throw new JobArgs.UsageException("the Spark session: expected " + BarrierCollective.TIMEOUT_CONF
                        + " to be set (e.g. --conf " + BarrierCollective.TIMEOUT_CONF + "=" + Jobs.DEFAULT_SYNC_TIMEOUT
                        + "), got Spark's default of 365 days");
            }
            int slots = Jobs.localSlots(master);
            if (slots >= 0 && slots < replicas) {
                throw new JobArgs.UsageException("--replicas: expected at most the " + slots + " task slots of master "
                        + master + " (one barrier task per replica, all at once), got " + replicas
                        + "; give --master local[" + replicas + "] or fewer replicas");
            }
            out.printf(Locale.ROOT, "data:    Fashion-MNIST from %s: %d train / %d val / %d test, %s%n",
                    dataDir.toAbsolutePath().normalize(), splits.train().size(), splits.validation().size(),
                    splits.test().size(), cnn ? "standardized per channel" : "standardized");
            out.println("net:     " + net);
            out.println("train:   " + optConfig + ", lr decay " + lrDecay + " per epoch, " + epochs + " epochs of "
                    + steps + " steps of " + batchSize + " examples");
            out.println("spark:   master " + master + ", " + replicas + " replicas on backend " + backend
                    + " (barrier tasks), " + BarrierCollective.TIMEOUT_CONF + "="
                    + spark.sparkContext().getConf().get(BarrierCollective.TIMEOUT_CONF));
            out.flush();

            SparkTrainer.Result r = SparkTrainer.on(spark).replicas(replicas).backend(backend).logProgress(logEvery)
                    .train(net, optConfig, solver, splits);
            for (EpochEvent e : r.history().epochs()) {
                out.printf(Locale.ROOT, "epoch %d/%d: loss %.4f  train acc %.4f  val acc %s  lr %.3g  %.1f s%s%n",
                        e.epoch(), e.epochs(), e.meanLoss(), e.trainAccuracy(), Double.isNaN(e.valAccuracy())
                                ? "none (no validation split)" : String.format(Locale.ROOT, "%.4f", e.valAccuracy()),
                        e.learningRate(), e.seconds(), e.improved() ? " *" : "");
            }
            int totalSteps = r.history().losses().size();
            out.printf(Locale.ROOT, "spark:   %d steps in %.1f s (%.2f s per step, with the job's start), every "
                    + "replica's final model equal (SHA-256 %s…)%n", totalSteps, r.seconds(),
                    r.seconds() / Math.max(1, totalSteps), r.digests().get(0).substring(0, 16));

            // the driver evaluates the returned model as layerkit evaluate does: the checkpoint on the cpu backend
            Checkpoint model = r.model();
            double trainAcc;
            double valAcc;
            double testAcc;
            try (Backend cpu = Backends.get("cpu"); SequentialNet trained = model.toNet(cpu)) {
                trainAcc = trained.accuracy(splits.train(), 1000);
                valAcc = trained.accuracy(splits.validation(), 1000);
                testAcc = trained.accuracy(splits.test(), 1000);
            }
            int best = r.history().bestEpoch();
            out.printf(Locale.ROOT, "final:   train acc %.4f%s  test acc %.4f  (%s; evaluated on the driver)%n",
                    trainAcc, Double.isNaN(valAcc) ? "" : String.format(Locale.ROOT, "  val acc %.4f", valAcc),
                    testAcc, best > 0 ? "parameters of epoch " + best + ", the best on validation"
                            : "parameters of the last epoch: no validation split to choose the best by");
            if (save != null) {
                Map<String, String> meta = new LinkedHashMap<>(model.metadata());
                // what layerkit evaluate reads to find the same data and validation split
                meta.put("cli.command", "spark " + JOB + " " + String.join(" ", argsOf(a)));
                meta.put("cli.net", cnn ? "cnn" : "mlp");
                meta.put("cli.dataset", "fashion-mnist");
                meta.put("cli.data_dir", dataDir.toAbsolutePath().normalize().toString());
                meta.put("cli.val_size", Integer.toString(splits.validation().size()));
                meta.put("cli.best_epoch", Integer.toString(best));
                meta.put("cli.train_accuracy", Double.toString(trainAcc));
                if (!Double.isNaN(valAcc)) {
                    meta.put("cli.val_accuracy", Double.toString(valAcc));
                }
                meta.put("cli.test_accuracy", Double.toString(testAcc));
                meta.put("cli.backend", backend);
                new Checkpoint(model.spec(), model.tensors(), model.counters(), model.optimizer(),
                        model.standardizer(), meta).save(save);
                out.println("saved model to " + save.toAbsolutePath().normalize());
            }
            return 0;
        } finally {
            if (stopSession) {
                spark.stop();
            }
        }
    }

    /** The splits {@code layerkit train} makes: validation off the end of the training files, then standardized. */
    static DatasetSplits load(Path dir, Integer valSize, Integer trainSize, boolean cnn) throws IOException {
        Dataset train;
        Dataset test;
        try {
            train = FashionMnist.train(dir);
            test = FashionMnist.test(dir);
        } catch (DatasetException e) {
            throw new Jobs.JobFailure("cannot read Fashion-MNIST from " + dir + ": " + e.getMessage()
                    + (e.getMessage().contains("not found") ? " (install it with apt-get install dataset-fashion-mnist, "
                    + "or give --data-dir DIR with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                    + "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz)" : ""), e);
        }
        int n = train.size();
        int maxVal = n - 2;
        int usual = FashionMnist.DEFAULT_VALIDATION * 4 <= n ? FashionMnist.DEFAULT_VALIDATION : Math.max(1, n / 10);
        int val = valSize != null ? valSize : Math.min(usual, maxVal);
        if (n < 2) {
            throw new Jobs.JobFailure("the training files in " + dir + " hold " + n + " examples; training needs at "
                    + "least 2", null);
        }
        if (val > maxVal) {
            throw new JobArgs.UsageException("--val-size: expected 0.." + maxVal + " for the " + n + " training "
                    + "examples in " + dir + " (at least 2 must remain to train on), got " + val);
        }
        DatasetSplits splits = DatasetSplits.of(train, test, val);
        if (trainSize != null) {
            if (trainSize > splits.train().size()) {
                throw new JobArgs.UsageException("--train-size: expected at most the " + splits.train().size()
                        + " training examples left after the " + val + " held out for validation, got " + trainSize);
            }
            splits = splits.withTrainSize(trainSize);
        }
        if (cnn && splits.train().exampleShape().rank() != 3) {
            throw new JobArgs.UsageException("--net cnn: expected images, got examples of shape "
                    + splits.train().exampleShape());
        }
        return cnn ? splits.standardizedPerChannel() : splits.standardized();
    }

    private static NetConfig cnnConfig(DatasetSplits splits, String preset, List<Integer> hidden, long seed) {
        ConvNetConfig.Builder b = ConvNetConfig.preset(preset != null ? preset.toLowerCase(Locale.ROOT)
                : ConvNetConfig.DEFAULT_PRESET, splits.train().exampleShape(), splits.train().classes());
        if (hidden != null) {
            b.hidden(hidden);
        }
        b.weightInit(WeightInit.parse("he")).seed(seed);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new JobArgs.UsageException("--net cnn: the preset does not fit the data: " + e.getMessage());
        }
    }

    private static List<String> argsOf(JobArgs a) {
        return a.given();
    }
}
