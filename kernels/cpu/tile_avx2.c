/*
 * tile_avx2.c -- AVX2+FMA micro-kernels, compiled for that target whatever
 * the build's baseline and chosen at run time (tile_ref.c: ck_cpu_fns_pick).
 * Each computes exactly what its reference in tile_ref.c computes.
 *
 * dW is formed 4 rows x 16 columns at a time in 8 accumulators (each A
 * vector loaded once serves four rows), in the canonical order: one
 * multiply, k-1 fused multiply-adds, one multiply by the scale. Every pass
 * folds the block into what it needs while it is still in registers
 * (statistics and histogram, boundary values, mask bits); only the last
 * rows and columns that do not fill a block go through buf.
 */
#include "tile.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,popcnt")))
#define INLINE __attribute__((always_inline)) inline

/* 4 rows x 16 columns of dW: row r in c.v[2r] (columns 0-7), c.v[2r+1]. */
typedef struct blk {
    __m256 v[8];
} blk;

AVX2 static INLINE blk form_4x16(const float *B, int k, const float *A, int64_t lda, __m256 vs)
{
    const float *b0 = B, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
    blk c;
    __m256 x0 = _mm256_loadu_ps(A), x1 = _mm256_loadu_ps(A + 8);
    __m256 w = _mm256_broadcast_ss(b0);
    c.v[0] = _mm256_mul_ps(w, x0), c.v[1] = _mm256_mul_ps(w, x1);
    w = _mm256_broadcast_ss(b1);
    c.v[2] = _mm256_mul_ps(w, x0), c.v[3] = _mm256_mul_ps(w, x1);
    w = _mm256_broadcast_ss(b2);
    c.v[4] = _mm256_mul_ps(w, x0), c.v[5] = _mm256_mul_ps(w, x1);
    w = _mm256_broadcast_ss(b3);
    c.v[6] = _mm256_mul_ps(w, x0), c.v[7] = _mm256_mul_ps(w, x1);
#pragma GCC unroll 16
    for (int q = 1; q < k; q++) {
        const float *a = A + (size_t)q * (size_t)lda;
        x0 = _mm256_loadu_ps(a);
        x1 = _mm256_loadu_ps(a + 8);
        w = _mm256_broadcast_ss(b0 + q);
        c.v[0] = _mm256_fmadd_ps(w, x0, c.v[0]);
        c.v[1] = _mm256_fmadd_ps(w, x1, c.v[1]);
        w = _mm256_broadcast_ss(b1 + q);
        c.v[2] = _mm256_fmadd_ps(w, x0, c.v[2]);
        c.v[3] = _mm256_fmadd_ps(w, x1, c.v[3]);
        w = _mm256_broadcast_ss(b2 + q);
        c.v[4] = _mm256_fmadd_ps(w, x0, c.v[4]);
        c.v[5] = _mm256_fmadd_ps(w, x1, c.v[5]);
        w = _mm256_broadcast_ss(b3 + q);
        c.v[6] = _mm256_fmadd_ps(w, x0, c.v[6]);
        c.v[7] = _mm256_fmadd_ps(w, x1, c.v[7]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        c.v[r] = _mm256_mul_ps(c.v[r], vs);
    return c;
}

/* One row, 8 columns. */
AVX2 static INLINE __m256 form_1x8(const float *b, int k, const float *A, int64_t lda, __m256 vs)
{
    __m256 c = _mm256_mul_ps(_mm256_broadcast_ss(b), _mm256_loadu_ps(A));
    for (int q = 1; q < k; q++)
        c = _mm256_fmadd_ps(_mm256_broadcast_ss(b + q),
                            _mm256_loadu_ps(A + (size_t)q * (size_t)lda), c);
    return _mm256_mul_ps(c, vs);
}

/* One value, in the reference's order. */
AVX2 static INLINE float form_1(const float *b, int k, const float *A, int64_t lda, float scale)
{
    float acc = b[0] * A[0];
    for (int q = 1; q < k; q++)
        acc = fmaf(b[q], A[(size_t)q * (size_t)lda], acc);
    return acc * scale;
}

/* Rows [i0, i0+nrow) of the tile, columns [j0, nc), into out (leading
 * dimension ldo, column 0 at out[0]). */
AVX2 static void form_rows(const ck_tile *t, int i0, int nrow, int j0, float *out, int ldo)
{
    const __m256 vs = _mm256_set1_ps(t->scale);
    for (int i = i0; i < i0 + nrow; i++) {
        const float *b = t->B + (size_t)i * (size_t)t->k;
        float *o = out + (size_t)i * (size_t)ldo;
        int j = j0;
        for (; j + 8 <= t->nc; j += 8)
            _mm256_storeu_ps(o + j, form_1x8(b, t->k, t->A + j, t->lda, vs));
        for (; j < t->nc; j++)
            o[j] = form_1(b, t->k, t->A + j, t->lda, t->scale);
    }
}

AVX2 static INLINE void form_avx2_k(const ck_tile *t, float *out, int ldo, int k)
{
    const __m256 vs = _mm256_set1_ps(t->scale);
    int i = 0;
    for (; i + 4 <= t->nr; i += 4) {
        const float *b = t->B + (size_t)i * (size_t)k;
        float *o = out + (size_t)i * (size_t)ldo;
        int j = 0;
        for (; j + 16 <= t->nc; j += 16) {
            blk c = form_4x16(b, k, t->A + j, t->lda, vs);
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                _mm256_storeu_ps(o + (size_t)r * (size_t)ldo + j, c.v[2 * r]);
                _mm256_storeu_ps(o + (size_t)r * (size_t)ldo + j + 8, c.v[2 * r + 1]);
            }
        }
        if (j < t->nc)
            form_rows(t, i, 4, j, out, ldo);
    }
    form_rows(t, i, t->nr - i, 0, out, ldo);
}


/* Kernels are written once with k as a parameter and instantiated for the
 * common ranks: with k known, the FMA chain is unrolled, which lifts the
 * formation rate from about 60% to about 90% of sgemm's. */
#define BY_RANK(call_k)                                                                            \
    switch (t->k) {                                                                                \
    case 4:                                                                                        \
        call_k(4);                                                                                 \
        break;                                                                                     \
    case 8:                                                                                        \
        call_k(8);                                                                                 \
        break;                                                                                     \
    case 16:                                                                                       \
        call_k(16);                                                                                \
        break;                                                                                     \
    default:                                                                                       \
        call_k(t->k);                                                                              \
    }

/* ---- pass A: statistics and histogram, from registers ---- */

typedef struct stat_acc {
    __m256d s1a, s1b, s2a, s2b;
    __m256 mx;
} stat_acc;

/* Fold 8 values into the statistics and, when h is not NULL, the
 * histogram. The histogram is a scatter, so scalar; keys (as byte offsets
 * into h) and m^2 are computed eight at a time first, m^2 with the
 * 32x32->64 multiply on even and odd lanes. */
AVX2 static INLINE void fold8(stat_acc *a, __m256 v, ck_lhist *h)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    __m256i u = _mm256_and_si256(_mm256_castps_si256(v), absmask);
    __m256 x = _mm256_castsi256_ps(u);
    a->mx = _mm256_max_ps(a->mx, x);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    a->s1a = _mm256_add_pd(a->s1a, lo);
    a->s1b = _mm256_add_pd(a->s1b, hi);
    a->s2a = _mm256_fmadd_pd(lo, lo, a->s2a);
    a->s2b = _mm256_fmadd_pd(hi, hi, a->s2b);
    if (!h)
        return;
    const __m256i mant = _mm256_set1_epi32(0x7fffff), hidden = _mm256_set1_epi32(0x800000);
    __m256i normal = _mm256_andnot_si256(
        _mm256_cmpeq_epi32(_mm256_srli_epi32(u, 23), _mm256_setzero_si256()), hidden);
    __m256i m = _mm256_or_si256(_mm256_and_si256(u, mant), normal);
    __m256i mo = _mm256_srli_epi64(m, 32);
    uint64_t off[4], ev[4], od[4];
    /* byte offset of the bin: key * sizeof(ck_lbin) = key << 4 */
    _mm256_storeu_si256((__m256i *)off, _mm256_slli_epi32(_mm256_srli_epi32(u, CK_HIST_SHIFT), 4));
    _mm256_storeu_si256((__m256i *)ev, _mm256_mul_epu32(m, m));
    _mm256_storeu_si256((__m256i *)od, _mm256_mul_epu32(mo, mo));
    char *base = (char *)h->bin;
    for (int q = 0; q < 4; q++) {
        ck_lbin *b = (ck_lbin *)(base + (uint32_t)off[q]);
        b->m2 += ev[q];
        b->count++;
        b = (ck_lbin *)(base + (off[q] >> 32));
        b->m2 += od[q];
        b->count++;
    }
}

