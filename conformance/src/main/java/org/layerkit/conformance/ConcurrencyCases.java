package org.layerkit.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.LossResult;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Op;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The thread-safety contract of {@link Backend}: one backend instance used by several threads at once gives every
 * thread the same bits as the same calls made on one thread, and TRAIN batch-norm forwards that share running
 * statistics lose no update. A data race is not guaranteed to show in any one run; these cases make many
 * overlapping calls (a lost update shows as a wrong bit of the running statistics, a shared scratch buffer as wrong
 * outputs), and a backend that passes them has at least no easily hit race. The conv-family cases do the same for
 * conv2d, the pools and spatial dropout.
 */
final class ConcurrencyCases {
    static final int THREADS = 4;

    private ConcurrencyCases() {
    }

    static List<ConformanceCase> all() {
        List<ConformanceCase> c = new ArrayList<>();
        c.add(ConformanceCase.builder("elementwise.threads", Op.ELEMENTWISE).param("threads", THREADS)
                .param("steps", 12).shape(64, 96).tolerance(Tolerance.EXACT)
                .check(ctx -> sameBitsOnEveryThread(ctx, 12)));
        c.add(ConformanceCase.builder("batchnorm.running_stats.threads", Op.BATCHNORM).param("threads", THREADS)
                .param("updates", 2000).shape(2, 4096).tolerance(Tolerance.EXACT)
                .check(ctx -> noLostRunningUpdate(ctx, 500)));
        // the conv family: every call allocates its own workspaces (or uses its thread's scratch), so calls from
        // several threads must not see each other's
        c.add(convFamily("conv2d.threads", Op.CONV2D, CONV_NAMES, ConcurrencyCases::convWork));
        c.add(convFamily("maxpool2d.threads", Op.MAXPOOL2D, MAXPOOL_NAMES, ConcurrencyCases::maxPoolWork));
        c.add(convFamily("global_avgpool.threads", Op.GLOBAL_AVGPOOL, AVGPOOL_NAMES, ConcurrencyCases::avgPoolWork));
        c.add(convFamily("spatial_dropout.threads", Op.SPATIAL_DROPOUT, SPATIAL_DROPOUT_NAMES,
                ConcurrencyCases::spatialDropoutWork));
        return c;
    }

