/*
 * summary.c -- the headline numbers of a store, as the paper reports them:
 * average collision rate and density at a threshold, O-LoRA's overlap, the
 * mean nuclear norm, Hoyer sparsity, and the forgetting metrics. The same
 * accumulators as the tools (collision.c, ortho.c, subspace.c, sparsity.c)
 * give them, so each equals the tool's number; this is the one-call form
 * that tables and figures use.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sum_ctx {
    cl_backend *be;
    cl_threshold th;
    cl_collision_acc coll;
    cl_sparsity_acc spar;
    cl_ortho_acc orth;
    cl_subspace_acc sub;
    float *tau;             /* resolved threshold per module and task */
    int n_tau;
} sum_ctx;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int dense(sum_ctx *c, const cl_lowrank *u, int n, cl_error *err)
{
    cl_dense_result r;
    int rc = cl_dense_pass(c->be, u, n, &c->th, 1, &r, err);
    if (rc)
        return rc;
    rc = cl_collision_acc_add(&c->coll, &r, err);
    if (!rc)
        rc = cl_sparsity_acc_add(&c->spar, &r, err);
    float *tau = rc ? NULL : realloc(c->tau, (size_t)(c->n_tau + n) * sizeof *tau);
    if (!rc && !tau)
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (tau) {
        c->tau = tau;
        for (int i = 0; i < n; i++)
            c->tau[c->n_tau++] = r.task[i].tau;
    }
    cl_dense_result_free(&r);
    return rc;
}

static int module(void *vc, int m, const cl_lowrank *u, int n, cl_error *err)
{
    (void)m;
    sum_ctx *c = vc;
    int rc = dense(c, u, n, err);
    if (rc)
        return rc;
    cl_ortho *o = cl_alloc((size_t)n * (size_t)n, sizeof *o, err);
    cl_spectrum *sp = cl_alloc((size_t)n, sizeof *sp, err);
    if (!o || !sp)
        rc = err->code;
    if (!rc)
        rc = cl_ortho_module(u, n, o, err);
    if (!rc)
        rc = cl_ortho_acc_add(&c->orth, o, err);
    for (int i = 0; i < n && !rc; i++)
        rc = cl_spectrum_compute(&u[i], CL_RANK_TOL_DEFAULT, &sp[i], err);
    cl_lowrank stacked = {0};
    cl_spectrum acc = {0};
    if (!rc)
        rc = cl_lowrank_stack(u, n, &stacked, err);
    if (!rc)
        rc = cl_spectrum_compute(&stacked, CL_RANK_TOL_DEFAULT, &acc, err);
    if (!rc)
        rc = cl_subspace_acc_add(&c->sub, sp, &acc, err);
    cl_spectrum_free(&acc);
    cl_lowrank_free(&stacked);
    for (int i = 0; sp && i < n; i++)
        cl_spectrum_free(&sp[i]);
    free(sp);
    free(o);
    return rc;
}

static int acc_init(sum_ctx *c, int n, cl_error *err)
{
    int rc = cl_collision_acc_init(&c->coll, n, 1, err);
    if (!rc)
        rc = cl_sparsity_acc_init(&c->spar, n, err);
    if (!rc)
        rc = cl_ortho_acc_init(&c->orth, n, err);
    if (!rc)
        rc = cl_subspace_acc_init(&c->sub, n, 1, err);
    return rc;
}

static void acc_free(sum_ctx *c)
{
    cl_collision_acc_free(&c->coll);
    cl_sparsity_acc_free(&c->spar);
    cl_ortho_acc_free(&c->orth);
    cl_subspace_acc_free(&c->sub);
    free(c->tau);
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
    sum_ctx c = {.be = be, .th = *th};
    if (!rc)
        rc = acc_init(&c, v->n, err);
    if (!rc)
        rc = cl_walk(s, v, mods, nm, module, &c, err);
    free(mods);
    if (!rc) {
        cl_collision_acc_finish(&c.coll);
        cl_sparsity_acc_finish(&c.spar);
        cl_ortho_acc_finish(&c.orth);
        cl_subspace_acc_finish(&c.sub);
        out->tasks = v->n;
        out->modules = c.coll.density.modules;
        out->pairs = c.coll.pairs;
        out->threshold = *th;
        out->acr_mean = c.coll.acr_mean[0];
        out->acr_pooled = c.coll.acr_pooled[0];
        out->density_mean = c.coll.density.task_mean[0];
        out->oo_total = c.orth.oo_total;
        out->oo_pair_mean = c.orth.oo_pair_mean;
        out->nuclear_mean = c.sub.nuclear_task_mean;
        out->nuclear_accumulated = c.sub.mean[v->n].nuclear;
        out->hoyer_mean = c.spar.hoyer_task_mean;
        qsort(c.tau, (size_t)c.n_tau, sizeof *c.tau, cmp_float);
        out->tau_median = c.n_tau == 0 ? NAN
                          : c.n_tau % 2 ? c.tau[c.n_tau / 2]
                                        : 0.5 * ((double)c.tau[c.n_tau / 2 - 1] + c.tau[c.n_tau / 2]);
        for (int e = 0; e < CL_EVAL_COUNT && !rc; e++)
            rc = cl_forgetting_compute(cl_store_accuracy(s, (cl_eval)e),
                                       cl_store_baseline(s, (cl_eval)e), cl_store_n_tasks(s),
                                       &out->forgetting[e], err);
    }
    acc_free(&c);
    cl_view_list_free(&vl);
    return rc;
}
