/*
 * test_explain.c -- pair interference and its statistics (section 8 of
 * docs/METRICS.md; libmetrics/metrics/explain.c, stats.c): every measure
 * against the dense numpy reference of tests/ref/explain_ref.py (the
 * committed fixture tests/fixtures/explain/pairs.json holds the float32
 * factors and the float64 answers), closed forms, the tiling under its
 * memory cap against a row-by-row dense sum, and the statistics against
 * numpy, closed forms and their expected behaviour.
 */
#include "../check.h"
#include "collide.h"

#include <jansson.h>

#define FIXTURE COLLIDE_SOURCE_DIR "/tests/fixtures/explain/pairs.json"

/* Measures from double arithmetic on the same float32 factors as numpy: the
 * differences are rounding (bases from QR + SVD here, SVD there; overlap
 * summed in another order). 1e-10 relative, and 1e-12 absolute for values
 * that are exactly 0 in exact arithmetic (numpy's angle_sim of orthogonal
 * spans is 1e-34, not 0). */
#define RTOL 1e-10
#define ATOL 1e-12

static double num(const json_t *v) { return json_is_number(v) ? json_number_value(v) : NAN; }

static void read_floats(const json_t *a, float *out, size_t n)
{
    CHECK(json_is_array(a) && json_array_size(a) == n, "array of %zu expected", n);
    for (size_t i = 0; i < n && i < json_array_size(a); i++)
        out[i] = (float)num(json_array_get(a, i));
}

static double *read_doubles(const json_t *a, int *n)
{
    *n = (int)json_array_size(a);
    double *x = malloc(sizeof *x * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++)
        x[i] = num(json_array_get(a, (size_t)i));
    return x;
}

static cl_lowrank mk(int64_t d_out, int64_t d_in, int k, double scale)
{
    cl_lowrank u = {d_out, d_in, k, calloc((size_t)(d_out * k), sizeof(float)),
                    calloc((size_t)(k * d_in), sizeof(float)), scale};
    return u;
}

static void fill_normal(float *x, size_t n, cl_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)cl_rng_normal(r);
}

static const char *field_name[] = {"overlap_energy", "cosine",  "oo",    "angle_sim",
                                   "rowspace_share", "norm_i", "norm_j"};
enum { NFIELD = 7 };

static double field(const cl_pair_measures *p, int q)
{
    const double v[NFIELD] = {p->overlap_energy, p->cosine, p->oo,    p->angle_sim,
                              p->rowspace_share, p->norm_i, p->norm_j};
    return v[q];
}

static double rel(double a, double b)
{
    if (isnan(a) || isnan(b) || a == b)
        return 0;
    return fabs(a - b) / fmax(fabs(a), fabs(b));
}

static json_t *fixture(void)
{
    json_error_t e;
    json_t *doc = json_load_file(FIXTURE, 0, &e);
    CHECK(doc != NULL, "%s: %s (line %d)", FIXTURE, e.text, e.line);
    return doc;
}

