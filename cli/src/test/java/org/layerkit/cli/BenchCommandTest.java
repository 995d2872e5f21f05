package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.cli.testing.UnavailableBackendProvider;

class BenchCommandTest {
    private static final String[] TINY = {"--shape", "64x32,4x8x3x3", "--repeats", "3", "--warmup", "1", "--warmup-ms", "0",
            "--copy-mib", "4", "--conv", "2x3x6x6:4:3:1", "--pool", "2x4x6x6:2:2"};

    @Test
    void timesEveryOpOnTinyShapesAndWritesCsv(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("sub/bench.csv");
        Cli.Run r = Cli.run(concat(new String[] {"bench", "--backend", "cpu", "--csv", csv.toString()}, TINY));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("host memory copy"), r::toString);
        for (String op : List.of("batchnorm", "spatial_batchnorm", "layernorm", "groupnorm(G=8)", "dropout")) {
            assertTrue(r.out().contains(op), () -> op + " missing\n" + r);
        }
        List<String> lines = Files.readAllLines(csv);
        // header + batchnorm, layernorm, dropout on 64x32 + spatial batchnorm, groupnorm on 4x8x3x3 (dropout runs
        // on rank-4 shapes only when no rank-2 shape is given) + conv2d and maxpool2d on their specs
        assertEquals(8, lines.size(), () -> String.join("\n", lines));
        assertTrue(lines.get(0).startsWith("backend,device,op,shape,fwd_ms,fwd_bwd_ms"), lines.get(0));
        String bn = lines.stream().filter(l -> l.startsWith("cpu,") && l.contains(",batchnorm,")).findFirst()
                .orElseThrow();
        // batchnorm [64,32]: forward 2n + 8F floats (x in, out out), backward 3n + 4F floats
        long n = 64 * 32;
        long f = 32;
        assertTrue(bn.contains("," + 4 * (2 * n + 8 * f) + "," + 4 * (5 * n + 12 * f) + ","), bn);
    }

    @Test
    void convolutionIsReportedInGflopsNextToTheGemmOfTheSameShapes(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("conv.csv");
        Cli.Run r = Cli.run(concat(new String[] {"bench", "--backend", "cpu", "--ops", "conv2d,maxpool2d", "--csv",
                csv.toString()}, TINY));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("GEMM GF/s") && r.out().contains("conv2d(F=4,K=3,pad=1)"), r::toString);
        assertTrue(r.out().contains("maxpool2d(K=2,S=2)"), r::toString);
        List<String> lines = Files.readAllLines(csv);
        assertEquals(3, lines.size(), () -> String.join("\n", lines));
        String conv = lines.stream().filter(l -> l.contains("conv2d(")).findFirst().orElseThrow();
        // 2·N·F·C·K²·H'·W' = 2·2·4·3·9·6·6 forward FLOPs, three times that forward + backward
        long flops = 2L * 2 * 4 * 3 * 9 * 6 * 6;
        assertTrue(conv.contains("," + flops + "," + 3 * flops + ","), conv);
        String pool = lines.stream().filter(l -> l.contains("maxpool2d(")).findFirst().orElseThrow();
        // n = 288 inputs, m = 72 outputs: forward n + 2m floats, forward + backward 2n + 4m
        assertTrue(pool.contains("," + 4 * (288 + 2 * 72) + "," + 4 * (2 * 288 + 4 * 72) + ","), pool);
    }

    @Test
    void badConvAndPoolSpecsAreUsageErrors() {
        assertEquals(2, Cli.run("bench", "--conv", "128x1x28x28:32:3").exit());
        assertEquals(2, Cli.run("bench", "--conv", "1x1x2x2:1:7:0").exit());
        assertEquals(2, Cli.run("bench", "--pool", "1x1x2x2:3:1").exit());
        assertEquals(2, Cli.run("bench", "--pool", "1x1x4x4:x:1").exit());
    }

    @Test
    void allComparesEveryAvailableBackendAndSkipsUnavailableOnes() {
        Cli.Run r = Cli.run(concat(new String[] {"bench", "--backend", "all", "--ops", "dropout"}, TINY));
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("skipping " + UnavailableBackendProvider.NAME + ": unavailable: "
                + UnavailableBackendProvider.REASON), r::toString);
        assertTrue(r.out().contains("f+b vs "), r::toString);
    }

    @Test
    void explicitUnavailableBackendFailsWithTheReason() {
        Cli.Run r = Cli.run(concat(new String[] {"bench", "--backend", UnavailableBackendProvider.NAME}, TINY));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains(UnavailableBackendProvider.REASON), r::toString);
        assertFalse(r.err().contains("\tat "), r::toString);
        assertFalse(r.out().contains("timing on"), "must not fall back to another backend\n" + r);
    }

    @Test
    void badShapeAndOpAreUsageErrors() {
        assertEquals(2, Cli.run("bench", "--shape", "64xbanana").exit());
        assertEquals(2, Cli.run("bench", "--shape", "4x4x4").exit());
        assertEquals(2, Cli.run("bench", "--ops", "softmax").exit());
        assertEquals(2, Cli.run("bench", "--repeats", "0").exit());
    }

    @Test
    void unwritableCsvFailsBeforeTimingWithAMessage(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        Cli.Run r = Cli.run(concat(new String[] {"bench", "--backend", "cpu", "--csv",
                file.resolve("bench.csv").toString()}, TINY));
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("--csv") && r.err().contains("not a directory"), r::toString);
        assertFalse(r.err().contains("\tat "), r::toString);
    }

    static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
