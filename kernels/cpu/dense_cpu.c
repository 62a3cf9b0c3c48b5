/*
 * dense_cpu.c -- the dense pass on the CPU.
 *
 * For each module, dW_t = s_t B_t A_t is formed tile by tile (CK_TILE_ROWS x
 * CK_TILE_COLS, tile.h) and never held whole. Up to three passes over the
 * tiles, each one job for the thread pool:
 *   A. per task: l1, sum of squares, max |x|, and the |x| histogram when a
 *      threshold is energy:F or top:Q;
 *   B. per task: the values of the histogram bin holding the threshold,
 *      sorted to resolve tau exactly (resolve_cpu.c);
 *   C. per tile: every task's bit masks, and the AND + popcount of every
 *      task pair while the masks are in L1.
 * Work goes out in chunks of tiles through an atomic counter. Nothing depends
 * on which thread did what: counts and histograms are integers, and l1 and
 * the sum of squares are summed per tile, then over tiles in tile order.
 */
#include "dense_cpu.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static ck_geom make_geom(int64_t d_out, int64_t d_in)
{
    ck_geom g;
    g.d_out = d_out;
    g.d_in = d_in;
    g.tc = d_in < CK_TILE_COLS ? (int)d_in : CK_TILE_COLS;
    g.tr = d_out < CK_TILE_ROWS ? (int)d_out : CK_TILE_ROWS;
    g.ncb = (d_in + g.tc - 1) / g.tc;
    g.nrb = (d_out + g.tr - 1) / g.tr;
    g.tiles = g.nrb * g.ncb;
    return g;
}

/* A (k x d_in) as column panels of tc columns, each k x tc contiguous: the
 * k rows a tile reads are then tc floats apart, not d_in (a multiple of
 * 4 KiB in real models, which maps every row to the same L1 set). */
static void pack_a(const cl_lowrank *u, int tc, int64_t ncb, float *out)
{
    for (int64_t cb = 0; cb < ncb; cb++) {
        int64_t c0 = cb * tc;
        int nc = (int)(u->d_in - c0 < tc ? u->d_in - c0 : tc);
        for (int q = 0; q < u->k; q++)
            memcpy(out + ((size_t)cb * (size_t)u->k + (size_t)q) * (size_t)tc,
                   u->A + (size_t)q * (size_t)u->d_in + (size_t)c0, (size_t)nc * sizeof(float));
    }
}

/* ---- pass A ---- */

static void job_stats(void *vj, int tid)
{
    ck_job *j = vj;
    const ck_cpu_fns *f = j->c->f;
    float *buf = j->bufs + (size_t)tid * CK_TILE_MAX;
    ck_lhist *lh = j->want_hist ? &j->lh[tid] : NULL;
    int64_t per = (j->g.tiles + CK_CHUNK_TILES - 1) / CK_CHUNK_TILES;
    int cur = -1; /* the task lh holds values of */
    for (int64_t it; (it = ck_grab(j)) < j->items;) {
        int t = (int)(it / per);
        int64_t lo = (it % per) * CK_CHUNK_TILES, hi = lo + CK_CHUNK_TILES;
        hi = hi < j->g.tiles ? hi : j->g.tiles;
        if (lh && cur != t) {
            if (cur >= 0)
                ck_lhist_flush(lh, &j->hist[cur]);
            cur = t;
        }
        for (int64_t x = lo; x < hi; x++) {
            ck_tile tl = ck_tile_of(j, t, x);
            f->tile_stats(&tl, buf, &j->ts[(size_t)t * (size_t)j->g.tiles + (size_t)x], lh,
                          lh ? &j->hist[t] : NULL);
        }
    }
    if (lh && cur >= 0)
        ck_lhist_flush(lh, &j->hist[cur]);
}

/* ---- pass C ---- */