static void test_pairs_vs_numpy(const json_t *doc)
{
    const json_t *pc = json_object_get(doc, "pair");
    int64_t d_out = (int64_t)num(json_object_get(pc, "d_out"));
    int64_t d_in = (int64_t)num(json_object_get(pc, "d_in"));
    const json_t *tasks = json_object_get(pc, "tasks");
    int n = (int)json_array_size(tasks);
    CHECK(n == 7, "tasks %d", n);
    cl_lowrank *u = calloc((size_t)n, sizeof *u);
    for (int t = 0; t < n; t++) {
        const json_t *o = json_array_get(tasks, (size_t)t);
        int k = (int)num(json_object_get(o, "k"));
        u[t] = mk(d_out, d_in, k, num(json_object_get(o, "scale")));
        read_floats(json_object_get(o, "B"), u[t].B, (size_t)(d_out * k));
        read_floats(json_object_get(o, "A"), u[t].A, (size_t)(k * d_in));
    }
    cl_pair_measures *out = malloc(sizeof *out * (size_t)(n * n));
    double *cum = malloc(sizeof *cum * (size_t)n);
    for (int i = 0; i < n * n; i++)
        out[i].overlap_energy = 12345; /* i >= j must stay untouched */
    cl_error err;
    CHECK(cl_pair_module(u, n, out, cum, &err) == CL_OK, "%s", err.msg);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++)
            CHECK(out[i * n + j].overlap_energy == 12345, "entry (%d, %d) written", i, j);
    double worst[NFIELD] = {0}, worst_cum = 0;
    const json_t *pairs = json_object_get(pc, "pairs");
    CHECK(json_array_size(pairs) == (size_t)(n * (n - 1) / 2), "pairs");
    for (size_t q = 0; q < json_array_size(pairs); q++) {
        const json_t *p = json_array_get(pairs, q);
        int i = (int)num(json_object_get(p, "i")), j = (int)num(json_object_get(p, "j"));
        const cl_pair_measures *m = &out[i * n + j];
        for (int f = 0; f < NFIELD; f++) {
            double want = num(json_object_get(p, field_name[f]));
            char what[64];
            snprintf(what, sizeof what, "pair (%d, %d) %s", i, j, field_name[f]);
            CHECK_NEAR(field(m, f), want, RTOL, ATOL, what);
            if (fabs(want) > ATOL)
                worst[f] = fmax(worst[f], rel(field(m, f), want));
        }
    }
    const json_t *cj = json_object_get(pc, "cum_share");
    for (int j = 0; j < n; j++) {
        double want = num(json_array_get(cj, (size_t)j));
        char what[64];
        snprintf(what, sizeof what, "cum_share[%d]", j);
        CHECK_NEAR(cum[j], want, RTOL, ATOL, what);
        worst_cum = fmax(worst_cum, rel(cum[j], want));
    }
    /* the cases the fixture was built for */
    CHECK_NEAR(out[0 * n + 1].rowspace_share, 1, 1e-12, 0, "A_1 inside A_0's span");
    CHECK(out[0 * n + 3].rowspace_share == 0 && out[0 * n + 3].oo == 0, "orthogonal A");
    CHECK(cum[3] == 0, "cum_share of an A orthogonal to all earlier: %g", cum[3]);
    CHECK(isnan(out[0 * n + 2].cosine) && isnan(out[0 * n + 2].rowspace_share) &&
              isnan(out[0 * n + 2].overlap_energy) && out[0 * n + 2].norm_j == 0,
          "zero update as j");
    CHECK(out[4 * n + 5].rowspace_share == 0 && isnan(out[4 * n + 5].angle_sim),
          "A = 0 as i: empty span");
    CHECK(!isnan(out[2 * n + 5].rowspace_share), "B = 0 as i: A's span still defined");
    CHECK(isnan(cum[0]) && isnan(cum[2]) && isnan(cum[4]), "cum_share NaN: j = 0, zero updates");
    printf("vs numpy, largest relative difference:");
    for (int f = 0; f < NFIELD; f++)
        printf(" %s %.2g", field_name[f], worst[f]);
    printf(" cum_share %.2g\n", worst_cum);
    for (int t = 0; t < n; t++)
        cl_lowrank_free(&u[t]);
    free(u);
    free(out);
    free(cum);
}

