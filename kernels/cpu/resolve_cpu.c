/*
 * resolve_cpu.c -- exact thresholds for the CPU dense pass.
 *
 * abs:E and rel:P come straight from pass A's max |x|. energy:F and top:Q
 * need the values of the histogram bin that holds tau (kernels/select.c):
 * pass B forms dW again and collects them, then each bin is radix-sorted
 * and tau read off, a bin per work item.
 *
 * Tried and dropped: predicting the boundary bins from a 1/16 sample so that
 * pass A could keep their values and pass B be skipped. Keeping a band of
 * bins (7% of the values) inside pass A cost as much as pass B saved.
 */
#include "dense_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Boundary values held at once (floats): pass B collects in rounds of
 * tasks whose bins fit. */
#define COLLECT_BUDGET ((size_t)1 << 25)

/* ---- pass B ---- */

static void job_collect(void *vj, int tid)
{
    ck_job *j = vj;
    const ck_cpu_fns *f = j->c->f;
    float *buf = j->bufs + (size_t)tid * CK_TILE_MAX;
    float *stage[CK_MAX_Q];
    for (int q = 0; q < j->nq_max; q++)
        stage[q] = j->stage + ((size_t)tid * (size_t)j->nq_max + (size_t)q) * CK_TILE_MAX;
    int64_t per = (j->g.tiles + CK_CHUNK_TILES - 1) / CK_CHUNK_TILES;
    for (int64_t it; (it = ck_grab(j)) < j->items;) {
        int t = j->t0;
        while (j->item0[t + 1 - j->t0] <= it)
            t++;
        int64_t k = it - j->item0[t - j->t0];
        int64_t lo = (k % per) * CK_CHUNK_TILES, hi = lo + CK_CHUNK_TILES;
        hi = hi < j->g.tiles ? hi : j->g.tiles;
        int nq = j->nq[t];
        for (int64_t x = lo; x < hi; x++) {
            ck_tile tl = ck_tile_of(j, t, x);
            size_t got[CK_MAX_Q] = {0};
            f->tile_collect(&tl, buf, nq, j->bins[t], stage, got);
            for (int q = 0; q < nq; q++) {
                if (!got[q])
                    continue;
                /* order is irrelevant: the values are sorted later; a
                 * count past the bin's size is caught there */
                size_t at = __atomic_fetch_add(&j->got[t][q], got[q], __ATOMIC_RELAXED);
                if (at + got[q] <= j->hist[t].count[j->bins[t][q]])
                    memcpy(j->vals[t][q] + at, stage[q], got[q] * sizeof(float));
            }
        }
    }
}

/* Sort each bin's values and read tau off them, a bin per work item. */
static void job_resolve(void *vj, int tid)
{
    ck_job *j = vj;
    float *tmp = j->tmp + (size_t)tid * j->tmp_n;
    for (int64_t it; (it = ck_grab(j)) < j->sorts;) {
        int t = j->sort_t[it], k = j->sort_k[it], q = j->sort_q[it];
        size_t m = j->hist[t].count[j->bins[t][k]];
        if (j->got[t][k] != m) {
            __atomic_store_n(&j->bad, (int)it, __ATOMIC_RELAXED);
            continue;
        }
        ck_sort_desc(j->vals[t][k], m, tmp);
        j->out->task[q * j->n + t].tau = ck_resolve_tau(&j->th[q], &j->bnd[t][k], j->vals[t][k], m);
        free(j->vals[t][k]);
        j->vals[t][k] = NULL;
    }
}

/* tau of abs and rel thresholds; the boundary bins of the rest. */
static int find_bins(ck_job *j, cl_error *err)
{
    cl_dense_result *out = j->out;
    int n = j->n;
    for (int t = 0; t < n; t++) {
        for (int q = 0; q < j->n_th; q++) {
            cl_dense_task *dt = &out->task[q * n + t];
            if (!ck_needs_hist(&j->th[q])) {
                dt->tau = ck_simple_tau(&j->th[q], (float)out->maxabs[t], &dt->inclusive);
                continue;
            }
            dt->inclusive = 1;
            ck_boundary b = ck_find_boundary(&j->th[q], &j->hist[t], out->entries);
            if (b.bin < 0) {
                dt->tau = INFINITY;
                continue;
            }
            if (j->nq[t] == CK_MAX_Q)
                return cl_error_set(err, CL_ERR_ARG, "dense pass: at most %d energy/top thresholds",
                                    CK_MAX_Q);
            j->bnd[t][j->nq[t]] = b;
            j->bins[t][j->nq[t]++] = b.bin;
        }
    }
    return CL_OK;
}

