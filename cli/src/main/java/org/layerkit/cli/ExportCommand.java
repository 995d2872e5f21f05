package org.layerkit.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;
import org.layerkit.onnx.OnnxExportException;
import org.layerkit.onnx.OnnxExporter;
import org.layerkit.onnx.proto.ModelProto;
import org.layerkit.onnx.proto.TensorProto;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code layerkit export}: writes a model saved by {@code train --save} as an ONNX model that ONNX Runtime (or any
 * ONNX runtime) serves: input {@code pixels} = pixel values / 255, output {@code logits}; the training
 * standardization, batch norm's running statistics and everything else of the EVAL computation inside (docs/onnx.md).
 */
@Command(name = "export", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Export a saved model to ONNX, to serve it with ONNX Runtime or any ONNX runtime.",
                "Input: float32 pixels scaled to [0,1] (byte / 255), [N,784] for Fashion-MNIST;",
                "output: the class scores (logits), [N,10]. The training standardization is inside."})
public final class ExportCommand extends CommandBase {
    @Option(names = "--model", paramLabel = "FILE", required = true, description = "A model saved by `layerkit train --save`.")
    Path model;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "onnx",
            description = "The export format: onnx (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "Where to write it (e.g. model.onnx); "
            + "replaced atomically, an existing file stays as it was when the export fails.")
    Path out;

    @Option(names = "--opset", paramLabel = "N", defaultValue = "" + OnnxExporter.DEFAULT_OPSET,
            description = "The ONNX opset, " + OnnxExporter.MIN_OPSET + " to " + OnnxExporter.MAX_OPSET
                    + " (default: ${DEFAULT-VALUE}, the most widely supported one with LayerNormalization; below 17 "
                    + "layer norm, below 21 group norm are written as primitive operators).")
    int opset;

    @Override
    protected int execute() {
        if (!format.trim().equalsIgnoreCase("onnx")) {
            throw usage("--format: expected onnx, got '" + format + "'");
        }
        if (opset < OnnxExporter.MIN_OPSET || opset > OnnxExporter.MAX_OPSET) {
            throw usage("--opset: expected " + OnnxExporter.MIN_OPSET + " to " + OnnxExporter.MAX_OPSET + " (default "
                    + OnnxExporter.DEFAULT_OPSET + "), got " + opset);
        }
        if (Files.isDirectory(model)) {
            throw new CliException("--model " + model + ": is a directory, expected a model file from `layerkit train "
                    + "--save`");
        }
        if (out.toAbsolutePath().normalize().equals(model.toAbsolutePath().normalize())) {
            throw new CliException("--out " + out + " is the model file itself: give another file name, e.g. "
                    + "model.onnx");
        }
        Files2.requireReplaceableFile(out, "--out", "the ONNX model");
        Checkpoint checkpoint;
        try {
            checkpoint = withClassNames(Checkpoint.load(model));
        } catch (IOException e) {
            // a CheckpointException's message starts with the file
            throw new CliException("--model " + (e instanceof CheckpointException ? "" : model + ": ")
                    + e.getMessage(), e);
        }
        OnnxExporter exporter = OnnxExporter.builder().opset(opset).build();
        ModelProto onnx;
        try (Backend backend = Backends.get("cpu")) {
            onnx = exporter.export(checkpoint, backend);
        } catch (OnnxExportException e) {
            throw new CliException("cannot export " + model + " to ONNX: " + e.getMessage(), e);
        }
        try {
            OnnxExporter.write(onnx, out);
        } catch (IOException e) {
            throw Files2.cannotWrite("--out", "the ONNX model", out, e);
        }
        PrintWriter w = out();
        long params = onnx.getGraph().getInitializerList().stream()
                .filter(t -> t.getDataType() == TensorProto.DataType.FLOAT_VALUE)
                .mapToLong(t -> t.getDimsList().stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b))
                .sum();
        String inputs = java.util.Arrays.stream(checkpoint.spec().inputShape().dims()).mapToObj(Integer::toString)
                .collect(java.util.stream.Collectors.joining(","));
        int classes = checkpoint.spec().numClasses();
        w.println("model:  " + model.toAbsolutePath().normalize() + ": " + checkpoint.spec());
        w.printf(Locale.ROOT, "onnx:   opset %d (IR version %d), %d nodes, %d float constants; input %s [N,%s] float32 "
                        + "pixels / 255%s, output %s [N,%d]%n", opset, onnx.getIrVersion(),
                onnx.getGraph().getNodeCount(), params, exporter.inputName(), inputs,
                checkpoint.standardizer() != null ? " (standardized inside)" : "", exporter.outputName(), classes);
        w.println("wrote " + out.toAbsolutePath().normalize());
        return 0;
    }

    /**
     * The checkpoint, with {@code cli.class_names} from the data set it was trained on when the model file predates
     * that key and the data set is known by name.
     */
    private static Checkpoint withClassNames(Checkpoint c) {
        Map<String, String> meta = c.metadata();
        if (meta.containsKey(OnnxExporter.CLASS_NAMES_KEY) || !meta.containsKey("cli.dataset")) {
            return c;
        }
        DataSets.Kind kind = DataSets.Kind.byName(meta.get("cli.dataset"));
        String names = kind == null ? null : TrainCommand.classNames(kind.classNames);
        if (names == null || kind.classNames.size() != c.spec().numClasses()) {
            return c;
        }
        Map<String, String> m = new LinkedHashMap<>(meta);
        m.put(OnnxExporter.CLASS_NAMES_KEY, names);
        return new Checkpoint(c.spec(), c.tensors(), c.counters(), c.optimizer(), c.standardizer(), m);
    }
}
