package org.layerkit.opencl;

import org.jocl.cl_mem;
import org.layerkit.api.Contracts;
import org.layerkit.api.LossResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Softmax cross-entropy and argmax over rows ({@code kernels/loss.cl}), one work-group per row.
 *
 * <p>Labels are validated on the device without a host synchronization per call: a row whose label is not an
 * integer in 0..K−1 gets a NaN loss and NaN dLogits (so nothing trains on it silently), and the kernels record the
 * first such row of the first offending call, its label and K in a small check buffer. That buffer is read at the
 * next point that waits for the device anyway ({@link Tensor#toArray()} of any tensor of this backend,
 * {@link ClBackend#synchronize()}, {@link ClBackend#close()}), which then throws the same
 * {@link IllegalArgumentException} as the CPU backend throws from the call: {@code "softmax_cross_entropy:
 * labels[n] expected an integer class index in [0,K), got v"}. The loss and dLogits stay on the device.
 */
final class ClLossKernels {
    private static final String CL = "loss";
    private static final int NO_BAD_ROW = Integer.MAX_VALUE;
    /** check[0]: this call's smallest bad row; check[1..3]: the unread report (row, label bits, K). */
    private static final int CHECK_INTS = 4;
    private final ClBackend b;
    private final cl_mem check;
    /** Whether a call was enqueued since the check buffer was last read (guarded by the context's lock). */
    private boolean unchecked;

    ClLossKernels(ClBackend b) {
        this.b = b;
        this.check = b.context().allocate("softmax_cross_entropy", 4L * CHECK_INTS);
        b.context().writeInts("softmax_cross_entropy", check, NO_BAD_ROW, NO_BAD_ROW, 0, 0);
    }

    /** loss = −(1/N)·Σ log softmax(logits)[n, label n] as [1]; dLogits = (softmax − onehot)/N. Two launches. */
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
            int lm = rowGroup(ctx, "softmax_xent_mean", n);
            // both launches under the context's lock: a call on another thread must not put its rows kernel between
            // them, or this call's mean would report that call's bad row with this call's label
            synchronized (ctx) {
                // per row: max, Σ exp, −log softmax at the label, dLogits; bad labels flagged in check[0]
                ctx.launch(op, CL, "softmax_xent_rows").mem(b.cl(logits)).mem(b.cl(labels)).i(n).i(k).mem(rowLoss)
                        .mem(dLogits).mem(check).local((long) ly * ctx.accBytes()).run2d(n, ly, 1, ly);
                // the mean over rows in one work-group; moves a bad-label report into check[1..3]
                ctx.launch(op, CL, "softmax_xent_mean").mem(rowLoss).mem(b.cl(labels)).i(n).i(k).mem(loss)
                        .mem(check).local((long) lm * ctx.accBytes()).run2d(1, lm, 1, lm);
                unchecked = true;
            }
            return new LossResult(loss, dLogits);
        } catch (RuntimeException e) {
            ClBackend.closeAll(loss, dLogits);
            throw e;
        } finally {
            ClBackend.closeAll(rowLoss);
        }
    }

    /**
     * At a synchronization point: if a call since the last check had a bad label, clears the report and throws the
     * IllegalArgumentException naming the op, the first bad row of the first such call, its value and K.
     */
    void checkLabels() {
        ClContext ctx = b.context();
        int[] report;
        synchronized (ctx) {
            if (!unchecked || ctx.isClosed()) {
                return;
            }
            report = ctx.readInts("softmax_cross_entropy", check, CHECK_INTS);
            unchecked = false;
            if (report[1] == NO_BAD_ROW) {
                return;
            }
            ctx.writeInts("softmax_cross_entropy", check, NO_BAD_ROW, NO_BAD_ROW, 0, 0);
        }
        float value = Float.intBitsToFloat(report[2]);
        throw Contracts.bad("softmax_cross_entropy", "labels[" + report[1] + "]",
                "an integer class index in [0," + report[3] + ")", value);
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
        b.context().release(check, 4L * CHECK_INTS);
    }
}
