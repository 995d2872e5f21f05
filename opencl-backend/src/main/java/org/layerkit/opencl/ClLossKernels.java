package org.layerkit.opencl;

import org.jocl.cl_mem;
import org.layerkit.api.Contracts;
import org.layerkit.api.LossResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Softmax cross-entropy and argmax over rows ({@code kernels/loss.cl}), one work-group per row.
 *
 * <p>Labels are validated on the device: the kernel records the first row whose label is not an integer in
 * 0..K−1 in a one-int flag buffer, and this class reads that int (4 bytes, a blocking read that waits for the
 * kernel) before returning, so a bad label throws {@link IllegalArgumentException} from the call itself, as on
 * the CPU backend. That read is the one host synchronization of the op; the loss and dLogits stay on the device.
 */
final class ClLossKernels {
    private static final String CL = "loss";
    private static final int NO_BAD_ROW = Integer.MAX_VALUE;
    private final ClBackend b;
    private final cl_mem badRow;

    ClLossKernels(ClBackend b) {
        this.b = b;
        this.badRow = b.context().allocate("softmax_cross_entropy", 4);
        b.context().writeInt("softmax_cross_entropy", badRow, NO_BAD_ROW);
    }

    /** loss = −(1/N)·Σ log softmax(logits)[n, label n] as [1]; dLogits = (softmax − onehot)/N. */
    LossResult softmaxCrossEntropy(Tensor logits, Tensor labels) {
        String op = "softmax_cross_entropy";
        Contracts.softmaxCrossEntropy(b, logits, labels);
        ClContext ctx = b.context();
        int n = logits.shape().dim(0);
        int k = logits.shape().dim(1);
        ClTensor loss = null;
        ClTensor dLogits = null;
        ClTensor rowLoss = null;
        try {
            loss = b.allocate(Shape.of(1), op);
            dLogits = b.allocate(logits.shape(), op);
            rowLoss = b.allocate(Shape.of(n), op);
            int ly = rowGroup(ctx, "softmax_xent_rows", k);
            // per row: max, Σ exp, −log softmax at the label, dLogits; bad labels flagged
            ctx.launch(op, CL, "softmax_xent_rows").mem(b.cl(logits)).mem(b.cl(labels)).i(n).i(k).mem(rowLoss)
                    .mem(dLogits).mem(badRow).local((long) ly * ctx.accBytes()).run2d(n, ly, 1, ly);
            // the mean over rows, reduced on the device into [1]
            b.elementwise().segmentSum(op, rowLoss.mem(), ClLayout.whole(n), 1f / n, loss.mem());
            int bad = ctx.readInt(op, badRow);
            if (bad != NO_BAD_ROW) {
                ctx.writeInt(op, badRow, NO_BAD_ROW);
                float value = ctx.read(op, b.cl(labels).mem(), bad, 1)[0];
                throw Contracts.bad(op, "labels[" + bad + "]", "an integer class index in [0," + k + ")", value);
            }
            return new LossResult(loss, dLogits);
        } catch (RuntimeException e) {
            ClBackend.closeAll(loss, dLogits);
            throw e;
        } finally {
            ClBackend.closeAll(rowLoss);
        }
    }

    /** The index of the first largest element of each row, as floats [N]. */
    Tensor argmax(Tensor x) {
        String op = "argmax";
        Contracts.requireRank(op, "x", x, 2, b);
        ClContext ctx = b.context();
        int n = x.shape().dim(0);
        int k = x.shape().dim(1);
        ClTensor out = b.allocate(Shape.of(n), op);
        try {
            int ly = rowGroup(ctx, "argmax_rows", k);
            ctx.launch(op, CL, "argmax_rows").mem(b.cl(x)).i(k).mem(out).local(4L * ly).local(4L * ly)
                    .run2d(n, ly, 1, ly);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Work-items per row: {@link ClContext#reductionGroup} and {@link ClContext#treeWidth}, no more than K needs. */
    private static int rowGroup(ClContext ctx, String kernel, int k) {
        int group = Math.min(ctx.reductionGroup(CL, kernel), ctx.treeWidth());
        return Math.min(group, ClLaunch.ceilPow2(k));
    }

    void close() {
        b.context().release(badRow, 4);
    }
}
