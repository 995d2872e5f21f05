package org.layerkit.opencl;

import java.lang.ref.Reference;

import org.jocl.Sizeof;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** fill/copy/scale/axpy, bias add and column sums, ReLU and Σx² ({@code kernels/elementwise.cl}). */
final class ClElementwiseKernels {
    private static final String CL = "elementwise";
    /** Upper bound on the work-groups of stage 1 of Σx². */
    private static final int MAX_PARTIALS = 256;
    private final ClBackend b;

    ClElementwiseKernels(ClBackend b) {
        this.b = b;
    }

    // ---------------------------------------------------------------- in place

    void fill(Tensor t, float value) {
        Contracts.requireOwned("fill", "t", t, b);
        fillInto("fill", b.cl(t), value);
    }

    void fillInto(String op, ClTensor t, float value) {
        b.context().launch(op, CL, "fill").mem(t).f(value).i(t.size()).run1d(t.size());
    }

    void copy(Tensor src, Tensor dst) {
        Contracts.sameShape(b, "copy", "src", src, "dst", dst);
        copyInto("copy", b.cl(src), b.cl(dst));
    }

    void copyInto(String op, ClTensor src, ClTensor dst) {
        if (src == dst) {
            return; // clEnqueueCopyBuffer rejects overlapping regions; copying a tensor onto itself changes nothing
        }
        b.context().copy(op, src.mem(), dst.mem(), (long) src.size() * Sizeof.cl_float);
        // their buffers are theirs until the copy is enqueued (see ClBuffer)
        Reference.reachabilityFence(src);
        Reference.reachabilityFence(dst);
    }

    void scale(Tensor t, float alpha) {
        Contracts.requireOwned("scale", "t", t, b);
        b.context().launch("scale", CL, "scale").mem(b.cl(t)).f(alpha).i(t.size()).run1d(t.size());
    }

    void axpy(float alpha, Tensor x, Tensor y) {
        Contracts.sameShape(b, "axpy", "x", x, "y", y);
        b.context().launch("axpy", CL, "axpy").f(alpha).mem(b.cl(x)).mem(b.cl(y)).i(x.size()).run1d(x.size());
    }

    // ---------------------------------------------------------------- bias

    /** x[n,d] += bias[d]. */
    void addBias(Tensor x, Tensor bias) {
        Contracts.addBias(b, x, bias);
        int d = x.shape().dim(1);
        int n = x.shape().dim(0);
        b.context().launch("bias.add", CL, "add_bias").mem(b.cl(x)).mem(b.cl(bias)).i(n).i(d).runRows(d, n);
    }

    /** Σ_N x[n,d] as a new [D]: a column reduction, 32 neighbouring columns per work-group. */
    Tensor columnSum(Tensor x) {
        String op = "bias.column_sum";
        Contracts.requireRank(op, "x", x, 2, b);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        ClTensor out = b.allocate(Shape.of(d), op);
        try {
            segmentSum(op, b.cl(x), ClLayout.columns(n, d), 1f, out);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * out[s] = scale·Σ over statistic s of the layout; split statistics are summed per chunk into [P,S] partial
     * sums first, then those columns are summed.
     */
    void segmentSum(String op, ClTensor x, ClLayout layout, float scale, ClTensor out) {
        ClContext ctx = b.context();
        ClLayout.Plan plan = layout.plan(ctx, CL, "segment_sum");
        if (plan.chunks() == 1) {
            ClLaunch l = ctx.launch(op, CL, "segment_sum").mem(x);
            layout.args(l).i(plan.chunkLen()).f(scale).mem(out);
            layout.run(ctx, l, plan);
            return;
        }
        try (ClTensor partial = b.allocate(Shape.of(plan.chunks(), layout.stats()), op)) {
            ClLaunch l = ctx.launch(op, CL, "segment_sum").mem(x);
            layout.args(l).i(plan.chunkLen()).f(1f).mem(partial);
            layout.run(ctx, l, plan);
            segmentSum(op, partial, ClLayout.columns(plan.chunks(), layout.stats()), scale, out);
        }
    }

    // ---------------------------------------------------------------- relu

    Tensor relu(Tensor x) {
        String op = "relu.forward";
        Contracts.requireOwned(op, "x", x, b);
        ClTensor out = b.allocate(x.shape(), op);
        try {
            b.context().launch(op, CL, "relu_forward").mem(b.cl(x)).mem(out).i(x.size()).run1d(x.size());
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    Tensor reluBackward(Tensor dOut, Tensor x) {
        String op = "relu.backward";
        Contracts.sameShape(b, op, "x", x, "dOut", dOut);
        ClTensor dX = b.allocate(x.shape(), op);
        try {
            b.context().launch(op, CL, "relu_backward").mem(b.cl(dOut)).mem(b.cl(x)).mem(dX).i(x.size())
                    .run1d(x.size());
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- Σx²

    /** Two stages: P work-groups write partial sums, one work-group adds them up. */
    Tensor sumOfSquares(Tensor x) {
        String op = "sum_of_squares";
        Contracts.requireOwned(op, "x", x, b);
        ClContext ctx = b.context();
        int total = x.size();
        int group = Math.min(ctx.reductionGroup(CL, "sum_squares_partial"), ctx.treeWidth());
        int partials = (int) Math.max(1, Math.min(MAX_PARTIALS, ClLaunch.roundUp(total, 4L * group) / (4L * group)));
        ClTensor out = null;
        ClTensor partial = null;
        try {
            out = b.allocate(Shape.of(1), op);
            partial = b.allocate(Shape.of(partials), op);
            // stage 1: each work-group sums the squares of a strided share
            ctx.launch(op, CL, "sum_squares_partial").mem(b.cl(x)).i(total).mem(partial)
                    .local((long) group * ctx.accBytes()).run2d(1, (long) partials * group, 1, group);
            // stage 2: the partial sums
            segmentSum(op, partial, ClLayout.whole(partials), 1f, out);
            return out;
        } catch (RuntimeException e) {
            ClBackend.closeAll(out);
            throw e;
        } finally {
            ClBackend.closeAll(partial);
        }
    }
}
