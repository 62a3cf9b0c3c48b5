/*
 * lowrank.c -- linear algebra on the factors. Everything about dW that is
 * not a count comes from products of size r x r and thin QR factorisations
 * (LAPACK, double precision); no d_out x d_in matrix is formed.
 */
#include "metrics_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

int cl_dfactors_make(const cl_lowrank *u, cl_dfactors *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nb = (size_t)u->d_out * (size_t)u->k, na = (size_t)u->k * (size_t)u->d_in;
    out->B = cl_alloc(nb, sizeof(double), err);
    out->A = cl_alloc(na, sizeof(double), err);
    if (!out->A || !out->B) {
        cl_dfactors_free(out);
        return err->code;
    }
    for (size_t i = 0; i < nb; i++)
        out->B[i] = u->scale * (double)u->B[i];
    for (size_t i = 0; i < na; i++)
        out->A[i] = (double)u->A[i];
    out->d_out = u->d_out;
    out->d_in = u->d_in;
    out->k = u->k;
    return CL_OK;
}

void cl_dfactors_free(cl_dfactors *f)
{
    free(f->A);
    free(f->B);
    f->A = f->B = NULL;
}

void cl_gram_tn(const double *X, const double *Y, int64_t d, int m, int n, double *C)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, (int)d, 1.0, X, m, Y, n, 0.0, C, n);
}

void cl_gram_nt(const double *X, const double *Y, int64_t d, int m, int n, double *C)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, (int)d, 1.0, X, (int)d, Y, (int)d,
                0.0, C, n);
}

int cl_singular_values(const double *X, int m, int n, double *s, cl_error *err)
{
    int kk = m < n ? m : n;
    if (kk == 0)
        return CL_OK;
    double *W = cl_alloc((size_t)m * (size_t)n, sizeof *W, err);
    if (!W)
        return err->code;
    memcpy(W, X, (size_t)m * (size_t)n * sizeof *W);
    /* Row-major m x n is column-major n x m: same singular values, no copy. */
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', n, m, W, n, s, NULL, 1, NULL, 1);
    free(W);
    if (info != 0)
        return cl_error_set(err, CL_ERR_NUMERIC, "dgesdd failed (info %d) on a %d x %d matrix",
                            (int)info, m, n);
    return CL_OK;
}

/*
 * Thin QR of X (d x k, column-major, overwritten): the k x k upper triangle R
 * (row-major, zero-padded when d < k) and, if Q is wanted, the first kk
 * columns of Q in X (column-major, d x kk).
 */
static int thin_qr(double *X, int64_t d, int k, double *R, int want_q, cl_error *err)
{
    int kk = d < k ? (int)d : k;
    double *tau = cl_alloc((size_t)(kk ? kk : 1), sizeof *tau, err);
    if (!tau)
        return err->code;
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)d, k, X, (lapack_int)d, tau);
    if (info != 0) {
        free(tau);
        return cl_error_set(err, CL_ERR_NUMERIC, "dgeqrf failed (info %d) on %lld x %d", (int)info,
                            (long long)d, k);
    }
    memset(R, 0, (size_t)k * (size_t)k * sizeof *R);
    for (int i = 0; i < kk; i++)
        for (int j = i; j < k; j++)
            R[i * k + j] = X[(size_t)j * (size_t)d + (size_t)i];
    if (want_q && kk > 0) {
        info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)d, kk, kk, X, (lapack_int)d, tau);
        if (info != 0) {
            free(tau);
            return cl_error_set(err, CL_ERR_NUMERIC, "dorgqr failed (info %d)", (int)info);
        }
    }
    free(tau);
    return CL_OK;
}

/* Relative cut below which a direction does not count as spanned. */
#define BASIS_RTOL 1e-10

int cl_col_basis_cm(double *X, int64_t d, int k, double **Q, int *q, cl_error *err)
{
    *Q = NULL;
    *q = 0;
    int kk = d < k ? (int)d : k;
    double *R = cl_alloc((size_t)k * (size_t)k, sizeof *R, err);
    double *U = cl_alloc((size_t)k * (size_t)k, sizeof *U, err);
    double *VT = cl_alloc((size_t)k * (size_t)k, sizeof *VT, err);
    double *s = cl_alloc((size_t)k, sizeof *s, err);
    int rc = (!R || !U || !VT || !s) ? err->code : thin_qr(X, d, k, R, 1, err);
    if (rc)
        goto out;
    /* R (kk x k) = U S V^T; the column space of X is spanned by Q U. */
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', kk, k, R, k, s, U, kk, VT, k);
    if (info != 0) {
        rc = cl_error_set(err, CL_ERR_NUMERIC, "dgesdd failed (info %d)", (int)info);
        goto out;
    }
    int r = 0;
    if (kk > 0 && s[0] > 0)
        while (r < kk && s[r] > BASIS_RTOL * s[0])
            r++;
    if (r > 0) {
        double *B = cl_alloc((size_t)d * (size_t)r, sizeof *B, err);
        if (!B) {
            rc = err->code;
            goto out;
        }
        /* B (d x r, row-major) = Qcm (d x kk) * U[:, :r] (U is kk x kk row-major). */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, r, kk, 1.0, X, (int)d, U, kk,
                    0.0, B, r);
        *Q = B;
    }
    *q = r;
out:
    free(R);
    free(U);
    free(VT);
    free(s);
    return rc;
}

int cl_col_basis(const double *X, int64_t d, int k, double **Q, int *q, cl_error *err)
{
    double *cm = cl_alloc((size_t)d * (size_t)k, sizeof *cm, err);
    if (!cm)
        return err->code;
    for (int64_t i = 0; i < d; i++)
        for (int j = 0; j < k; j++)
            cm[(size_t)j * (size_t)d + (size_t)i] = X[(size_t)i * (size_t)k + (size_t)j];
    int rc = cl_col_basis_cm(cm, d, k, Q, q, err);
    free(cm);
    return rc;
}

int cl_lowrank_core(const cl_dfactors *f, double *C, cl_error *err)
{
    /* dW = (sB) A; B = Qb Rb, A^T = Qa Ra  =>  dW = Qb (Rb Ra^T) Qa^T. */
    int k = f->k;
    double *Xb = cl_alloc((size_t)f->d_out * (size_t)k, sizeof *Xb, err);
    double *Xa = cl_alloc((size_t)f->d_in * (size_t)k, sizeof *Xa, err);
    double *Rb = cl_alloc((size_t)k * (size_t)k, sizeof *Rb, err);
    double *Ra = cl_alloc((size_t)k * (size_t)k, sizeof *Ra, err);
    int rc = (!Xb || !Xa || !Rb || !Ra) ? err->code : CL_OK;
    if (!rc) {
        for (int64_t i = 0; i < f->d_out; i++)
            for (int j = 0; j < k; j++)
                Xb[(size_t)j * (size_t)f->d_out + (size_t)i] = f->B[(size_t)i * (size_t)k + (size_t)j];
        /* A row-major k x d_in is A^T column-major d_in x k. */
        memcpy(Xa, f->A, (size_t)k * (size_t)f->d_in * sizeof *Xa);
        rc = thin_qr(Xb, f->d_out, k, Rb, 0, err);
        if (!rc)
            rc = thin_qr(Xa, f->d_in, k, Ra, 0, err);
        if (!rc)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, k, k, 1.0, Rb, k, Ra, k, 0.0,
                        C, k);
    }
    free(Xb);
    free(Xa);
    free(Rb);
    free(Ra);
    return rc;
}
