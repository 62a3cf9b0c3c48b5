/*
 * explain.c -- pair interference (section 8): how a later task's update
 * dW_j meets an earlier task's dW_i on one module, the per-pair measures
 * collide-explain relates to forgetting.
 *
 *   cosine, oo, angle_sim  cl_ortho_module (ortho.c), not computed twice
 *   norms                  ||dW||_F^2 = sum (B~^T B~) .* (A A^T), k x k Grams
 *                          (B~ = s B)
 *   rowspace_share         ||dW_j P_i||_F^2 = sum (G_j X) .* X with
 *                          X = A_j Q_i (k_j x q_i), G_j = B~_j^T B~_j and
 *                          Q_i (d_in x q_i) an orthonormal basis of the
 *                          rows of A_i
 *   cum_share              the same with a basis of the rows of A_0..A_{j-1}
 *   overlap_energy         sum |dW_i o dW_j|: absolute values do not factor,
 *                          so the updates are formed tile by tile
 *
 * Bases (rowspace_share, cum_share): the row span does not change when a
 * row is scaled, so each non-zero row of A (of the stacked A_0..A_{j-1}) is
 * scaled to unit length, and the right singular vectors (LAPACK dgesdd) with
 * sigma > ROW_RTOL sigma_max = 1e-5 sigma_max span it. The factors are
 * float32: rounding them (or a product that made them) leaves directions of
 * about 1e-8 relative to unit rows (2e-8 in the fixture's A_1 = C A_0), and
 * the cut keeps these out for stacks of up to thousands of rows, while a
 * real direction of rows that differ by more than 1e-5 of their length is
 * kept. So an A of rank < k (zero or dependent rows, also up to float
 * rounding) gives q < k, and A = 0 gives q = 0 (P = 0, share 0). This is
 * not angle_sim's basis (cl_ortho, cut at 1e-10 sigma_max of A unscaled).
 */
#include "metrics_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* Tiles of the dense updates: TILE_ROWS rows of every task at once, fewer
 * when n * rows * d_in doubles would exceed TILE_BYTES (at least one row).
 * Memory for overlap_energy: n * min(64, max(1, 32 MiB / (8 n d_in))) * d_in
 * doubles, at most 32 MiB unless a single row of every task (8 n d_in bytes)
 * is larger; plus the double factors, 8 (d_out + d_in) k per task. */
#define TILE_ROWS 64
#define ROW_RTOL 1e-5
#define TILE_BYTES ((size_t)32 << 20)
#define CHUNK ((size_t)1024) /* entries per task per pass over the pairs */

static double dot(const double *x, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

typedef struct pm_task {
    cl_dfactors f; /* scale folded into B */
    double *Gb;    /* B~^T B~, k x k */
    double sumsq;  /* ||dW||_F^2 */
    double *Qt;    /* row span of A: q x d_in, orthonormal rows (NULL when q = 0) */
    int q;
} pm_task;

/* Orthonormal rows Qt (q x d) spanning the rows of A (m x d, row-major):
 * rows scaled to unit length (zero rows dropped), then the SVD, cut at
 * ROW_RTOL sigma_max. *Qt is allocated (NULL when q = 0). */
static int row_basis(const double *A, int m, int64_t d, double **Qt, int *q, cl_error *err)
{
    *Qt = NULL;
    *q = 0;
    double *X = cl_alloc((size_t)m * (size_t)d, sizeof *X, err);
    if (!X)
        return err->code;
    int rows = 0;
    for (int i = 0; i < m; i++) {
        const double *a = A + (size_t)i * (size_t)d;
        double nn = 0;
        for (int64_t c = 0; c < d; c++)
            nn += a[c] * a[c];
        if (!(nn > 0))
            continue;
        double inv = 1 / sqrt(nn);
        double *x = X + (size_t)rows++ * (size_t)d;
        for (int64_t c = 0; c < d; c++)
            x[c] = a[c] * inv;
    }
    if (rows == 0) {
        free(X);
        return CL_OK;
    }
    int mn = rows < d ? rows : (int)d;
    double *s = cl_alloc((size_t)mn, sizeof *s, err);
    double *U = cl_alloc((size_t)rows * (size_t)mn, sizeof *U, err);
    double *Vt = cl_alloc((size_t)mn * (size_t)d, sizeof *Vt, err);
    int rc = (!s || !U || !Vt) ? err->code : CL_OK;
    if (!rc) {
        lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', rows, (lapack_int)d, X,
                                         (lapack_int)d, s, U, mn, Vt, (lapack_int)d);
        if (info != 0)
            rc = cl_error_set(err, CL_ERR_NUMERIC, "dgesdd failed (info %d) on %d x %lld",
                              (int)info, rows, (long long)d);
    }
    if (!rc) {
        int r = 0;
        while (r < mn && s[r] > ROW_RTOL * s[0])
            r++;
        *q = r;
        *Qt = Vt; /* its first r rows */
        Vt = NULL;
    }
    free(X);
    free(s);
    free(U);
    free(Vt);
    return rc;
}

