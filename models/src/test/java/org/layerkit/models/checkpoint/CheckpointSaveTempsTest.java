package org.layerkit.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.Normalization;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.SyntheticData;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;
import org.layerkit.models.train.Solver;
import org.layerkit.models.train.SolverConfig;

/**
 * Interrupted and concurrent saves: the temporary file of a save killed mid-write is removed by the next save, one
 * of a live writer (another thread, another process) never is, and concurrent saves to one path always leave a
 * complete file — with real processes ({@link SaveWorker}) as well as threads.
 */
class CheckpointSaveTempsTest {
    private static Backend backend;
    private static final Dataset DATA = SyntheticData.blobs("blobs", 120, 6, 4, 3);

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    /** A small trained batch-norm net. */
    private Path trained(Path file) throws IOException {
        FullyConnectedNetConfig c = FullyConnectedNetConfig.builder(6, 4).hidden(9, 7)
                .normalization(Normalization.BATCH).heInit().seed(11).build();
        try (SequentialNet net = new SequentialNet(backend, c);
             Optimizer adam = OptimizerConfig.adam(5e-3).create(net.parameters())) {
            new Solver(net, adam, DATA, DATA.slice(0, 20), SolverConfig.builder().epochs(1).batchSize(16).build())
                    .train();
            Checkpoint.of(net, adam, Map.of(Checkpoint.EPOCHS_COMPLETED, "1")).save(file);
        }
        return file;
    }

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    // ---------------------------------------------------------------------------------------- orphaned temporaries

    private Path temp(String target, String owner) throws IOException {
        return Files.createFile(dir.resolve("." + target + "." + (owner == null ? "" : owner + ".") + "4242.tmp"));
    }

    @Test
    void aTemporaryFileOfADeadWriterIsRemovedByTheNextSaveOneOfALiveWriterNever() throws Exception {
        Path file = trained(dir.resolve("m.lkm"));
        String own = SaveTemps.owner();
        org.junit.jupiter.api.Assumptions.assumeTrue(own != null, "process identity needs Linux's /proc");
        String key = own.substring(0, 8);
        Process live = new ProcessBuilder("sleep", "60").start();
        try {
            String liveOwner = SaveTemps.owner(live.toHandle());
            Process gone = new ProcessBuilder("sleep", "60").start();
            String goneOwner = SaveTemps.owner(gone.toHandle());
            gone.destroyForcibly();
            assertTrue(gone.waitFor(10, TimeUnit.SECONDS));
            assertTrue(liveOwner != null && goneOwner != null, "start times of child processes are readable");
            long livePid = live.pid();
            long liveStart = Long.parseLong(liveOwner.substring(liveOwner.lastIndexOf('-') + 1));
            String otherKey = (key.charAt(0) == '0' ? "1" : "0") + key.substring(1);

            Path ofLive = temp("m.lkm", liveOwner);
            Path ofThisProcess = temp("m.lkm", own);
            Path ofOtherHost = temp("m.lkm", otherKey + "-" + livePid + "-" + (liveStart + 1));
            Path ofOtherTarget = Files.createFile(dir.resolve(".n.lkm." + goneOwner + ".1.tmp"));
            Path freshLegacy = temp("m.lkm", null);
            Path ofDead = Files.createFile(dir.resolve(".m.lkm." + goneOwner + ".7.tmp"));
            Path ofReusedPid = Files.createFile(dir.resolve(".m.lkm." + key + "-" + livePid + "-" + (liveStart - 5000)
                    + ".8.tmp"));
            Path oldLegacy = Files.createFile(dir.resolve(".m.lkm.99.tmp"));
            Files.setLastModifiedTime(oldLegacy,
                    FileTime.from(Instant.now().minus(SaveTemps.LEGACY_AGE).minusSeconds(60)));

            Checkpoint.load(file).save(file);

            for (Path kept : List.of(ofLive, ofThisProcess, ofOtherHost, ofOtherTarget, freshLegacy)) {
                assertTrue(Files.exists(kept), () -> "must not be touched: " + kept.getFileName());
            }
            for (Path removed : List.of(ofDead, ofReusedPid, oldLegacy)) {
                assertFalse(Files.exists(removed), () -> "an orphan, expected removed: " + removed.getFileName());
            }
            live.destroy();
            assertTrue(live.waitFor(10, TimeUnit.SECONDS));
            Checkpoint.load(file).save(file);
            assertFalse(Files.exists(ofLive), "its writer has exited now");
        } finally {
            live.destroyForcibly();
        }
    }