static void test_pairs_closed_forms(void)
{
    cl_rng r;
    cl_rng_seed(&r, 7);
    cl_error err;
    /* identical, scaled, negated and support-disjoint updates */
    enum { N = 5 };
    cl_lowrank u[N];
    u[0] = mk(70, 30, 3, 1.5);
    fill_normal(u[0].B, 70 * 3, &r);
    fill_normal(u[0].A, 3 * 30, &r);
    for (int t = 1; t <= 3; t++) {
        u[t] = mk(70, 30, 3, t == 1 ? 1.5 : t == 2 ? 6.0 : -0.25);
        memcpy(u[t].B, u[0].B, sizeof(float) * 70 * 3);
        memcpy(u[t].A, u[0].A, sizeof(float) * 3 * 30);
    }
    /* task 4: B on rows 35..69 only (task 1 is cut to rows 0..34 below) */
    u[4] = mk(70, 30, 3, 1.0);
    fill_normal(u[4].A, 3 * 30, &r);
    for (int i = 35; i < 70; i++)
        for (int q = 0; q < 3; q++)
            u[4].B[i * 3 + q] = (float)cl_rng_normal(&r);
    cl_pair_measures m[N * N];
    double cum[N];
    CHECK(cl_pair_module(u, N, m, cum, &err) == CL_OK, "%s", err.msg);
    for (int j = 1; j <= 3; j++) {
        const cl_pair_measures *p = &m[0 * N + j];
        CHECK_NEAR(p->cosine, j == 3 ? -1 : 1, 1e-12, 0, "cosine of the same update");
        CHECK_NEAR(p->overlap_energy, 1, 1e-12, 0, "overlap_energy of the same update");
        CHECK_NEAR(p->rowspace_share, 1, 1e-12, 0, "share of the same update");
        CHECK_NEAR(p->angle_sim, 1, 1e-12, 0, "angle_sim of the same update");
        CHECK_NEAR(cum[j], 1, 1e-12, 0, "cum_share of the same update");
        CHECK_NEAR(p->norm_j / p->norm_i, fabs(u[j].scale / u[0].scale), 1e-12, 0, "norm ratio");
    }
    /* disjoint supports: restrict task 0's copy (task 1) to rows 0..34 */
    for (int i = 35; i < 70; i++)
        for (int q = 0; q < 3; q++)
            u[1].B[i * 3 + q] = 0;
    CHECK(cl_pair_module(u, N, m, NULL, &err) == CL_OK, "%s", err.msg);
    CHECK(m[1 * N + 4].overlap_energy == 0, "disjoint supports: overlap %g",
          m[1 * N + 4].overlap_energy);
    CHECK_NEAR(m[1 * N + 4].cosine, 0, 0, 1e-15, "disjoint supports: cosine");
    /* shapes must agree; n = 0 and n = 1 */
    cl_lowrank bad = mk(70, 31, 3, 1.0);
    cl_lowrank two[2] = {u[0], bad};
    CHECK(cl_pair_module(two, 2, m, NULL, &err) == CL_ERR_ARG, "shape mismatch accepted");
    CHECK(cl_pair_module(u, 0, NULL, NULL, &err) == CL_OK, "n = 0");
    cum[0] = 0;
    CHECK(cl_pair_module(u, 1, m, cum, &err) == CL_OK && isnan(cum[0]), "n = 1");
    cl_lowrank_free(&bad);
    for (int t = 0; t < N; t++)
        cl_lowrank_free(&u[t]);
}

/* A_1 = C A_0 rounded to float32 spans A_0's rows up to rounding: the
 * span of A_0 and A_1 together is A_0's, so task 2's cumulative share is its
 * share in A_0's span (a cut at 1e-10 would count the rounding directions). */
static void test_rounding_span(void)
{
    enum { K = 4, D = 32, DO = 20 };
    cl_rng r;
    cl_rng_seed(&r, 3);
    cl_lowrank u[3] = {mk(DO, D, K, 1.0), mk(DO, D, 3, 1.0), mk(DO, D, K, 1.0)};
    for (int t = 0; t < 3; t++)
        fill_normal(u[t].B, (size_t)(DO * u[t].k), &r);
    fill_normal(u[0].A, K * D, &r);
    fill_normal(u[2].A, K * D, &r);
    float C[3][K];
    for (int i = 0; i < 3; i++)
        for (int q = 0; q < K; q++)
            C[i][q] = (float)cl_rng_normal(&r);
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < D; c++) {
            float acc = 0;
            for (int q = 0; q < K; q++)
                acc += C[i][q] * u[0].A[q * D + c];
            u[1].A[i * D + c] = acc;
        }
    cl_pair_measures m[9];
    double cum[3];
    cl_error err;
    CHECK(cl_pair_module(u, 3, m, cum, &err) == CL_OK, "%s", err.msg);
    CHECK_NEAR(m[0 * 3 + 1].rowspace_share, 1, 1e-12, 0, "A_1 in A_0's span");
    /* the rounding still tilts the kept span by ~1e-8 (7e-9 relative here);
     * counting the rounding directions would add whole dimensions */
    CHECK_NEAR(cum[2], m[0 * 3 + 2].rowspace_share, 1e-6, 0,
               "cumulative share over A_0 and A_1 = share in A_0's span");
    for (int t = 0; t < 3; t++)
        cl_lowrank_free(&u[t]);
}

