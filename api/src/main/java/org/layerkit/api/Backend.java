package org.layerkit.api;

/**
 * A compute backend: allocates tensors and runs every kernel of the layerkit contract on them.
 *
 * <p>Shape letters: N batch, D features, C channels, H×W spatial, G groups, K classes; for convolutions F output
 * channels (filters), KH×KW the kernel, H'×W' the output. Unless a method says otherwise, results are new tensors
 * owned by the caller, and inputs are left untouched. Every argument must be an
 * open tensor of this backend; violations, wrong shapes and bad scalars throw {@link IllegalArgumentException}
 * (closed tensors {@link IllegalStateException}) naming the op, the argument, what was expected and what was
 * given; {@link Contracts} implements those checks once for all backends. Device failures throw
 * {@link BackendException}.
 *
 * <p>The exact semantics of each kernel are in {@code docs/ops/} and checked by the conformance kit.
 *
 * <p><b>Resources.</b> The caller closes every tensor an op returns (try-with-resources). A tensor dropped without
 * {@code close()} is still released once the garbage collector finds it unreachable, and reported by
 * {@link LeakDetector} with where it was allocated; that is a safety net, late and not free, not a way to manage
 * memory. {@link #close()} releases every tensor still open.
 *
 * <p><b>Threads.</b> What may be shared, and what the caller must order:
 * <ul>
 *   <li><b>A backend instance</b> may be used by any number of threads at once: every method is thread-safe. The
 *       CPU backend runs concurrent calls side by side (each also splits its own work over the common
 *       {@link java.util.concurrent.ForkJoinPool}); the OpenCL backend enqueues them, under its context's lock, on
 *       one in-order queue, so the device runs them one after another. Results are the same bits as the same
 *       calls made on one thread. {@link #close()} must not race with other calls: a call that is still running
 *       when the backend closes may fail.</li>
 *   <li><b>Tensors</b> may be read by any number of concurrent calls (as inputs; a cache's saved input included).
 *       A call that writes a tensor in place — {@code fill}, {@code copy} (dst), {@code scale}, {@code axpy} (y),
 *       {@code addBias} (x), {@code gemm} (C), the optimizer updates — must not overlap any other call that reads
 *       or writes that tensor, nor its {@code close()}; the caller orders them (as for any Java array).</li>
 *   <li><b>Running statistics</b> are the exception: the in-place update of a TRAIN batch-norm forward is atomic per
 *       pair of running tensors, so forwards on several threads that share them lose no update (they apply in some
 *       order); through a {@link RunningStats}, the decay, the update and its count are one atomic step.</li>
 *   <li>Problems found on the device are reported where the backend next synchronizes: on the OpenCL backend, a
 *       bad softmax label of an earlier call is thrown by the next {@link Tensor#toArray()}, {@link #synchronize()}
 *       or {@link #close()}, on whichever thread makes it.</li>
 *   <li>{@link Layer}s, nets and trainers keep state between calls (a forward's cache for its backward) and are
 *       confined to one thread each; several of them may share one backend.</li>
 * </ul>
 * The conformance kit runs calls from several threads against the same backend and compares them bit for bit with
 * the same calls on one thread.
 */
public interface Backend extends AutoCloseable {
    /** The provider name, e.g. {@code cpu}. */
    String name();

    /** The device this instance computes on. */
    DeviceInfo device();

    /** Whether this backend implements an op family; the conformance kit reports missing ones as UNSUPPORTED. */
    default boolean supports(Op op) {
        return true;
    }

    // ---------------------------------------------------------------- memory

    /** Copies host data in; {@code data.length} must equal {@code shape.size()}. */
    Tensor upload(float[] data, Shape shape);

    /** A new tensor of zeros. */
    Tensor zeros(Shape shape);

    /** Waits until all queued work has finished (a no-op on synchronous backends). */
    default void synchronize() {
    }

    /**
     * Releases the backend's resources, the storage of every tensor still open included: afterwards every tensor of
     * this backend refuses use (an op or {@link Tensor#toArray()} throws {@link IllegalStateException} saying
     * "expected a tensor of an open backend, got a tensor … of the closed backend '&lt;name&gt;'") and
     * {@link Tensor#isClosed()} is true; so are the caches made on it ({@link NormCache}, {@link Conv2dCache},
     * {@link MaxPool2dCache}: {@code isClosed()} is true and a backward refuses them, naming the closed backend).
     * Idempotent. Tensors must not be in use on other threads meanwhile.
     */
    @Override
    void close();

