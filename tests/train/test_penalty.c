/*
 * test_penalty.c -- each penalty's value against a dense computation and its
 * gradient against central finite differences: O-LoRA (paper: squared
 * overlap; code: absolute overlap and the L2 norms) and N-LoRA (paper: l1 of
 * the d_out x d_in update, computed in row blocks; code: l1 of the r x r
 * product).
 */
#include "../check.h"
#include "collide.h"
#include "penalty.h"

#include <string.h>

enum { R = 3, RF = 5, DIN = 70, DOUT = 90, SQ = 40 };

static cl_rng g;

static void fill(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)cl_rng_normal(&g);
}

typedef double (*pen_fn)(float *A, float *B, float *dA, float *dB);

static float Af[RF * DIN], A[R * DIN], B[DOUT * R], As[R * SQ], Bs[SQ * R];
static const float lam = 0.7f, s = 2.5f;

static double orth_paper(float *a, float *b, float *dA, float *dB)
{
    (void)b, (void)dB;
    return cl_pen_orth_paper(Af, RF, a, R, DIN, lam, dA);
}
static double orth_code(float *a, float *b, float *dA, float *dB)
{
    (void)b, (void)dB;
    return cl_pen_orth_code(Af, RF, a, R, DIN, lam, dA);
}
static double l2_code(float *a, float *b, float *dA, float *dB)
{
    return cl_pen_l2_code(a, R * DIN, b, DOUT * R, lam, dA, dB);
}
static double sparse_paper(float *a, float *b, float *dA, float *dB)
{
    return cl_pen_sparse_paper(a, b, R, DIN, DOUT, s, lam, dA, dB);
}
static double sparse_code(float *a, float *b, float *dA, float *dB)
{
    return cl_pen_sparse_code(a, b, R, SQ, SQ, lam, dA, dB);
}

/* Does perturbing x[i] by +-h flip the sign of any entry the l1 penalties
 * sum? Then the central difference straddles a kink and says nothing. */
typedef int (*kink_fn)(float *x, int i, float h, int which);

static int kink_dw(float *x, int i, float h, int which)
{
    /* which 0: A (r x DIN), entries of column i % DIN; 1: B (DOUT x r), row i / R */
    float keep = x[i];
    int flip = 0;
    for (int pass = 0; pass < 2 && !flip; pass++) {
        double sg[DOUT > DIN ? DOUT : DIN];
        for (int side = 0; side < 2; side++) {
            x[i] = keep + (side ? h : -h);
            int n = which ? DIN : DOUT;
            for (int e = 0; e < n; e++) {
                int row = which ? i / R : e, col = which ? e : i % DIN;
                double d = 0;
                for (int q = 0; q < R; q++)
                    d += (double)B[row * R + q] * A[q * DIN + col];
                if (!side)
                    sg[e] = d;
                else if ((sg[e] > 0) != (d > 0))
                    flip = 1;
            }
        }
    }
    x[i] = keep;
    return flip;
}

/* lambda * f has gradient (dA, dB); compare with differences of f. */
static void fd_k(const char *what, pen_fn f, float *a, int na, float *b, int nb, kink_fn kink);
static void fd(const char *what, pen_fn f, float *a, int na, float *b, int nb)
{
    fd_k(what, f, a, na, b, nb, NULL);
}

static void fd_k(const char *what, pen_fn f, float *a, int na, float *b, int nb, kink_fn kink)
{
    float *dA = calloc((size_t)na, sizeof *dA), *dB = calloc((size_t)nb, sizeof *dB);
    f(a, b, dA, dB);
    double worst = 0, gmax = 0;
    float h = 1e-3f;
    for (int pass = 0; pass < 2; pass++) {
        float *x = pass ? b : a, *dx = pass ? dB : dA;
        int n = pass ? nb : na;
        for (int i = 0; i < n; i++)
            gmax = fmax(gmax, fabs(dx[i]));
        for (int i = 0; i < n; i += 7) { /* a sample of coordinates */
            if (kink && kink(x, i, h, pass))
                continue;
            float keep = x[i];
            x[i] = keep + h;
            double up = f(a, b, NULL, NULL);
            x[i] = keep - h;
            double down = f(a, b, NULL, NULL);
            x[i] = keep;
            double num = lam * (up - down) / (2 * h);
            worst = fmax(worst, fabs(num - dx[i]));
        }
    }
    CHECK(worst <= 2e-3 * gmax, "%s: finite differences off by %.3g (max |grad| %.3g)", what,
          worst, gmax);
    printf("  %-22s max |fd - analytic| = %.2e of max |grad| %.2e\n", what, worst, gmax);
    free(dA);
    free(dB);
}

