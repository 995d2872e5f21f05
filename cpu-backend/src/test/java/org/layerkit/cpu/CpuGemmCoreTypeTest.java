package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which {@code OPENBLAS_CORETYPE} the cpu backend suggests, and the launcher sets, on which CPU: only where Debian
 * 12's OpenBLAS 0.3.21 falls back to its Prescott kernels (Intel family 6, model 0xB0 and above), the fastest
 * kernel set the CPU can run; nothing anywhere else, AMD Zen 4 and 5 included. The launcher's rule lives in
 * {@code scripts/openblas-coretype.sh}; each case also runs that script, so the two cannot drift apart.
 */
class CpuGemmCoreTypeTest {
    private static final String AVX512 = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f avx512dq "
            + "avx512cd avx512bw avx512vl";
    private static final String AVX2 = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2";

    private static String cpu(String vendor, int family, int model, String flags) {
        return "processor\t: 0\nvendor_id\t: " + vendor + "\ncpu family\t: " + family + "\nmodel\t\t: " + model
                + "\nmodel name\t: test CPU\nflags\t\t: " + flags + "\n";
    }

    @TempDir
    Path dir;

    /** {@link CpuGemm#coreTypeToSet} on {@code block}, checked against the launcher's script on the same text. */
    private void expect(String expected, String what, String block) throws IOException, InterruptedException {
        assertEquals(expected, CpuGemm.coreTypeToSet(block), what);
        Path script = Path.of("..", "scripts", "openblas-coretype.sh");
        Assumptions.assumeTrue(Files.isExecutable(script), "scripts/openblas-coretype.sh not found from "
                + Path.of("").toAbsolutePath());
        // two processors, as /proc/cpuinfo lists them: only the first block counts
        Path file = Files.writeString(dir.resolve("cpuinfo"), block + "\n" + block.replace(": 0\n", ": 1\n"));
        Process p = new ProcessBuilder("bash", script.toString(), file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        // a guard against a hung shell only: the script reads one small file
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "the script did not finish");
        assertEquals(0, p.exitValue(), out);
        assertEquals(expected == null ? "" : expected, out, what + ": the launcher's script disagrees");
    }

    @Test
    void intelModelsThatOpenBlas0321SendsToPrescottGetTheirBestKernels() throws Exception {
        expect("SkylakeX", "Emerald Rapids (6/207)", cpu("GenuineIntel", 6, 207, AVX512 + " avx512_bf16 amx_tile"));
        expect("Haswell", "Raptor Lake (6/183)", cpu("GenuineIntel", 6, 183, AVX2));
        expect("Haswell", "Arrow Lake (6/198)", cpu("GenuineIntel", 6, 198, AVX2 + " avx_vnni"));
        expect("Sandybridge", "model 0xB0 with AVX only (a VM hiding AVX2)",
                cpu("GenuineIntel", 6, 176, "fpu sse sse2 ssse3 sse4_1 sse4_2 avx"));
        expect(null, "model 0xB0 without AVX", cpu("GenuineIntel", 6, 176, "fpu sse sse2 ssse3 sse4_1 sse4_2"));
        // AVX-512F alone is not what the SkylakeX kernels need
        expect("Haswell", "model 0xCF with AVX-512F but not VL", cpu("GenuineIntel", 6, 207, AVX2 + " avx512f"));
    }

    @Test
    void cpusOpenBlas0321IdentifiesItselfAreLeftToIt() throws Exception {
        expect(null, "Rocket Lake VM (6/167), measured: OpenBLAS picks SkylakeX",
                cpu("GenuineIntel", 6, 167, AVX512 + " avx512_bf16"));
        expect(null, "Sapphire Rapids (6/143)", cpu("GenuineIntel", 6, 143, AVX512 + " avx512_bf16"));
        expect(null, "Granite Rapids (6/173): unknown model, capability fallback",
                cpu("GenuineIntel", 6, 173, AVX512 + " avx512_bf16"));
        expect(null, "Skylake-SP (6/85)", cpu("GenuineIntel", 6, 85, AVX512));
        expect(null, "AMD Zen 4 (25/17)", cpu("AuthenticAMD", 25, 17, AVX512 + " avx512_bf16"));
        expect(null, "AMD Zen 5 (26/2)", cpu("AuthenticAMD", 26, 2, AVX512 + " avx512_bf16 avx_vnni"));
        expect(null, "AMD Zen 3 (25/1)", cpu("AuthenticAMD", 25, 1, AVX2));
        expect(null, "an Intel family other than 6 (19/1)", cpu("GenuineIntel", 19, 1, AVX512));
        expect(null, "no model field", "vendor_id\t: GenuineIntel\ncpu family\t: 6\nflags\t\t: " + AVX512 + "\n");
    }
}
