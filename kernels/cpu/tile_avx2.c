/*
 * tile_avx2.c -- AVX2+FMA micro-kernels, compiled for that target whatever
 * the build's baseline and chosen at run time (tile_ref.c: ck_cpu_fns_pick).
 * Each computes exactly what its reference in tile_ref.c computes.
 */
#include "tile.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,popcnt")))

/* One row, columns [j, nc): the scalar tail in the reference's order. */
AVX2 static inline void form_tail(const float *b, int k, const float *A, int64_t lda, int j,
                                  int nc, float scale, float *o)
{
    for (; j < nc; j++) {
        float acc = b[0] * A[j];
        for (int q = 1; q < k; q++)
            acc = fmaf(b[q], A[(size_t)q * (size_t)lda + (size_t)j], acc);
        o[j] = acc * scale;
    }
}

/* Four rows by 16 columns per step: 8 accumulators, each A vector loaded
 * once serves four rows. */
AVX2 static void form_avx2(const float *B, int k, const float *A, int64_t lda, int nr,
                           int nc, float scale, float *out, int ldo)
{
    const __m256 vs = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 4 <= nr; i += 4) {
        const float *b0 = B + (size_t)i * (size_t)k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
        float *o0 = out + (size_t)i * (size_t)ldo, *o1 = o0 + ldo, *o2 = o1 + ldo, *o3 = o2 + ldo;
        int j = 0;
        for (; j + 16 <= nc; j += 16) {
            __m256 x0 = _mm256_loadu_ps(A + j), x1 = _mm256_loadu_ps(A + j + 8);
            __m256 w = _mm256_set1_ps(b0[0]);
            __m256 c00 = _mm256_mul_ps(w, x0), c01 = _mm256_mul_ps(w, x1);
            w = _mm256_set1_ps(b1[0]);
            __m256 c10 = _mm256_mul_ps(w, x0), c11 = _mm256_mul_ps(w, x1);
            w = _mm256_set1_ps(b2[0]);
            __m256 c20 = _mm256_mul_ps(w, x0), c21 = _mm256_mul_ps(w, x1);
            w = _mm256_set1_ps(b3[0]);
            __m256 c30 = _mm256_mul_ps(w, x0), c31 = _mm256_mul_ps(w, x1);
            for (int q = 1; q < k; q++) {
                const float *a = A + (size_t)q * (size_t)lda + j;
                x0 = _mm256_loadu_ps(a);
                x1 = _mm256_loadu_ps(a + 8);
                w = _mm256_set1_ps(b0[q]);
                c00 = _mm256_fmadd_ps(w, x0, c00);
                c01 = _mm256_fmadd_ps(w, x1, c01);
                w = _mm256_set1_ps(b1[q]);
                c10 = _mm256_fmadd_ps(w, x0, c10);
                c11 = _mm256_fmadd_ps(w, x1, c11);
                w = _mm256_set1_ps(b2[q]);
                c20 = _mm256_fmadd_ps(w, x0, c20);
                c21 = _mm256_fmadd_ps(w, x1, c21);
                w = _mm256_set1_ps(b3[q]);
                c30 = _mm256_fmadd_ps(w, x0, c30);
                c31 = _mm256_fmadd_ps(w, x1, c31);
            }
            _mm256_storeu_ps(o0 + j, _mm256_mul_ps(c00, vs));
            _mm256_storeu_ps(o0 + j + 8, _mm256_mul_ps(c01, vs));
            _mm256_storeu_ps(o1 + j, _mm256_mul_ps(c10, vs));
            _mm256_storeu_ps(o1 + j + 8, _mm256_mul_ps(c11, vs));
            _mm256_storeu_ps(o2 + j, _mm256_mul_ps(c20, vs));
            _mm256_storeu_ps(o2 + j + 8, _mm256_mul_ps(c21, vs));
            _mm256_storeu_ps(o3 + j, _mm256_mul_ps(c30, vs));
            _mm256_storeu_ps(o3 + j + 8, _mm256_mul_ps(c31, vs));
        }
        form_tail(b0, k, A, lda, j, nc, scale, o0);
        form_tail(b1, k, A, lda, j, nc, scale, o1);
        form_tail(b2, k, A, lda, j, nc, scale, o2);
        form_tail(b3, k, A, lda, j, nc, scale, o3);
    }
    for (; i < nr; i++) {
        const float *b = B + (size_t)i * (size_t)k;
        float *o = out + (size_t)i * (size_t)ldo;
        int j = 0;
        for (; j + 8 <= nc; j += 8) {
            __m256 c = _mm256_mul_ps(_mm256_set1_ps(b[0]), _mm256_loadu_ps(A + j));
            for (int q = 1; q < k; q++)
                c = _mm256_fmadd_ps(_mm256_set1_ps(b[q]),
                                    _mm256_loadu_ps(A + (size_t)q * (size_t)lda + j), c);
            _mm256_storeu_ps(o + j, _mm256_mul_ps(c, vs));
        }
        form_tail(b, k, A, lda, j, nc, scale, o);
    }
}

