package org.layerkit.models.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.SyntheticData;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * The Solver's divergence rules: a finite blow-up of the loss stops training like a NaN loss does, healthy runs are
 * never stopped, the factor is exactly the boundary, and a batch-norm running statistic that turns non-finite is
 * reported at the read where it first is.
 */
class DivergenceTest {
    private static final int CLASSES = 3;
    private static final Dataset TRAIN = SyntheticData.blobs("blobs/train", 200, 5, CLASSES, 1);
    private static final Dataset VAL = SyntheticData.blobs("blobs/val", 60, 5, CLASSES, 2);
    private static Backend backend;

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

    private static FullyConnectedNetConfig net(Normalization norm) {
        return FullyConnectedNetConfig.builder(5, CLASSES).hidden(16, 8).normalization(norm).heInit().seed(7).build();
    }

    /** The losses of a run as read every iteration, or the exception that stopped it. */
    private record Run(List<Double> losses, TrainingHistory history, TrainingDivergedException stop) {
        double maxRatio() {
            double ref = Math.max(losses.get(0), Math.log(CLASSES));
            return losses.stream().mapToDouble(Double::doubleValue).max().orElseThrow() / ref;
        }
    }

    private static Run run(FullyConnectedNetConfig c, OptimizerConfig o, SolverConfig.Builder schedule, Dataset train) {
        List<Double> losses = new ArrayList<>();
        try (SequentialNet n = new SequentialNet(backend, c); Optimizer opt = o.create(n.parameters())) {
            Solver s = new Solver(n, opt, train, VAL, schedule.lossEvery(1).build()).addListener(new TrainingListener() {
                @Override
                public void onBatch(BatchEvent e) {
                    losses.add(e.loss());
                }
            });
            try {
                return new Run(losses, s.train(), null);
            } catch (TrainingDivergedException e) {
                return new Run(losses, null, e);
            }
        }
    }

    @Test
    void aFiniteBlowUpStopsTrainingBeforeAnythingIsSaved() {
        Path ckpt = dir.resolve("run.lkm");
        Run r = run(net(Normalization.BATCH), OptimizerConfig.adam(1e6),
                SolverConfig.builder().epochs(3).batchSize(20).checkpoint(ckpt), TRAIN);
        TrainingDivergedException e = r.stop();
        assertTrue(e != null, "Adam at lr 1e6 must be stopped");
        assertEquals(TrainingDivergedException.Cause.LOSS_ABOVE_THRESHOLD, e.reason(), e.getMessage());
        assertTrue(Double.isFinite(e.loss()), "a finite blow-up, not a NaN: " + e.getMessage());
        double first = r.losses().get(0);
        assertTrue(e.loss() > 100 * Math.max(first, Math.log(CLASSES)), e.getMessage());
        assertEquals(1, e.epoch(), e.getMessage());
        assertTrue(e.getMessage().startsWith("training diverged at epoch 1, iteration " + e.iteration() + ": loss is "),
                e.getMessage());
        assertTrue(e.getMessage().contains("above the divergence threshold")
                && e.getMessage().contains("100 × max(first loss"), e.getMessage());
        assertFalse(Files.exists(ckpt), "stopped inside the first epoch: no checkpoint may be written");
    }

    @Test
    void switchedOffTheSameBlowUpRunsToTheEnd() {
        Run r = run(net(Normalization.BATCH), OptimizerConfig.adam(1e6),
                SolverConfig.builder().epochs(3).batchSize(20).noDivergenceCheck(), TRAIN);
        assertEquals(null, r.stop(), () -> "no finite-divergence check: " + r.stop().getMessage());
        assertEquals(3, r.history().epochs().size());
        assertTrue(r.maxRatio() > 100, "the run that the check stops: max loss / reference " + r.maxRatio());
    }

    @Test
    void theFactorIsExactlyTheBoundary() {
        // a healthy but noisy run (batches of 2): its largest loss over max(first loss, ln K) is some r > 1
        SolverConfig.Builder schedule = SolverConfig.builder().epochs(2).batchSize(2).seed(4).noDivergenceCheck();
        OptimizerConfig adam = OptimizerConfig.adam(1e-2);
        Run free = run(net(Normalization.NONE), adam, schedule, TRAIN);
        double r = free.maxRatio();
        assertTrue(r > 1, "expected some loss above the start in a batch-2 run, ratio " + r);
        // the same run (bit-identical on the cpu backend) with the factor just above r completes, just below r stops
        assertEquals(null, run(net(Normalization.NONE), adam, schedule.divergenceFactor(r * (1 + 1e-6)), TRAIN).stop());
        TrainingDivergedException e = run(net(Normalization.NONE), adam,
                schedule.divergenceFactor(r * (1 - 1e-6)), TRAIN).stop();
        assertTrue(e != null && e.reason() == TrainingDivergedException.Cause.LOSS_ABOVE_THRESHOLD,
                () -> "factor just below the run's ratio " + r + " must stop it");
    }

