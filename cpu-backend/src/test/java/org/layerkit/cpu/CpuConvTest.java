package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.layerkit.cpu.Numerics.assertClose;
import static org.layerkit.cpu.Numerics.gaussian;
import static org.layerkit.cpu.Numerics.toDouble;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.ConvBounds;
import org.layerkit.conformance.Reference;

/**
 * What the conformance kit cannot see of {@link CpuConv}: the units of output rows at their edges (a unit of one
 * output row, when one row's columns alone exceed the workspace budget; units that split a sample), the direct
 * stride-1 path at filter and channel counts off its register blocks, and the refusal
 * of a workspace that could not be indexed. Bounds as in the kit: {@link ConvBounds} (CONV2D_OUT, CONV2D_DX,
 * CONV2D_DW, CONV2D_DB in docs/tolerances.md) from the reference run on |x|, |w|, |dOut|.
 */
class CpuConvTest {
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    /** Forward and backward against the float64 reference; returns the geometry's output rows per unit. */
    private static int checkAgainstReference(int n, int c, int h, int w, int f, int k, Conv2dParams p) {
        Random r = new Random(n * 31L + c * 7L + h);
        Reference.Conv2dShape g = new Reference.Conv2dShape(n, c, h, w, f, k, k, p);
        float[] x = gaussian(r, n * c * h * w, 0, 1);
        float[] wt = gaussian(r, f * c * k * k, 0, 1);
        float[] b = gaussian(r, f, 0, 1);
        float[] dOut = gaussian(r, g.outputShape().size(), 0, 1);
        try (Tensor tx = be.upload(x, g.inputShape()); Tensor tw = be.upload(wt, g.weightShape());
             Tensor tb = be.upload(b, Shape.of(f)); Tensor tdOut = be.upload(dOut, g.outputShape());
             Conv2dResult res = be.conv2dForward(tx, tw, tb, p);
             Conv2dGrads grads = be.conv2dBackward(tdOut, res.cache(), tw)) {
            double[] out = Reference.conv2dForward(toDouble(x), toDouble(wt), toDouble(b), g);
            double[] mag = Reference.conv2dForward(Reference.abs(toDouble(x)), Reference.abs(toDouble(wt)),
                    Reference.abs(toDouble(b)), g);
            assertClose("out", g.outputShape(), out, res.out().toArray(), ConvBounds.conv2dOut(g, mag));
            Reference.Conv2dBackward e = Reference.conv2dBackward(toDouble(dOut), toDouble(x), toDouble(wt), true, g);
            Reference.Conv2dBackward m = Reference.conv2dBackward(Reference.abs(toDouble(dOut)),
                    Reference.abs(toDouble(x)), Reference.abs(toDouble(wt)), true, g);
            assertClose("dX", g.inputShape(), e.dx(), grads.dX().toArray(), ConvBounds.conv2dDx(g, m.dx()));
            assertClose("dW", g.weightShape(), e.dw(), grads.dW().toArray(), ConvBounds.conv2dDw(g, m.dw()));
            assertClose("dB", Shape.of(f), e.db(), grads.dB().toArray(), ConvBounds.conv2dDb(g, m.db()));
        }
        return CpuConv.Geometry.of("test", Shape.of(n, c, h, w), Shape.of(f, c, k, k), p).blockRows();
    }

    @Test
    void oneOutputRowPerUnitWhenARowAloneFillsTheWorkspace() {
        // K·W' = 2304·520 > the budget: each unit is a single output row, stride 2 and padding included
        int rows = checkAgainstReference(1, 256, 5, 1040, 3, 3, Conv2dParams.of(2, 1));
        assertEquals(1, rows);
    }

    @Test
    void oneOutputRowPerUnitOnTheContiguousRowsPathToo() {
        // stride 1, "same" padding: the copies that span several output rows, here one row per unit
        int rows = checkAgainstReference(1, 256, 3, 520, 3, 3, Conv2dParams.of(1, 1));
        assertEquals(1, rows);
    }

    @Test
    void unitsThatSplitSamplesAddTheirGradientsInOrder() {
        // K·W' = 288·100 = 28 800 floats a row: 9 rows per unit, so a sample of H' = 28 is four units (9, 9, 9, 1)
        int rows = checkAgainstReference(6, 32, 28, 100, 5, 3, Conv2dParams.of(1, 1));
        assertTrue(rows > 1 && rows < 28 && 28 % rows != 0, "rows per unit " + rows);
    }

    @Test
    void theDirectPathAtShapesOffItsRegisterBlocks() {
        // stride 1 (the direct path where the Vector API is on; im2col + GEMM on the loops leg): filter and channel
        // counts off the 8/4-channel blocks (13 = 8 + 4 + 1, 9 = 8 + 1, 6 = 4 + 2, 19 = 8 + 8 + 3), grids of
        // 1 to 12 vectors, paddings from 0 to KH − 1 (dX direct too) and beyond it (dX by im2col: pad 4 > 3 − 1)
        int[][] cases = {
            // n, c, h, w, f, k, pad
            {2, 8, 9, 11, 13, 3, 1},
            {2, 9, 7, 37, 6, 5, 0},
            {1, 12, 6, 5, 19, 5, 2},
            {3, 8, 4, 3, 9, 3, 2},
            {2, 8, 5, 6, 9, 3, 4},
        };
        for (int[] t : cases) {
            Conv2dParams p = Conv2dParams.of(1, t[6]);
            CpuConv.Geometry g = CpuConv.Geometry.of("test", Shape.of(t[0], t[1], t[2], t[3]),
                    Shape.of(t[4], t[1], t[5], t[5]), p);
            assertTrue(g.directForward(), "direct forward for " + java.util.Arrays.toString(t));
            assertEquals(t[6] < t[5], g.directInputGrad(), "direct dX for " + java.util.Arrays.toString(t));
            checkAgainstReference(t[0], t[1], t[2], t[3], t[4], t[5], p);
        }
    }

