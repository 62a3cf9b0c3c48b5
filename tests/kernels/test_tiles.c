/*
 * test_tiles.c -- the CPU micro-kernels against their portable references,
 * bit for bit (dW, masks, histograms, boundary values), on random tiles of
 * every edge shape; the radix sort against qsort; the histogram's exact
 * energies; and the whole dense pass giving the same answer with any
 * thread count and kernel set.
 */
#include "../../kernels/cpu/pool.h"
#include "../../kernels/cpu/tile.h"
#include "../check.h"
#include "../dense_ref.h"

#include <float.h>

/* Random factors with some exact zeros and a few tiny values, so that
 * bin 0, denormals and ties all occur. */
static float *rand_mat(size_t n, cl_rng *g, double s)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double r = cl_rng_uniform(g);
        x[i] = r < 0.05 ? 0.0f : r < 0.07 ? (float)(1e-20 * cl_rng_normal(g))
                                          : (float)(s * cl_rng_normal(g));
    }
    return x;
}

static int hist_equal(const ck_hist *a, const ck_hist *b)
{
    for (int i = 0; i < CK_HIST_BINS; i++)
        if (a->count[i] != b->count[i] || ck_hist_energy(a, i) != ck_hist_energy(b, i))
            return 0;
    return 1;
}

/* Every kernel of `f` against the reference on one tile shape. */
static void check_tile(const ck_cpu_fns *f, int nr, int nc, int k, int lda_pad, cl_rng *g)
{
    int lda = nc + lda_pad;
    float *B = rand_mat((size_t)nr * (size_t)k, g, 0.5), *A = rand_mat((size_t)k * (size_t)lda, g, 0.5);
    ck_tile t = {B, A, lda, k, nr, nc, 0.37f};
    float *o1 = calloc(CK_TILE_MAX, sizeof *o1), *o2 = calloc(CK_TILE_MAX, sizeof *o2);
    float *buf = malloc(CK_TILE_MAX * sizeof *buf);
    ck_cpu_ref.form(&t, o1, CK_TILE_COLS);
    f->form(&t, o2, CK_TILE_COLS);
    CHECK(!memcmp(o1, o2, CK_TILE_MAX * sizeof *o1), "%s form %dx%d k=%d differs", f->isa, nr, nc, k);
    /* the canonical formula, written out once more */
    int bad = 0;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            float acc = B[i * k] * A[j];
            for (int q = 1; q < k; q++)
                acc = fmaf(B[i * k + q], A[q * lda + j], acc);
            bad += acc * 0.37f != o2[i * CK_TILE_COLS + j];
        }
    CHECK(bad == 0, "%s form %dx%d k=%d: %d values differ from the formula", f->isa, nr, nc, k, bad);

    /* pass A: stats and histogram */
    ck_tstats s1, s2;
    ck_lhist *l1 = calloc(1, sizeof *l1), *l2 = calloc(1, sizeof *l2);
    ck_hist *h1 = calloc(1, sizeof *h1), *h2 = calloc(1, sizeof *h2);
    ck_cpu_ref.tile_stats(&t, buf, &s1, l1, h1);
    f->tile_stats(&t, buf, &s2, l2, h2);
    ck_lhist_flush(l1, h1);
    ck_lhist_flush(l2, h2);
    CHECK(hist_equal(h1, h2), "%s histogram %dx%d k=%d differs", f->isa, nr, nc, k);
    CHECK(s1.maxabs == s2.maxabs, "%s max %g vs %g", f->isa, s1.maxabs, s2.maxabs);
    CHECK_NEAR(s2.l1, s1.l1, 1e-13, 0, "tile l1");
    CHECK_NEAR(s2.sumsq, s1.sumsq, 1e-13, 0, "tile sum of squares");
    ck_tstats s3;
    f->tile_stats(&t, buf, &s3, NULL, NULL);
    CHECK(s3.l1 == s2.l1 && s3.sumsq == s2.sumsq && s3.maxabs == s2.maxabs,
          "%s stats depend on whether the histogram is wanted", f->isa);
    uint64_t total = 0;
    for (int i = 0; i < CK_HIST_BINS; i++)
        total += h1->count[i];
    CHECK(total == (uint64_t)nr * (uint64_t)nc, "histogram holds %llu of %d values",
          (unsigned long long)total, nr * nc);

    /* pass B: the values of two bins, as sorted multisets */
    int bins[2] = {(int)(ck_abs_bits(o1[0]) >> CK_HIST_SHIFT), 0};
    float *v1[2], *v2[2];
    size_t g1[2] = {0, 0}, g2[2] = {0, 0};
    for (int q = 0; q < 2; q++) {
        v1[q] = malloc(CK_TILE_MAX * sizeof(float));
        v2[q] = malloc(CK_TILE_MAX * sizeof(float));
    }
    ck_cpu_ref.tile_collect(&t, buf, 2, bins, v1, g1);
    f->tile_collect(&t, buf, 2, bins, v2, g2);
    for (int q = 0; q < 2; q++) {
        CHECK(g1[q] == g2[q] && g1[q] == h1->count[bins[q]], "%s collect bin %d: %zu / %zu / %llu",
              f->isa, bins[q], g1[q], g2[q], (unsigned long long)h1->count[bins[q]]);
        if (g1[q] == g2[q]) {
            ck_sort_desc_ref(v1[q], g1[q]);
            ck_sort_desc_ref(v2[q], g2[q]);
            CHECK(!memcmp(v1[q], v2[q], g1[q] * sizeof(float)), "%s collected values differ", f->isa);
        }
        free(v1[q]);
        free(v2[q]);
    }

    /* pass C: masks for three thresholds, one exactly at a value */
    float tau[3] = {fabsf(o1[0]), 0.05f, 0.0f};
    int inc[3] = {1, 0, 0};
    size_t wq = CK_TILE_ROWS * CK_TILE_WORDS;
    uint64_t *w1 = malloc(3 * wq * sizeof *w1), *w2 = malloc(3 * wq * sizeof *w2);
    memset(w1, 0xff, 3 * wq * sizeof *w1); /* stale words must be cleared */
    memset(w2, 0xab, 3 * wq * sizeof *w2);
    ck_cpu_ref.tile_bits(&t, buf, 3, tau, inc, w1, wq);
    f->tile_bits(&t, buf, 3, tau, inc, w2, wq);
    int64_t act = 0;
    for (int q = 0; q < 3; q++) {
        CHECK(!memcmp(w1 + q * wq, w2 + q * wq, (size_t)nr * CK_TILE_WORDS * sizeof *w1),
              "%s masks %dx%d threshold %d differ", f->isa, nr, nc, q);
        int64_t want = 0;
        for (int i = 0; i < nr; i++)
            for (int j = 0; j < nc; j++) {
                float a = fabsf(o1[i * CK_TILE_COLS + j]);
                want += inc[q] ? a >= tau[q] : a > tau[q];
            }
        uint64_t got = f->and_popcount(w2 + q * wq, w2 + q * wq, (size_t)nr * CK_TILE_WORDS);
        CHECK((int64_t)got == want, "%s threshold %d: %llu active, expected %lld", f->isa, q,
              (unsigned long long)got, (long long)want);
        act += want;
    }
    CHECK(act > 0, "the thresholds select something");
    free(w1), free(w2), free(l1), free(l2), free(h1), free(h2), free(o1), free(o2), free(buf);
    free(A), free(B);
}

