package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.onnx.Agreement;
import org.layerkit.onnx.EvalErrorModel;
import org.layerkit.onnx.OnnxExporter;
import org.layerkit.onnx.Ort;

/**
 * {@code train --save}, {@code export}, then the exported model served by ONNX Runtime on the test split's pixels /
 * 255 scores the accuracy {@code evaluate} reports; its logits agree with layerkit's within ONNX_LOGITS (the whole
 * net, and each layer alone), and its metadata carries what the model file recorded.
 */
class OnnxExportEndToEndTest {
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void writeData() throws Exception {
        data = TinyIdx.write(tmp.resolve("tiny-fashion"), 300, 120, 11);
    }

    @ParameterizedTest(name = "{0} at opset {1}")
    @CsvSource({
        "'--hidden 32,16 --norm batch', 17",
        "'--hidden 32,16 --norm layer --keep-prob 1', 13",
        "'--hidden 32,16 --norm layer', 17",
        "'--hidden 32,16 --norm none --no-standardize', 21",
        "'--hidden 32,16 --norm batch --keep-prob 0.5', 21",
        "'--net cnn --channels 4,8 --hidden 16 --norm batch --conv-keep-prob 0.8', 17",
        "'--net cnn --channels 4,8 --hidden 16 --norm group --groups 2 --global-pool', 13",
        "'--net cnn --channels 4,8 --hidden 16 --norm group --groups 2', 21"})
    void anExportedModelScoresEvaluatesTestAccuracyInOnnxRuntime(String trainArgs, int opset) throws Exception {
        Path dir = Files.createTempDirectory(tmp, "run");
        Path model = dir.resolve("m.lkm");
        Path onnx = dir.resolve("m.onnx");
        List<String> train = new ArrayList<>(List.of("train", "--dataset", "fashion-mnist", "--data-dir",
                data.toString(), "--val-size", "50", "--epochs", "2", "--batch-size", "25",
                "--progress", "none", "--backend", "cpu", "--save", model.toString()));
        train.addAll(List.of(trainArgs.split(" ")));
        Cli.Run t = Cli.run(train.toArray(String[]::new));
        assertEquals(0, t.exit(), t::toString);

        Cli.Run x = Cli.run("export", "--model", model.toString(), "--format", "onnx", "--out", onnx.toString(),
                "--opset", Integer.toString(opset));
        assertEquals(0, x.exit(), x::toString);
        assertTrue(x.out().contains("opset " + opset) && x.out().contains("wrote " + onnx), x::toString);

        Cli.Run e = Cli.run("evaluate", "--model", model.toString(), "--backend", "cpu");
        assertEquals(0, e.exit(), e::toString);
        Matcher m = Pattern.compile("test accuracy: ([0-9.]+) \\(([0-9]+) of ([0-9]+)\\)").matcher(e.out());
        assertTrue(m.find(), e::toString);
        int evaluated = Integer.parseInt(m.group(2));

        // ONNX Runtime on what a user has: the test images' pixels / 255, no standardization by hand
        Dataset test = FashionMnist.test(data);
        int n = test.size();
        assertEquals(Integer.parseInt(m.group(3)), n);
        float[] pixels = test.features();
        byte[] bytes = Files.readAllBytes(onnx);
        Checkpoint c = Checkpoint.load(model);
        int[] shape = c.spec().inputShape().dims();                        // [784] or [1,28,28]
        long[] batch = new long[shape.length + 1];
        batch[0] = n;
        for (int i = 0; i < shape.length; i++) {
            batch[i + 1] = shape[i];
        }
        float[] ort = Ort.run(bytes, "pixels", pixels, batch, Ort.Level.ALL);
        int correct = 0;
        for (int i = 0; i < n; i++) {
            if (Agreement.argmax(ort, i, 10) == test.labels()[i]) {
                correct++;
            }
        }

        // layerkit's scores of the same images, and the bound: only rows the bound leaves open may differ
        int open;
        try (Backend backend = Backends.get("cpu"); SequentialNet net = c.toNet(backend)) {
            float[] lk;
            try (Tensor in = backend.upload(c.preprocess(test).features(), net.batchShape(n))) {
                lk = net.scores(in).toArray();
            }
            EvalErrorModel bound = EvalErrorModel.of(net.layers(), pixels, n, shape, c.standardizer());
            open = Agreement.check("exported " + trainArgs + " at opset " + opset, bound, lk, ort);
            // and layer by layer, within each layer's own rounding (tight where the whole net's bound is loose)
            Agreement.layerwise("exported " + trainArgs, OnnxExporter.builder().opset(opset).build(), net.layers(),
                    shape, c.standardizer(), pixels, n, backend, Ort.Level.ALL);
        }
        int diff = Math.abs(correct - evaluated);
        // equal accuracies, unless an image lies within rounding of a tie (ONNX_LOGITS): none does here
        assertTrue(diff <= open, "ONNX Runtime classifies " + correct + " of " + n + " test images correctly, layerkit "
                + "evaluate " + evaluated + "; only " + open + " rows are within ONNX_LOGITS of a tie");

        // the metadata a serving application reads
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(bytes, new OrtSession.SessionOptions())) {
            Map<String, String> meta = s.getMetadata().getCustomMetadata();
            assertEquals("T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot",
                    meta.get("class_names"), meta::toString);
            assertEquals(c.metadata().get("cli.test_accuracy"), meta.get("training.test_accuracy"), meta::toString);
            assertEquals(Double.parseDouble(m.group(1)), Double.parseDouble(meta.get("training.test_accuracy")),
                    0.00005, "the test accuracy recorded at save time is evaluate's, to its 4 printed digits");
            assertTrue(meta.get("training.val_accuracy") != null && meta.get("layerkit.version") != null, meta::toString);
            assertTrue(meta.get("training.command").startsWith("layerkit train --dataset fashion-mnist --data-dir ")
                    && meta.get("training.command").contains("--save " + model), meta::toString);
            assertEquals("layerkit", s.getMetadata().getProducerName());
            assertEquals(List.of("pixels"), List.copyOf(s.getInputNames()));
            assertEquals(List.of("logits"), List.copyOf(s.getOutputNames()));
        }
    }
}
