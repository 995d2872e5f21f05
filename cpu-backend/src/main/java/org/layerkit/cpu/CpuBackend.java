package org.layerkit.cpu;

import java.util.Objects;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormGradSums;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.BatchNormStats;
import org.layerkit.api.Contracts;
import org.layerkit.api.Conv2dCache;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.LossResult;
import org.layerkit.api.MaxPool2dCache;
import org.layerkit.api.MaxPool2dResult;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.StorageTracker;
import org.layerkit.api.Tensor;

/**
 * The CPU backend: tensors are heap {@code float[]}s recycled through a {@link CpuMemoryPool}; kernels are pure
 * Java (split over cores for large tensors) except GEMM, which goes to native BLAS where present. Every method
 * delegates to the op family's kernel class, which begins with the matching {@link Contracts} check.
 */
public final class CpuBackend implements Backend {
    /**
     * Whether this JVM runs with the Vector API module ({@code java --add-modules jdk.incubator.vector}); then the
     * normalization forwards use {@link CpuVector}, else the auto-vectorized loops of {@link CpuLoops}.
     */
    static final boolean VECTOR_API_PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private final DeviceInfo device;
    private final CpuMemoryPool pool;
    /** The storage of every open tensor (no GC nudges: heap arrays are the collector's own business). */
    private final StorageTracker tracker = new StorageTracker(CpuBackendProvider.NAME, 0);
    private final boolean vectorApi;
    private volatile boolean closed;

    /** A backend on this JVM's CPU, described by {@code device}; the Vector API kernels where the JVM has them. */
    public CpuBackend(DeviceInfo device) {
        this(device, VECTOR_API_PRESENT);
    }

    /** As {@link #CpuBackend(DeviceInfo)}, with the Vector API kernels only if {@code vectorApi} (and present). */
    CpuBackend(DeviceInfo device, boolean vectorApi) {
        this.device = Objects.requireNonNull(device, "device");
        this.vectorApi = vectorApi && VECTOR_API_PRESENT;
        // pool at most a quarter of the heap (counted in floats)
        this.pool = new CpuMemoryPool(Runtime.getRuntime().maxMemory() / 4 / Float.BYTES);
    }

    /** Whether the normalization forwards run on {@link CpuVector} (else on {@link CpuLoops}). */
    boolean vectorApi() {
        return vectorApi;
    }

    /** A backend on this JVM's CPU, described by its core count and the BLAS that GEMM uses. */
    public CpuBackend() {
        this(CpuBackendProvider.describeDevice());
    }

    @Override
    public String name() {
        return CpuBackendProvider.NAME;
    }

    @Override
    public DeviceInfo device() {
        return device;
    }

    CpuMemoryPool pool() {
        return pool;
    }

    StorageTracker tracker() {
        return tracker;
    }

    /** Tensors of this backend not yet closed (nor reclaimed by the garbage collector): leak tests count them. */
    public long liveTensors() {
        return tracker.liveCount();
    }

    /** Bytes of {@link #liveTensors()}' arrays (arrays kept for a pin after their tensor closed are not counted). */
    public long liveBytes() {
        return tracker.liveBytes();
    }

    // ---------------------------------------------------------------- memory

    /** The storage of a tensor the contract checks have already accepted as an open tensor of this backend. */
    static float[] data(Tensor t) {
        return ((CpuTensor) t).data();
    }

    /**
     * The storage of a tensor an op is about to write in place (counting a new version of its contents, which a
     * normalization cache that keeps the tensor as its input checks). Every in-place write must come through here.
     */
    static float[] written(Tensor t) {
        return ((CpuTensor) t).dataForWrite();
    }

    /** A new tensor whose contents are unspecified: the caller must write every element. */
    CpuTensor allocate(Shape shape) {
        ensureOpen("allocate");
        return new CpuTensor(this, shape, pool.take(CpuSizes.elements("allocate", shape)));
    }

