/*
 * metrics_internal.h -- private declarations shared by the files of the
 * metrics (libmetrics/metrics/): the linear algebra on the factors
 * (lowrank.c, on BLAS and LAPACK) and the accumulators' checks. Nothing
 * outside this folder includes it.
 */
#ifndef CL_METRICS_INTERNAL_H
#define CL_METRICS_INTERNAL_H

#include "cl_alloc.h"
#include "cl_metrics.h"

/* Row-major double copies of the factors, with the scale folded into B. */
typedef struct cl_dfactors {
    int64_t d_out, d_in;
    int k;
    double *B; /* d_out x k, scaled */
    double *A; /* k x d_in          */
} cl_dfactors;

int cl_dfactors_make(const cl_lowrank *u, cl_dfactors *out, cl_error *err);
void cl_dfactors_free(cl_dfactors *f);
/* C (m x n) = X^T Y for X (d x m), Y (d x n), all row-major. */
void cl_gram_tn(const double *X, const double *Y, int64_t d, int m, int n,
                double *C);
/* C (m x n) = X Y^T for X (m x d), Y (n x d), all row-major. */
void cl_gram_nt(const double *X, const double *Y, int64_t d, int m, int n,
                double *C);
/* Orthonormal basis of the column space of X (d x k, row-major): Q (d x q,
 * row-major), q = numerical rank. *Q is allocated (NULL when q = 0). */
int cl_col_basis(const double *X, int64_t d, int k, double **Q, int *q,
                 cl_error *err);
/* The same for X given column-major (d x k); X is overwritten. */
int cl_col_basis_cm(double *X, int64_t d, int k, double **Q, int *q,
                    cl_error *err);
/* The k x k core C = Rb Ra^T with sB = Qb Rb and A^T = Qa Ra: dW has the
 * singular values of C. */
int cl_lowrank_core(const cl_dfactors *f, double *C, cl_error *err);
/* Singular values of X (m x n, row-major), descending, into s[min(m,n)]. */
int cl_singular_values(const double *X, int m, int n, double *s,
                       cl_error *err);

/* CL_ERR_ARG unless r holds `tasks` updates and at least n_th thresholds
 * (sparsity.c). */
int cl_dense_result_check(const cl_dense_result *r, int tasks, int n_th, cl_error *err);

#endif
