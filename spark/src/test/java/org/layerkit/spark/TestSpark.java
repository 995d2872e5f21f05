package org.layerkit.spark;

import org.apache.spark.sql.SparkSession;

/** The tests' Spark: {@code local[2]}, no UI, loopback only. One session per test class (stopped in its @AfterAll);
 * public for the jobs' tests in {@code org.layerkit.spark.jobs}. */
public final class TestSpark {
    private TestSpark() {
    }

    public static SparkSession.Builder local2(String app) {
        return SparkSession.builder().master("local[2]").appName(app)
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2");
    }

    /**
     * {@link #local2} for barrier stages: {@code spark.barrier.sync.timeout} as given, and a stage needing more slots
     * than the cluster has failing after one re-check 1 s later (Spark's default: 40 re-checks, 15 s apart).
     */
    public static SparkSession barrier(String app, String syncTimeout) {
        return local2(app)
                .config(BarrierCollective.TIMEOUT_CONF, syncTimeout)
                .config(SparkBarrier.SLOTS_CHECK_FAILURES, "1")
                .config(SparkBarrier.SLOTS_CHECK_INTERVAL, "1s")
                .getOrCreate();
    }
}
