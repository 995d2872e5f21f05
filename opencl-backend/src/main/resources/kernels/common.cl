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

// A walk over elements j, j+step, ... of one statistic that keeps the address without dividing per element (the
// spatial layout's j/inner, j%inner cost tens of cycles each): lk_begin divides once, lk_next only when a step
// crosses into the next run of `inner` elements, and then without a division when the step is shorter than a run.
typedef struct {
    int j;      // the element index within the statistic
    int r;      // j % inner (spatial layout only)
    size_t at;  // lk_at(base, j, inner, outerStride)
} lk_cursor;

inline lk_cursor lk_begin(size_t base, int j, int inner, int outerStride) {
    lk_cursor c;
    c.j = j;
    c.r = (inner == 1 || outerStride == 0) ? 0 : j % inner;
    c.at = lk_at(base, j, inner, outerStride);
    return c;
}

inline void lk_next(lk_cursor* c, int step, int inner, int outerStride) {
    c->j += step;
    if (inner == 1) {
        c->at += (size_t)step * (size_t)outerStride;
    } else if (outerStride == 0) {
        c->at += (size_t)step;
    } else {
        c->r += step;
        c->at += (size_t)step;
        if (c->r >= inner) {
            int q = c->r < 2 * inner ? 1 : c->r / inner;
            c->r -= q * inner;
            c->at += (size_t)q * (size_t)(outerStride - inner);
        }
    }
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
