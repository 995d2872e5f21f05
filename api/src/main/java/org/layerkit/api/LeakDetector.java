package org.layerkit.api;

import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The safety net under "the caller closes what an op returns", shared by every backend: a tensor that becomes
 * unreachable without {@link Tensor#close()} still gets its storage released — each {@link TrackedStorage} is a
 * phantom reference to its tensor that holds only the storage, never the tensor, as {@link java.lang.ref.Cleaner}'s
 * cleanables do (never a finalizer) — and the leak is reported, in the manner of Netty's
 * {@code ResourceLeakDetector}, so that the missing {@code close()} can be found. The references the collector
 * queues are released by a daemon thread, {@code layerkit-tensor-cleaner}, and by every allocation of a tracked
 * tensor (which drains the queue first, so that a loop that leaks reuses its own garbage without waiting for the
 * thread).
 *
 * <p><b>Levels</b> (system property {@value #PROPERTY}, read once when this class loads, or {@link #setLevel}):
 * <ul>
 *   <li>{@code sampled} (the default): the allocation site (a stack trace) of 1 in {@value #SAMPLING_INTERVAL}
 *       tensors is recorded; a reclaimed tensor with a recorded site is reported once per site, with the site; the
 *       first reclaimed tensor without one is reported once, saying how to see every site;</li>
 *   <li>{@code paranoid}: every allocation site is recorded (a stack trace per tensor: for finding a leak, not for
 *       production);</li>
 *   <li>{@code off}: nothing is recorded or reported. The safety net still releases unreachable tensors.</li>
 * </ul>
 * Reports go to {@link System.Logger} {@code org.layerkit.api.LeakDetector} at WARNING, like the rest of the api's
 * logging. Releasing on the garbage collector's schedule is a last resort: device memory is invisible to the Java
 * heap, so a backend whose storage lives outside it asks its {@link StorageTracker} to nudge the collector as its
 * live bytes grow (see there); a program that closes its tensors never pays for either.
 */
public final class LeakDetector {
    /** The level of leak detection. */
    public enum Level {
        /** No allocation sites recorded, no reports; unreachable tensors are still released. */
        OFF,
        /** The allocation site of 1 in {@value LeakDetector#SAMPLING_INTERVAL} tensors; each leaking site once. */
        SAMPLED,
        /** The allocation site of every tensor; each leaking site once. */
        PARANOID
    }

    /** The system property that sets the level: {@code off}, {@code sampled} or {@code paranoid}. */
    public static final String PROPERTY = "layerkit.leakDetection";
    /** Under {@link Level#SAMPLED}, one allocation in this many records its site. */
    public static final int SAMPLING_INTERVAL = 128;
    /** Frames of an allocation site shown in a report. */
    static final int SHOWN_FRAMES = 24;
    /** Sites remembered as reported; beyond this many, new sites are no longer reported. */
    static final int MAX_REMEMBERED_SITES = 4096;

    /** Queued references an allocation releases at most before it goes on (the thread takes the rest). */
    static final int DRAIN_MAX = 64;

    private static final System.Logger LOG = System.getLogger(LeakDetector.class.getName());
    /** Where the collector puts every tracked storage whose tensor became unreachable. */
    static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<>();

    static {
        Thread t = new Thread(LeakDetector::releaseQueued, "layerkit-tensor-cleaner");
        t.setDaemon(true);
        t.start();
    }
    private static volatile Level level = parse(System.getProperty(PROPERTY));
    private static final Set<String> REPORTED = ConcurrentHashMap.newKeySet();
    private static final AtomicLong RECLAIMED = new AtomicLong();
    private static final AtomicBoolean UNRECORDED_REPORTED = new AtomicBoolean();

    private LeakDetector() {
    }

    /** Where a tensor was allocated: a stack trace, recorded when sampled. */
    static final class AllocationSite extends Throwable {
        private static final long serialVersionUID = 1L;

        AllocationSite() {
            super("allocated here", null, false, true);
        }
    }

    /** The daemon thread: releases queued storages as the collector queues them, for the life of the JVM. */
    private static void releaseQueued() {
        while (true) {
            try {
                Reference<?> r = QUEUE.remove();
                ((TrackedStorage) r).end(TrackedStorage.Release.RECLAIMED);
            } catch (InterruptedException e) {
                // a daemon: nobody should interrupt it, and it goes on if someone does
            } catch (RuntimeException | Error e) {
                LOG.log(System.Logger.Level.WARNING, "releasing the storage of an unreachable tensor failed", e);
            }
        }
    }

    /**
     * Releases up to {@link #DRAIN_MAX} queued storages on the calling thread (each allocation does). A release that
     * fails is logged, not thrown: the storage may belong to another backend than the caller's.
     */
    static void drain() {
        for (int i = 0; i < DRAIN_MAX; i++) {
            Reference<?> r = QUEUE.poll();
            if (r == null) {
                return;
            }
            try {
                ((TrackedStorage) r).end(TrackedStorage.Release.RECLAIMED);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "releasing the storage of an unreachable tensor failed", e);
            }
        }
    }

    /** The level in force. */
    public static Level level() {
        return level;
    }

    /** Sets the level for tensors allocated from now on (tests, or an application that wants it in code). */
    public static void setLevel(Level l) {
        if (l == null) {
            throw new IllegalArgumentException("LeakDetector.setLevel: level expected OFF, SAMPLED or PARANOID, "
                    + "got null");
        }
        level = l;
    }

    /**
     * How many tensors, of every backend, the garbage collector has found unreachable and unclosed since the JVM
     * started (each of them was released by the safety net).
     */
    public static long reclaimedCount() {
        return RECLAIMED.get();
    }

    /** Forgets which sites were reported (tests). */
    static void forgetReports() {
        REPORTED.clear();
        UNRECORDED_REPORTED.set(false);
    }

    /** The level a property value names; an unknown value logs a warning and means {@code sampled}. */
    static Level parse(String value) {
        if (value == null || value.isBlank()) {
            return Level.SAMPLED;
        }
        switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "off", "disabled", "false" -> {
                return Level.OFF;
            }
            case "sampled", "simple", "on", "true" -> {
                return Level.SAMPLED;
            }
            case "paranoid", "all" -> {
                return Level.PARANOID;
            }
            default -> {
                LOG.log(System.Logger.Level.WARNING, PROPERTY + " expected off, sampled or paranoid, got '" + value
                        + "'; using sampled");
                return Level.SAMPLED;
            }
        }
    }

    /** The site of an allocation happening now, if the level records it (always under PARANOID), else null. */
    static AllocationSite sample() {
        Level l = level;
        if (l == Level.OFF) {
            return null;
        }
        if (l == Level.SAMPLED && ThreadLocalRandom.current().nextInt(SAMPLING_INTERVAL) != 0) {
            return null;
        }
        return new AllocationSite();
    }

    /** Called when a tensor that became unreachable unclosed has had its storage released (by the thread or a drain). */
    static void leaked(TrackedStorage s, String backend) {
        RECLAIMED.incrementAndGet();
        if (level == Level.OFF) {
            return;
        }
        String what = "a tensor " + s.shape() + " of backend '" + backend + "' (" + s.bytes() + " bytes)";
        AllocationSite site = s.site();
        if (site == null) {
            if (UNRECORDED_REPORTED.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.WARNING, "LEAK: " + what + " was not closed, and the garbage collector "
                        + "found it unreachable; its storage was released, but late: close every tensor an op "
                        + "returns (try-with-resources). Its allocation site was not recorded (" + PROPERTY + "="
                        + level.name().toLowerCase(Locale.ROOT) + " records 1 in " + SAMPLING_INTERVAL
                        + "); run with -D" + PROPERTY + "=paranoid to see where every leaked tensor was allocated. "
                        + "This message is shown once.");
            }
            return;
        }
        String frames = frames(site);
        if (REPORTED.size() >= MAX_REMEMBERED_SITES || !REPORTED.add(frames)) {
            return; // reported before (or thousands of sites already: the first ones name the problem)
        }
        LOG.log(System.Logger.Level.WARNING, "LEAK: " + what + " was not closed, and the garbage collector found it "
                + "unreachable; its storage was released, but late: close every tensor an op returns "
                + "(try-with-resources). It was allocated at:" + frames
                + "\n(each allocation site is reported once)");
    }

    /** The site's frames from the first one outside the tracking machinery, one per line. */
    static String frames(AllocationSite site) {
        StackTraceElement[] st = site.getStackTrace();
        StringBuilder b = new StringBuilder();
        int shown = 0;
        boolean started = false;
        for (StackTraceElement e : st) {
            if (!started && (e.getClassName().equals(StorageTracker.class.getName())
                    || e.getClassName().equals(LeakDetector.class.getName()))) {
                continue;
            }
            started = true;
            if (shown++ == SHOWN_FRAMES) {
                b.append("\n\t...");
                break;
            }
            b.append("\n\tat ").append(e);
        }
        return b.toString();
    }
}