    private static ProcessBuilder worker(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), SaveWorker.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true);
    }

    @Test
    void aSaveInAnotherProcessCaughtMidWriteIsLeftAloneUntilItIsKilled() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(SaveTemps.owner() != null, "process identity needs /proc");
        Path file = trained(dir.resolve("m.lkm"));
        Process holder = worker("hold", file.toString()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                    StandardCharsets.UTF_8));
            String line = out.readLine();
            assertTrue(line != null && line.startsWith("ready "), "worker said: " + line);
            Path itsTemp = dir.resolve(line.substring("ready ".length()));
            assertTrue(Files.exists(itsTemp));

            Checkpoint.load(file).save(file); // while the other process is mid-write
            assertTrue(Files.exists(itsTemp), "a live writer's temporary file was deleted");
            Checkpoint.load(file);

            holder.destroyForcibly(); // kill -9: its temporary file stays behind, as after a crash
            assertTrue(holder.waitFor(10, TimeUnit.SECONDS));
            assertTrue(Files.exists(itsTemp));
            Checkpoint.load(file).save(file);
            assertEquals(List.of(file), listDir(), "the orphan is removed by the next save");
        } finally {
            holder.destroyForcibly();
        }
    }

    // ---------------------------------------------------------------------------------------- concurrent saves

    /** Loads {@code file} while {@code running}; every load must be a complete file of one of the markers. */
    private static int loadWhile(Path file, java.util.function.BooleanSupplier running, float... markers)
            throws IOException {
        int loads = 0;
        while (running.getAsBoolean()) {
            if (Files.exists(file)) {
                Checkpoint c = Checkpoint.load(file); // throws on a partial or mixed file
                float m = c.tensors().get("0.W").data()[SaveWorker.FLOATS - 1];
                assertTrue(m == markers[0] || m == markers[1], "unexpected marker " + m);
                assertEquals(Float.toString(m), c.metadata().get("marker"), "tensor and metadata of one save");
                loads++;
            }
        }
        return loads;
    }

    @Test
    void twoProcessesSavingToOnePathAtOnceAlwaysLeaveACompleteFile() throws Exception {
        Path file = dir.resolve("shared.lkm");
        Process a = worker("save", file.toString(), "1.5", "25").start();
        Process b = worker("save", file.toString(), "2.5", "25").start();
        try {
            int loads = loadWhile(file, () -> a.isAlive() || b.isAlive(), 1.5f, 2.5f);
            assertTrue(a.waitFor(60, TimeUnit.SECONDS) && b.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, a.exitValue(), () -> output(a));
            assertEquals(0, b.exitValue(), () -> output(b));
            assertTrue(loads > 0, "the file was never seen while the writers ran");
            float last = Checkpoint.load(file).tensors().get("0.W").data()[0];
            assertTrue(last == 1.5f || last == 2.5f, "last writer wins: " + last);
            assertEquals(List.of(file), listDir(), "no temporary file left by either process");
        } finally {
            a.destroyForcibly();
            b.destroyForcibly();
        }
    }

    @Test
    void twoThreadsSavingToOnePathAtOnceAlwaysLeaveACompleteFile() throws Exception {
        Path file = dir.resolve("shared.lkm");
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> writers = new ArrayList<>();
        for (float marker : new float[] {1.5f, 2.5f}) {
            Checkpoint c = SaveWorker.marked(marker);
            Thread t = new Thread(() -> {
                try {
                    for (int i = 0; i < 15; i++) {
                        c.save(file); // each save opens its own channel on its own temporary file
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            writers.add(t);
            t.start();
        }
        loadWhile(file, () -> writers.stream().anyMatch(Thread::isAlive), 1.5f, 2.5f);
        for (Thread t : writers) {
            t.join();
        }
        assertEquals(List.of(), failures);
        assertEquals(List.of(file), listDir(), "no temporary file left by either thread");
    }

    private static String output(Process p) {
        try {
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
