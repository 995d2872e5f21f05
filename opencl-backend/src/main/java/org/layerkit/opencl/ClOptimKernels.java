package org.layerkit.opencl;

import org.layerkit.api.Contracts;
import org.layerkit.api.Tensor;

/** SGD, momentum, RMSProp and Adam updates in place ({@code kernels/optim.cl}), as in CS231N optim.py. */
final class ClOptimKernels {
    private static final String CL = "optim";
    private final ClBackend b;

    ClOptimKernels(ClBackend b) {
        this.b = b;
    }

    /** w −= lr·dw. */
    void sgd(Tensor w, Tensor dw, float lr) {
        Contracts.sameShape(b, "sgd", "w", w, "dw", dw);
        b.context().launch("sgd", CL, "sgd").mem(b.cl(w)).mem(b.cl(dw)).f(lr).i(w.size()).run1d(w.size());
    }

    /** v = μ·v − lr·dw; w += v. */
    void sgdMomentum(Tensor w, Tensor dw, Tensor v, float lr, float momentum) {
        String op = "sgd_momentum";
        Contracts.sameShape(b, op, "w", w, "dw", dw);
        Contracts.sameShape(b, op, "w", w, "velocity", v);
        b.context().launch(op, CL, "sgd_momentum").mem(b.cl(w)).mem(b.cl(dw)).mem(b.cl(v)).f(lr).f(momentum)
                .i(w.size()).run1d(w.size());
    }

    /** c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε). */
    void rmsprop(Tensor w, Tensor dw, Tensor cache, float lr, float rho, float eps) {
        String op = "rmsprop";
        Contracts.sameShape(b, op, "w", w, "dw", dw);
        Contracts.sameShape(b, op, "w", w, "cache", cache);
        b.context().launch(op, CL, "rmsprop").mem(b.cl(w)).mem(b.cl(dw)).mem(b.cl(cache)).f(lr).f(rho).f(eps)
                .i(w.size()).run1d(w.size());
    }

    /** Adam at step t ≥ 1; the bias corrections 1−β1ᵗ and 1−β2ᵗ are computed here in double. */
    void adam(Tensor w, Tensor dw, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps, int t) {
        String op = "adam";
        Contracts.sameShape(b, op, "w", w, "dw", dw);
        Contracts.sameShape(b, op, "w", w, "m", m);
        Contracts.sameShape(b, op, "w", w, "v", v);
        if (t < 1) {
            throw Contracts.bad(op, "t", "a step >= 1 (increment t before the update)", t);
        }
        float c1 = (float) (1 - Math.pow(beta1, t));
        float c2 = (float) (1 - Math.pow(beta2, t));
        b.context().launch(op, CL, "adam").mem(b.cl(w)).mem(b.cl(dw)).mem(b.cl(m)).mem(b.cl(v)).f(lr).f(beta1)
                .f(beta2).f(eps).f(c1).f(c2).i(w.size()).run1d(w.size());
    }
}