static void job_masks(void *vj, int tid)
{
    ck_job *j = vj;
    const ck_cpu_fns *f = j->c->f;
    int n = j->n, n_th = j->n_th;
    size_t tw = (size_t)CK_TILE_ROWS * CK_TILE_WORDS; /* words of one tile mask */
    size_t wq = (size_t)n * tw;                        /* one threshold's tasks */
    float *buf = j->bufs + (size_t)tid * CK_TILE_MAX;
    uint64_t *w = j->masks + (size_t)tid * (size_t)n_th * wq;
    int64_t *cnt = j->cnt + (size_t)tid * (size_t)n_th * (size_t)n * (size_t)n;
    float tau[CK_MAX_Q];
    int incl[CK_MAX_Q];
    for (int64_t it; (it = ck_grab(j)) < j->items;) {
        int64_t lo = it * CK_CHUNK_TILES, hi = lo + CK_CHUNK_TILES;
        hi = hi < j->g.tiles ? hi : j->g.tiles;
        for (int64_t x = lo; x < hi; x++) {
            int nr = 0;
            for (int t = 0; t < n; t++) {
                ck_tile tl = ck_tile_of(j, t, x);
                nr = tl.nr;
                for (int q = 0; q < n_th; q++) {
                    tau[q] = j->tau[q * n + t];
                    incl[q] = j->incl[q * n + t];
                }
                f->tile_bits(&tl, buf, n_th, tau, incl, w + (size_t)t * tw, wq);
            }
            size_t nw = (size_t)nr * CK_TILE_WORDS;
            for (int q = 0; q < n_th; q++) {
                const uint64_t *wb = w + (size_t)q * wq;
                int64_t *cq = cnt + (size_t)q * (size_t)n * (size_t)n;
                for (int t = 0; t < n; t++)
                    for (int v = t; v < n; v++)
                        cq[t * n + v] +=
                            (int64_t)f->and_popcount(wb + (size_t)t * tw, wb + (size_t)v * tw, nw);
            }
        }
    }
}

/* ---- the pass ---- */

static int alloc_result(cl_dense_result *r, int n, int n_th, int64_t entries, cl_error *err)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->n_th = n_th;
    r->entries = entries;
    r->l1 = calloc((size_t)n, sizeof *r->l1);
    r->sumsq = calloc((size_t)n, sizeof *r->sumsq);
    r->maxabs = calloc((size_t)n, sizeof *r->maxabs);
    r->task = calloc((size_t)n * (size_t)n_th, sizeof *r->task);
    r->both = calloc((size_t)n * (size_t)n * (size_t)n_th, sizeof *r->both);
    if (!r->l1 || !r->sumsq || !r->maxabs || !r->task || !r->both) {
        cl_dense_result_free(r);
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    }
    return CL_OK;
}

static void free_job(ck_job *j)
{
    if (j->apk)
        for (int t = 0; t < j->n; t++)
            free(j->apk[t]);
    ck_cpu_resolve_free(j);
    free(j->apk), free(j->hist), free(j->ts), free(j->lh), free(j->tau), free(j->incl);
    free(j->masks), free(j->cnt), free(j->bufs);
}

/* Sum each task's tile statistics in tile order. */
static void finish_stats(const ck_job *j, cl_dense_result *out)
{
    for (int t = 0; t < j->n; t++) {
        const ck_tstats *s = j->ts + (size_t)t * (size_t)j->g.tiles;
        double l1 = 0, sq = 0;
        float mx = 0;
        for (int64_t x = 0; x < j->g.tiles; x++) {
            l1 += s[x].l1;
            sq += s[x].sumsq;
            mx = s[x].maxabs > mx ? s[x].maxabs : mx;
        }
        out->l1[t] = l1;
        out->sumsq[t] = sq;
        out->maxabs[t] = mx;
    }
}