static void test_kernels_vs_reference(void)
{
    cl_rng g;
    cl_rng_seed(&g, 3);
    const ck_cpu_fns *sets[] = {ck_cpu_fns_pick("popcnt"), ck_cpu_fns_pick("avx2")};
    int shapes[][2] = {{16, 256}, {16, 64}, {1, 1}, {3, 17}, {5, 250}, {16, 255}, {4, 16},
                       {7, 31}, {13, 200}, {2, 8}};
    int ranks[] = {1, 4, 8, 16, 3, 24};
    int tested = 0;
    for (size_t s = 0; s < 2; s++) {
        if (!sets[s]) {
            printf("kernel set %s: not supported by this CPU, not tested\n", s ? "avx2" : "popcnt");
            continue;
        }
        tested++;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (size_t r = 0; r < sizeof ranks / sizeof ranks[0]; r++)
                check_tile(sets[s], shapes[i][0], shapes[i][1], ranks[r], (int)(r % 3) * 5, &g);
    }
    CHECK(tested > 0 || !ck_cpu_fns_pick(NULL), "no kernel set tested");
}

/* popcount kernels on lengths around the vector width */
static void test_popcount(void)
{
    cl_rng g;
    cl_rng_seed(&g, 5);
    uint64_t a[37], b[37];
    for (int i = 0; i < 37; i++) {
        a[i] = cl_rng_next(&g);
        b[i] = cl_rng_next(&g);
    }
    const ck_cpu_fns *f = ck_cpu_fns_pick(NULL);
    for (size_t n = 0; n <= 37; n++) {
        uint64_t want = 0;
        for (size_t i = 0; i < n; i++)
            for (int bit = 0; bit < 64; bit++)
                want += (a[i] & b[i]) >> bit & 1;
        CHECK(f->and_popcount(a, b, n) == want && ck_cpu_ref.and_popcount(a, b, n) == want,
              "popcount of %zu words", n);
    }
}

