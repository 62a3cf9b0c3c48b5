/* penalty.c -- see penalty.h. Products go through sgemm; the N-LoRA paper
 * form walks dW in row blocks so that no d_out x d_in matrix is held. */
#include "penalty.h"
#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float sgnf(float x) { return (float)((x > 0) - (x < 0)); }

double cl_pen_orth_paper(const float *Af, int rf, const float *A, int r, int d_in, float lambda,
                         float *dA)
{
    if (rf == 0)
        return 0;
    float *G = malloc((size_t)rf * (size_t)r * sizeof *G);
    if (!G)
        return NAN;
    ck_gemm(0, 1, rf, r, d_in, 1.0f, Af, d_in, A, d_in, 0.0f, G, r); /* G = A_f A^T */
    double v = 0;
    for (int i = 0; i < rf * r; i++)
        v += (double)G[i] * G[i];
    if (dA) /* d/dA ||G||^2 = 2 G^T A_f */
        ck_gemm(1, 0, r, d_in, rf, 2.0f * lambda, G, r, Af, d_in, 1.0f, dA, d_in);
    free(G);
    return v;
}

double cl_pen_orth_code(const float *Af, int rf, const float *A, int r, int d_in, float lambda,
                        float *dA)
{
    if (rf == 0)
        return 0;
    float *G = malloc((size_t)rf * (size_t)r * sizeof *G);
    if (!G)
        return NAN;
    ck_gemm(0, 1, rf, r, d_in, 1.0f, Af, d_in, A, d_in, 0.0f, G, r);
    double v = 0;
    for (int i = 0; i < rf * r; i++) {
        v += fabsf(G[i]);
        G[i] = sgnf(G[i]);
    }
    if (dA) /* d/dA sum |G| = sign(G)^T A_f */
        ck_gemm(1, 0, r, d_in, rf, lambda, G, r, Af, d_in, 1.0f, dA, d_in);
    free(G);
    return v;
}

static double norm2(const float *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s);
}

double cl_pen_l2_code(const float *A, int na, const float *B, int nb, float lambda, float *dA,
                      float *dB)
{
    double a = norm2(A, na), b = norm2(B, nb);
    if (dA && a > 0)
        for (int i = 0; i < na; i++)
            dA[i] += lambda * (float)(A[i] / a);
    if (dB && b > 0)
        for (int i = 0; i < nb; i++)
            dB[i] += lambda * (float)(B[i] / b);
    return a + b;
}

double cl_pen_sparse_paper_scale(int r, int d_in, int d_out)
{
    return (double)r * r / ((double)d_out * d_in);
}

double cl_pen_sparse_paper(const float *A, const float *B, int r, int d_in, int d_out, float s,
                           float lambda, float *dA, float *dB)
{
    /* L = c sum |s (B A)_ij|, c = r^2 / (d_out d_in);  with S = sign(B A):
     * dB = c s S A^T,  dA = c s B^T S.  Row blocks of 64 rows of dW at a time.
     * c makes L r^2 times the mean |dW| entry: the same number of terms as
     * the code form's r x r product, so that one lambda means about the same
     * in both (docs/METRICS.md, "The N-LoRA penalty's scale"). */
    enum { ROWS = 64 };
    float *P = malloc((size_t)ROWS * (size_t)d_in * sizeof *P);
    if (!P)
        return NAN;
    double v = 0;
    float c = (float)(cl_pen_sparse_paper_scale(r, d_in, d_out));
    float as = fabsf(s) * c, ss = sgnf(s);
    s *= c;
    for (int r0 = 0; r0 < d_out; r0 += ROWS) {
        int nr = d_out - r0 < ROWS ? d_out - r0 : ROWS;
        const float *Br = B + (size_t)r0 * r;
        ck_gemm(0, 0, nr, d_in, r, 1.0f, Br, r, A, d_in, 0.0f, P, d_in);
        for (size_t i = 0; i < (size_t)nr * d_in; i++) {
            v += as * fabsf(P[i]);
            P[i] = ss * sgnf(P[i]); /* sign of s P */
        }
        if (dB)
            ck_gemm(0, 1, nr, r, d_in, s * lambda, P, d_in, A, d_in, 1.0f, dB + (size_t)r0 * r, r);
        if (dA)
            ck_gemm(1, 0, r, d_in, nr, s * lambda, Br, r, P, d_in, 1.0f, dA, d_in);
    }
    free(P);
    return v;
}

double cl_pen_sparse_code(const float *A, const float *B, int r, int d_in, int d_out, float lambda,
                          float *dA, float *dB)
{
    if (d_in != d_out)
        return NAN;
    /* M = A B (r x r): A is r x d_in, B is d_out x r with d_out = d_in */
    float *M = malloc((size_t)r * r * sizeof *M);
    if (!M)
        return NAN;
    ck_gemm(0, 0, r, r, d_in, 1.0f, A, d_in, B, r, 0.0f, M, r);
    double v = 0;
    for (int i = 0; i < r * r; i++) {
        v += fabsf(M[i]);
        M[i] = sgnf(M[i]);
    }
    if (dA) /* dA = sign(M) B^T */
        ck_gemm(0, 1, r, d_in, r, lambda, M, r, B, r, 1.0f, dA, d_in);
    if (dB) /* dB = A^T sign(M) */
        ck_gemm(1, 0, d_in, r, r, lambda, A, d_in, M, r, 1.0f, dB, r);
    free(M);
    return v;
}