/* Rows wide enough that 64 rows of every task exceed the 32 MiB cap: the
 * tile shrinks (34 rows here); against a row-by-row dense sum. */
static void test_overlap_tiles(void)
{
    enum { N = 3, K = 2 };
    const int64_t d_out = 100, d_in = 40000;
    cl_rng r;
    cl_rng_seed(&r, 11);
    cl_lowrank u[N];
    for (int t = 0; t < N; t++) {
        u[t] = mk(d_out, d_in, K, 0.5 + t);
        fill_normal(u[t].B, (size_t)(d_out * K), &r);
        fill_normal(u[t].A, (size_t)(K * d_in), &r);
    }
    cl_pair_measures m[N * N];
    cl_error err;
    CHECK(cl_pair_module(u, N, m, NULL, &err) == CL_OK, "%s", err.msg);
    double *w = malloc(sizeof *w * (size_t)(N * d_in)), sum[N * N] = {0}, sq[N] = {0};
    for (int64_t i = 0; i < d_out; i++) {
        for (int t = 0; t < N; t++)
            for (int64_t c = 0; c < d_in; c++) {
                double v = 0;
                for (int q = 0; q < K; q++)
                    v += (double)u[t].B[i * K + q] * (double)u[t].A[q * d_in + c];
                v *= u[t].scale;
                w[t * d_in + c] = v;
                sq[t] += v * v;
            }
        for (int a = 0; a < N; a++)
            for (int b = a + 1; b < N; b++)
                for (int64_t c = 0; c < d_in; c++)
                    sum[a * N + b] += fabs(w[a * d_in + c] * w[b * d_in + c]);
    }
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++) {
            CHECK_NEAR(m[a * N + b].overlap_energy, sum[a * N + b] / sqrt(sq[a] * sq[b]), 1e-12,
                       0, "tiled overlap_energy");
            CHECK_NEAR(m[a * N + b].norm_i, sqrt(sq[a]), 1e-12, 0, "norm_i");
        }
    free(w);
    for (int t = 0; t < N; t++)
        cl_lowrank_free(&u[t]);
}

static void test_stats_vs_numpy(const json_t *doc)
{
    const json_t *cases = json_object_get(doc, "stats");
    CHECK(json_array_size(cases) >= 4, "stats cases");
    double worst = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *o = json_array_get(cases, c);
        const char *name = json_string_value(json_object_get(o, "name"));
        int n, ny, nz;
        double *x = read_doubles(json_object_get(o, "x"), &n);
        double *y = read_doubles(json_object_get(o, "y"), &ny);
        double *z = read_doubles(json_object_get(o, "z"), &nz);
        CHECK(n == ny && n == nz, "%s: lengths", name);
        double got[4] = {cl_pearson(x, y, n), cl_spearman(x, y, n), cl_partial(x, y, z, n, 0),
                         cl_partial(x, y, z, n, 1)};
        const char *key[4] = {"pearson", "spearman", "partial_pearson", "partial_spearman"};
        for (int q = 0; q < 4; q++) {
            double want = num(json_object_get(o, key[q]));
            char what[80];
            snprintf(what, sizeof what, "%s: %s", name, key[q]);
            CHECK_NEAR(got[q], want, 1e-12, 1e-14, what);
            worst = fmax(worst, rel(got[q], want));
        }
        free(x);
        free(y);
        free(z);
    }
    printf("statistics vs numpy: largest relative difference %.2g\n", worst);
}

