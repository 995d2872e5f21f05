package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.BatchEvent;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingDivergedException;
import org.layerkit.models.train.TrainingListener;

/**
 * The Solver's divergence checks on the OpenCL backend, where the running statistics are checked on the device in
 * the loss read ({@code 0·t} must be NaN for t = ±∞ or NaN there too). This module is the one with both the models
 * and the OpenCL backend on its class path. Skipped without an OpenCL device, unless -Dlayerkit.requireOpenCL=true.
 */
class OpenClDivergenceTest {
    private static Backend backend;

    @BeforeAll
    static void open() {
        boolean available = Backends.providers().stream()
                .anyMatch(p -> p.name().equals("opencl") && p.availability().isAvailable());
        if (!available && Boolean.getBoolean("layerkit.requireOpenCL")) {
            throw new AssertionError("OpenCL is required (-Dlayerkit.requireOpenCL=true) but unavailable");
        }
        Assumptions.assumeTrue(available, "no OpenCL device");
        backend = Backends.get("opencl");
    }

    @AfterAll
    static void close() {
        if (backend != null) {
            backend.close();
        }
    }

    /** Three Gaussian blobs in 5 dimensions; example {@code poison} (if ≥ 0) gets a first feature of 1e30. */
    private static Dataset blobs(int poison) {
        Random r = new Random(1);
        int n = 200;
        int d = 5;
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 3;
            for (int f = 0; f < d; f++) {
                x[i * d + f] = (float) (r.nextGaussian() + 2 * y[i]);
            }
        }
        if (poison >= 0) {
            x[poison * d] = 1e30f;
        }
        return new Dataset("blobs", x, y, d, 3);
    }

    private static FullyConnectedNetConfig net() {
        return FullyConnectedNetConfig.builder(5, 3).hidden(16, 8).normalization(Normalization.BATCH).heInit().seed(7)
                .build();
    }

    @Test
    void aFiniteBlowUpStopsTraining() {
        Dataset data = blobs(-1);
        try (SequentialNet n = new SequentialNet(backend, net());
             Optimizer adam = OptimizerConfig.adam(1e6).create(n.parameters())) {
            Solver s = new Solver(n, adam, data, data.slice(0, 50), SolverConfig.builder().epochs(3).batchSize(20)
                    .build());
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, s::train);
            assertEquals(TrainingDivergedException.Cause.LOSS_ABOVE_THRESHOLD, e.reason(), e.getMessage());
        }
    }

    @Test
    void aRunningStatisticThatTurnsNonFiniteStopsTrainingAtThatStep() {
        Dataset data = blobs(137);
        List<Long> finiteAt = new ArrayList<>();
        TrainingDivergedException e;
        try (SequentialNet n = new SequentialNet(backend, net());
             Optimizer adam = OptimizerConfig.adam(1e-3).create(n.parameters())) {
            Solver s = new Solver(n, adam, data, data.slice(0, 50), SolverConfig.builder().epochs(2).batchSize(20)
                    .build());
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
        long before = finiteAt.isEmpty() ? 0 : finiteAt.get(finiteAt.size() - 1);
        assertEquals(before + 1, e.iteration(), e.getMessage());
        assertEquals(TrainingDivergedException.Cause.NON_FINITE_STATISTIC, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("1.running_var holds Infinity"), e.getMessage());
    }
}
