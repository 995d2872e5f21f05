package org.layerkit.spark;

import org.apache.spark.sql.SparkSession;

/** The tests' Spark: {@code local[2]}, no UI, loopback only. One session per test class (stopped in its @AfterAll). */
final class TestSpark {
    private TestSpark() {
    }

    static SparkSession.Builder local2(String app) {
        return SparkSession.builder().master("local[2]").appName(app)
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2");
    }
}
