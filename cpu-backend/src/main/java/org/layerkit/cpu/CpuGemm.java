package org.layerkit.cpu;

import dev.ludovic.netlib.blas.BLAS;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * GEMM through netlib's {@link BLAS} (JNI to the system's {@code libblas.so.3}, OpenBLAS on Debian with
 * {@code libopenblas0-pthread}; a pure-Java implementation when the native library cannot be loaded).
 *
 * <p>layerkit is row-major, BLAS column-major. A row-major {@code [R,C]} array read column-major is its transpose
 * {@code [C,R]} with leading dimension C, so the row-major product C = op(A)·op(B) is computed as the column-major
 * product Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap places, each keeps its own transpose flag, and every leading
 * dimension is the row-major column count of that array.
 */
final class CpuGemm {
    private static volatile BLAS blas;
    private static volatile String description;
    /** How many threads BLAS runs per call, from the environment it read when it loaded (see blasThreads). */
    private static final int BLAS_THREADS = blasThreads(System.getenv());

    private CpuGemm() {
    }

    /** The BLAS instance, loaded on first use (the provider must not touch native code while being discovered). */
    static BLAS blas() {
        BLAS b = blas;
        if (b == null) {
            synchronized (CpuGemm.class) {
                b = blas;
                if (b == null) {
                    b = loadQuietly();
                    blas = b;
                }
            }
        }
        return b;
    }

    /**
     * {@link BLAS#getInstance()} with netlib's own loader warnings muted: it logs every implementation it tries and
     * fails (VectorBLAS needs an incubator module, for one), which is noise next to the one line that matters,
     * logged here: which implementation GEMM actually uses when it is not native.
     */
    private static BLAS loadQuietly() {
        Logger netlib = Logger.getLogger("dev.ludovic.netlib.blas.InstanceBuilder");
        Level old = netlib.getLevel();
        netlib.setLevel(Level.SEVERE);
        BLAS b;
        try {
            b = BLAS.getInstance();
        } finally {
            netlib.setLevel(old);
        }
        if (!b.getClass().getSimpleName().startsWith("JNI")) {
            System.getLogger(CpuGemm.class.getName()).log(System.Logger.Level.WARNING,
                    "cpu backend: native BLAS could not be loaded (install libopenblas0-pthread for libblas.so.3); "
                            + "GEMM uses the pure-Java " + b.getClass().getSimpleName());
        }
        return b;
    }

    /**
     * Whether BLAS runs threads of its own in a call: then a kernel calls it from one thread at a time and lets it
     * use the cores; otherwise (the launcher sets {@code OPENBLAS_NUM_THREADS=1}; netlib's pure-Java fallback is
     * single-threaded too) a kernel may call it from several threads at once, one product each.
     */
    static boolean blasThreaded() {
        return BLAS_THREADS > 1 && blas().getClass().getSimpleName().startsWith("JNI");
    }

