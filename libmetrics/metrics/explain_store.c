/*
 * explain_store.c -- does collision predict forgetting, in one store: for
 * every ordered task pair (i learned before j), the forgetting of task i
 * that learning task j caused, beside the pair's interference measures per
 * module and over all modules (collide-explain, collide-reproduce; docs/
 * METRICS.md section 8). The measures come from explain.c and the collision
 * code; the statistics from stats.c.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const measure_name[CL_EX_COUNT] = {
    "collision_rate", "jaccard", "overlap_energy", "cosine", "oo", "angle_sim",
    "rowspace_share", "norm_j"};

const char *cl_explain_measure_name(int k)
{
    return k >= 0 && k < CL_EX_COUNT ? measure_name[k] : "?";
}

int cl_explain_thresholded(int k) { return k == CL_EX_COLLISION || k == CL_EX_JACCARD; }

typedef struct ex_ctx {
    cl_backend *be;
    cl_explain *e;
    int mi; /* module slot */
} ex_ctx;

static size_t pair_slot(const cl_explain *e, int a, int b)
{
    /* (0,1), (0,2), ..., (1,2), ...: pairs before row a, then b's place */
    return (size_t)(a * e->tasks - a * (a + 1) / 2 + (b - a - 1));
}

static int module(void *vc, int m, const cl_lowrank *u, int n, cl_error *err)
{
    (void)m;
    ex_ctx *c = vc;
    cl_explain *e = c->e;
    cl_dense_result r;
    cl_pair_measures *pm = cl_alloc((size_t)n * (size_t)n, sizeof *pm, err);
    double *cum = cl_alloc((size_t)n, sizeof *cum, err);
    if (!pm || !cum) {
        free(pm);
        free(cum);
        return err->code;
    }
    int rc = cl_dense_pass(c->be, u, n, e->th, e->n_th, &r, err);
    if (!rc) {
        rc = cl_pair_module(u, n, pm, cum, err);
        for (int a = 0; a < n && !rc; a++)
            for (int b = a + 1; b < n; b++) {
                size_t p = pair_slot(e, a, b), mp = (size_t)c->mi * (size_t)e->pairs + p;
                e->mod_m[mp] = pm[a * n + b];
                for (int q = 0; q < e->n_th; q++) {
                    const int64_t *both = r.both + (size_t)q * (size_t)n * (size_t)n;
                    cl_collision x = cl_collision_from_counts(
                        both[a * n + b], r.task[q * n + a].active, r.task[q * n + b].active,
                        r.entries);
                    e->mod_collision[mp * (size_t)e->n_th + (size_t)q] = x.rate;
                    e->mod_jaccard[mp * (size_t)e->n_th + (size_t)q] = x.jaccard;
                }
            }
        for (int b = 0; b < n && !rc; b++)
            e->mod_cum_share[(size_t)c->mi * (size_t)n + (size_t)b] = cum[b];
        cl_dense_result_free(&r);
    }
    free(pm);
    free(cum);
    c->mi++;
    return rc;
}

/* Mean of the defined (not NaN) values, NaN where none. */
static double mean_defined(const double *v, int n)
{
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) {
            s += v[i];
            k++;
        }
    return k ? s / k : NAN;
}

/* Over all modules: every ratio the mean over the modules where it is
 * defined; the norms the whole update's, sqrt of the summed squares. */
static int pool(cl_explain *e, cl_error *err)
{
    size_t P = (size_t)e->pairs, Q = (size_t)e->n_th;
    int M = e->modules;
    double *v = cl_alloc(M ? (size_t)M : 1, sizeof *v, err);
    if (!v)
        return err->code;
#define POOL(field)                                                                            \
    do {                                                                                       \
        for (int mi = 0; mi < M; mi++)                                                         \
            v[mi] = e->mod_m[(size_t)mi * P + p].field;                                        \
        x->m.field = mean_defined(v, M);                                                       \
    } while (0)
    for (size_t p = 0; p < P; p++) {
        cl_explain_pair *x = &e->pair[p];
        POOL(overlap_energy);
        POOL(cosine);
        POOL(oo);
        POOL(angle_sim);
        POOL(rowspace_share);
        double si = 0, sj = 0;
        for (int mi = 0; mi < M; mi++) {
            const cl_pair_measures *mm = &e->mod_m[(size_t)mi * P + p];
            si += mm->norm_i * mm->norm_i;
            sj += mm->norm_j * mm->norm_j;
        }
        x->m.norm_i = sqrt(si);
        x->m.norm_j = sqrt(sj);
        for (size_t q = 0; q < Q; q++) {
            for (int mi = 0; mi < M; mi++)
                v[mi] = e->mod_collision[((size_t)mi * P + p) * Q + q];
            x->collision[q] = mean_defined(v, M);
            for (int mi = 0; mi < M; mi++)
                v[mi] = e->mod_jaccard[((size_t)mi * P + p) * Q + q];
            x->jaccard[q] = mean_defined(v, M);
        }
    }
#undef POOL
    for (int b = 0; b < e->tasks; b++) {
        for (int mi = 0; mi < M; mi++)
            v[mi] = e->mod_cum_share[(size_t)mi * (size_t)e->tasks + (size_t)b];
        e->cum_share[b] = mean_defined(v, M);
    }
    free(v);
    return CL_OK;
}