static void test_stats_closed_forms(void)
{
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6], c[6] = {3, 3, 3, 3, 3, 3};
    for (int i = 0; i < 6; i++)
        y[i] = exp(x[i]);
    CHECK_NEAR(cl_spearman(x, y, 6), 1, 0, 0, "monotone: spearman 1");
    CHECK(cl_pearson(x, y, 6) < 0.95, "monotone, not linear: pearson %g", cl_pearson(x, y, 6));
    for (int i = 0; i < 6; i++)
        y[i] = -3 * x[i] + 2;
    CHECK_NEAR(cl_pearson(x, y, 6), -1, 0, 0, "linear: pearson -1");
    CHECK_NEAR(cl_spearman(x, y, 6), -1, 0, 0, "decreasing: spearman -1");
    /* ties: ranks of (1, 2, 2, 3) are (1, 2.5, 2.5, 4); against 1..4 r = 3 / sqrt(10) */
    double t[4] = {1, 2, 2, 3};
    CHECK_NEAR(cl_spearman(t, x, 4), 3 / sqrt(10), 1e-15, 0, "average ranks");
    CHECK(isnan(cl_pearson(x, y, 2)), "n < 3");
    CHECK(isnan(cl_pearson(x, c, 6)) && isnan(cl_spearman(c, x, 6)), "constant input");
    CHECK(isnan(cl_partial(x, y, x, 3, 0)), "partial, n < 4");
    CHECK(isnan(cl_partial(x, y, x, 6, 0)), "partial: x a linear function of z");
    CHECK_NEAR(cl_partial(x, t, c, 4, 0), cl_pearson(x, t, 4), 1e-15, 0,
               "partial given a constant is pearson");
    double nan_x[4] = {1, NAN, 3, 4};
    CHECK(isnan(cl_pearson(nan_x, x, 4)) && isnan(cl_spearman(nan_x, x, 4)) &&
              isnan(cl_partial(x, nan_x, x, 4, 1)),
          "a NaN entry gives NaN");
}

static void normals(cl_rng *r, double *v, int n, double s)
{
    for (int i = 0; i < n; i++)
        v[i] = s * cl_rng_normal(r);
}

