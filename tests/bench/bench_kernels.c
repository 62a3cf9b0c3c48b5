/*
 * bench_kernels.c -- how fast the CPU dense pass and its micro-kernels run,
 * against OpenBLAS sgemm on a large square product measured in the same run
 * (the machine's practical FMA rate). Not a test: prints one line per figure
 * ("name value unit"), which tests/bench/run.sh collects.
 *
 *   bench_kernels [--threads N] [--shape DOUTxDIN] [--rank K] [--tasks T]
 *                 [--sgemm N] [--reps R] [--isa ref|avx2] [--cpu-time]
 *
 * Rates count one FMA per d_out * d_in * k (the multiply that starts each
 * chain counts as one). Every figure is the best of R repetitions: on a
 * shared machine the best run is the one least disturbed by others.
 */
#include "../../kernels/cpu/pool.h"
#include "../../kernels/cpu/tile.h"
#include "collide.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --cpu-time: process CPU time instead of wall time, for comparing kernels
 * with one thread on a machine others are using. */
static clockid_t clock_used = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(clock_used, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *randn(size_t n, cl_rng *g, double s)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(s * cl_rng_normal(g));
    return x;
}

/* One kernel over every tile of one update, split over the pool. */
typedef struct kjob {
    const ck_cpu_fns *f;
    const cl_lowrank *u;
    const float *apk; /* A in column panels, as the dense pass packs it */
    int64_t tiles, ncb, next;
    int64_t passes; /* sweeps over the update per timing: enough work (about
                       2 GFMA) that waking the threads does not count */
    int tr, tc, which;
    float *bufs;
    uint64_t *words;
    ck_lhist *lh;
    ck_hist *hist;
    float tau;
} kjob;

static void kjob_run(void *vj, int tid)
{
    kjob *j = vj;
    float *buf = j->bufs + (size_t)tid * CK_TILE_MAX;
    uint64_t *w = j->words + (size_t)tid * CK_TILE_ROWS * CK_TILE_WORDS;
    ck_lhist *lh = j->which == 2 ? &j->lh[tid] : NULL;
    int64_t all = j->tiles * j->passes;
    for (int64_t x; (x = __atomic_fetch_add(&j->next, 8, __ATOMIC_RELAXED)) < all;) {
        for (int64_t z = x; z < x + 8 && z < all; z++) {
            int64_t y = z % j->tiles;
            int64_t rb = y / j->ncb, cb = y % j->ncb;
            ck_tile t = {j->u->B + (size_t)(rb * j->tr) * (size_t)j->u->k,
                         j->apk + (size_t)cb * (size_t)j->u->k * (size_t)j->tc, j->tc, j->u->k,
                         j->tr, j->tc, (float)j->u->scale};
            ck_tstats st;
            int one = 0;
            size_t got = 0;
            float *vals = buf;
            switch (j->which) {
            case 0:
                j->f->form(&t, buf, j->tc);
                break;
            case 1:
            case 2:
                j->f->tile_stats(&t, buf, &st, lh, j->hist);
                break;
            case 3: {
                int bin = 0; /* nothing falls in bin 0: measures the scan */
                j->f->tile_collect(&t, buf, 1, &bin, &vals, &got);
                break;
            }
            default:
                j->f->tile_bits(&t, buf, 1, &j->tau, &one, w, 0);
            }
        }
    }
    if (lh)
        ck_lhist_flush(lh, j->hist);
}

