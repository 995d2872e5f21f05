package org.layerkit.opencl;

import org.layerkit.api.Contracts;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Tensor;

/** Inverted dropout with Philox4x32-10 masks computed on the device ({@code kernels/dropout.cl}). */
final class ClDropoutKernels {
    private static final String CL = "dropout";
    private final ClBackend b;

    ClDropoutKernels(ClBackend b) {
        this.b = b;
    }

    /**
     * TRAIN: mask = scale where (Philox word &gt;&gt;&gt; 8) &lt; threshold, else 0; out = x·mask (the float product,
     * so a dropped negative x gives −0 as on the CPU backend). EVAL: out = x, mask all ones.
     */
    DropoutResult forward(Tensor x, DropoutOptions o, Mode mode) {
        Contracts.dropoutForward(b, x, o, mode);
        String op = "dropout.forward";
        ClContext ctx = b.context();
        int total = x.size();
        ClTensor out = null;
        ClTensor mask = null;
        try {
            out = b.allocate(x.shape(), op);
            mask = b.allocate(x.shape(), op);
            if (mode == Mode.EVAL) {
                b.elementwise().copyInto(op, b.cl(x), out);
                b.elementwise().fillInto(op, mask, 1f);
            } else {
                // one work-item per Philox block of four elements; the threshold and scale come from the host
                long blocks = (total + 3L) / 4;
                ctx.launch(op, CL, "dropout_forward").mem(b.cl(x)).mem(out).mem(mask).i(total)
                        .i((int) o.seed()).i((int) (o.seed() >>> 32)).i((int) o.offset()).i((int) (o.offset() >>> 32))
                        .i(o.threshold()).f(o.scale()).run1d(blocks);
            }
            return new DropoutResult(out, mask);
        } catch (RuntimeException e) {
            ClBackend.closeAll(out, mask);
            throw e;
        }
    }

    /** dX = dOut ⊙ mask. */
    Tensor backward(Tensor dOut, Tensor mask) {
        Contracts.dropoutBackward(b, dOut, mask);
        String op = "dropout.backward";
        int total = mask.size();
        ClTensor dX = b.allocate(mask.shape(), op);
        try {
            // one work-item per four elements
            b.context().launch(op, CL, "dropout_backward").mem(b.cl(dOut)).mem(b.cl(mask)).mem(dX).i(total)
                    .run1d((total + 3L) / 4);
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }
}
