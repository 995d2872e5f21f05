package org.layerkit.cpu;

import org.layerkit.api.Contracts;
import org.layerkit.api.Tensor;

/**
 * In-place parameter updates exactly as CS231N's {@code optim.py} (derivations and conventions in
 * {@code docs/ops/optimizers.md}). Each element is updated independently; arithmetic is in double per element and
 * rounded once when stored.
 */
final class CpuOptimizers {
    private CpuOptimizers() {
    }

    /** w −= lr·dw. */
    static void sgd(CpuBackend be, Tensor w, Tensor dw, float lr) {
        Contracts.sameShape(be, "sgd", "w", w, "dw", dw);
        float[] ws = CpuBackend.data(w);
        float[] g = CpuBackend.data(dw);
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                ws[i] = (float) (ws[i] - (double) lr * g[i]);
            }
        });
    }

    /** v = μ·v − lr·dw; w += v. */
    static void sgdMomentum(CpuBackend be, Tensor w, Tensor dw, Tensor velocity, float lr, float momentum) {
        Contracts.sameShape(be, "sgd_momentum", "w", w, "dw", dw);
        Contracts.sameShape(be, "sgd_momentum", "w", w, "velocity", velocity);
        float[] ws = CpuBackend.data(w);
        float[] g = CpuBackend.data(dw);
        float[] v = CpuBackend.data(velocity);
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                float vi = (float) ((double) momentum * v[i] - (double) lr * g[i]);
                v[i] = vi;
                ws[i] += vi;
            }
        });
    }

    /** c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε). */
    static void rmsprop(CpuBackend be, Tensor w, Tensor dw, Tensor cache, float lr, float decayRate, float eps) {
        Contracts.sameShape(be, "rmsprop", "w", w, "dw", dw);
        Contracts.sameShape(be, "rmsprop", "w", w, "cache", cache);
        float[] ws = CpuBackend.data(w);
        float[] g = CpuBackend.data(dw);
        float[] c = CpuBackend.data(cache);
        double rho = decayRate;
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                double gi = g[i];
                float ci = (float) (rho * c[i] + (1 - rho) * gi * gi);
                c[i] = ci;
                ws[i] = (float) (ws[i] - lr * gi / (Math.sqrt(ci) + eps));
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
        float[] ws = CpuBackend.data(w);
        float[] g = CpuBackend.data(dw);
        float[] ms = CpuBackend.data(m);
        float[] vs = CpuBackend.data(v);
        double b1 = beta1;
        double b2 = beta2;
        // bias corrections 1 − βᵗ, once per call; folded into constants so each element needs one division:
        // lr·m̂ = (lr/(1−β1ᵗ))·m and √v̂ = √v·(1/√(1−β2ᵗ))
        double stepSize = lr / (1 - Math.pow(b1, t));
        double invSqrtC2 = 1 / Math.sqrt(1 - Math.pow(b2, t));
        CpuParallel.forRows(ws.length, 1, (k, from, to) -> {
            for (int i = from; i < to; i++) {
                double gi = g[i];
                float mi = (float) (b1 * ms[i] + (1 - b1) * gi);        // first moment
                float vi = (float) (b2 * vs[i] + (1 - b2) * gi * gi);   // second moment
                ms[i] = mi;
                vs[i] = vi;
                ws[i] = (float) (ws[i] - stepSize * mi / (Math.sqrt(vi) * invSqrtC2 + eps));
            }
        });
    }
}
