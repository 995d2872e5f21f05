package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Test;
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

/**
 * The README's "Serve a trained net with ONNX Runtime" snippet, compiled and run on a model that {@code train} and
 * {@code export} wrote, so that it cannot rot; the README's copy must match the one here line by line.
 */
class ReadmeOnnxSnippetTest {
    @TempDir
    Path tmp;

    @Test
    void theReadmeServingSnippetPredictsWhatLayerkitPredicts() throws Exception {
        Path data = TinyIdx.write(tmp.resolve("tiny"), 200, 40, 9);
        Path model = tmp.resolve("m.lkm");
        Path onnx = tmp.resolve("m.onnx");
        Cli.Run t = Cli.run("train", "--dataset", "fashion-mnist", "--data-dir", data.toString(), "--val-size", "20",
                "--hidden", "16", "--epochs", "2", "--batch-size", "20", "--progress", "none", "--backend", "cpu",
                "--save", model.toString());
        assertEquals(0, t.exit(), t::toString);
        Cli.Run x = Cli.run("export", "--model", model.toString(), "--out", onnx.toString());
        assertEquals(0, x.exit(), x::toString);

        byte[][] images = readImages(data.resolve("t10k-images-idx3-ubyte.gz"));
        List<String> predictions = snippet(onnx.toString(), images);

        // layerkit's own predictions of the same images: the same classes, on every image whose class the bounds
        // decide (ONNX_LOGITS: all but those within rounding of a tie)
        Checkpoint c = Checkpoint.load(model);
        Dataset test = FashionMnist.test(data);
        int[] expected;
        boolean[] decided;
        try (Backend backend = Backends.get("cpu"); SequentialNet net = c.toNet(backend);
             Tensor in = backend.upload(c.preprocess(test).features(), Shape.of(test.size(), 784))) {
            expected = net.predict(in);
            decided = Agreement.decided(EvalErrorModel.of(net.layers(), test.features(), test.size(), new int[] {784},
                    c.standardizer()));
        }
        List<String> names = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                "Sneaker", "Bag", "Ankle boot");
        assertEquals(images.length, predictions.size());
        for (int i = 0; i < images.length; i++) {
            if (decided[i]) {
                assertEquals(names.get(expected[i]), predictions.get(i), "image " + i);
            }
        }
    }

    private static List<String> snippet(String modelFile, byte[][] images) throws OrtException {
        // --- as in README.md, "Serve a trained net with ONNX Runtime"
        List<String> predictions = new ArrayList<>();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(modelFile, new OrtSession.SessionOptions())) {   // load once, reuse
            String[] classes = session.getMetadata().getCustomMetadata().get("class_names").split(",");
            int n = images.length;                        // 28×28 images, row-major bytes as in the IDX files
            float[] pixels = new float[n * 784];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < 784; j++) {
                    pixels[i * 784 + j] = (images[i][j] & 0xff) / 255f;          // what the model takes: byte / 255
                }
            }
            try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(pixels), new long[] {n, 784});
                 OrtSession.Result result = session.run(Map.of("pixels", x))) {
                float[][] logits = (float[][]) result.get("logits").orElseThrow().getValue();
                for (float[] scores : logits) {
                    int best = 0;
                    for (int k = 1; k < scores.length; k++) {
                        if (scores[k] > scores[best]) best = k;
                    }
                    predictions.add(classes[best]);       // "Ankle boot", ...
                }
            }
        }
        // --- end of snippet
        return predictions;
    }

    @Test
    void theReadmeCopyOfTheSnippetIsTheOneThisTestRuns() throws IOException {
        String readme = Files.readString(Path.of("").toAbsolutePath().getParent().resolve("README.md"));
        int heading = readme.indexOf("## Serve a trained net with ONNX Runtime");
        assertTrue(heading >= 0, "README.md lost its section 'Serve a trained net with ONNX Runtime'");
        int start = readme.indexOf("```java\n", heading) + "```java\n".length();
        int end = readme.indexOf("```\n", start);
        List<String> documented = lines(readme.substring(start, end));
        String source = Files.readString(Path.of("src/test/java/org/layerkit/cli/ReadmeOnnxSnippetTest.java"));
        int from = source.indexOf("// --- as in README.md, \"Serve");
        from = source.indexOf('\n', from) + 1;
        int to = source.indexOf("// --- end of snippet", from);
        assertEquals(documented, lines(source.substring(from, to)), "README.md's snippet differs from the one run here");
    }

    private static List<String> lines(String s) {
        return s.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }

    /** The images of an IDX file as bytes, one array of rows × columns per image. */
    private static byte[][] readImages(Path gz) throws IOException {
        try (InputStream raw = Files.newInputStream(gz);
             DataInputStream in = new DataInputStream(new GZIPInputStream(raw))) {
            in.readInt();                                  // magic 0x00000803
            int n = in.readInt();
            int size = in.readInt() * in.readInt();
            byte[][] images = new byte[n][size];
            for (byte[] image : images) {
                in.readFully(image);
            }
            return images;
        }
    }
}