    /**
     * The thread count OpenBLAS takes at load (OPENBLAS_NUM_THREADS, else GOTO_NUM_THREADS, else OMP_NUM_THREADS — the
     * first that is a positive number — else one per core), capped by the cores. Other native BLAS libraries read
     * OMP_NUM_THREADS or default to all cores alike.
     */
    static int blasThreads(java.util.Map<String, String> env) {
        int cores = Runtime.getRuntime().availableProcessors();
        for (String name : new String[] {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"}) {
            String v = env.get(name);
            if (v != null) {
                try {
                    int t = Integer.parseInt(v.trim());
                    if (t > 0) {
                        return Math.min(t, cores);
                    }
                } catch (NumberFormatException e) {
                    // not a number: OpenBLAS ignores it too
                }
            }
        }
        return cores;
    }

    /** e.g. "OpenBLAS via JNI", or "pure Java (VectorBLAS)" when native loading failed. */
    static String describe() {
        String d = description;
        if (d == null) {
            BLAS b = blas();
            String impl = b.getClass().getSimpleName();
            if (impl.startsWith("JNI")) {
                String lib = nativeLibraryName();
                d = lib + " via JNI";
                String coreType = System.getenv("OPENBLAS_CORETYPE");
                String toSet = lib.equals("OpenBLAS") ? coreTypeToSet(firstCpuInfoBlock()) : null;
                if (coreType != null && !coreType.isBlank() && lib.equals("OpenBLAS")) {
                    d += " (OPENBLAS_CORETYPE=" + coreType.trim() + ")";
                } else if (toSet != null) {
                    d += " (generic Prescott kernels likely on this CPU: set OPENBLAS_CORETYPE=" + toSet + ")";
                    System.getLogger(CpuGemm.class.getName()).log(System.Logger.Level.WARNING,
                            "cpu backend: OpenBLAS 0.3.21 (Debian 12) identifies this Intel CPU by a model number it "
                                    + "does not list and falls back to its generic 'Prescott' kernels, 3-4x slower "
                                    + "(OPENBLAS_VERBOSE=2 prints the core chosen; fixed in OpenBLAS 0.3.25); export "
                                    + "OPENBLAS_CORETYPE=" + toSet + " before starting Java, as the layerkit launcher "
                                    + "does");
                }
            } else {
                d = "pure Java (" + impl + "; native BLAS not loaded)";
            }
            description = d;
        }
        return d;
    }

    /**
     * The {@code OPENBLAS_CORETYPE} to set on the CPU described by {@code cpuinfo} (the first processor's block of
     * /proc/cpuinfo) when the variable is unset, or null where OpenBLAS's own detection is right. The same rule as
     * {@code scripts/openblas-coretype.sh}, which the launcher runs (a test keeps the two in step).
     *
     * <p>OpenBLAS 0.3.21 (Debian 12) identifies Intel family-6 CPUs by model number; for a model of 0xB0 or above its
     * switch falls through to the Pentium 4 case and loads the SSE3 "Prescott" kernels (fixed in 0.3.25). Measured
     * on an Emerald Rapids (model 207): 31 GFLOP/s for 128×784·784×256 against 125 with SkylakeX; on a model-167
     * VM, Prescott kernels took 3.3× as long for the MLP's GEMMs as the SkylakeX kernels OpenBLAS picks there by
     * itself, Haswell's 1.4× (docs/benchmarks.md, "OpenBLAS core types at the training shapes"). There the fastest kernel set the CPU can run is named: SkylakeX with the
     * AVX-512 subsets its kernels use, Haswell with AVX2 and FMA, Sandybridge with AVX. Every other CPU — AMD Zen 4
     * and 5 included, which 0.3.21 runs on its Cooperlake (= SkylakeX SGEMM) kernels — is left to OpenBLAS.
     */
    static String coreTypeToSet(String cpuinfo) {
        if (cpuinfo == null || !cpuinfo.contains("GenuineIntel") || field(cpuinfo, "cpu family") != 6
                || field(cpuinfo, "model") < 0xB0) {
            return null;
        }
        java.util.Set<String> flags = java.util.Set.of(text(cpuinfo, "flags").split("\\s+"));
        if (flags.containsAll(java.util.List.of("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"))) {
            return "SkylakeX";
        }
        if (flags.containsAll(java.util.List.of("avx2", "fma"))) {
            return "Haswell";
        }
        return flags.contains("avx") ? "Sandybridge" : null;
    }

    /** The first processor's block of /proc/cpuinfo, or null off Linux. */
    private static String firstCpuInfoBlock() {
        try {
            String info = Files.readString(Path.of("/proc/cpuinfo"));
            int end = info.indexOf("\n\n");
            return end < 0 ? info : info.substring(0, end);
        } catch (IOException | RuntimeException e) {
            return null; // not Linux, or unreadable: no hint
        }
    }

    /** The integer value of "name : value" in one /proc/cpuinfo block, −1 when absent or not a number. */
    private static int field(String block, String name) {
        try {
            return Integer.parseInt(text(block, name));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The text of "name : value" in one /proc/cpuinfo block, "" when absent. */
    private static String text(String block, String name) {
        for (String line : block.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return "";
    }

    /** Which native BLAS the process mapped, from /proc/self/maps; "native BLAS" when it cannot tell. */
    private static String nativeLibraryName() {
        try {
            String maps = Files.readString(Path.of("/proc/self/maps")).toLowerCase(Locale.ROOT);
            if (maps.contains("openblas")) {
                return "OpenBLAS";
            }
            if (maps.contains("libmkl")) {
                return "Intel MKL";
            }
            if (maps.contains("blis")) {
                return "BLIS";
            }
            if (maps.contains("atlas")) {
                return "ATLAS";
            }
            if (maps.contains("libblas.so")) {
                return "reference BLAS";
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc unreadable: fall through to the generic name
        }
        return "native BLAS";
    }

    /**
     * C = α·op(A)·op(B) + β·C on row-major arrays; op(A) [M,K], op(B) [K,N], C [M,N]. {@code aCols}/{@code bCols}
     * are the stored (row-major) column counts of A and B, i.e. their leading dimensions. C must not share storage
     * with A or B (BLAS reads them while writing C). When BLAS runs single-threaded ({@link #blasThreaded()}) a large
     * product is split into bands of C's rows, one BLAS call per band on the cores (each band's entries are the same
     * dot products, so the result does not depend on the split).
     */
    static void gemm(float[] a, int aCols, boolean transA, float[] b, int bCols, boolean transB,
                     float[] c, int m, int n, int k, float alpha, float beta) {
        if (beta == 0f) {
            // β = 0 must ignore C's old contents, NaN included; BLAS promises it, this makes it independent of BLAS
            Arrays.fill(c, 0, m * n, 0f);
        }
        int bands = blasThreaded() || (long) m * n * k < MIN_SPLIT_FLOPS ? 1 : Math.min(m, CpuParallel.THREADS);
        CpuParallel.forChunks(bands, m, (band, from, to) -> {
            // rows [from, to) of C: A's rows from (A [M,K]) or its columns from (A stored [K,M], transposed)
            int aOff = transA ? from : from * aCols;
            // column-major: Cᵀ[N,M] = op(B)ᵀ[N,K] · op(A)ᵀ[K,M]
            blas().sgemm(transB ? "T" : "N", transA ? "T" : "N", n, to - from, k,
                    alpha, b, 0, bCols, a, aOff, aCols, beta, c, from * n, n);
        });
    }

    /** Multiply-adds below which a product is not split over threads (a thread hand-off costs some microseconds). */
    static final long MIN_SPLIT_FLOPS = 1L << 20;
}
