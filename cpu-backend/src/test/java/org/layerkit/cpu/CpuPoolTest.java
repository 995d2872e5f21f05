package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The max pool's branch-free selection (integer keys, CpuPool) against the scan rule of docs/ops/pooling.md written
 * as the plain comparison loop, bit for bit, on the values where a key could go wrong: −0 next to +0 (equal: the
 * first stays, with its sign), NaNs of both signs and other payloads (the first NaN wins, its bits kept), ±∞, the
 * smallest subnormals of both signs, and ties.
 */
class CpuPoolTest {
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    private static final float[] AWKWARD = {-0f, 0f, Float.NaN, Float.intBitsToFloat(0xFFC00001),
        Float.intBitsToFloat(0x7F800001), Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE,
        -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, 1f, -1f, 1f, 2f};

    @Test
    void maxPoolPicksWhatTheRowMajorScanPicksBitForBit() {
        Random r = new Random(3);
        for (int[] g : new int[][] {{2, 2, 2, 2}, {2, 2, 1, 1}, {3, 3, 2, 2}, {2, 3, 2, 1}, {1, 1, 1, 1}}) {
            Pool2dParams p = new Pool2dParams(g[0], g[1], g[2], g[3]);
            int n = 3;
            int c = 4;
            int h = 9;
            int w = 8;
            float[] x = new float[n * c * h * w];
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextInt(3) == 0 ? AWKWARD[r.nextInt(AWKWARD.length)] : (float) r.nextInt(3) - 1;
            }
            int oh = (h - p.kernelH()) / p.strideH() + 1;
            int ow = (w - p.kernelW()) / p.strideW() + 1;
            try (Tensor xt = be.upload(x, Shape.of(n, c, h, w)); MaxPool2dResult res = be.maxPool2dForward(xt, p)) {
                float[] out = res.out().toArray();
                float[] arg = res.cache().argmax().toArray();
                for (int plane = 0; plane < n * c; plane++) {
                    for (int i = 0; i < oh; i++) {
                        for (int j = 0; j < ow; j++) {
                            int top = i * p.strideH() * w + j * p.strideW();
                            int bestAt = top;
                            float best = x[plane * h * w + top];
                            for (int kp = 0; kp < p.kernelH(); kp++) {
                                for (int kq = 0; kq < p.kernelW(); kq++) {
                                    float v = x[plane * h * w + top + kp * w + kq];
                                    if (v > best || (v != v && best == best)) {
                                        best = v;
                                        bestAt = top + kp * w + kq;
                                    }
                                }
                            }
                            int o = (plane * oh + i) * ow + j;
                            String where = "maxpool " + p + " plane " + plane + " output (" + i + "," + j + ")";
                            assertEquals(bestAt, (int) arg[o], where + ": argmax");
                            assertEquals(Float.floatToRawIntBits(best), Float.floatToRawIntBits(out[o]),
                                    where + ": value bits");
                        }
                    }
                }
            }
        }
    }
}
