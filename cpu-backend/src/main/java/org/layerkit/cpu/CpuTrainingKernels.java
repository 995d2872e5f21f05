package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.LossResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The kernels a fully connected net needs around the normalization layers: bias add and its gradient (column
 * sum), ReLU, softmax cross-entropy, argmax and the L2 sum of squares. Shape letters: N batch, D features,
 * K classes. Derivation of the loss in {@code docs/ops/softmax_cross_entropy.md}.
 */
final class CpuTrainingKernels {
    private CpuTrainingKernels() {
    }

    // ---------------------------------------------------------------- bias [N,D] + [D]

    static void addBias(CpuBackend be, Tensor x, Tensor bias) {
        Contracts.addBias(be, x, bias);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.written(x);
        float[] b = CpuBackend.data(bias);
        CpuParallel.forRows(n, d, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * d;
                for (int j = 0; j < d; j++) {
                    xs[off + j] += b[j];
                }
            }
        });
    }

    static Tensor columnSum(CpuBackend be, Tensor x) {
        Contracts.requireRank("bias.column_sum", "x", x, 2, be);
        int n = x.shape().dim(0);
        int d = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        // per-chunk partial sums in double, combined in chunk order (few chunks for wide rows)
        int chunks = CpuSizes.partialChunks(n, d, d);
        double[][] part = new double[chunks][d];
        CpuParallel.forChunks(chunks, n, (k, from, to) -> {
            double[] acc = part[k];
            for (int row = from; row < to; row++) {
                int off = row * d;
                for (int j = 0; j < d; j++) {
                    acc[j] += xs[off + j];
                }
            }
        });
        CpuTensor out = be.allocate(Shape.of(d));
        float[] o = out.data();
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < chunks; k++) {
                s += part[k][j];
            }
            o[j] = (float) s;
        }
        return out;
    }

    // ---------------------------------------------------------------- ReLU

    static Tensor relu(CpuBackend be, Tensor x) {
        Contracts.requireOwned("relu.forward", "x", x, be);
        float[] xs = CpuBackend.data(x);
        CpuTensor out = be.allocate(x.shape());
        float[] y = out.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(xs.length, 1, (k, from, to) -> {
            if (vector) {
                CpuVector.relu(xs, y, from, to);
                return;
            }
            for (int i = from; i < to; i++) {
                // y = x ≤ 0 ? 0 : x (NaN stays NaN), on the bits (see keepMask)
                int bits = Float.floatToRawIntBits(xs[i]);
                y[i] = Float.intBitsToFloat(bits & keepMask(bits));
            }
        });
        return out;
    }

    /**
     * All ones when the float with these bits is not ≤ 0 — positive (finite or +∞) or NaN — else zero (±0, negative,
     * −∞): ReLU keeps x there, so NaN propagates as IEEE maximum and PyTorch propagate it. Positive floats are the
     * bit patterns 1 … 0x7F800000 read as signed ints (both differences of the first term non-negative just then);
     * NaNs of either sign have magnitude bits above 0x7F800000. A branch-free, vectorizable {@code !(x <= 0f)}: with
     * random signs, the branch of {@code x <= 0f ? 0f : x} mispredicts half the time and costs about ten times the
     * whole loop. (C2 does not vectorize the bit moves either: 2.5 ms for 3.2M floats on one thread against 1.0 for
     * a vector loop, so the Vector API path, {@link CpuVector#relu}, is taken where the JVM has it, with the same
     * rule.)
     */
    static int keepMask(int bits) {
        int positive = ~(((bits - 1) | (0x7F800000 - bits)) >> 31);
        int nan = (0x7F800000 - (bits & 0x7FFFFFFF)) >> 31;
        return positive | nan;
    }

    static Tensor reluBackward(CpuBackend be, Tensor dOut, Tensor x) {
        Contracts.sameShape(be, "relu.backward", "x", x, "dOut", dOut);
        float[] xs = CpuBackend.data(x);
        float[] dy = CpuBackend.data(dOut);
        CpuTensor dX = be.allocate(x.shape());
        float[] dx = dX.data();
        boolean vector = be.vectorApi();
        CpuParallel.forRows(xs.length, 1, (k, from, to) -> {
            if (vector) {
                CpuVector.reluBackward(dy, xs, dx, from, to);
                return;
            }
            for (int i = from; i < to; i++) {
                // dX = x ≤ 0 ? 0 : dOut (dOut where x is NaN, as PyTorch's threshold_backward), branch-free
                int mask = keepMask(Float.floatToRawIntBits(xs[i]));
                dx[i] = Float.intBitsToFloat(Float.floatToRawIntBits(dy[i]) & mask);
            }
        });
        return dX;
    }

    // ---------------------------------------------------------------- softmax cross-entropy [N,K], labels [N]

    static LossResult softmaxCrossEntropy(CpuBackend be, Tensor logits, Tensor labels) {
        Contracts.softmaxCrossEntropy(be, logits, labels);
        String op = "softmax_cross_entropy";
        int n = logits.shape().dim(0);
        int kk = logits.shape().dim(1);
        float[] z = CpuBackend.data(logits);
        float[] lab = CpuBackend.data(labels);
        // step 0: every label an integer class index in [0,K), checked before any work
        for (int row = 0; row < n; row++) {
            float l = lab[row];
            if (!(l >= 0f && l < kk && l == Math.rint(l))) {
                throw Contracts.bad(op, "labels[" + row + "]", "an integer class index in [0," + kk + ")", l);
            }
        }
        CpuTensor dT = be.allocate(logits.shape());
        float[] dz = dT.data();
        double[] rowLoss = new double[n];
        double invN = 1.0 / n;
        CpuParallel.forRows(n, kk, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * kk;
                // step 1: the row max, subtracted so that exp never overflows
                float max = z[off];
                for (int j = 1; j < kk; j++) {
                    max = Math.max(max, z[off + j]);
                }
                // step 2: e_j = exp(z_j − max) (kept in dLogits for step 4) and Σ e_j in double, the label's
                // own term apart: Σ_{j≠label} e_j gives p_label − 1 without cancellation
                int label = (int) lab[row];
                double others = 0;
                for (int j = 0; j < kk; j++) {
                    double e = Math.exp((double) z[off + j] - max);
                    dz[off + j] = (float) e;
                    others += j == label ? 0 : e;
                }
                double eLabel = Math.exp((double) z[off + label] - max);
                double sum = others + eLabel;
                // step 3: loss_n = −log softmax[label] = log Σ e − (z_label − max)
                rowLoss[row] = Math.log(sum) - ((double) z[off + label] - max);
                // step 4: dLogits = (softmax − onehot)/N with softmax_j = e_j / Σ e
                double scale = invN / sum;
                for (int j = 0; j < kk; j++) {
                    dz[off + j] = (float) (dz[off + j] * scale);
                }
                // p_label − 1 = −Σ_{j≠label} e_j / Σ e: no cancellation when p_label is near 1
                dz[off + label] = (float) (-others * scale);
            }
        });
        double loss = 0;
        for (double v : rowLoss) {
            loss += v;
        }
        return new LossResult(be.scalar(loss * invN), dT);
    }

    // ---------------------------------------------------------------- argmax, sum of squares

    static Tensor argmax(CpuBackend be, Tensor x) {
        Contracts.requireRank("argmax", "x", x, 2, be);
        int n = x.shape().dim(0);
        int kk = x.shape().dim(1);
        float[] xs = CpuBackend.data(x);
        CpuTensor out = be.allocate(Shape.of(n));
        float[] o = out.data();
        CpuParallel.forRows(n, kk, (k, from, to) -> {
            for (int row = from; row < to; row++) {
                int off = row * kk;
                int best = 0;
                for (int j = 1; j < kk; j++) {
                    if (xs[off + j] > xs[off + best]) { // strict: the first maximum wins ties
                        best = j;
                    }
                }
                o[row] = best;
            }
        });
        return out;
    }

    static Tensor sumOfSquares(CpuBackend be, Tensor x) {
        Contracts.requireOwned("sum_of_squares", "x", x, be);
        float[] xs = CpuBackend.data(x);
        int chunks = CpuParallel.chunks(xs.length, 1);
        double[] part = new double[chunks];
        CpuParallel.forChunks(chunks, xs.length, (k, from, to) -> {
            double acc = 0;
            for (int i = from; i < to; i++) {
                acc += (double) xs[i] * xs[i];
            }
            part[k] = acc;
        });
        double total = 0;
        for (double v : part) {
            total += v;
        }
        return be.scalar(total);
    }
}