    @Test
    void healthyRunsAreNeverStoppedByTheDefaultRule() {
        // what inflates single losses or the start: tiny batches, a large L2 term, large initial weights, a high
        // learning rate's first steps — all train to the end under the default factor
        List<Run> runs = List.of(
                run(net(Normalization.NONE), OptimizerConfig.adam(1e-2),
                        SolverConfig.builder().epochs(2).batchSize(2), TRAIN),
                run(net(Normalization.BATCH), OptimizerConfig.adam(1e-2),
                        SolverConfig.builder().epochs(2).batchSize(2), TRAIN),
                run(net(Normalization.BATCH).toBuilder().reg(1).build(), OptimizerConfig.sgd(1e-2),
                        SolverConfig.builder().epochs(3).batchSize(10), TRAIN),
                run(net(Normalization.NONE).toBuilder().weightScale(1).build(), OptimizerConfig.adam(1e-3),
                        SolverConfig.builder().epochs(3).batchSize(10), TRAIN),
                run(net(Normalization.BATCH), OptimizerConfig.adam(1e-1),
                        SolverConfig.builder().epochs(3).batchSize(10), TRAIN));
        for (Run r : runs) {
            assertEquals(null, r.stop(), () -> r.stop().getMessage());
        }
    }

    @Test
    void aRunningStatisticThatTurnsNonFiniteIsReportedAtTheStepWhereItHappens() {
        // one example far outside float32 range once squared: the batch variance of any batch holding it overflows
        // to +∞ and so does running_var, while the batch's outputs (x̂ = 0 there) and its loss stay finite
        Dataset poisoned = poisoned(137);
        List<Long> finiteAt = new ArrayList<>();
        TrainingDivergedException e;
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.BATCH));
             Optimizer opt = OptimizerConfig.adam(1e-3).create(n.parameters())) {
            Solver s = new Solver(n, opt, poisoned, VAL, SolverConfig.builder().epochs(2).batchSize(20).build());
            s.addListener(new TrainingListener() {
                @Override
                public void onBatch(BatchEvent ev) {
                    for (Tensor t : n.buffers().values()) {
                        for (float v : t.toArray()) {
                            assertTrue(Float.isFinite(v), "a read passed with a non-finite statistic");
                        }
                    }
                    finiteAt.add(ev.iteration());
                }
            });
            e = assertThrows(TrainingDivergedException.class, s::train);
        }
        assertEquals(TrainingDivergedException.Cause.NON_FINITE_STATISTIC, e.reason(), e.getMessage());
        assertTrue(Double.isFinite(e.loss()), e.getMessage());
        long before = finiteAt.isEmpty() ? 0 : finiteAt.get(finiteAt.size() - 1);
        assertEquals(before + 1, e.iteration(), "with lossEvery = 1 the very step: " + e.getMessage());
        assertTrue(e.getMessage().contains("1.running_var holds Infinity at index"), e.getMessage());
    }

    @Test
    void withSparseLossReadsTheStatisticIsReportedAtTheNextReadNamingTheWindow() {
        TrainingDivergedException e;
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.BATCH));
             Optimizer opt = OptimizerConfig.adam(1e-3).create(n.parameters())) {
            Solver s = new Solver(n, opt, poisoned(137), VAL,
                    SolverConfig.builder().epochs(2).batchSize(20).lossEvery(4).build());
            e = assertThrows(TrainingDivergedException.class, s::train);
        }
        assertEquals(TrainingDivergedException.Cause.NON_FINITE_STATISTIC, e.reason(), e.getMessage());
        // reads: iteration 1 (the divergence reference), then every 4th; the last iteration of an epoch (10) too
        long it = e.iteration();
        assertTrue(it == 1 || it % 4 == 0 || it % 10 == 0, "at a read: " + e.getMessage());
        if (it > 4) {
            assertTrue(e.getMessage().contains("they were finite at the read of iteration "), e.getMessage());
        }
    }

    @Test
    void aBatchLargerThanTheTrainingSetIsRefusedNotClamped() {
        try (SequentialNet n = new SequentialNet(backend, net(Normalization.BATCH));
             Optimizer opt = OptimizerConfig.adam(1e-3).create(n.parameters())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new Solver(n, opt, TRAIN, VAL, SolverConfig.builder().batchSize(201).build()));
            assertEquals("Solver: batchSize expected at most the 200 training examples, got 201", e.getMessage());
            assertEquals(1, new Solver(n, opt, TRAIN, VAL, SolverConfig.builder().batchSize(200).build())
                    .iterationsPerEpoch());
        }
    }

    /** TRAIN with example {@code k}'s first feature set to 1e30. */
    private static Dataset poisoned(int k) {
        float[] x = TRAIN.features().clone();
        x[k * TRAIN.featureCount()] = 1e30f;
        return new Dataset("poisoned", x, TRAIN.labels(), TRAIN.featureCount(), TRAIN.classes());
    }
}