    /** A new tensor of {@code values[from .. from + shape.size())}, each rounded to float once. */
    CpuTensor fromDoubles(double[] values, int from, Shape shape) {
        CpuTensor t = allocate(shape);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) values[from + i];
        }
        return t;
    }

    /** A new tensor of {@code values}, each rounded to float once. */
    CpuTensor fromDoubles(double[] values, Shape shape) {
        return fromDoubles(values, 0, shape);
    }

    /** A new {@code [1]} tensor holding {@code value} rounded to float. */
    CpuTensor scalar(double value) {
        CpuTensor t = allocate(Shape.of(1));
        t.data()[0] = (float) value;
        return t;
    }

    @Override
    public Tensor upload(float[] data, Shape shape) {
        ensureOpen("upload");
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
        CpuTensor t = allocate(shape);
        System.arraycopy(data, 0, t.data(), 0, data.length);
        return t;
    }

    @Override
    public Tensor zeros(Shape shape) {
        ensureOpen("zeros");
        if (shape == null) {
            throw Contracts.bad("zeros", "shape", "a Shape", "null");
        }
        return new CpuTensor(this, shape, pool.takeZeroed(CpuSizes.elements("zeros", shape)));
    }

    /** A view: the same array under another shape (see {@link CpuTensor#view}); nothing is copied. */
    @Override
    public Tensor reshape(Tensor t, Shape shape) {
        Contracts.reshape(this, t, shape);
        return ((CpuTensor) t).view(shape);
    }

    /** Releases every tensor's array (each tensor of this backend then refuses use) and empties the pool. */
    @Override
    public void close() {
        closed = true;
        tracker.closeAll();
        pool.close();
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    private void ensureOpen(String op) {
        if (closed) {
            throw Contracts.closedBackend(op, name());
        }
    }

    // ---------------------------------------------------------------- normalization

    @Override
    public NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                       BatchNormParams params, Mode mode) {
        return CpuNormKernels.batchNormForward(this, x, gamma, beta, runningMean, runningVar, params, mode);
    }

    @Override
    public NormGrads batchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return CpuNormKernels.batchNormBackward(this, dOut, cache, gamma);
    }

    @Override
    public NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                              Tensor runningVar, BatchNormParams params, Mode mode) {
        return CpuNormKernels.spatialBatchNormForward(this, x, gamma, beta, runningMean, runningVar, params, mode);
    }

    @Override
    public NormGrads spatialBatchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return CpuNormKernels.spatialBatchNormBackward(this, dOut, cache, gamma);
    }

    @Override
    public BatchNormStats batchNormLocalStats(Tensor x) {
        return CpuNormKernels.localStats(this, x, false);
    }

    @Override
    public BatchNormStats spatialBatchNormLocalStats(Tensor x) {
        return CpuNormKernels.localStats(this, x, true);
    }

    @Override
    public NormResult batchNormNormalize(Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd) {
        return CpuNormKernels.normalize(this, x, gamma, beta, mean, invstd, false);
    }

    @Override
    public NormResult spatialBatchNormNormalize(Tensor x, Tensor gamma, Tensor beta, double[] mean,
                                                double[] invstd) {
        return CpuNormKernels.normalize(this, x, gamma, beta, mean, invstd, true);
    }

    @Override
    public BatchNormGradSums batchNormBackwardReduce(Tensor dOut, NormCache cache) {
        return CpuNormKernels.backwardReduce(this, dOut, cache, false);
    }

    @Override
    public BatchNormGradSums spatialBatchNormBackwardReduce(Tensor dOut, NormCache cache) {
        return CpuNormKernels.backwardReduce(this, dOut, cache, true);
    }

    @Override
    public Tensor batchNormBackwardElementwise(Tensor dOut, NormCache cache, Tensor gamma, BatchNormGradSums global,
                                               long count) {
        return CpuNormKernels.backwardElementwise(this, dOut, cache, gamma, global, count, false);
    }

    @Override
    public Tensor spatialBatchNormBackwardElementwise(Tensor dOut, NormCache cache, Tensor gamma,
                                                      BatchNormGradSums global, long count) {
        return CpuNormKernels.backwardElementwise(this, dOut, cache, gamma, global, count, true);
    }

    @Override
    public NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return CpuNormKernels.layerNormForward(this, x, gamma, beta, eps);
    }

    @Override
    public NormGrads layerNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return CpuNormKernels.layerNormBackward(this, dOut, cache, gamma);
    }

    @Override
    public NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        return CpuNormKernels.groupNormForward(this, x, gamma, beta, groups, eps);
    }

    @Override
    public NormGrads groupNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        return CpuNormKernels.groupNormBackward(this, dOut, cache, gamma);
    }

    // ---------------------------------------------------------------- dropout

    @Override
    public DropoutResult dropoutForward(Tensor x, DropoutOptions options, Mode mode) {
        return CpuDropout.forward(this, x, options, mode);
    }

    @Override
    public Tensor dropoutBackward(Tensor dOut, Tensor mask) {
        return CpuDropout.backward(this, dOut, mask);
    }


    // ---------------------------------------------------------------- convolution and pooling

    @Override
    public Conv2dResult conv2dForward(Tensor x, Tensor w, Tensor bias, Conv2dParams params) {
        return CpuConv.forward(this, x, w, bias, params);
    }

    @Override
    public Conv2dGrads conv2dBackward(Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad) {
        return CpuConv.backward(this, dOut, cache, w, inputGrad);
    }

    @Override
    public MaxPool2dResult maxPool2dForward(Tensor x, Pool2dParams params) {
        return CpuPool.maxForward(this, x, params);
    }

    @Override
    public Tensor maxPool2dBackward(Tensor dOut, MaxPool2dCache cache) {
        return CpuPool.maxBackward(this, dOut, cache);
    }

    @Override
    public Tensor globalAvgPoolForward(Tensor x) {
        return CpuPool.avgForward(this, x);
    }

    @Override
    public Tensor globalAvgPoolBackward(Tensor dOut, Shape inputShape) {
        return CpuPool.avgBackward(this, dOut, inputShape);
    }

    @Override
    public DropoutResult spatialDropoutForward(Tensor x, DropoutOptions options, Mode mode) {
        return CpuSpatialDropout.forward(this, x, options, mode);
    }

    @Override
    public Tensor spatialDropoutBackward(Tensor dOut, Tensor mask) {
        return CpuSpatialDropout.backward(this, dOut, mask);
    }

    // ---------------------------------------------------------------- training ops

    @Override
    public void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        Contracts.gemm(this, a, transA, b, transB, c);
        int m = c.shape().dim(0);
        int n = c.shape().dim(1);
        int k = transA ? a.shape().dim(0) : a.shape().dim(1);
        if (c == a || c == b) {
            // C = op(C)·op(B) or op(A)·op(C): BLAS must not write what it still reads, so go through a copy
            try (CpuTensor in = (CpuTensor) copyOf(c)) {
                gemm(c == a ? in : a, transA, c == b ? in : b, transB, c, alpha, beta);
            }
            return;
        }
        CpuGemm.gemm(data(a), a.shape().dim(1), transA, data(b), b.shape().dim(1), transB, written(c), m, n, k,
                alpha, beta);
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        CpuTrainingKernels.addBias(this, x, bias);
    }

    @Override
    public Tensor columnSum(Tensor x) {
        return CpuTrainingKernels.columnSum(this, x);
    }

    @Override
    public Tensor relu(Tensor x) {
        return CpuTrainingKernels.relu(this, x);
    }

    @Override
    public Tensor reluBackward(Tensor dOut, Tensor x) {
        return CpuTrainingKernels.reluBackward(this, dOut, x);
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels) {
        return CpuTrainingKernels.softmaxCrossEntropy(this, logits, labels);
    }

    @Override
    public Tensor argmax(Tensor x) {
        return CpuTrainingKernels.argmax(this, x);
    }

    @Override
    public Tensor sumOfSquares(Tensor x) {
        return CpuTrainingKernels.sumOfSquares(this, x);
    }

    // ---------------------------------------------------------------- optimizers

    @Override
    public void sgd(Tensor w, Tensor dw, float learningRate) {
        CpuOptimizers.sgd(this, w, dw, learningRate);
    }

    @Override
    public void sgdMomentum(Tensor w, Tensor dw, Tensor velocity, float learningRate, float momentum) {
        CpuOptimizers.sgdMomentum(this, w, dw, velocity, learningRate, momentum);
    }

    @Override
    public void rmsprop(Tensor w, Tensor dw, Tensor cache, float learningRate, float decayRate, float eps) {
        CpuOptimizers.rmsprop(this, w, dw, cache, learningRate, decayRate, eps);
    }

    @Override
    public void adam(Tensor w, Tensor dw, Tensor m, Tensor v, float learningRate, float beta1, float beta2,
                     float eps, int t) {
        CpuOptimizers.adam(this, w, dw, m, v, learningRate, beta1, beta2, eps, t);
    }

    // ---------------------------------------------------------------- element-wise

    @Override
    public void fill(Tensor t, float value) {
        CpuElementwise.fill(this, t, value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CpuElementwise.copy(this, src, dst);
    }

    @Override
    public void scale(Tensor t, float alpha) {
        CpuElementwise.scale(this, t, alpha);
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        CpuElementwise.axpy(this, alpha, x, y);
    }

    @Override
    public Tensor copyOf(Tensor t) {
        Contracts.requireOwned("copy", "src", t, this);
        CpuTensor d = allocate(t.shape());
        System.arraycopy(data(t), 0, d.data(), 0, t.size());
        return d;
    }

    @Override
    public String toString() {
        return "CpuBackend[" + device.name() + "]";
    }
}
