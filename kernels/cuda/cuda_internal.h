/*
 * cuda_internal.h -- what the CUDA back end's host code (dense_cuda.cu)
 * and its device kernels (tiles_cuda.cu) share.
 *
 * The kernels compute exactly what the CPU back end computes: dW in the
 * canonical order with explicit round-to-nearest intrinsics (__fmul_rn,
 * __fmaf_rn: never contracted, never reordered), the integer-exact
 * histogram in the same ck_hist layout, bit masks with the same
 * inclusive/exclusive comparison, and integer pair counts. Thresholds are
 * resolved on the host by the same code as the CPU's (kernels/select.c).
 */
#ifndef CK_CUDA_INTERNAL_H
#define CK_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "kernels.h"
}

/* One update on the device. */
struct ck_dtask {
    const float *B; /* d_out x k */
    const float *A; /* k x d_in  */
    int k;
    float scale;
};

/* Pass A and B tiles: one column per thread, CK_CU_ROWS rows per block, so
 * a block sees at most 256 * 64 = 16384 values: its 64-bit m^2 sums per
 * bin cannot overflow (m^2 < 2^48). */
#define CK_CU_COLS 256
#define CK_CU_ROWS 64
/* Pass C: one warp per 64-column mask word, 8 warps per block. */
#define CK_CU_WARPS 8

struct ck_dshape {
    int64_t d_out, d_in;
    int n;      /* tasks */
    int n_th;   /* thresholds */
    int wpr;    /* 64-bit words per row */
};

/* Launchers (tiles_cuda.cu). Each returns the launch's cudaError_t. */
cudaError_t ck_cu_stats(cudaStream_t s, const ck_dtask *tasks, ck_dshape sh, int want_hist,
                        ck_hist *hist, double *part_l1, double *part_sq, unsigned *maxbits);
/* Blocks per task of pass A (the length of each task's partial sums). */
int64_t ck_cu_stats_blocks(ck_dshape sh);
cudaError_t ck_cu_collect(cudaStream_t s, const ck_dtask *tasks, ck_dshape sh, int t0, int t1,
                          const int *nq, const int *bins, const unsigned long long *offset,
                          const unsigned long long *cap, unsigned long long *got, float *vals);
cudaError_t ck_cu_bits(cudaStream_t s, const ck_dtask *tasks, ck_dshape sh, int64_t r0, int rows,
                       const float *tau, const int *incl, unsigned long long *masks);
cudaError_t ck_cu_pairs(cudaStream_t s, ck_dshape sh, int rows, const unsigned long long *masks,
                        unsigned long long *counts);

#endif