/* A bin's energy is exact and the same however the sums were split. */
static void test_hist_exact(void)
{
    ck_hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    ck_lhist *l = calloc(1, sizeof *l);
    /* the largest significand, many times: the local sums must flush
     * before they overflow */
    float big = nextafterf(2.0f, 0.0f); /* m = 2^24 - 1 */
    uint32_t u = ck_abs_bits(big);
    size_t n = 3 * CK_LHIST_FLUSH + 7;
    for (size_t i = 0; i < n; i++) {
        ck_hist_add(a, u);
        ck_lhist_reserve(l, b, 1);
        ck_lhist_add(l, u);
    }
    ck_lhist_flush(l, b);
    int bin = (int)(u >> CK_HIST_SHIFT);
    CHECK(b->count[bin] == n, "count %llu", (unsigned long long)b->count[bin]);
    CHECK(ck_hist_energy(a, bin) == ck_hist_energy(b, bin), "energy %.17g vs %.17g",
          ck_hist_energy(a, bin), ck_hist_energy(b, bin));
    /* the exact value: n (2^24-1)^2 2^-46, rounded once */
    __extension__ unsigned __int128 m = (unsigned __int128)((1u << 24) - 1) * ((1u << 24) - 1) * n;
    CHECK(ck_hist_energy(b, bin) == ldexp((double)m, -46), "energy %.17g vs %.17g",
          ck_hist_energy(b, bin), ldexp((double)m, -46));
    CHECK_NEAR(ck_hist_energy(b, bin), (double)n * (double)big * (double)big, 1e-15, 0,
               "energy of a bin");
    /* denormals and zero */
    memset(a, 0, sizeof *a);
    ck_hist_add(a, ck_abs_bits(FLT_TRUE_MIN));
    ck_hist_add(a, 0);
    CHECK(a->count[0] == 2, "bin 0 holds zero and the smallest denormal");
    CHECK(ck_hist_energy(a, 0) == (double)FLT_TRUE_MIN * (double)FLT_TRUE_MIN, "denormal energy");
    free(a), free(b), free(l);
}

static void test_sort(void)
{
    cl_rng g;
    cl_rng_seed(&g, 9);
    size_t sizes[] = {0, 1, 5, 63, 64, 65, 1000, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
        float *tmp = malloc((n + 1) * sizeof *tmp);
        for (size_t i = 0; i < n; i++) {
            /* one bin's worth, with ties, and some spread over binades */
            double r = cl_rng_uniform(&g);
            x[i] = s % 2 ? (float)(1.5 + r / 16) : (float)fabs(cl_rng_normal(&g));
            if (i % 7 == 3)
                x[i] = x[i / 2];
        }
        memcpy(y, x, n * sizeof *x);
        ck_sort_desc(x, n, tmp);
        ck_sort_desc_ref(y, n);
        CHECK(n == 0 || !memcmp(x, y, n * sizeof *x), "radix sort of %zu values", n);
        free(x), free(y), free(tmp);
    }
}

static int job_hits[4];
static void count_job(void *arg, int tid)
{
    (void)arg;
    __atomic_fetch_add(&job_hits[tid], 1, __ATOMIC_RELAXED);
}

