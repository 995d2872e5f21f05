package org.layerkit.api;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.PhantomReference;

/**
 * The storage behind one tensor (a heap array, a device buffer) as its backend's {@link StorageTracker} tracks it:
 * released exactly once, for one of three reasons — the tensor was closed, the garbage collector found the tensor
 * unreachable unclosed, or the backend closed. A backend subclasses it with the handle to release; the subclass
 * must never reference the tensor (its fields are strongly reachable until the release, and a storage that reached
 * its tensor would keep it reachable forever).
 *
 * <p>It is itself the phantom reference to its tensor (one object per tensor, as {@link java.lang.ref.Cleaner}'s
 * cleanables are, without the cleaner's second list): when the collector finds the tensor unreachable it queues this
 * storage, and {@link LeakDetector}'s thread, or the tracker's next allocation, releases it.
 *
 * <p>Thread-safe: the release happens once whichever thread gets there first; the others see
 * {@link #isOpen()} false.
 */
public abstract class TrackedStorage extends PhantomReference<Object> {
    /** Why a storage was released. */
    public enum Release {
        /** Its tensor was closed. */
        CLOSED,
        /** Its tensor became unreachable without being closed (a leak, reported by {@link LeakDetector}). */
        RECLAIMED,
        /** Its backend was closed. */
        BACKEND_CLOSED
    }

    private static final VarHandle HOW;

    static {
        try {
            HOW = MethodHandles.lookup().findVarHandle(TrackedStorage.class, "how", Release.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long bytes;
    /** Null while open, then why it was released. */
    private volatile Release how;
    /** The tracker of the owner's backend; null for a storage made without one (tests). */
    final StorageTracker tracker;
    // set by the tracker
    LeakDetector.AllocationSite site;
    Shape shape;
    /** The tracker's list of live storages (guarded by its lock). */
    TrackedStorage prev;
    TrackedStorage next;
    /** Whether the tracker linked it (guarded by its lock). */
    boolean linked;

    /**
     * The storage of {@code owner} (the tensor), {@code bytes} bytes, tracked by {@code tracker} (pass it to
     * {@link StorageTracker#track} next, from the owner's constructor).
     */
    protected TrackedStorage(Object owner, StorageTracker tracker, long bytes) {
        super(owner, tracker == null ? null : tracker.queue());
        this.tracker = tracker;
        this.bytes = bytes;
    }

    /**
     * Releases the storage: called exactly once, on the thread that closed the tensor, the cleaner's thread, or the
     * thread that closed the backend. It must not throw for an ordinary release; it may be called on the cleaner's
     * thread while other threads use the backend, so it takes the backend's own locks as any release does.
     */
    protected abstract void free(Release reason);

    /** The bytes this storage counts for. */
    public final long bytes() {
        return bytes;
    }

    /** The shape of the tensor it backs (set when tracked). */
    public final Shape shape() {
        return shape;
    }

    /** Whether it has not been released yet. */
    public final boolean isOpen() {
        return how == null;
    }

    /** Why it was released, or null while open. */
    public final Release released() {
        return how;
    }

    /** Where its tensor was allocated, when {@link LeakDetector} recorded it; else null. */
    final LeakDetector.AllocationSite site() {
        return site;
    }

    /** Releases it because its tensor was closed; false if it was released before (closing twice is harmless). */
    public final boolean close() {
        return end(Release.CLOSED);
    }

    /** Releases it for {@code reason} unless it was released before; returns whether this call released it. */
    final boolean end(Release reason) {
        StorageTracker t = tracker;
        if (t != null) {
            if (!t.unlinkIfOpen(this, reason)) {
                return false;
            }
        } else if (!HOW.compareAndSet(this, (Release) null, reason)) {
            return false;
        }
        // (no clear(): unlinked from the tracker, this reference is reachable only through its tensor now, so the
        // collector finds both unreachable together and never queues it; clear() would cost a native call)
        try {
            free(reason);
        } finally {
            if (t != null) {
                t.freed(this, reason);
            }
        }
        return true;
    }

    /** Marks it released for {@code reason}: the tracker's half of {@link #end}, under its lock. */
    final boolean markReleased(Release reason) {
        return HOW.compareAndSet(this, (Release) null, reason);
    }

}
