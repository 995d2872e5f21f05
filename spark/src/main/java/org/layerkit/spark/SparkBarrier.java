package org.layerkit.spark;

import org.layerkit.api.CollectiveException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.layerkit.api.Collective;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Runs one replica per partition in Spark's barrier execution mode (Spark gang-schedules the tasks: all start
 * together, or none), each with a {@link BarrierCollective}, and returns each replica's result in rank order. Driver
 * side.
 *
 * <p>Errors are clear rather than hangs: the run refuses to start without {@code spark.barrier.sync.timeout} (Spark's
 * default is 365 days), a replica's {@link CollectiveException} comes back as itself (not buried in Spark's job-abort
 * text), and a stage needing more task slots than the cluster has is a {@link CollectiveException} saying so — after
 * Spark's own check has given up, which it retries {@code spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures}
 * times (default 40) every {@code …interval} (default 15 s) in case executors are still joining.
 */
public final class SparkBarrier {
    static final String SLOTS_CHECK_FAILURES = "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures";
    static final String SLOTS_CHECK_INTERVAL = "spark.scheduler.barrier.maxConcurrentTasksCheck.interval";

    private SparkBarrier() {
    }

    /** A replica's work given only its collective (it makes or reads its own data, e.g. by rank). */
    @FunctionalInterface
    public interface ReplicaFunction<R> extends Serializable {
        R run(Collective collective) throws Exception;
    }

    /** A replica's work over its partition's rows. */
    @FunctionalInterface
    public interface PartitionFunction<T, R> extends Serializable {
        R run(Iterator<T> rows, Collective collective) throws Exception;
    }

    /** Runs {@code replica} on {@code replicas} barrier tasks; the results indexed by rank. */
    public static <R> List<R> run(JavaSparkContext sc, int replicas, ReplicaFunction<R> replica) {
        if (replicas < 1) {
            throw new IllegalArgumentException("SparkBarrier.run: replicas expected >= 1, got " + replicas);
        }
        JavaRDD<Integer> ranks = sc.parallelize(IntStream.range(0, replicas).boxed().toList(), replicas);
        return run(ranks, (rows, collective) -> replica.run(collective));
    }

    /**
     * Runs {@code replica} once per partition of {@code data} (rank = partition index; repartition to R partitions
     * first for R replicas); the results indexed by rank.
     */
    public static <T, R> List<R> run(JavaRDD<T> data, PartitionFunction<T, R> replica) {
        SparkConf conf = data.context().getConf();
        if (!conf.contains(BarrierCollective.TIMEOUT_CONF)) {
            throw new IllegalStateException("SparkBarrier.run: " + BarrierCollective.TIMEOUT_CONF + " expected to be "
                    + "set, got Spark's default of 365 days, with which a rank that skips a collective call would hang "
                    + "the job for a year: set it when building the session or with spark-submit --conf "
                    + BarrierCollective.TIMEOUT_CONF + "=300s (longer than the slowest step between two calls)");
        }
        int replicas = data.getNumPartitions();
        RDD<Result<R>> results = data.rdd().barrier().mapPartitions(new Replica<>(replica), false, classTag());
        List<Result<R>> collected;
        try {
            collected = results.toJavaRDD().collect();
        } catch (Exception e) {   // SparkException, thrown from Scala without a throws clause
            throw explain(e, replicas, data.context().master(), conf);
        }
        List<R> out = new ArrayList<>(replicas);
        for (int r = 0; r < collected.size(); r++) {
            if (collected.get(r).rank != r) {
                throw new IllegalStateException("SparkBarrier.run: result " + r + " expected from rank " + r
                        + ", got rank " + collected.get(r).rank);
            }
            out.add(collected.get(r).value);
        }
        return out;
    }

    /** A replica's result tagged with its rank. */
    record Result<R>(int rank, R value) implements Serializable {
    }

    /** The barrier task: the user's function, then the closing collective call. */
    private static final class Replica<T, R>
            extends AbstractFunction1<scala.collection.Iterator<T>, scala.collection.Iterator<Result<R>>>
            implements Serializable {
        private static final long serialVersionUID = 1L;
        private final PartitionFunction<T, R> replica;

        Replica(PartitionFunction<T, R> replica) {
            this.replica = replica;
        }

        @Override
        public scala.collection.Iterator<Result<R>> apply(scala.collection.Iterator<T> rows) {
            BarrierCollective collective = new BarrierCollective(BarrierTaskContext.get());
            R value;
            try {
                value = replica.run(CollectionConverters.asJava(rows), collective);
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new RuntimeException("replica " + collective.rank() + " of " + collective.size() + " failed: "
                        + e.getMessage(), e);
            }
            collective.finish();
            return CollectionConverters.asScala(List.of(new Result<>(collective.rank(), value)).iterator());
        }
    }

    @SuppressWarnings("unchecked")
    private static <R> ClassTag<Result<R>> classTag() {
        return (ClassTag<Result<R>>) (ClassTag<?>) ClassTag$.MODULE$.apply(Result.class);
    }

    /** A replica's CollectiveException as itself; a slot shortage explained; anything else unchanged. */
    static RuntimeException explain(Exception e, int replicas, String master, SparkConf conf) {
        // a failed barrier stage reports its task's exception in its message text, not as a cause
        String prefix = CollectiveException.class.getName() + ": ";
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CollectiveException c) {
                return new CollectiveException(c.getMessage(), e);
            }
            String msg = String.valueOf(t.getMessage());
            int at = msg.indexOf(prefix);
            if (at >= 0) {
                int end = msg.indexOf('\n', at);
                return new CollectiveException(msg.substring(at + prefix.length(), end < 0 ? msg.length() : end), e);
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            String msg = String.valueOf(t.getMessage());
            if (msg.contains("more slots than the total number of slots")
                    || t.getClass().getSimpleName().equals("BarrierJobSlotsNumberCheckFailed")) {
                Integer slots = localSlots(master);
                return new CollectiveException("layerkit on Spark: the barrier stage runs " + replicas + " replicas "
                        + "as " + replicas + " tasks that must all run at once, but the cluster has fewer task slots ("
                        + (slots != null ? "master " + master + " has " + slots : "master " + master) + "); give "
                        + "fewer replicas (partitions), or more executors or cores (slots = executors × "
                        + "spark.executor.cores / spark.task.cpus). Spark checked " + (1 + conf.getInt(
                        SLOTS_CHECK_FAILURES, 40)) + " times, every " + conf.get(SLOTS_CHECK_INTERVAL, "15s")
                        + " (" + SLOTS_CHECK_FAILURES + ", " + SLOTS_CHECK_INTERVAL + ")", e);
            }
        }
        return e instanceof RuntimeException r ? r : new RuntimeException(e.getMessage(), e);
    }

    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+)(,\\d+)?]");

    /** The task slots of a {@code local[N]} master, else null. */
    private static Integer localSlots(String master) {
        Matcher m = LOCAL.matcher(master);
        if (m.matches()) {
            return Integer.parseInt(m.group(1));
        }
        return master.equals("local") ? 1 : null;
    }
}
