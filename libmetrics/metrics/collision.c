/* collision.c -- collision rate, Jaccard index and lift of a task pair
 * (docs/METRICS.md, section 2), and their aggregates over the modules of a
 * view: per pair mean and pooled, ACR. The counts come from the dense pass. */
#include "metrics_internal.h"

#include <math.h>
#include <string.h>

cl_collision cl_collision_from_counts(int64_t both, int64_t active_i, int64_t active_j,
                                      int64_t entries)
{
    cl_collision c;
    double n = (double)entries;
    int64_t either = active_i + active_j - both;
    c.rate = entries > 0 ? (double)both / n : NAN;
    c.jaccard = either > 0 ? (double)both / (double)either : NAN;
    double di = (double)active_i / n, dj = (double)active_j / n;
    /* lift: 1 when the supports are independent, 0 when disjoint */
    c.lift = di > 0 && dj > 0 ? c.rate / (di * dj) : NAN;
    return c;
}

void cl_collision_acc_free(cl_collision_acc *a)
{
    cl_density_acc_free(&a->density);
    free(a->rate_sum), free(a->jaccard_sum), free(a->lift_sum);
    free(a->jaccard_n), free(a->lift_n), free(a->both);
    free(a->mean), free(a->pooled), free(a->acr_mean), free(a->acr_pooled);
    memset(a, 0, sizeof *a);
}

int cl_collision_acc_init(cl_collision_acc *a, int tasks, int n_th, cl_error *err)
{
    memset(a, 0, sizeof *a);
    a->tasks = tasks;
    a->n_th = n_th;
    a->pairs = tasks * (tasks - 1) / 2;
    int rc = cl_density_acc_init(&a->density, tasks, n_th, err);
    if (rc)
        return rc;
    size_t np = (size_t)n_th * (size_t)tasks * (size_t)tasks;
    a->rate_sum = cl_alloc(np, sizeof *a->rate_sum, err);
    a->jaccard_sum = cl_alloc(np, sizeof *a->jaccard_sum, err);
    a->lift_sum = cl_alloc(np, sizeof *a->lift_sum, err);
    a->jaccard_n = cl_alloc(np, sizeof *a->jaccard_n, err);
    a->lift_n = cl_alloc(np, sizeof *a->lift_n, err);
    a->both = cl_alloc(np, sizeof *a->both, err);
    a->mean = cl_alloc(np, sizeof *a->mean, err);
    a->pooled = cl_alloc(np, sizeof *a->pooled, err);
    a->acr_mean = cl_alloc((size_t)n_th, sizeof *a->acr_mean, err);
    a->acr_pooled = cl_alloc((size_t)n_th, sizeof *a->acr_pooled, err);
    if (!a->rate_sum || !a->jaccard_sum || !a->lift_sum || !a->jaccard_n || !a->lift_n ||
        !a->both || !a->mean || !a->pooled || !a->acr_mean || !a->acr_pooled) {
        cl_collision_acc_free(a);
        return err->code;
    }
    return CL_OK;
}

/* The first a->n_th thresholds of r. */
int cl_collision_acc_add(cl_collision_acc *a, const cl_dense_result *r, cl_error *err)
{
    int rc = cl_density_acc_add(&a->density, r, err);
    if (rc)
        return rc;
    int n = a->tasks;
    for (int q = 0; q < a->n_th; q++) {
        const int64_t *both = r->both + (size_t)q * (size_t)n * (size_t)n;
        const cl_dense_task *t = r->task + q * n;
        size_t off = (size_t)q * (size_t)n * (size_t)n;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                size_t at = off + (size_t)(i * n + j);
                cl_collision x = cl_collision_from_counts(both[i * n + j], t[i].active,
                                                          t[j].active, r->entries);
                a->rate_sum[at] += x.rate;
                a->both[at] += both[i * n + j];
                if (!isnan(x.jaccard)) {
                    a->jaccard_sum[at] += x.jaccard;
                    a->jaccard_n[at]++;
                }
                if (!isnan(x.lift)) {
                    a->lift_sum[at] += x.lift;
                    a->lift_n[at]++;
                }
            }
    }
    return CL_OK;
}

void cl_collision_acc_finish(cl_collision_acc *a)
{
    cl_density_acc *d = &a->density;
    cl_density_acc_finish(d);
    int n = a->tasks;
    for (int q = 0; q < a->n_th; q++) {
        size_t off = (size_t)q * (size_t)n * (size_t)n;
        double s_mean = 0, s_pool = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                size_t at = off + (size_t)(i * n + j);
                a->pooled[at] = cl_collision_from_counts(a->both[at], d->active[q * n + i],
                                                         d->active[q * n + j], d->entries);
                a->mean[at].rate = a->rate_sum[at] / d->modules;
                a->mean[at].jaccard = a->jaccard_n[at] ? a->jaccard_sum[at] / a->jaccard_n[at]
                                                       : NAN;
                a->mean[at].lift = a->lift_n[at] ? a->lift_sum[at] / a->lift_n[at] : NAN;
                if (j > i) {
                    s_mean += a->mean[at].rate;
                    s_pool += a->pooled[at].rate;
                }
            }
        a->acr_mean[q] = a->pairs ? s_mean / a->pairs : NAN;
        a->acr_pooled[q] = a->pairs ? s_pool / a->pairs : NAN;
    }
}
