package org.layerkit.opencl;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.cl_command_queue;
import org.jocl.cl_mem;
import org.jocl.blast.CLBlast;
import org.jocl.blast.CLBlastLayout;
import org.jocl.blast.CLBlastStatusCode;
import org.jocl.blast.CLBlastTranspose;

/**
 * CLBlast through JOCLBlast ({@code org.jocl:jocl-blast}), loaded on first use and at most once per JVM: the class
 * {@link CLBlast} loads its JNI library and the bundled {@code libclblast.so} in its static initializer (JOCL's
 * {@code LibUtils} extracts both from the jar into the temp directory), so nothing here touches native code before
 * {@link #load()}. JOCLBlast 1.5.2 was built against JOCL 2.0.0 and runs on the project's JOCL 2.0.5.
 *
 * <p>Every CLBlast call goes through this class under one JVM-wide lock: CLBlast's program cache is global, and
 * {@link #clearCache()} must not run while another backend enqueues.
 */
final class ClBlast {
    /** The outcome of loading CLBlast: its version, or why it cannot be used. */
    record Load(String version, String reason, Throwable cause) {
        boolean ok() {
            return reason == null;
        }
    }

    private static final Object LOCK = new Object();
    private static volatile Load load;

    private ClBlast() {
    }

    /** Loads JOCLBlast and CLBlast once; never throws. */
    static Load load() {
        Load l = load;
        if (l == null) {
            synchronized (LOCK) {
                l = load;
                if (l == null) {
                    l = tryLoad();
                    load = l;
                }
            }
        }
        return l;
    }

    private static Load tryLoad() {
        try {
            // the static initializer loads libJOCLBlast and libclblast; exceptions stay off (status codes instead)
            CLBlast.setExceptionsEnabled(false);
            return new Load(version(), null, null);
        } catch (NoClassDefFoundError e) {
            return new Load(null, "org.jocl:jocl-blast is not on the class path (" + e.getMessage() + ")", e);
        } catch (LinkageError e) {
            // UnsatisfiedLinkError, or ExceptionInInitializerError wrapping one (no build for this OS/arch)
            Throwable root = e.getCause() != null ? e.getCause() : e;
            return new Load(null, "its native library could not be loaded on " + System.getProperty("os.name") + "/"
                    + System.getProperty("os.arch") + ": " + firstLine(String.valueOf(root.getMessage())), e);
        } catch (RuntimeException e) {
            return new Load(null, "loading it failed: " + firstLine(String.valueOf(e)), e);
        }
    }

    /** The JOCLBlast version (the CLBlast version it bundles), from the jar's Maven metadata. */
    private static String version() {
        try (InputStream in = CLBlast.class.getResourceAsStream(
                "/META-INF/maven/org.jocl/jocl-blast/pom.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank()) {
                    return v.trim();
                }
            }
        } catch (IOException e) {
            // the version is only descriptive
        }
        return "(version unknown)";
    }

    /**
     * Enqueues row-major C = α·op(A)·op(B) + β·C (A, B, C whole buffers, op(A) [M,K], op(B) [K,N], C [M,N]) on
     * {@code queue} without an event, and returns CLBlast's status (0 = success, else a {@link CLBlastStatusCode}).
     * CLBlast does not read C when β = 0 (NaN there does not leak through 0·NaN). Call {@link #load()} first.
     */
    static int sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, cl_mem a, cl_mem b,
                     float beta, cl_mem c, cl_command_queue queue) {
        int ta = transA ? CLBlastTranspose.CLBlastTransposeYes : CLBlastTranspose.CLBlastTransposeNo;
        int tb = transB ? CLBlastTranspose.CLBlastTransposeYes : CLBlastTranspose.CLBlastTransposeNo;
        // row-major leading dimension: the stored row length, i.e. the column count of the array as stored
        long lda = transA ? m : k;
        long ldb = transB ? k : n;
        synchronized (LOCK) {
            try {
                return CLBlast.CLBlastSgemm(CLBlastLayout.CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha, a, 0, lda,
                        b, 0, ldb, beta, c, 0, n, queue, null);
            } catch (CLException e) {
                // someone in this JVM turned JOCLBlast's exceptions on
                return e.getStatus();
            }
        }
    }

    /**
     * Empties CLBlast's program cache. Cached programs keep their OpenCL context alive, so a backend that used
     * CLBlast calls this when it closes; other live backends rebuild their programs on their next call.
     */
    static void clearCache() {
        if (load != null && load.ok()) {
            synchronized (LOCK) {
                CLBlast.CLBlastClearCache();
            }
        }
    }

    /** The name of a CLBlast status code, e.g. {@code CLBlastInsufficientMemoryA}, or of an OpenCL error code. */
    static String statusName(int status) {
        String s = CLBlastStatusCode.stringFor(status);
        if (s == null || s.startsWith("INVALID")) {
            s = CL.stringFor_errorCode(status);
        }
        return s + " (" + status + ")";
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