static void pm_free(pm_task *t)
{
    cl_dfactors_free(&t->f);
    free(t->Gb);
    free(t->Qt);
}

static int pm_prepare(const cl_lowrank *u, pm_task *t, cl_error *err)
{
    memset(t, 0, sizeof *t);
    int rc = cl_dfactors_make(u, &t->f, err);
    if (rc)
        return rc;
    int k = u->k;
    size_t kk = (size_t)k * (size_t)k;
    t->Gb = cl_alloc(kk, sizeof *t->Gb, err);
    double *Ga = cl_alloc(kk, sizeof *Ga, err); /* A A^T */
    if (!t->Gb || !Ga) {
        free(Ga);
        return err->code;
    }
    cl_gram_tn(t->f.B, t->f.B, u->d_out, k, k, t->Gb);
    cl_gram_nt(t->f.A, t->f.A, u->d_in, k, k, Ga);
    t->sumsq = dot(t->Gb, Ga, kk);
    free(Ga);
    if (t->sumsq < 0) /* a trace of a product of PSD matrices: rounding only */
        t->sumsq = 0;
    return row_basis(t->f.A, k, u->d_in, &t->Qt, &t->q, err);
}

/* ||dW_j Q||_F^2 / ||dW_j||_F^2 for orthonormal rows Qt (q x d_in); 0 when
 * q = 0, NaN when dW_j = 0. */
static int share(const pm_task *j, const double *Qt, int q, double *out, cl_error *err)
{
    if (!(j->sumsq > 0)) {
        *out = NAN;
        return CL_OK;
    }
    if (q == 0) {
        *out = 0;
        return CL_OK;
    }
    int k = j->f.k;
    double *X = cl_alloc((size_t)k * (size_t)q, sizeof *X, err);
    double *Y = cl_alloc((size_t)k * (size_t)q, sizeof *Y, err);
    if (!X || !Y) {
        free(X);
        free(Y);
        return err->code;
    }
    /* X = A_j Qt^T (k x q), Y = G_j X: ||B~_j X||_F^2 = sum X .* Y. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, q, (int)j->f.d_in, 1.0, j->f.A,
                (int)j->f.d_in, Qt, (int)j->f.d_in, 0.0, X, q);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, q, k, 1.0, j->Gb, k, X, q, 0.0, Y,
                q);
    double s = dot(X, Y, (size_t)k * (size_t)q) / j->sumsq;
    *out = s < 0 ? 0 : s > 1 ? 1 : s; /* a projection: rounding only */
    free(X);
    free(Y);
    return CL_OK;
}

/* For each j, the share of dW_j in the row span of A_0..A_{j-1}. */
static int cumulative(const pm_task *t, int n, double *cum, cl_error *err)
{
    int64_t d = t[0].f.d_in;
    size_t rows = 0;
    for (int i = 0; i < n - 1; i++)
        rows += (size_t)t[i].f.k;
    if (n > 0)
        cum[0] = NAN;
    if (n < 2)
        return CL_OK;
    if (rows > INT32_MAX)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "too many rows of A (%zu)", rows);
    double *all = cl_alloc(rows * (size_t)d, sizeof *all, err);
    if (!all)
        return err->code;
    int rc = CL_OK;
    size_t have = 0; /* rows of A_0..A_{j-1} in `all` (row-major, have x d) */
    for (int j = 1; j < n && !rc; j++) {
        size_t k = (size_t)t[j - 1].f.k;
        memcpy(all + have * (size_t)d, t[j - 1].f.A, k * (size_t)d * sizeof *all);
        have += k;
        double *Qt = NULL;
        int q = 0;
        rc = row_basis(all, (int)have, d, &Qt, &q, err);
        if (!rc)
            rc = share(&t[j], Qt, q, &cum[j], err);
        free(Qt);
    }
    free(all);
    return rc;
}

