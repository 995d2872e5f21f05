package org.layerkit.models.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Collective;
import org.layerkit.api.CollectiveException;
import org.layerkit.api.InProcessCollective;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.LossPoint;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingHistory;

/**
 * A group of {@link DataParallelTrainer#member members}, one replica each on its own thread over an
 * {@link InProcessCollective} group — how the tasks of a Spark barrier stage train — equals the all-local trainer bit
 * for bit: parameters, batch-norm running statistics, dropout counters and every loss, for raw steps with even,
 * uneven and empty splits and for whole {@link Solver} runs (shuffles, learning-rate decay, evaluation, best-epoch
 * restore).
 *
 * <p>Why bitwise and not within a bound: both run the same replica code on the same backend kind (cpu), so every
 * replica performs the same float operations on the same rows; the only cross-replica arithmetic is the collectives'
 * sums, which are in double and in rank order whichever transport carries them, and the initial state is rank 0's,
 * copied exactly (floats widened to double and back). Nothing is left to rounding that could differ between the two.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DataParallelMemberTest {
    private static final int D = 20;
    private static final int K = 4;
    private static Backend cpu0;
    private static Backend cpu1;
    private static ExecutorService threads;

    @BeforeAll
    static void open() {
        cpu0 = Backends.get("cpu");
        cpu1 = Backends.get("cpu");
        threads = Executors.newFixedThreadPool(2);
    }

    @AfterAll
    static void closeAll() {
        threads.shutdownNow();
        cpu0.close();
        cpu1.close();
    }

    private static FullyConnectedNetConfig config() {
        return FullyConnectedNetConfig.builder(D, K).hidden(32).normalization(Normalization.BATCH)
                .dropoutKeep(0.75).heInit().reg(0.01).seed(3).build();
    }

    /** Four Gaussian blobs: n rows of D features. */
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

    /** Runs {@code body(trainer, rank)} on two member trainers at once, each on its own thread; results by rank. */
    private static <R> List<R> onTwoMembers(OptimizerConfig opt, BiFunction<DataParallelTrainer, Integer, R> body)
            throws Exception {
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(30));
        List<Backend> backends = List.of(cpu0, cpu1);
        List<Future<R>> futures = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int rank = r;
            futures.add(threads.submit(() -> {
                try (DataParallelTrainer t = DataParallelTrainer.member(backends.get(rank), group.get(rank), config(),
                        opt)) {
                    assertEquals(2, t.replicas());
                    assertEquals(1, t.localReplicas());
                    assertEquals(rank, t.rank());
                    return body.apply(t, rank);
                }
            }));
        }
        List<R> out = new ArrayList<>();
        for (Future<R> f : futures) {
            try {
                out.add(f.get(100, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception c ? c : e;
            }
        }
        return out;
    }

    /** The net's parameters, buffers and counters, by name, as raw bits. */
    static Map<String, Object> state(SequentialNet net) {
        Map<String, Object> m = new LinkedHashMap<>();
        net.parameters().forEach((n, p) -> m.put(n, bits(p.value().toArray())));
        net.buffers().forEach((n, b) -> m.put(n, bits(b.toArray())));
        net.counters().forEach(m::put);
        return m;
    }

    private static List<Integer> bits(float[] f) {
        List<Integer> b = new ArrayList<>(f.length);
        for (float v : f) {
            b.add(Float.floatToRawIntBits(v));
        }
        return b;
    }

    private static void assertSameState(Map<String, Object> expected, Map<String, Object> actual, String what) {
        assertEquals(expected.keySet(), actual.keySet(), what + ": names");
        expected.forEach((name, v) -> assertEquals(v, actual.get(name), what + ": " + name + " differs"));
    }

    /** The batches of the raw-step test: 16 rows each, split as given (an empty replica included). */
    private static final int[][] SPLITS = {{8, 8}, {11, 5}, {1, 15}, {16, 0}, {0, 16}, {8, 8}};

    @Test
    void membersOnTwoThreadsStepExactlyAsTheAllLocalTrainer() throws Exception {
        Dataset data = blobs("steps", 16 * SPLITS.length, 5);
        OptimizerConfig adam = OptimizerConfig.adam(1e-2);
        // the all-local trainer: both replicas in one object
        List<Long> expectedLosses = new ArrayList<>();
        Map<String, Object> expected;
        try (DataParallelTrainer all = new DataParallelTrainer(List.of(cpu0, cpu1), config(), adam)) {
            for (int k = 0; k < SPLITS.length; k++) {
                expectedLosses.add(Double.doubleToRawLongBits(all.step(rowsX(data, k), rowsY(data, k), SPLITS[k])));
            }
            expected = state(all.net(0));
            assertSameState(expected, state(all.net(1)), "all-local replica 1");
        }
        List<Object[]> runs = onTwoMembers(adam, (t, rank) -> {
            List<Long> losses = new ArrayList<>();
            for (int k = 0; k < SPLITS.length; k++) {
                losses.add(Double.doubleToRawLongBits(t.step(rowsX(data, k), rowsY(data, k), SPLITS[k])));
            }
            return new Object[] {losses, state(t.net(0)), t.optimizer(0).stepCount()};
        });
        for (int r = 0; r < 2; r++) {
            assertEquals(expectedLosses, runs.get(r)[0], "member " + r + "'s losses (raw bits)");
            @SuppressWarnings("unchecked")
            Map<String, Object> s = (Map<String, Object>) runs.get(r)[1];
            assertSameState(expected, s, "member " + r);
            assertEquals((long) SPLITS.length, runs.get(r)[2], "member " + r + "'s optimizer steps");
        }
    }

    private static float[] rowsX(Dataset d, int k) {
        return java.util.Arrays.copyOfRange(d.features(), k * 16 * D, (k + 1) * 16 * D);
    }

    private static int[] rowsY(Dataset d, int k) {
        return java.util.Arrays.copyOfRange(d.labels(), k * 16, (k + 1) * 16);
    }

    /**
     * Two Solvers, one per member thread, as each Spark task runs one, against one Solver over the all-local trainer
     * (as {@code layerkit train --replicas 2}): the same losses, epochs and final (best-epoch) state, bit for bit;
     * batch 15 splits 8/7.
     */
    @Test
    void aSolverOnEachMemberEqualsTheSolverOverTheAllLocalTrainer() throws Exception {
        Dataset train = blobs("train", 90, 8);
        Dataset val = blobs("val", 40, 9);
        SolverConfig sc = SolverConfig.builder().epochs(3).batchSize(15).learningRateDecay(0.9).seed(4)
                .trainAccuracySamples(30).evalBatchSize(16).build();
        OptimizerConfig sgd = OptimizerConfig.sgdMomentum(0.05);
        TrainingHistory expected;
        Map<String, Object> expectedState;
        try (DataParallelTrainer all = new DataParallelTrainer(List.of(cpu0, cpu1), config(), sgd)) {
            expected = new Solver(all.net(0), all.optimizer(0), train, val, sc).dataParallel(all).train();
            expectedState = state(all.net(0));
        }
        List<Object[]> runs = onTwoMembers(sgd, (t, rank) -> {
            TrainingHistory h = new Solver(t.net(0), t.optimizer(0), train, val, sc).dataParallel(t).train();
            return new Object[] {h, state(t.net(0))};
        });
        for (int r = 0; r < 2; r++) {
            TrainingHistory h = (TrainingHistory) runs.get(r)[0];
            assertEquals(lossBits(expected), lossBits(h), "member " + r + "'s per-iteration losses");
            assertArrayEquals(expected.valAccuracies(), h.valAccuracies(), "member " + r + "'s val accuracies");
            assertArrayEquals(expected.trainAccuracies(), h.trainAccuracies(), "member " + r + "'s train accuracies");
            assertArrayEquals(expected.meanLosses(), h.meanLosses(), "member " + r + "'s epoch mean losses");
            assertEquals(expected.bestEpoch(), h.bestEpoch(), "member " + r + "'s best epoch");
            @SuppressWarnings("unchecked")
            Map<String, Object> s = (Map<String, Object>) runs.get(r)[1];
            assertSameState(expectedState, s, "member " + r + " after the run");
        }
        assertEquals(3 * 6, expected.losses().size());
    }

    static List<Long> lossBits(TrainingHistory h) {
        List<Long> b = new ArrayList<>();
        for (LossPoint p : h.losses()) {
            b.add(Double.doubleToRawLongBits(p.loss()));
        }
        return b;
    }

    @Test
    void broadcastFromReplica0ReachesTheOtherMemberExactly() throws Exception {
        List<Object[]> runs = onTwoMembers(OptimizerConfig.adam(1e-3), (t, rank) -> {
            float[] x = blobs("b", 8, 1).features();
            t.step(x, blobs("b", 8, 1).labels(), 8);
            if (rank == 0) {
                // what loading a checkpoint into replica 0 does: new values, counters, optimizer state and schedule
                SequentialNet net = t.net(0);
                Tensor w = net.parameters().values().iterator().next().value();
                float[] v = w.toArray();
                v[0] = Float.intBitsToFloat(0x3f8ccccd) * 1.0000001f;
                try (Tensor u = net.backend().upload(v, w.shape())) {
                    net.backend().copy(u, w);
                }
                net.counters().keySet().forEach(c -> net.setCounter(c, (1L << 40) + 12345));
                t.optimizer(0).setStepCount(77);
                t.optimizer(0).setLearningRate(0.123456789);
            }
            t.broadcastFromReplica0();
            return new Object[] {state(t.net(0)), t.optimizer(0).stepCount(), t.optimizer(0).learningRate(),
                    t.optimizer(0).state().values().stream().map(s -> bits(s.toArray())).toList()};
        });
        assertSameState(castState(runs.get(0)[0]), castState(runs.get(1)[0]), "rank 1 after the broadcast");
        assertEquals(77L, runs.get(1)[1]);
        assertEquals(0.123456789, runs.get(1)[2]);
        assertEquals(runs.get(0)[3], runs.get(1)[3], "Adam's moments");
        assertTrue(castState(runs.get(1)[0]).containsValue((1L << 40) + 12345), "the counters, beyond 32 bits");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castState(Object o) {
        return (Map<String, Object>) o;
    }

    @Test
    void membersBuiltFromDifferentNetsFailClearlyOnEveryRank() throws Exception {
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(30));
        List<Future<Object>> futures = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int rank = r;
            FullyConnectedNetConfig cfg = FullyConnectedNetConfig.builder(D, K).hidden(rank == 0 ? 32 : 16)
                    .normalization(Normalization.BATCH).seed(3).build();
            futures.add(threads.submit(() -> {
                try (DataParallelTrainer t = DataParallelTrainer.member(cpu0, group.get(rank), cfg,
                        OptimizerConfig.sgd(0.1))) {
                    return t;
                }
            }));
        }
        ExecutionException e = assertThrows(ExecutionException.class, () -> futures.get(1).get(60, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof CollectiveException, String.valueOf(e.getCause()));
        String m = e.getCause().getMessage();
        assertTrue(m.contains("rank 1 of 2 expected rank 0's state as") && m.contains("different net or optimizer"),
                m);
        futures.get(0).get(60, TimeUnit.SECONDS);   // rank 0 received nothing to check; its construction completed
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> DataParallelTrainer.member(cpu0, null, config(), OptimizerConfig.sgd(0.1)));
        assertTrue(bad.getMessage().contains("collective expected a value"), bad.getMessage());
    }
}
