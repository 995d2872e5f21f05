// SGEMM: C = α·op(A)·op(B) + β·C, op(A) [M,K], op(B) [K,N], C [M,N], all row-major; op(X) = Xᵀ when transX.
// With β = 0 the old C is never read (so NaN there does not leak through 0·NaN).
//
// Tiled kernel: a 16×16 work-group computes a 64×64 tile of C, each work-item a 4×4 block of it (rows ly+16·i,
// columns lx+16·j, so neighbouring work-items write neighbouring columns). The K dimension advances in slices
// of 16: each slice of op(A) and op(B) is staged in local memory, read in the coalesced order of the stored
// (possibly transposed) matrix, zero-padded beyond M, N, K, so any sizes work. Rows of C start at rowOffset, so the
// host can cover more rows than one launch's 65,535 work-groups along y allow.

#define TS 64      // tile of C per work-group (rows and columns)
#define TK 16      // K slice
#define WPT 4      // C elements per work-item along each axis
#define RTS 16     // work-items along each axis (TS / WPT)

__kernel __attribute__((reqd_work_group_size(RTS, RTS, 1)))
void gemm_tiled(__global const float* A, int transA, __global const float* B, int transB, __global float* Cm,
                int M, int N, int K, float alpha, float beta, int rowOffset) {
    __local float As[TK][TS + 1]; // As[k][m] = op(A)[m0+m][k0+k]
    __local float Bs[TK][TS + 1]; // Bs[k][n] = op(B)[k0+k][n0+n]
    int lx = get_local_id(0), ly = get_local_id(1);
    int t = ly * RTS + lx;
    int m0 = rowOffset + get_group_id(1) * TS, n0 = get_group_id(0) * TS;

    float acc[WPT][WPT];
    for (int i = 0; i < WPT; i++) {
        for (int j = 0; j < WPT; j++) {
            acc[i][j] = 0.0f;
        }
    }

    for (int k0 = 0; k0 < K; k0 += TK) {
        // stage a TK×TS slice of op(A) and of op(B): 1024 elements each, 4 per work-item
        for (int l = 0; l < (TK * TS) / (RTS * RTS); l++) {
            int e = t + l * RTS * RTS;
            int kk, mm;
            if (transA) {       // A stored [K,M]: consecutive work-items read consecutive m
                mm = e % TS; kk = e / TS;
            } else {            // A stored [M,K]: consecutive work-items read consecutive k
                kk = e % TK; mm = e / TK;
            }
            int m = m0 + mm, k = k0 + kk;
            float va = 0.0f;
            if (m < M && k < K) {
                va = transA ? A[(size_t)k * M + m] : A[(size_t)m * K + k];
            }
            As[kk][mm] = va;

            int nn;
            if (transB) {       // B stored [N,K]
                kk = e % TK; nn = e / TK;
            } else {            // B stored [K,N]
                nn = e % TS; kk = e / TS;
            }
            int n = n0 + nn;
            k = k0 + kk;
            float vb = 0.0f;
            if (n < N && k < K) {
                vb = transB ? B[(size_t)n * K + k] : B[(size_t)k * N + n];
            }
            Bs[kk][nn] = vb;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // multiply the slices: acc[i][j] += Σ_k op(A)[row i][k]·op(B)[k][col j]
        for (int k = 0; k < TK; k++) {
            float a[WPT], b[WPT];
            for (int i = 0; i < WPT; i++) {
                a[i] = As[k][ly + RTS * i];
            }
            for (int j = 0; j < WPT; j++) {
                b[j] = Bs[k][lx + RTS * j];
            }
            for (int i = 0; i < WPT; i++) {
                for (int j = 0; j < WPT; j++) {
                    acc[i][j] += a[i] * b[j];
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < WPT; i++) {
        int m = m0 + ly + RTS * i;
        for (int j = 0; j < WPT; j++) {
            int n = n0 + lx + RTS * j;
            if (m < M && n < N) {
                size_t at = (size_t)m * N + n;
                Cm[at] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * Cm[at];
            }
        }
    }
}

// One work-item per element of C, for devices whose work-groups cannot hold 16×16 work-items.
__kernel void gemm_simple(__global const float* A, int transA, __global const float* B, int transB,
                          __global float* Cm, int M, int N, int K, float alpha, float beta, int rowOffset) {
    int n = get_global_id(0), m = rowOffset + get_global_id(1);
    if (m >= M || n >= N) {
        return;
    }
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        float a = transA ? A[(size_t)k * M + m] : A[(size_t)m * K + k];
        float b = transB ? B[(size_t)n * K + k] : B[(size_t)k * N + n];
        acc += a * b;
    }
    size_t at = (size_t)m * N + n;
    Cm[at] = beta == 0.0f ? alpha * acc : alpha * acc + beta * Cm[at];
}
