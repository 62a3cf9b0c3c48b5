// tiles_cuda.cu -- the CUDA back end's device kernels: the three passes of
// the dense pass (kernels/cpu/dense_cpu.c describes them) on the GPU.
//
// dW is formed by a kernel of our own, not cuBLAS: a rank-k product is a
// poor GEMM shape (k = 8: 8 FMAs per output, memory-bound either way), and
// cuBLAS promises no summation order, while counts must match the CPU
// exactly. Each thread forms its entries in the canonical order with
// __fmul_rn / __fmaf_rn, which nvcc never contracts or reorders.
#include "cuda_internal.h"

#define FULL 0xffffffffu

static __device__ __forceinline__ float form1(const float *__restrict__ b,
                                              const float *__restrict__ A, int64_t lda, int64_t j,
                                              int k, float scale)
{
    float acc = __fmul_rn(b[0], A[j]);
    for (int q = 1; q < k; q++)
        acc = __fmaf_rn(b[q], A[(int64_t)q * lda + j], acc);
    return __fmul_rn(acc, scale);
}

// ---- pass A: statistics and the exact histogram ----

// Block-wide sum of doubles and max of unsigned; result valid in thread 0.
static __device__ void block_reduce(double *a, double *b, unsigned *m)
{
    __shared__ double sa[32], sb[32];
    __shared__ unsigned sm[32];
    for (int o = 16; o > 0; o >>= 1) {
        *a += __shfl_down_sync(FULL, *a, o);
        *b += __shfl_down_sync(FULL, *b, o);
        *m = max(*m, __shfl_down_sync(FULL, *m, o));
    }
    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    if (lane == 0) {
        sa[w] = *a;
        sb[w] = *b;
        sm[w] = *m;
    }
    __syncthreads();
    if (w == 0) {
        *a = lane < nw ? sa[lane] : 0.0;
        *b = lane < nw ? sb[lane] : 0.0;
        *m = lane < nw ? sm[lane] : 0u;
        for (int o = 16; o > 0; o >>= 1) {
            *a += __shfl_down_sync(FULL, *a, o);
            *b += __shfl_down_sync(FULL, *b, o);
            *m = max(*m, __shfl_down_sync(FULL, *m, o));
        }
    }
}

static __global__ void k_stats(const ck_dtask *tasks, ck_dshape sh, int want_hist, ck_hist *hist,
                               double *part_l1, double *part_sq, unsigned *maxbits,
                               int64_t per_task)
{
    // a block's histogram: m^2 sums (64-bit) and counts, in shared memory
    extern __shared__ unsigned long long smem[];
    unsigned long long *m2 = smem;
    unsigned *cnt = (unsigned *)(smem + CK_HIST_BINS);
    int t = blockIdx.z;
    ck_dtask u = tasks[t];
    if (want_hist) {
        for (int i = threadIdx.x; i < CK_HIST_BINS; i += blockDim.x) {
            m2[i] = 0;
            cnt[i] = 0;
        }
        __syncthreads();
    }
    int64_t j = (int64_t)blockIdx.x * CK_CU_COLS + threadIdx.x;
    int64_t r0 = (int64_t)blockIdx.y * CK_CU_ROWS;
    int64_t r1 = r0 + CK_CU_ROWS < sh.d_out ? r0 + CK_CU_ROWS : sh.d_out;
    double s1 = 0, s2 = 0;
    unsigned mx = 0;
    if (j < sh.d_in)
        for (int64_t i = r0; i < r1; i++) {
            float x = form1(u.B + i * u.k, u.A, sh.d_in, j, u.k, u.scale);
            float a = fabsf(x);
            s1 += (double)a;
            s2 = __fma_rn((double)a, (double)a, s2);
            unsigned bits = __float_as_uint(a);
            mx = max(mx, bits); // non-negative floats order as their bits
            if (want_hist) {
                unsigned key = bits >> CK_HIST_SHIFT;
                unsigned long long m = (bits >> 23) ? ((bits & 0x7fffffu) | 0x800000u)
                                                    : (bits & 0x7fffffu);
                atomicAdd(&m2[key], m * m);
                atomicAdd(&cnt[key], 1u);
            }
        }
    block_reduce(&s1, &s2, &mx);
    if (threadIdx.x == 0) {
        int64_t b = (int64_t)blockIdx.y * gridDim.x + blockIdx.x;
        part_l1[(int64_t)t * per_task + b] = s1;
        part_sq[(int64_t)t * per_task + b] = s2;
        atomicMax(&maxbits[t], mx);
    }
    if (want_hist) {
        __syncthreads();
        ck_hist *h = &hist[t];
        for (int i = threadIdx.x; i < CK_HIST_BINS; i += blockDim.x)
            if (cnt[i]) {
                // the same split as the CPU's flush; ck_hist_energy
                // reads hi * 2^24 + lo whatever the split
                atomicAdd((unsigned long long *)&h->count[i], (unsigned long long)cnt[i]);
                atomicAdd((unsigned long long *)&h->m2_hi[i], m2[i] >> 24);
                atomicAdd((unsigned long long *)&h->m2_lo[i], m2[i] & 0xffffffull);
            }
    }
}

