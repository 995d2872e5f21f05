package org.layerkit.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;

/**
 * The ONNX project's own checker accepts every exported model: Debian's python3-onnx (1.12, opsets up to 17; installed
 * by scripts/setup.sh) runs {@code onnx.checker.check_model(full_check=True)}, which checks the IR version, every
 * node against its operator's schema at the imported opset, and the shapes by strict shape inference. Opsets 18 to
 * 21 are newer than that checker; ONNX Runtime loading and running them (OnnxRuntimeAgreementTest) checks those.
 */
class OnnxCheckerTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static final String CHECK = String.join("\n",
            "import sys, onnx",
            "for path in sys.argv[1:]:",
            "    m = onnx.load(path)",
            "    onnx.checker.check_model(m, full_check=True)",
            "    print('ok', path, m.ir_version, m.opset_import[0].version)");

    @TempDir
    static Path dir;
    static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    /** The onnx module's version, or null when python3-onnx is not installed. */
    static String checkerVersion() throws Exception {
        if (!Files.isExecutable(Path.of(PYTHON))) {
            return null;
        }
        Process p = new ProcessBuilder(PYTHON, "-c", "import onnx; print(onnx.__version__, "
                + "onnx.defs.onnx_opset_version())").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : null;
    }

    @Test
    void theOnnxCheckerAcceptsEveryExportUpToItsNewestOpset() throws Exception {
        String version = checkerVersion();
        Assumptions.assumeTrue(version != null, "python3-onnx is not installed (scripts/setup.sh installs it): "
                + "skipping the ONNX checker");
        int newest = Integer.parseInt(version.split(" ")[1]);
        List<Consumer<Nets>> nets = List.of(
                n -> n.affine(12, 8).batchNorm(8).relu().dropout(0.5).affine(8, 10),
                n -> n.affine(12, 8).layerNorm(8).relu().affine(8, 10),
                n -> n.affine(12, 10));
        List<String> files = new ArrayList<>();
        int count = 0;
        for (int opset = OnnxExporter.MIN_OPSET; opset <= Math.min(newest, OnnxExporter.MAX_OPSET); opset++) {
            for (Consumer<Nets> build : nets) {
                files.add(write(build, new int[] {12}, opset, "mlp" + count++));
            }
            files.add(write(n -> n.spatialBatchNorm(4).relu().groupNorm(4, 2), new int[] {4, 3, 3}, opset,
                    "spatial" + count++));
            files.add(write(n -> n.conv(1, 4, 3, 1, 1, true).spatialBatchNorm(4).relu().maxPool(2, 2)
                    .conv(4, 4, 3, 2, 1, false).groupNorm(4, 2).relu().spatialDropout(0.5).flatten().affine(16, 10),
                    new int[] {1, 8, 8}, opset, "cnn" + count++));
            files.add(write(n -> n.conv(1, 4, 3, 1, 0, true).relu().globalAvgPool().affine(4, 10),
                    new int[] {1, 6, 6}, opset, "cnn-gap" + count++));
        }
        List<String> cmd = new ArrayList<>(List.of(PYTHON, "-c", CHECK));
        cmd.addAll(files);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(120, TimeUnit.SECONDS);
        assertEquals(0, p.exitValue(), () -> "onnx " + version + " checker:\n" + out);
        assertEquals(files.size(), out.lines().filter(l -> l.startsWith("ok ")).count(), out);
    }

    private static String write(Consumer<Nets> build, int[] shape, int opset, String name) throws IOException {
        try (Nets nets = new Nets(backend, 5)) {
            build.accept(nets);
            int features = java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            Path file = dir.resolve(name + "-opset" + opset + ".onnx");
            OnnxExporter.write(OnnxExporter.builder().opset(opset).build().export(nets.layers, shape,
                    nets.standardizer(features, 1), Map.of("class_names", "a,b")), file);
            return file.toString();
        }
    }
}
