package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The first OpenCL calls of a process made by several threads at once — replicas or Spark tasks opening their
 * backends together, each through its own provider instance — agree: every thread sees the devices, and opens a backend and computes on it. (Two Spark tasks
 * in one JVM once disagreed, one told "platforms found but no usable device".) Run in a child JVM, so that the calls
 * really are the process's first.
 */
class ClConcurrentProbeTest {
    static final int THREADS = 8;

    /** Starts THREADS threads that ask fresh providers for availability at once; prints one line per thread. */
    public static void main(String[] args) throws InterruptedException {
        CountDownLatch go = new CountDownLatch(1);
        String[] seen = new String[THREADS];
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int i = t;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                Availability a = new ClBackendProvider().availability();
                if (!a.isAvailable()) {
                    seen[i] = a.describe();
                    return;
                }
                seen[i] = "available " + new ClBackendProvider().devices().size() + " device(s)";
                // and each opens its own backend and computes on it, all at once
                try (Backend b = Backends.get("opencl"); Tensor x = b.upload(new float[] {-1, 2}, Shape.of(2));
                     Tensor y = b.relu(x)) {
                    seen[i] += java.util.Arrays.equals(y.toArray(), new float[] {0, 2}) ? ", relu ok" : ", relu wrong";
                } catch (RuntimeException e) {
                    seen[i] += ", open failed: " + e;
                }
            });
            th.start();
            threads.add(th);
        }
        go.countDown();
        for (Thread th : threads) {
            th.join();
        }
        for (String s : seen) {
            System.out.println(s);
        }
    }

    @Test
    void threadsProbingAtOnceInAFreshProcessAllSeeTheDevices(@TempDir Path dir) throws Exception {
        Availability here = new ClBackendProvider().availability();
        Assumptions.assumeTrue(here.isAvailable(), "no OpenCL device");
        String expected = "available " + new ClBackendProvider().devices().size() + " device(s), relu ok";
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                ClConcurrentProbeTest.class.getName());
        Path log = dir.resolve("probe.txt");
        pb.redirectErrorStream(true);
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        // a guard against a hung child only: no speed is asserted
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "the child JVM did not finish in 10 minutes");
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().filter(l -> l.startsWith("available") || l.contains("OpenCL")).toList();
        assertEquals(THREADS, lines.size(), out);
        for (String l : lines) {
            assertEquals(expected, l, () -> "each of " + THREADS + " threads expected what this JVM sees:\n" + out);
        }
    }
}
