package org.layerkit.api;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A {@link Collective} over threads of one JVM: {@link #group(int)} gives R instances sharing a rendezvous, one per
 * replica thread. Each call waits until all R ranks have made their k-th call, checks that they made the same call
 * (an all-gather against a barrier is a mismatch; all-gathers may carry arrays of different lengths), and hands
 * every rank the same copies in rank order.
 *
 * <p>Failures break the group for everyone, at once: a mismatch fails all ranks with a message listing each rank's
 * call; a rank that does not arrive within the timeout (default {@link #DEFAULT_TIMEOUT}) fails those waiting with
 * the ranks that are missing; {@link #abort} fails the others with its cause. Every later call throws too.
 */
public final class InProcessCollective implements Collective {
    /** How long a call waits for the other ranks by default. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private final Rendezvous rv;
    private final int rank;

    private InProcessCollective(Rendezvous rv, int rank) {
        this.rv = rv;
        this.rank = rank;
    }

    /** {@code size} instances, ranks 0 … size − 1, sharing one rendezvous, with the default timeout. */
    public static List<Collective> group(int size) {
        return group(size, DEFAULT_TIMEOUT);
    }

    /** {@code size} ≥ 1 instances sharing one rendezvous; a call fails after waiting {@code timeout} for the rest. */
    public static List<Collective> group(int size, Duration timeout) {
        if (size < 1) {
            throw Contracts.bad("collective.group", "size", ">= 1", size);
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw Contracts.bad("collective.group", "timeout", "a positive duration", timeout);
        }
        Rendezvous rv = new Rendezvous(size, timeout);
        List<Collective> g = new ArrayList<>(size);
        for (int r = 0; r < size; r++) {
            g.add(new InProcessCollective(rv, r));
        }
        return List.copyOf(g);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return rv.size;
    }

    @Override
    public double[][] allGather(double[] data) {
        if (data == null) {
            throw Contracts.bad("collective.allGather", "data", "an array of doubles", "null");
        }
        return rv.exchange(rank, "allGather", data.clone());
    }

    @Override
    public void barrier() {
        rv.exchange(rank, "barrier", null);
    }

    @Override
    public void abort(Throwable cause) {
        rv.abort(rank, cause);
    }

    @Override
    public String toString() {
        return "InProcessCollective[rank " + rank + " of " + rv.size + "]";
    }

    /** The state shared by a group: one round of calls at a time, each rank's k-th call meeting the others'. */
    private static final class Rendezvous {
        final int size;
        final long timeoutNanos;
        final Duration timeout;
        /** Completed rounds. */
        long round;
        /** Ranks arrived in the current round, what each called and gave. */
        int arrived;
        final String[] calls;
        final double[][] slots;
        /** The last completed round's result; valid until every rank has read it (no round completes before). */
        double[][] result;
        /** Set once: every call after it throws. */
        CollectiveException failure;

        Rendezvous(int size, Duration timeout) {
            this.size = size;
            this.timeout = timeout;
            this.timeoutNanos = timeout.toNanos();
            this.calls = new String[size];
            this.slots = new double[size][];
        }

        synchronized double[][] exchange(int rank, String call, double[] data) {
            String what = call + (data == null ? "" : "(" + data.length + " doubles)");
            if (failure != null) {
                throw broken(rank, what);
            }
            if (calls[rank] != null) {
                // cannot happen with one thread per rank: its previous call returned only after its round completed
                throw fail(new CollectiveException("collective: rank " + rank + " expected one call at a time, got "
                        + what + " while its " + calls[rank] + " of round " + round + " is pending"));
            }
            calls[rank] = what;
            slots[rank] = data;
            arrived++;
            long myRound = round;
            if (arrived == size) {
                // the last to arrive checks the calls match, then publishes
                for (int r = 0; r < size; r++) {
                    if (!calls[r].startsWith(call + (data == null ? "" : "("))
                            || (data == null) != (slots[r] == null)) {
                        throw fail(new CollectiveException("collective: call " + (round + 1) + " expected the same"
                                + " call on every rank, got " + describeCalls()));
                    }
                }
                result = slots.clone();
                Arrays.fill(calls, null);
                Arrays.fill(slots, null);
                arrived = 0;
                round++;
                notifyAll();
                return copies(result);
            }
            long deadline = System.nanoTime() + timeoutNanos;
            while (round == myRound && failure == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    List<Integer> missing = new ArrayList<>();
                    for (int r = 0; r < size; r++) {
                        if (calls[r] == null) {
                            missing.add(r);
                        }
                    }
                    throw fail(new CollectiveException("collective: rank " + rank + " waited " + timeout
                            + " at call " + (round + 1) + " (" + what + ") for rank(s) " + missing
                            + " that never arrived; arrived: " + describeCalls()
                            + ". Every rank must make the same collective calls in the same order"));
                }
                try {
                    wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw fail(new CollectiveException("collective: rank " + rank + " interrupted while waiting at "
                            + "call " + (round + 1) + " (" + what + ")", e));
                }
            }
            if (round == myRound) {
                throw broken(rank, what);
            }
            return copies(result);
        }

        synchronized void abort(int rank, Throwable cause) {
            if (failure == null) {
                fail(new CollectiveException("collective: rank " + rank + " failed: " + cause, cause));
            }
        }

        private CollectiveException fail(CollectiveException e) {
            if (failure == null) {
                failure = e;
            }
            notifyAll();
            return e;
        }

        private CollectiveException broken(int rank, String what) {
            return new CollectiveException("collective: rank " + rank + "'s " + what + " expected a working group, got"
                    + " one broken by an earlier failure: " + failure.getMessage(), failure);
        }

        private String describeCalls() {
            StringBuilder sb = new StringBuilder();
            for (int r = 0; r < size; r++) {
                sb.append(r == 0 ? "" : ", ").append("rank ").append(r).append(' ')
                        .append(calls[r] == null ? "(not arrived)" : calls[r]);
            }
            return sb.toString();
        }

        private static double[][] copies(double[][] all) {
            double[][] c = new double[all.length][];
            for (int r = 0; r < all.length; r++) {
                c[r] = all[r] == null ? null : all[r].clone();
            }
            return c;
        }
    }
}