int main(void)
{
    check_begin("test_penalty");
    cl_rng_seed(&g, 5);
    fill(Af, RF * DIN);
    fill(A, R * DIN);
    fill(B, DOUT * R);
    fill(As, R * SQ);
    fill(Bs, SQ * R);
    /* values against dense computations */
    double oo = 0, ob = 0;
    for (int i = 0; i < RF; i++)
        for (int j = 0; j < R; j++) {
            double d = 0;
            for (int c = 0; c < DIN; c++)
                d += (double)Af[i * DIN + c] * A[j * DIN + c];
            oo += d * d;
            ob += fabs(d);
        }
    CHECK_NEAR(cl_pen_orth_paper(Af, RF, A, R, DIN, 1, NULL), oo, 1e-5, 0, "O-LoRA paper value");
    CHECK_NEAR(cl_pen_orth_code(Af, RF, A, R, DIN, 1, NULL), ob, 1e-5, 0, "O-LoRA code value");
    CHECK(cl_pen_orth_paper(Af, 0, A, R, DIN, 1, NULL) == 0, "no frozen adapters: no penalty");
    double l1 = 0;
    for (int i = 0; i < DOUT; i++)
        for (int j = 0; j < DIN; j++) {
            double d = 0;
            for (int q = 0; q < R; q++)
                d += (double)B[i * R + q] * A[q * DIN + j];
            l1 += fabs(s * d);
        }
    /* normalised: r^2 / (d_out d_in) times the l1 of dW */
    double cn = (double)R * R / ((double)DOUT * DIN);
    CHECK_NEAR(cl_pen_sparse_paper_scale(R, DIN, DOUT), cn, 1e-15, 0, "paper form's scale");
    CHECK_NEAR(cl_pen_sparse_paper(A, B, R, DIN, DOUT, s, 1, NULL, NULL), cn * l1, 1e-5, 0,
               "N-LoRA paper value: r^2/(d_out d_in) times the l1 of dW");
    double l1c = 0;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++) {
            double d = 0;
            for (int c = 0; c < SQ; c++)
                d += (double)As[i * SQ + c] * Bs[c * R + j];
            l1c += fabs(d);
        }
    CHECK_NEAR(cl_pen_sparse_code(As, Bs, R, SQ, SQ, 1, NULL, NULL), l1c, 1e-5, 0,
               "N-LoRA code value: l1 of A B (r x r)");
    CHECK(isnan(cl_pen_sparse_code(A, B, R, DIN, DOUT, 1, NULL, NULL)),
          "code form refuses d_in != d_out");
    /* gradients */
    fd("O-LoRA paper dA", orth_paper, A, R * DIN, B, DOUT * R);
    fd("O-LoRA code dA", orth_code, A, R * DIN, B, DOUT * R);
    fd("O-LoRA code L2 dA dB", l2_code, A, R * DIN, B, DOUT * R);
    fd_k("N-LoRA paper dA dB", sparse_paper, A, R * DIN, B, DOUT * R, kink_dw);
    /* and the sign-based gradient against a dense one, in double */
    float *dA = calloc(R * DIN, sizeof *dA), *dB = calloc(DOUT * R, sizeof *dB);
    cl_pen_sparse_paper(A, B, R, DIN, DOUT, s, 1, dA, dB);
    double worst = 0;
    for (int i = 0; i < DOUT; i++)
        for (int j = 0; j < DIN; j++) {
            double d = 0;
            for (int q = 0; q < R; q++)
                d += (double)B[i * R + q] * A[q * DIN + j];
            double sg = (d > 0) - (d < 0);
            for (int q = 0; q < R; q++) {
                dB[i * R + q] -= (float)(cn * s * sg * A[q * DIN + j]);
                dA[q * DIN + j] -= (float)(cn * s * sg * B[i * R + q]);
            }
        }
    for (int i = 0; i < R * DIN; i++)
        worst = fmax(worst, fabs(dA[i]));
    for (int i = 0; i < DOUT * R; i++)
        worst = fmax(worst, fabs(dB[i]));
    CHECK(worst < 1e-3 * cn, "N-LoRA paper gradient vs dense: %.3g", worst);
    free(dA);
    free(dB);
    fd("N-LoRA code dA dB", sparse_code, As, R * SQ, Bs, SQ * R);
    return check_done();
}
