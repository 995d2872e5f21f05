package org.layerkit.conformance;

import static org.layerkit.conformance.Reference.widen;

import java.util.Arrays;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
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
import org.layerkit.api.NormKind;
import org.layerkit.api.NormResult;
import org.layerkit.api.Pool2dParams;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.conformance.Reference.NormBackward;
import org.layerkit.conformance.Reference.NormForward;

/**
 * A float32 backend that computes every kernel with the float64 {@link Reference} and rounds the results: what a
 * perfect backend would return. The kit's own tests run the catalogue against it (everything must pass) and against
 * subclasses with planted bugs (the matching cases must fail). Not thread-safe; for tests only.
 */
class ReferenceBackend implements Backend {
    private boolean closed;

    /** Heap storage of this backend. */
    final class HeapTensor implements Tensor {
        private final Shape shape;
        final float[] data;
        private boolean tensorClosed;

        HeapTensor(float[] data, Shape shape) {
            this.data = data;
            this.shape = shape;
        }

        @Override
        public Shape shape() {
            return shape;
        }

        @Override
        public Backend backend() {
            return ReferenceBackend.this;
        }

        @Override
        public float[] toArray() {
            if (tensorClosed) {
                throw new IllegalStateException("toArray: tensor expected an open tensor, got a closed tensor");
            }
            return data.clone();
        }

        @Override
        public boolean isClosed() {
            return tensorClosed;
        }

        @Override
        public void close() {
            tensorClosed = true;
        }
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public DeviceInfo device() {
        return new DeviceInfo(0, "JVM", "layerkit", "float64 reference rounded to float32",
                Runtime.getRuntime().maxMemory(), 1, false);
    }

    @Override
    public void close() {
        closed = true;
    }

    boolean isClosed() {
        return closed;
    }

    // ------------------------------------------------------------------------------------------------- helpers

    float[] data(Tensor t) {
        return ((HeapTensor) t).data;
    }

    double[] d(Tensor t) {
        return widen(data(t));
    }

    Tensor of(double[] v, Shape s) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return new HeapTensor(f, s);
    }

    Tensor of(float[] v, Shape s) {
        return new HeapTensor(v, s);
    }

    void store(Tensor t, double[] v) {
        float[] f = data(t);
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
    }

    NormResult result(NormForward f, Shape xs, Shape stats, NormKind kind, Mode mode, int groups) {
        return new NormResult(of(f.out(), xs), new NormCache(kind, mode, groups, of(f.xhat(), xs),
                of(f.mean(), stats), of(f.rstd(), stats)));
    }

    NormGrads grads(NormBackward g, Shape xs, Shape params) {
        return new NormGrads(of(g.dx(), xs), of(g.dgamma(), params), of(g.dbeta(), params));
    }

    // -------------------------------------------------------------------------------------------------- memory

    @Override
    public Tensor upload(float[] data, Shape shape) {
        if (data.length != shape.size()) {
            throw Contracts.bad("upload", "data", "length " + shape.size() + " for shape " + shape,
                    "length " + data.length);
        }
        return new HeapTensor(data.clone(), shape);
    }

    @Override
    public Tensor zeros(Shape shape) {
        return new HeapTensor(new float[shape.size()], shape);
    }

    // ----------------------------------------------------------------------------------------------- batchnorm

