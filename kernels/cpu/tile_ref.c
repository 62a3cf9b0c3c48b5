/*
 * tile_ref.c -- portable reference micro-kernels, readable first: each pass
 * forms its tile into a buffer, then loops over it. The AVX2 versions must
 * match these bit for bit (tests/kernels/test_tiles.c). Also the run-time
 * choice of kernel set.
 */
#include "tile.h"

#include <math.h>
#include <string.h>

void ck_lhist_flush(ck_lhist *l, ck_hist *h)
{
    for (int i = 0; i < CK_HIST_BINS; i++) {
        ck_lbin *b = &l->bin[i];
        if (!b->count)
            continue;
        /* energy is hi * 2^24 + lo however a back end splits it
         * (ck_hist_energy), so one split per flush will do */
        __atomic_fetch_add(&h->count[i], b->count, __ATOMIC_RELAXED);
        __atomic_fetch_add(&h->m2_hi[i], b->m2 >> 24, __ATOMIC_RELAXED);
        __atomic_fetch_add(&h->m2_lo[i], b->m2 & 0xffffffu, __ATOMIC_RELAXED);
        b->m2 = 0;
        b->count = 0;
    }
    l->pending = 0;
}

static void form_ref(const ck_tile *t, float *out, int ldo)
{
    for (int i = 0; i < t->nr; i++) {
        const float *b = t->B + (size_t)i * (size_t)t->k;
        for (int j = 0; j < t->nc; j++) {
            float acc = b[0] * t->A[j];
            for (int q = 1; q < t->k; q++)
                acc = fmaf(b[q], t->A[(size_t)q * (size_t)t->lda + (size_t)j], acc);
            out[(size_t)i * (size_t)ldo + (size_t)j] = acc * t->scale;
        }
    }
}

static void tile_stats_ref(const ck_tile *t, float *buf, ck_tstats *st, ck_lhist *h, ck_hist *hist)
{
    size_t n = (size_t)t->nr * (size_t)t->nc;
    form_ref(t, buf, t->nc);
    double s1 = 0, s2 = 0;
    float mx = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(buf[i]);
        s1 += a;
        s2 += (double)a * (double)a;
        mx = a > mx ? a : mx;
    }
    st->l1 = s1;
    st->sumsq = s2;
    st->maxabs = mx;
    if (!h)
        return;
    ck_lhist_reserve(h, hist, n);
    for (size_t i = 0; i < n; i++)
        ck_lhist_add(h, ck_abs_bits(buf[i]));
}

static void tile_collect_ref(const ck_tile *t, float *buf, int nq, const int *bins,
                             float *const *vals, size_t *got)
{
    size_t n = (size_t)t->nr * (size_t)t->nc;
    form_ref(t, buf, t->nc);
    for (size_t i = 0; i < n; i++) {
        int bin = (int)(ck_abs_bits(buf[i]) >> CK_HIST_SHIFT);
        for (int q = 0; q < nq; q++)
            if (bin == bins[q])
                vals[q][got[q]++] = fabsf(buf[i]);
    }
}

static void tile_bits_ref(const ck_tile *t, float *buf, int nq, const float *tau,
                          const int *inclusive, uint64_t *w, size_t wq)
{
    form_ref(t, buf, t->nc);
    for (int q = 0; q < nq; q++)
        for (int i = 0; i < t->nr; i++) {
            uint64_t *wr = w + (size_t)q * wq + (size_t)i * CK_TILE_WORDS;
            memset(wr, 0, CK_TILE_WORDS * sizeof *wr);
            for (int j = 0; j < t->nc; j++) {
                float a = fabsf(buf[(size_t)i * (size_t)t->nc + (size_t)j]);
                int on = inclusive[q] ? a >= tau[q] : a > tau[q];
                wr[j >> 6] |= (uint64_t)on << (j & 63);
            }
        }
}

static uint64_t and_popcount_ref(const uint64_t *a, const uint64_t *b, size_t nw)
{
    uint64_t c = 0;
    for (size_t i = 0; i < nw; i++)
        c += (uint64_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}

const ck_cpu_fns ck_cpu_ref = {"ref", form_ref, tile_stats_ref, tile_collect_ref, tile_bits_ref,
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
const ck_cpu_fns ck_cpu_popcnt = {"popcnt", form_ref, tile_stats_ref, tile_collect_ref,
                                  tile_bits_ref, and_popcount_hw};
#else
const ck_cpu_fns ck_cpu_popcnt = {"ref", form_ref, tile_stats_ref, tile_collect_ref,
                                  tile_bits_ref, and_popcount_ref};
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
