/*
 * stats.c -- the statistics of section 8 for small samples (tens to
 * thousands of task pairs): Pearson, Spearman (average ranks for ties),
 * partial correlation given one covariate (Pearson of least-squares
 * residuals, on ranks for the Spearman kind), and a test of one
 * correlation: bootstrap percentile interval and permutation p-value, on
 * collide's RNG (cl_rng), single-threaded, so deterministic.
 *
 * Inputs must be finite: a NaN or infinite value gives NaN (the scalar
 * functions) or CL_ERR_VALUE (cl_corr_test); nothing is dropped here.
 */
#include "metrics_internal.h"

#include <math.h>
#include <string.h>

/* A residual whose norm is below RESID_RTOL times the centred norm of what
 * was fitted is rounding: the variable is an exact linear function of z,
 * and a correlation with it is undefined (NaN). */
#define RESID_RTOL 1e-12
/* |r_perm| >= |r| - TIE_ATOL counts as at least as extreme, so a
 * permutation that reproduces r up to rounding counts. */
#define TIE_ATOL 1e-12

static int finite_all(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int constant(const double *x, int n)
{
    for (int i = 1; i < n; i++)
        if (x[i] != x[0])
            return 0;
    return 1;
}

static double clamp1(double r) { return r > 1 ? 1 : r < -1 ? -1 : r; }

static double mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return s / n;
}

/* Pearson without the checks: NaN when a centred norm is 0. */
static double pearson_raw(const double *x, const double *y, int n)
{
    double mx = mean(x, n), my = mean(y, n), sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double a = x[i] - mx, b = y[i] - my;
        sxx += a * a;
        syy += b * b;
        sxy += a * b;
    }
    if (!(sxx > 0) || !(syy > 0))
        return NAN;
    return clamp1(sxy / sqrt(sxx * syy));
}

double cl_pearson(const double *x, const double *y, int n)
{
    if (n < 3 || !x || !y || !finite_all(x, n) || !finite_all(y, n) || constant(x, n) ||
        constant(y, n))
        return NAN;
    return pearson_raw(x, y, n);
}

typedef struct item {
    double v;
    int i;
} item;

