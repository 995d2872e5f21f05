package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import org.layerkit.opencl.tools.GpuCheck;

/** The GPU check tool, run at small sizes on whatever OpenCL device the tests have. */
class GpuCheckTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return GpuCheck.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void timesEveryOpAndGemmFormAtTheGivenSizes() {
        ClTestBackend.assumeAvailable();
        int status = run("--no-conformance", "--size", "64,32", "--size", "16,8", "--spatial", "2,4,3,3",
                "--groups", "2", "--gemm-shapes", "8x5x3", "--reps", "1", "--group-size", "64", "--option", "fuseColumns=on",
                "--conv-shapes", "2x3x5x6f4k3s1p1,1x1x4x4f2k1s2p0", "--pool-shapes", "2x3x4x6");
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, err.toString(StandardCharsets.UTF_8));
        assertTrue(text.contains("with options {groupSize=64, fuseColumns=on}"), text);
        for (String op : new String[] {"copy", "batchnorm.forward+backward", "layernorm.forward", "dropout.forward",
                "spatial_batchnorm.fwd+bwd", "groupnorm(G=2).forward", "gemm A·B ", "gemm Aᵀ·B", "gemm A·Bᵀ"}) {
            assertTrue(text.contains(op), op + " missing from:\n" + text);
        }
        assertTrue(text.contains("[64, 32]") || text.contains("[64,32]"), text);
        assertTrue(text.contains("8x5x3") && text.contains("5x8x3") && text.contains("8x3x5"), text);
        assertTrue(text.contains("gemm=clblast, per call") && text.contains("gemm=tiled, per call"), text);
        for (String conv : new String[] {"conv=im2col gemm=clblast, per call", "conv=im2col gemm=tiled, per call",
                "conv=direct, per call", "conv2d.forward+backward", "2x3x5x6f4k3s1p1", "1x1x4x4f2k1s2p0",
                "gemm W·cols (same FLOPs)", "maxpool2d(K=2,stride=2).fwd+bwd", "[2,3,4,6]"}) {
            assertTrue(text.contains(conv), conv + " missing from:\n" + text);
        }
    }

    @Test
    void runsTheSelectedConformanceCasesAndReportsThem() {
        ClTestBackend.assumeAvailable();
        int status = run("--no-timing", "--include", "dropout");
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, text + err.toString(StandardCharsets.UTF_8));
        assertTrue(text.contains("conformance: "), text);
    }

    @Test
    void badArgumentsExitWithUsage() {
        assertEquals(2, run("--size", "64"));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("--size expected 2 numbers separated by ',', got 64") && e.contains("usage:"), e);
        err.reset();
        assertEquals(2, run("--gemm-shapes", "8x5"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--gemm-shapes expected 3 numbers"), err.toString());
        err.reset();
        assertEquals(2, run("--conv-shapes", "2x3x5x5k3"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains(
                "conv shape expected NxCxHxWfFkKsSpP such as 128x32x14x14f64k3s1p1, got 2x3x5x5k3"), err.toString());
        err.reset();
        assertEquals(2, run("--option", "noequals"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--option expected KEY=VALUE, got noequals"));
    }
}
