// Softmax cross-entropy and argmax over rows of logits [N,K]. One work-group (1×LY) per row n.

// Per row n with label y_n: m = max_k x, Z = Σ_k exp(x − m), log softmax(x)[k] = x[k] − m − log Z;
//   rowLoss[n] = −log softmax(x)[y_n]            (averaged over N by segment_sum afterwards)
//   dLogits[n,k] = (softmax(x)[k] − [k = y_n]) / N
// A label that is not an integer in 0..K−1 (or NaN) is reported through badRow: the smallest such n is kept by
// atomic_min, and the host reads that one int right after the launch (see ClLossKernels).
__kernel void softmax_xent_rows(__global const float* logits, __global const float* labels, int N, int K,
                                __global float* rowLoss, __global float* dLogits, __global int* badRow,
                                __local acc_t* scratch) {
    int n = get_group_id(0);
    int ly = get_local_id(1), LY = get_local_size(1);
    __global const float* x = logits + (size_t)n * K;
    __global float* d = dLogits + (size_t)n * K;

    // step 1: row maximum, for stability
    acc_t m = -INFINITY;
    for (int k = ly; k < K; k += LY) {
        m = fmax(m, (acc_t)x[k]);
    }
    m = lk_max_y(scratch, m);

    // step 2: Z = Σ exp(x − m)
    acc_t z = 0;
    for (int k = ly; k < K; k += LY) {
        z += exp((acc_t)x[k] - m);
    }
    z = lk_sum_y(scratch, z);

    // step 3: the label, validated
    float yf = labels[n];
    bool valid = yf >= 0.0f && yf < (float)K && yf == floor(yf);
    int y = valid ? (int)yf : -1;
    if (!valid && ly == 0) {
        atomic_min(badRow, n);
    }

    // step 4: dLogits = (softmax − onehot)/N
    acc_t logZ = log(z);
    for (int k = ly; k < K; k += LY) {
        acc_t p = exp((acc_t)x[k] - m - logZ);
        d[k] = (float)((p - (k == y ? 1 : 0)) / N);
    }

    // step 5: −log softmax at the label
    if (ly == 0) {
        rowLoss[n] = valid ? (float)(m + logZ - (acc_t)x[y]) : 0.0f;
    }
}

// Index of the largest element of each row, the first on ties; NaN never wins (a row of NaN gives 0).
// bestIndex = K marks "nothing seen yet".
__kernel void argmax_rows(__global const float* xs, int K, __global float* out,
                          __local float* bestValue, __local int* bestIndex) {
    int n = get_group_id(0);
    int ly = get_local_id(1), LY = get_local_size(1);
    __global const float* x = xs + (size_t)n * K;

    // each work-item scans its strided share in increasing k, so strict > keeps the first maximum
    float bv = -INFINITY;
    int bi = K;
    for (int k = ly; k < K; k += LY) {
        float v = x[k];
        if (!isnan(v) && (bi == K || v > bv)) {
            bv = v;
            bi = k;
        }
    }
    bestValue[ly] = bv;
    bestIndex[ly] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    // tree: the larger value wins, the smaller index on ties
    for (int stride = LY / 2; stride > 0; stride >>= 1) {
        if (ly < stride) {
            float ov = bestValue[ly + stride];
            int oi = bestIndex[ly + stride];
            int mi = bestIndex[ly];
            float mv = bestValue[ly];
            bool take = oi < K && (mi == K || ov > mv || (ov == mv && oi < mi));
            if (take) {
                bestValue[ly] = ov;
                bestIndex[ly] = oi;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (ly == 0) {
        out[n] = bestIndex[0] == K ? 0.0f : (float)bestIndex[0]; // a row of NaN only: index 0
    }
}
