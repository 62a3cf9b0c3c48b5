/*
 * subspace.c -- singular values of dW = s B A without forming dW (section
 * 4): thin QR of B and of A^T, then the SVD of the k x k core Rb Ra^T.
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
