package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Conv2dCache;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.MaxPool2dCache;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Outcome.Status;

/**
 * The convolution, pooling and spatial-dropout cases can fail: backends with one planted bug each fail the cases
 * aimed at it and pass the others (as {@link PlantedBugsTest} does for the older ops).
 */
class PlantedConvBugsTest {

    private static Map<String, Outcome> run(ReferenceBackend backend, String include) {
        ConformanceReport report = new ConformanceRunner(backend).include(include).run();
        Map<String, Outcome> byName = new LinkedHashMap<>();
        for (ConformanceReport.Entry e : report.entries()) {
            byName.put(e.name(), e.outcome());
        }
        assertFalse(byName.isEmpty(), "no case matches " + include);
        return byName;
    }

    private static void assertStatus(Map<String, Outcome> results, Status expected, String nameRegex) {
        Pattern p = Pattern.compile(nameRegex);
        int matched = 0;
        for (Map.Entry<String, Outcome> e : results.entrySet()) {
            if (p.matcher(e.getKey()).find()) {
                matched++;
                assertEquals(expected, e.getValue().status(), e.getKey() + ": " + e.getValue().message());
            }
        }
        assertTrue(matched > 0, "no case matches " + nameRegex + " among " + results.keySet());
    }

    /** A true convolution: the kernel flipped in both spatial axes (the classic slip from cross-correlation). */
    static class FlippedKernel extends ReferenceBackend {
        @Override
        public Conv2dResult conv2dForward(Tensor x, Tensor w, Tensor bias, Conv2dParams params) {
            Shape s = w.shape();
            float[] src = data(w);
            float[] flipped = new float[src.length];
            int kk = s.dim(2) * s.dim(3);
            for (int i = 0; i < src.length; i++) {
                flipped[i] = src[i - i % kk + kk - 1 - i % kk];
            }
            return super.conv2dForward(x, of(flipped, s), bias, params);
        }
    }

    @Test
    void aFlippedKernelFailsEveryForwardButTheOneByOnes() {
        Map<String, Outcome> r = run(new FlippedKernel(), "^conv2d\\.forward\\[");
        assertStatus(r, Status.FAILED, "K=3x3");
        assertStatus(r, Status.FAILED, "K=7x7");
        assertStatus(r, Status.PASSED, "K=1x1");
    }

