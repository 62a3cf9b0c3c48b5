/*
 * dense_cpu.c -- the dense pass on the CPU.
 *
 * For each module, dW_t = s_t B_t A_t is formed tile by tile (a tile is a few
 * rows by at most 512 columns, small enough to stay in L1/L2) and never held
 * whole. Up to three passes over the tiles:
 *   A. per task: l1, sum of squares, max |x|, and the |x| histogram when a
 *      threshold is energy:F or top:Q;
 *   B. per task: the values of the histogram bin holding the threshold,
 *      sorted to resolve tau exactly (energy and top only);
 *   C. per tile: every task's bit mask, its active count, and the AND +
 *      popcount of every task pair while the masks are in cache.
 * Integer counts are merged across threads, so they never depend on thread
 * count or order; floating sums are merged in a fixed chunk order.
 */
#include "tile.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TILE_COLS 512
#define TILE_FLOATS 4096
#define CHUNKS 16 /* pass A work items per task: fixed, for fixed sums */

typedef struct cpu_ctx {
    int threads;
    const ck_cpu_fns *f;
} cpu_ctx;

typedef struct geom {
    int64_t d_out, d_in;
    int tc, tr;           /* tile columns, rows           */
    int64_t ncb, nrb;     /* column blocks, row blocks    */
    int wpr;              /* 64-bit words per tile row    */
} geom;

static geom make_geom(int64_t d_out, int64_t d_in)
{
    geom g;
    g.d_out = d_out;
    g.d_in = d_in;
    g.tc = d_in < TILE_COLS ? (int)d_in : TILE_COLS;
    g.tr = TILE_FLOATS / g.tc;
    if (g.tr < 1)
        g.tr = 1;
    if (g.tr > d_out)
        g.tr = (int)d_out;
    g.ncb = (d_in + g.tc - 1) / g.tc;
    g.nrb = (d_out + g.tr - 1) / g.tr;
    g.wpr = (g.tc + 63) / 64;
    return g;
}

/* Form tile (rb, cb) of update u into buf (rows x cols, leading dim g->tc). */
static void form_tile(const ck_cpu_fns *f, const geom *g, const cl_lowrank *u, int64_t rb,
                      int64_t cb, float *buf, int *rows, int *cols)
{
    int64_t r0 = rb * g->tr, c0 = cb * g->tc;
    int nr = (int)(g->d_out - r0 < g->tr ? g->d_out - r0 : g->tr);
    int nc = (int)(g->d_in - c0 < g->tc ? g->d_in - c0 : g->tc);
    f->form(u->B + (size_t)r0 * (size_t)u->k, u->k, u->A + c0, u->d_in, nr, nc, (float)u->scale,
            buf, g->tc);
    *rows = nr;
    *cols = nc;
}

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

/* Pass A for one task: stats in fixed chunks, histogram per thread. */
static int pass_stats(const cpu_ctx *c, const geom *g, const cl_lowrank *u, int want_hist,
                      ck_hist *hist, double *l1, double *sumsq, double *maxabs)
{
    int64_t tiles = g->nrb * g->ncb;
    double cl1[CHUNKS] = {0}, csq[CHUNKS] = {0};
    float cmax[CHUNKS] = {0};
    int nt = c->threads;
    ck_hist *th_hist = want_hist ? calloc((size_t)nt, sizeof *th_hist) : NULL;
    float *bufs = malloc((size_t)nt * TILE_FLOATS * sizeof *bufs);
    if ((want_hist && !th_hist) || !bufs) {
        free(th_hist);
        free(bufs);
        return -1;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int ch = 0; ch < CHUNKS; ch++) {
        int me = omp_get_thread_num();
        float *buf = bufs + (size_t)me * TILE_FLOATS;
        int64_t lo = tiles * ch / CHUNKS, hi = tiles * (ch + 1) / CHUNKS;
        for (int64_t t = lo; t < hi; t++) {
            int nr, nc;
            form_tile(c->f, g, u, t / g->ncb, t % g->ncb, buf, &nr, &nc);
            for (int i = 0; i < nr; i++) {
                const float *row = buf + (size_t)i * (size_t)g->tc;
                c->f->stats(row, (size_t)nc, &cl1[ch], &csq[ch], &cmax[ch]);
                if (want_hist)
                    c->f->hist(row, (size_t)nc, &th_hist[me]);
            }
        }
    }
    double s1 = 0, s2 = 0;
    float mx = 0;
    for (int ch = 0; ch < CHUNKS; ch++) {
        s1 += cl1[ch];
        s2 += csq[ch];
        mx = cmax[ch] > mx ? cmax[ch] : mx;
    }
    *l1 = s1;
    *sumsq = s2;
    *maxabs = mx;
    if (want_hist) {
        memset(hist, 0, sizeof *hist);
        for (int i = 0; i < nt; i++)
            ck_hist_merge(hist, &th_hist[i]);
    }
    free(th_hist);
    free(bufs);
    return 0;
}

