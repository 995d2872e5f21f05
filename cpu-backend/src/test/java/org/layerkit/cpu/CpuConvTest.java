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
import org.layerkit.conformance.Reference;

/**
 * What the conformance kit cannot see of {@link CpuConv}: the blocking of output rows at its edges (a unit of one
 * output row, when one row's columns alone exceed the workspace budget; units that split a sample), and the refusal
 * of a workspace that could not be indexed. Bounds as in the kit: c(n)·max Σ|t| (docs/ops/conv2d.md), here with the
 * worst-case factor n·u/(1 − n·u) doubled for slack in this test's own float64 magnitudes.
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

    /** Forward and backward against the float64 reference; returns the geometry's rows per block. */
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
            assertClose("out", g.outputShape(), out, res.out().toArray(), bound(c * k * k + 1, mag), 0);
            Reference.Conv2dBackward e = Reference.conv2dBackward(toDouble(dOut), toDouble(x), toDouble(wt), true, g);
            Reference.Conv2dBackward m = Reference.conv2dBackward(Reference.abs(toDouble(dOut)),
                    Reference.abs(toDouble(x)), Reference.abs(toDouble(wt)), true, g);
            long perWeight = (long) n * g.outH() * g.outW();
            assertClose("dX", g.inputShape(), e.dx(), grads.dX().toArray(), bound(f * k * k, m.dx()), 0);
            assertClose("dW", g.weightShape(), e.dw(), grads.dW().toArray(), bound(perWeight, m.dw()), 0);
            assertClose("dB", Shape.of(f), e.db(), grads.dB().toArray(), bound(perWeight, m.db()), 0);
        }
        return CpuConv.Geometry.of("test", Shape.of(n, c, h, w), Shape.of(f, c, k, k), p).blockRows();
    }

    private static double bound(long terms, double[] magnitudes) {
        double max = 0;
        for (double v : magnitudes) {
            max = Math.max(max, v);
        }
        double u = 0x1p-24;
        return 2 * terms * u / (1 - terms * u) * max;
    }

    @Test
    void oneOutputRowPerBlockWhenARowAloneFillsTheWorkspace() {
        // K·W' = 2304·520 > the budget: each block is a single output row, stride 2 and padding included
        int rows = checkAgainstReference(1, 256, 5, 1040, 3, 3, Conv2dParams.of(2, 1));
        assertEquals(1, rows);
    }

    @Test
    void oneOutputRowPerBlockOnTheContiguousRowsPathToo() {
        // stride 1, "same" padding: the copies that span several output rows, here one row per block
        int rows = checkAgainstReference(1, 256, 3, 520, 3, 3, Conv2dParams.of(1, 1));
        assertEquals(1, rows);
    }

    @Test
    void blocksThatSplitSamplesAddTheirGradientsInOrder() {
        // K·W' = 288·100 = 28 800 floats a row: 9 rows per unit, so a sample of H' = 28 is four units (9, 9, 9, 1)
        int rows = checkAgainstReference(6, 32, 28, 100, 5, 3, Conv2dParams.of(1, 1));
        assertTrue(rows > 1 && rows % 28 != 0 && rows < 6 * 28, "rows per block " + rows);
    }

    @Test
    void aWorkspaceThatCannotBeIndexedIsRefused() {
        // x [1,4096,16,16384] (2^30 floats) with a 16×16 kernel: K·W' = 2^20·16369 columns of one output row
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuConv.Geometry.of(
                "conv2d.forward", Shape.of(1, 1 << 12, 16, 1 << 14), Shape.of(1, 1 << 12, 16, 16),
                Conv2dParams.of(1, 0)));
        assertTrue(e.getMessage().startsWith("conv2d.forward: x expected C·KH·KW·W' <= 2^31-9"), e.getMessage());
    }
}
