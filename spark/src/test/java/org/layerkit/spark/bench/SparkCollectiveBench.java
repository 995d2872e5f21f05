package org.layerkit.spark.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.layerkit.spark.SparkBarrier;

/**
 * A benchmark, not a test (bench/spark_collective.sh runs it): Spark {@code local[2]} start-up, one barrier job's
 * round trip, and the cost of one collective call through Spark's barrier coordinator at C = 256 — an allGather of
 * 2·256+1 doubles (a synchronized batchnorm's count, mean and M2) over 2 ranks — against an empty call (barrier) in
 * the same job, which is the coordinator's own round trip.
 */
public final class SparkCollectiveBench {
    private SparkCollectiveBench() {
    }

    public static void main(String[] args) {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 400;
        int c = 256;
        long t0 = System.nanoTime();
        SparkSession spark = builder().getOrCreate();
        double startup = (System.nanoTime() - t0) / 1e9;
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        double[] jobs = new double[5];
        for (int i = 0; i < jobs.length; i++) {
            long t = System.nanoTime();
            SparkBarrier.run(jsc, 2, col -> col.rank());
            jobs[i] = (System.nanoTime() - t) / 1e6;
        }
        // per rank: {allGather ms per call (median of 5 blocks), barrier ms per call (median of 5 blocks)}
        List<double[]> perRank = SparkBarrier.run(jsc, 2, col -> {
            double[] stats = new double[2 * c + 1];
            Arrays.fill(stats, col.rank() + 0.5);
            for (int i = 0; i < 50; i++) {   // warm-up
                col.allGather(stats);
                col.barrier();
            }
            int block = Math.max(1, calls / 5);
            double[] gather = new double[5];
            double[] empty = new double[5];
            for (int b = 0; b < 5; b++) {   // alternate the two kinds block by block (the load changes)
                long t = System.nanoTime();
                for (int i = 0; i < block; i++) {
                    col.allGather(stats);
                }
                gather[b] = (System.nanoTime() - t) / 1e6 / block;
                t = System.nanoTime();
                for (int i = 0; i < block; i++) {
                    col.barrier();
                }
                empty[b] = (System.nanoTime() - t) / 1e6 / block;
            }
            Arrays.sort(gather);
            Arrays.sort(empty);
            return new double[] {gather[2], empty[2], gather[0], empty[0]};
        });
        spark.stop();
        long t1 = System.nanoTime();
        SparkSession again = builder().getOrCreate();
        double restart = (System.nanoTime() - t1) / 1e9;
        again.stop();
        Arrays.sort(jobs);
        double[] r0 = perRank.get(0);
        System.out.printf(Locale.ROOT, "Spark %s, local[2], Java %s%n", spark.version(),
                System.getProperty("java.version"));
        System.out.printf(Locale.ROOT, "start-up (first SparkSession in this JVM): %.2f s; a second one after stop: "
                + "%.2f s%n", startup, restart);
        System.out.printf(Locale.ROOT, "barrier job round trip (2 replicas, trivial function): median %.1f ms, min "
                + "%.1f ms of %d%n", jobs[jobs.length / 2], jobs[0], jobs.length);
        System.out.printf(Locale.ROOT, "allGather of %d doubles over 2 ranks (rank 0): median %.3f ms/call (best block "
                + "%.3f); empty call (barrier): median %.3f ms/call (best %.3f); ratio %.2f; %d calls each%n",
                2 * c + 1, r0[0], r0[2], r0[1], r0[3], r0[0] / r0[1], 5 * Math.max(1, calls / 5));
    }

    private static SparkSession.Builder builder() {
        return SparkSession.builder().master("local[2]").appName("SparkCollectiveBench")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.barrier.sync.timeout", "120s");
    }
}
