import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Collective;
import org.layerkit.api.InProcessCollective;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.dist.DataParallelTrainer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * Issue 20 item 6, in process: (1) the cost of one collective call of the in-process group — allReduceSum of
 * 2·C + 1 doubles at C = 256 (one synchronized batch norm's statistics) over R = 2 threads; (2) the training step
 * of the Fashion-MNIST MLP (784-256-128-100-10, batch norm, dropout 0.9, batch 128, SGD) with R = 1 and R = 2 cpu
 * replicas, rounds alternating so that the machine's load falls on both alike. Prints medians. bench/data_parallel.sh
 * runs it.
 */
public final class DataParallelBench {
    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 60;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        collective(calls);
        double[][] ms = new double[3][rounds];
        for (int round = 0; round < rounds; round++) {
            // alternate the order: R = 1 first in even rounds, R = 2 first in odd ones
            int[] order = round % 2 == 0 ? new int[] {1, 2} : new int[] {2, 1};
            for (int r : order) {
                ms[r][round] = stepMs(r, steps);
            }
            System.out.printf("round %d: step %.1f ms with 1 replica, %.1f ms with 2 (ratio %.2f)%n", round + 1,
                    ms[1][round], ms[2][round], ms[2][round] / ms[1][round]);
        }
        double m1 = median(ms[1]);
        double m2 = median(ms[2]);
        System.out.printf("MLP step, batch 128, median over rounds: 1 replica %.1f ms, 2 replicas %.1f ms: "
                + "ratio %.2f%n", m1, m2, m2 / m1);
    }

    /** allReduceSum of 513 doubles on 2 threads: median per call over blocks of 1 000 calls. */
    private static void collective(int calls) throws Exception {
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(60));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            int blocks = Math.max(1, calls / 1000);
            List<Future<double[]>> fs = new ArrayList<>();
            for (Collective c : group) {
                fs.add(pool.submit(() -> {
                    double[] data = new double[2 * 256 + 1];
                    Arrays.fill(data, c.rank() + 1);
                    double[] perCall = new double[blocks];
                    for (int i = 0; i < 200; i++) {
                        c.allReduceSum(data);   // warm-up
                    }
                    for (int b = 0; b < blocks; b++) {
                        long t0 = System.nanoTime();
                        for (int i = 0; i < 1000; i++) {
                            c.allReduceSum(data);
                        }
                        perCall[b] = (System.nanoTime() - t0) / 1e3 / 1000;   // µs per call
                    }
                    return perCall;
                }));
            }
            double[] rank0 = fs.get(0).get();
            fs.get(1).get();
            System.out.printf("in-process allReduceSum of 513 doubles, 2 ranks: median %.1f µs per call "
                    + "(%d blocks of 1000 calls; fastest block %.1f µs)%n", median(rank0), blocks,
                    Arrays.stream(rank0).min().orElse(0));
        } finally {
            pool.shutdownNow();
        }
    }

    /** Median ms per step of R cpu replicas over {@code steps} steps after 10 warm-up steps. */
    private static double stepMs(int r, int steps) throws Exception {
        FullyConnectedNetConfig config = FullyConnectedNetConfig.builder(784, 10).hidden(256, 128, 100)
                .normalization(Normalization.BATCH).dropoutKeep(0.9).heInit().seed(1).build();
        List<Backend> backends = new ArrayList<>();
        for (int i = 0; i < r; i++) {
            backends.add(Backends.get("cpu"));
        }
        int n = 128;
        Random rnd = new Random(3);
        float[] x = new float[n * 784];
        int[] y = new int[n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < n; i++) {
            y[i] = rnd.nextInt(10);
        }
        try (DataParallelTrainer dp = new DataParallelTrainer(backends, config, OptimizerConfig.sgd(1e-3))) {
            int[] split = DataParallelTrainer.evenSplit(n, r);
            for (int i = 0; i < 10; i++) {
                dp.step(x, y, split);
            }
            double[] t = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                dp.step(x, y, split);
                t[i] = (System.nanoTime() - t0) / 1e6;
            }
            return median(t);
        } finally {
            for (Backend b : backends) {
                b.close();
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
