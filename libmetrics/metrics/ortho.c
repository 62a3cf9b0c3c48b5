/*
 * ortho.c -- orthogonality of task pairs (section 3): O-LoRA's overlap OO,
 * principal-angle similarity of the A row spaces and B column spaces, AWOM
 * and the Frobenius inner product and cosine. Everything comes from k x k
 * products of the factors:
 *   <dW_i, dW_j>_F = sum (B_i^T B_j) .* (A_i A_j^T)       (B scaled)
 *   AWOM          = tr(M^T G_i M G_j),  M = B_i^T B_j, G = A A^T
 * Then their aggregates over the modules of a view: sums, means, the
 * pooled cosine, OO's total over pairs.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static double dot(const double *x, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* Mean squared cosine of the principal angles between two subspaces with
 * orthonormal bases P (d x p) and Q (d x q), row-major. */
static double subspace_sim(const double *P, int p, const double *Q, int q, int64_t d,
                           cl_error *err, int *rc)
{
    if (p == 0 || q == 0)
        return NAN;
    double *C = cl_alloc((size_t)p * (size_t)q, sizeof *C, err);
    if (!C) {
        *rc = err->code;
        return NAN;
    }
    cl_gram_tn(P, Q, d, p, q, C);
    double s = dot(C, C, (size_t)p * (size_t)q) / (double)(p < q ? p : q);
    free(C);
    return s > 1 ? 1 : s; /* rounding can exceed 1 by an ulp */
}

typedef struct task_data {
    cl_dfactors f;
    double *Ga;        /* A A^T, k x k */
    double *Qa, *Qb;   /* bases: row space of A (d_in x qa), columns of B */
    int qa, qb;
} task_data;

static void task_free(task_data *t)
{
    cl_dfactors_free(&t->f);
    free(t->Ga);
    free(t->Qa);
    free(t->Qb);
}

static int task_prepare(const cl_lowrank *u, task_data *t, int need_bases, cl_error *err)
{
    memset(t, 0, sizeof *t);
    int rc = cl_dfactors_make(u, &t->f, err);
    if (rc)
        return rc;
    int k = u->k;
    t->Ga = cl_alloc((size_t)k * (size_t)k, sizeof *t->Ga, err);
    if (!t->Ga)
        return err->code;
    cl_gram_nt(t->f.A, t->f.A, u->d_in, k, k, t->Ga);
    if (!need_bases)
        return CL_OK;
    /* A row-major (k x d_in) is A^T column-major: its columns span rows of A. */
    double *cm = cl_alloc((size_t)k * (size_t)u->d_in, sizeof *cm, err);
    if (!cm)
        return err->code;
    memcpy(cm, t->f.A, (size_t)k * (size_t)u->d_in * sizeof *cm);
    rc = cl_col_basis_cm(cm, u->d_in, k, &t->Qa, &t->qa, err);
    free(cm);
    if (rc)
        return rc;
    return cl_col_basis(t->f.B, u->d_out, k, &t->Qb, &t->qb, err);
}

