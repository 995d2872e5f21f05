package org.layerkit.api;

import java.lang.ref.ReferenceQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One backend's record of the storage behind its open tensors: it counts them ({@link #liveCount()},
 * {@link #liveBytes()}), releases the storage of a tensor dropped without {@code close()} once the garbage collector
 * has found it (each {@link TrackedStorage} is a phantom reference to its tensor, queued then; the queue is drained by
 * {@link LeakDetector}'s daemon thread and by every allocation), and releases all of them when the backend closes
 * ({@link #closeAll()}), after which every tensor of the backend refuses use.
 *
 * <p><b>Nudging the garbage collector.</b> A dropped tensor is released only after a garbage collection has found it
 * unreachable, and a tensor object is a few dozen bytes of heap however large its device buffer: a loop that drops
 * its results could fill a GPU long before the Java heap asks for a collection. A tracker created with a positive
 * {@code gcNudgeBytes} therefore calls {@link System#gc()} when its live bytes pass a threshold, which starts at
 * {@code gcNudgeBytes}; if a nudge released less than a quarter of the threshold, the memory is in real use and the
 * threshold doubles, so a program that closes its tensors sees at most a few collections (one per doubling of its
 * peak) and a leaking one stays near the threshold. The CPU backend's storage is heap memory that the collector
 * sees anyway, so it does not nudge. {@link #reclaimUnreachable()} is the last resort of an allocation that ran
 * out of device memory.
 *
 * <p>Thread-safe.
 */
public final class StorageTracker {
    /** Bounded waits of {@link #reclaimUnreachable()}: 1, 2, 4, … ms, at most this many times. */
    static final int RECLAIM_WAITS = 10;

    private final String backend;
    private final long gcNudgeBytes;
    private final Object lock = new Object();
    /** The live storages as a doubly linked list (guarded by lock). */
    private TrackedStorage head;
    private long count;
    private long bytes;
    private boolean closed;
    /** Releases under way (between marking a storage released and its free returning). */
    private final AtomicInteger freeing = new AtomicInteger();
    // GC nudges (guarded by lock)
    private long nudgeAt;
    private long quietUntil;
    private boolean nudged;
    private final AtomicLong reclaimedSinceNudge = new AtomicLong();
    private final AtomicLong reclaimed = new AtomicLong();
    private final AtomicLong nudges = new AtomicLong();

    /**
     * A tracker for the backend named {@code backend}; {@code gcNudgeBytes} &gt; 0 makes it nudge the garbage
     * collector as its live bytes pass that many (see the class comment), 0 never.
     */
    public StorageTracker(String backend, long gcNudgeBytes) {
        if (gcNudgeBytes < 0) {
            throw new IllegalArgumentException("StorageTracker: gcNudgeBytes expected >= 0, got " + gcNudgeBytes);
        }
        this.backend = backend;
        this.gcNudgeBytes = gcNudgeBytes;
        this.nudgeAt = gcNudgeBytes;
    }

    /** The queue every tracked storage is put on when its tensor becomes unreachable. */
    ReferenceQueue<Object> queue() {
        return LeakDetector.QUEUE;
    }

    /**
     * Starts tracking {@code storage}, made for this tracker by its tensor's constructor (of shape {@code shape}):
     * counts it as live and records its allocation site when {@link LeakDetector} samples it; the storage is
     * released if the tensor becomes unreachable unclosed. Also releases the storage of tensors found unreachable
     * since the last allocation. If the backend has closed meanwhile, releases the storage and throws
     * {@link IllegalStateException}.
     */
    public void track(TrackedStorage storage, Shape shape) {
        if (storage.tracker != this) {
            throw new IllegalArgumentException("StorageTracker.track: storage expected one made for this tracker, got "
                    + "one of " + storage.tracker);
        }
        LeakDetector.drain();
        storage.shape = shape;
        storage.site = LeakDetector.sample();
        boolean nudge = false;
        boolean refused;
        synchronized (lock) {
            refused = closed;
            if (!closed) {
                storage.linked = true;
                storage.next = head;
                if (head != null) {
                    head.prev = storage;
                }
                head = storage;
                count++;
                bytes += storage.bytes();
                nudge = nudgeDue();
            }
        }
        if (refused) {
            storage.end(TrackedStorage.Release.BACKEND_CLOSED);
            throw Contracts.closedBackend("allocate", backend);
        }
        if (nudge) {
            nudges.incrementAndGet();
            System.gc();
        }
    }

    /** Whether this allocation should nudge the collector (under lock); updates the threshold. */
    private boolean nudgeDue() {
        if (gcNudgeBytes == 0 || bytes <= nudgeAt || bytes <= quietUntil) {
            return false;
        }
        if (nudged && reclaimedSinceNudge.get() < nudgeAt / 4) {
            // the last nudge found little garbage: this memory is in use, so wait for twice as much
            nudgeAt = Math.max(2 * nudgeAt, bytes);
        }
        nudged = true;
        reclaimedSinceNudge.set(0);
        // the cleaner needs a moment after the collection: no second nudge before another threshold's worth of growth
        // (or until the live bytes have dropped below the threshold)
        quietUntil = bytes + nudgeAt;
        return true;
    }

    /** Marks {@code s} released and unlinks it, if it is still open; false if it was released before. */
    boolean unlinkIfOpen(TrackedStorage s, TrackedStorage.Release reason) {
        synchronized (lock) {
            if (!s.markReleased(reason)) {
                return false;
            }
            freeing.incrementAndGet();
            if (!s.linked) {
                return true; // refused by track(): never counted
            }
            s.linked = false;
            if (s.prev != null) {
                s.prev.next = s.next;
            } else if (head == s) {
                head = s.next;
            }
            if (s.next != null) {
                s.next.prev = s.prev;
            }
            s.prev = null;
            s.next = null;
            count--;
            bytes -= s.bytes();
            if (bytes < nudgeAt) {
                quietUntil = 0;
            }
            return true;
        }
    }

    /** After the free of a storage this tracker unlinked: counts and reports a reclaimed (leaked) one. */
    void freed(TrackedStorage s, TrackedStorage.Release reason) {
        if (reason == TrackedStorage.Release.RECLAIMED) {
            reclaimed.incrementAndGet();
            reclaimedSinceNudge.addAndGet(s.bytes());
            freeing.decrementAndGet();
            LeakDetector.leaked(s, backend);
        } else {
            freeing.decrementAndGet();
        }
    }

    /** Tensors whose storage is held: allocated and not yet closed, reclaimed or released by {@link #closeAll}. */
    public long liveCount() {
        LeakDetector.drain();
        synchronized (lock) {
            return count;
        }
    }

    /** Bytes of {@link #liveCount()}'s storages. */
    public long liveBytes() {
        LeakDetector.drain();
        synchronized (lock) {
            return bytes;
        }
    }

    /** Tensors of this backend that the garbage collector found unreachable unclosed (leaks), so far. */
    public long reclaimedCount() {
        return reclaimed.get();
    }

    /** How many times this tracker has called {@link System#gc()} because its live bytes grew. */
    public long gcNudges() {
        return nudges.get();
    }

    /** Whether {@link #closeAll()} has been called. */
    public boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /**
     * Releases every storage still live, for a backend that is closing, and refuses to track any more; returns once
     * every release under way on other threads (the cleaner's) has finished too. Call it before releasing what the
     * storages' {@link TrackedStorage#free} needs (a device context), and without holding a lock that free takes.
     * Idempotent.
     */
    public void closeAll() {
        List<TrackedStorage> live = new ArrayList<>();
        synchronized (lock) {
            closed = true;
            for (TrackedStorage s = head; s != null; s = s.next) {
                live.add(s);
            }
        }
        RuntimeException first = null;
        for (TrackedStorage s : live) {
            try {
                s.end(TrackedStorage.Release.BACKEND_CLOSED);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        while (freeing.get() > 0) {
            Thread.onSpinWait(); // a release on another thread (the leak detector's): a few microseconds
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * The last resort of an allocation that failed for lack of memory: asks the garbage collector for unreachable
     * tensors and waits (briefly, a few hundred milliseconds at most) for the cleaner to release their storage.
     * Returns whether anything was released meanwhile, i.e. whether retrying the allocation may succeed. Must be
     * called without holding a lock that a release takes.
     */
    public boolean reclaimUnreachable() {
        long before = reclaimed.get();
        System.gc();
        for (int i = 0; i < RECLAIM_WAITS; i++) {
            LeakDetector.drain();
            if (reclaimed.get() != before && freeing.get() == 0) {
                return true;
            }
            try {
                Thread.sleep(1L << i);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return reclaimed.get() != before;
    }
}