int ck_cpu_resolve(ck_job *j, cl_error *err)
{
    int n = j->n, rc;
    if (!j->want_hist) {
        for (int t = 0; t < n; t++)
            for (int q = 0; q < j->n_th; q++) {
                cl_dense_task *dt = &j->out->task[q * n + t];
                dt->tau = ck_simple_tau(&j->th[q], (float)j->out->maxabs[t], &dt->inclusive);
            }
        return CL_OK;
    }
    j->nq = calloc((size_t)n, sizeof *j->nq);
    j->bins = calloc((size_t)n, sizeof *j->bins);
    j->bnd = calloc((size_t)n, sizeof *j->bnd);
    j->vals = calloc((size_t)n, sizeof *j->vals);
    j->got = calloc((size_t)n, sizeof *j->got);
    j->item0 = calloc((size_t)n + 1, sizeof *j->item0);
    j->sort_t = malloc((size_t)n * (size_t)j->n_th * sizeof *j->sort_t);
    j->sort_k = malloc((size_t)n * (size_t)j->n_th * sizeof *j->sort_k);
    j->sort_q = malloc((size_t)n * (size_t)j->n_th * sizeof *j->sort_q);
    if (!j->nq || !j->bins || !j->bnd || !j->vals || !j->got || !j->item0 ||
        !j->sort_t || !j->sort_k || !j->sort_q)
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    if ((rc = find_bins(j, err)))
        return rc;
    size_t tmp_n = 1;
    for (int t = 0; t < n; t++) {
        for (int q = 0; q < j->nq[t]; q++) {
            size_t m = j->hist[t].count[j->bins[t][q]];
            tmp_n = m > tmp_n ? m : tmp_n;
        }
        j->nq_max = j->nq[t] > j->nq_max ? j->nq[t] : j->nq_max;
    }
    if (j->nq_max) {
        j->stage = malloc((size_t)j->threads * (size_t)j->nq_max * CK_TILE_MAX * sizeof(float));
        if (!j->stage)
            return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    }
    j->tmp = malloc((size_t)j->threads * tmp_n * sizeof *j->tmp);
    if (!j->tmp)
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    j->tmp_n = tmp_n;

    /* pass B in rounds that fit the budget; then every bin is sorted and
     * resolved */
    int64_t per = (j->g.tiles + CK_CHUNK_TILES - 1) / CK_CHUNK_TILES;
    for (int t0 = 0; t0 < n;) {
        size_t total = 0;
        int t1 = t0;
        for (; t1 < n; t1++) {
            size_t need = 0;
            for (int q = 0; q < j->nq[t1]; q++)
                need += j->hist[t1].count[j->bins[t1][q]];
            if (t1 > t0 && total + need > COLLECT_BUDGET)
                break;
            total += need;
            for (int q = 0; q < j->nq[t1]; q++) {
                size_t m = j->hist[t1].count[j->bins[t1][q]];
                j->vals[t1][q] = malloc((m ? m : 1) * sizeof(float));
                j->got[t1][q] = 0;
                if (!j->vals[t1][q])
                    return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
            }
        }
        j->t0 = t0;
        j->t1 = t1;
        j->item0[0] = 0;
        for (int t = t0; t < t1; t++)
            j->item0[t + 1 - t0] = j->item0[t - t0] + (j->nq[t] ? per : 0);
        j->items = j->item0[t1 - t0];
        j->next = 0;
        if (j->items)
            ck_pool_run(j->c->pool, job_collect, j);
        j->sorts = 0;
        for (int t = t0; t < t1; t++)
            for (int q = 0, k = 0; q < j->n_th; q++) {
                if (!ck_needs_hist(&j->th[q]) || j->out->task[q * n + t].tau == INFINITY)
                    continue;
                j->sort_t[j->sorts] = t;
                j->sort_k[j->sorts] = k++;
                j->sort_q[j->sorts++] = q;
            }
        j->bad = -1;
        j->next = 0;
        ck_pool_run(j->c->pool, job_resolve, j);
        if (j->bad >= 0) {
            int t = j->sort_t[j->bad], k = j->sort_k[j->bad];
            return cl_error_set(err, CL_ERR_NUMERIC,
                                "dense pass: bin %d holds %llu values in pass A, %zu in pass B",
                                j->bins[t][k], (unsigned long long)j->hist[t].count[j->bins[t][k]],
                                j->got[t][k]);
        }
        t0 = t1;
    }
    return CL_OK;
}

void ck_cpu_resolve_free(ck_job *j)
{
    for (int t = 0; j->vals && t < j->n; t++)
        for (int q = 0; q < CK_MAX_Q; q++)
            free(j->vals[t][q]);
    free(j->nq), free(j->bins), free(j->bnd), free(j->vals), free(j->got);
    free(j->item0), free(j->stage), free(j->sort_t), free(j->sort_k);
    free(j->sort_q), free(j->tmp);
}
