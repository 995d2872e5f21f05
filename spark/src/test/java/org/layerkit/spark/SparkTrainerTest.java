package org.layerkit.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.dist.DataParallelTrainer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.LossPoint;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingHistory;

/**
 * Training in Spark's barrier mode on {@code local[2]} equals the in-process data-parallel run bit for bit: an MLP
 * with batch norm and dropout, 2 replicas, batch 15 (split 8/7 every step), 2 epochs of 4 steps with per-epoch
 * evaluation, learning-rate decay and best-epoch restore, against {@link DataParallelTrainer} with 2 cpu replicas under
 * the same {@link Solver} configuration: the same per-iteration losses and accuracies, and the same final parameters,
 * running statistics and dropout counters — the model in the returned checkpoint, and every rank's digest.
 *
 * <p>Why bitwise: the Spark tasks run the same code as the in-process replicas ({@code DataParallelTrainer}'s member
 * replica is its all-local replica), on the same backend kind (cpu) in the same JVM kind, on the same rows; the only
 * arithmetic across replicas is the collectives' sums, in double and in rank order, and Spark's allGather carries the
 * doubles' exact bits ({@link ExactDoubles}); initial state is rank 0's, copied exactly. There is no rounding that
 * could differ between the two runs, so any difference is a bug, not noise.
 *
 * <p>Each collective call through Spark takes ≈1 s (its barrier coordinator polls once a second): this run makes
 * 3 per step (batch norm forward and backward, the gradients) plus 3 (construction, the solver's broadcast, the
 * closing call): ≈30 s.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class SparkTrainerTest {
    static final int D = 20;
    static final int K = 4;
    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void startSpark() {
        // a sync timeout longer than any gap between two collective calls of a replica (a step, an evaluation)
        spark = TestSpark.barrier("SparkTrainerTest", "120s");
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    static FullyConnectedNetConfig net() {
        return FullyConnectedNetConfig.builder(D, K).hidden(32).normalization(Normalization.BATCH)
                .dropoutKeep(0.75).heInit().reg(0.01).seed(3).build();
    }

    static Dataset blobs(String name, int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * D];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(K);
            for (int f = 0; f < D; f++) {
                x[i * D + f] = (float) (r.nextGaussian() + (f % K == y[i] ? 1.2 : 0));
            }
        }
        return new Dataset(name, x, y, D, K);
    }

    static List<Long> lossBits(TrainingHistory h) {
        List<Long> b = new ArrayList<>();
        for (LossPoint p : h.losses()) {
            b.add(Double.doubleToRawLongBits(p.loss()));
        }
        return b;
    }

    /** Parameters and buffers by name as raw bits, and the counters. */
    static Map<String, Object> state(SequentialNet net) {
        Map<String, Object> m = new LinkedHashMap<>();
        net.parameters().forEach((n, p) -> m.put(n, bits(p.value().toArray())));
        net.buffers().forEach((n, b) -> m.put(n, bits(b.toArray())));
        net.counters().forEach(m::put);
        return m;
    }

    static List<Integer> bits(float[] f) {
        List<Integer> out = new ArrayList<>(f.length);
        for (float v : f) {
            out.add(Float.floatToRawIntBits(v));
        }
        return out;
    }

    @Test
    void aBarrierRunOnLocal2EqualsTheInProcessRunBitwise() throws Exception {
        DatasetSplits data = new DatasetSplits(blobs("train", 64, 8), blobs("val", 24, 9), blobs("test", 8, 10))
                .standardized();
        SolverConfig solver = SolverConfig.builder().epochs(2).batchSize(15).learningRateDecay(0.9).seed(4)
                .trainAccuracySamples(32).evalBatchSize(16).build();
        OptimizerConfig optimizer = OptimizerConfig.sgdMomentum(0.05);

        // the in-process run: layerkit train --replicas 2 --backend cpu
        TrainingHistory expected;
        Map<String, Object> expectedState;
        String expectedDigest;
        long inProcessStart = System.nanoTime();
        try (Backend b0 = Backends.get("cpu"); Backend b1 = Backends.get("cpu");
             DataParallelTrainer local = new DataParallelTrainer(List.of(b0, b1), net(), optimizer)) {
            expected = new Solver(local.net(0), local.optimizer(0), data, solver).dataParallel(local).train();
            expectedState = state(local.net(0));
            expectedDigest = SparkTrainer.digest(local.net(0));
        }
        double inProcessSeconds = (System.nanoTime() - inProcessStart) / 1e9;

        SparkTrainer.Result r = SparkTrainer.on(spark).replicas(2).backend("cpu").train(net(), optimizer, solver, data);

        int steps = expected.losses().size();
        assertEquals(2 * (64 / 15), steps);
        assertEquals(lossBits(expected), lossBits(r.history()), "per-iteration losses (raw bits)");
        assertArrayEquals(expected.meanLosses(), r.history().meanLosses(), "epoch mean losses");
        assertArrayEquals(expected.trainAccuracies(), r.history().trainAccuracies(), "train accuracies");
        assertArrayEquals(expected.valAccuracies(), r.history().valAccuracies(), "val accuracies");
        assertEquals(expected.bestEpoch(), r.history().bestEpoch(), "best epoch");
        // the ranks agree with each other and with the in-process replicas
        assertEquals(List.of(expectedDigest, expectedDigest), r.digests(), "every rank's digest");
        // the model the driver got: rank 0's parameters, running statistics, counters and the standardizer
        Checkpoint model = r.model();
        assertArrayEquals(data.standardizer().mean(), model.standardizer().mean());
        try (Backend cpu = Backends.get("cpu"); SequentialNet net = model.toNet(cpu)) {
            Map<String, Object> got = state(net);
            assertEquals(expectedState.keySet(), got.keySet());
            expectedState.forEach((name, v) -> assertEquals(v, got.get(name), name + " differs from the in-process"
                    + " run's"));
            assertTrue(expectedState.keySet().stream().anyMatch(n -> n.contains("running_var")), "buffers compared: "
                    + expectedState.keySet());
        }
        System.out.printf(Locale.ROOT, "SparkTrainerTest: %d steps on local[2] in %.1f s (%.2f s per step, including "
                        + "the job's start and 3 extra collective calls); in-process: %.3f s%n", steps, r.seconds(),
                r.seconds() / steps, inProcessSeconds);
    }

    @Test
    void aBackendMissingOnTheExecutorsIsAClearErrorNamingTheRankAndBackend() {
        DatasetSplits data = new DatasetSplits(blobs("train", 32, 1), blobs("val", 8, 2), blobs("test", 8, 3));
        SolverConfig solver = SolverConfig.builder().epochs(1).batchSize(8).build();
        SparkTrainingException e = assertThrows(SparkTrainingException.class, () -> SparkTrainer.on(jsc)
                .backend("no-such-backend").train(net(), OptimizerConfig.sgd(0.1), solver, data));
        String m = e.getMessage();
        assertTrue(m.startsWith("layerkit training on Spark: replica "), m);
        assertTrue(m.contains(" of 2 on ") && m.contains("backend 'no-such-backend' is not available on this "
                + "executor") && m.contains("unknown backend 'no-such-backend'; installed: "), m);
    }

    @Test
    void badArgumentsAreRefusedOnTheDriver() {
        IllegalArgumentException r = assertThrows(IllegalArgumentException.class,
                () -> SparkTrainer.on(jsc).replicas(0));
        assertTrue(r.getMessage().contains("expected >= 1 (one barrier task per replica), got 0"), r.getMessage());
        DatasetSplits data = new DatasetSplits(blobs("train", 32, 1), blobs("val", 8, 2), blobs("test", 8, 3));
        IllegalArgumentException batch = assertThrows(IllegalArgumentException.class, () -> SparkTrainer.on(jsc)
                .train(net(), OptimizerConfig.sgd(0.1), SolverConfig.builder().batchSize(64).build(), data));
        assertTrue(batch.getMessage().contains("batchSize expected at most the 32 training examples, got 64"),
                batch.getMessage());
    }
}