/* acc[i * n + j] (i < j) = sum over entries of |dW_i dW_j|, in double. */
static int overlap_sums(const pm_task *t, int n, double *acc, cl_error *err)
{
    int64_t d_out = t[0].f.d_out, d_in = t[0].f.d_in;
    size_t row = (size_t)n * (size_t)d_in * sizeof(double);
    int64_t rows = TILE_ROWS;
    if (row * (size_t)rows > TILE_BYTES)
        rows = (int64_t)(TILE_BYTES / row) > 0 ? (int64_t)(TILE_BYTES / row) : 1;
    size_t tile = (size_t)rows * (size_t)d_in;
    double *W = cl_alloc((size_t)n * tile, sizeof *W, err);
    if (!W)
        return err->code;
    for (int64_t r0 = 0; r0 < d_out; r0 += rows) {
        int m = (int)(d_out - r0 < rows ? d_out - r0 : rows);
        size_t e = (size_t)m * (size_t)d_in;
        for (int i = 0; i < n; i++) {
            int k = t[i].f.k;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, (int)d_in, k, 1.0,
                        t[i].f.B + (size_t)r0 * (size_t)k, k, t[i].f.A, (int)d_in, 0.0,
                        W + (size_t)i * tile, (int)d_in);
        }
        /* column chunks of CHUNK entries of every task stay in cache while
         * every pair reads them; per pair four partial sums in a fixed order
         * (deterministic) let the loop vectorise */
        for (size_t c0 = 0; c0 < e; c0 += CHUNK) {
            size_t c1 = e - c0 < CHUNK ? e : c0 + CHUNK;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++) {
                    const double *a = W + (size_t)i * tile, *b = W + (size_t)j * tile;
                    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    size_t q = c0;
                    for (; q + 4 <= c1; q += 4) {
                        s0 += fabs(a[q] * b[q]);
                        s1 += fabs(a[q + 1] * b[q + 1]);
                        s2 += fabs(a[q + 2] * b[q + 2]);
                        s3 += fabs(a[q + 3] * b[q + 3]);
                    }
                    for (; q < c1; q++)
                        s0 += fabs(a[q] * b[q]);
                    acc[i * n + j] += (s0 + s1) + (s2 + s3);
                }
        }
    }
    free(W);
    return CL_OK;
}

int cl_pair_module(const cl_lowrank *u, int n, cl_pair_measures *out, double *cum_share,
                   cl_error *err)
{
    if (n < 0 || (n > 0 && (!u || !out)))
        return cl_error_set(err, CL_ERR_ARG, "pair interference: bad arguments (n = %d)", n);
    for (int i = 0; i < n; i++) {
        if (u[i].d_out < 1 || u[i].d_in < 1 || u[i].k < 1 || !u[i].A || !u[i].B)
            return cl_error_set(err, CL_ERR_ARG, "pair interference: update %d is empty", i);
        if (u[i].d_out != u[0].d_out || u[i].d_in != u[0].d_in)
            return cl_error_set(err, CL_ERR_ARG, "pair interference: updates differ in shape");
        if (u[i].d_out > INT32_MAX || u[i].d_in > INT32_MAX)
            return cl_error_set(err, CL_ERR_UNSUPPORTED,
                                "pair interference: update %d too large for BLAS", i);
    }
    if (n == 0)
        return CL_OK;
    size_t nn = (size_t)n * (size_t)n;
    pm_task *t = cl_alloc((size_t)n, sizeof *t, err);
    cl_ortho *o = cl_alloc(nn, sizeof *o, err);
    double *acc = cl_alloc(nn, sizeof *acc, err);
    int rc = (!t || !o || !acc) ? err->code : CL_OK, done = 0;
    for (; !rc && done < n; done++)
        rc = pm_prepare(&u[done], &t[done], err);
    if (!rc)
        rc = cl_ortho_module(u, n, o, err);
    if (!rc)
        rc = overlap_sums(t, n, acc, err);
    for (int i = 0; i < n && !rc; i++)
        for (int j = i + 1; j < n && !rc; j++) {
            cl_pair_measures *p = &out[i * n + j];
            const cl_ortho *x = &o[i * n + j];
            p->norm_i = sqrt(t[i].sumsq);
            p->norm_j = sqrt(t[j].sumsq);
            double den = p->norm_i * p->norm_j;
            double ov = den > 0 ? acc[i * n + j] / den : NAN;
            p->overlap_energy = ov > 1 ? 1 : ov; /* Cauchy-Schwarz; rounding only */
            p->cosine = x->cosine;
            p->oo = x->oo;
            p->angle_sim = x->sim_a;
            rc = share(&t[j], t[i].Qt, t[i].q, &p->rowspace_share, err);
        }
    if (!rc && cum_share)
        rc = cumulative(t, n, cum_share, err);
    for (int i = 0; i < done; i++)
        pm_free(&t[i]);
    free(t);
    free(o);
    free(acc);
    if (rc)
        cl_error_prefix(err, "pair interference");
    return rc;
}
