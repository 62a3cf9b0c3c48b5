/*
 * tile.h -- the CPU micro-kernels: the few hot loops of the dense pass, with
 * a portable reference (tile_ref.c) and an AVX2+FMA version (tile_avx2.c)
 * picked at run time. Both give identical dW, masks, counts and histograms
 * bit for bit; the double sums l1 and sum of squares agree to rounding.
 *
 * A tile is nr rows x nc columns of dW = s * B * A, formed where it is used:
 * each pass forms its tile and folds it at once into what that pass needs
 * (statistics and histogram, boundary values, or bit masks), so a formed
 * value never leaves L1.
 */
#ifndef CK_TILE_H
#define CK_TILE_H

#include "../kernels.h"

#include <stddef.h>
#include <stdint.h>

/* Tile shape of the dense pass: TILE_ROWS x TILE_COLS entries (16 KiB of
 * floats, half of Zen's L1d); TILE_COLS is a multiple of 64, so a tile row
 * is whole 64-bit mask words. */
#define CK_TILE_ROWS 16
#define CK_TILE_COLS 256
#define CK_TILE_MAX (CK_TILE_ROWS * CK_TILE_COLS)
#define CK_TILE_WORDS (CK_TILE_COLS / 64)

/* One tile of one update: rows [r0, r0+nr) of B (row-major, k per row) and
 * columns [c0, c0+nc) of A (k rows with stride lda, A pointing at column
 * c0 of row 0). nr <= CK_TILE_ROWS, nc <= CK_TILE_COLS. */
typedef struct ck_tile {
    const float *B;
    const float *A;
    int64_t lda;
    int k, nr, nc;
    float scale;
} ck_tile;

/* Per-tile statistics of |dW|, summed within the tile in a fixed order. */
typedef struct ck_tstats {
    double l1, sumsq;
    float maxabs;
} ck_tstats;

/* A thread's histogram between flushes: 64-bit m^2 sums cannot overflow
 * over CK_LHIST_FLUSH values (m^2 < 2^48), then they are added to a task's
 * ck_hist. Count and energy of a bin share a cache line. */
#define CK_LHIST_FLUSH 65536
typedef struct ck_lbin {
    uint64_t m2;
    uint64_t count;
} ck_lbin;
typedef struct ck_lhist {
    ck_lbin bin[CK_HIST_BINS];
    uint32_t pending; /* values added since the last flush */
} ck_lhist;

/* Add the local histogram to h (atomically: other threads flush into the
 * same task) and clear it. Integer sums: the result is order-independent. */
void ck_lhist_flush(ck_lhist *l, ck_hist *h);

typedef struct ck_cpu_fns {
    const char *isa;
    /* out[i*ldo + j] = dW[i, j] of the tile, in the canonical arithmetic
     * (kernels.h). */
    void (*form)(const ck_tile *t, float *out, int ldo);
    /* Pass A: statistics of the tile; when h is not NULL, also its |x|
     * histogram (flushing h into hist as needed). buf: CK_TILE_MAX floats. */
    void (*tile_stats)(const ck_tile *t, float *buf, ck_tstats *st, ck_lhist *h, ck_hist *hist);
    /* Pass B: append to vals[q] the |x| of the tile in histogram bin bins[q],
     * q < nq, advancing got[q]. buf: CK_TILE_MAX floats. */
    void (*tile_collect)(const ck_tile *t, float *buf, int nq, const int *bins, float *const *vals,
                         size_t *got);
    /* Pass C: the tile's bit masks for nq thresholds: row i of threshold q
     * in w + q*wq + i*CK_TILE_WORDS, bit j = active(x[i, j]); words past
     * the tile's last column are zero. buf: CK_TILE_MAX floats. */
    void (*tile_bits)(const ck_tile *t, float *buf, int nq, const float *tau, const int *inclusive,
                      uint64_t *w, size_t wq);
    uint64_t (*and_popcount)(const uint64_t *a, const uint64_t *b, size_t nw);
} ck_cpu_fns;

extern const ck_cpu_fns ck_cpu_ref;
extern const ck_cpu_fns ck_cpu_popcnt;
#if defined(__x86_64__)
extern const ck_cpu_fns ck_cpu_avx2;
#endif

/* The best set this CPU runs; isa "ref", "popcnt" or "avx2" forces one
 * (NULL: best). Returns NULL when the forced set does not run here. */
const ck_cpu_fns *ck_cpu_fns_pick(const char *isa);

/* The bits of |x|: the histogram key (kernels.h). */
static inline uint32_t ck_abs_bits(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {x};
    return v.u & 0x7fffffffu;
}

/* Add one |x|, given as ck_abs_bits, to a local histogram. */
static inline void ck_lhist_add(ck_lhist *l, uint32_t u)
{
    uint32_t e = u >> 23;
    uint64_t m = e ? (u & 0x7fffffu) | 0x800000u : (u & 0x7fffffu);
    ck_lbin *b = &l->bin[u >> CK_HIST_SHIFT];
    b->m2 += m * m;
    b->count++;
}

/* Make room for n more values (n <= CK_TILE_MAX) before adding them. */
static inline void ck_lhist_reserve(ck_lhist *l, ck_hist *h, size_t n)
{
    if (l->pending + n > CK_LHIST_FLUSH)
        ck_lhist_flush(l, h);
    l->pending += (uint32_t)n;
}

#endif
