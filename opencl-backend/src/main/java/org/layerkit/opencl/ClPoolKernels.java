package org.layerkit.opencl;

import org.layerkit.api.Contracts;
import org.layerkit.api.MaxPool2dCache;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Max pooling and the global average pool ({@code kernels/pool.cl}; the average pool's forward is the segment sum of
 * {@link ClElementwiseKernels}).
 *
 * <p>Shape letters: x [N,C,H,W], planes = N·C, window KH×KW with strides SH, SW, output [N,C,HO,WO]. Every kernel
 * has one work-item per value of a 3-D range (along a row, over rows, over planes; {@link ClLaunch#runGrid}).
 */
final class ClPoolKernels {
    private static final String CL = "pool";
    private final ClBackend b;

    ClPoolKernels(ClBackend b) {
        this.b = b;
    }

    // ---------------------------------------------------------------- maxpool2d

    /** out = each window's maximum, cache.argmax = its position h·W + w in the plane (first of ties, NaN wins). */
    MaxPool2dResult maxPoolForward(Tensor x, Pool2dParams p) {
        Shape outShape = Contracts.maxPool2dForward(b, x, p);
        String op = "maxpool2d.forward";
        Shape s = x.shape();
        long planes = (long) s.dim(0) * s.dim(1);
        int ho = outShape.dim(2);
        int wo = outShape.dim(3);
        ClTensor out = null;
        ClTensor argmax = null;
        try {
            out = b.allocate(outShape, op);
            argmax = b.allocate(outShape, op);
            // one work-item per output: (j, i, plane)
            b.context().launch(op, CL, "maxpool_forward").mem(b.cl(x)).mem(out).mem(argmax).i(s.dim(2)).i(s.dim(3))
                    .i(p.kernelH()).i(p.kernelW()).i(p.strideH()).i(p.strideW()).i(ho).i(wo).l(planes)
                    .runGrid(wo, ho, planes);
            return new MaxPool2dResult(out, new MaxPool2dCache(argmax, s, p));
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, argmax);
            throw e;
        }
    }

    /**
     * dX = dOut routed to each window's argmax, summed where overlapping windows chose the same element: a gather over
     * the windows covering each element (deterministic, no atomics).
     */
    Tensor maxPoolBackward(Tensor dOut, MaxPool2dCache cache) {
        Contracts.maxPool2dBackward(b, dOut, cache);
        String op = "maxpool2d.backward";
        Shape s = cache.inputShape();
        Pool2dParams p = cache.params();
        Shape o = cache.outputShape();
        long planes = (long) s.dim(0) * s.dim(1);
        ClTensor dX = b.allocate(s, op);
        try {
            if (p.strideH() == p.kernelH() && p.strideW() == p.kernelW() && (long) o.dim(2) * p.strideH() == s.dim(2)
                    && (long) o.dim(3) * p.strideW() == s.dim(3)) {
                // the windows tile the plane: one work-item per window writes it, (j, i, plane)
                b.context().launch(op, CL, "maxpool_backward_tiled").mem(b.cl(dOut)).mem(b.cl(cache.argmax()))
                        .mem(dX).i(s.dim(2)).i(s.dim(3)).i(p.kernelH()).i(p.kernelW()).i(o.dim(2)).i(o.dim(3))
                        .l(planes).runGrid(o.dim(3), o.dim(2), planes);
            } else {
                // one work-item per input element gathers from the windows covering it: (w, h, plane)
                b.context().launch(op, CL, "maxpool_backward").mem(b.cl(dOut)).mem(b.cl(cache.argmax())).mem(dX)
                        .i(s.dim(2)).i(s.dim(3)).i(p.kernelH()).i(p.kernelW()).i(p.strideH()).i(p.strideW())
                        .i(o.dim(2)).i(o.dim(3)).l(planes).runGrid(s.dim(3), s.dim(2), planes);
            }
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- global average pool

    /**
     * out[n,c] = Σ_{h,w} x[n,c,h,w] · (1/(H·W)): one statistic per plane in the reduction layout of common.cl (the
     * plane's H·W contiguous elements), summed by {@link ClElementwiseKernels#segmentSum} in the accumulator type
     * (double where the device has it) and scaled once.
     */
    Tensor globalAvgPoolForward(Tensor x) {
        Shape outShape = Contracts.globalAvgPoolForward(b, x);
        String op = "global_avgpool.forward";
        Shape s = x.shape();
        int hw = s.dim(2) * s.dim(3);
        ClTensor out = b.allocate(outShape, op);
        try {
            b.elementwise().segmentSum(op, b.cl(x).mem(), ClLayout.perGroup(s.dim(0), s.dim(1), hw, s.dim(1)),
                    (float) (1.0 / hw), out.mem());
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** dX[n,c,h,w] = dOut[n,c]·(1/(H·W)), the scale rounded to float once. */
    Tensor globalAvgPoolBackward(Tensor dOut, Shape inputShape) {
        Contracts.globalAvgPoolBackward(b, dOut, inputShape);
        String op = "global_avgpool.backward";
        int hw = inputShape.dim(2) * inputShape.dim(3);
        long planes = (long) inputShape.dim(0) * inputShape.dim(1);
        ClTensor dX = b.allocate(inputShape, op);
        try {
            b.context().launch(op, CL, "avgpool_backward").mem(b.cl(dOut)).mem(dX).i(hw).f((float) (1.0 / hw))
                    .l(planes).runGrid(hw, planes, 1);
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }
}
