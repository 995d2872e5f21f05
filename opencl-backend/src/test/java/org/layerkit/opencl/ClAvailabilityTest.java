package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Availability;

/** Availability in a JVM whose OpenCL ICD loader finds no driver: the reason says what to install. */
class ClAvailabilityTest {

    /** Prints the provider's availability; run in a child JVM. */
    public static void main(String[] args) {
        Availability a = new ClBackendProvider().availability();
        System.out.println(a.isAvailable() ? "available" : a.describe());
    }

    @Test
    void withoutAnyRegisteredDriverTheReasonSaysWhatToInstall(@TempDir Path noVendors)
            throws IOException, InterruptedException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                ClAvailabilityTest.class.getName());
        // ocl-icd reads the drivers from this directory instead of /etc/OpenCL/vendors
        pb.environment().put("OCL_ICD_VENDORS", noVendors.toString());
        pb.redirectErrorStream(true);
        Path log = Files.createTempFile(noVendors.getParent(), "availability", ".txt");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        // a guard against a hung child only (it starts a JVM and asks for platforms): no speed is asserted
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "the child JVM did not finish in 10 minutes");
        String out = Files.readString(log, StandardCharsets.UTF_8).strip();
        Files.delete(log);
        assertEquals(0, p.exitValue(), out);
        // no ICD: "no OpenCL platform: install an ICD ..."; no ICD loader at all: "libOpenCL.so not found: install ..."
        assertTrue(out.startsWith("no OpenCL platform: install an ICD")
                || out.startsWith("libOpenCL.so not found: install ocl-icd-opencl-dev"), out);
        assertTrue(out.contains("pocl-opencl-icd"), out);
    }
}
