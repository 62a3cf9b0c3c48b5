/*
 * forget.c -- accuracy-matrix metrics (section 6). R[i][j] is the accuracy
 * on task j after training task i; rows not yet evaluated are NaN, and the
 * metrics use the T' leading rows that are.
 */
#include "metrics_internal.h"

#include <math.h>

/* Rows evaluated: the leading rows with any value. */
static int rows_done(const double *R, int T)
{
    int n = 0;
    for (int i = 0; i < T; i++) {
        int any = 0;
        for (int j = 0; j < T; j++)
            any |= !isnan(R[i * T + j]);
        if (!any)
            break;
        n = i + 1;
    }
    return n;
}

/* Mean of the finite values; NaN if any is NaN (an unevaluated entry the
 * definition needs) or there are none. */
typedef struct { double sum; int n, missing; } mean_acc;
static void acc_add(mean_acc *a, double v)
{
    if (isnan(v))
        a->missing = 1;
    else {
        a->sum += v;
        a->n++;
    }
}
static double acc_mean(const mean_acc *a) { return a->missing || !a->n ? NAN : a->sum / a->n; }

double cl_forgetting_task(const double *R, int T, int tasks, int j)
{
    if (j < 0 || j >= tasks - 1)
        return NAN;
    double best = -INFINITY;
    for (int i = j; i < tasks - 1; i++) {
        double v = R[i * T + j];
        if (isnan(v))
            return NAN;
        best = v > best ? v : best;
    }
    double last = R[(tasks - 1) * T + j];
    return isnan(last) ? NAN : best - last;
}

int cl_forgetting_compute(const double *R, const double *baseline, int T, cl_forgetting *out,
                          cl_error *err)
{
    if (T < 1)
        return cl_error_set(err, CL_ERR_ARG, "forgetting: empty accuracy matrix");
    int n = rows_done(R, T);
    out->tasks = n;
    out->aa = out->la = out->bwt = out->forget_max = out->forget_first = out->fwt = NAN;
    if (n == 0)
        return CL_OK;
    const double *last = R + (size_t)(n - 1) * (size_t)T;
    mean_acc aa = {0}, la = {0}, bwt = {0}, fm = {0}, ff = {0}, fwt = {0};
    for (int j = 0; j < n; j++) {
        acc_add(&aa, last[j]);
        acc_add(&la, R[j * T + j]);
    }
    for (int j = 0; j < n - 1; j++) {
        acc_add(&bwt, last[j] - R[j * T + j]);
        acc_add(&fm, cl_forgetting_task(R, T, n, j));
        acc_add(&ff, R[j * T + j] - last[j]);
    }
    for (int j = 1; j < n; j++)
        acc_add(&fwt, R[(j - 1) * T + j] - (baseline ? baseline[j] : NAN));
    out->aa = acc_mean(&aa);
    out->la = acc_mean(&la);
    out->bwt = acc_mean(&bwt);
    out->forget_max = acc_mean(&fm);
    out->forget_first = acc_mean(&ff);
    out->fwt = acc_mean(&fwt);
    return CL_OK;
}