int64_t ck_cu_stats_blocks(ck_dshape sh)
{
    return ((sh.d_in + CK_CU_COLS - 1) / CK_CU_COLS) * ((sh.d_out + CK_CU_ROWS - 1) / CK_CU_ROWS);
}

cudaError_t ck_cu_stats(cudaStream_t s, const ck_dtask *tasks, ck_dshape sh, int want_hist,
                        ck_hist *hist, double *part_l1, double *part_sq, unsigned *maxbits)
{
    size_t shmem = want_hist ? CK_HIST_BINS * (sizeof(unsigned long long) + sizeof(unsigned)) : 0;
    cudaError_t e = cudaFuncSetAttribute(k_stats, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)shmem);
    if (e != cudaSuccess)
        return e;
    dim3 grid((unsigned)((sh.d_in + CK_CU_COLS - 1) / CK_CU_COLS),
              (unsigned)((sh.d_out + CK_CU_ROWS - 1) / CK_CU_ROWS), (unsigned)sh.n);
    k_stats<<<grid, CK_CU_COLS, shmem, s>>>(tasks, sh, want_hist, hist, part_l1, part_sq, maxbits,
                                            ck_cu_stats_blocks(sh));
    return cudaGetLastError();
}

// ---- pass B: the values of the boundary bins ----

static __global__ void k_collect(const ck_dtask *tasks, ck_dshape sh, int t0, const int *nq,
                                 const int *bins, const unsigned long long *offset,
                                 const unsigned long long *cap, unsigned long long *got,
                                 float *vals)
{
    int t = t0 + blockIdx.z;
    int nb = nq[t];
    if (nb == 0)
        return;
    ck_dtask u = tasks[t];
    int64_t j = (int64_t)blockIdx.x * CK_CU_COLS + threadIdx.x;
    if (j >= sh.d_in)
        return;
    int64_t r0 = (int64_t)blockIdx.y * CK_CU_ROWS;
    int64_t r1 = r0 + CK_CU_ROWS < sh.d_out ? r0 + CK_CU_ROWS : sh.d_out;
    for (int64_t i = r0; i < r1; i++) {
        float a = fabsf(form1(u.B + i * u.k, u.A, sh.d_in, j, u.k, u.scale));
        int key = (int)(__float_as_uint(a) >> CK_HIST_SHIFT);
        for (int q = 0; q < nb; q++) {
            int at = t * CK_MAX_Q + q;
            if (key == bins[at]) {
                // order is irrelevant: the host sorts the values
                unsigned long long idx = atomicAdd(&got[at], 1ull);
                if (idx < cap[at])
                    vals[offset[at] + idx] = a;
            }
        }
    }
}

cudaError_t ck_cu_collect(cudaStream_t s, const ck_dtask *tasks, ck_dshape sh, int t0, int t1,
                          const int *nq, const int *bins, const unsigned long long *offset,
                          const unsigned long long *cap, unsigned long long *got, float *vals)
{
    dim3 grid((unsigned)((sh.d_in + CK_CU_COLS - 1) / CK_CU_COLS),
              (unsigned)((sh.d_out + CK_CU_ROWS - 1) / CK_CU_ROWS), (unsigned)(t1 - t0));
    k_collect<<<grid, CK_CU_COLS, 0, s>>>(tasks, sh, t0, nq, bins, offset, cap, got, vals);
    return cudaGetLastError();
}

// ---- pass C: bit masks (one warp per 64-bit word) and pair counts ----

