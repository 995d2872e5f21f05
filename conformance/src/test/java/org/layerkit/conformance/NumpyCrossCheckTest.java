package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.conformance.Reference.NormBackward;
import org.layerkit.conformance.Reference.NormForward;

/**
 * An independent check of the float64 reference: fresh random inputs (seeded from the clock, so no data lives in
 * the repository) go through {@code cs231n_reference.py}, numpy implementations of the CS231N formulas, and every
 * result must agree with {@link Reference} to 1e-10. Skipped, with the reason, when python3 or numpy is missing.
 */
class NumpyCrossCheckTest {
    private static final double TOLERANCE = 1e-10;
    private static final double EPS = 1e-5;
    /** How long a python3 child may take before it counts as hung: far beyond any machine's speed, not a target. */
    private static final int HANG_GUARD_MINUTES = 10;

    @BeforeAll
    static void requirePythonWithNumpy() throws InterruptedException {
        String problem;
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
            // a guard against a hung interpreter only (the import takes about a second): no speed is asserted
            boolean done = p.waitFor(HANG_GUARD_MINUTES, TimeUnit.MINUTES);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            problem = !done ? "python3 -c 'import numpy' did not finish in " + HANG_GUARD_MINUTES + " minutes"
                    : p.exitValue() != 0 ? "numpy is not importable by python3 (install python3-numpy): " + out : null;
            if (!done) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            problem = "python3 is not on the PATH (install python3 and python3-numpy): " + e.getMessage();
        }
        Assumptions.assumeTrue(problem == null, problem);
    }

    /** The inputs written for numpy, and their shapes. */
    private static final class Inputs {
        final Path dir;
        final List<String> manifest = new ArrayList<>();

        Inputs(Path dir) {
            this.dir = dir;
        }

        void put(String name, double[] data, int... shape) throws IOException {
            ByteBuffer buf = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
            for (double v : data) {
                buf.putDouble(v);
            }
            Files.write(dir.resolve(name + ".f64"), buf.array());
            StringBuilder line = new StringBuilder(name);
            for (int d : shape) {
                line.append(' ').append(d);
            }
            manifest.add(line.toString());
        }

        void param(String name, double value) {
            manifest.add("param " + name + " " + value);
        }

        double[] result(String name) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("out_" + name + ".f64")))
                    .order(ByteOrder.LITTLE_ENDIAN);
            double[] v = new double[buf.remaining() / 8];
            for (int i = 0; i < v.length; i++) {
                v[i] = buf.getDouble();
            }
            return v;
        }
    }

    private static double[] normal(Random r, int n, double mean, double std) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = mean + std * r.nextGaussian();
        }
        return v;
    }

    private static void assertClose(String what, long seed, double[] numpy, double[] reference) {
        assertEquals(reference.length, numpy.length, what + ": length (seed " + seed + ")");
        double scale = 1;
        double worst = 0;
        int at = -1;
        for (int i = 0; i < numpy.length; i++) {
            scale = Math.max(scale, Math.abs(numpy[i]));
            double err = Math.abs(numpy[i] - reference[i]);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        assertTrue(worst <= TOLERANCE * scale, what + ": max abs err " + worst + " at " + at + " (numpy "
                + (at < 0 ? "" : numpy[at]) + ", reference " + (at < 0 ? "" : reference[at]) + "), seed " + seed);
    }

    @Test
    void referenceAgreesWithNumpyCs231nFormulasOnFreshRandomInputs(@TempDir Path dir)
            throws IOException, InterruptedException, URISyntaxException {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        Inputs in = new Inputs(dir);
        in.param("eps", EPS);

        // batchnorm [N,D]
        int n = 40 + r.nextInt(30);
        int d = 1 + r.nextInt(40);
        double[] bnX = normal(r, n * d, r.nextGaussian() * 5, 1 + 3 * r.nextDouble());
        double[] bnGamma = normal(r, d, 1, 0.5);
        double[] bnBeta = normal(r, d, 0, 1);
        double[] bnDout = normal(r, n * d, 0, 1);
        in.put("bn_x", bnX, n, d);
        in.put("bn_gamma", bnGamma, d);
        in.put("bn_beta", bnBeta, d);
        in.put("bn_dout", bnDout, n, d);

        // layernorm [N,D]
        int ln = 1 + r.nextInt(20);
        int ld = 2 + r.nextInt(60);
        double[] lnX = normal(r, ln * ld, r.nextGaussian() * 5, 2);
        double[] lnGamma = normal(r, ld, 1, 0.5);
        double[] lnBeta = normal(r, ld, 0, 1);
        double[] lnDout = normal(r, ln * ld, 0, 1);
        in.put("ln_x", lnX, ln, ld);
        in.put("ln_gamma", lnGamma, ld);
        in.put("ln_beta", lnBeta, ld);
        in.put("ln_dout", lnDout, ln, ld);

        // spatial batchnorm [N,C,H,W]
        int[] s = {2 + r.nextInt(4), 1 + r.nextInt(5), 1 + r.nextInt(6), 1 + r.nextInt(6)};
        int sSize = s[0] * s[1] * s[2] * s[3];
        double[] sX = normal(r, sSize, 3, 2);
        double[] sGamma = normal(r, s[1], 1, 0.5);
        double[] sBeta = normal(r, s[1], 0, 1);
        double[] sDout = normal(r, sSize, 0, 1);
        in.put("sbn_x", sX, s);
        in.put("sbn_gamma", sGamma, s[1]);
        in.put("sbn_beta", sBeta, s[1]);
        in.put("sbn_dout", sDout, s);

        // groupnorm [N,C,H,W] with G a random divisor of C = 12
        int[] divisors = {1, 2, 3, 4, 6, 12};
        int groups = divisors[r.nextInt(divisors.length)];
        int[] g = {1 + r.nextInt(3), 12, 1 + r.nextInt(4), 1 + r.nextInt(4)};
        int gSize = g[0] * g[1] * g[2] * g[3];
        double[] gX = normal(r, gSize, -2, 3);
        double[] gGamma = normal(r, 12, 1, 0.5);
        double[] gBeta = normal(r, 12, 0, 1);
        double[] gDout = normal(r, gSize, 0, 1);
        in.put("gn_x", gX, g);
        in.put("gn_gamma", gGamma, 12);
        in.put("gn_beta", gBeta, 12);
        in.put("gn_dout", gDout, g);
        in.param("gn_groups", groups);

        // softmax loss [N,K]
        int sn = 1 + r.nextInt(30);
        int sk = 1 + r.nextInt(12);
        double[] smX = normal(r, sn * sk, 0, 4);
        int[] labels = new int[sn];
        double[] labelValues = new double[sn];
        for (int i = 0; i < sn; i++) {
            labels[i] = r.nextInt(sk);
            labelValues[i] = labels[i];
        }
        in.put("sm_x", smX, sn, sk);
        in.put("sm_y", labelValues, sn);
        Files.write(dir.resolve("shapes.txt"), in.manifest, StandardCharsets.UTF_8);

        runNumpy(dir, seed);

        NormForward bn = Reference.batchNormTrain(bnX, n, d, bnGamma, bnBeta, EPS);
        NormBackward bnb = Reference.batchNormBackward(bnDout, bn.xhat(), bn.rstd(), bnGamma, n, d);
        assertClose("batchnorm out", seed, in.result("bn_out"), bn.out());
        assertClose("batchnorm mean", seed, in.result("bn_mean"), bn.mean());
        assertClose("batchnorm var", seed, in.result("bn_var"), bn.var());
        for (String form : new String[] {"bn", "bn_alt"}) {
            assertClose(form + " dx", seed, in.result(form + "_dx"), bnb.dx());
            assertClose(form + " dgamma", seed, in.result(form + "_dgamma"), bnb.dgamma());
            assertClose(form + " dbeta", seed, in.result(form + "_dbeta"), bnb.dbeta());
        }

        NormForward lnf = Reference.layerNormForward(lnX, ln, ld, lnGamma, lnBeta, EPS);
        NormBackward lnb = Reference.layerNormBackward(lnDout, lnf.xhat(), lnf.rstd(), lnGamma, ln, ld);
        assertClose("layernorm out", seed, in.result("ln_out"), lnf.out());
        assertClose("layernorm dx", seed, in.result("ln_dx"), lnb.dx());
        assertClose("layernorm dgamma", seed, in.result("ln_dgamma"), lnb.dgamma());
        assertClose("layernorm dbeta", seed, in.result("ln_dbeta"), lnb.dbeta());

        int hw = s[2] * s[3];
        NormForward sf = Reference.spatialBatchNormTrain(sX, s[0], s[1], hw, sGamma, sBeta, EPS);
        NormBackward sb = Reference.spatialBatchNormBackward(sDout, sf.xhat(), sf.rstd(), sGamma, s[0], s[1], hw,
                true);
        assertClose("spatial batchnorm out", seed, in.result("sbn_out"), sf.out());
        assertClose("spatial batchnorm dx", seed, in.result("sbn_dx"), sb.dx());
        assertClose("spatial batchnorm dgamma", seed, in.result("sbn_dgamma"), sb.dgamma());
        assertClose("spatial batchnorm dbeta", seed, in.result("sbn_dbeta"), sb.dbeta());

        int ghw = g[2] * g[3];
        NormForward gf = Reference.groupNormForward(gX, g[0], 12, ghw, groups, gGamma, gBeta, EPS);
        NormBackward gb = Reference.groupNormBackward(gDout, gf.xhat(), gf.rstd(), gGamma, g[0], 12, ghw, groups);
        assertClose("groupnorm G=" + groups + " out", seed, in.result("gn_out"), gf.out());
        assertClose("groupnorm G=" + groups + " mean", seed, in.result("gn_mean"), gf.mean());
        assertClose("groupnorm G=" + groups + " dx", seed, in.result("gn_dx"), gb.dx());
        assertClose("groupnorm G=" + groups + " dgamma", seed, in.result("gn_dgamma"), gb.dgamma());
        assertClose("groupnorm G=" + groups + " dbeta", seed, in.result("gn_dbeta"), gb.dbeta());

        Reference.Loss loss = Reference.softmaxCrossEntropy(smX, labels, sn, sk);
        assertClose("softmax loss", seed, in.result("sm_loss"), new double[] {loss.loss()});
        assertClose("softmax dx", seed, in.result("sm_dx"), loss.dlogits());
    }

    private static void runNumpy(Path dir, long seed) throws IOException, InterruptedException, URISyntaxException {
        Path script = Path.of(NumpyCrossCheckTest.class.getResource("/cs231n_reference.py").toURI());
        Process p = new ProcessBuilder("python3", script.toString(), dir.toString()).redirectErrorStream(true).start();
        boolean done = p.waitFor(HANG_GUARD_MINUTES, TimeUnit.MINUTES);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertTrue(done && p.exitValue() == 0, "cs231n_reference.py failed (seed " + seed + "): " + out);
    }
}
