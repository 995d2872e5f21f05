package org.layerkit.opencl;

import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.Contracts;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.LossResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * The OpenCL backend: tensors are device buffers of one {@link ClContext}, and every kernel runs on them in the
 * context's in-order queue, so data crosses to the host only in {@link #upload} and {@link Tensor#toArray()}.
 * Nothing in a training step waits for the device: {@link #upload} copies the array into a staging buffer and
 * returns without waiting (arrays above 64 MiB excepted), and the only blocking calls are {@link Tensor#toArray()},
 * {@link #synchronize()} and {@link #close()}. Those points also report a bad softmax label of an earlier call (see {@link ClLossKernels}).
 */
public final class ClBackend implements Backend {
    private final ClContext ctx;
    private final ClNormKernels norm;
    private final ClDropoutKernels dropout;
    private final ClGemmKernels gemm;
    private final ClElementwiseKernels elementwise;
    private final ClLossKernels loss;
    private final ClOptimKernels optim;

    ClBackend(ClContext ctx) {
        this(ctx, ctx.device().gpu() ? ClNormKernels.ColumnFusion.WHERE_FILLED : ClNormKernels.ColumnFusion.OFF,
                ctx.device().gpu() ? 8 : 1, ClBackendProvider.gemmChoice("auto", ctx.device()));
    }

    /**
     * {@code fuseColumns}: when batchnorm uses its one-launch kernels; {@code rowsPerItem}: rows
     * per work-item of its element-wise kernels (see ClNormKernels and the options of ClBackendProvider);
     * {@code gemm}: CLBlast or the tiled kernel.
     */
    ClBackend(ClContext ctx, ClNormKernels.ColumnFusion fuseColumns, int rowsPerItem, ClGemmKernels.Choice gemm) {
        this.ctx = ctx;
        this.norm = new ClNormKernels(this, fuseColumns, rowsPerItem);
        this.dropout = new ClDropoutKernels(this);
        this.gemm = new ClGemmKernels(this, gemm);
        this.elementwise = new ClElementwiseKernels(this);
        this.optim = new ClOptimKernels(this);
        this.loss = new ClLossKernels(this);
    }

    /** The context: device handles, program cache, live-byte counter. */
    public ClContext context() {
        return ctx;
    }

    ClGemmKernels gemmKernels() {
        return gemm;
    }

    ClElementwiseKernels elementwise() {
        return elementwise;
    }

    ClDropoutKernels dropoutKernels() {
        return dropout;
    }

    /** A new uninitialised tensor. */
    ClTensor allocate(Shape shape, String op) {
        return new ClTensor(this, shape, op);
    }

    /** The ClTensor behind a tensor the op's Contracts check has already accepted. */
    ClTensor cl(Tensor t) {
        return (ClTensor) t;
    }

    /** Closes every non-null tensor (cleanup after a failed launch). */
    static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    @Override
    public String name() {
        return ClBackendProvider.NAME;
    }

    /** The context's device, its name followed by the GEMM in use, e.g. {@code "... (gemm=clblast 1.5.2)"}. */
    @Override
    public DeviceInfo device() {
        return ClBackendProvider.withGemm(ctx.device(), gemm.describe());
    }

    /** Which GEMM this backend uses: {@code clblast 1.5.2}, {@code tiled}, or {@code tiled (why not CLBlast)}. */
    public String gemmDescription() {
        return gemm.describe();
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor upload(float[] data, Shape shape) {
        if (shape == null) {
            throw Contracts.bad("upload", "shape", "a Shape", "null");
        }
        if (data == null) {
            throw Contracts.bad("upload", "data", "an array of " + shape.size() + " floats", "null");
        }
        if (data.length != shape.size()) {
            throw Contracts.bad("upload", "data", "length " + shape.size() + " (shape " + shape + ")",
                    "length " + data.length);
        }
        ClTensor t = allocate(shape, "upload");
        try {
            ctx.write("upload", t.mem(), data);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    @Override
    public Tensor zeros(Shape shape) {
        if (shape == null) {
            throw Contracts.bad("zeros", "shape", "a Shape", "null");
        }
        ClTensor t = allocate(shape, "zeros");
        try {
            elementwise.fillInto("zeros", t, 0f);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    @Override
    public void synchronize() {
        ctx.finish("synchronize");
        loss.checkLabels();
    }

    /** Throws the IllegalArgumentException of a bad softmax label enqueued since the last check, if any. */
    void checkLabels() {
        loss.checkLabels();
    }

    /** Releases the device; a bad softmax label not yet reported is reported here, after the release. */
    @Override
    public void close() {
        if (!isClosed()) {
            try {
                loss.checkLabels();
            } finally {
                loss.close();
                ctx.close();
                gemm.close();
            }
        }
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return ctx.isClosed();
    }

    // ---------------------------------------------------------------- normalization

    @Override
    public NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                       BatchNormParams params, Mode mode) {
        return norm.batchNormForward(x, gamma, beta, runningMean, runningVar, params, mode);
    }

    @Override
    public NormGrads batchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return norm.batchNormBackward(dOut, cache, gamma);
    }

    @Override
    public NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                              Tensor runningVar, BatchNormParams params, Mode mode) {
        return norm.spatialBatchNormForward(x, gamma, beta, runningMean, runningVar, params, mode);
    }

    @Override
    public NormGrads spatialBatchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return norm.spatialBatchNormBackward(dOut, cache, gamma);
    }

    @Override
    public NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return norm.layerNormForward(x, gamma, beta, eps);
    }

    @Override
    public NormGrads layerNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return norm.layerNormBackward(dOut, cache, gamma);
    }

    @Override
    public NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        return norm.groupNormForward(x, gamma, beta, groups, eps);
    }

    @Override
    public NormGrads groupNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return norm.groupNormBackward(dOut, cache, gamma);
    }

    // ---------------------------------------------------------------- dropout

    @Override
    public DropoutResult dropoutForward(Tensor x, DropoutOptions options, Mode mode) {
        return dropout.forward(x, options, mode);
    }

    @Override
    public Tensor dropoutBackward(Tensor dOut, Tensor mask) {
        return dropout.backward(dOut, mask);
    }

    // ---------------------------------------------------------------- training ops

    @Override
    public void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        gemm.gemm(a, transA, b, transB, c, alpha, beta);
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        elementwise.addBias(x, bias);
    }

    @Override
    public Tensor columnSum(Tensor x) {
        return elementwise.columnSum(x);
    }

    @Override
    public Tensor relu(Tensor x) {
        return elementwise.relu(x);
    }

    @Override
    public Tensor reluBackward(Tensor dOut, Tensor x) {
        return elementwise.reluBackward(dOut, x);
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels) {
        return loss.softmaxCrossEntropy(logits, labels);
    }

    @Override
    public Tensor argmax(Tensor x) {
        return loss.argmax(x);
    }

    @Override
    public Tensor sumOfSquares(Tensor x) {
        return elementwise.sumOfSquares(x);
    }

    // ---------------------------------------------------------------- optimizers

    @Override
    public void sgd(Tensor w, Tensor dw, float learningRate) {
        optim.sgd(w, dw, learningRate);
    }

    @Override
    public void sgdMomentum(Tensor w, Tensor dw, Tensor velocity, float learningRate, float momentum) {
        optim.sgdMomentum(w, dw, velocity, learningRate, momentum);
    }

    @Override
    public void rmsprop(Tensor w, Tensor dw, Tensor cache, float learningRate, float decayRate, float eps) {
        optim.rmsprop(w, dw, cache, learningRate, decayRate, eps);
    }

    @Override
    public void adam(Tensor w, Tensor dw, Tensor m, Tensor v, float learningRate, float beta1, float beta2,
                     float eps, int t) {
        optim.adam(w, dw, m, v, learningRate, beta1, beta2, eps, t);
    }

    // ---------------------------------------------------------------- element-wise

    @Override
    public void fill(Tensor t, float value) {
        elementwise.fill(t, value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        elementwise.copy(src, dst);
    }

    @Override
    public void scale(Tensor t, float alpha) {
        elementwise.scale(t, alpha);
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        elementwise.axpy(alpha, x, y);
    }

    @Override
    public String toString() {
        return "opencl backend on " + device().describe();
    }
}
