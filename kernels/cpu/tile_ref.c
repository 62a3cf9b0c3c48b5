/*
 * tile_ref.c -- portable reference micro-kernels. Readable first: the AVX2
 * versions must match these bit for bit (tests/unit/test_kernels.c).
 */
#include "tile.h"

#include <math.h>
#include <string.h>

static void form_ref(const float *B, int k, const float *A, int64_t lda, int nr, int nc,
                     float scale, float *out, int ldo)
{
    for (int i = 0; i < nr; i++) {
        const float *b = B + (size_t)i * (size_t)k;
        for (int j = 0; j < nc; j++) {
            float acc = b[0] * A[j];
            for (int q = 1; q < k; q++)
                acc = fmaf(b[q], A[(size_t)q * (size_t)lda + (size_t)j], acc);
            out[(size_t)i * (size_t)ldo + (size_t)j] = acc * scale;
        }
    }
}

static void stats_ref(const float *x, size_t n, double *l1, double *sumsq, float *maxabs)
{
    double s1 = 0, s2 = 0;
    float mx = *maxabs;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        s1 += a;
        s2 += (double)a * (double)a;
        if (a > mx)
            mx = a;
    }
    *l1 += s1;
    *sumsq += s2;
    *maxabs = mx;
}

static inline uint32_t fbits(float a)
{
    uint32_t u;
    memcpy(&u, &a, sizeof u);
    return u & 0x7fffffffu;
}

static void hist_ref(const float *x, size_t n, ck_hist *h)
{
    for (size_t i = 0; i < n; i++)
        ck_hist_add(h, fbits(x[i]));
}

static size_t collect_ref(const float *x, size_t n, int bin, float *vals)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)(fbits(x[i]) >> CK_HIST_SHIFT) == bin)
            vals[m++] = fabsf(x[i]);
    return m;
}

static void bits_ref(const float *x, int nc, float tau, int inclusive, uint64_t *w)
{
    int nw = (nc + 63) / 64;
    memset(w, 0, (size_t)nw * sizeof *w);
    for (int j = 0; j < nc; j++) {
        float a = fabsf(x[j]);
        int on = inclusive ? a >= tau : a > tau;
        w[j >> 6] |= (uint64_t)on << (j & 63);
    }
}

static uint64_t and_popcount_ref(const uint64_t *a, const uint64_t *b, size_t nw)
{
    uint64_t c = 0;
    for (size_t i = 0; i < nw; i++)
        c += (uint64_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}

const ck_cpu_fns ck_cpu_ref = {"ref", form_ref, stats_ref, hist_ref, collect_ref, bits_ref,
                               and_popcount_ref};

#if defined(__x86_64__)
/* The same loop with the POPCNT instruction: a generic x86-64 build would
 * otherwise count bits with a slow shift-and-mask sequence. */
__attribute__((target("popcnt"))) static uint64_t and_popcount_hw(const uint64_t *a,
                                                                   const uint64_t *b,
                                                                   size_t nw)
{
    uint64_t c = 0;
    for (size_t i = 0; i < nw; i++)
        c += (uint64_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}
const ck_cpu_fns ck_cpu_popcnt = {"popcnt", form_ref, stats_ref, hist_ref, collect_ref,
                                  bits_ref, and_popcount_hw};
#else
const ck_cpu_fns ck_cpu_popcnt = {"ref", form_ref, stats_ref, hist_ref, collect_ref, bits_ref,
                                  and_popcount_ref};
#endif

const ck_cpu_fns *ck_cpu_fns_pick(const char *isa)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("popcnt");
    int pop = __builtin_cpu_supports("popcnt");
    if (!isa)
        return avx2 ? &ck_cpu_avx2 : pop ? &ck_cpu_popcnt : &ck_cpu_ref;
    if (!strcmp(isa, "avx2"))
        return avx2 ? &ck_cpu_avx2 : NULL;
    if (!strcmp(isa, "popcnt"))
        return pop ? &ck_cpu_popcnt : NULL;
#else
    if (!isa)
        return &ck_cpu_ref;
#endif
    if (!strcmp(isa, "ref"))
        return &ck_cpu_ref;
    return NULL;
}