static int pair(const task_data *a, const task_data *b, cl_ortho *o, cl_error *err)
{
    int ka = a->f.k, kb = b->f.k, rc = CL_OK;
    double *Gab = cl_alloc((size_t)ka * (size_t)kb, sizeof *Gab, err);
    double *M = cl_alloc((size_t)ka * (size_t)kb, sizeof *M, err);
    double *Baa = cl_alloc((size_t)ka * (size_t)ka, sizeof *Baa, err);
    double *Bbb = cl_alloc((size_t)kb * (size_t)kb, sizeof *Bbb, err);
    double *X = cl_alloc((size_t)ka * (size_t)kb, sizeof *X, err);
    double *Y = cl_alloc((size_t)ka * (size_t)kb, sizeof *Y, err);
    if (!Gab || !M || !Baa || !Bbb || !X || !Y) {
        rc = err->code;
        goto out;
    }
    cl_gram_nt(a->f.A, b->f.A, a->f.d_in, ka, kb, Gab);      /* A_a A_b^T */
    cl_gram_tn(a->f.B, b->f.B, a->f.d_out, ka, kb, M);       /* B_a^T B_b */
    cl_gram_tn(a->f.B, a->f.B, a->f.d_out, ka, ka, Baa);
    cl_gram_tn(b->f.B, b->f.B, b->f.d_out, kb, kb, Bbb);
    size_t nab = (size_t)ka * (size_t)kb;
    o->oo = dot(Gab, Gab, nab);
    o->inner = dot(M, Gab, nab);
    double na = dot(Baa, a->Ga, (size_t)ka * (size_t)ka);
    double nb = dot(Bbb, b->Ga, (size_t)kb * (size_t)kb);
    o->cosine = na > 0 && nb > 0 ? o->inner / sqrt(na * nb) : NAN;
    /* AWOM = sum (G_a M) .* (M G_b) */
    for (int i = 0; i < ka; i++)
        for (int j = 0; j < kb; j++) {
            double x = 0, y = 0;
            for (int q = 0; q < ka; q++)
                x += a->Ga[i * ka + q] * M[q * kb + j];
            for (int q = 0; q < kb; q++)
                y += M[i * kb + q] * b->Ga[q * kb + j];
            X[i * kb + j] = x;
            Y[i * kb + j] = y;
        }
    o->awom = dot(X, Y, nab);
    o->sim_a = subspace_sim(a->Qa, a->qa, b->Qa, b->qa, a->f.d_in, err, &rc);
    if (!rc)
        o->sim_b = subspace_sim(a->Qb, a->qb, b->Qb, b->qb, a->f.d_out, err, &rc);
out:
    free(Gab);
    free(M);
    free(Baa);
    free(Bbb);
    free(X);
    free(Y);
    return rc;
}

int cl_ortho_module(const cl_lowrank *u, int n, cl_ortho *out, cl_error *err)
{
    for (int i = 1; i < n; i++)
        if (u[i].d_out != u[0].d_out || u[i].d_in != u[0].d_in)
            return cl_error_set(err, CL_ERR_ARG, "orthogonality: updates differ in shape");
    task_data *t = cl_alloc((size_t)n, sizeof *t, err);
    if (!t)
        return err->code;
    int rc = CL_OK, done = 0;
    for (; done < n && !rc; done++)
        rc = task_prepare(&u[done], &t[done], 1, err);
    for (int i = 0; i < n && !rc; i++)
        for (int j = i; j < n && !rc; j++) {
            rc = pair(&t[i], &t[j], &out[i * n + j], err);
            out[j * n + i] = out[i * n + j];
        }
    for (int i = 0; i < done; i++)
        task_free(&t[i]);
    free(t);
    return rc;
}

int cl_ortho_pair(const cl_lowrank *a, const cl_lowrank *b, cl_ortho *out, cl_error *err)
{
    cl_lowrank u[2] = {*a, *b};
    cl_ortho o[4];
    int rc = cl_ortho_module(u, 2, o, err);
    if (!rc)
        *out = o[1];
    return rc;
}

int cl_frobenius_inner(const cl_lowrank *a, const cl_lowrank *b, double *out, cl_error *err)
{
    *out = NAN;
    if (a->d_out != b->d_out || a->d_in != b->d_in)
        return cl_error_set(err, CL_ERR_ARG, "inner product: updates differ in shape");
    cl_dfactors fa, fb;
    int rc = cl_dfactors_make(a, &fa, err);
    if (rc)
        return rc;
    rc = cl_dfactors_make(b, &fb, err);
    if (rc) {
        cl_dfactors_free(&fa);
        return rc;
    }
    size_t n = (size_t)a->k * (size_t)b->k;
    double *G = cl_alloc(n, sizeof *G, err), *M = cl_alloc(n, sizeof *M, err);
    if (G && M) {
        cl_gram_nt(fa.A, fb.A, a->d_in, a->k, b->k, G);
        cl_gram_tn(fa.B, fb.B, a->d_out, a->k, b->k, M);
        *out = dot(M, G, n);
    } else {
        rc = err->code;
    }
    free(G);
    free(M);
    cl_dfactors_free(&fa);
    cl_dfactors_free(&fb);
    return rc;
}

