package org.layerkit.spark;

import org.layerkit.api.CollectiveException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Collective over Spark's barrier mode on {@code local[2]}: exact bits in rank order, the in-order sum, and clear
 * errors — never a hang — for ranks whose calls differ, a rank that stops calling, and more replicas than slots. Every
 * test has a timeout, so a regression that hangs fails instead.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BarrierCollectiveTest {
    static final int SYNC_TIMEOUT_S = 6;
    /** The tag of the test that depends on Spark's coordinator timer (excluded by default, see spark/pom.xml). */
    static final String SPARK_TIMEOUT = "spark-timeout";
    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void startSpark() {
        spark = TestSpark.barrier("BarrierCollectiveTest", SYNC_TIMEOUT_S + "s");
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** Values whose bits text or arithmetic would lose, and rank-specific ones. */
    static double[] specials(int rank) {
        return new double[] {
                -0.0, 0.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MIN_NORMAL, Math.nextDown(Double.MIN_NORMAL),
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MAX_VALUE, Double.NaN,
                Double.longBitsToDouble(0x7ff8_0000_dead_beefL), Double.longBitsToDouble(0xfff8_0000_0000_0001L),
                Double.longBitsToDouble(0x7ff0_0000_0000_0001L), 0.1, 1.0 / 3, rank, -rank - 0.5};
    }

    /** Raw bits (a double's NaN payload does not survive Java serialization, which Spark's results go through). */
    static long[] bits(double[] values) {
        long[] out = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Double.doubleToRawLongBits(values[i]);
        }
        return out;
    }

    static void assertSameBits(long[] expected, long[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            int at = i;
            assertEquals(expected[i], actual[i],
                    () -> String.format("%s: index %d expected bits %016x, got %016x", what, at, expected[at],
                            actual[at]));
        }
    }

    static final long SIGNALING_NAN = 0x7ff4_0000_0000_0002L;

    @Test
    void allGatherReturnsEveryRanksExactBitsInRankOrder() {
        // the values are made on the executors and returned as raw bits
        List<long[][]> gathered = SparkBarrier.run(jsc, 2, c -> {
            double[] mine = c.rank() == 0 ? specials(0) : new double[] {Double.longBitsToDouble(SIGNALING_NAN)};
            double[][] first = c.allGather(mine);
            double[][] empty = c.allGather(new double[0]);
            c.barrier();
            assertEquals(2, empty.length);
            assertEquals(0, empty[0].length + empty[1].length);
            return new long[][] {bits(first[0]), bits(first[1])};
        });
        assertEquals(2, gathered.size());
        for (int r = 0; r < 2; r++) {
            long[][] g = gathered.get(r);
            assertEquals(2, g.length);
            assertSameBits(bits(specials(0)), g[0], "rank " + r + "'s copy of rank 0");
            assertSameBits(new long[] {SIGNALING_NAN}, g[1], "rank " + r + "'s copy of rank 1");
        }
    }

    @Test
    void allReduceSumIsTheInOrderSumOnEveryRankBitForBit() {
        int c = 256;
        double[][] local = new double[2][];
        for (int r = 0; r < 2; r++) {
            Random random = new Random(r);
            local[r] = new double[2 * c + 1];
            for (int i = 0; i < local[r].length; i++) {
                local[r][i] = random.nextGaussian() * Math.scalb(1.0, random.nextInt(80) - 40);
            }
        }
        double[] expected = new double[2 * c + 1];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = local[0][i] + local[1][i];
        }
        List<long[]> sums = SparkBarrier.run(jsc, 2, col -> bits(col.allReduceSum(local[col.rank()])));
        assertSameBits(bits(expected), sums.get(0), "rank 0's sum");
        assertSameBits(bits(expected), sums.get(1), "rank 1's sum");
    }

    @Test
    void replicasOverDataPartitionsSeeTheirOwnRowsAndTheGlobalSum() {
        List<Integer> rows = IntStream.rangeClosed(1, 10).boxed().toList();
        List<double[]> results = SparkBarrier.run(jsc.parallelize(rows, 2), (it, c) -> {
            double local = 0;
            while (it.hasNext()) {
                local += it.next();
            }
            double[] sum = c.allReduceSum(new double[] {local});
            return new double[] {c.rank(), local, sum[0]};
        });
        assertEquals(List.of(0.0, 15.0, 55.0), List.of(results.get(0)[0], results.get(0)[1], results.get(0)[2]));
        assertEquals(List.of(1.0, 40.0, 55.0), List.of(results.get(1)[0], results.get(1)[1], results.get(1)[2]));
    }

    @Test
    void aRankThatMakesFewerCallsFailsEveryRankAtOnceNamingTheCalls() {
        CollectiveException e = assertThrows(CollectiveException.class, () -> SparkBarrier.run(jsc, 2, c -> {
            c.allGather(new double[] {1});
            if (c.rank() == 0) {
                c.allGather(new double[] {2, 3});
            }
            return 0;
        }));
        String m = e.getMessage();
        assertTrue(m.contains("the ranks' collective calls differ"), m);
        assertTrue(m.contains("rank 0 of 2") && m.contains("call #2 is allGather of 2 doubles")
                || m.contains("rank 1 of 2") && m.contains("rank 0's call #2 is allGather"), m);
        assertTrue(m.contains("returned") && m.contains("after 1 "), m);
        assertTrue(m.contains("Every rank must make the same sequence of collective calls"), m);
    }

    @Test
    void ranksCallingDifferentCollectivesFailNamingBoth() {
        CollectiveException e = assertThrows(CollectiveException.class, () -> SparkBarrier.run(jsc, 2, c -> {
            if (c.rank() == 0) {
                c.barrier();
            } else {
                c.allGather(new double[] {1});
            }
            return 0;
        }));
        String m = e.getMessage();
        assertTrue(m.contains("call #1 is barrier") && m.contains("call #1 is allGather"), m);
    }

    /**
     * Relies on Spark's barrier coordinator firing its {@code spark.barrier.sync.timeout} timer on time, which the
     * test cannot control: it passed in every run on an idle or moderately loaded machine, but in one run of the test
     * command on two cores at load ≈ 10 the coordinator completed the sync only when the stuck rank gave up after 60 s
     * (its timer had not fired), so the test would make the test command depend on the machine's load. It is
     * therefore outside the default run: {@code mvn -pl spark -am verify -Dspark.test.excludedGroups= -Dgroups=spark-timeout
     * -Dtest=BarrierCollectiveTest -Dsurefire.failIfNoSpecifiedTests=false} runs it (docs/reliability.md).
     */
    @Test
    @Tag(SPARK_TIMEOUT)
    void aRankThatStopsCallingFailsWithinTheSyncTimeout() {
        long start = System.nanoTime();
        CollectiveException e = assertThrows(CollectiveException.class, () -> SparkBarrier.run(jsc, 2, c -> {
            if (c.rank() == 1) {   // stuck (until Spark kills the stage's tasks)
                TaskContext task = TaskContext.get();
                for (int i = 0; i < 600 && !task.isInterrupted(); i++) {
                    Thread.sleep(100);
                }
                return 1;
            }
            c.allGather(new double[] {1});
            return 0;
        }));
        double seconds = (System.nanoTime() - start) / 1e9;
        String m = e.getMessage();
        assertTrue(m.contains("rank 0 of 2, call #1 (allGather of 1 doubles): not every rank made this call within "
                + "spark.barrier.sync.timeout = " + SYNC_TIMEOUT_S + "s"), m);
        // failed by the timeout, not by the stuck rank's own 60 s
        assertTrue(seconds < 50, "took " + seconds + " s");
    }

    @Test
    void moreReplicasThanTaskSlotsFailWithAClearError() {
        CollectiveException e = assertThrows(CollectiveException.class, () -> SparkBarrier.run(jsc, 3, c -> 0));
        String m = e.getMessage();
        assertTrue(m.contains("runs 3 replicas as 3 tasks that must all run at once, but the cluster has fewer task "
                + "slots (master local[2] has 2)"), m);
        assertTrue(m.contains("Spark checked 2 times, every 1s"), m);
        // and Spark works on afterwards
        assertEquals(List.of(0, 1), SparkBarrier.run(jsc, 2, c -> c.rank()));
    }
}