    /** Whether {@link #close()} has been called. Backends written before this method report false. */
    default boolean isClosed() {
        return false;
    }

    // ---------------------------------------------------------------- batchnorm [N,D]

    /**
     * Batch normalization over N of x {@code [N,D]}, γ, β {@code [D]}. TRAIN: batch mean and biased variance,
     * updates {@code runningMean}/{@code runningVar} in place with {@code params.decay()}; N = 1 is rejected.
     * EVAL: normalizes with the running statistics and leaves them untouched.
     */
    NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                BatchNormParams params, Mode mode);

    /**
     * Backward of {@link #batchNormForward}: dγ = Σ_N dOut·x̂, dβ = Σ_N dOut, and in TRAIN
     * dX = (γ·rstd/N)·(N·dOut − Σ_N dOut − x̂·Σ_N(dOut·x̂)); in EVAL dX = γ·rstd·dOut.
     */
    NormGrads batchNormBackward(Tensor dOut, NormCache cache, Tensor gamma);

    /**
     * Convenience: resolves decay from {@code options} (cumulative averaging too) and counts the update, all under
     * {@code running}'s lock, so that concurrent TRAIN forwards sharing it each update and count once.
     */
    default NormResult batchNormForward(Tensor x, Tensor gamma, Tensor beta, RunningStats running,
                                        BatchNormOptions options, Mode mode) {
        synchronized (running) {
            NormResult r = batchNormForward(x, gamma, beta, running.mean(), running.var(), options.params(running),
                    mode);
            if (mode == Mode.TRAIN) {
                running.markUpdated();
            }
            return r;
        }
    }

    // ---------------------------------------------------------------- spatial batchnorm [N,C,H,W]

    /** Batch normalization per channel of x {@code [N,C,H,W]} over N·H·W; γ, β and running stats {@code [C]}. */
    NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                       BatchNormParams params, Mode mode);

    /** Backward of {@link #spatialBatchNormForward}; the sums run over N·H·W (M = N·H·W in place of N). */
    NormGrads spatialBatchNormBackward(Tensor dOut, NormCache cache, Tensor gamma);

    /** Convenience like {@link #batchNormForward(Tensor, Tensor, Tensor, RunningStats, BatchNormOptions, Mode)}. */
    default NormResult spatialBatchNormForward(Tensor x, Tensor gamma, Tensor beta, RunningStats running,
                                               BatchNormOptions options, Mode mode) {
        synchronized (running) {
            NormResult r = spatialBatchNormForward(x, gamma, beta, running.mean(), running.var(),
                    options.params(running), mode);
            if (mode == Mode.TRAIN) {
                running.markUpdated();
            }
            return r;
        }
    }

    // ---------------------------------------------------------------- batchnorm in parts (synchronized batchnorm)

    /*
     * The TRAIN batch norm split at the points where replicas that each hold some rows of the batch exchange data
     * (docs/ops/batchnorm_parts.md): local statistics → merge (BatchNormStats, on the host, in rank order) →
     * normalize with the global mean and rstd; backward: local sums → add → dX with the global sums and count.
     * On one part they compose to batchNormForward / batchNormBackward (TRAIN). Op family BATCHNORM_PARTS.
     */

    /**
     * Count N, per-feature mean and M2 = Σ_N (x − mean)² of x {@code [N,D]}, in double on the host (the call waits
     * for the device). Stable for data far from 0 (1e4 + N(0,1)) and exact where representable near the float range,
     * as the TRAIN forward's statistics; NaN or ±∞ in x give NaN or ±∞ statistics. N = 1 is allowed (M2 = 0).
     */
    BatchNormStats batchNormLocalStats(Tensor x);

    /** {@link #batchNormLocalStats} of x {@code [N,C,H,W]} per channel over N·H·W (count N·H·W). */
    BatchNormStats spatialBatchNormLocalStats(Tensor x);

    /**
     * The TRAIN batch-norm forward of x {@code [N,D]} with given statistics: x̂ = (x − mean)·invstd, y = γ·x̂ + β,
     * mean and invstd per feature in double (the kernel keeps the mean wider than float, as the fused forward does).
     * Touches no running statistics. The cache (mode TRAIN, mean and rstd rounded to float) feeds
     * {@link #batchNormBackwardReduce} and {@link #batchNormBackwardElementwise}.
     */
    NormResult batchNormNormalize(Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd);

    /** {@link #batchNormNormalize} of x {@code [N,C,H,W]}, statistics per channel. */
    NormResult spatialBatchNormNormalize(Tensor x, Tensor gamma, Tensor beta, double[] mean, double[] invstd);

    /**
     * Σ_N dOut and Σ_N dOut·x̂ per feature over this part's rows, in double on the host (the call waits): this part's
     * dβ and dγ, and the sums that, added over all parts, dX needs. {@code cache} is a batchnorm cache: of a TRAIN
     * forward ({@link #batchNormNormalize}) in data-parallel training; an EVAL cache is accepted too and gives EVAL's
     * dβ and dγ (x̂ from the running statistics), though an EVAL backward needs no exchange.
     */
    BatchNormGradSums batchNormBackwardReduce(Tensor dOut, NormCache cache);

    /** {@link #batchNormBackwardReduce} for spatial batchnorm, sums over N·H·W. */
    BatchNormGradSums spatialBatchNormBackwardReduce(Tensor dOut, NormCache cache);

    /**
     * dX of this part from the sums over the whole batch and its count M (≥ this part's N):
     * dX = (γ·rstd/M)·(M·dOut − Σ dOut − x̂·Σ dOut·x̂), with x̂ and rstd of the cache.
     */
    Tensor batchNormBackwardElementwise(Tensor dOut, NormCache cache, Tensor gamma, BatchNormGradSums global,
                                        long count);

    /** {@link #batchNormBackwardElementwise} for spatial batchnorm; M counts N·H·W values per channel. */
    Tensor spatialBatchNormBackwardElementwise(Tensor dOut, NormCache cache, Tensor gamma, BatchNormGradSums global,
                                               long count);

    // ---------------------------------------------------------------- layernorm [N,D]

    /** Layer normalization per row of x {@code [N,D]} over D (same in TRAIN and EVAL); γ, β {@code [D]}. */
    NormResult layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps);

    /**
     * With g = dOut·γ: dX = (rstd/D)·(D·g − Σ_D g − x̂·Σ_D(g·x̂)); dγ = Σ_N dOut·x̂, dβ = Σ_N dOut.
     */
    NormGrads layerNormBackward(Tensor dOut, NormCache cache, Tensor gamma);

    // ---------------------------------------------------------------- groupnorm [N,C,H,W]

    /**
     * Group normalization of x {@code [N,C,H,W]}: statistics per (n, group) over (C/G)·H·W; γ, β {@code [C]}.
     * G must divide C. G = 1 is layer norm over C·H·W, G = C instance norm.
     */
    NormResult groupNormForward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps);

    /** Backward of {@link #groupNormForward}: layer-norm backward per (n, group) with g = dOut·γ[c]. */
    NormGrads groupNormBackward(Tensor dOut, NormCache cache, Tensor gamma);

    // ---------------------------------------------------------------- dropout

    /**
     * Inverted dropout. TRAIN: element i (row-major) is kept iff Philox4x32-10 word &gt;&gt;&gt; 8 &lt;
     * {@link DropoutOptions#threshold()} (mapping in {@code docs/ops/dropout.md}), survivors multiplied by
     * {@link DropoutOptions#scale()}. EVAL: the identity (a copy), mask all ones. Masks are bit-identical on every
     * backend for the same seed and offset.
     */
    DropoutResult dropoutForward(Tensor x, DropoutOptions options, Mode mode);

    /** dX = dOut ⊙ mask, the mask of the forward. */
    Tensor dropoutBackward(Tensor dOut, Tensor mask);

    // ---------------------------------------------------------------- convolution and pooling [N,C,H,W]

    /**
     * 2-D convolution (cross-correlation, as CS231N's {@code conv_forward_naive} and PyTorch) of x
     * {@code [N,C,H,W]} with weights w {@code [F,C,KH,KW]} and bias {@code [F]} (or null for none), zero padding
     * and stride from {@code params}: out {@code [N,F,H',W']},
     * out[n,f,i,j] = bias[f] + Σ_{c,p,q} w[f,c,p,q]·x[n,c, i·strideH + p − padH, j·strideW + q − padW], x being 0
     * outside the input. Dilation and groups other than 1 are rejected. The cache keeps what the backward needs
     * (see {@link Conv2dCache} for what the caller may do with x meanwhile). Semantics and derivations in
     * {@code docs/ops/conv2d.md}.
     */
    Conv2dResult conv2dForward(Tensor x, Tensor w, Tensor bias, Conv2dParams params);

    /**
     * Backward of {@link #conv2dForward}: dW[f,c,p,q] = Σ_{n,i,j} dOut[n,f,i,j]·x[n,c, i·sH + p − pH, j·sW + q − pW],
     * dB[f] = Σ_{n,i,j} dOut[n,f,i,j] (null without bias), and, if {@code inputGrad}, dX[n,c,h,w] = Σ over the
     * (f, p, q, i, j) with i·sH + p − pH = h and j·sW + q − pW = w of dOut[n,f,i,j]·w[f,c,p,q] (else dX is null).
     * {@code w} is the forward's weights.
     */
    Conv2dGrads conv2dBackward(Tensor dOut, Conv2dCache cache, Tensor w, boolean inputGrad);

    /** {@link #conv2dBackward(Tensor, Conv2dCache, Tensor, boolean)} with dX. */
    default Conv2dGrads conv2dBackward(Tensor dOut, Conv2dCache cache, Tensor w) {
        return conv2dBackward(dOut, cache, w, true);
    }

    /**
     * Max pooling of x {@code [N,C,H,W]} over windows of {@code params} (no padding): out {@code [N,C,H',W']} holds
     * each window's maximum, and the cache its position in the input plane (h·W + w as a float); ties go to the
     * first in row-major window order, and NaN counts as the largest value (the first NaN wins). Planes of more than
     * 2²⁴ positions are refused.
     */
    MaxPool2dResult maxPool2dForward(Tensor x, Pool2dParams params);

    /**
     * Backward of {@link #maxPool2dForward}: dX {@code [N,C,H,W]} is zero except at each window's argmax, which
     * receives that window's dOut — summed where overlapping windows (stride &lt; kernel) chose the same element.
     */
    Tensor maxPool2dBackward(Tensor dOut, MaxPool2dCache cache);

    /** Global average pooling: out[n,c] = (1/(H·W))·Σ_{h,w} x[n,c,h,w], x {@code [N,C,H,W]}, out {@code [N,C]}. */
    Tensor globalAvgPoolForward(Tensor x);

    /**
     * Backward of {@link #globalAvgPoolForward}: dX[n,c,h,w] = dOut[n,c]/(H·W), dOut {@code [N,C]}, dX of
     * {@code inputShape} {@code [N,C,H,W]}.
     */
    Tensor globalAvgPoolBackward(Tensor dOut, Shape inputShape);

    /**
     * Spatial (channel) dropout of x {@code [N,C,H,W]}: one keep/drop decision per (n, c) plane, made exactly as
     * {@link #dropoutForward} decides element i = n·C + c, so the mask {@code [N,C]} is bit-identical to the dropout
     * mask of an {@code [N,C]} tensor with the same options; out[n,c,h,w] = x[n,c,h,w]·mask[n,c]. EVAL (and keep =
     * 1): the identity (a copy), mask all ones. See {@code docs/ops/spatial_dropout.md}.
     */
    DropoutResult spatialDropoutForward(Tensor x, DropoutOptions options, Mode mode);

    /** dX[n,c,h,w] = dOut[n,c,h,w]·mask[n,c], with the {@code [N,C]} mask of the forward. */
    Tensor spatialDropoutBackward(Tensor dOut, Tensor mask);

    // ---------------------------------------------------------------- training ops

    /**
     * C = α·op(A)·op(B) + β·C in place, op(X) = Xᵀ when its flag is set; A, B, C rank 2 with
     * op(A) {@code [M,K]}, op(B) {@code [K,N]}, C {@code [M,N]}. With β = 0, C's old contents are ignored (even NaN).
     */
    void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta);

    /** Convenience: a new {@code op(A)·op(B)}. */
    default Tensor matmul(Tensor a, boolean transA, Tensor b, boolean transB) {
        Contracts.requireRank("gemm", "a", a, 2, this);
        Contracts.requireRank("gemm", "b", b, 2, this);
        int m = transA ? a.shape().dim(1) : a.shape().dim(0);
        int n = transB ? b.shape().dim(0) : b.shape().dim(1);
        Tensor c = zeros(Shape.of(m, n));
        try {
            gemm(a, transA, b, transB, c, 1f, 0f);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** x[n,d] += bias[d] in place; x {@code [N,D]}, bias {@code [D]}. */
    void addBias(Tensor x, Tensor bias);

    /** Σ_N x[n,d] of x {@code [N,D]}: a new {@code [D]} (the bias gradient). */
    Tensor columnSum(Tensor x);

    /**
     * max(x, 0) with NaN propagated, a new tensor: 0 where x ≤ 0 (−0 and −∞ included), else x — relu(NaN) = NaN,
     * relu(+∞) = +∞, as IEEE maximum and PyTorch give them ({@code docs/ops/relu.md}).
     */
    Tensor relu(Tensor x);

    /**
     * 0 where x ≤ 0, else dOut (x is the forward's input): where x is NaN or +∞ the gradient passes through, as
     * PyTorch's threshold_backward.
     */
    Tensor reluBackward(Tensor dOut, Tensor x);

    /**
     * Numerically stable softmax cross-entropy of logits {@code [N,K]} against labels {@code [N]} holding class
     * indices 0..K−1 as floats: loss = −(1/N)·Σ log softmax(logits)[n, label n], dLogits = (softmax − onehot)/N.
     * A label that is not such an index throws {@link IllegalArgumentException} naming the op and the label, at the
     * call or, on backends that check labels on the device, at the next read of its results (then the row's loss
     * and dLogits are NaN).
     */
    LossResult softmaxCrossEntropy(Tensor logits, Tensor labels);

    /** The index of the largest element of each row of x {@code [N,K]} (first on ties), as floats {@code [N]}. */
    Tensor argmax(Tensor x);

    /** Σ x², a new {@code [1]} (for L2 regularisation), accumulated in at least double precision on the CPU. */
    Tensor sumOfSquares(Tensor x);

    // ---------------------------------------------------------------- optimizer updates, in place (CS231N optim.py)

    /** w −= lr·dw. */
    void sgd(Tensor w, Tensor dw, float learningRate);

    /** v = μ·v − lr·dw; w += v. */
    void sgdMomentum(Tensor w, Tensor dw, Tensor velocity, float learningRate, float momentum);

    /** c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε). */
    void rmsprop(Tensor w, Tensor dw, Tensor cache, float learningRate, float decayRate, float eps);

    /**
     * Adam at step t ≥ 1 (the caller increments t before the call): m = β1·m + (1−β1)·dw,
     * v = β2·v + (1−β2)·dw², m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ), w −= lr·m̂/(√v̂ + ε).
     */
    void adam(Tensor w, Tensor dw, Tensor m, Tensor v, float learningRate, float beta1, float beta2, float eps,
              int t);

    // ---------------------------------------------------------------- element-wise, in place

    /** Every element of t set to value. */
    void fill(Tensor t, float value);

    /** dst = src; same shape. */
    void copy(Tensor src, Tensor dst);

    /** t *= alpha. */
    void scale(Tensor t, float alpha);

    /** y += alpha·x; same shape. */
    void axpy(float alpha, Tensor x, Tensor y);

    /**
     * The elements of t, in row-major order, under another shape with the same number of elements (a flatten
     * {@code [N,C,H,W] → [N,C·H·W]}, or back). A backend that can share storage returns a <em>view</em>: it reads and
     * writes t's storage (a write through either is seen by both) and owns none of its own. The ownership rules
     * (see {@link Tensor}) for a view: it has no tracked storage — the backend counts, reclaims and reports only t's —
     * and holds t strongly, so t is not reclaimed while the view is reachable; closing the view releases nothing and
     * leaves t open; an in-place write through the view is a write of t (a cache that keeps t as its input sees it);
     * a cache that keeps the view as its input keeps t's storage; the view is usable only while t is open — after t
     * is closed, or the backend is, it refuses use like a closed tensor. A view of a view shares the same storage.
     * A backend that cannot share returns a copy, an ordinary tensor. Either way the caller closes the result, and
     * must not rely on writes being shared. The default copies through the host; backends override it (the cpu
     * backend returns views, the opencl backend a device-side copy). The conformance kit's {@code *.reshape.*} cases
     * check these rules for whichever the backend returns.
     */
    default Tensor reshape(Tensor t, Shape shape) {
        Contracts.reshape(this, t, shape);
        return upload(t.toArray(), shape);
    }

    /** A new tensor with the same contents. */
    default Tensor copyOf(Tensor t) {
        Tensor d = zeros(t.shape());
        copy(t, d);
        return d;
    }
}