/* Forgetting of i caused by learning j: R[j-1][i] - R[j][i] in store task
 * indices (training order); NaN unless both were evaluated. */
static void forgetting(cl_explain *e, const cl_store *s)
{
    int T = cl_store_n_tasks(s);
    for (int k = 0; k < e->pairs; k++) {
        cl_explain_pair *x = &e->pair[k];
        for (int ev = 0; ev < CL_EVAL_COUNT; ev++) {
            const double *R = cl_store_accuracy(s, (cl_eval)ev);
            x->forgetting[ev] = x->j >= 1 ? R[(size_t)(x->j - 1) * (size_t)T + (size_t)x->i] -
                                                R[(size_t)x->j * (size_t)T + (size_t)x->i]
                                          : NAN;
        }
    }
}

void cl_explain_free(cl_explain *e)
{
    if (!e)
        return;
    for (int p = 0; e->pair && p < e->pairs; p++) {
        free(e->pair[p].collision);
        free(e->pair[p].jaccard);
    }
    free(e->pair);
    free(e->th);
    free(e->module);
    free(e->mod_m);
    free(e->mod_collision);
    free(e->mod_jaccard);
    free(e->mod_cum_share);
    free(e->cum_share);
    memset(e, 0, sizeof *e);
}

static size_t at_least_1(size_t n) { return n > 0 ? n : 1; }

int cl_explain_store(cl_store *s, cl_backend *be, const cl_threshold *th, int n_th,
                     const int *modules, int n_modules, cl_explain *e, cl_error *err)
{
    memset(e, 0, sizeof *e);
    if (n_th < 1)
        return cl_error_set(err, CL_ERR_ARG, "explain: no threshold");
    cl_view_list vl;
    int rc = cl_views_select(s, "task-ends", &vl, err);
    if (rc)
        return rc;
    const cl_view *v = &vl.v[vl.n - 1];
    int *all = NULL, nm = n_modules;
    if (!modules && (rc = cl_modules_select(s, NULL, &all, &nm, err))) {
        cl_view_list_free(&vl);
        return rc;
    }
    const int *mods = modules ? modules : all;
    int n = v->n;
    e->tasks = n;
    e->n_th = n_th;
    e->modules = nm;
    e->pairs = n * (n - 1) / 2;
    size_t P = (size_t)e->pairs, M = (size_t)nm, Q = (size_t)n_th;
    /* one task has no pair: every array at least one element */
    e->th = cl_alloc(Q, sizeof *e->th, err);
    e->module = cl_alloc(at_least_1(M), sizeof *e->module, err);
    e->pair = cl_alloc(at_least_1(P), sizeof *e->pair, err);
    e->mod_m = cl_alloc(at_least_1(M * P), sizeof *e->mod_m, err);
    e->mod_collision = cl_alloc(at_least_1(M * P * Q), sizeof(double), err);
    e->mod_jaccard = cl_alloc(at_least_1(M * P * Q), sizeof(double), err);
    e->mod_cum_share = cl_alloc(at_least_1(M * (size_t)n), sizeof(double), err);
    e->cum_share = cl_alloc(at_least_1((size_t)n), sizeof(double), err);
    rc = !e->th || !e->module || !e->pair || !e->mod_m || !e->mod_collision || !e->mod_jaccard ||
                 !e->mod_cum_share || !e->cum_share
             ? err->code
             : CL_OK;
    if (!rc) {
        memcpy(e->th, th, Q * sizeof *th);
        memcpy(e->module, mods, M * sizeof *mods);
        for (int a = 0; a < n && !rc; a++)
            for (int b = a + 1; b < n && !rc; b++) {
                cl_explain_pair *x = &e->pair[pair_slot(e, a, b)];
                x->i = v->task[a];
                x->j = v->task[b];
                x->a = a;
                x->b = b;
                x->collision = cl_alloc(Q, sizeof(double), err);
                x->jaccard = cl_alloc(Q, sizeof(double), err);
                if (!x->collision || !x->jaccard)
                    rc = err->code;
            }
    }
    ex_ctx c = {.be = be, .e = e};
    if (!rc)
        rc = cl_walk(s, v, mods, nm, module, &c, err);
    if (!rc && !(rc = pool(e, err)))
        forgetting(e, s);
    free(all);
    cl_view_list_free(&vl);
    if (rc)
        cl_explain_free(e);
    return rc;
}

