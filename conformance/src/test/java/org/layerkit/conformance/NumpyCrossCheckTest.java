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
 * An independent check of the float64 reference: seeded random inputs (generated at run time, so no data lives in
 * the repository; seed {@value #DEFAULT_SEED}, or {@code -Dlayerkit.numpy.seed=N} to try others) go through
 * {@code cs231n_reference.py}, numpy implementations of the CS231N formulas, and every result must agree with
 * {@link Reference} within NUMPY_CROSS_CHECK (docs/tolerances.md): both are float64 evaluations of the same
 * formulas, each within γ64(k)·(1 + κ)·scale of the exact value, for k roundings on the longest path (sums of the
 * statistic's length), κ = max |μ|·rstd the condition of x − μ, and scale the largest magnitude of the quantity.
 * Skipped, with the reason, when python3 or numpy is missing.
 */
class NumpyCrossCheckTest {
    private static final long DEFAULT_SEED = 20231;
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

    /**
     * The magnitudes of a normalization's results: each the sum of the absolute values of the terms behind it, so
     * that a float64 evaluation of it is within γ64(k) of that (docs/tolerances.md, NUMPY_CROSS_CHECK). x − μ is
     * formed from |x| + |μ|, so the condition of centring data far from 0 is in them.
     */
    private record Magnitudes(double out, double mean, double var, double dx, double dgamma, double dbeta) {
        static Magnitudes of(NormBounds.Layout l, double[] x, double[] gamma, double[] beta, double[] dout,
                             NormForward f) {
            int s = l.stats();
            double n = l.perStat();
            double[] absG = new double[s];
            double[] absGx = new double[s];
            double[] absX = new double[s];
            double[] sq = new double[s];
            double[] dg = new double[l.params()];
            double[] db = new double[l.params()];
            for (int i = 0; i < l.size(); i++) {
                int k = l.statOf().applyAsInt(i);
                int p = l.paramOf().applyAsInt(i);
                double wide = (Math.abs(x[i]) + Math.abs(f.mean()[k])) * f.rstd()[k]; // |x̂| with |x| + |μ|
                absG[k] += Math.abs(gamma[p] * dout[i]) / n;
                absGx[k] += Math.abs(gamma[p] * dout[i]) * wide / n;
                absX[k] += Math.abs(x[i]) / n;
                double c = Math.abs(x[i]) + Math.abs(f.mean()[k]);
                sq[k] += c * c / n;
                dg[p] += Math.abs(dout[i]) * wide;
                db[p] += Math.abs(dout[i]);
            }
            double out = 0;
            double dx = 0;
            for (int i = 0; i < l.size(); i++) {
                int k = l.statOf().applyAsInt(i);
                int p = l.paramOf().applyAsInt(i);
                double wide = (Math.abs(x[i]) + Math.abs(f.mean()[k])) * f.rstd()[k];
                out = Math.max(out, Math.abs(gamma[p]) * wide + Math.abs(beta[p]));
                dx = Math.max(dx, f.rstd()[k] * (Math.abs(gamma[p] * dout[i]) + absG[k] + wide * absGx[k]));
            }
            return new Magnitudes(out, Tolerance.maxAbs(absX), Tolerance.maxAbs(sq), dx, Tolerance.maxAbs(dg),
                    Tolerance.maxAbs(db));
        }
    }

    /**
     * NUMPY_CROSS_CHECK: two float64 results, each within γ64(4·len + 20)·magnitude of the exact value, where len is
     * the longest sum behind the quantity (its other roundings are fewer than 20 plus three per element).
     */
    private static void assertClose(String what, long seed, double[] numpy, double[] reference, long len,
                                    double magnitude) {
        assertEquals(reference.length, numpy.length, what + ": length (seed " + seed + ")");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < numpy.length; i++) {
            double err = Math.abs(numpy[i] - reference[i]);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        double bound = Tolerance.SAFETY * 2 * Tolerance.gamma64(4 * len + 20) * magnitude;
        assertTrue(worst <= bound, what + " [" + numpy.length + "]: max abs err " + worst + " at " + at + " (numpy "
                + (at < 0 ? "" : numpy[at]) + ", reference " + (at < 0 ? "" : reference[at])
                + ") exceeds NUMPY_CROSS_CHECK " + bound + ", seed " + seed);
    }

    private static void assertNorm(String what, long seed, Inputs in, String prefix, NormForward f, NormBackward b,
                                   Magnitudes m, long len, boolean stats) throws IOException {
        assertClose(what + " out", seed, in.result(prefix + "_out"), f.out(), len, m.out());
        if (stats) {
            assertClose(what + " mean", seed, in.result(prefix + "_mean"), f.mean(), len, m.mean());
        }
        assertClose(what + " dx", seed, in.result(prefix + "_dx"), b.dx(), len, m.dx());
        assertClose(what + " dgamma", seed, in.result(prefix + "_dgamma"), b.dgamma(), len, m.dgamma());
        assertClose(what + " dbeta", seed, in.result(prefix + "_dbeta"), b.dbeta(), len, m.dbeta());
    }

    @Test
    void referenceAgreesWithNumpyCs231nFormulasOnFreshRandomInputs(@TempDir Path dir)
            throws IOException, InterruptedException, URISyntaxException {
        long seed = Long.getLong("layerkit.numpy.seed", DEFAULT_SEED);
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
        Magnitudes m = Magnitudes.of(NormBounds.Layout.batchNorm(n, d), bnX, bnGamma, bnBeta, bnDout, bn);
        assertNorm("batchnorm", seed, in, "bn", bn, bnb, m, n, true);
        assertClose("batchnorm var", seed, in.result("bn_var"), bn.var(), n, m.var());
        // the staged-graph backward of CS231N's batchnorm_backward, the same quantities
        assertClose("bn_alt dx", seed, in.result("bn_alt_dx"), bnb.dx(), n, m.dx());
        assertClose("bn_alt dgamma", seed, in.result("bn_alt_dgamma"), bnb.dgamma(), n, m.dgamma());
        assertClose("bn_alt dbeta", seed, in.result("bn_alt_dbeta"), bnb.dbeta(), n, m.dbeta());

        NormForward lnf = Reference.layerNormForward(lnX, ln, ld, lnGamma, lnBeta, EPS);
        NormBackward lnb = Reference.layerNormBackward(lnDout, lnf.xhat(), lnf.rstd(), lnGamma, ln, ld);
        assertNorm("layernorm", seed, in, "ln", lnf, lnb, Magnitudes.of(NormBounds.Layout.layerNorm(ln, ld), lnX,
                lnGamma, lnBeta, lnDout, lnf), Math.max(ln, ld), false);

        int hw = s[2] * s[3];
        NormForward sf = Reference.spatialBatchNormTrain(sX, s[0], s[1], hw, sGamma, sBeta, EPS);
        NormBackward sb = Reference.spatialBatchNormBackward(sDout, sf.xhat(), sf.rstd(), sGamma, s[0], s[1], hw,
                true);
        assertNorm("spatial batchnorm", seed, in, "sbn", sf, sb, Magnitudes.of(NormBounds.Layout.spatialBatchNorm(
                s[0], s[1], hw), sX, sGamma, sBeta, sDout, sf), (long) s[0] * hw, false);

        int ghw = g[2] * g[3];
        NormForward gf = Reference.groupNormForward(gX, g[0], 12, ghw, groups, gGamma, gBeta, EPS);
        NormBackward gb = Reference.groupNormBackward(gDout, gf.xhat(), gf.rstd(), gGamma, g[0], 12, ghw, groups);
        assertNorm("groupnorm G=" + groups, seed, in, "gn", gf, gb, Magnitudes.of(NormBounds.Layout.groupNorm(g[0],
                12, ghw, groups), gX, gGamma, gBeta, gDout, gf), Math.max(12L / groups * ghw, (long) g[0] * ghw),
                true);

        // softmax: per row log Σ exp(z − max) − (z_y − max), the differences formed from |z| + |max z|
        Reference.Loss loss = Reference.softmaxCrossEntropy(smX, labels, sn, sk);
        double lossMag = 0;
        double dxMag = 0;
        for (int i = 0; i < sn; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < sk; j++) {
                max = Math.max(max, smX[i * sk + j]);
            }
            double sum = 0;
            for (int j = 0; j < sk; j++) {
                sum += Math.exp(smX[i * sk + j] - max);
            }
            lossMag += (Math.abs(Math.log(sum)) + Math.abs(smX[i * sk + labels[i]]) + Math.abs(max)) / sn;
            for (int j = 0; j < sk; j++) {
                double p = Math.exp(smX[i * sk + j] - max) / sum;
                dxMag = Math.max(dxMag, (p * (1 + Math.abs(smX[i * sk + j]) + Math.abs(max)) + 1) / sn);
            }
        }
        assertClose("softmax loss", seed, in.result("sm_loss"), new double[] {loss.loss()}, sn + sk, lossMag);
        assertClose("softmax dx", seed, in.result("sm_dx"), loss.dlogits(), sn + sk, dxMag);
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