static double time_kernel(ck_pool *p, kjob *j, int which, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        j->which = which;
        j->next = 0;
        double t = now();
        ck_pool_run(p, kjob_run, j);
        t = now() - t;
        best = t < best ? t : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = 0, k = 8, tasks = 15, reps = 5, sg = 2048;
    int64_t dout = 1024, din = 1024;
    const char *isa = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            long long a, b;
            if (sscanf(argv[++i], "%lldx%lld", &a, &b) != 2)
                return 2;
            dout = a, din = b;
        } else if (!strcmp(argv[i], "--rank") && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tasks") && i + 1 < argc)
            tasks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sgemm") && i + 1 < argc)
            sg = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc)
            isa = argv[++i];
        else if (!strcmp(argv[i], "--cpu-time"))
            clock_used = CLOCK_PROCESS_CPUTIME_ID;
        else {
            fprintf(stderr, "usage: bench_kernels [--threads N] [--shape DOUTxDIN] [--rank K] "
                            "[--tasks T] [--sgemm N] [--reps R] [--isa ref|avx2] [--cpu-time]\n");
            return 2;
        }
    }
    const ck_cpu_fns *f = ck_cpu_fns_pick(isa);
    if (!f) {
        fprintf(stderr, "bench_kernels: this CPU cannot run the %s kernels\n", isa);
        return 1;
    }
    cl_rng g;
    cl_rng_seed(&g, 7);
    /* the sgemm reference: OpenBLAS's default thread count (all cores) */
    if (threads > 0)
        openblas_set_num_threads(threads);
    int nb = openblas_get_num_threads();
    float *X = randn((size_t)sg * (size_t)sg, &g, 1), *Y = randn((size_t)sg * (size_t)sg, &g, 1);
    float *Z = malloc((size_t)sg * (size_t)sg * sizeof *Z);

    /* micro-kernels over one update, as the dense pass tiles it */
    ck_pool *p = ck_pool_create(threads > 0 ? threads : nb);
    int nt = ck_pool_threads(p);
    cl_lowrank u = {dout, din, k, randn((size_t)dout * (size_t)k, &g, 0.05),
                    randn((size_t)k * (size_t)din, &g, 0.03), 2.0};
    int tc = din < CK_TILE_COLS ? (int)din : CK_TILE_COLS, tr = CK_TILE_ROWS;
    if (din % tc || dout % tr) {
        fprintf(stderr, "bench_kernels: --shape must be multiples of %d x %d\n", tr, tc);
        return 2;
    }
    int64_t ncb = din / tc;
    float *apk = malloc((size_t)k * (size_t)din * sizeof *apk);
    for (int64_t cb = 0; cb < ncb; cb++)
        for (int q = 0; q < k; q++)
            memcpy(apk + ((size_t)cb * (size_t)k + (size_t)q) * (size_t)tc,
                   u.A + (size_t)q * (size_t)din + (size_t)(cb * tc), (size_t)tc * sizeof(float));
    double fma1 = (double)dout * (double)din * k;
    int64_t passes = (int64_t)(2e9 / fma1) + 1;
    kjob j = {.f = f, .u = &u, .apk = apk, .tiles = (dout / tr) * ncb, .ncb = ncb,
              .passes = passes, .tr = tr, .tc = tc,
              .bufs = malloc((size_t)nt * CK_TILE_MAX * sizeof(float)),
              .words = malloc((size_t)nt * CK_TILE_ROWS * CK_TILE_WORDS * sizeof(uint64_t)),
              .lh = calloc((size_t)nt, sizeof(ck_lhist)), .hist = calloc(1, sizeof(ck_hist)),
              .tau = 0.01f};
    double fma = fma1 * (double)passes, ent = (double)dout * (double)din * (double)passes;
    static const char *names[] = {"form", "stats", "stats_hist", "collect", "bits"};
    printf("threads %d\nisa %s\nshape %lldx%lld\nrank %d\n", nt, f->isa, (long long)dout,
           (long long)din, k);
    for (int w = 1; w < 5; w++) {
        double t = time_kernel(p, &j, w, reps);
        printf("kernel_%s_ns_per_entry %.4f\n", names[w], t / ent * 1e9 * nt);
    }
    /* Formation against sgemm, on all threads and on one, the two timed
     * alternately so that other work on the machine hits both alike. */
    ck_pool *p1 = ck_pool_create(1);
    double bs[2] = {1e30, 1e30}, bf[2] = {1e30, 1e30};
    for (int r = 0; r < reps; r++)
        for (int c = 0; c < 2; c++) {
            openblas_set_num_threads(c ? 1 : nb);
            double t = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sg, sg, sg, 1.0f, X, sg, Y, sg,
                        0.0f, Z, sg);
            t = now() - t;
            bs[c] = t < bs[c] ? t : bs[c];
            t = time_kernel(c ? p1 : p, &j, 0, 1);
            bf[c] = t < bf[c] ? t : bf[c];
        }
    openblas_set_num_threads(nb);
    double sgemm = (double)sg * sg * sg / bs[0] / 1e9, sgemm1 = (double)sg * sg * sg / bs[1] / 1e9;
    double form_rate = fma / bf[0] / 1e9, form1 = fma / bf[1] / 1e9;
    printf("kernel_form_ns_per_entry %.4f\n", bf[0] / ent * 1e9 * nt);
    printf("sgemm_threads %d\nsgemm_n %d\nsgemm_gfma %.2f\nsgemm_gfma_1thread %.2f\n", nb, sg, sgemm,
           sgemm1);
    printf("form_gfma %.2f\nform_vs_sgemm %.3f\n", form_rate, form_rate / sgemm);
    printf("form_gfma_1thread %.2f\nform_vs_sgemm_1thread %.3f\n", form1, form1 / sgemm1);
    ck_pool_destroy(p1);
    free(X), free(Y), free(Z);

    /* the whole dense pass on `tasks` updates of this shape */
    cl_lowrank *us = calloc((size_t)tasks, sizeof *us);
    for (int t = 0; t < tasks; t++)
        us[t] = (cl_lowrank){dout, din, k, randn((size_t)dout * (size_t)k, &g, 0.05),
                             randn((size_t)k * (size_t)din, &g, 0.03), 2.0};
    cl_backend *be;
    cl_error err;
    char dev[32];
    snprintf(dev, sizeof dev, isa ? "cpu:%s" : "cpu", isa);
    if (cl_backend_open(dev, &be, &err)) {
        fprintf(stderr, "bench_kernels: %s\n", err.msg);
        return 1;
    }
    static const char *modes[] = {"energy:0.99", "rel:0.01", "top:0.1", "abs:0.001"};
    for (int m = 0; m < 4; m++) {
        cl_threshold th;
        cl_threshold_parse(modes[m], &th, &err);
        double bt = 1e30;
        for (int r = 0; r < reps; r++) {
            cl_dense_result res;
            double t = now();
            if (cl_dense_pass(be, us, tasks, &th, 1, &res, &err)) {
                fprintf(stderr, "bench_kernels: %s\n", err.msg);
                return 1;
            }
            t = now() - t;
            bt = t < bt ? t : bt;
            cl_dense_result_free(&res);
        }
        int forms = m == 0 || m == 2 ? 3 : 2; /* formations of dW per task */
        printf("dense_%s_ms_per_module %.3f\n", modes[m], bt * 1e3);
        printf("dense_%s_gfma_effective %.2f\n", modes[m], forms * fma1 * tasks / bt / 1e9);
    }
    cl_backend_close(be);
    for (int t = 0; t < tasks; t++)
        cl_lowrank_free(&us[t]);
    free(us), free(apk), free(j.bufs), free(j.words), free(j.lh), free(j.hist);
    cl_lowrank_free(&u);
    ck_pool_destroy(p);
    return 0;
}
