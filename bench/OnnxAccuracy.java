import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.FashionMnist;

/**
 * An exported model served by ONNX Runtime on a data set's test split, fed what an application has (pixels / 255),
 * against the saved model in layerkit: both accuracies, how many predictions differ, the largest logit difference.
 * Run by bench/onnx-check.sh:
 * {@code java -cp cli/target/layerkit.jar:onnxruntime-1.20.0.jar bench/OnnxAccuracy.java MODEL.lkm MODEL.onnx [DATA_DIR]}
 */
public final class OnnxAccuracy {
    public static void main(String[] args) throws Exception {
        Path lkm = Path.of(args[0]);
        Path onnx = Path.of(args[1]);
        Path dir = args.length > 2 ? Path.of(args[2]) : FashionMnist.DEFAULT_DIR;
        Dataset test = FashionMnist.test(dir);
        int n = test.size();
        int d = test.featureCount();
        int batch = 1000;
        float[] pixels = test.features();                 // byte / 255, as IdxFiles reads them
        Checkpoint checkpoint = Checkpoint.load(lkm);
        float[] standardized = checkpoint.preprocess(test).features();
        int k = checkpoint.spec().numClasses();
        int[] shape = checkpoint.spec().inputShape().dims();
        long[] dims = new long[shape.length + 1];
        for (int i = 0; i < shape.length; i++) {
            dims[i + 1] = shape[i];
        }
        long ortCorrect = 0;
        long lkCorrect = 0;
        long differ = 0;
        double maxDiff = 0;
        double maxLogit = 0;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(onnx.toString(), new OrtSession.SessionOptions());
             Backend backend = Backends.get("cpu");
             SequentialNet net = checkpoint.toNet(backend)) {
            Map<String, String> meta = session.getMetadata().getCustomMetadata();
            System.out.println("onnx:     " + onnx + ": producer " + session.getMetadata().getProducerName()
                    + ", inputs " + session.getInputNames() + ", outputs " + session.getOutputNames());
            System.out.println("metadata: class_names=" + meta.get("class_names") + ", training.test_accuracy="
                    + meta.get("training.test_accuracy") + ", training.command=" + meta.get("training.command"));
            for (int from = 0; from < n; from += batch) {
                int m = Math.min(batch, n - from);
                float[] x = new float[m * d];
                System.arraycopy(pixels, from * d, x, 0, m * d);
                float[] ort;
                dims[0] = m;
                try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), dims);
                     OrtSession.Result r = session.run(Map.of("pixels", t))) {
                    FloatBuffer fb = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
                    ort = new float[fb.remaining()];
                    fb.get(ort);
                }
                float[] lk;
                float[] xs = new float[m * d];
                System.arraycopy(standardized, from * d, xs, 0, m * d);
                try (Tensor t = backend.upload(xs, net.batchShape(m))) {
                    lk = net.scores(t).toArray();
                }
                for (int i = 0; i < m; i++) {
                    int a = argmax(ort, i, k);
                    int b = argmax(lk, i, k);
                    int label = test.labels()[from + i];
                    ortCorrect += a == label ? 1 : 0;
                    lkCorrect += b == label ? 1 : 0;
                    differ += a != b ? 1 : 0;
                    for (int j = 0; j < k; j++) {
                        maxDiff = Math.max(maxDiff, Math.abs(ort[i * k + j] - lk[i * k + j]));
                        maxLogit = Math.max(maxLogit, Math.abs(lk[i * k + j]));
                    }
                }
            }
        }
        System.out.printf(Locale.ROOT, "ONNX Runtime test accuracy: %.4f (%d of %d)%n", (double) ortCorrect / n,
                ortCorrect, n);
        System.out.printf(Locale.ROOT, "layerkit test accuracy:     %.4f (%d of %d)%n", (double) lkCorrect / n,
                lkCorrect, n);
        System.out.printf(Locale.ROOT, "predictions that differ: %d; max |logit difference| %.3g (max |logit| %.3g)%n",
                differ, maxDiff, maxLogit);
    }

    private static int argmax(float[] x, int row, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (x[row * k + j] > x[row * k + best]) {
                best = j;
            }
        }
        return best;
    }
}