/* Pass B for one task: collect the values of each boundary bin. vals[q] must
 * hold bcount[q] floats. */
static int pass_collect(const cpu_ctx *c, const geom *g, const cl_lowrank *u, int nq,
                        const int *bins, float **vals, const uint64_t *bcount, size_t *got)
{
    int64_t tiles = g->nrb * g->ncb;
    int nt = c->threads;
    float *bufs = malloc((size_t)nt * TILE_FLOATS * sizeof *bufs);
    float *scratch = malloc((size_t)nt * TILE_FLOATS * sizeof *scratch);
    if (!bufs || !scratch) {
        free(bufs);
        free(scratch);
        return -1;
    }
    for (int q = 0; q < nq; q++)
        got[q] = 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (int64_t t = 0; t < tiles; t++) {
        int me = omp_get_thread_num();
        float *buf = bufs + (size_t)me * TILE_FLOATS, *tmp = scratch + (size_t)me * TILE_FLOATS;
        int nr, nc;
        form_tile(c->f, g, u, t / g->ncb, t % g->ncb, buf, &nr, &nc);
        for (int q = 0; q < nq; q++) {
            size_t m = 0;
            for (int i = 0; i < nr; i++)
                m += c->f->collect(buf + (size_t)i * (size_t)g->tc, (size_t)nc, bins[q], tmp + m);
            if (!m)
                continue;
            size_t at;
#pragma omp atomic capture
            { at = got[q]; got[q] += m; }
            if (at + m <= bcount[q]) /* order is irrelevant: sorted later */
                memcpy(vals[q] + at, tmp, m * sizeof *tmp);
        }
    }
    free(bufs);
    free(scratch);
    return 0;
}