    /** Padding put only at the top and left: the window is shifted by the padding. */
    static class PaddingOnOneSide extends ReferenceBackend {
        @Override
        public Conv2dResult conv2dForward(Tensor x, Tensor w, Tensor bias, Conv2dParams p) {
            Conv2dResult right = super.conv2dForward(x, w, bias, p);
            if (p.padH() == 0 && p.padW() == 0) {
                return right;
            }
            // out[i,j] taken from the window one padding further down and right, zero beyond
            Shape os = right.out().shape();
            float[] o = data(right.out());
            float[] shifted = new float[o.length];
            int oh = os.dim(2);
            int ow = os.dim(3);
            for (int plane = 0; plane < os.dim(0) * os.dim(1); plane++) {
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        int si = i + p.padH();
                        int sj = j + p.padW();
                        shifted[(plane * oh + i) * ow + j] = si < oh && sj < ow ? o[(plane * oh + si) * ow + sj] : 0f;
                    }
                }
            }
            return new Conv2dResult(of(shifted, os), right.cache());
        }
    }

    @Test
    void paddingOnOneSideFailsThePaddedForwards() {
        Map<String, Outcome> r = run(new PaddingOnOneSide(), "^conv2d\\.forward\\[");
        assertStatus(r, Status.FAILED, "pad=1\\]");
        assertStatus(r, Status.FAILED, "pad=2\\]");
        assertStatus(r, Status.PASSED, "pad=0\\]");
    }

    /** dW and dB summed over every sample but the last (an off-by-one in the batch loop). */
    static class DwMissesTheLastSample extends ReferenceBackend {
        @Override
        public Conv2dGrads conv2dBackward(Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad) {
            float[] d = data(dOut).clone();
            Shape s = dOut.shape();
            int last = (s.dim(0) - 1) * s.dim(1) * s.dim(2) * s.dim(3);
            Conv2dGrads all = super.conv2dBackward(dOut, cache, w, inputGrad);
            java.util.Arrays.fill(d, last, d.length, 0f);
            Conv2dGrads missing = super.conv2dBackward(of(d, s), cache, w, false);
            return new Conv2dGrads(all.dX(), missing.dW(), missing.dB());
        }
    }

    @Test
    void dWMissingASampleFailsTheBatchedBackwards() {
        Map<String, Outcome> r = run(new DwMissesTheLastSample(), "^conv2d\\.backward\\[");
        assertStatus(r, Status.FAILED, "\\[N=2,C=3,H=7,W=5");
        assertStatus(r, Status.FAILED, "\\[N=128,");
        String msg = r.get("conv2d.backward[N=2,C=3,H=7,W=5,F=4,K=3x3,stride=1,pad=1]").message();
        assertTrue(msg.startsWith("dW [4,3,3,3]: ") && !msg.contains("dX"), msg);
    }

    /** Accepts a dilation it does not implement and computes an ordinary convolution. */
    static class IgnoresDilation extends ReferenceBackend {
        @Override
        public Conv2dResult conv2dForward(Tensor x, Tensor w, Tensor bias, Conv2dParams p) {
            return super.conv2dForward(x, w, bias, p == null ? null
                    : Conv2dParams.of(p.strideH(), p.strideW(), p.padH(), p.padW()));
        }
    }

    @Test
    void silentlyIgnoringDilationFailsItsRejectCase() {
        Map<String, Outcome> r = run(new IgnoresDilation(), "^conv2d\\.forward\\.rejects");
        assertStatus(r, Status.FAILED, "dilation=2");
        assertStatus(r, Status.FAILED, "groups=3");
        assertStatus(r, Status.PASSED, "stride=0");
        assertTrue(r.get("conv2d.forward.rejects[dilation=2]").message().contains("returned normally"));
    }

    /** Max pooling that keeps the last of equal maxima. */
    static class TiesToTheLast extends ReferenceBackend {
        @Override
        public MaxPool2dResult maxPool2dForward(Tensor x, Pool2dParams p) {
            MaxPool2dResult r = super.maxPool2dForward(x, p);
            Shape s = x.shape();
            float[] xs = data(x);
            float[] arg = data(r.cache().argmax());
            int oh = (int) p.outputHeight(s.dim(2));
            int ow = (int) p.outputWidth(s.dim(3));
            int plane = s.dim(2) * s.dim(3);
            for (int o = 0; o < arg.length; o++) {
                int base = (o / (oh * ow)) * plane;
                int i = (o % (oh * ow)) / ow;
                int j = o % ow;
                for (int kp = 0; kp < p.kernelH(); kp++) {
                    for (int kq = 0; kq < p.kernelW(); kq++) {
                        int at = (i * p.strideH() + kp) * s.dim(3) + j * p.strideW() + kq;
                        if (xs[base + at] == data(r.out())[o]) {
                            arg[o] = at; // the last position holding the maximum
                        }
                    }
                }
            }
            return r;
        }
    }

    @Test
    void tiesToTheLastFailTheTieCasesOnly() {
        Map<String, Outcome> r = run(new TiesToTheLast(), "^maxpool2d\\.(forward|backward)\\[");
        assertStatus(r, Status.FAILED, "^maxpool2d\\.forward\\[.*values=ties");
        assertStatus(r, Status.FAILED, "^maxpool2d\\.backward\\[.*values=ties");
        assertStatus(r, Status.PASSED, "^maxpool2d\\.forward\\[N=2,C=3,H=8,W=8,K=2x2,stride=2\\]");
    }

    /** NaN laundered: a window's NaN is skipped (v &gt; best is false for NaN), so out is the largest number. */
    static class NanSkipped extends ReferenceBackend {
        @Override
        public MaxPool2dResult maxPool2dForward(Tensor x, Pool2dParams p) {
            float[] xs = data(x).clone();
            for (int i = 0; i < xs.length; i++) {
                if (Float.isNaN(xs[i])) {
                    xs[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return super.maxPool2dForward(of(xs, x.shape()), p);
        }
    }

    @Test
    void launderingNanFailsTheSpecialValueCases() {
        Map<String, Outcome> r = run(new NanSkipped(), "^maxpool2d\\.forward\\[");
        assertStatus(r, Status.FAILED, "values=special");
        assertStatus(r, Status.PASSED, "values=ties");
    }

    /** The overlapping-window backward keeps one contribution per input element instead of adding them. */
    static class OverlapNotAdded extends ReferenceBackend {
        @Override
        public Tensor maxPool2dBackward(Tensor dOut, MaxPool2dCache cache) {
            Tensor dx = super.maxPool2dBackward(dOut, cache);
            float[] d = data(dx);
            float[] arg = data(cache.argmax());
            float[] dy = data(dOut);
            Shape in = cache.inputShape();
            int plane = in.dim(2) * in.dim(3);
            int outPlane = arg.length / (in.dim(0) * in.dim(1));
            java.util.Arrays.fill(d, 0f);
            for (int o = 0; o < arg.length; o++) {
                d[(o / outPlane) * plane + (int) arg[o]] = dy[o]; // last writer wins
            }
            return dx;
        }
    }

    @Test
    void overwritingInsteadOfAddingFailsTheOverlappingBackwards() {
        Map<String, Outcome> r = run(new OverlapNotAdded(), "^maxpool2d\\.backward\\[");
        assertStatus(r, Status.FAILED, "K=3x3,stride=2\\]");
        assertStatus(r, Status.PASSED, "K=2x2,stride=2\\]");
    }

    /** Global average pooling backward without the 1/(H·W). */
    static class AvgBackwardUndivided extends ReferenceBackend {
        @Override
        public Tensor globalAvgPoolBackward(Tensor dOut, Shape inputShape) {
            Tensor dx = super.globalAvgPoolBackward(dOut, inputShape);
            float[] d = data(dx);
            int hw = inputShape.dim(2) * inputShape.dim(3);
            for (int i = 0; i < d.length; i++) {
                d[i] *= hw;
            }
            return dx;
        }
    }

    @Test
    void anUndividedAverageBackwardFails() {
        Map<String, Outcome> r = run(new AvgBackwardUndivided(), "^global_avgpool\\.backward\\[");
        assertStatus(r, Status.FAILED, "H=5,W=7");
        assertStatus(r, Status.PASSED, "H=1,W=1");
    }

    /** Spatial dropout that numbers the planes c·N + n (channel-major) instead of n·C + c. */
    static class PlanesTransposed extends ReferenceBackend {
        @Override
        public DropoutResult spatialDropoutForward(Tensor x, DropoutOptions o, Mode mode) {
            DropoutResult r = super.spatialDropoutForward(x, o, mode);
            if (mode == Mode.EVAL) {
                return r;
            }
            int n = x.shape().dim(0);
            int c = x.shape().dim(1);
            int hw = x.shape().dim(2) * x.shape().dim(3);
            float[] byChannel = Reference.dropoutMask(n * c, o);
            float[] mask = data(r.mask());
            float[] out = data(r.out());
            float[] xs = data(x);
            for (int in = 0; in < n; in++) {
                for (int ic = 0; ic < c; ic++) {
                    mask[in * c + ic] = byChannel[ic * n + in];
                    for (int k = 0; k < hw; k++) {
                        out[(in * c + ic) * hw + k] = xs[(in * c + ic) * hw + k] * mask[in * c + ic];
                    }
                }
            }
            return r;
        }
    }

    @Test
    void numberingThePlanesChannelMajorFailsTheBitIdenticalMasks() {
        Map<String, Outcome> r = run(new PlanesTransposed(), "^spatial_dropout\\.");
        assertStatus(r, Status.FAILED, "^spatial_dropout\\.mask\\.bit_identical\\[N=8,C=16");
        assertStatus(r, Status.FAILED, "^spatial_dropout\\.mask\\.same_as_dropout_of_planes");
        assertStatus(r, Status.PASSED, "^spatial_dropout\\.mask\\.bit_identical\\[N=1,C=1");
        assertStatus(r, Status.PASSED, "^spatial_dropout\\.forward\\.eval_identity");
    }
}