/* The same for one value (tails). */
static INLINE void fold1(double *s1, double *s2, float *mx, float v, ck_lhist *h)
{
    float a = fabsf(v);
    *s1 += a;
    *s2 += (double)a * (double)a;
    *mx = a > *mx ? a : *mx;
    if (h)
        ck_lhist_add(h, ck_abs_bits(v));
}

AVX2 static INLINE void stats_k(const ck_tile *t, float *buf, ck_tstats *st, ck_lhist *h, int k)
{
    const __m256 vs = _mm256_set1_ps(t->scale);
    stat_acc a = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
             _mm256_setzero_ps()};
    int nc16 = t->nc & ~15, i = 0;
    for (; i + 4 <= t->nr; i += 4) {
        const float *b = t->B + (size_t)i * (size_t)k;
        for (int j = 0; j < nc16; j += 16) {
            blk c = form_4x16(b, k, t->A + j, t->lda, vs);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                fold8(&a, c.v[r], h);
        }
    }
    double t1[4], t2[4];
    float m[8];
    _mm256_storeu_pd(t1, _mm256_add_pd(a.s1a, a.s1b));
    _mm256_storeu_pd(t2, _mm256_add_pd(a.s2a, a.s2b));
    _mm256_storeu_ps(m, a.mx);
    double s1 = (t1[0] + t1[1]) + (t1[2] + t1[3]), s2 = (t2[0] + t2[1]) + (t2[2] + t2[3]);
    float mx = 0;
    for (int q = 0; q < 8; q++)
        mx = m[q] > mx ? m[q] : mx;
    /* the columns and rows the blocks left */
    if (nc16 < t->nc && i > 0)
        form_rows(t, 0, i, nc16, buf, CK_TILE_COLS);
    form_rows(t, i, t->nr - i, 0, buf, CK_TILE_COLS);
    for (int r = 0; r < t->nr; r++)
        for (int j = r < i ? nc16 : 0; j < t->nc; j++)
            fold1(&s1, &s2, &mx, buf[(size_t)r * CK_TILE_COLS + (size_t)j], h);
    st->l1 = s1;
    st->sumsq = s2;
    st->maxabs = mx;
}

