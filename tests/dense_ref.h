/*
 * dense_ref.h -- the straightforward way, for tests: form the whole dW,
 * sort it, threshold it. Independent of the tile kernels and the histogram
 * selection it checks; same arithmetic for dW (kernels/kernels.h).
 */
#ifndef COLLIDE_DENSE_REF_H
#define COLLIDE_DENSE_REF_H

#include "cl_core.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

static inline float *ref_form(const cl_lowrank *u)
{
    size_t n = (size_t)u->d_out * (size_t)u->d_in;
    float *w = malloc(n * sizeof *w);
    for (int64_t i = 0; i < u->d_out; i++)
        for (int64_t j = 0; j < u->d_in; j++) {
            float acc = u->B[i * u->k] * u->A[j];
            for (int q = 1; q < u->k; q++)
                acc = fmaf(u->B[i * u->k + q], u->A[(size_t)q * (size_t)u->d_in + (size_t)j], acc);
            w[i * u->d_in + j] = acc * (float)u->scale;
        }
    return w;
}

static int ref_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* tau and inclusiveness of a threshold on dense w (n entries). */
static inline float ref_tau(const float *w, size_t n, const cl_threshold *th, int *inclusive)
{
    float *a = malloc(n * sizeof *a);
    float mx = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = fabsf(w[i]);
        mx = a[i] > mx ? a[i] : mx;
    }
    float tau;
    *inclusive = 0;
    if (th->mode == CL_TH_ABS) {
        tau = (float)th->value;
    } else if (th->mode == CL_TH_REL) {
        tau = (float)(th->value * (double)mx);
    } else {
        *inclusive = 1;
        qsort(a, n, sizeof *a, ref_desc);
        size_t k = 0;
        if (th->mode == CL_TH_ENERGY) {
            double total = 0, cum = 0;
            for (size_t i = 0; i < n; i++)
                total += (double)a[i] * a[i];
            double target = th->value * total;
            k = n - 1;
            for (size_t i = 0; i < n; i++) {
                cum += (double)a[i] * a[i];
                if (cum >= target) {
                    k = i;
                    break;
                }
            }
            if (total == 0) {
                free(a);
                return INFINITY;
            }
        } else {
            size_t want = (size_t)ceil(th->value * (double)n);
            k = (want < 1 ? 1 : want) - 1;
        }
        tau = a[k] < FLT_TRUE_MIN ? FLT_TRUE_MIN : a[k];
    }
    free(a);
    return tau;
}

static inline unsigned char *ref_mask(const float *w, size_t n, float tau, int inclusive)
{
    unsigned char *m = malloc(n);
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(w[i]);
        m[i] = inclusive ? a >= tau : a > tau;
    }
    return m;
}

/* Dense double dW = s B A. */
static inline double *ref_dense_d(const cl_lowrank *u)
{
    double *w = calloc((size_t)u->d_out * (size_t)u->d_in, sizeof *w);
    for (int64_t i = 0; i < u->d_out; i++)
        for (int q = 0; q < u->k; q++) {
            double b = u->scale * u->B[i * u->k + q];
            for (int64_t j = 0; j < u->d_in; j++)
                w[i * u->d_in + j] += b * u->A[(size_t)q * (size_t)u->d_in + (size_t)j];
        }
    return w;
}

static inline void ref_random(cl_lowrank *u, int64_t d_out, int64_t d_in, int k, double scale,
                              cl_rng *r)
{
    u->d_out = d_out;
    u->d_in = d_in;
    u->k = k;
    u->scale = scale;
    u->B = malloc((size_t)d_out * (size_t)k * sizeof(float));
    u->A = malloc((size_t)k * (size_t)d_in * sizeof(float));
    for (int64_t i = 0; i < d_out * k; i++)
        u->B[i] = (float)cl_rng_normal(r);
    for (int64_t i = 0; i < (int64_t)k * d_in; i++)
        u->A[i] = (float)cl_rng_normal(r);
}

#endif
