package org.layerkit.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The safety net under forgotten close(): counting, release on close / on reclamation / on backend close, leak
 * reports once per allocation site, and the garbage-collector nudges. Reclamation depends on the collector, so the
 * tests that wait for it poll {@link System#gc()} up to a generous number of rounds instead of timing anything.
 */
class StorageTrackerTest {
    /** Rounds of System.gc() a test waits for the cleaner at most (each a collection plus a short pause). */
    private static final int GC_ROUNDS = 200;

    private final List<String> reports = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            reports.add(r.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    private LeakDetector.Level levelBefore;

    @BeforeEach
    void captureLeakReports() {
        levelBefore = LeakDetector.level();
        Logger.getLogger(LeakDetector.class.getName()).addHandler(capture);
    }

    @AfterEach
    void restore() {
        Logger.getLogger(LeakDetector.class.getName()).removeHandler(capture);
        LeakDetector.setLevel(levelBefore);
    }

    /** A storage that records how it was released. */
    static final class Recorded extends TrackedStorage {
        final List<Release> frees = new CopyOnWriteArrayList<>();

        Recorded(Object owner, StorageTracker t, long bytes) {
            super(owner, t, bytes);
        }

        @Override
        protected void free(Release reason) {
            frees.add(reason);
        }
    }

    /** A stand-in tensor: the object the tracker watches. */
    static final class Owner {
        final Recorded storage;

        Owner(StorageTracker t, long bytes, Shape shape) {
            storage = new Recorded(this, t, bytes);
            t.track(storage, shape);
        }
    }

    /** Polls System.gc() until {@code done}, for at most {@link #GC_ROUNDS} rounds; returns the rounds it took. */
    private static int gcUntil(java.util.function.BooleanSupplier done) throws InterruptedException {
        for (int round = 0; round < GC_ROUNDS; round++) {
            if (done.getAsBoolean()) {
                return round;
            }
            System.gc();
            Thread.sleep(5);
        }
        return done.getAsBoolean() ? GC_ROUNDS : -1;
    }

    @Test
    void closingReleasesOnceAndUncounts() {
        StorageTracker t = new StorageTracker("test", 0);
        Owner a = new Owner(t, 100, Shape.of(25));
        Owner b = new Owner(t, 40, Shape.of(10));
        assertEquals(2, t.liveCount());
        assertEquals(140, t.liveBytes());
        assertTrue(a.storage.close());
        assertFalse(a.storage.close(), "closing twice releases nothing more");
        assertEquals(List.of(TrackedStorage.Release.CLOSED), a.storage.frees);
        assertEquals(TrackedStorage.Release.CLOSED, a.storage.released());
        assertEquals(1, t.liveCount());
        assertEquals(40, t.liveBytes());
        assertTrue(b.storage.isOpen());
        b.storage.close();
        assertEquals(0, t.liveCount());
        assertEquals(0, t.reclaimedCount(), "nothing leaked");
    }

    @Test
    void anUnreachableUnclosedOwnerIsReclaimedAndReportedOncePerSite() throws Exception {
        LeakDetector.setLevel(LeakDetector.Level.PARANOID);
        StorageTracker t = new StorageTracker("test", 0);
        List<Recorded> storages = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            storages.add(leakOne(t)); // the same allocation site three times
        }
        assertEquals(3, t.liveCount());
        // the count drops when a storage is unlinked; its free, the reclaimed count and the report follow on the
        // releasing thread, so wait for all of them
        int rounds = gcUntil(() -> t.liveCount() == 0 && t.reclaimedCount() == 3
                && storages.stream().allMatch(s -> !s.frees.isEmpty())
                && reports.stream().anyMatch(m -> m.contains("leakOne")));
        assertTrue(rounds >= 0, "the cleaner did not release and report every storage after " + GC_ROUNDS
                + " collections; live " + t.liveCount() + ", reclaimed " + t.reclaimedCount() + ", reports " + reports);
        for (Recorded s : storages) {
            assertEquals(List.of(TrackedStorage.Release.RECLAIMED), s.frees, "released once, as reclaimed");
        }
        assertEquals(3, t.reclaimedCount());
        List<String> leaks = reports.stream().filter(m -> m.contains("leakOne")).toList();
        assertEquals(1, leaks.size(), "one report for the one allocation site, got " + reports);
        String m = leaks.get(0);
        assertTrue(m.startsWith("LEAK: a tensor [4,8] of backend 'test' (128 bytes) was not closed"), m);
        assertTrue(m.contains("allocated at:\n\tat org.layerkit.api.StorageTrackerTest$Owner.<init>"), m);
        assertTrue(m.contains("StorageTrackerTest.leakOne(StorageTrackerTest.java:"), m);
    }

    /** Allocates an owner and drops it. */
    private static Recorded leakOne(StorageTracker t) {
        return new Owner(t, 128, Shape.of(4, 8)).storage;
    }

    @Test
    void withoutARecordedSiteTheFirstLeakSaysHowToSeeSites() {
        LeakDetector.setLevel(LeakDetector.Level.SAMPLED);
        LeakDetector.forgetReports();
        StorageTracker t = new StorageTracker("test", 0);
        Recorded s = new Recorded(new Object(), null, 12);
        s.shape = Shape.of(3);
        LeakDetector.leaked(s, "test");
        LeakDetector.leaked(s, "test");
        List<String> leaks = reports.stream().filter(m -> m.contains("a tensor [3] of backend 'test'")).toList();
        assertEquals(1, leaks.size(), "reported once: " + reports);
        assertTrue(leaks.get(0).contains("run with -Dlayerkit.leakDetection=paranoid to see where every leaked tensor"
                + " was allocated"), leaks.get(0));
        assertEquals(0, t.liveCount());
    }

    @Test
    void offRecordsAndReportsNothingButStillReleases() throws Exception {
        LeakDetector.setLevel(LeakDetector.Level.OFF);
        StorageTracker t = new StorageTracker("test", 0);
        Recorded s = leakOne(t);
        assertTrue(gcUntil(() -> t.liveCount() == 0 && !s.frees.isEmpty()) >= 0, "not reclaimed");
        assertEquals(List.of(TrackedStorage.Release.RECLAIMED), s.frees);
        assertTrue(reports.stream().noneMatch(m -> m.contains("[4,8]")), "off reports nothing: " + reports);
        assertNull(s.site(), "off records no site");
    }

    @Test
    void closingTheBackendReleasesEveryLiveStorageAndRefusesNewOnes() {
        StorageTracker t = new StorageTracker("test", 0);
        Owner a = new Owner(t, 8, Shape.of(2));
        Owner b = new Owner(t, 8, Shape.of(2));
        b.storage.close();
        t.closeAll();
        assertEquals(List.of(TrackedStorage.Release.BACKEND_CLOSED), a.storage.frees);
        assertEquals(List.of(TrackedStorage.Release.CLOSED), b.storage.frees);
        assertEquals(0, t.liveCount());
        assertFalse(a.storage.close(), "closing a tensor of a closed backend releases nothing more");
        Object owner = new Object();
        Recorded late = new Recorded(owner, t, 8);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.track(late, Shape.of(2)));
        assertEquals("allocate: expected an open backend, got the closed backend 'test'", e.getMessage());
        assertEquals(List.of(TrackedStorage.Release.BACKEND_CLOSED), late.frees, "a refused storage is released");
        t.closeAll(); // idempotent
    }

    @Test
    void aLeakingLoopIsKeptNearTheNudgeThresholdByCollections() throws Exception {
        LeakDetector.setLevel(LeakDetector.Level.OFF);
        long threshold = 1 << 20;
        StorageTracker t = new StorageTracker("test", threshold);
        long peak = 0;
        for (int i = 0; i < 4000; i++) {
            leakOne(t, 4096); // 16 MiB dropped in all
            peak = Math.max(peak, t.liveBytes());
        }
        assertTrue(t.gcNudges() > 0, "the tracker never nudged the collector");
        // the loop may outrun the cleaner for a while; once it has caught up, the leak is gone
        assertTrue(gcUntil(() -> t.liveBytes() <= threshold) >= 0, "live bytes " + t.liveBytes());
        assertTrue(t.reclaimedCount() > 0);
    }

    private static void leakOne(StorageTracker t, long bytes) {
        new Owner(t, bytes, Shape.of(1));
    }

    @Test
    void memoryInRealUseRaisesTheThresholdInsteadOfCollectingOverAndOver() {
        LeakDetector.setLevel(LeakDetector.Level.OFF);
        StorageTracker t = new StorageTracker("test", 1 << 20);
        List<Owner> kept = new ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            kept.add(new Owner(t, 64 << 10, Shape.of(1))); // 64 MiB held, none of it garbage
        }
        // thresholds 1, 2 (raised after the first nudge found nothing), 4, … 64 MiB: a nudge per doubling
        assertTrue(t.gcNudges() <= 8, t.gcNudges() + " collections for 64 MiB in use");
        for (Owner o : kept) {
            o.storage.close();
        }
        assertEquals(0, t.liveCount());
    }

    @Test
    void theLevelPropertyAcceptsOffSampledParanoid() {
        assertEquals(LeakDetector.Level.SAMPLED, LeakDetector.parse(null));
        assertEquals(LeakDetector.Level.OFF, LeakDetector.parse("off"));
        assertEquals(LeakDetector.Level.SAMPLED, LeakDetector.parse(" Sampled "));
        assertEquals(LeakDetector.Level.PARANOID, LeakDetector.parse("PARANOID"));
        assertEquals(LeakDetector.Level.SAMPLED, LeakDetector.parse("loud"));
        assertTrue(reports.stream().anyMatch(m -> m.equals("layerkit.leakDetection expected off, sampled or "
                + "paranoid, got 'loud'; using sampled")), reports.toString());
    }

    @Test
    void sampledLevelRecordsAboutOneSiteIn128() {
        LeakDetector.setLevel(LeakDetector.Level.SAMPLED);
        int recorded = 0;
        int n = 128 * 400;
        for (int i = 0; i < n; i++) {
            if (LeakDetector.sample() != null) {
                recorded++;
            }
        }
        // binomial(51200, 1/128): mean 400, sd 20; ±6 sd
        assertTrue(recorded > 280 && recorded < 520, recorded + " sites recorded of " + n);
    }
}
