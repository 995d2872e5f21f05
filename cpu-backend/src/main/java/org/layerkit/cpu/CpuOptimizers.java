package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.Tensor;

/**
 * In-place parameter updates exactly as CS231N's {@code optim.py} (derivations and conventions in
 * {@code docs/ops/optimizers.md}). Each element is updated independently in float arithmetic, as on a GPU: the
 * state and the parameters are floats anyway, and float loops vectorize (JDK 17 does not vectorize float↔double
 * conversions; a double version measured some 40 times slower). Per-call constants are computed in double.
 */
final class CpuOptimizers {
    private CpuOptimizers() {
    }

    /** w −= lr·dw. */
    static void sgd(CpuBackend be, Tensor w, Tensor dw, float lr) {
        Contracts.sameShape(be, "sgd", "w", w, "dw", dw);
        float[] ws = CpuBackend.written(w);
        float[] g = CpuBackend.data(dw);
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                ws[i] -= lr * g[i];
            }
        });
    }

    /** v = μ·v − lr·dw; w += v. */
    static void sgdMomentum(CpuBackend be, Tensor w, Tensor dw, Tensor velocity, float lr, float momentum) {
        Contracts.sameShape(be, "sgd_momentum", "w", w, "dw", dw);
        Contracts.sameShape(be, "sgd_momentum", "w", w, "velocity", velocity);
        float[] ws = CpuBackend.written(w);
        float[] g = CpuBackend.data(dw);
        float[] v = CpuBackend.written(velocity);
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                v[i] = momentum * v[i] - lr * g[i];
                ws[i] += v[i];
            }
        });
    }

    /** c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε). */
    static void rmsprop(CpuBackend be, Tensor w, Tensor dw, Tensor cache, float lr, float decayRate, float eps) {
        Contracts.sameShape(be, "rmsprop", "w", w, "dw", dw);
        Contracts.sameShape(be, "rmsprop", "w", w, "cache", cache);
        float[] ws = CpuBackend.written(w);
        float[] g = CpuBackend.data(dw);
        float[] c = CpuBackend.written(cache);
        float rho = decayRate;
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                float gi = g[i];
                c[i] = rho * c[i] + (1 - rho) * gi * gi;
                ws[i] -= lr * gi / ((float) Math.sqrt(c[i]) + eps);
            }
        });
    }

    /** Adam at step t ≥ 1 with bias-corrected moments. */
    static void adam(CpuBackend be, Tensor w, Tensor dw, Tensor m, Tensor v, float lr, float beta1, float beta2,
                     float eps, int t) {
        String op = "adam";
        Contracts.sameShape(be, op, "w", w, "dw", dw);
        Contracts.sameShape(be, op, "w", w, "m", m);
        Contracts.sameShape(be, op, "w", w, "v", v);
        if (t < 1) {
            throw Contracts.bad(op, "t", "a step >= 1 (increment t before the update)", t);
        }
        float[] ws = CpuBackend.written(w);
        float[] g = CpuBackend.data(dw);
        float[] ms = CpuBackend.written(m);
        float[] vs = CpuBackend.written(v);
        // bias corrections 1 − βᵗ, once per call in double; folded into two constants so that each element needs
        // one division: lr·m̂ = (lr/(1−β1ᵗ))·m and √v̂ = √v·(1/√(1−β2ᵗ))
        float stepSize = (float) (lr / (1 - Math.pow(beta1, t)));
        float invSqrtC2 = (float) (1 / Math.sqrt(1 - Math.pow(beta2, t)));
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                float gi = g[i];
                ms[i] = beta1 * ms[i] + (1 - beta1) * gi;        // first moment
                vs[i] = beta2 * vs[i] + (1 - beta2) * gi * gi;   // second moment
                ws[i] -= stepSize * ms[i] / ((float) Math.sqrt(vs[i]) * invSqrtC2 + eps);
            }
        });
    }
}
