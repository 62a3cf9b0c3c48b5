/* sparsity.c -- l1, l1/l2 and Hoyer sparsity of an update (section 5), and
 * each task's density and sparsity over the modules of a view (sections 1
 * and 5): the accumulators every tool and the summary use. */
#include "metrics_internal.h"

#include <math.h>
#include <string.h>

cl_sparsity cl_sparsity_from_sums(double l1, double sumsq, int64_t entries)
{
    cl_sparsity s;
    s.l1 = l1;
    s.l2 = sqrt(sumsq);
    s.l1_over_l2 = s.l2 > 0 ? l1 / s.l2 : NAN;
    double rn = sqrt((double)entries);
    /* Hoyer (2004): 1 for a single non-zero entry, 0 when all are equal. */
    s.hoyer = s.l2 > 0 && entries > 1 ? (rn - s.l1_over_l2) / (rn - 1) : NAN;
    return s;
}

/* A dense result for this many tasks and thresholds, or CL_ERR_ARG. */
int cl_dense_result_check(const cl_dense_result *r, int tasks, int n_th, cl_error *err)
{
    if (r->n != tasks || r->n_th < n_th)
        return cl_error_set(err, CL_ERR_ARG,
                            "dense pass of %d updates at %d thresholds, for %d at %d", r->n,
                            r->n_th, tasks, n_th);
    return CL_OK;
}

/* ------------------------------------------------------------ density */

void cl_density_acc_free(cl_density_acc *a)
{
    free(a->active), free(a->frac_sum), free(a->mean), free(a->pooled), free(a->task_mean);
    memset(a, 0, sizeof *a);
}

int cl_density_acc_init(cl_density_acc *a, int tasks, int n_th, cl_error *err)
{
    memset(a, 0, sizeof *a);
    a->tasks = tasks;
    a->n_th = n_th;
    size_t nt = (size_t)n_th * (size_t)tasks;
    a->active = cl_alloc(nt, sizeof *a->active, err);
    a->frac_sum = cl_alloc(nt, sizeof *a->frac_sum, err);
    a->mean = cl_alloc(nt, sizeof *a->mean, err);
    a->pooled = cl_alloc(nt, sizeof *a->pooled, err);
    a->task_mean = cl_alloc((size_t)n_th, sizeof *a->task_mean, err);
    if (!a->active || !a->frac_sum || !a->mean || !a->pooled || !a->task_mean) {
        cl_density_acc_free(a);
        return err->code;
    }
    return CL_OK;
}

/* The first a->n_th thresholds of r. */
int cl_density_acc_add(cl_density_acc *a, const cl_dense_result *r, cl_error *err)
{
    int rc = cl_dense_result_check(r, a->tasks, a->n_th, err);
    if (rc)
        return rc;
    a->modules++;
    a->entries += r->entries;
    for (int q = 0; q < a->n_th; q++)
        for (int i = 0; i < a->tasks; i++) {
            int64_t ai = r->task[q * a->tasks + i].active;
            a->active[q * a->tasks + i] += ai;
            a->frac_sum[q * a->tasks + i] += (double)ai / (double)r->entries;
        }
    return CL_OK;
}

void cl_density_acc_finish(cl_density_acc *a)
{
    int n = a->tasks;
    for (int q = 0; q < a->n_th; q++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            a->mean[q * n + i] = a->frac_sum[q * n + i] / a->modules;
            a->pooled[q * n + i] = (double)a->active[q * n + i] / (double)a->entries;
            s += a->mean[q * n + i];
        }
        a->task_mean[q] = s / n;
    }
}

/* ------------------------------------------------------------ sparsity */

void cl_sparsity_acc_free(cl_sparsity_acc *a)
{
    free(a->l1), free(a->sumsq), free(a->hoyer_sum), free(a->pooled), free(a->hoyer_mean);
    memset(a, 0, sizeof *a);
}

int cl_sparsity_acc_init(cl_sparsity_acc *a, int tasks, cl_error *err)
{
    memset(a, 0, sizeof *a);
    a->tasks = tasks;
    size_t n = (size_t)tasks;
    a->l1 = cl_alloc(n, sizeof *a->l1, err);
    a->sumsq = cl_alloc(n, sizeof *a->sumsq, err);
    a->hoyer_sum = cl_alloc(n, sizeof *a->hoyer_sum, err);
    a->pooled = cl_alloc(n, sizeof *a->pooled, err);
    a->hoyer_mean = cl_alloc(n, sizeof *a->hoyer_mean, err);
    if (!a->l1 || !a->sumsq || !a->hoyer_sum || !a->pooled || !a->hoyer_mean) {
        cl_sparsity_acc_free(a);
        return err->code;
    }
    return CL_OK;
}

int cl_sparsity_acc_add(cl_sparsity_acc *a, const cl_dense_result *r, cl_error *err)
{
    int rc = cl_dense_result_check(r, a->tasks, 0, err);
    if (rc)
        return rc;
    a->modules++;
    a->entries += r->entries;
    for (int i = 0; i < a->tasks; i++) {
        cl_sparsity sp = cl_sparsity_from_sums(r->l1[i], r->sumsq[i], r->entries);
        a->l1[i] += r->l1[i];
        a->sumsq[i] += r->sumsq[i];
        a->hoyer_sum[i] += isnan(sp.hoyer) ? 0 : sp.hoyer;
    }
    return CL_OK;
}

void cl_sparsity_acc_finish(cl_sparsity_acc *a)
{
    double s = 0;
    for (int i = 0; i < a->tasks; i++) {
        a->pooled[i] = cl_sparsity_from_sums(a->l1[i], a->sumsq[i], a->entries);
        a->hoyer_mean[i] = a->hoyer_sum[i] / a->modules;
        s += a->hoyer_mean[i];
    }
    a->hoyer_task_mean = s / a->tasks;
}
