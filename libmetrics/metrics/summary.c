/*
 * summary.c -- the headline numbers of a store, as the paper reports them:
 * average collision rate and density at a threshold, O-LoRA's overlap, the
 * mean nuclear norm, Hoyer sparsity, and the forgetting metrics. The tools
 * print the same quantities in detail; this is the one-call form that
 * tables and figures use.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sum_ctx {
    cl_backend *be;
    cl_threshold th;
    int n;
    double cr_sum, dens_sum, oo_sum, nuc_sum, hoyer_sum;
    int64_t both, active, entries;
    int modules;
    float *tau;             /* resolved threshold per module and task */
    int n_tau;
} sum_ctx;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int module(void *vc, int m, const cl_lowrank *u, int n, cl_error *err)
{
    (void)m;
    sum_ctx *c = vc;
    cl_dense_result r;
    int rc = cl_dense_pass(c->be, u, n, &c->th, 1, &r, err);
    if (rc)
        return rc;
    c->modules++;
    c->entries += r.entries;
    float *tau = realloc(c->tau, (size_t)(c->n_tau + n) * sizeof *tau);
    if (!tau) {
        cl_dense_result_free(&r);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    c->tau = tau;
    for (int i = 0; i < n; i++) {
        c->tau[c->n_tau++] = r.task[i].tau;
        c->active += r.task[i].active;
        c->dens_sum += (double)r.task[i].active / (double)r.entries;
        cl_sparsity sp = cl_sparsity_from_sums(r.l1[i], r.sumsq[i], r.entries);
        c->hoyer_sum += isnan(sp.hoyer) ? 0 : sp.hoyer;
        for (int j = i + 1; j < n; j++) {
            c->cr_sum += (double)r.both[i * n + j] / (double)r.entries;
            c->both += r.both[i * n + j];
        }
    }
    cl_dense_result_free(&r);
    cl_ortho *o = cl_alloc((size_t)n * (size_t)n, sizeof *o, err);
    if (!o)
        return err->code;
    rc = cl_ortho_module(u, n, o, err);
    for (int i = 0; i < n && !rc; i++)
        for (int j = i + 1; j < n; j++)
            c->oo_sum += o[i * n + j].oo;
    free(o);
    for (int i = 0; i < n && !rc; i++) {
        cl_spectrum sp;
        rc = cl_spectrum_compute(&u[i], CL_RANK_TOL_DEFAULT, &sp, err);
        if (!rc)
            c->nuc_sum += sp.nuclear;
        cl_spectrum_free(&sp);
    }
    return rc;
}

int cl_store_summary(cl_store *s, const char *snapshot, const cl_threshold *th, cl_backend *be,
                     cl_summary *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    cl_view_list vl;
    int rc = cl_views_select(s, snapshot ? snapshot : "task-ends", &vl, err);
    if (rc)
        return rc;
    int *mods = NULL, nm = 0;
    rc = cl_modules_select(s, NULL, &mods, &nm, err);
    const cl_view *v = &vl.v[vl.n - 1];
    sum_ctx c = {.be = be, .th = *th, .n = v->n};
    if (!rc)
        rc = cl_walk(s, v, mods, nm, module, &c, err);
    free(mods);
    if (!rc) {
        int n = v->n, pairs = n * (n - 1) / 2;
        out->tasks = n;
        out->modules = c.modules;
        out->pairs = pairs;
        out->threshold = *th;
        out->acr_mean = pairs ? c.cr_sum / c.modules / pairs : NAN;
        out->acr_pooled = pairs ? (double)c.both / (double)c.entries / pairs : NAN;
        out->density_mean = c.dens_sum / c.modules / n;
        out->oo_total = c.oo_sum;
        out->oo_pair_mean = pairs ? c.oo_sum / pairs : NAN;
        out->nuclear_mean = c.nuc_sum / c.modules / n;
        out->hoyer_mean = c.hoyer_sum / c.modules / n;
        qsort(c.tau, (size_t)c.n_tau, sizeof *c.tau, cmp_float);
        out->tau_median = c.n_tau == 0 ? NAN
                          : c.n_tau % 2 ? c.tau[c.n_tau / 2]
                                        : 0.5 * ((double)c.tau[c.n_tau / 2 - 1] + c.tau[c.n_tau / 2]);
        for (int e = 0; e < CL_EVAL_COUNT && !rc; e++)
            rc = cl_forgetting_compute(cl_store_accuracy(s, (cl_eval)e),
                                       cl_store_baseline(s, (cl_eval)e), cl_store_n_tasks(s),
                                       &out->forgetting[e], err);
    }
    free(c.tau);
    cl_view_list_free(&vl);
    return rc;
}
