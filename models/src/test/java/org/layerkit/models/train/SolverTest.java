package org.layerkit.models.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.conformance.Tolerance;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.SyntheticData;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

class SolverTest {
    private static Backend backend;
    private static final Dataset TRAIN = SyntheticData.blobs("blobs/train", 200, 5, 3, 1);
    private static final Dataset VAL = SyntheticData.blobs("blobs/val", 60, 5, 3, 2);

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    private static FullyConnectedNetConfig net(Normalization norm, double keep) {
        return FullyConnectedNetConfig.builder(5, 3).hidden(16, 8).normalization(norm).dropoutKeep(keep).heInit()
                .seed(7).build();
    }

    @Test
    void trainingReducesTheLossAndLearnsSeparableData() {
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.BATCH, 1));
             Optimizer adam = OptimizerConfig.adam(1e-2).create(n.parameters())) {
            TrainingHistory h = new Solver(n, adam, TRAIN, VAL,
                    SolverConfig.builder().epochs(6).batchSize(20).seed(3).build()).train();
            double[] loss = h.meanLosses();
            assertEquals(6, loss.length);
            // TRAINING_OUTCOME (docs/tolerances.md): learning, not rounding; run on every matrix leg
            assertTrue(loss[5] < 0.5 * loss[0], "mean loss per epoch " + java.util.Arrays.toString(loss)
                    + " (TRAINING_OUTCOME)");
            assertTrue(h.bestValAccuracy() > 0.9, "best val accuracy " + h.bestValAccuracy() + " (TRAINING_OUTCOME)");
            assertEquals(60, h.losses().size(), "one loss read per iteration by default");
        }
    }

    @Test
    void learningRateDecaysOncePerEpoch() {
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.NONE, 1));
             Optimizer sgd = OptimizerConfig.sgdMomentum(1e-2).create(n.parameters())) {
            TrainingHistory h = new Solver(n, sgd, TRAIN, VAL,
                    SolverConfig.builder().epochs(3).batchSize(50).learningRateDecay(0.5).build()).train();
            // LR_SCHEDULE: lr·0.5 per epoch, k double roundings after k epochs (here exact: halving is)
            assertArrayEquals(new double[] {1e-2, 5e-3, 2.5e-3},
                    h.epochs().stream().mapToDouble(EpochEvent::learningRate).toArray(),
                    Tolerance.SAFETY * Tolerance.gamma64(3) * 1e-2);
            assertEquals(1.25e-3, sgd.learningRate(), Tolerance.SAFETY * Tolerance.gamma64(4) * 1.25e-3);
        }
    }

    @Test
    void aNonFiniteLossStopsTrainingNamingEpochIterationAndLoss() {
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.NONE, 1));
             Optimizer sgd = OptimizerConfig.sgd(1e30).create(n.parameters())) {
            Solver s = new Solver(n, sgd, TRAIN, VAL, SolverConfig.builder().epochs(2).batchSize(20).build());
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, s::train);
            assertFalse(Double.isFinite(e.loss()));
            assertEquals(1, e.epoch());
            assertTrue(e.iteration() >= 2, "the first loss is computed before any update");
            assertTrue(e.getMessage().contains("epoch 1, iteration " + e.iteration()), e.getMessage());
        }
    }

    @Test
    void divergenceBetweenLossReadsIsCaughtAtTheEndOfTheEpoch() {
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.NONE, 1));
             Optimizer sgd = OptimizerConfig.sgd(1e30).create(n.parameters())) {
            Solver s = new Solver(n, sgd, TRAIN, VAL,
                    SolverConfig.builder().epochs(2).batchSize(20).lossEvery(1000).build());
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, s::train);
            assertEquals(10, e.iteration());
            assertTrue(e.getMessage().contains("mean loss"), e.getMessage());
        }
    }

    @Test
    void listenersHearEveryReadLossAndEveryEpoch() {
        List<String> events = new ArrayList<>();
        TrainingListener l = new TrainingListener() {
            @Override
            public void onStart(SolverConfig config, int iterationsPerEpoch) {
                events.add("start " + iterationsPerEpoch);
            }

            @Override
            public void onBatch(BatchEvent e) {
                assertTrue(e.examplesPerSecond() > 0);
                events.add("batch " + e.epoch() + "/" + e.iteration() + "/" + e.iterations());
            }

            @Override
            public void onEpoch(EpochEvent e) {
                events.add("epoch " + e.epoch());
            }

            @Override
            public void onEnd(TrainingHistory h) {
                events.add("end");
            }
        };
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.LAYER, 0.8));
             Optimizer o = OptimizerConfig.rmsprop(1e-3).create(n.parameters())) {
            new Solver(n, o, TRAIN, VAL, SolverConfig.builder().epochs(2).batchSize(40).lossEvery(2).build())
                    .addListener(l).train();
        }
        assertEquals(List.of("start 5", "batch 1/2/10", "batch 1/4/10", "epoch 1", "batch 2/6/10", "batch 2/8/10",
                "batch 2/10/10", "epoch 2", "end"), events);
    }

    @Test
    void theBestValidationParametersAreRestoredAtTheEnd() {
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.BATCH, 0.7));
             Optimizer adam = OptimizerConfig.adam(3e-2).create(n.parameters())) {
            TrainingHistory h = new Solver(n, adam, TRAIN, VAL,
                    SolverConfig.builder().epochs(5).batchSize(10).build()).train();
            assertEquals(h.bestValAccuracy(), n.accuracy(VAL, 1000), 0.0);
            assertEquals(h.bestValAccuracy(), h.epochs().get(h.bestEpoch() - 1).valAccuracy(), 0.0);
        }
    }

    @Test
    void resumingFromAnEpochCheckpointReproducesTheUninterruptedRun() throws IOException {
        FullyConnectedNetConfig c = net(Normalization.BATCH, 0.8);
        Path ckpt = dir.resolve("run.lkm");
        SolverConfig schedule = SolverConfig.builder().epochs(3).batchSize(20).learningRateDecay(0.8).seed(5)
                .restoreBest(false).checkpoint(ckpt).build();
        float[] uninterrupted;
        try (SequentialNet n = new SequentialNet(backend, c);
             Optimizer adam = OptimizerConfig.adam(1e-2).create(n.parameters())) {
            new Solver(n, adam, TRAIN, VAL, schedule).train();
            uninterrupted = n.parameters().get("4.W").value().toArray();
        }
        class Crash extends RuntimeException {
            private static final long serialVersionUID = 1L;
        }
        try (SequentialNet n = new SequentialNet(backend, c);
             Optimizer adam = OptimizerConfig.adam(1e-2).create(n.parameters())) {
            Solver s = new Solver(n, adam, TRAIN, VAL, schedule).addListener(new TrainingListener() {
                @Override
                public void onEpoch(EpochEvent e) {
                    if (e.epoch() == 1) {
                        throw new Crash();
                    }
                }
            });
            assertThrows(Crash.class, s::train);
        }
        Checkpoint saved = Checkpoint.load(ckpt);
        assertEquals(1, saved.epochsCompleted());
        try (SequentialNet n = saved.toNet(backend); Optimizer adam = saved.toOptimizer(n)) {
            // LR_SCHEDULE: 1e-2·0.8, one double rounding, and the literal 8e-3 one more
            assertEquals(8e-3, adam.learningRate(), Tolerance.SAFETY * Tolerance.gamma64(2) * 8e-3);
            new Solver(n, adam, TRAIN, VAL, schedule).resumeAfter(saved.epochsCompleted()).train();
            assertArrayEquals(uninterrupted, n.parameters().get("4.W").value().toArray());
        }
    }
}