static int item_cmp(const void *a, const void *b)
{
    const item *p = a, *q = b;
    if (p->v != q->v)
        return p->v < q->v ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* 1-based ranks of x into r, ties sharing the mean of their ranks. */
static void ranks(const double *x, int n, double *r, item *it)
{
    for (int i = 0; i < n; i++)
        it[i] = (item){x[i], i};
    qsort(it, (size_t)n, sizeof *it, item_cmp);
    for (int s = 0; s < n;) {
        int e = s + 1;
        while (e < n && it[e].v == it[s].v)
            e++;
        double avg = 0.5 * (double)(s + e + 1); /* mean of s+1 .. e */
        for (int q = s; q < e; q++)
            r[it[q].i] = avg;
        s = e;
    }
}

double cl_spearman(const double *x, const double *y, int n)
{
    if (n < 3 || !x || !y || !finite_all(x, n) || !finite_all(y, n))
        return NAN;
    double *r = malloc(2 * (size_t)n * sizeof *r);
    item *it = malloc((size_t)n * sizeof *it);
    double s = NAN;
    if (r && it) {
        ranks(x, n, r, it);
        ranks(y, n, r + n, it);
        s = constant(r, n) || constant(r + n, n) ? NAN : pearson_raw(r, r + n, n);
    }
    free(r);
    free(it);
    return s;
}

/* res = the residual of the least-squares fit v ~ 1 + z (v ~ 1 when z is
 * NULL or constant). 0 when the residual is rounding (RESID_RTOL) or v is
 * constant: nothing left to correlate. */
static int residual(const double *v, const double *z, int n, double *res)
{
    double mv = mean(v, n), svv = 0;
    for (int i = 0; i < n; i++) {
        res[i] = v[i] - mv;
        svv += res[i] * res[i];
    }
    if (!(svv > 0))
        return 0;
    if (!z || constant(z, n))
        return 1;
    double mz = mean(z, n), szz = 0, szv = 0;
    for (int i = 0; i < n; i++) {
        double c = z[i] - mz;
        szz += c * c;
        szv += c * res[i];
    }
    double b = szv / szz, srr = 0;
    for (int i = 0; i < n; i++) {
        res[i] -= b * (z[i] - mz);
        srr += res[i] * res[i];
    }
    return srr > RESID_RTOL * RESID_RTOL * svv;
}

/* Pearson of the residuals of x ~ z and y ~ z; w holds 2n doubles. */
static double partial_core(const double *x, const double *y, const double *z, int n, double *w)
{
    if (n < 4)
        return NAN;
    if (!residual(x, z, n, w) || !residual(y, z, n, w + n))
        return NAN;
    return pearson_raw(w, w + n, n);
}

double cl_partial(const double *x, const double *y, const double *z, int n, int spearman)
{
    if (n < 4 || !x || !y || !z || !finite_all(x, n) || !finite_all(y, n) || !finite_all(z, n))
        return NAN;
    double *w = malloc(5 * (size_t)n * sizeof *w);
    item *it = malloc((size_t)n * sizeof *it);
    double r = NAN;
    if (w && it) {
        if (spearman) {
            ranks(x, n, w, it);
            ranks(y, n, w + n, it);
            ranks(z, n, w + 2 * (size_t)n, it);
            x = w;
            y = w + n;
            z = w + 2 * (size_t)n;
        }
        r = partial_core(x, y, z, n, w + 3 * (size_t)n);
    }
    free(w);
    free(it);
    return r;
}

static int is_partial(int kind)
{
    return kind == CL_CORR_PARTIAL_SPEARMAN || kind == CL_CORR_PARTIAL_PEARSON;
}

static int on_ranks(int kind)
{
    return kind == CL_CORR_SPEARMAN || kind == CL_CORR_PARTIAL_SPEARMAN;
}

/* The statistic of kind; w holds 5n doubles, it n items. */
static double corr_kind(int kind, const double *x, const double *y, const double *z, int n,
                        double *w, item *it)
{
    size_t m = (size_t)n;
    if (n < 3)
        return NAN;
    if (on_ranks(kind)) {
        ranks(x, n, w, it);
        ranks(y, n, w + m, it);
        x = w;
        y = w + m;
        if (is_partial(kind)) {
            ranks(z, n, w + 2 * m, it);
            z = w + 2 * m;
        }
    }
    if (is_partial(kind))
        return partial_core(x, y, z, n, w + 3 * m);
    return constant(x, n) || constant(y, n) ? NAN : pearson_raw(x, y, n);
}

static int dbl_cmp(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

/* numpy's default ("linear") quantile of sorted v[m]. */
static double quantile(const double *v, int m, double q)
{
    double h = (m - 1) * q;
    int f = (int)floor(h);
    if (f >= m - 1)
        return v[m - 1];
    return v[f] + (h - f) * (v[f + 1] - v[f]);
}

#define PERM_STREAM 0x6a09e667f3bcc909ull /* the permutations' seed: seed ^ this */

int cl_corr_test(const double *x, const double *y, const double *z, int n, int kind, int reps,
                 int perms, uint64_t seed, cl_corr_stat *out, cl_error *err)
{
    out->r = out->lo = out->hi = out->p = NAN;
    out->n = n;
    out->reps_defined = 0;
    if (kind < CL_CORR_PEARSON || kind > CL_CORR_PARTIAL_PEARSON)
        return cl_error_set(err, CL_ERR_ARG, "correlation test: unknown kind %d", kind);
    if (n < 0 || reps < 0 || perms < 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "correlation test: negative count (n %d, reps %d, perms %d)", n,
                            reps, perms);
    if (n > 0 && (!x || !y))
        return cl_error_set(err, CL_ERR_ARG, "correlation test: no data");
    if (is_partial(kind) && n > 0 && !z)
        return cl_error_set(err, CL_ERR_ARG, "correlation test: partial correlation without z");
    if (!finite_all(x, n) || !finite_all(y, n) || (is_partial(kind) && !finite_all(z, n)))
        return cl_error_set(err, CL_ERR_VALUE,
                            "correlation test: a value is NaN or infinite (pass finite pairs)");
    if (n < 3)
        return CL_OK;
    const double *zz = is_partial(kind) ? z : NULL;
    size_t m = (size_t)n;
    /* w: the statistic's scratch (5n); xs, ys, zs: a resample; a, e, Z: the
     * permutation's fixed x side, y side and covariate; pe, pr: a permuted
     * e and its residual; boot: the resamples' values. */
    double *w = cl_alloc(5 * m, sizeof *w, err);
    double *xs = cl_alloc(3 * m, sizeof *xs, err);
    double *fix = cl_alloc(5 * m, sizeof *fix, err);
    double *boot = cl_alloc(reps > 0 ? (size_t)reps : 1, sizeof *boot, err);
    item *it = cl_alloc(m, sizeof *it, err);
    int rc = (!w || !xs || !fix || !boot || !it) ? err->code : CL_OK;
    if (rc)
        goto out;
    out->r = corr_kind(kind, x, y, zz, n, w, it);
    if (isnan(out->r))
        goto out;
    /* Bootstrap: resample the n pairs (x, y, z together) with replacement. */
    cl_rng rb;
    cl_rng_seed(&rb, seed);
    double *ys = xs + m, *zs = xs + 2 * m;
    int nb = 0;
    for (int b = 0; b < reps; b++) {
        for (int i = 0; i < n; i++) {
            size_t q = (size_t)cl_rng_below(&rb, (uint64_t)n);
            xs[i] = x[q];
            ys[i] = y[q];
            zs[i] = zz ? zz[q] : 0;
        }
        double v = corr_kind(kind, xs, ys, zz ? zs : NULL, n, w, it);
        if (!isnan(v))
            boot[nb++] = v;
    }
    out->reps_defined = nb;
    if (nb > 0) {
        qsort(boot, (size_t)nb, sizeof *boot, dbl_cmp);
        out->lo = quantile(boot, nb, 0.025);
        out->hi = quantile(boot, nb, 0.975);
    }
    if (perms == 0)
        goto out;
    /* Permutations: a = x's side (its ranks, its residual given z), e = y's
     * side likewise; each permutation correlates a with the residual of the
     * permuted e given z (Freedman-Lane; without z, plain centring, which is
     * permuting y). */
    double *a = fix, *e = fix + m, *Z = NULL, *pe = fix + 3 * m, *pr = fix + 4 * m;
    const double *xv = x, *yv = y;
    if (on_ranks(kind)) {
        ranks(x, n, w, it);
        ranks(y, n, w + m, it);
        xv = w;
        yv = w + m;
    }
    if (zz) {
        Z = fix + 2 * m;
        if (on_ranks(kind))
            ranks(zz, n, Z, it);
        else
            memcpy(Z, zz, m * sizeof *Z);
    }
    residual(xv, Z, n, a);
    residual(yv, Z, n, e);
    cl_rng rp;
    cl_rng_seed(&rp, seed ^ PERM_STREAM);
    long hits = 0;
    double r0 = fabs(out->r);
    for (int p = 0; p < perms; p++) {
        memcpy(pe, e, m * sizeof *pe);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)cl_rng_below(&rp, (uint64_t)i + 1);
            double t = pe[i];
            pe[i] = pe[j];
            pe[j] = t;
        }
        double v = residual(pe, Z, n, pr) ? pearson_raw(a, pr, n) : NAN;
        if (fabs(v) >= r0 - TIE_ATOL)
            hits++;
    }
    out->p = (double)(hits + 1) / (double)(perms + 1);
out:
    free(w);
    free(xs);
    free(fix);
    free(boot);
    free(it);
    if (rc)
        cl_error_prefix(err, "correlation test");
    return rc;
}
