/*
 * tile.h -- the CPU micro-kernels: the few hot loops of the dense pass, with
 * a portable reference (tile_ref.c) and an AVX2+FMA version (tile_avx2.c)
 * picked at run time. Both give identical results bit for bit.
 */
#ifndef CK_TILE_H
#define CK_TILE_H

#include "../kernels.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ck_cpu_fns {
    const char *isa;
    /* out[i*ldo + j] = dW[i, j] for i < nr, j < nc; B is nr x k (row-major),
     * A points at column 0 of the tile in a k x lda matrix. */
    void (*form)(const float *B, int k, const float *A, int64_t lda, int nr, int nc,
                 float scale, float *out, int ldo);
    /* Accumulate sum |x|, sum x^2 (in double) and max |x|. */
    void (*stats)(const float *x, size_t n, double *l1, double *sumsq, float *maxabs);
    void (*hist)(const float *x, size_t n, ck_hist *h);
    /* Append the |x| that fall in bin to vals; returns how many. */
    size_t (*collect)(const float *x, size_t n, int bin, float *vals);
    /* One row of nc values to ceil(nc/64) words, bit j = active(x[j]). */
    void (*bits)(const float *x, int nc, float tau, int inclusive, uint64_t *w);
    uint64_t (*and_popcount)(const uint64_t *a, const uint64_t *b, size_t nw);
} ck_cpu_fns;

extern const ck_cpu_fns ck_cpu_ref;
extern const ck_cpu_fns ck_cpu_popcnt;
#if defined(__x86_64__)
extern const ck_cpu_fns ck_cpu_avx2;
#endif

/* The best set this CPU runs; isa "ref" or "avx2" forces one (NULL: best).
 * Returns NULL when the forced set does not run here. */
const ck_cpu_fns *ck_cpu_fns_pick(const char *isa);

#endif
