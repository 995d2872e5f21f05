package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Test;

/** The shaded jar as users run it: {@code java -jar cli/target/layerkit.jar}, in a separate JVM. */
class DistributionIT {
    private static final Path JAR = Path.of(System.getProperty("layerkit.jar", "target/layerkit.jar"));

    record Proc(int exit, String out) {
    }

    static Proc run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.awt.headless=true", "-jar", JAR.toString()));
        Collections.addAll(cmd, args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
        return new Proc(p.exitValue(), out);
    }

    @Test
    void keepsEveryServicesLineOfEveryModule() throws IOException {
        assertTrue(Files.isRegularFile(JAR), JAR + " was not built");
        try (JarFile jar = new JarFile(JAR.toFile())) {
            for (String service : List.of("org.layerkit.api.BackendProvider", "org.layerkit.api.LayerFactory")) {
                ZipEntry e = jar.getEntry("META-INF/services/" + service);
                assertTrue(e != null, "no services file for " + service);
                String shaded;
                try (InputStream in = jar.getInputStream(e)) {
                    shaded = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
                // every line every module jar on the class path registers (the test-only provider aside)
                List<URL> sources = Collections.list(getClass().getClassLoader()
                        .getResources("META-INF/services/" + service));
                int lines = 0;
                for (URL u : sources) {
                    if (u.getPath().contains("test-classes")) {
                        continue;
                    }
                    try (InputStream in = u.openStream()) {
                        for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                            String l = line.replaceAll("#.*", "").trim();
                            if (!l.isEmpty()) {
                                lines++;
                                assertTrue(shaded.contains(l), l + " from " + u + " missing in the shaded " + service
                                        + ":\n" + shaded);
                            }
                        }
                    }
                }
                assertTrue(lines > 0, "no " + service + " registrations found on the class path");
            }
            assertEquals("org.layerkit.cli.Main", jar.getManifest().getMainAttributes().getValue("Main-Class"));
        }
    }

    @Test
    void runsWithExitCodes() throws Exception {
        Proc backends = run("backends");
        assertEquals(0, backends.exit(), backends.out());
        assertTrue(backends.out().contains("cpu") && backends.out().contains("opencl"), backends.out());
        Proc version = run("--version");
        assertEquals(0, version.exit(), version.out());
        assertTrue(version.out().startsWith("layerkit " + VersionProvider.version()), version.out());
        Proc usage = run("train", "--epochs", "many");
        assertEquals(2, usage.exit(), usage.out());
        assertTrue(usage.out().contains("Try 'layerkit train --help'"), usage.out());
        Proc conformance = run("conformance", "--backend", "cpu", "--include", "relu\\.forward");
        assertEquals(0, conformance.exit(), conformance.out());
        assertTrue(conformance.out().contains(" passed, 0 failed, 0 unsupported"), conformance.out());
    }

    @Test
    void exportsAnOnnxModelThatOnnxRuntimeLoads(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        // the shaded jar carries protobuf-java and the generated ONNX messages
        Path data = TinyIdx.write(dir.resolve("tiny"), 120, 30, 5);
        Path model = dir.resolve("m.lkm");
        Path onnx = dir.resolve("m.onnx");
        Proc train = run("train", "--dataset", "fashion-mnist", "--data-dir", data.toString(), "--val-size", "20",
                "--hidden", "8", "--epochs", "1", "--batch-size", "25", "--progress", "none", "--backend", "cpu",
                "--save", model.toString());
        assertEquals(0, train.exit(), train.out());
        Proc export = run("export", "--model", model.toString(), "--format", "onnx", "--out", onnx.toString());
        assertEquals(0, export.exit(), export.out());
        ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
        try (ai.onnxruntime.OrtSession s = env.createSession(onnx.toString(),
                new ai.onnxruntime.OrtSession.SessionOptions())) {
            assertEquals("layerkit", s.getMetadata().getProducerName());
            assertEquals(List.of("logits"), List.copyOf(s.getOutputNames()));
        }
    }
}