AVX2 static void stats_plain(const ck_tile *t, float *buf, ck_tstats *st)
{
#define CALL(K) stats_k(t, buf, st, NULL, K)
    BY_RANK(CALL)
#undef CALL
}

AVX2 static void stats_hist(const ck_tile *t, float *buf, ck_tstats *st, ck_lhist *h)
{
#define CALL(K) stats_k(t, buf, st, h, K)
    BY_RANK(CALL)
#undef CALL
}

AVX2 static void tile_stats_avx2(const ck_tile *t, float *buf, ck_tstats *st, ck_lhist *h,
                                 ck_hist *hist)
{
    if (h) {
        ck_lhist_reserve(h, hist, (size_t)t->nr * (size_t)t->nc);
        stats_hist(t, buf, st, h);
    } else {
        stats_plain(t, buf, st);
    }
}

/* ---- pass B: the values of the boundary bins ---- */

AVX2 static INLINE void collect8(__m256 v, int nq, const __m256i *want, float *const *vals,
                                 size_t *got)
{
    __m256 x = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
    __m256i key = _mm256_srli_epi32(_mm256_castps_si256(x), CK_HIST_SHIFT);
    for (int q = 0; q < nq; q++) {
        unsigned mask =
            (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(key, want[q])));
        if (!mask)
            continue;
        float tmp[8];
        _mm256_storeu_ps(tmp, x);
        do {
            vals[q][got[q]++] = tmp[__builtin_ctz(mask)];
            mask &= mask - 1;
        } while (mask);
    }
}

AVX2 static INLINE void collect_k(const ck_tile *t, float *buf, int nq, const int *bins,
                                  float *const *vals, size_t *got, int k)
{
    const __m256 vs = _mm256_set1_ps(t->scale);
    __m256i want[CK_MAX_Q];
    for (int q = 0; q < nq; q++)
        want[q] = _mm256_set1_epi32(bins[q]);
    int nc16 = t->nc & ~15, i = 0;
    for (; i + 4 <= t->nr; i += 4) {
        const float *b = t->B + (size_t)i * (size_t)k;
        for (int j = 0; j < nc16; j += 16) {
            blk c = form_4x16(b, k, t->A + j, t->lda, vs);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                collect8(c.v[r], nq, want, vals, got);
        }
    }
    if (nc16 < t->nc && i > 0)
        form_rows(t, 0, i, nc16, buf, CK_TILE_COLS);
    form_rows(t, i, t->nr - i, 0, buf, CK_TILE_COLS);
    for (int r = 0; r < t->nr; r++)
        for (int j = r < i ? nc16 : 0; j < t->nc; j++) {
            float x = buf[(size_t)r * CK_TILE_COLS + (size_t)j];
            int bin = (int)(ck_abs_bits(x) >> CK_HIST_SHIFT);
            for (int q = 0; q < nq; q++)
                if (bin == bins[q])
                    vals[q][got[q]++] = fabsf(x);
        }
}