static void test_pool(void)
{
    ck_pool *p = ck_pool_create(3);
    CHECK(p && ck_pool_threads(p) == 3, "pool of 3");
    for (int r = 0; r < 200; r++)
        ck_pool_run(p, count_job, NULL);
    CHECK(job_hits[0] == 200 && job_hits[1] == 200 && job_hits[2] == 200, "every thread ran every job: %d %d %d",
          job_hits[0], job_hits[1], job_hits[2]);
    ck_pool_destroy(p);
}

/* The whole pass: identical with 1, 2 and 3 threads and with either kernel
 * set, on updates that do not fill whole tiles. */
static void test_dense_independent(void)
{
    cl_rng g;
    cl_rng_seed(&g, 21);
    int n = 4;
    cl_lowrank u[4];
    for (int i = 0; i < n; i++)
        ref_random(&u[i], 300, 530, i == 3 ? 16 : 8, 0.5, &g);
    const char *specs[] = {"energy:0.99", "top:0.2", "rel:0.1", "energy:0.5"};
    cl_threshold th[4];
    cl_error err;
    for (int q = 0; q < 4; q++)
        cl_threshold_parse(specs[q], &th[q], &err);
    cl_dense_result base;
    const ck_backend_ops *ops;
    void *ctx;
    CHECK(ck_cpu_open(1, "ref", &ops, &ctx, NULL, &err) == CL_OK, "%s", err.msg);
    CHECK(ops->dense_pass(ctx, u, n, th, 4, &base, &err) == CL_OK, "%s", err.msg);
    ops->close(ctx);
    const char *isas[] = {"ref", NULL};
    for (int s = 0; s < 2; s++)
        for (int threads = 1; threads <= 3; threads++) {
            cl_dense_result r;
            CHECK(ck_cpu_open(threads, isas[s], &ops, &ctx, NULL, &err) == CL_OK, "%s", err.msg);
            CHECK(ops->dense_pass(ctx, u, n, th, 4, &r, &err) == CL_OK, "%s", err.msg);
            ops->close(ctx);
            CHECK(!memcmp(r.both, base.both, sizeof(int64_t) * 4 * (size_t)(n * n)),
                  "%s, %d threads: pair counts differ", isas[s] ? isas[s] : "best", threads);
            for (int i = 0; i < 4 * n; i++)
                CHECK(r.task[i].tau == base.task[i].tau && r.task[i].active == base.task[i].active,
                      "task %d: tau %.9g vs %.9g", i, r.task[i].tau, base.task[i].tau);
            for (int i = 0; i < n; i++) {
                CHECK(r.maxabs[i] == base.maxabs[i], "max");
                if (isas[s]) { /* same kernels: the same sums, bit for bit */
                    CHECK(r.l1[i] == base.l1[i] && r.sumsq[i] == base.sumsq[i],
                          "%d threads: l1 %.17g vs %.17g", threads, r.l1[i], base.l1[i]);
                } else {
                    CHECK_NEAR(r.l1[i], base.l1[i], 1e-12, 0, "l1 across kernel sets");
                    CHECK_NEAR(r.sumsq[i], base.sumsq[i], 1e-12, 0, "sumsq across kernel sets");
                }
            }
            cl_dense_result_free(&r);
        }
    cl_dense_result_free(&base);
    for (int i = 0; i < n; i++)
        cl_lowrank_free(&u[i]);
}

/* The dense pass against the dense reference (every tau and pair count),
 * with 1 and 3 threads. */