static int dense_pass(void *vctx, const cl_lowrank *u, int n, const cl_threshold *th, int n_th,
                      cl_dense_result *out, cl_error *err)
{
    const cpu_ctx *c = vctx;
    memset(out, 0, sizeof *out);
    if (n < 1 || n_th < 1)
        return cl_error_set(err, CL_ERR_ARG, "dense pass: no updates or no thresholds");
    for (int t = 0; t < n; t++)
        if (u[t].d_out != u[0].d_out || u[t].d_in != u[0].d_in || u[t].k < 1)
            return cl_error_set(err, CL_ERR_ARG, "dense pass: update %d is %lld x %lld rank %d, "
                                "update 0 is %lld x %lld", t, (long long)u[t].d_out,
                                (long long)u[t].d_in, u[t].k, (long long)u[0].d_out,
                                (long long)u[0].d_in);
    geom g = make_geom(u[0].d_out, u[0].d_in);
    int rc = alloc_result(out, n, n_th, g.d_out * g.d_in, err);
    if (rc)
        return rc;
    int want_hist = 0;
    for (int q = 0; q < n_th; q++)
        want_hist |= ck_needs_hist(&th[q]);
    ck_hist *hist = want_hist ? malloc(sizeof *hist) : NULL;
    if (want_hist && !hist) {
        cl_dense_result_free(out);
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    }

    /* A and B, task by task; tau resolved in between. */
    for (int t = 0; t < n && rc == CL_OK; t++) {
        if (pass_stats(c, &g, &u[t], want_hist, hist, &out->l1[t], &out->sumsq[t],
                       &out->maxabs[t]) < 0) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
            break;
        }
        int bins[64], which[64], nq = 0;
        ck_boundary bnd[64];
        for (int q = 0; q < n_th; q++) {
            cl_dense_task *dt = &out->task[q * n + t];
            if (!ck_needs_hist(&th[q])) {
                dt->tau = ck_simple_tau(&th[q], (float)out->maxabs[t], &dt->inclusive);
                continue;
            }
            dt->inclusive = 1;
            ck_boundary b = ck_find_boundary(&th[q], hist, out->entries);
            if (b.bin < 0 || nq == 64) {
                dt->tau = INFINITY;
                if (b.bin >= 0)
                    rc = cl_error_set(err, CL_ERR_ARG, "dense pass: at most 64 energy/top thresholds");
                continue;
            }
            bnd[nq] = b;
            bins[nq] = b.bin;
            which[nq++] = q;
        }
        if (nq == 0 || rc)
            continue;
        float *vals[64];
        uint64_t bcount[64];
        size_t got[64];
        int oom = 0;
        for (int i = 0; i < nq; i++) {
            bcount[i] = hist->count[bins[i]];
            vals[i] = malloc((size_t)bcount[i] * sizeof(float));
            oom |= !vals[i];
        }
        if (oom || pass_collect(c, &g, &u[t], nq, bins, vals, bcount, got) < 0)
            rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
        for (int i = 0; i < nq && rc == CL_OK; i++) {
            if (got[i] != bcount[i]) {
                rc = cl_error_set(err, CL_ERR_NUMERIC,
                                  "dense pass: bin %d holds %llu values in pass A, %zu in pass B",
                                  bins[i], (unsigned long long)bcount[i], got[i]);
                break;
            }
            out->task[which[i] * n + t].tau = ck_resolve_tau(&th[which[i]], &bnd[i], vals[i], got[i]);
        }
        for (int i = 0; i < nq; i++)
            free(vals[i]);
    }
    free(hist);
    if (rc) {
        cl_dense_result_free(out);
        return rc;
    }

    /* C: masks, active counts and pair counts, tile by tile. */
    int nt = c->threads;
    int64_t tiles = g.nrb * g.ncb;
    size_t words = (size_t)g.tr * (size_t)g.wpr;
    size_t nbits = (size_t)n_th * (size_t)n * words;
    size_t ncnt = (size_t)n_th * (size_t)n * (size_t)n;
    float *bufs = malloc((size_t)nt * TILE_FLOATS * sizeof *bufs);
    uint64_t *bits = calloc((size_t)nt * nbits, sizeof *bits);
    int64_t *cnt = calloc((size_t)nt * ncnt, sizeof *cnt);
    if (!bufs || !bits || !cnt) {
        free(bufs);
        free(bits);
        free(cnt);
        cl_dense_result_free(out);
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    }
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (int64_t tile = 0; tile < tiles; tile++) {
        int me = omp_get_thread_num();
        float *buf = bufs + (size_t)me * TILE_FLOATS;
        uint64_t *mb = bits + (size_t)me * nbits;
        int64_t *mc = cnt + (size_t)me * ncnt;
        int nr = 0, nc = 0;
        for (int t = 0; t < n; t++) {
            form_tile(c->f, &g, &u[t], tile / g.ncb, tile % g.ncb, buf, &nr, &nc);
            for (int q = 0; q < n_th; q++) {
                const cl_dense_task *dt = &out->task[q * n + t];
                uint64_t *w = mb + ((size_t)q * (size_t)n + (size_t)t) * words;
                int used = (nc + 63) / 64;
                for (int i = 0; i < nr; i++) {
                    uint64_t *wr = w + (size_t)i * (size_t)g.wpr;
                    c->f->bits(buf + (size_t)i * (size_t)g.tc, nc, dt->tau, dt->inclusive, wr);
                    /* a narrower last column block leaves words of the
                     * previous tile behind: clear them */
                    if (used < g.wpr)
                        memset(wr + used, 0, (size_t)(g.wpr - used) * sizeof *wr);
                }
            }
        }
        size_t nw = (size_t)nr * (size_t)g.wpr;
        for (int q = 0; q < n_th; q++) {
            const uint64_t *base = mb + (size_t)q * (size_t)n * words;
            int64_t *cq = mc + (size_t)q * (size_t)n * (size_t)n;
            for (int t = 0; t < n; t++)
                for (int v = t; v < n; v++)
                    cq[t * n + v] += (int64_t)c->f->and_popcount(base + (size_t)t * words,
                                                                 base + (size_t)v * words, nw);
        }
    }
    for (int i = 0; i < nt; i++)
        for (size_t j = 0; j < ncnt; j++)
            out->both[j] += cnt[(size_t)i * ncnt + j];
    for (int q = 0; q < n_th; q++) {
        int64_t *cq = out->both + (size_t)q * (size_t)n * (size_t)n;
        for (int t = 0; t < n; t++) {
            for (int v = t + 1; v < n; v++)
                cq[v * n + t] = cq[t * n + v];
            out->task[q * n + t].active = cq[t * n + t];
        }
    }
    free(bufs);
    free(bits);
    free(cnt);
    return CL_OK;
}

static void cpu_close(void *ctx) { free(ctx); }

static const ck_backend_ops cpu_ops = {"cpu", dense_pass, cpu_close};

int ck_cpu_open(int threads, const char *isa, const ck_backend_ops **ops, void **ctx,
                const char **isa_used, cl_error *err)
{
    const ck_cpu_fns *f = ck_cpu_fns_pick(isa);
    if (!f)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "cpu back end: this CPU cannot run the %s kernels",
                            isa);
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    c->threads = threads > 0 ? threads : omp_get_max_threads();
    c->f = f;
    *ops = &cpu_ops;
    *ctx = c;
    if (isa_used)
        *isa_used = f->isa;
    return CL_OK;
}
