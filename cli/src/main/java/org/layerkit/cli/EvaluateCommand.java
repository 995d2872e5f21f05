package org.layerkit.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;
import org.layerkit.models.data.Dataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code layerkit evaluate}: loads a model saved by {@code train --save} onto any backend and reports its accuracy on
 * a split of its data set, per-class precision and recall, and the confusion matrix (with class names for the data
 * sets known by name).
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Test accuracy and confusion matrix of a saved model, on any backend.",
                "The data set defaults to the one the model was trained on (recorded in the model file)."})
public final class EvaluateCommand extends CommandBase {
    @Mixin
    BackendMixin backendMixin = new BackendMixin();

    @Option(names = "--model", paramLabel = "FILE", required = true, description = "A model saved by `layerkit train --save`.")
    Path model;

    @Mixin
    DataMixin data = new DataMixin();

    @Option(names = "--split", paramLabel = "SPLIT", defaultValue = "test",
            description = "Which split to evaluate: test, val or train (default: ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "1000",
            description = "Examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Override
    protected int execute() {
        data.validate(this::usage);
        if (!split.equals("test") && !split.equals("val") && !split.equals("train")) {
            throw usage("--split: expected test, val or train, got '" + split + "'");
        }
        if (batchSize < 1) {
            throw usage("--batch-size must be at least 1, got " + batchSize);
        }
        if (java.nio.file.Files.isDirectory(model)) {
            throw new CliException("--model " + model + ": is a directory, expected a model file from `layerkit train "
                    + "--save`");
        }
        Checkpoint checkpoint;
        try {
            checkpoint = Checkpoint.load(model);
        } catch (IOException e) {
            // a CheckpointException's message starts with the file
            throw new CliException("--model " + (e instanceof CheckpointException ? "" : model + ": ")
                    + e.getMessage(), e);
        }
        Map<String, String> meta = checkpoint.metadata();
        // the data set the model was trained on, unless the user says otherwise
        boolean dataFromModel = data.dataset == null && data.dataDir == null;
        if (dataFromModel) {
            String recorded = meta.get("cli.dataset");
            if (recorded != null && DataSets.Kind.byName(recorded) != null && meta.containsKey("cli.data_dir")) {
                data.dataset = recorded;
                data.dataDir = Path.of(meta.get("cli.data_dir"));
            } else if (recorded != null) {
                data.dataset = recorded;
            }
        }
        // the validation split the model was trained with applies to the same data only, and must fit it: for
        // --split val or train it decides the split, so it must fit; for the test split it does not matter
        boolean testOnly = split.equals("test");
        DataSets.Sizes sizes;
        Integer recordedVal = dataFromModel && data.valSize == null ? recordedValSize(meta) : null;
        if (recordedVal != null) {
            sizes = new DataSets.Sizes(recordedVal, "the validation size " + recordedVal + " recorded in " + model
                    + " (metadata cli.val_size; give --val-size to choose another)", testOnly,
                    data.trainSize != null ? data.trainSize : 0, data.trainSize != null, false);
        } else {
            sizes = new DataSets.Sizes(data.valSize, "--val-size " + data.valSize,
                    data.trainSize != null ? data.trainSize : 0, data.trainSize != null, false);
        }
        PrintWriter out = out();
        try (Backend backend = backendMixin.open()) {
            DataSets.Loaded loaded = DataSets.load(data.dataset != null ? data.dataset : DataSets.Kind.FASHION_MNIST.id,
                    data.dataDir, sizes);
            Dataset d = switch (split) {
                case "train" -> loaded.splits().train();
                case "val" -> loaded.splits().validation();
                default -> loaded.splits().test();
            };
            Shape input = checkpoint.spec().inputShape();
            int inputs = input.size();
            int classes = checkpoint.spec().numClasses();
            if (d.featureCount() != inputs || d.classes() != classes) {
                throw new CliException("the model expects " + inputs + " values per example (" + input + ") and "
                        + classes + " classes, but " + loaded.title() + " has " + d.featureCount() + " ("
                        + d.exampleShape() + ") and " + d.classes() + " classes");
            }
            // the standardization the model was trained behind (the checkpoint's STDZ section), if any
            d = checkpoint.preprocess(d);
            if (d.size() == 0) {
                throw new CliException("the " + split + " split of " + loaded.title() + " is empty");
            }
            out.println("model:   " + model.toAbsolutePath().normalize() + ": " + checkpoint.spec()
                    + (meta.containsKey("cli.backend") ? ", trained on " + meta.get("cli.backend") : ""));
            out.println("data:    " + split + " split of " + loaded.describe());
            out.println("backend: " + backend.name() + " on " + backend.device().describe());
            long start = System.nanoTime();
            long[][] confusion = new long[classes][classes];
            try (SequentialNet net = toNet(checkpoint, backend)) {
                int[] labels = d.labels();
                int[] pred = net.predict(d, batchSize);
                for (int i = 0; i < d.size(); i++) {
                    confusion[labels[i]][pred[i]]++;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long correct = 0;
            for (int k = 0; k < classes; k++) {
                correct += confusion[k][k];
            }
            out.printf(Locale.ROOT, "%s accuracy: %.4f (%d of %d) in %.2f s%n", split, (double) correct / d.size(),
                    correct, d.size(), seconds);
            out.println();
            printConfusion(out, confusion, loaded);
        }
        return 0;
    }

    /** The checkpoint's net on {@code backend}; a spec that cannot be built names the file, section and layer. */
    private SequentialNet toNet(Checkpoint checkpoint, Backend backend) {
        try {
            return checkpoint.toNet(backend);
        } catch (IllegalArgumentException e) {
            throw new CliException("--model " + model + ": " + e.getMessage(), e);
        }
    }

    /** {@code cli.val_size} from the model's metadata, or null; a malformed value names the file, section and field. */
    private Integer recordedValSize(Map<String, String> meta) {
        String v = meta.get("cli.val_size");
        if (v == null) {
            return null;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new CliException("--model " + model + ": section META, field 'cli.val_size': expected an integer >= 0, "
                + "got '" + v + "'; give --val-size to choose the validation split");
    }

    /** Rows are true classes, columns predictions; recall per row, precision per column. */
    static void printConfusion(PrintWriter out, long[][] m, DataSets.Loaded loaded) {
        int k = m.length;
        int nameWidth = 5;
        for (int c = 0; c < k; c++) {
            nameWidth = Math.max(nameWidth, loaded.className(c).length() + 4);
        }
        long max = 1;
        for (long[] row : m) {
            for (long v : row) {
                max = Math.max(max, v);
            }
        }
        int cell = Math.max(4, Long.toString(max).length() + 1);
        out.println("confusion matrix (rows: true class, columns: predicted class)");
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-" + nameWidth + "s", ""));
        for (int c = 0; c < k; c++) {
            header.append(String.format(Locale.ROOT, "%" + cell + "d", c));
        }
        out.println(header.append("   recall"));
        long[] colSum = new long[k];
        for (int r = 0; r < k; r++) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-" + nameWidth + "s",
                    r + " " + loaded.className(r)));
            long rowSum = 0;
            for (int c = 0; c < k; c++) {
                line.append(String.format(Locale.ROOT, "%" + cell + "d", m[r][c]));
                rowSum += m[r][c];
                colSum[c] += m[r][c];
            }
            line.append(rowSum == 0 ? "        -" : String.format(Locale.ROOT, "   %5.1f%%", 100.0 * m[r][r] / rowSum));
            out.println(line);
        }
        StringBuilder precision = new StringBuilder(String.format(Locale.ROOT, "%-" + nameWidth + "s", "precision"));
        for (int c = 0; c < k; c++) {
            precision.append(colSum[c] == 0 ? String.format(Locale.ROOT, "%" + cell + "s", "-")
                    : String.format(Locale.ROOT, "%" + cell + ".0f", 100.0 * m[c][c] / colSum[c]));
        }
        out.println(precision.append("   (%)"));
    }
}