static void dense_large_case(cl_lowrank *u, int n, const char *const *specs, int nth)
{
    cl_threshold th[4];
    cl_error err;
    for (int q = 0; q < nth; q++)
        cl_threshold_parse(specs[q], &th[q], &err);
    size_t N = (size_t)u[0].d_out * (size_t)u[0].d_in;
    float *w[3];
    unsigned char *m[4][3];
    float tau[4][3];
    for (int i = 0; i < n; i++) {
        w[i] = ref_form(&u[i]);
        for (int q = 0; q < nth; q++) {
            int inc;
            tau[q][i] = ref_tau(w[i], N, &th[q], &inc);
            m[q][i] = ref_mask(w[i], N, tau[q][i], inc);
        }
    }
    for (int threads = 1; threads <= 3; threads += 2) {
        const ck_backend_ops *ops;
        void *ctx;
        cl_dense_result r;
        CHECK(ck_cpu_open(threads, NULL, &ops, &ctx, NULL, &err) == CL_OK, "%s", err.msg);
        CHECK(ops->dense_pass(ctx, u, n, th, nth, &r, &err) == CL_OK, "%s", err.msg);
        ops->close(ctx);
        for (int q = 0; q < nth; q++)
            for (int i = 0; i < n; i++) {
                CHECK(r.task[q * n + i].tau == tau[q][i], "%s task %d: tau %.9g vs %.9g", specs[q], i,
                      r.task[q * n + i].tau, tau[q][i]);
                for (int v = i; v < n; v++) {
                    int64_t c = 0;
                    for (size_t e = 0; e < N; e++)
                        c += m[q][i][e] & m[q][v][e];
                    int64_t got = r.both[(size_t)q * (size_t)(n * n) + (size_t)(i * n + v)];
                    CHECK(got == c, "%s pair %d,%d: %lld vs %lld", specs[q], i, v, (long long)got,
                          (long long)c);
                }
            }
        cl_dense_result_free(&r);
    }
    for (int i = 0; i < n; i++) {
        free(w[i]);
        for (int q = 0; q < nth; q++)
            free(m[q][i]);
    }
}

/* Many tiles and work items, one task with a few rows 1000 times larger
 * than the rest: against the dense reference, with 1 and 3 threads. */
static void test_dense_large(void)
{
    cl_rng g;
    cl_rng_seed(&g, 33);
    cl_lowrank u[3];
    for (int i = 0; i < 3; i++)
        ref_random(&u[i], 1040, 300, 8, 0.3, &g);
    for (int64_t r = 0; r < 1040; r++)
        if ((r / CK_TILE_ROWS) % 16 == 0)
            for (int q = 0; q < 8; q++)
                u[2].B[r * 8 + q] *= 1000.0f;
    const char *specs[] = {"energy:0.99", "top:0.3", "energy:0.5"};
    dense_large_case(u, 3, specs, 3);
    for (int i = 0; i < 3; i++)
        cl_lowrank_free(&u[i]);
}

/* A constant update: every entry in one bin, ties everywhere. */
static void test_dense_ties(void)
{
    cl_lowrank u = {64, 96, 1, malloc(64 * sizeof(float)), malloc(96 * sizeof(float)), 1.0};
    for (int i = 0; i < 64; i++)
        u.B[i] = i < 40 ? 0.5f : 0.0f;
    for (int j = 0; j < 96; j++)
        u.A[j] = 3.0f;
    cl_backend *be;
    cl_error err;
    CHECK(cl_backend_open("cpu", &be, &err) == CL_OK, "%s", err.msg);
    cl_threshold th[3];
    cl_threshold_parse("energy:0.5", &th[0], &err);
    cl_threshold_parse("top:0.01", &th[1], &err);
    cl_threshold_parse("top:0.9", &th[2], &err);
    cl_dense_result r;
    CHECK(cl_dense_pass(be, &u, 1, th, 3, &r, &err) == CL_OK, "%s", err.msg);
    /* ties with tau are all active; zeros never are: top:0.9 reaches into
     * the zeros, and its tau is the smallest positive float */
    for (int q = 0; q < 3; q++) {
        float want = q == 2 ? FLT_TRUE_MIN : 1.5f;
        CHECK(r.task[q].tau == want, "threshold %d: tau %g", q, r.task[q].tau);
        CHECK(r.task[q].active == 40 * 96, "threshold %d: active %lld", q, (long long)r.task[q].active);
    }
    cl_dense_result_free(&r);
    cl_backend_close(be);
    cl_lowrank_free(&u);
}

int main(void)
{
    check_begin("test_tiles");
    test_kernels_vs_reference();
    test_popcount();
    test_hist_exact();
    test_sort();
    test_pool();
    test_dense_independent();
    test_dense_large();
    test_dense_ties();
    return check_done();
}