static __global__ void k_bits(const ck_dtask *tasks, ck_dshape sh, int64_t r0, int rows,
                              const float *tau, const int *incl, unsigned long long *masks)
{
    int lane = threadIdx.x & 31;
    int64_t word = (int64_t)blockIdx.x * CK_CU_WARPS + (threadIdx.x >> 5);
    if (word >= sh.wpr) // the whole warp leaves together
        return;
    int t = blockIdx.z;
    int64_t i = r0 + blockIdx.y;
    ck_dtask u = tasks[t];
    int64_t c1 = word * 64 + lane, c2 = c1 + 32;
    const float *b = u.B + i * u.k;
    float a1 = c1 < sh.d_in ? fabsf(form1(b, u.A, sh.d_in, c1, u.k, u.scale)) : 0.0f;
    float a2 = c2 < sh.d_in ? fabsf(form1(b, u.A, sh.d_in, c2, u.k, u.scale)) : 0.0f;
    size_t rw = (size_t)rows * (size_t)sh.wpr;
    for (int q = 0; q < sh.n_th; q++) {
        float tq = tau[q * sh.n + t];
        int inc = incl[q * sh.n + t];
        bool on1 = c1 < sh.d_in && (inc ? a1 >= tq : a1 > tq);
        bool on2 = c2 < sh.d_in && (inc ? a2 >= tq : a2 > tq);
        unsigned lo = __ballot_sync(FULL, on1), hi = __ballot_sync(FULL, on2);
        if (lane == 0)
            masks[((size_t)q * sh.n + t) * rw + (size_t)blockIdx.y * sh.wpr + word] =
                (unsigned long long)lo | (unsigned long long)hi << 32;
    }
}

cudaError_t ck_cu_bits(cudaStream_t s, const ck_dtask *tasks, ck_dshape sh, int64_t r0, int rows,
                       const float *tau, const int *incl, unsigned long long *masks)
{
    dim3 grid((unsigned)((sh.wpr + CK_CU_WARPS - 1) / CK_CU_WARPS), (unsigned)rows, (unsigned)sh.n);
    k_bits<<<grid, 32 * CK_CU_WARPS, 0, s>>>(tasks, sh, r0, rows, tau, incl, masks);
    return cudaGetLastError();
}

// counts[(q * n + t) * n + v] += |mask_t AND mask_v| for t <= v, every q.
static __global__ void k_pairs(ck_dshape sh, int rows, const unsigned long long *masks,
                               unsigned long long *counts, int pairs)
{
    __shared__ unsigned long long part[32];
    size_t rw = (size_t)rows * (size_t)sh.wpr;
    for (int p = blockIdx.y; p < pairs * sh.n_th; p += gridDim.y) {
        int q = p / pairs, k = p % pairs, t = 0;
        while (k >= sh.n - t) { // pair k of the upper triangle, row by row
            k -= sh.n - t;
            t++;
        }
        int v = t + k;
        const unsigned long long *a = masks + ((size_t)q * sh.n + t) * rw;
        const unsigned long long *b = masks + ((size_t)q * sh.n + v) * rw;
        unsigned long long c = 0;
        for (size_t w = (size_t)blockIdx.x * blockDim.x + threadIdx.x; w < rw;
             w += (size_t)gridDim.x * blockDim.x)
            c += (unsigned long long)__popcll(a[w] & b[w]);
        for (int o = 16; o > 0; o >>= 1)
            c += __shfl_down_sync(FULL, c, o);
        if ((threadIdx.x & 31) == 0)
            part[threadIdx.x >> 5] = c;
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned long long sum = 0;
            for (int w = 0; w < (int)(blockDim.x >> 5); w++)
                sum += part[w];
            if (sum) // integer sums: any order gives the same count
                atomicAdd(&counts[((size_t)q * sh.n + t) * sh.n + v], sum);
        }
        __syncthreads();
    }
}

cudaError_t ck_cu_pairs(cudaStream_t s, ck_dshape sh, int rows, const unsigned long long *masks,
                        unsigned long long *counts)
{
    int pairs = sh.n * (sh.n + 1) / 2;
    size_t rw = (size_t)rows * (size_t)sh.wpr;
    unsigned bx = (unsigned)((rw + 255) / 256);
    bx = bx < 64 ? (bx ? bx : 1) : 64;
    int py = pairs * sh.n_th;
    dim3 grid(bx, (unsigned)(py < 65535 ? py : 65535));
    k_pairs<<<grid, 256, 0, s>>>(sh, rows, masks, counts, pairs);
    return cudaGetLastError();
}