static void test_corr_test(void)
{
    enum { M = 300 };
    double x[M], y[M], z[M], e[M];
    cl_rng r;
    cl_rng_seed(&r, 2024);
    cl_error err;
    cl_corr_stat s, s2;

    /* y = f(z) + noise, x = z + noise: raw r high, partial given z near 0
     * (the later update is only smaller) */
    normals(&r, z, M, 1);
    normals(&r, x, M, 0.3);
    normals(&r, e, M, 0.3);
    for (int i = 0; i < M; i++) {
        x[i] += z[i];
        y[i] = z[i] * z[i] * z[i] + 2 * z[i] + e[i];
    }
    double raw = cl_spearman(x, y, M), part = cl_partial(x, y, z, M, 1);
    printf("confounded: spearman %.3f, partial on ranks given z %.3f\n", raw, part);
    CHECK(raw > 0.8, "confounded: raw spearman %g", raw);
    CHECK(fabs(part) < 0.15, "confounded: partial %g", part);
    CHECK(cl_corr_test(x, y, z, M, CL_CORR_PARTIAL_SPEARMAN, 500, 499, 1, &s, &err) == CL_OK,
          "%s", err.msg);
    CHECK(s.r == part && s.n == M, "corr_test r %g", s.r);
    CHECK(s.p > 0.01, "confounded: partial p %g", s.p);
    CHECK(s.lo <= s.r && s.r <= s.hi, "interval [%g, %g] around %g", s.lo, s.hi, s.r);

    /* y depends on x, independently of z: partial high */
    normals(&r, x, M, 1);
    normals(&r, z, M, 1);
    normals(&r, e, M, 0.5);
    for (int i = 0; i < M; i++)
        y[i] = x[i] + e[i];
    part = cl_partial(x, y, z, M, 1);
    CHECK(part > 0.8, "direct: partial %g", part);
    CHECK_NEAR(part, cl_spearman(x, y, M), 0.05, 0, "direct: partial close to raw");

    /* bootstrap interval: contains r, narrows with n; p small for a strong
     * relation at n = 30 */
    double width[2];
    int ns[2] = {30, M};
    for (int q = 0; q < 2; q++) {
        CHECK(cl_corr_test(x, y, NULL, ns[q], CL_CORR_PEARSON, 1000, 999, 5, &s, &err) == CL_OK,
              "%s", err.msg);
        CHECK(s.lo <= s.r && s.r <= s.hi, "n %d: [%g, %g] around %g", ns[q], s.lo, s.hi, s.r);
        CHECK(s.reps_defined == 1000, "reps defined %d", s.reps_defined);
        CHECK(s.p < 0.01, "n %d: strong relation, p %g", ns[q], s.p);
        width[q] = s.hi - s.lo;
    }
    printf("bootstrap width n 30: %.3f, n %d: %.3f\n", width[0], M, width[1]);
    CHECK(width[1] < 0.6 * width[0], "interval does not narrow: %g, %g", width[0], width[1]);

    /* the same seed gives the same numbers; another seed other draws */
    for (int kind = CL_CORR_PEARSON; kind <= CL_CORR_PARTIAL_PEARSON; kind++) {
        cl_corr_test(x, y, z, 40, kind, 300, 300, 99, &s, &err);
        cl_corr_test(x, y, z, 40, kind, 300, 300, 99, &s2, &err);
        CHECK(!memcmp(&s, &s2, sizeof s), "kind %d: not deterministic", kind);
        cl_corr_test(x, y, z, 40, kind, 300, 300, 100, &s2, &err);
        CHECK(s.r == s2.r && (s.lo != s2.lo || s.hi != s2.hi), "kind %d: seed ignored", kind);
    }

    /* independent data: p roughly uniform */
    double psum = 0;
    int small = 0, sets = 40;
    for (int q = 0; q < sets; q++) {
        normals(&r, x, 30, 1);
        normals(&r, y, 30, 1);
        normals(&r, z, 30, 1);
        int kind = q % 2 ? CL_CORR_SPEARMAN : CL_CORR_PARTIAL_SPEARMAN;
        CHECK(cl_corr_test(x, y, z, 30, kind, 0, 199, (uint64_t)q, &s, &err) == CL_OK, "%s",
              err.msg);
        CHECK(isnan(s.lo) && isnan(s.hi), "reps 0: no interval");
        psum += s.p;
        small += s.p < 0.05;
    }
    printf("independent data: mean p %.3f, %d of %d below 0.05\n", psum / sets, small, sets);
    CHECK(psum / sets > 0.35 && psum / sets < 0.65, "mean p %g", psum / sets);
    CHECK(small <= 6, "%d of %d p < 0.05", small, sets);

    /* undefined and bad input */
    double cst[5] = {1, 1, 1, 1, 1};
    CHECK(cl_corr_test(cst, x, NULL, 5, CL_CORR_SPEARMAN, 10, 10, 1, &s, &err) == CL_OK &&
              isnan(s.r) && isnan(s.lo) && isnan(s.p),
          "constant input: NaN");
    CHECK(cl_corr_test(x, y, NULL, 30, CL_CORR_PEARSON, 10, 0, 1, &s, &err) == CL_OK &&
              isnan(s.p) && !isnan(s.lo),
          "perms 0: no p");
    CHECK(cl_corr_test(x, y, NULL, 30, 9, 10, 10, 1, &s, &err) == CL_ERR_ARG, "bad kind");
    CHECK(cl_corr_test(x, y, NULL, 30, CL_CORR_PARTIAL_SPEARMAN, 10, 10, 1, &s, &err) ==
              CL_ERR_ARG,
          "partial without z");
    x[3] = NAN;
    CHECK(cl_corr_test(x, y, NULL, 30, CL_CORR_PEARSON, 10, 10, 1, &s, &err) == CL_ERR_VALUE,
          "NaN accepted");
}

int main(void)
{
    check_begin("test_explain");
    json_t *doc = fixture();
    if (doc) {
        test_pairs_vs_numpy(doc);
        test_stats_vs_numpy(doc);
        json_decref(doc);
    }
    test_pairs_closed_forms();
    test_rounding_span();
    test_overlap_tiles();
    test_stats_closed_forms();
    test_corr_test();
    return check_done();
}
