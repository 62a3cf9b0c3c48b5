/*
 * select.c -- resolving a threshold to an exact tau, shared by every back
 * end. energy:F and top:Q need the F-th energy quantile or the Q-th count
 * quantile of |dW|; a 4096-bin histogram over the float bit pattern finds the
 * bin, and sorting only that bin's values finds the exact value, so no
 * d_out x d_in matrix is ever sorted.
 */
#include "kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ck_hist_merge(ck_hist *into, const ck_hist *from)
{
    for (int i = 0; i < CK_HIST_BINS; i++) {
        into->count[i] += from->count[i];
        into->m2_hi[i] += from->m2_hi[i];
        into->m2_lo[i] += from->m2_lo[i];
    }
}

double ck_hist_energy(const ck_hist *h, int bin)
{
    if (!h->count[bin])
        return 0;
    /* hi * 2^24 + lo as one exact integer, rounded once: the same double
     * however a back end split its sums between hi and lo */
    __extension__ typedef unsigned __int128 u128;
    u128 m2 = ((u128)h->m2_hi[bin] << 24) + (u128)h->m2_lo[bin];
    int e = bin >> (CK_HIST_BITS - 8);     /* the biased exponent          */
    int ee = e ? e - 150 : -149;           /* x = m * 2^ee                 */
    return ldexp((double)m2, 2 * ee);
}

int ck_needs_hist(const cl_threshold *th)
{
    return th->mode == CL_TH_ENERGY || th->mode == CL_TH_TOP;
}

float ck_simple_tau(const cl_threshold *th, float maxabs, int *inclusive)
{
    *inclusive = 0;
    if (th->mode == CL_TH_ABS)
        return (float)th->value;
    /* rel: computed in double, rounded once to float32 */
    return (float)(th->value * (double)maxabs);
}

ck_boundary ck_find_boundary(const cl_threshold *th, const ck_hist *h, int64_t entries)
{
    ck_boundary b = {-1, 0, 0, 0};
    if (th->mode == CL_TH_ENERGY) {
        double energy[CK_HIST_BINS], total = 0;
        for (int i = 0; i < CK_HIST_BINS; i++) {
            energy[i] = ck_hist_energy(h, i);
            total += energy[i];
        }
        if (!(total > 0))
            return b;
        b.target = th->value * total;
        double cum = 0;
        uint64_t cnt = 0;
        int lowest = -1;
        for (int i = CK_HIST_BINS - 1; i >= 0; i--) {
            if (!h->count[i])
                continue;
            lowest = i;
            if (cum + energy[i] >= b.target) {
                b.bin = i;
                b.above_energy = cum;
                b.above_count = cnt;
                return b;
            }
            cum += energy[i];
            cnt += h->count[i];
        }
        /* Rounding kept the sum just short of the target: take every
         * non-zero entry (the lowest non-empty bin, fully). */
        if (lowest >= 0) {
            b.bin = lowest;
            b.above_energy = cum - energy[lowest];
            b.above_count = cnt - h->count[lowest];
        }
        return b;
    }
    /* top */
    int64_t want = (int64_t)ceil(th->value * (double)entries);
    if (want < 1)
        want = 1;
    b.target = (double)want;
    uint64_t cnt = 0;
    for (int i = CK_HIST_BINS - 1; i >= 0; i--) {
        if (!h->count[i])
            continue;
        if (cnt + h->count[i] >= (uint64_t)want) {
            b.bin = i;
            b.above_count = cnt;
            return b;
        }
        cnt += h->count[i];
    }
    /* Fewer entries than asked for: all of them. */
    for (int i = 0; i < CK_HIST_BINS; i++)
        if (h->count[i]) {
            b.bin = i;
            b.above_count = cnt - h->count[i];
            b.target = (double)cnt;
            break;
        }
    return b;
}

/* Insertion sort, descending: for the short runs radix sorting does not
 * pay for. */
static void sort_small(uint32_t *k, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t v = k[i];
        size_t j = i;
        for (; j > 0 && k[j - 1] < v; j--)
            k[j] = k[j - 1];
        k[j] = v;
    }
}

void ck_sort_desc(float *v, size_t n, float *tmp)
{
    /* Non-negative floats sort as their bit patterns; values of one bin
     * share their top bits, so only the bits that differ are sorted on,
     * 11 at a time (least significant digit first, stable). */
    uint32_t *k = (uint32_t *)v, *t = (uint32_t *)tmp;
    if (n < 64) {
        sort_small(k, n);
        return;
    }
    uint32_t diff = 0;
    for (size_t i = 1; i < n; i++)
        diff |= k[i] ^ k[0];
    int bits = 0;
    while (bits < 32 && (diff >> bits))
        bits++;
    for (int shift = 0; shift < bits; shift += 11) {
        size_t cnt[2048] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(~k[i] >> shift) & 2047]++; /* ~: descending */
        size_t at = 0;
        for (int d = 0; d < 2048; d++) {
            size_t c = cnt[d];
            cnt[d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            t[cnt[(~k[i] >> shift) & 2047]++] = k[i];
        uint32_t *x = k;
        k = t;
        t = x;
    }
    if (k != (uint32_t *)v)
        memcpy(v, k, n * sizeof *k);
}

static int desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

void ck_sort_desc_ref(float *v, size_t n) { qsort(v, n, sizeof *v, desc); }

float ck_resolve_tau(const cl_threshold *th, const ck_boundary *b, const float *vals, size_t m)
{
    if (b->bin < 0 || m == 0)
        return INFINITY;
    float tau = vals[m - 1];
    if (th->mode == CL_TH_ENERGY) {
        double cum = b->above_energy;
        for (size_t i = 0; i < m; i++) {
            cum += (double)vals[i] * (double)vals[i];
            if (cum >= b->target) {
                tau = vals[i];
                break;
            }
        }
    } else {
        uint64_t need = (uint64_t)b->target - b->above_count; /* 1-based rank in the bin */
        if (need >= 1 && need <= m)
            tau = vals[need - 1];
    }
    return tau < FLT_TRUE_MIN ? FLT_TRUE_MIN : tau;
}