static int dense_pass(void *vctx, const cl_lowrank *u, int n, const cl_threshold *th, int n_th,
                      cl_dense_result *out, cl_error *err)
{
    const ck_cpu_ctx *c = vctx;
    memset(out, 0, sizeof *out);
    if (n < 1 || n_th < 1)
        return cl_error_set(err, CL_ERR_ARG, "dense pass: no updates or no thresholds");
    if (n_th > CK_MAX_Q)
        return cl_error_set(err, CL_ERR_ARG, "dense pass: at most %d thresholds", CK_MAX_Q);
    for (int t = 0; t < n; t++)
        if (u[t].d_out != u[0].d_out || u[t].d_in != u[0].d_in || u[t].k < 1)
            return cl_error_set(err, CL_ERR_ARG, "dense pass: update %d is %lld x %lld rank %d, "
                                "update 0 is %lld x %lld", t, (long long)u[t].d_out,
                                (long long)u[t].d_in, u[t].k, (long long)u[0].d_out,
                                (long long)u[0].d_in);
    int threads = ck_pool_threads(c->pool);
    ck_job j = {.c = c, .g = make_geom(u[0].d_out, u[0].d_in), .u = u, .n = n, .n_th = n_th,
                .threads = threads, .th = th, .out = out};
    int rc = alloc_result(out, n, n_th, j.g.d_out * j.g.d_in, err);
    if (rc)
        return rc;
    for (int q = 0; q < n_th; q++)
        j.want_hist |= ck_needs_hist(&th[q]);
    size_t tw = (size_t)CK_TILE_ROWS * CK_TILE_WORDS;
    j.apk = calloc((size_t)n, sizeof *j.apk);
    j.ts = malloc((size_t)n * (size_t)j.g.tiles * sizeof *j.ts);
    j.bufs = malloc((size_t)threads * CK_TILE_MAX * sizeof *j.bufs);
    j.tau = malloc((size_t)n_th * (size_t)n * sizeof *j.tau);
    j.incl = malloc((size_t)n_th * (size_t)n * sizeof *j.incl);
    j.masks = malloc((size_t)threads * (size_t)n_th * (size_t)n * tw * sizeof *j.masks);
    j.cnt = calloc((size_t)threads * (size_t)n_th * (size_t)n * (size_t)n, sizeof *j.cnt);
    int oom = !j.apk || !j.ts || !j.bufs || !j.tau || !j.incl || !j.masks || !j.cnt;
    if (j.want_hist) {
        j.hist = calloc((size_t)n, sizeof *j.hist);
        j.lh = calloc((size_t)threads, sizeof *j.lh);
        oom |= !j.hist || !j.lh;
    }
    for (int t = 0; t < n && !oom; t++) {
        j.apk[t] = calloc((size_t)j.g.ncb * (size_t)u[t].k * (size_t)j.g.tc, sizeof(float));
        oom |= !j.apk[t];
        if (!oom)
            pack_a(&u[t], j.g.tc, j.g.ncb, j.apk[t]);
    }
    if (oom) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
        goto out;
    }

    /* A: statistics (and histograms) of every task; then tau of every
     * threshold, with pass B for energy and top. */
    j.items = (int64_t)n * ((j.g.tiles + CK_CHUNK_TILES - 1) / CK_CHUNK_TILES);
    j.next = 0;
    ck_pool_run(c->pool, job_stats, &j);
    finish_stats(&j, out);
    if ((rc = ck_cpu_resolve(&j, err)))
        goto out;

    /* C: masks, active counts and pair counts, tile by tile. */
    for (int q = 0; q < n_th; q++)
        for (int t = 0; t < n; t++) {
            j.tau[q * n + t] = out->task[q * n + t].tau;
            j.incl[q * n + t] = out->task[q * n + t].inclusive;
        }
    j.items = (j.g.tiles + CK_CHUNK_TILES - 1) / CK_CHUNK_TILES;
    j.next = 0;
    ck_pool_run(c->pool, job_masks, &j);
    size_t ncnt = (size_t)n_th * (size_t)n * (size_t)n;
    for (int i = 0; i < threads; i++)
        for (size_t x = 0; x < ncnt; x++)
            out->both[x] += j.cnt[(size_t)i * ncnt + x];
    for (int q = 0; q < n_th; q++) {
        int64_t *cq = out->both + (size_t)q * (size_t)n * (size_t)n;
        for (int t = 0; t < n; t++) {
            for (int v = t + 1; v < n; v++)
                cq[v * n + t] = cq[t * n + v];
            out->task[q * n + t].active = cq[t * n + t];
        }
    }
out:
    free_job(&j);
    if (rc)
        cl_dense_result_free(out);
    return rc;
}

static void cpu_close(void *vctx)
{
    ck_cpu_ctx *c = vctx;
    if (!c)
        return;
    ck_pool_destroy(c->pool);
    free(c);
}

static const ck_backend_ops cpu_ops = {"cpu", dense_pass, cpu_close};

int ck_cpu_open(int threads, const char *isa, const ck_backend_ops **ops, void **ctx,
                const char **isa_used, cl_error *err)
{
    *ops = NULL;
    *ctx = NULL;
    const ck_cpu_fns *f = ck_cpu_fns_pick(isa);
    if (!f)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "cpu back end: this CPU cannot run the %s kernels",
                            isa);
    ck_cpu_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    /* OMP_NUM_THREADS and the CPU affinity mask, as OpenMP reads them */
    c->pool = ck_pool_create(threads > 0 ? threads : omp_get_max_threads());
    if (!c->pool) {
        free(c);
        return cl_error_set(err, CL_ERR_NOMEM, "cpu back end: cannot start worker threads");
    }
    c->f = f;
    *ops = &cpu_ops;
    *ctx = c;
    if (isa_used)
        *isa_used = f->isa;
    return CL_OK;
}