    /** Runs {@code work} for threads 0..THREADS−1 at once (released together); the results in thread order. */
    private static <T> List<T> together(ThreadWork<T> work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<T>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                futures.add(pool.submit(() -> {
                    start.await();
                    return work.run(id);
                }));
            }
            start.countDown();
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(10, TimeUnit.MINUTES));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @FunctionalInterface
    private interface ThreadWork<T> {
        T run(int thread) throws Exception;
    }

    /**
     * Each thread's results of {@code work} on its own inputs, all threads at once, must be exactly what the same
     * calls give one thread after another; {@code names} name a round's results in failures.
     */
    private static void sameBitsOnEveryThread(CaseContext ctx, String[] names, List<float[][]> inputs,
                                              Work work) throws Exception {
        Backend b = ctx.backend();
        List<List<float[]>> expected = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            expected.add(work.run(b, inputs.get(t), t));
        }
        List<List<float[]>> actual = together(t -> work.run(b, inputs.get(t), t));
        for (int t = 0; t < THREADS; t++) {
            List<float[]> e = expected.get(t);
            List<float[]> a = actual.get(t);
            for (int i = 0; i < e.size() && ctx.ok(); i++) {
                ctx.expectIdentical("thread " + t + ", result " + i + " of " + e.size() + " (round "
                        + i / names.length + ", " + names[i % names.length] + ")", a.get(i), Shape.of(a.get(i).length),
                        e.get(i));
            }
        }
    }

    /** One thread's rounds of ops on its inputs, every result as a host array, every tensor closed. */
    @FunctionalInterface
    private interface Work {
        List<float[]> run(Backend b, float[][] in, int thread);
    }

    /** x of the conv-family cases: a small CNN layer's batch, large enough for the backends' split paths. */
    private static final Shape CONV_X = Shape.of(8, 16, 16, 16);
    private static final Shape CONV_W = Shape.of(16, 16, 3, 3);
    private static final int CONV_STEPS = 4;
    private static final String[] CONV_NAMES = {"conv2d out", "conv2d dX", "conv2d dW", "conv2d dB"};
    private static final String[] MAXPOOL_NAMES = {"maxpool2d out", "maxpool2d argmax", "maxpool2d dX"};
    private static final String[] AVGPOOL_NAMES = {"global_avgpool out", "global_avgpool dX"};
    private static final String[] SPATIAL_DROPOUT_NAMES = {"spatial_dropout out", "spatial_dropout mask",
        "spatial_dropout dX"};

    /** A conv-family case: {@link #CONV_STEPS} rounds of {@code work} per thread, bit for bit as on one thread. */
    private static ConformanceCase convFamily(String name, Op op, String[] names, Work work) {
        return ConformanceCase.builder(name, op).param("threads", THREADS).param("steps", CONV_STEPS)
                .shape(CONV_X.dims()).tolerance(Tolerance.EXACT)
                .check(ctx -> sameBitsOnEveryThread(ctx, names, convInputs(ctx), work));
    }

    /** Per thread: x, w, bias, and a dOut of x's shape (conv2d's output shape at stride 1, padding 1). */
    private static List<float[][]> convInputs(CaseContext ctx) {
        List<float[][]> in = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            in.add(new float[][] {ctx.normal(CONV_X.size(), 0, 1), ctx.normal(CONV_W.size(), 0, 0.2),
                ctx.normal(16, 0, 1), ctx.normal(CONV_X.size(), 0, 1)});
        }
        return in;
    }

    private static List<float[]> convWork(Backend b, float[][] in, int thread) {
        List<float[]> out = new ArrayList<>();
        try (Tensor x = b.upload(in[0], CONV_X); Tensor w = b.upload(in[1], CONV_W);
             Tensor bias = b.upload(in[2], Shape.of(16)); Tensor dOut = b.upload(in[3], CONV_X)) {
            for (int s = 0; s < CONV_STEPS; s++) {
                try (Conv2dResult r = b.conv2dForward(x, w, bias, Conv2dParams.of(1, 1));
                     Conv2dGrads g = b.conv2dBackward(dOut, r.cache(), w)) {
                    out.add(r.out().toArray());
                    out.add(g.dX().toArray());
                    out.add(g.dW().toArray());
                    out.add(g.dB().toArray());
                }
            }
        }
        return out;
    }

    private static List<float[]> maxPoolWork(Backend b, float[][] in, int thread) {
        List<float[]> out = new ArrayList<>();
        Shape os = Shape.of(8, 16, 7, 7);
        try (Tensor x = b.upload(in[0], CONV_X);
             Tensor dOut = b.upload(java.util.Arrays.copyOf(in[3], os.size()), os)) {
            for (int s = 0; s < CONV_STEPS; s++) {
                // 3×3 windows at stride 2 overlap: the backward adds where they chose the same element
                try (MaxPool2dResult r = b.maxPool2dForward(x, Pool2dParams.of(3, 2));
                     Tensor dX = b.maxPool2dBackward(dOut, r.cache())) {
                    out.add(r.out().toArray());
                    out.add(r.cache().argmax().toArray());
                    out.add(dX.toArray());
                }
            }
        }
        return out;
    }

    private static List<float[]> avgPoolWork(Backend b, float[][] in, int thread) {
        List<float[]> out = new ArrayList<>();
        Shape os = Shape.of(8, 16);
        try (Tensor x = b.upload(in[0], CONV_X);
             Tensor dOut = b.upload(java.util.Arrays.copyOf(in[3], os.size()), os)) {
            for (int s = 0; s < CONV_STEPS; s++) {
                try (Tensor y = b.globalAvgPoolForward(x); Tensor dX = b.globalAvgPoolBackward(dOut, CONV_X)) {
                    out.add(y.toArray());
                    out.add(dX.toArray());
                }
            }
        }
        return out;
    }

    private static List<float[]> spatialDropoutWork(Backend b, float[][] in, int thread) {
        List<float[]> out = new ArrayList<>();
        try (Tensor x = b.upload(in[0], CONV_X); Tensor dOut = b.upload(in[3], CONV_X)) {
            for (int s = 0; s < CONV_STEPS; s++) {
                try (DropoutResult r = b.spatialDropoutForward(x, new DropoutOptions(0.7, 2000 + thread, s),
                        Mode.TRAIN); Tensor dX = b.spatialDropoutBackward(dOut, r.mask())) {
                    out.add(r.out().toArray());
                    out.add(r.mask().toArray());
                    out.add(dX.toArray());
                }
            }
        }
        return out;
    }

    /**
     * Per thread, {@code steps} rounds of a net's worth of ops on its own inputs — batchnorm TRAIN forward and
     * backward (own running statistics), layernorm, dropout with the thread's seed, relu, a matrix product, softmax
     * cross-entropy — every result downloaded. All threads at once must give each thread exactly the results the
     * same calls give on one thread.
     */
    private static void sameBitsOnEveryThread(CaseContext ctx, int steps) throws Exception {
        int n = 64;
        int d = 96;
        List<float[][]> inputs = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            inputs.add(new float[][] {ctx.normal(n * d, 0, 1), ctx.normal(n * d, 0, 1), ctx.uniform(d, 0.5, 1.5),
                ctx.normal(d * 10, 0, 0.1), labels(ctx, n, 10)});
        }
        sameBitsOnEveryThread(ctx, NAMES, inputs, (b, in, t) -> work(b, in, t, steps, n, d));
    }

    private static final String[] NAMES = {"batchnorm out", "batchnorm dX", "batchnorm dGamma", "layernorm out",
        "layernorm dX", "dropout out", "dropout dX", "relu", "relu dX", "logits", "loss", "dLogits", "running mean"};

    private static float[] labels(CaseContext ctx, int n, int k) {
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = ctx.random().nextInt(k);
        }
        return l;
    }

    /** One thread's rounds; every result as a host array, every tensor closed. */
    private static List<float[]> work(Backend b, float[][] in, int thread, int steps, int n, int d) {
        List<float[]> out = new ArrayList<>();
        Shape x2 = Shape.of(n, d);
        try (Tensor x = b.upload(in[0], x2); Tensor dOut = b.upload(in[1], x2);
             Tensor gamma = b.upload(in[2], Shape.of(d)); Tensor beta = b.zeros(Shape.of(d));
             Tensor w = b.upload(in[3], Shape.of(d, 10)); Tensor labels = b.upload(in[4], Shape.of(n));
             RunningStats rs = RunningStats.initial(b, d)) {
            BatchNormOptions opts = BatchNormOptions.defaults();
            for (int s = 0; s < steps; s++) {
                try (NormResult bn = b.batchNormForward(x, gamma, beta, rs, opts, Mode.TRAIN);
                     NormGrads bg = b.batchNormBackward(dOut, bn.cache(), gamma);
                     NormResult ln = b.layerNormForward(bn.out(), gamma, beta, 1e-5f);
                     NormGrads lg = b.layerNormBackward(bg.dX(), ln.cache(), gamma);
                     DropoutResult dr = b.dropoutForward(ln.out(), new DropoutOptions(0.8, 1000 + thread, s),
                             Mode.TRAIN);
                     Tensor dd = b.dropoutBackward(lg.dX(), dr.mask());
                     Tensor r = b.relu(dr.out());
                     Tensor rd = b.reluBackward(dd, dr.out());
                     Tensor logits = b.matmul(r, false, w, false);
                     LossResult loss = b.softmaxCrossEntropy(logits, labels)) {
                    out.add(bn.out().toArray());
                    out.add(bg.dX().toArray());
                    out.add(bg.dGamma().toArray());
                    out.add(ln.out().toArray());
                    out.add(lg.dX().toArray());
                    out.add(dr.out().toArray());
                    out.add(dd.toArray());
                    out.add(r.toArray());
                    out.add(rd.toArray());
                    out.add(logits.toArray());
                    out.add(loss.loss().toArray());
                    out.add(loss.dLogits().toArray());
                    out.add(rs.mean().toArray());
                }
            }
        }
        return out;
    }

    /**
     * TRAIN forwards sharing running statistics from {@value #THREADS} threads, {@code perThread} each, on one
     * batch: every update applies the same function r ↦ decay·r + (1−decay)·batch, so the order does not matter
     * and the result must be bit for bit that of the same number of updates on one thread; a lost update (two
     * threads reading the same r) leaves a visible difference with decay 0.999. Through {@link RunningStats} (whose
     * count must come out exact) and through the running tensors directly.
     */
    private static void noLostRunningUpdate(CaseContext ctx, int perThread) throws Exception {
        Backend b = ctx.backend();
        // wide rows and a short batch: the update of the running statistics is a large part of each call, so
        // overlapping updates are frequent
        int d = 4096;
        Shape xs = Shape.of(2, d);
        Tensor x = ctx.upload(ctx.normal(2 * d, 3, 1), xs);
        Tensor gamma = ctx.upload(ctx.uniform(d, 0.5, 1.5), Shape.of(d));
        Tensor beta = ctx.upload(new float[d], Shape.of(d));
        int total = THREADS * perThread;
        BatchNormOptions opts = BatchNormOptions.defaults().withDecay(0.999f);
        BatchNormParams p = new BatchNormParams(1e-5f, 0.999f, false);
        // one thread
        RunningStats one = ctx.track(RunningStats.initial(b, d));
        for (int i = 0; i < total; i++) {
            b.batchNormForward(x, gamma, beta, one, opts, Mode.TRAIN).close();
        }
        float[] mean1 = one.mean().toArray();
        float[] var1 = one.var().toArray();
        // several threads, through RunningStats
        RunningStats shared = ctx.track(RunningStats.initial(b, d));
        together(t -> {
            for (int i = 0; i < perThread; i++) {
                b.batchNormForward(x, gamma, beta, shared, opts, Mode.TRAIN).close();
            }
            return null;
        });
        ctx.check(shared.batchesTracked() == total, "RunningStats.batchesTracked after " + total + " updates from "
                + THREADS + " threads: expected " + total + ", got " + shared.batchesTracked());
        ctx.expectIdentical("running mean after " + total + " updates from " + THREADS + " threads", shared.mean(),
                Shape.of(d), mean1);
        ctx.expectIdentical("running var after " + total + " updates from " + THREADS + " threads", shared.var(),
                Shape.of(d), var1);
        // several threads, through the running tensors
        RunningStats raw = ctx.track(RunningStats.initial(b, d));
        together(t -> {
            for (int i = 0; i < perThread; i++) {
                b.batchNormForward(x, gamma, beta, raw.mean(), raw.var(), p, Mode.TRAIN).close();
            }
            return null;
        });
        ctx.expectIdentical("running mean after " + total + " updates of the tensors from " + THREADS + " threads",
                raw.mean(), Shape.of(d), mean1);
        ctx.expectIdentical("running var after " + total + " updates of the tensors from " + THREADS + " threads",
                raw.var(), Shape.of(d), var1);
    }
}