double cl_explain_value(const cl_explain *e, int p, int k, int q)
{
    const cl_explain_pair *x = &e->pair[p];
    switch (k) {
    case CL_EX_COLLISION: return x->collision[q];
    case CL_EX_JACCARD: return x->jaccard[q];
    case CL_EX_OVERLAP: return x->m.overlap_energy;
    case CL_EX_COSINE: return x->m.cosine;
    case CL_EX_OO: return x->m.oo;
    case CL_EX_ANGLE: return x->m.angle_sim;
    case CL_EX_SHARE: return x->m.rowspace_share;
    case CL_EX_NORM: return x->m.norm_j;
    }
    return NAN;
}

int cl_explain_corr(const cl_explain *const *e, int n_e, int k, int q, cl_eval ev, int kind,
                    int reps, int perms, uint64_t seed, cl_corr_stat *out, cl_error *err)
{
    int total = 0;
    for (int i = 0; i < n_e; i++)
        total += e[i]->pairs;
    double *x = cl_alloc(at_least_1((size_t)total), sizeof *x, err);
    double *y = cl_alloc(at_least_1((size_t)total), sizeof *y, err);
    double *z = cl_alloc(at_least_1((size_t)total), sizeof *z, err);
    int rc = !x || !y || !z ? err->code : CL_OK, n = 0;
    int partial = kind == CL_CORR_PARTIAL_SPEARMAN || kind == CL_CORR_PARTIAL_PEARSON;
    /* pairs with every value defined; a measure against itself given
     * itself is no question */
    for (int i = 0; !rc && i < n_e; i++)
        for (int p = 0; p < e[i]->pairs; p++) {
            double xv = cl_explain_value(e[i], p, k, q), yv = e[i]->pair[p].forgetting[ev];
            double zv = e[i]->pair[p].m.norm_j;
            if (isfinite(xv) && isfinite(yv) && (!partial || isfinite(zv))) {
                x[n] = xv;
                y[n] = yv;
                z[n] = zv;
                n++;
            }
        }
    if (!rc && partial && k == CL_EX_NORM) {
        *out = (cl_corr_stat){.r = NAN, .lo = NAN, .hi = NAN, .p = NAN, .n = n};
    } else if (!rc && n < (partial ? 4 : 3)) {
        *out = (cl_corr_stat){.r = NAN, .lo = NAN, .hi = NAN, .p = NAN, .n = n};
    } else if (!rc) {
        rc = cl_corr_test(x, y, partial ? z : NULL, n, kind, reps, perms, seed, out, err);
    }
    free(x);
    free(y);
    free(z);
    return rc;
}

/* Evidence: p below 0.05 and a bootstrap interval that excludes 0. */
static int evident(const cl_corr_stat *c)
{
    return !isnan(c->r) && c->p < 0.05 && (c->lo > 0 || c->hi < 0);
}

void cl_explain_verdict(const char *measure, const cl_corr_stat *rho, const cl_corr_stat *partial,
                        char *buf, size_t n)
{
    if (isnan(rho->r) || rho->n < CL_EXPLAIN_MIN_PAIRS) {
        snprintf(buf, n, "%s: too few pairs with both values (%d) to tell", measure, rho->n);
        return;
    }
    char r[160];
    snprintf(r, sizeof r, "Spearman %.2f [%.2f, %.2f], p = %.3g, %d pairs", rho->r, rho->lo,
             rho->hi, rho->p, rho->n);
    if (!evident(rho)) {
        snprintf(buf, n, "%s: no evidence that it predicts forgetting (%s)", measure, r);
        return;
    }
    const char *dir = rho->r > 0 ? "more" : "less";
    if (!partial || isnan(partial->r)) {
        snprintf(buf, n, "%s: evidence: a larger value goes with %s forgetting (%s)", measure, dir,
                 r);
        return;
    }
    snprintf(buf, n,
             "%s: evidence: a larger value goes with %s forgetting (%s); %s the size of the later "
             "update (partial Spearman given ||dW_j||_F %.2f [%.2f, %.2f], p = %.3g)",
             measure, dir, r, evident(partial) ? "it holds given" : "but not beyond",
             partial->r, partial->lo, partial->hi, partial->p);
}
