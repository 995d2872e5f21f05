// Element-wise ops, bias, ReLU and sum reductions. N rows, D columns; total = number of elements.

__kernel void fill(__global float* t, float value, int total) {
    int i = get_global_id(0);
    if (i < total) {
        t[i] = value;
    }
}

// t *= alpha
__kernel void scale(__global float* t, float alpha, int total) {
    int i = get_global_id(0);
    if (i < total) {
        t[i] *= alpha;
    }
}

// y += alpha·x
__kernel void axpy(float alpha, __global const float* x, __global float* y, int total) {
    int i = get_global_id(0);
    if (i < total) {
        y[i] += alpha * x[i];
    }
}

// x[n,d] += bias[d], on a 2-D range (d, rows n striding by the range's height)
__kernel void add_bias(__global float* x, __global const float* bias, int N, int D) {
    int d = get_global_id(0);
    if (d >= D) {
        return;
    }
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        x[(size_t)n * D + d] += bias[d];
    }
}

// ------------------------------------------------------------------------------------------------ relu

// forward: max(x, 0) with NaN propagated (IEEE maximum, PyTorch): 0 where x ≤ 0, else x (NaN and +∞ stay)
__kernel void relu_forward(__global const float* x, __global float* out, int total) {
    size_t i = get_global_id(0);
    if (i < (size_t)total) {
        float v = x[i];
        out[i] = v <= 0.0f ? 0.0f : v;
    }
}

// backward: 0 where x ≤ 0, else dOut (where x is NaN too, as PyTorch's threshold_backward)
__kernel void relu_backward(__global const float* dOut, __global const float* x, __global float* dX, int total) {
    size_t i = get_global_id(0);
    if (i < (size_t)total) {
        dX[i] = x[i] <= 0.0f ? 0.0f : dOut[i];
    }
}

// ------------------------------------------------------------------------------------------------ reductions

// out[c·S + s] = scale·Σ x[element j of statistic s] over chunk c = get_group_id(1) of chunkLen elements, in the
// layout of common.cl (column sums: S = D, M = N, sBase = 1, inner = 1, outerStride = D; a whole vector: S = 1,
// M = total, inner = M). With one chunk that is the sum itself; the host adds P > 1 chunks up with a second call.
__kernel void segment_sum(__global const float* x, int S, int M, int sBase, int inner, int outerStride,
                          int chunkLen, float scale, __global float* out, __local acc_t* scratch) {
    int s = get_group_id(0) * get_local_size(0) + get_local_id(0);
    int chunk = get_group_id(1);
    int ly = get_local_id(1), LY = get_local_size(1);
    bool active = s < S;
    size_t base = active ? (size_t)s * (size_t)sBase : 0;
    int from = chunk * chunkLen;
    int to = min(M - from, chunkLen) + from;
    acc_t partial = 0;
    if (active) {
        for (lk_cursor cur = lk_begin(base, from + ly, inner, outerStride); cur.j < to;
             lk_next(&cur, LY, inner, outerStride)) {
            partial += (acc_t)x[cur.at];
        }
    }
    acc_t total = lk_sum_y(scratch, partial);
    if (active && ly == 0) {
        out[(size_t)chunk * S + s] = (float)(total * scale);
    }
}

// Stage 1 of Σ x²: work-group g of P (local size 1×LY, global 1×P·LY) writes its partial sum to partial[g];
// stage 2 is segment_sum over the P partials.
__kernel void sum_squares_partial(__global const float* x, int total, __global float* partial,
                                  __local acc_t* scratch) {
    // size_t: the stride (work-groups × their size) may pass 2^16, and i + stride then 2^31 near the largest tensor
    size_t gid = get_global_id(1), stride = get_global_size(1);
    acc_t acc = 0;
    for (size_t i = gid; i < (size_t)total; i += stride) {
        acc_t v = (acc_t)x[i];
        acc += v * v;
    }
    acc_t sum = lk_sum_y(scratch, acc);
    if (get_local_id(1) == 0) {
        partial[get_group_id(1)] = (float)sum;
    }
}
