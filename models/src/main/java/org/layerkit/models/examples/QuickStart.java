package org.layerkit.models.examples;

import java.io.IOException;
import java.nio.file.Path;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.ConvNetConfig;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.ConsoleListener;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;

/**
 * The library snippets of {@code README.md} and {@code docs/library-snippet.md}, compiled (and run on generated data by
 * a test, which also checks that the docs show exactly this code) so that they cannot rot: select a backend, build a
 * net — the MLP, or the CNN — train on Fashion-MNIST, evaluate on the test set.
 */
public final class QuickStart {
    private QuickStart() {
    }

    /** Trains for {@code epochs} on the Fashion-MNIST files in {@code dir}; returns the test accuracy. */
    public static double run(Path dir, int epochs) throws IOException {
        // --- snippet start
        try (Backend backend = Backends.select()) {                   // -Dlayerkit.backend=cpu|opencl, else best
            DatasetSplits data = FashionMnist.load(dir).standardized();   // 55k train / 5k val / 10k test
            FullyConnectedNetConfig config = FullyConnectedNetConfig.builder(784, 10).hidden(256, 128, 100)
                    .normalization(Normalization.BATCH).dropoutKeep(0.9).heInit().seed(1).build();
            try (SequentialNet net = new SequentialNet(backend, config);
                 Optimizer adam = OptimizerConfig.adam(1e-3).create(net.parameters())) {
                SolverConfig schedule = SolverConfig.builder().epochs(epochs).batchSize(128).learningRateDecay(0.9).build();
                new Solver(net, adam, data, schedule).addListener(new ConsoleListener(System.out, 0)).train();
                return net.accuracy(data.test(), 1000);
            }
        }
        // --- snippet end
    }

    /** The CNN the same way: the default preset on Fashion-MNIST's images; returns the test accuracy. */
    public static double runCnn(Path dir, int epochs) throws IOException {
        // --- cnn snippet start
        try (Backend backend = Backends.select()) {
            DatasetSplits data = FashionMnist.load(dir).standardizedPerChannel();   // images [N,1,28,28]
            ConvNetConfig config = ConvNetConfig.preset("fashion", data.train().exampleShape(), 10).seed(1).build();
            try (SequentialNet net = new SequentialNet(backend, config);       // the same net type as the MLP's
                 Optimizer adam = OptimizerConfig.adam(1e-3).create(net.parameters())) {
                SolverConfig schedule = SolverConfig.builder().epochs(epochs).batchSize(128).learningRateDecay(0.9).build();
                new Solver(net, adam, data, schedule).addListener(new ConsoleListener(System.out, 0)).train();
                return net.accuracy(data.test(), 1000);
            }
        }
        // --- cnn snippet end
    }

    /** {@code java -cp … org.layerkit.models.examples.QuickStart [dir] [epochs] [mlp|cnn]}. */
    public static void main(String[] args) throws IOException {
        Path dir = args.length > 0 ? Path.of(args[0]) : FashionMnist.DEFAULT_DIR;
        int epochs = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        boolean cnn = args.length > 2 && args[2].equals("cnn");
        System.out.printf("test accuracy %.4f%n", cnn ? runCnn(dir, epochs) : run(dir, epochs));
    }
}