    @Test
    void theDirectPathKeepsNaNAndInfinityToTheOutputsThatReadThem() {
        // the kit's NaN/∞ cases are below the direct path's K ≥ 64; here C = 8, F = 8 (K = C·9 = F·9 = 72). The
        // grid's junk positions read x's last column: a NaN or ∞ there must reach only the outputs whose windows
        // read it, as in the float64 reference
        int n = 2;
        int c = 8;
        int hw = 7;
        int f = 8;
        Conv2dParams p = Conv2dParams.of(1, 1);
        Reference.Conv2dShape g = new Reference.Conv2dShape(n, c, hw, hw, f, 3, 3, p);
        assertTrue(CpuConv.Geometry.of("test", g.inputShape(), g.weightShape(), p).directForward());
        assertTrue(CpuConv.Geometry.of("test", g.inputShape(), g.weightShape(), p).directInputGrad());
        Random r = new Random(11);
        float[] x = gaussian(r, n * c * hw * hw, 0, 1);
        float[] wt = gaussian(r, f * c * 9, 0, 1);
        float[] b = gaussian(r, f, 0, 1);
        float[] dOut = gaussian(r, n * f * hw * hw, 0, 1);
        float[] xBad = x.clone();
        xBad[((0 * c + 1) * hw + 3) * hw + 6] = Float.NaN;                 // last column
        xBad[((1 * c + 2) * hw + 0) * hw + 6] = Float.POSITIVE_INFINITY;   // last column, first row
        xBad[((1 * c + 5) * hw + 6) * hw + 0] = Float.NEGATIVE_INFINITY;   // first column, last row
        // an output next to the last column whose window lies inside x (window columns 4..6): a NaN of dOut that
        // meets padding is left open by the kit (im2col's dW, unchanged here, gives NaN; the reference skips padding)
        dOut[((0 * f + 1) * hw + 3) * hw + 5] = Float.NaN;
        try (Tensor tx = be.upload(xBad, g.inputShape()); Tensor tw = be.upload(wt, g.weightShape());
             Tensor tb = be.upload(b, Shape.of(f)); Conv2dResult res = be.conv2dForward(tx, tw, tb, p)) {
            double[] e = Reference.conv2dForward(toDouble(xBad), toDouble(wt), toDouble(b), g);
            double[] mag = Reference.conv2dForward(Reference.abs(toDouble(xBad)), Reference.abs(toDouble(wt)),
                    Reference.abs(toDouble(b)), g);
            assertSameClassesThenClose("out", g.outputShape(), e, res.out().toArray(),
                    ConvBounds.conv2dOut(g, ConvBounds.finiteOnly(mag)));
        }
        try (Tensor tx = be.upload(x, g.inputShape()); Tensor tw = be.upload(wt, g.weightShape());
             Tensor tb = be.upload(b, Shape.of(f)); Tensor tdOut = be.upload(dOut, g.outputShape());
             Conv2dResult res = be.conv2dForward(tx, tw, tb, p);
             Conv2dGrads grads = be.conv2dBackward(tdOut, res.cache(), tw)) {
            Reference.Conv2dBackward e = Reference.conv2dBackward(toDouble(dOut), toDouble(x), toDouble(wt), true, g);
            Reference.Conv2dBackward m = Reference.conv2dBackward(Reference.abs(toDouble(dOut)),
                    Reference.abs(toDouble(x)), Reference.abs(toDouble(wt)), true, g);
            assertSameClassesThenClose("dX", g.inputShape(), e.dx(), grads.dX().toArray(),
                    ConvBounds.conv2dDx(g, ConvBounds.finiteOnly(m.dx())));
            assertSameClassesThenClose("dW", g.weightShape(), e.dw(), grads.dW().toArray(),
                    ConvBounds.conv2dDw(g, ConvBounds.finiteOnly(m.dw())));
        }
    }

    /**
     * Every NaN and ±∞ of expected comes out as itself (and nothing else is non-finite), then the finite values within
     * the bound.
     */
    private static void assertSameClassesThenClose(String what, Shape shape, double[] expected, float[] actual,
                                                   org.layerkit.conformance.Tolerance tol) {
        double[] e = expected.clone();
        float[] a = actual.clone();
        int nonFinite = 0;
        for (int i = 0; i < e.length; i++) {
            if (!Double.isFinite(e[i]) || !Float.isFinite(a[i])) {
                assertEquals(e[i], (double) a[i], what + " " + shape + " at " + java.util.Arrays.toString(
                        Numerics.unravel(shape, i)) + ": expected the reference's non-finite class");
                e[i] = 0;
                a[i] = 0;
                nonFinite++;
            }
        }
        assertTrue(nonFinite > 0, what + ": the case expected some NaN or ±∞ outputs");
        assertClose(what, shape, e, a, tol);
    }

    @Test
    void aWorkspaceThatCannotBeIndexedIsRefused() {
        // x [1,4096,16,16384] (2^30 floats) with a 16×16 kernel: K·W' = 2^20·16369 columns of one output row
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuConv.Geometry.of(
                "conv2d.forward", Shape.of(1, 1 << 12, 16, 1 << 14), Shape.of(1, 1 << 12, 16, 16),
                Conv2dParams.of(1, 0)));
        assertTrue(e.getMessage().startsWith("conv2d.forward: x expected C·KH·KW·W' <= 2147418112"), e.getMessage());
    }
}