    @Override
    public NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                       BatchNormParams p, Mode mode) {
        Contracts.batchNormForward(this, x, gamma, beta, runningMean, runningVar, p, mode);
        int n = x.shape().dim(0);
        int dd = x.shape().dim(1);
        NormForward f;
        if (mode == Mode.TRAIN) {
            f = Reference.batchNormTrain(d(x), n, dd, d(gamma), d(beta), p.eps());
            updateRunning(runningMean, runningVar, f, n, p);
        } else {
            f = Reference.batchNormEval(d(x), n, dd, d(gamma), d(beta), d(runningMean), d(runningVar), p.eps());
        }
        return result(f, x.shape(), Shape.of(dd), NormKind.BATCHNORM, mode, 1);
    }

    void updateRunning(Tensor runningMean, Tensor runningVar, NormForward f, long m, BatchNormParams p) {
        store(runningMean, Reference.runningUpdate(d(runningMean), f.mean(), p.decay()));
        store(runningVar, Reference.runningUpdate(d(runningVar),
                Reference.runningVarianceInput(f.var(), m, p.unbiasedRunningVar()), p.decay()));
    }

    @Override
    public NormGrads batchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(this, NormKind.BATCHNORM, dOut, cache, gamma);
        int n = dOut.shape().dim(0);
        int dd = dOut.shape().dim(1);
        NormBackward g = cache.mode() == Mode.TRAIN
                ? Reference.batchNormBackward(d(dOut), d(cache.xhat()), d(cache.rstd()), d(gamma), n, dd)
                : Reference.batchNormBackwardEval(d(dOut), d(cache.xhat()), d(cache.rstd()), d(gamma), n, dd);
        return grads(g, dOut.shape(), gamma.shape());
    }

    @Override
    public NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
                                              Tensor runningVar, BatchNormParams p, Mode mode) {
        Contracts.spatialBatchNormForward(this, x, gamma, beta, runningMean, runningVar, p, mode);
        Shape s = x.shape();
        int hw = s.dim(2) * s.dim(3);
        NormForward f;
        if (mode == Mode.TRAIN) {
            f = Reference.spatialBatchNormTrain(d(x), s.dim(0), s.dim(1), hw, d(gamma), d(beta), p.eps());
            updateRunning(runningMean, runningVar, f, (long) s.dim(0) * hw, p);
        } else {
            f = Reference.spatialBatchNormEval(d(x), s.dim(0), s.dim(1), hw, d(gamma), d(beta), d(runningMean),
                    d(runningVar), p.eps());
        }
        return result(f, s, Shape.of(s.dim(1)), NormKind.SPATIAL_BATCHNORM, mode, 1);
    }

    @Override
    public NormGrads spatialBatchNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(this, NormKind.SPATIAL_BATCHNORM, dOut, cache, gamma);
        Shape s = dOut.shape();
        NormBackward g = Reference.spatialBatchNormBackward(d(dOut), d(cache.xhat()), d(cache.rstd()), d(gamma),
                s.dim(0), s.dim(1), s.dim(2) * s.dim(3), cache.mode() == Mode.TRAIN);
        return grads(g, s, gamma.shape());
    }

    // ------------------------------------------------------------------------------------ layernorm, groupnorm

    @Override
    public NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Contracts.layerNormForward(this, x, gamma, beta, eps);
        int n = x.shape().dim(0);
        NormForward f = Reference.layerNormForward(d(x), n, x.shape().dim(1), d(gamma), d(beta), eps);
        return result(f, x.shape(), Shape.of(n), NormKind.LAYERNORM, Mode.TRAIN, 1);
    }

    @Override
    public NormGrads layerNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(this, NormKind.LAYERNORM, dOut, cache, gamma);
        NormBackward g = Reference.layerNormBackward(d(dOut), d(cache.xhat()), d(cache.rstd()), d(gamma),
                dOut.shape().dim(0), dOut.shape().dim(1));
        return grads(g, dOut.shape(), gamma.shape());
    }

    @Override
    public NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps) {
        Contracts.groupNormForward(this, x, gamma, beta, groups, eps);
        Shape s = x.shape();
        NormForward f = Reference.groupNormForward(d(x), s.dim(0), s.dim(1), s.dim(2) * s.dim(3), groups, d(gamma),
                d(beta), eps);
        return result(f, s, Shape.of(s.dim(0), groups), NormKind.GROUPNORM, Mode.TRAIN, groups);
    }

    @Override
    public NormGrads groupNormBackward(Tensor dOut, NormCache cache, Tensor gamma) {
        Contracts.normBackward(this, NormKind.GROUPNORM, dOut, cache, gamma);
        Shape s = dOut.shape();
        NormBackward g = Reference.groupNormBackward(d(dOut), d(cache.xhat()), d(cache.rstd()), d(gamma), s.dim(0),
                s.dim(1), s.dim(2) * s.dim(3), cache.groups());
        return grads(g, s, gamma.shape());
    }

    // ------------------------------------------------------------------------------------------------- dropout

    @Override
    public DropoutResult dropoutForward(Tensor x, DropoutOptions o, Mode mode) {
        Contracts.dropoutForward(this, x, o, mode);
        float[] mask;
        if (mode == Mode.EVAL) {
            mask = new float[x.size()];
            Arrays.fill(mask, 1f);
        } else {
            mask = Reference.dropoutMask(x.size(), o);
        }
        return new DropoutResult(of(Reference.dropoutForward(d(x), mask), x.shape()), of(mask, x.shape()));
    }

    @Override
    public Tensor dropoutBackward(Tensor dOut, Tensor mask) {
        Contracts.dropoutBackward(this, dOut, mask);
        return of(Reference.dropoutBackward(d(dOut), data(mask)), dOut.shape());
    }

    // ------------------------------------------------------------------------------------ convolution and pooling

    /** The geometry of a checked conv2d call. */
    static Reference.Conv2dShape convShape(Shape x, Shape w, Conv2dParams p) {
        return new Reference.Conv2dShape(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), p);
    }

    @Override
    public Conv2dResult conv2dForward(Tensor x, Tensor w, Tensor bias, Conv2dParams params) {
        Shape outShape = Contracts.conv2dForward(this, x, w, bias, params);
        Reference.Conv2dShape g = convShape(x.shape(), w.shape(), params);
        double[] out = Reference.conv2dForward(d(x), d(w), bias == null ? null : d(bias), g);
        // the cache owns a copy of x: closing or changing x afterwards cannot affect the backward
        Conv2dCache cache = new Conv2dCache(x.shape(), w.shape(), bias != null, params,
                new Conv2dCache.SavedTensor(of(data(x).clone(), x.shape())));
        return new Conv2dResult(of(out, outShape), cache);
    }

    @Override
    public Conv2dGrads conv2dBackward(Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad) {
        Contracts.conv2dBackward(this, dOut, cache, w);
        Tensor x = ((Conv2dCache.SavedTensor) cache.saved()).tensor();
        Reference.Conv2dShape g = convShape(cache.inputShape(), cache.weightShape(), cache.params());
        Reference.Conv2dBackward r = Reference.conv2dBackward(d(dOut), d(x), d(w), cache.hasBias(), g);
        return new Conv2dGrads(inputGrad ? of(r.dx(), cache.inputShape()) : null, of(r.dw(), cache.weightShape()),
                cache.hasBias() ? of(r.db(), Shape.of(g.f())) : null);
    }

    @Override
    public MaxPool2dResult maxPool2dForward(Tensor x, Pool2dParams params) {
        Shape outShape = Contracts.maxPool2dForward(this, x, params);
        Shape s = x.shape();
        Reference.MaxPool r = Reference.maxPool2dForward(d(x), s.dim(0), s.dim(1), s.dim(2), s.dim(3), params);
        double[] argmax = new double[r.argmax().length];
        for (int i = 0; i < argmax.length; i++) {
            argmax[i] = r.argmax()[i];
        }
        return new MaxPool2dResult(of(r.out(), outShape), new MaxPool2dCache(of(argmax, outShape), s, params));
    }

    @Override
    public Tensor maxPool2dBackward(Tensor dOut, MaxPool2dCache cache) {
        Contracts.maxPool2dBackward(this, dOut, cache);
        Shape s = cache.inputShape();
        float[] a = data(cache.argmax());
        int[] argmax = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            argmax[i] = (int) a[i];
        }
        return of(Reference.maxPool2dBackward(d(dOut), argmax, s.dim(0), s.dim(1), s.dim(2), s.dim(3),
                cache.params()), s);
    }

    @Override
    public Tensor globalAvgPoolForward(Tensor x) {
        Shape outShape = Contracts.globalAvgPoolForward(this, x);
        Shape s = x.shape();
        return of(Reference.globalAvgPoolForward(d(x), s.dim(0), s.dim(1), s.dim(2) * s.dim(3)), outShape);
    }

    @Override
    public Tensor globalAvgPoolBackward(Tensor dOut, Shape inputShape) {
        Contracts.globalAvgPoolBackward(this, dOut, inputShape);
        Shape s = inputShape;
        return of(Reference.globalAvgPoolBackward(d(dOut), s.dim(0), s.dim(1), s.dim(2) * s.dim(3)), s);
    }

    @Override
    public DropoutResult spatialDropoutForward(Tensor x, DropoutOptions o, Mode mode) {
        Contracts.spatialDropoutForward(this, x, o, mode);
        Shape s = x.shape();
        Shape maskShape = Shape.of(s.dim(0), s.dim(1));
        float[] mask;
        if (mode == Mode.EVAL) {
            mask = new float[maskShape.size()];
            Arrays.fill(mask, 1f);
        } else {
            mask = Reference.spatialDropoutMask(s.dim(0), s.dim(1), o);
        }
        return new DropoutResult(of(Reference.spatialDropoutForward(d(x), mask, s.dim(2) * s.dim(3)), s),
                of(mask, maskShape));
    }

    @Override
    public Tensor spatialDropoutBackward(Tensor dOut, Tensor mask) {
        Contracts.spatialDropoutBackward(this, dOut, mask);
        Shape s = dOut.shape();
        return of(Reference.spatialDropoutBackward(d(dOut), data(mask), s.dim(2) * s.dim(3)), s);
    }

    // -------------------------------------------------------------------------------------------- training ops

    @Override
    public void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        Contracts.gemm(this, a, transA, b, transB, c);
        store(c, Reference.gemm(d(a), a.shape().dim(0), a.shape().dim(1), transA, d(b), b.shape().dim(0),
                b.shape().dim(1), transB, d(c), alpha, beta));
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        Contracts.addBias(this, x, bias);
        store(x, Reference.addBias(d(x), x.shape().dim(0), x.shape().dim(1), d(bias)));
    }

    @Override
    public Tensor columnSum(Tensor x) {
        Contracts.requireRank("bias.column_sum", "x", x, 2, this);
        return of(Reference.columnSum(d(x), x.shape().dim(0), x.shape().dim(1)), Shape.of(x.shape().dim(1)));
    }

    @Override
    public Tensor relu(Tensor x) {
        Contracts.requireOwned("relu.forward", "x", x, this);
        return of(Reference.relu(d(x)), x.shape());
    }

    @Override
    public Tensor reluBackward(Tensor dOut, Tensor x) {
        Contracts.sameShape(this, "relu.backward", "x", x, "dOut", dOut);
        return of(Reference.reluBackward(d(dOut), d(x)), x.shape());
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels) {
        Contracts.softmaxCrossEntropy(this, logits, labels);
        int n = logits.shape().dim(0);
        int k = logits.shape().dim(1);
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            float v = data(labels)[i];
            if (!(v >= 0 && v < k && v == Math.rint(v))) {
                throw Contracts.bad("softmax_cross_entropy", "labels", "class indices 0.." + (k - 1),
                        v + " at index " + i);
            }
            idx[i] = (int) v;
        }
        Reference.Loss l = Reference.softmaxCrossEntropy(d(logits), idx, n, k);
        return new LossResult(of(new double[] {l.loss()}, Shape.of(1)), of(l.dlogits(), logits.shape()));
    }

    @Override
    public Tensor argmax(Tensor x) {
        Contracts.requireRank("argmax", "x", x, 2, this);
        int[] idx = Reference.argmax(d(x), x.shape().dim(0), x.shape().dim(1));
        double[] v = new double[idx.length];
        for (int i = 0; i < idx.length; i++) {
            v[i] = idx[i];
        }
        return of(v, Shape.of(idx.length));
    }

    @Override
    public Tensor sumOfSquares(Tensor x) {
        Contracts.requireOwned("sum_of_squares", "x", x, this);
        return of(new double[] {Reference.sumOfSquares(d(x))}, Shape.of(1));
    }

    // ---------------------------------------------------------------------------------------------- optimizers

    @Override
    public void sgd(Tensor w, Tensor dw, float learningRate) {
        Contracts.sameShape(this, "sgd", "w", w, "dw", dw);
        double[] wd = d(w);
        Reference.sgd(wd, d(dw), learningRate);
        store(w, wd);
    }

    @Override
    public void sgdMomentum(Tensor w, Tensor dw, Tensor velocity, float learningRate, float momentum) {
        Contracts.sameShape(this, "sgd_momentum", "w", w, "dw", dw);
        Contracts.sameShape(this, "sgd_momentum", "w", w, "velocity", velocity);
        double[] wd = d(w);
        double[] v = d(velocity);
        Reference.sgdMomentum(wd, d(dw), v, learningRate, momentum);
        store(w, wd);
        store(velocity, v);
    }

    @Override
    public void rmsprop(Tensor w, Tensor dw, Tensor cache, float learningRate, float decayRate, float eps) {
        Contracts.sameShape(this, "rmsprop", "w", w, "dw", dw);
        Contracts.sameShape(this, "rmsprop", "w", w, "cache", cache);
        double[] wd = d(w);
        double[] c = d(cache);
        Reference.rmsprop(wd, d(dw), c, learningRate, decayRate, eps);
        store(w, wd);
        store(cache, c);
    }

    @Override
    public void adam(Tensor w, Tensor dw, Tensor m, Tensor v, float learningRate, float beta1, float beta2, float eps,
                     int t) {
        Contracts.sameShape(this, "adam", "w", w, "dw", dw);
        Contracts.sameShape(this, "adam", "w", w, "m", m);
        Contracts.sameShape(this, "adam", "w", w, "v", v);
        double[] wd = d(w);
        double[] md = d(m);
        double[] vd = d(v);
        Reference.adam(wd, d(dw), md, vd, learningRate, beta1, beta2, eps, t);
        store(w, wd);
        store(m, md);
        store(v, vd);
    }

    // --------------------------------------------------------------------------------------------- elementwise

    @Override
    public void fill(Tensor t, float value) {
        Contracts.requireOwned("fill", "t", t, this);
        Arrays.fill(data(t), value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        Contracts.sameShape(this, "copy", "src", src, "dst", dst);
        System.arraycopy(data(src), 0, data(dst), 0, src.size());
    }

    @Override
    public void scale(Tensor t, float alpha) {
        Contracts.requireOwned("scale", "t", t, this);
        float[] f = data(t);
        for (int i = 0; i < f.length; i++) {
            f[i] *= alpha;
        }
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        Contracts.sameShape(this, "axpy", "x", x, "y", y);
        float[] xf = data(x);
        float[] yf = data(y);
        for (int i = 0; i < yf.length; i++) {
            yf[i] = (float) (yf[i] + (double) alpha * xf[i]);
        }
    }
}