/* ------------------------------------------------------------ over modules */

/* cl_ortho's fields, in order (cl_ortho_acc.defined). */
static const size_t field[] = {offsetof(cl_ortho, oo),    offsetof(cl_ortho, sim_a),
                               offsetof(cl_ortho, sim_b), offsetof(cl_ortho, awom),
                               offsetof(cl_ortho, inner), offsetof(cl_ortho, cosine)};
enum { NFIELD = sizeof field / sizeof field[0] };

static double *at(cl_ortho *o, int q) { return (double *)((char *)o + field[q]); }

void cl_ortho_acc_free(cl_ortho_acc *a)
{
    free(a->sum), free(a->defined), free(a->mean), free(a->cosine_pooled);
    memset(a, 0, sizeof *a);
}

int cl_ortho_acc_init(cl_ortho_acc *a, int tasks, cl_error *err)
{
    memset(a, 0, sizeof *a);
    a->tasks = tasks;
    a->pairs = tasks * (tasks - 1) / 2;
    size_t nn = (size_t)tasks * (size_t)tasks;
    a->sum = cl_alloc(nn, sizeof *a->sum, err);
    a->defined = cl_alloc(NFIELD * nn, sizeof *a->defined, err);
    a->mean = cl_alloc(nn, sizeof *a->mean, err);
    a->cosine_pooled = cl_alloc(nn, sizeof *a->cosine_pooled, err);
    if (!a->sum || !a->defined || !a->mean || !a->cosine_pooled) {
        cl_ortho_acc_free(a);
        return err->code;
    }
    return CL_OK;
}

int cl_ortho_acc_add(cl_ortho_acc *a, const cl_ortho *module, cl_error *err)
{
    (void)err;
    a->modules++;
    size_t nn = (size_t)a->tasks * (size_t)a->tasks;
    for (size_t i = 0; i < nn; i++) {
        cl_ortho x = module[i];
        for (int q = 0; q < NFIELD; q++)
            if (!isnan(*at(&x, q))) {
                *at(&a->sum[i], q) += *at(&x, q);
                a->defined[(size_t)q * nn + i]++;
            }
    }
    return CL_OK;
}

void cl_ortho_acc_finish(cl_ortho_acc *a)
{
    int n = a->tasks;
    size_t nn = (size_t)n * (size_t)n;
    for (size_t i = 0; i < nn; i++)
        for (int q = 0; q < NFIELD; q++) {
            int d = a->defined[(size_t)q * nn + i];
            *at(&a->mean[i], q) = d ? *at(&a->sum[i], q) / d : NAN;
        }
    double sa = 0, sb = 0, ac = 0;
    int nsa = 0, nsb = 0, nac = 0;
    a->oo_total = a->awom_total = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const cl_ortho *s = &a->sum[i * n + j], *m = &a->mean[i * n + j];
            double pooled = s->inner / sqrt(a->sum[i * n + i].inner * a->sum[j * n + j].inner);
            a->cosine_pooled[i * n + j] = pooled;
            if (j <= i)
                continue;
            a->oo_total += s->oo;
            a->awom_total += s->awom;
            if (!isnan(m->sim_a))
                sa += m->sim_a, nsa++;
            if (!isnan(m->sim_b))
                sb += m->sim_b, nsb++;
            if (!isnan(pooled))
                ac += fabs(pooled), nac++;
        }
    a->oo_pair_mean = a->pairs ? a->oo_total / a->pairs : NAN;
    a->sim_a_mean = nsa ? sa / nsa : NAN;
    a->sim_b_mean = nsb ? sb / nsb : NAN;
    a->abs_cosine_mean = nac ? ac / nac : NAN;
}
