package org.layerkit.spark;

import org.layerkit.api.CollectiveException;
import java.util.Locale;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.layerkit.api.Collective;

/**
 * A {@link Collective} over Spark's barrier execution mode: one barrier task per rank, every call one
 * {@link BarrierTaskContext#allGather} of a string, so it goes through the driver's barrier coordinator (fine for
 * batchnorm statistics and small models; see the README's limits). Rank = the task's partition, size = the stage's
 * task count.
 *
 * <p>Each message carries the call's kind and sequence number besides the doubles ({@link ExactDoubles}), so ranks
 * whose sequences of calls differ fail at the first call where they differ, on every rank, instead of pairing
 * unrelated calls; {@link SparkBarrier} makes one closing call after the replica's function returns, so a rank that
 * made fewer calls is caught at once too. A rank that stops calling altogether (stuck, or dead before Spark notices)
 * is caught by {@code spark.barrier.sync.timeout}, which {@link SparkBarrier} requires to be set. Confined to its task's
 * thread.
 */
public final class BarrierCollective implements Collective {
    /** The Spark setting that bounds every collective call's wait; {@link SparkBarrier} refuses to run without it. */
    public static final String TIMEOUT_CONF = "spark.barrier.sync.timeout";
    private static final String MAGIC = "lk1";

    /** What a call is; every rank's n-th call must be of the same kind. */
    enum Kind {
        ALL_GATHER("allGather"), BARRIER("barrier"), END("the end of the replica's function");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    private final BarrierTaskContext context;
    private final int rank;
    private final int size;
    private long calls;

    /** The collective of the barrier task running on this thread ({@code BarrierTaskContext.get()}). */
    public BarrierCollective(BarrierTaskContext context) {
        this.context = context;
        this.rank = context.partitionId();
        this.size = context.getTaskInfos().length;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public double[][] allGather(double[] local) {
        return exchange(Kind.ALL_GATHER, local);
    }

    @Override
    public void barrier() {
        exchange(Kind.BARRIER, new double[0]);
    }

    /** The closing call: every rank must arrive here having made the same calls. */
    void finish() {
        exchange(Kind.END, new double[0]);
    }

    /** The number of calls made so far (the closing one included). */
    long calls() {
        return calls;
    }

    private double[][] exchange(Kind kind, double[] local) {
        long seq = ++calls;
        String mine = MAGIC + " " + kind.name() + " " + seq + " " + ExactDoubles.encode(local);
        String[] all;
        try {
            all = context.allGather(mine);
        } catch (Exception e) {   // SparkException, thrown from Scala without a throws clause
            throw failed(kind, seq, local.length, e);
        }
        if (all.length != size) {
            throw new CollectiveException(where(kind, seq, local.length) + ": expected " + size
                    + " messages from Spark's allGather, got " + all.length);
        }
        double[][] out = new double[size][];
        for (int r = 0; r < size; r++) {
            String[] parts = all[r].split(" ", 4);
            if (parts.length != 4 || !parts[0].equals(MAGIC)) {
                throw new CollectiveException(where(kind, seq, local.length) + ": rank " + r
                        + " sent a message that is not a layerkit collective call ('"
                        + ExactDoubles.abbreviate(all[r]) + "'): every task of the barrier stage must use the same "
                        + "Collective for its allGather calls");
            }
            Kind theirs = Kind.valueOf(parts[1]);
            long theirSeq = Long.parseLong(parts[2]);
            if (theirs != kind || theirSeq != seq) {
                throw mismatch(kind, seq, local.length, r, theirs, theirSeq);
            }
            out[r] = r == rank ? local.clone() : ExactDoubles.decode(parts[3]);
        }
        return out;
    }

    private CollectiveException mismatch(Kind kind, long seq, int n, int other, Kind theirs, long theirSeq) {
        String them = theirs == Kind.END
                ? "rank " + other + " returned from its function after " + (theirSeq - 1) + " collective call(s)"
                : "rank " + other + "'s call #" + theirSeq + " is " + theirs.label;
        String me = kind == Kind.END
                ? "this rank returned after " + (seq - 1) + " call(s)"
                : "this rank's call #" + seq + " is " + describe(kind, n);
        return new CollectiveException("layerkit collective on Spark: rank " + rank + " of " + size
                + ": the ranks' collective calls differ: " + me + ", but " + them + ". Every rank must make the same "
                + "sequence of collective calls (a replica with no examples still joins every call)");
    }

    private CollectiveException failed(Kind kind, long seq, int n, Exception e) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("didn't get all barrier sync requests")) {
            return new CollectiveException(where(kind, seq, n) + ": not every rank made this call within "
                    + TIMEOUT_CONF + " = " + timeout() + ": another rank made fewer collective calls, stopped, or "
                    + "is still computing (raise " + TIMEOUT_CONF + " if a step legitimately takes longer). Every rank "
                    + "must make the same sequence of collective calls. Spark: " + msg, e);
        }
        return new CollectiveException(where(kind, seq, n) + " failed: " + msg, e);
    }

    private String where(Kind kind, long seq, int n) {
        return "layerkit collective on Spark: rank " + rank + " of " + size + ", call #" + seq + " ("
                + describe(kind, n) + ")";
    }

    private static String describe(Kind kind, int n) {
        return kind == Kind.ALL_GATHER ? String.format(Locale.ROOT, "allGather of %d doubles", n) : kind.label;
    }

    private static String timeout() {
        SparkEnv env = SparkEnv.get();
        return env == null ? "(unknown)" : env.conf().get(TIMEOUT_CONF, "365d (Spark's default)");
    }
}
