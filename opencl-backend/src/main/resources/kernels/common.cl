// Prepended to every kernel family by ClContext. OpenCL C 1.2 only, so that the same source builds on PoCL and
// on NVIDIA's driver.
//
// acc_t is the accumulator of every reduction: double where the device has cl_khr_fp64 (the host passes
// -D LK_FP64=1), float otherwise. Reductions also shift by a value of their own data (see norm.cl), so even the
// float fallback sums small numbers.
#if LK_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

// A family of S statistics, each over M elements (the "layout" the host computes once per op):
// element j of statistic s lives at s*sBase + (j / inner)*outerStride + (j % inner).
//   batchnorm [N,D]:           S = D,   M = N,        sBase = 1,  inner = 1,  outerStride = D
//   spatial batchnorm [N,C,H,W]: S = C, M = N·H·W,    sBase = HW, inner = HW, outerStride = C·HW
//   layernorm [N,D]:           S = N,   M = D,        sBase = D,  inner = D,  outerStride = 0
//   groupnorm [N,C,H,W]:       S = N·G, M = (C/G)·HW, sBase = M,  inner = M,  outerStride = 0
// The two common layouts skip the integer division (tens of cycles per element on CPUs and GPUs alike); the branch
// depends on kernel arguments only, so every work-item takes the same side.
inline size_t lk_at(size_t base, int j, int inner, int outerStride) {
    if (inner == 1) {
        return base + (size_t)j * (size_t)outerStride;  // a column: batchnorm [N,D], column sums
    }
    if (outerStride == 0) {
        return base + (size_t)j;                         // contiguous: layernorm, groupnorm, whole vectors
    }
    return base + (size_t)(j / inner) * (size_t)outerStride + (size_t)(j % inner); // spatial batchnorm
}

// Sum of v over the second local dimension (LY, a power of two) of a 2-D work-group; every work-item of the
// group must call it, and every one gets the column's total. scratch holds LX·LY accumulators.
inline acc_t lk_sum_y(__local acc_t* scratch, acc_t v) {
    int lx = get_local_id(0), ly = get_local_id(1);
    int LX = get_local_size(0), LY = get_local_size(1);
    scratch[ly * LX + lx] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = LY / 2; stride > 0; stride >>= 1) {
        if (ly < stride) {
            scratch[ly * LX + lx] += scratch[(ly + stride) * LX + lx];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    acc_t total = scratch[lx];
    barrier(CLK_LOCAL_MEM_FENCE); // scratch may be reused right after
    return total;
}

// Maximum of v over the second local dimension, like lk_sum_y.
inline acc_t lk_max_y(__local acc_t* scratch, acc_t v) {
    int lx = get_local_id(0), ly = get_local_id(1);
    int LX = get_local_size(0), LY = get_local_size(1);
    scratch[ly * LX + lx] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = LY / 2; stride > 0; stride >>= 1) {
        if (ly < stride) {
            scratch[ly * LX + lx] = fmax(scratch[ly * LX + lx], scratch[(ly + stride) * LX + lx]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    acc_t total = scratch[lx];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}
