/*
 * kernels.h -- the compute back ends behind one interface.
 *
 * A back end implements the dense pass of cl_kernels.h (cl_dense_pass): the
 * only place where d_out x d_in entries of an update are touched. The CPU
 * back end lives in kernels/cpu, the CUDA one in kernels/cuda (built only
 * when nvcc is found, used only when a GPU is present).
 *
 * Every back end forms dW in exactly the same arithmetic, so that counts
 * agree bit for bit across back ends and with a numpy reference:
 *     acc = B[i,0] * A[0,j];  acc = fma(B[i,k], A[k,j], acc) for k = 1..K-1;
 *     dW[i,j] = acc * (float)scale.
 */
#ifndef CK_KERNELS_H
#define CK_KERNELS_H

#include "cl_kernels.h"

typedef struct ck_backend_ops {
    const char *name;
    int (*dense_pass)(void *ctx, const cl_lowrank *u, int n, const cl_threshold *th,
                      int n_th, cl_dense_result *out, cl_error *err);
    void (*close)(void *ctx);
} ck_backend_ops;

/* CPU: threads = 0 uses every core OpenMP offers; isa NULL picks the best
 * kernels this CPU runs, "ref" or "avx2" forces a set. */
int ck_cpu_open(int threads, const char *isa, const ck_backend_ops **ops, void **ctx,
                const char **isa_used, cl_error *err);

/* CUDA: fails with CL_ERR_UNSUPPORTED when built without CUDA or when no GPU
 * is present. */
int ck_cuda_open(const ck_backend_ops **ops, void **ctx, cl_error *err);
int ck_cuda_available(void);

/* ---- pieces shared by the back ends (kernels/select.c) ---- */

/* Histogram bins of |x|: the top 12 bits of the float32 pattern (sign
 * cleared), so bins are ordered by magnitude and 1/16 of a binade wide.
 * Energies are summed exactly, as integers: within a bin every value shares
 * its exponent, so x^2 = m^2 * 2^(2e) with m the 24-bit significand. The
 * sum is then the same in any order, on any back end, with any threads.
 * A bin's sum of m^2 is m2_hi * 2^24 + m2_lo; a back end may split what it
 * adds between the two as it likes (per value, or per partial sum). */
#define CK_HIST_BITS 12
#define CK_HIST_BINS (1 << CK_HIST_BITS)
#define CK_HIST_SHIFT (31 - CK_HIST_BITS)

typedef struct ck_hist {
    uint64_t count[CK_HIST_BINS];
    uint64_t m2_hi[CK_HIST_BINS]; /* sum of (m^2 >> 24)       */
    uint64_t m2_lo[CK_HIST_BINS]; /* sum of (m^2 & 0xffffff)  */
} ck_hist;

/* Add one |x| given as its float bits with the sign cleared (the
 * reference; the CPU back end sums a thread's values first, tile.h). */
static inline void ck_hist_add(ck_hist *h, uint32_t u)
{
    uint32_t bin = u >> CK_HIST_SHIFT, e = u >> 23;
    uint64_t m = e ? (u & 0x7fffffu) | 0x800000u : (u & 0x7fffffu);
    uint64_t m2 = m * m;
    h->count[bin]++;
    h->m2_hi[bin] += m2 >> 24;
    h->m2_lo[bin] += m2 & 0xffffffu;
}

void ck_hist_merge(ck_hist *into, const ck_hist *from);
/* The bin's energy, sum of x^2, as a double. */
double ck_hist_energy(const ck_hist *h, int bin);

/* At most this many thresholds per dense pass (and boundary bins per task). */
#define CK_MAX_Q 64

/* Does this threshold need a histogram and a refine pass? */
int ck_needs_hist(const cl_threshold *th);

/* After the histogram: the bin holding the threshold for energy/top modes,
 * with what lies above it. Returns -1 when nothing can be active. */
typedef struct ck_boundary {
    int bin;            /* -1: none active                                 */
    double above_energy;
    uint64_t above_count;
    double target;      /* energy to reach, or the count (top)             */
} ck_boundary;

ck_boundary ck_find_boundary(const cl_threshold *th, const ck_hist *h, int64_t entries);
/* Sort n non-negative floats in descending order: an LSD radix sort on the
 * bits that differ (values of one bin share their top 12 bits); tmp holds n
 * floats. ck_sort_desc_ref is qsort, the reference it is tested against. */
void ck_sort_desc(float *v, size_t n, float *tmp);
void ck_sort_desc_ref(float *v, size_t n);
/* From the values of the boundary bin, sorted descending, the exact tau.
 * Always >= the smallest positive float, so zeros are never active. */
float ck_resolve_tau(const cl_threshold *th, const ck_boundary *b, const float *vals, size_t m);
/* tau for abs and rel, which need no histogram. */
float ck_simple_tau(const cl_threshold *th, float maxabs, int *inclusive);

#endif
