// Optimizer updates in place, as in CS231N optim.py. w weights, dw gradients, total = number of elements.

// SGD: w −= lr·dw
__kernel void sgd(__global float* w, __global const float* dw, float lr, int total) {
    int i = get_global_id(0);
    if (i < total) {
        w[i] -= lr * dw[i];
    }
}

// momentum: v = μ·v − lr·dw; w += v
__kernel void sgd_momentum(__global float* w, __global const float* dw, __global float* v, float lr, float mu,
                           int total) {
    int i = get_global_id(0);
    if (i < total) {
        float vi = mu * v[i] - lr * dw[i];
        v[i] = vi;
        w[i] += vi;
    }
}

// RMSProp: c = ρ·c + (1−ρ)·dw²; w −= lr·dw/(√c + ε)
__kernel void rmsprop(__global float* w, __global const float* dw, __global float* cache, float lr, float rho,
                      float eps, int total) {
    int i = get_global_id(0);
    if (i < total) {
        float g = dw[i];
        float c = rho * cache[i] + (1.0f - rho) * g * g;
        cache[i] = c;
        w[i] -= lr * g / (sqrt(c) + eps);
    }
}

// Adam at step t: m = β1·m + (1−β1)·dw, v = β2·v + (1−β2)·dw², m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ),
// w −= lr·m̂/(√v̂ + ε); the bias corrections 1−β1ᵗ, 1−β2ᵗ come from the host.
__kernel void adam(__global float* w, __global const float* dw, __global float* m, __global float* v, float lr,
                   float beta1, float beta2, float eps, float correction1, float correction2, int total) {
    int i = get_global_id(0);
    if (i < total) {
        float g = dw[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / correction1;
        float vhat = vi / correction2;
        w[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}