AVX2 static void stats_avx2(const float *x, size_t n, double *l1, double *sumsq, float *maxabs)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256d s1a = _mm256_setzero_pd(), s1b = _mm256_setzero_pd();
    __m256d s2a = _mm256_setzero_pd(), s2b = _mm256_setzero_pd();
    __m256 mx = _mm256_set1_ps(*maxabs);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), absmask);
        mx = _mm256_max_ps(mx, a);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(a));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
        s1a = _mm256_add_pd(s1a, lo);
        s1b = _mm256_add_pd(s1b, hi);
        s2a = _mm256_fmadd_pd(lo, lo, s2a);
        s2b = _mm256_fmadd_pd(hi, hi, s2b);
    }
    double t1[4], t2[4];
    float m[8];
    _mm256_storeu_pd(t1, _mm256_add_pd(s1a, s1b));
    _mm256_storeu_pd(t2, _mm256_add_pd(s2a, s2b));
    _mm256_storeu_ps(m, mx);
    double a1 = t1[0] + t1[1] + t1[2] + t1[3], a2 = t2[0] + t2[1] + t2[2] + t2[3];
    float best = *maxabs;
    for (int q = 0; q < 8; q++)
        best = m[q] > best ? m[q] : best;
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        a1 += a;
        a2 += (double)a * (double)a;
        best = a > best ? a : best;
    }
    *l1 += a1;
    *sumsq += a2;
    *maxabs = best;
}

/* The histogram is a scatter: scalar, but with the sign cleared eight at a
 * time. */
AVX2 static void hist_avx2(const float *x, size_t n, ck_hist *h)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    uint32_t u[8];
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_si256((__m256i *)u, _mm256_and_si256(
                                              _mm256_loadu_si256((const __m256i *)(x + i)), absmask));
        for (int q = 0; q < 8; q++)
            ck_hist_add(h, u[q]);
    }
    for (; i < n; i++) {
        uint32_t v;
        memcpy(&v, x + i, sizeof v);
        ck_hist_add(h, v & 0x7fffffffu);
    }
}

AVX2 static size_t collect_avx2(const float *x, size_t n, int bin, float *vals)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i want = _mm256_set1_epi32(bin);
    size_t m = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), absmask);
        __m256i eq = _mm256_cmpeq_epi32(_mm256_srli_epi32(u, CK_HIST_SHIFT), want);
        unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(eq));
        while (mask) {
            int q = __builtin_ctz(mask);
            vals[m++] = fabsf(x[i + (size_t)q]);
            mask &= mask - 1;
        }
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        if ((int)((u & 0x7fffffffu) >> CK_HIST_SHIFT) == bin)
            vals[m++] = fabsf(x[i]);
    }
    return m;
}

AVX2 static void bits_avx2(const float *x, int nc, float tau, int inclusive, uint64_t *w)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 t = _mm256_set1_ps(tau);
    int nw = (nc + 63) / 64;
    int j = 0, word = 0;
    for (; j + 64 <= nc; j += 64, word++) {
        uint64_t v = 0;
        for (int g = 0; g < 8; g++) {
            __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + j + 8 * g), absmask);
            __m256 c = inclusive ? _mm256_cmp_ps(a, t, _CMP_GE_OQ) : _mm256_cmp_ps(a, t, _CMP_GT_OQ);
            v |= (uint64_t)(unsigned)_mm256_movemask_ps(c) << (8 * g);
        }
        w[word] = v;
    }
    if (word < nw) {
        uint64_t v = 0;
        for (int q = 0; j < nc; j++, q++) {
            float a = fabsf(x[j]);
            int on = inclusive ? a >= tau : a > tau;
            v |= (uint64_t)on << q;
        }
        w[word] = v;
    }
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

const ck_cpu_fns ck_cpu_avx2 = {"avx2", form_avx2, stats_avx2, hist_avx2, collect_avx2,
                                bits_avx2, and_popcount_avx2};
#endif