AVX2 static void tile_collect_avx2(const ck_tile *t, float *buf, int nq, const int *bins,
                                   float *const *vals, size_t *got)
{
#define CALL(K) collect_k(t, buf, nq, bins, vals, got, K)
    BY_RANK(CALL)
#undef CALL
}

/* ---- pass C: bit masks straight from registers ---- */

AVX2 static INLINE unsigned bits16(__m256 lo, __m256 hi, __m256 tau, int inclusive)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    lo = _mm256_and_ps(lo, absmask);
    hi = _mm256_and_ps(hi, absmask);
    __m256 a = inclusive ? _mm256_cmp_ps(lo, tau, _CMP_GE_OQ) : _mm256_cmp_ps(lo, tau, _CMP_GT_OQ);
    __m256 b = inclusive ? _mm256_cmp_ps(hi, tau, _CMP_GE_OQ) : _mm256_cmp_ps(hi, tau, _CMP_GT_OQ);
    return (unsigned)_mm256_movemask_ps(a) | (unsigned)_mm256_movemask_ps(b) << 8;
}

/* Store 16 mask bits for columns [j, j+16) of a row; j is a multiple of
 * 16, and x86 is little-endian, so they are one 16-bit piece of the word. */
static INLINE void put16(uint64_t *row, int j, unsigned bits)
{
    uint16_t v = (uint16_t)bits;
    memcpy((char *)row + 2 * (j >> 4), &v, sizeof v);
}

AVX2 static INLINE void bits_k(const ck_tile *t, float *buf, int nq, const float *tau,
                               const int *inclusive, uint64_t *w, size_t wq, int k)
{
    const __m256 vs = _mm256_set1_ps(t->scale);
    __m256 vt[CK_MAX_Q];
    for (int q = 0; q < nq; q++) {
        vt[q] = _mm256_set1_ps(tau[q]);
        memset(w + (size_t)q * wq, 0, (size_t)t->nr * CK_TILE_WORDS * sizeof *w);
    }
    int nc16 = t->nc & ~15, i = 0;
    for (; i + 4 <= t->nr; i += 4) {
        const float *b = t->B + (size_t)i * (size_t)k;
        for (int j = 0; j < nc16; j += 16) {
            blk c = form_4x16(b, k, t->A + j, t->lda, vs);
            for (int q = 0; q < nq; q++) {
                uint64_t *wr = w + (size_t)q * wq + (size_t)i * CK_TILE_WORDS;
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++)
                    put16(wr + r * CK_TILE_WORDS, j,
                          bits16(c.v[2 * r], c.v[2 * r + 1], vt[q], inclusive[q]));
            }
        }
    }
    /* Rows past the last block of four and columns past the last block of
     * sixteen: formed into buf, thresholded one by one. */
    if (nc16 < t->nc && i > 0)
        form_rows(t, 0, i, nc16, buf, CK_TILE_COLS);
    form_rows(t, i, t->nr - i, 0, buf, CK_TILE_COLS);
    for (int r = 0; r < t->nr; r++) {
        int j0 = r < i ? nc16 : 0;
        const float *x = buf + (size_t)r * CK_TILE_COLS;
        for (int q = 0; q < nq; q++) {
            uint64_t *wr = w + (size_t)q * wq + (size_t)r * CK_TILE_WORDS;
            for (int j = j0; j < t->nc; j++) {
                float a = fabsf(x[j]);
                int on = inclusive[q] ? a >= tau[q] : a > tau[q];
                wr[j >> 6] |= (uint64_t)on << (j & 63);
            }
        }
    }
}

AVX2 static void tile_bits_avx2(const ck_tile *t, float *buf, int nq, const float *tau,
                                const int *inclusive, uint64_t *w, size_t wq)
{
#define CALL(K) bits_k(t, buf, nq, tau, inclusive, w, wq, K)
    BY_RANK(CALL)
#undef CALL
}

/* Mula's nibble-lookup popcount: AND and count 256 bits per step. */
AVX2 static uint64_t and_popcount_avx2(const uint64_t *a, const uint64_t *b, size_t nw)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= nw; i += 4) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                     _mm256_loadu_si256((const __m256i *)(b + i)));
        __m256i lo = _mm256_and_si256(v, low);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(cnt, _mm256_setzero_si256()));
    }
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, acc);
    uint64_t c = t[0] + t[1] + t[2] + t[3];
    for (; i < nw; i++)
        c += (uint64_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}

AVX2 static void form_avx2(const ck_tile *t, float *out, int ldo)
{
#define CALL(K) form_avx2_k(t, out, ldo, K)
    BY_RANK(CALL)
#undef CALL
}

const ck_cpu_fns ck_cpu_avx2 = {"avx2", form_avx2, tile_stats_avx2, tile_collect_avx2,
                                tile_bits_avx2, and_popcount_avx2};
#endif
