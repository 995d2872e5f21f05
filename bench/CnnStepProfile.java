import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.ConvNetConfig;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * Where a training step of the default CNN (preset fashion, batch 128) spends its time on the cpu backend: each
 * layer's forward and backward, the loss and Adam's update, as milliseconds per step (median of the timed steps after
 * a warm-up), plus the whole step through {@code SequentialNet.loss}. Random data of Fashion-MNIST's shape, or with
 * {@code real} shuffled batches of the standardized Fashion-MNIST training images; the layers run exactly as the net
 * runs them.
 *
 * <p>Run from the repository root with the distribution jar:
 * {@code java --add-modules jdk.incubator.vector -cp cli/target/layerkit.jar bench/CnnStepProfile.java [steps] [batch] [preset] [real]}
 */
public final class CnnStepProfile {
    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        String preset = args.length > 2 ? args[2] : ConvNetConfig.DEFAULT_PRESET;
        boolean real = args.length > 3 && args[3].equals("real");
        try (Backend be = Backends.get("cpu");
             SequentialNet net = new SequentialNet(be, ConvNetConfig.preset(preset, Shape.of(1, 28, 28), 10).build());
             Optimizer adam = OptimizerConfig.adam(1e-3).create(net.parameters())) {
            Random r = new Random(1);
            float[] x = new float[batch * 784];
            float[] y = new float[batch];
            org.layerkit.models.data.Dataset data = null;
            int[] order = null;
            if (real) {
                try {
                    data = org.layerkit.models.data.FashionMnist.load(org.layerkit.models.data.FashionMnist.DEFAULT_DIR)
                            .standardizedPerChannel().train();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                order = new int[data.size()];
                for (int i = 0; i < order.length; i++) {
                    order[i] = i;
                }
                for (int i = order.length - 1; i > 0; i--) {
                    int j = r.nextInt(i + 1);
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
            } else {
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                for (int i = 0; i < batch; i++) {
                    y[i] = r.nextInt(10);
                }
            }
            List<Layer> layers = net.layers();
            int n = layers.size();
            long[][] fwd = new long[n][steps];
            long[][] bwd = new long[n][steps];
            long[] loss = new long[steps];
            long[] opt = new long[steps];
            long[] whole = new long[steps];
            int warm = Math.max(10, steps / 3);
            System.out.println("device: " + be.device().name());
            for (int s = -warm; s < steps; s++) {
                if (data != null) {
                    data.gather(order, ((s + warm) * batch) % (order.length - batch), batch, x, y);
                }
                try (Tensor xt = be.upload(x, net.batchShape(batch)); Tensor yt = be.upload(y, Shape.of(batch))) {
                    // the layers one by one, as SequentialNet.loss runs them
                    Tensor h = xt;
                    for (int i = 0; i < n; i++) {
                        long t0 = System.nanoTime();
                        h = layers.get(i).forward(h, Mode.TRAIN);
                        if (s >= 0) {
                            fwd[i][s] = System.nanoTime() - t0;
                        }
                    }
                    long t0 = System.nanoTime();
                    var lr = be.softmaxCrossEntropy(h, yt);
                    if (s >= 0) {
                        loss[s] = System.nanoTime() - t0;
                    }
                    Tensor d = lr.dLogits();
                    for (int i = n - 1; i >= 0; i--) {
                        t0 = System.nanoTime();
                        d = layers.get(i).backward(d, i > 0);
                        if (s >= 0) {
                            bwd[i][s] = System.nanoTime() - t0;
                        }
                    }
                    lr.close();
                    t0 = System.nanoTime();
                    adam.step();
                    if (s >= 0) {
                        opt[s] = System.nanoTime() - t0;
                    }
                    // and the whole step through the net
                    t0 = System.nanoTime();
                    net.loss(xt, yt);
                    adam.step();
                    if (s >= 0) {
                        whole[s] = System.nanoTime() - t0;
                    }
                }
            }
            double sum = 0;
            System.out.printf(Locale.ROOT, "%-4s %-18s %-16s %10s %10s%n", "#", "layer", "output", "fwd ms", "bwd ms");
            for (int i = 0; i < n; i++) {
                double f = median(fwd[i]);
                double b = median(bwd[i]);
                sum += f + b;
                System.out.printf(Locale.ROOT, "%-4d %-18s %-16s %10.3f %10.3f%n", i, layers.get(i).type(),
                        net.outputShape(i, batch), f, b);
            }
            System.out.printf(Locale.ROOT, "%-40s %10.3f%n", "softmax cross-entropy", median(loss));
            System.out.printf(Locale.ROOT, "%-40s %10.3f%n", "adam", median(opt));
            sum += median(loss) + median(opt);
            System.out.printf(Locale.ROOT, "%-40s %10.3f  (%d steps of %d = %.1f s per epoch)%n", "sum of the parts",
                    sum, 55000 / batch, batch, sum * (55000 / batch) / 1e3);
            System.out.printf(Locale.ROOT, "%-40s %10.3f  (%.1f s per epoch)%n", "whole step (SequentialNet.loss + adam)",
                    median(whole), median(whole) * (55000 / batch) / 1e3);
        }
    }

    private static double median(long[] ns) {
        long[] s = ns.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2] / 1e6;
    }
}
