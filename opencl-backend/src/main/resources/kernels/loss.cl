// Softmax cross-entropy and argmax over rows of logits [N,K]. One work-group (1×LY) per row n.

// Per row n with label y_n: m = max_k x, Z = Σ_k exp(x − m), log softmax(x)[k] = x[k] − m − log Z;
//   rowLoss[n] = −log softmax(x)[y_n]            (averaged over N by softmax_xent_mean afterwards)
//   dLogits[n,k] = (softmax(x)[k] − [k = y_n]) / N
// A label that is not an integer in 0..K−1 (or NaN) makes its row's loss and dLogits NaN, so nothing trains on it
// silently, and is reported through check[0]: the smallest such n is kept by atomic_min. softmax_xent_mean, next in
// the in-order queue, moves that report into the sticky slots the host reads at its next synchronization point
// (see ClLossKernels): no host synchronization per call.
__kernel void softmax_xent_rows(__global const float* logits, __global const float* labels, int N, int K,
                                __global float* rowLoss, __global float* dLogits, __global int* check,
                                __local acc_t* scratch) {
    int n = get_group_id(0);
    int ly = get_local_id(1), LY = get_local_size(1);
    __global const float* x = logits + (size_t)n * K;
    __global float* d = dLogits + (size_t)n * K;

    // the label, validated
    float yf = labels[n];
    bool valid = yf >= 0.0f && yf < (float)K && yf == floor(yf);
    int y = valid ? (int)yf : -1;
    if (!valid) {
        // a bad label: NaN loss and dLogits for the row (a uniform branch: the whole work-group takes it)
        for (int k = ly; k < K; k += LY) {
            d[k] = NAN;
        }
        if (ly == 0) {
            rowLoss[n] = NAN;
            atomic_min(check, n);
        }
        return;
    }

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

    // step 3: dLogits = (softmax − onehot)/N
    acc_t logZ = log(z);
    for (int k = ly; k < K; k += LY) {
        acc_t p = exp((acc_t)x[k] - m - logZ);
        d[k] = (float)((p - (k == y ? 1 : 0)) / N);
    }

    // step 4: −log softmax at the label
    if (ly == 0) {
        rowLoss[n] = (float)(m + logZ - (acc_t)x[y]);
    }
}

// One work-group (1×LY): loss[0] = Σ_n rowLoss[n] / N, in a fixed order (deterministic). Work-item 0 also moves a
// bad-label report of softmax_xent_rows on: check[0] (the smallest bad row of this call, NO_BAD otherwise) goes to
// check[1..3] = row, label bits, K unless an earlier call's report is still unread there (the first report wins),
// and check[0] is reset for the next call.
#define LK_NO_BAD_ROW 0x7fffffff
__kernel void softmax_xent_mean(__global const float* rowLoss, __global const float* labels, int N, int K,
                                __global float* loss, __global int* check, __local acc_t* scratch) {
    int ly = get_local_id(1), LY = get_local_size(1);
    acc_t partial = 0;
    for (int n = ly; n < N; n += LY) {
        partial += (acc_t)rowLoss[n];
    }
    acc_t total = lk_sum_y(scratch, partial);
    if (ly == 0) {
        loss[0] = (float)(total / N);
        int bad = check[0];
        if (bad != LK_NO_BAD_ROW) {
            if (check[1] == LK_NO_BAD_ROW) {
                check[1] = bad;
                check[2] = as_int(labels[bad]);
                check[3] = K;
            }
            check[0] = LK_NO_BAD_ROW;
        }
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
