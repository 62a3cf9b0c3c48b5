/*
 * subspace.c -- singular values of dW = s B A without forming dW (section
 * 4): thin QR of B and of A^T, then the SVD of the k x k core Rb Ra^T. Then
 * their means over the modules of a view, per task and for the accumulated
 * update.
 */
#include "metrics_internal.h"

#include <math.h>
#include <string.h>

void cl_spectrum_free(cl_spectrum *s)
{
    if (!s)
        return;
    free(s->sigma);
    s->sigma = NULL;
    s->k = 0;
}

int cl_spectrum_compute(const cl_lowrank *u, double rank_tol, cl_spectrum *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(rank_tol >= 0 && rank_tol < 1))
        return cl_error_set(err, CL_ERR_ARG, "--rank-tol %g: must be in [0, 1)", rank_tol);
    cl_dfactors f;
    int rc = cl_dfactors_make(u, &f, err);
    if (rc)
        return rc;
    int k = u->k;
    int kk = k;
    if (u->d_out < kk)
        kk = (int)u->d_out;
    if (u->d_in < kk)
        kk = (int)u->d_in;
    double *C = cl_alloc((size_t)k * (size_t)k, sizeof *C, err);
    double *s = cl_alloc((size_t)k, sizeof *s, err);
    if (!C || !s) {
        rc = err->code;
        goto out;
    }
    rc = cl_lowrank_core(&f, C, err);
    if (!rc)
        rc = cl_singular_values(C, k, k, s, err);
    if (rc)
        goto out;
    out->k = kk;
    out->sigma = s;
    s = NULL;
    double sum = 0, sq = 0;
    for (int i = 0; i < kk; i++) {
        sum += out->sigma[i];
        sq += out->sigma[i] * out->sigma[i];
    }
    double s1 = kk > 0 ? out->sigma[0] : 0;
    out->nuclear = sum;
    out->frobenius = sqrt(sq);
    out->spectral = s1;
    out->count = 0;
    for (int i = 0; i < kk && s1 > 0; i++)
        if (out->sigma[i] > rank_tol * s1)
            out->count++;
    double h = 0;
    for (int i = 0; i < kk && sum > 0; i++) {
        double p = out->sigma[i] / sum;
        if (p > 0)
            h -= p * log(p);
    }
    out->entropy_rank = sum > 0 ? exp(h) : 0;
    out->stable_rank = s1 > 0 ? sq / (s1 * s1) : 0;
out:
    free(C);
    free(s);
    cl_dfactors_free(&f);
    return rc;
}

/* ------------------------------------------------------------ over modules */

void cl_subspace_acc_free(cl_subspace_acc *a)
{
    for (int i = 0; i < a->slots; i++) {
        if (a->sigma_sum)
            free(a->sigma_sum[i]);
        if (a->sigma_n)
            free(a->sigma_n[i]);
        if (a->sigma_mean)
            free(a->sigma_mean[i]);
    }
    free(a->sum), free(a->mean), free(a->sigma_sum), free(a->sigma_n), free(a->sigma_mean);
    free(a->width);
    memset(a, 0, sizeof *a);
}

int cl_subspace_acc_init(cl_subspace_acc *a, int tasks, int accumulated, cl_error *err)
{
    memset(a, 0, sizeof *a);
    a->tasks = tasks;
    a->slots = tasks + (accumulated ? 1 : 0);
    size_t n = (size_t)a->slots;
    a->sum = cl_alloc(n, sizeof *a->sum, err);
    a->mean = cl_alloc(n, sizeof *a->mean, err);
    a->sigma_sum = cl_alloc(n, sizeof *a->sigma_sum, err);
    a->sigma_n = cl_alloc(n, sizeof *a->sigma_n, err);
    a->sigma_mean = cl_alloc(n, sizeof *a->sigma_mean, err);
    a->width = cl_alloc(n, sizeof *a->width, err);
    if (!a->sum || !a->mean || !a->sigma_sum || !a->sigma_n || !a->sigma_mean || !a->width) {
        cl_subspace_acc_free(a);
        return err->code;
    }
    return CL_OK;
}

/* Room for k singular values in slot i. */
static int widen(cl_subspace_acc *a, int i, int k, cl_error *err)
{
    if (k <= a->width[i])
        return CL_OK;
    double *s = cl_alloc((size_t)k, sizeof *s, err), *m = cl_alloc((size_t)k, sizeof *m, err);
    int *c = cl_alloc((size_t)k, sizeof *c, err);
    if (!s || !m || !c) {
        free(s), free(m), free(c);
        return err->code;
    }
    size_t w = (size_t)a->width[i];
    if (w) {
        memcpy(s, a->sigma_sum[i], w * sizeof *s);
        memcpy(c, a->sigma_n[i], w * sizeof *c);
    }
    free(a->sigma_sum[i]), free(a->sigma_n[i]), free(a->sigma_mean[i]);
    a->sigma_sum[i] = s;
    a->sigma_n[i] = c;
    a->sigma_mean[i] = m;
    a->width[i] = k;
    return CL_OK;
}

static int add_slot(cl_subspace_acc *a, int i, const cl_spectrum *sp, cl_error *err)
{
    int rc = widen(a, i, sp->k, err);
    if (rc)
        return rc;
    cl_spectrum_sums *x = &a->sum[i];
    x->nuclear += sp->nuclear;
    x->frobenius += sp->frobenius;
    x->spectral += sp->spectral;
    x->count += sp->count;
    x->entropy_rank += sp->entropy_rank;
    x->stable_rank += sp->stable_rank;
    for (int q = 0; q < sp->k; q++) {
        a->sigma_sum[i][q] += sp->sigma[q];
        a->sigma_n[i][q]++;
    }
    return CL_OK;
}

int cl_subspace_acc_add(cl_subspace_acc *a, const cl_spectrum *task, const cl_spectrum *acc,
                        cl_error *err)
{
    if (!acc != (a->slots == a->tasks))
        return cl_error_set(err, CL_ERR_ARG, "subspace: the accumulated update's spectrum %s",
                            acc ? "was not asked for" : "is missing");
    int rc = CL_OK;
    for (int i = 0; i < a->tasks && !rc; i++)
        rc = add_slot(a, i, &task[i], err);
    if (!rc && acc)
        rc = add_slot(a, a->tasks, acc, err);
    if (!rc)
        a->modules++;
    return rc;
}

void cl_subspace_acc_finish(cl_subspace_acc *a)
{
    double nm = a->modules, s = 0;
    for (int i = 0; i < a->slots; i++) {
        const cl_spectrum_sums *x = &a->sum[i];
        cl_spectrum_sums *m = &a->mean[i];
        m->nuclear = x->nuclear / nm;
        m->frobenius = x->frobenius / nm;
        m->spectral = x->spectral / nm;
        m->count = x->count / nm;
        m->entropy_rank = x->entropy_rank / nm;
        m->stable_rank = x->stable_rank / nm;
        for (int q = 0; q < a->width[i]; q++)
            a->sigma_mean[i][q] = a->sigma_sum[i][q] / a->sigma_n[i][q];
        if (i < a->tasks)
            s += m->nuclear;
    }
    a->nuclear_task_mean = s / a->tasks;
}
