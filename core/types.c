/*
 * types.c -- the shared value types' constructors and destructors: low-rank
 * pairs (cl_lowrank) and the dense pass's results (cl_dense_result). The
 * linear algebra on the factors is the metrics' (libmetrics/metrics/lowrank.c).
 */
#include "cl_alloc.h"

#include <string.h>

void cl_lowrank_free(cl_lowrank *u)
{
    if (!u)
        return;
    free(u->A);
    free(u->B);
    u->A = u->B = NULL;
    u->k = 0;
}

int cl_lowrank_stack(const cl_lowrank *u, int n, cl_lowrank *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return cl_error_set(err, CL_ERR_ARG, "stack: no updates");
    int64_t d_out = u[0].d_out, d_in = u[0].d_in;
    int K = 0;
    for (int i = 0; i < n; i++) {
        if (u[i].d_out != d_out || u[i].d_in != d_in)
            return cl_error_set(err, CL_ERR_ARG, "stack: update %d is %lld x %lld, not %lld x %lld",
                                i, (long long)u[i].d_out, (long long)u[i].d_in, (long long)d_out,
                                (long long)d_in);
        K += u[i].k;
    }
    float *B = cl_alloc((size_t)d_out * (size_t)K, sizeof *B, err);
    float *A = cl_alloc((size_t)K * (size_t)d_in, sizeof *A, err);
    if (!A || !B) {
        free(A);
        free(B);
        return err->code;
    }
    int off = 0;
    for (int i = 0; i < n; i++) {
        float s = (float)u[i].scale;
        for (int64_t r = 0; r < d_out; r++)
            for (int q = 0; q < u[i].k; q++)
                B[r * K + off + q] = s * u[i].B[r * u[i].k + q];
        memcpy(A + (size_t)off * (size_t)d_in, u[i].A, (size_t)u[i].k * (size_t)d_in * sizeof *A);
        off += u[i].k;
    }
    out->d_out = d_out;
    out->d_in = d_in;
    out->k = K;
    out->A = A;
    out->B = B;
    out->scale = 1.0;
    return CL_OK;
}

void cl_dense_result_free(cl_dense_result *r)
{
    if (!r)
        return;
    free(r->l1);
    free(r->sumsq);
    free(r->maxabs);
    free(r->task);
    free(r->both);
    memset(r, 0, sizeof *r);
}
