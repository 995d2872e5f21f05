package org.layerkit.opencl;

import java.util.concurrent.atomic.AtomicLong;

import org.jocl.cl_mem;
import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Inverted dropout with Philox4x32-10 masks computed on the device ({@code kernels/dropout.cl}).
 *
 * <p>The TRAIN mask is a pure function of (seed, offset, threshold, scale, element index), so the forward does not
 * write it: it returns a <em>pending</em> mask tensor (buffer allocated, contents described by {@link MaskParams})
 * that {@link ClTensor#mem()} writes on its first read, and the backward regenerates the mask from the parameters
 * instead of reading it. Forward and backward each move 2n floats instead of 3n; the result is bit for bit the same.
 * That pays where dropout is memory-bound (GPUs); where Philox dominates (PoCL on CPU cores) the backward's second
 * Philox pass costs more than it saves, so the backend option {@code dropoutMask} (default: pending on GPUs only)
 * can have the forward write the mask at once, as one kernel with the output ({@code dropout_forward_mask}).
 */
final class ClDropoutKernels {
    private static final String CL = "dropout";
    private final ClBackend b;
    private final boolean pendingMasks;
    /** Pending masks written so far (tests check a mask is written once, and never when nothing reads it). */
    private final AtomicLong masksWritten = new AtomicLong();

    /** What defines a TRAIN mask: the Philox key and stream, the integer threshold and the survivor scale. */
    record MaskParams(long seed, long offset, int threshold, float scale) {
        static MaskParams of(DropoutOptions o) {
            return new MaskParams(o.seed(), o.offset(), o.threshold(), o.scale());
        }

        /** Appends (seedLo, seedHi, offsetLo, offsetHi, threshold, scale), the kernels' trailing arguments. */
        ClLaunch args(ClLaunch l) {
            return l.i((int) seed).i((int) (seed >>> 32)).i((int) offset).i((int) (offset >>> 32)).i(threshold)
                    .f(scale);
        }
    }

    ClDropoutKernels(ClBackend b, boolean pendingMasks) {
        this.b = b;
        this.pendingMasks = pendingMasks;
    }

    /** Whether TRAIN masks are returned pending (else the forward writes them). */
    boolean pendingMasks() {
        return pendingMasks;
    }

    /**
     * TRAIN: out = x·mask (the float product, so a dropped negative x gives −0 as on the CPU backend), where
     * mask = scale where (Philox word &gt;&gt;&gt; 8) &lt; threshold, else 0; the mask is returned pending, or
     * written at once when this backend's masks are eager. EVAL: out = x, mask all ones, written now.
     */
    DropoutResult forward(Tensor x, DropoutOptions o, Mode mode) {
        Contracts.dropoutForward(b, x, o, mode);
        String op = "dropout.forward";
        int total = x.size();
        ClTensor out = null;
        ClTensor mask = null;
        try {
            out = b.allocate(x.shape(), op);
            if (mode == Mode.EVAL) {
                mask = b.allocate(x.shape(), op);
                b.elementwise().copyInto(op, b.cl(x), out);
                b.elementwise().fillInto(op, mask, 1f);
            } else if (o.start() != 0) {
                // a slice of a larger tensor: the mask written at once from global indices, then out = x·mask
                mask = b.allocate(x.shape(), op);
                maskFrom(op, mask, o);
                b.context().launch(op, CL, "dropout_backward").mem(b.cl(x)).mem(mask).mem(out).i(total)
                        .run1d(blocks(total));
            } else if (pendingMasks) {
                // the mask's buffer is allocated now (memory use as if written), its contents on first read
                MaskParams p = MaskParams.of(o);
                mask = ClTensor.pendingMask(b, x.shape(), op, p);
                // one work-item per Philox block of four elements; the threshold and scale come from the host
                p.args(b.context().launch(op, CL, "dropout_multiply").mem(b.cl(x)).mem(out).i(total))
                        .run1d(blocks(total));
            } else {
                mask = b.allocate(x.shape(), op);
                MaskParams.of(o).args(b.context().launch(op, CL, "dropout_forward_mask").mem(b.cl(x)).mem(out)
                        .mem(mask).i(total)).run1d(blocks(total));
            }
            return new DropoutResult(out, mask);
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, mask);
            throw e;
        }
    }

    /**
     * Writes the mask of {@code p} into {@code mask} (the buffer of a pending mask tensor; called by
     * {@link ClTensor} under the context's lock, before anything reads the buffer).
     */
    void writeMask(cl_mem mask, int total, MaskParams p) {
        // the raw buffer: the tensor's own mem() would write the mask first; the caller (ClTensor.materialize) is the
        // tensor and stays reachable until the kernel is enqueued
        p.args(b.context().launch("dropout.mask", CL, "dropout_mask").mem(mask).i(total)).run1d(blocks(total));
        masksWritten.incrementAndGet();
    }

    /** mask[i] = the mask of global element o.start() + i (kernel dropout_mask_from, one work-item each). */
    private void maskFrom(String op, ClTensor mask, DropoutOptions o) {
        MaskParams.of(o).args(b.context().launch(op, CL, "dropout_mask_from").mem(mask).i(mask.size())
                .i((int) o.start()).i((int) (o.start() >>> 32))).run1d(mask.size());
    }

    /** How many pending masks this backend has written into their buffers. */
    long masksWritten() {
        return masksWritten.get();
    }

    /**
     * dX = dOut ⊙ mask. A pending mask is regenerated from its parameters (reading dOut only) and stays pending;
     * any other mask is read.
     */
    Tensor backward(Tensor dOut, Tensor mask) {
        Contracts.dropoutBackward(b, dOut, mask);
        String op = "dropout.backward";
        int total = mask.size();
        MaskParams p = b.cl(mask).pendingMask();
        ClTensor dX = b.allocate(mask.shape(), op);
        try {
            // one work-item per four elements
            if (p != null) {
                // a pending mask: dX = dOut·m with m regenerated, the forward's kernel with dOut in and dX out
                p.args(b.context().launch(op, CL, "dropout_multiply").mem(b.cl(dOut)).mem(dX).i(total))
                        .run1d(blocks(total));
            } else {
                b.context().launch(op, CL, "dropout_backward").mem(b.cl(dOut)).mem(b.cl(mask)).mem(dX).i(total)
                        .run1d(blocks(total));
            }
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- spatial dropout [N,C,H,W], mask [N,C]

    /**
     * TRAIN: mask[n,c] = dropout's mask of element n·C + c (so bit-identical to {@link #forward}'s mask of an [N,C]
     * tensor), then out[n,c,h,w] = x[n,c,h,w]·mask[n,c]. The mask is always written by the forward: it is H·W times
     * smaller than x, so the pending-mask machinery of {@link #forward} would save nothing worth a second Philox pass.
     * EVAL: out = x, mask all ones.
     */
    DropoutResult spatialForward(Tensor x, DropoutOptions o, Mode mode) {
        Contracts.spatialDropoutForward(b, x, o, mode);
        String op = "spatial_dropout.forward";
        int n = x.shape().dim(0);
        int c = x.shape().dim(1);
        Shape maskShape = Shape.of(n, c);
        ClTensor out = null;
        ClTensor mask = null;
        try {
            out = b.allocate(x.shape(), op);
            mask = b.allocate(maskShape, op);
            if (mode == Mode.EVAL) {
                b.elementwise().copyInto(op, b.cl(x), out);
                b.elementwise().fillInto(op, mask, 1f);
            } else {
                // mask[n,c] = dropout's mask of element n·C + c (+ start: planes of a larger batch)
                if (o.start() != 0) {
                    maskFrom(op, mask, o);
                } else {
                    MaskParams.of(o).args(b.context().launch(op, CL, "dropout_mask").mem(mask).i(mask.size()))
                            .run1d(blocks(mask.size()));
                }
                planeMultiply(op, b.cl(x), mask, out);
            }
            return new DropoutResult(out, mask);
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, mask);
            throw e;
        }
    }

    /** dX[n,c,h,w] = dOut[n,c,h,w]·mask[n,c]. */
    Tensor spatialBackward(Tensor dOut, Tensor mask) {
        Contracts.spatialDropoutBackward(b, dOut, mask);
        String op = "spatial_dropout.backward";
        ClTensor dX = b.allocate(dOut.shape(), op);
        try {
            planeMultiply(op, b.cl(dOut), b.cl(mask), dX);
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }

    /** out[plane, q] = in[plane, q]·mask[plane] over the N·C planes of H·W elements of {@code in}. */
    private void planeMultiply(String op, ClTensor in, ClTensor mask, ClTensor out) {
        Shape s = in.shape();
        int hw = s.dim(2) * s.dim(3);
        long planes = (long) s.dim(0) * s.dim(1);
        b.context().launch(op, CL, "spatial_dropout_multiply").mem(in).mem(mask).mem(out).i(hw).l(planes)
                .runGrid(hw, planes, 1);
    }

    /** Philox blocks (work-items) for {@code total} elements. */
    private static long blocks(int total) {
        return (total + 3L) / 4;
    }
}
