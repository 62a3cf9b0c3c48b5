/*
 * test_metrics.c -- every metric on cases with known answers, and the
 * factored computations against dense ones on random matrices.
 */
#include "../check.h"
#include "../dense_ref.h"
#include "collide.h"

#include <cblas.h>
#include <lapacke.h>

static cl_backend *be;

/* Build a pair from explicit small matrices. */
static cl_lowrank mk(int64_t d_out, int64_t d_in, int k, double scale, const float *B,
                     const float *A)
{
    cl_lowrank u = {d_out, d_in, k, malloc(sizeof(float) * (size_t)(d_out * k)),
                    malloc(sizeof(float) * (size_t)(k * d_in)), scale};
    memcpy(u.B, B, sizeof(float) * (size_t)(d_out * k));
    memcpy(u.A, A, sizeof(float) * (size_t)(k * d_in));
    return u;
}

static cl_threshold th(const char *s)
{
    cl_threshold t;
    cl_error err;
    if (cl_threshold_parse(s, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return t;
}

/* Supports known by construction: task 1 rows {0,1} x cols {0,1,2},
 * task 2 rows {1,2} x cols {2,3}; they share only (1,2). */
static void test_collision_supports(void)
{
    float B1[8] = {1, 2, 0, 0, 0, 0, 0, 0}, A1[8] = {1, 1, 1, 0, 0, 0, 0, 0};
    float B2[8] = {0, 3, 1, 0, 0, 0, 0, 0}, A2[8] = {0, 0, 1, 2, 0, 0, 0, 0};
    cl_lowrank u[2] = {mk(8, 8, 1, 1.0, B1, A1), mk(8, 8, 1, 1.0, B2, A2)};
    cl_threshold t = th("abs:0");
    cl_dense_result r;
    cl_error err;
    CHECK(cl_dense_pass(be, u, 2, &t, 1, &r, &err) == CL_OK, "%s", err.msg);
    CHECK(r.task[0].active == 6, "active %lld", (long long)r.task[0].active);
    CHECK(r.task[1].active == 4, "active %lld", (long long)r.task[1].active);
    CHECK(r.both[1] == 1 && r.both[2] == 1, "both %lld %lld", (long long)r.both[1],
          (long long)r.both[2]);
    cl_collision c = cl_collision_from_counts(r.both[1], 6, 4, 64);
    CHECK_NEAR(c.rate, 1.0 / 64, 1e-15, 0, "CR");
    CHECK_NEAR(c.jaccard, 1.0 / 9, 1e-15, 0, "Jaccard");
    CHECK_NEAR(c.lift, (1.0 / 64) / ((6.0 / 64) * (4.0 / 64)), 1e-15, 0, "lift");
    /* sums: dW1 = 1 at rows 0 (3 cols), 2 at row 1 (3 cols) */
    CHECK_NEAR(r.l1[0], 9, 0, 0, "l1");
    CHECK_NEAR(r.sumsq[0], 15, 0, 0, "sumsq");
    CHECK_NEAR(r.maxabs[0], 2, 0, 0, "max");
    /* disjoint supports: never collide */
    float B3[8] = {0, 0, 0, 0, 0, 0, 1, 1};
    cl_lowrank u3[2] = {u[0], mk(8, 8, 1, 1.0, B3, A2)};
    cl_dense_result r3;
    cl_dense_pass(be, u3, 2, &t, 1, &r3, &err);
    CHECK(r3.both[1] == 0, "disjoint supports collide %lld", (long long)r3.both[1]);
    cl_dense_result_free(&r);
    cl_dense_result_free(&r3);
    cl_lowrank_free(&u[0]);
    cl_lowrank_free(&u[1]);
    cl_lowrank_free(&u3[1]);
}

/* dW = b a^T with b = (2, 1), a = (2, 1): entries 4, 2, 2, 1, energies
 * 16, 4, 4, 1 of 25. */
static void test_threshold_modes(void)
{
    float B[2] = {2, 1}, A[2] = {2, 1};
    cl_lowrank u = mk(2, 2, 1, 1.0, B, A);
    struct {
        const char *spec;
        int active;
        float tau;
    } cases[] = {
        {"energy:0.6", 1, 4},  {"energy:0.8", 3, 2},  {"energy:0.95", 3, 2}, {"energy:1", 4, 1},
        {"top:0.25", 1, 4},    {"top:0.5", 3, 2},     {"top:1", 4, 1},       {"rel:0.5", 1, 2},
        {"rel:0.2", 4, 0.8f},  {"abs:1.5", 3, 1.5f},  {"abs:4", 0, 4},       {"abs:0", 4, 0},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    cl_threshold t[16];
    for (int i = 0; i < n; i++)
        t[i] = th(cases[i].spec);
    cl_dense_result r;
    cl_error err;
    CHECK(cl_dense_pass(be, &u, 1, t, n, &r, &err) == CL_OK, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        CHECK(r.task[i].active == cases[i].active, "%s: active %lld, expected %d", cases[i].spec,
              (long long)r.task[i].active, cases[i].active);
        CHECK(r.task[i].tau == cases[i].tau, "%s: tau %g, expected %g", cases[i].spec,
              r.task[i].tau, cases[i].tau);
    }
    cl_dense_result_free(&r);
    /* an all-zero update has nothing active in any mode */
    float Z[2] = {0, 0};
    cl_lowrank z = mk(2, 2, 1, 1.0, Z, A);
    CHECK(cl_dense_pass(be, &z, 1, t, n, &r, &err) == CL_OK, "%s", err.msg);
    for (int i = 0; i < n; i++)
        CHECK(r.task[i].active == 0, "zero update, %s: %lld active", cases[i].spec,
              (long long)r.task[i].active);
    cl_dense_result_free(&r);
    cl_lowrank_free(&z);
    cl_lowrank_free(&u);
    /* parsing */
    cl_threshold x;
    CHECK(cl_threshold_parse("energy:0", &x, &err) == CL_ERR_ARG, "energy:0 accepted");
    CHECK(cl_threshold_parse("rel:1.5", &x, &err) == CL_ERR_ARG, "rel:1.5 accepted");
    CHECK(cl_threshold_parse("top:abc", &x, &err) == CL_ERR_ARG, "top:abc accepted");
    CHECK(cl_threshold_parse("median:0.5", &x, &err) == CL_ERR_ARG, "median accepted");
    CHECK(cl_threshold_parse("abs:-1", &x, &err) == CL_ERR_ARG, "abs:-1 accepted");
    char buf[48];
    cl_threshold_format(&t[0], buf, sizeof buf);
    CHECK(!strcmp(buf, "energy:0.6"), "format %s", buf);
}

/* A dense Gaussian-like dW: energy:0.99 marks about 72% of entries (the
 * default's justification in docs/METRICS.md); two independent ones collide
 * on about half. */
static void test_default_on_gaussian(void)
{
    cl_rng g;
    cl_rng_seed(&g, 7);
    cl_lowrank u[2];
    ref_random(&u[0], 512, 512, 64, 1.0, &g);
    ref_random(&u[1], 512, 512, 64, 1.0, &g);
    cl_threshold t = th(CL_THRESHOLD_DEFAULT);
    cl_dense_result r;
    cl_error err;
    CHECK(cl_dense_pass(be, u, 2, &t, 1, &r, &err) == CL_OK, "%s", err.msg);
    double d0 = (double)r.task[0].active / (double)r.entries;
    double cr = (double)r.both[1] / (double)r.entries;
    CHECK(d0 > 0.70 && d0 < 0.75, "density %g not near 0.72", d0);
    CHECK(fabs(cr - d0 * (double)r.task[1].active / (double)r.entries) < 0.01,
          "independent supports: CR %g vs product of densities", cr);
    cl_dense_result_free(&r);
    cl_lowrank_free(&u[0]);
    cl_lowrank_free(&u[1]);
}

/* The dense pass against the dense reference on random updates: every
 * count exact, tau identical, for every mode and odd shapes. */
static void test_dense_pass_vs_reference(void)
{
    cl_rng g;
    cl_rng_seed(&g, 11);
    int64_t shapes[][2] = {{37, 29}, {64, 64}, {100, 700}, {513, 130}, {1, 1000}};
    const char *specs[] = {"energy:0.99", "energy:0.5", "top:0.1", "top:0.37", "rel:0.05",
                           "abs:0.5"};
    cl_threshold t[6];
    for (int i = 0; i < 6; i++)
        t[i] = th(specs[i]);
    cl_backend *ref;
    cl_error err;
    CHECK(cl_backend_open("cpu:ref", &ref, &err) == CL_OK, "%s", err.msg);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = 3;
        cl_lowrank u[3];
        for (int i = 0; i < n; i++)
            ref_random(&u[i], shapes[s][0], shapes[s][1], 1 + i * 3, 0.25 * (i + 1), &g);
        cl_dense_result r, rr;
        CHECK(cl_dense_pass(be, u, n, t, 6, &r, &err) == CL_OK, "%s", err.msg);
        CHECK(cl_dense_pass(ref, u, n, t, 6, &rr, &err) == CL_OK, "%s", err.msg);
        size_t N = (size_t)(shapes[s][0] * shapes[s][1]);
        float *w[3];
        for (int i = 0; i < n; i++)
            w[i] = ref_form(&u[i]);
        for (int q = 0; q < 6; q++) {
            unsigned char *m[3];
            for (int i = 0; i < n; i++) {
                int inc;
                float tau = ref_tau(w[i], N, &t[q], &inc);
                m[i] = ref_mask(w[i], N, tau, inc);
                CHECK(r.task[q * n + i].tau == tau, "%s %lldx%lld task %d: tau %.9g vs %.9g",
                      specs[q], (long long)shapes[s][0], (long long)shapes[s][1], i,
                      r.task[q * n + i].tau, tau);
                CHECK(rr.task[q * n + i].tau == tau, "ref kernels: tau %.9g vs %.9g",
                      rr.task[q * n + i].tau, tau);
            }
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    int64_t c = 0;
                    for (size_t e = 0; e < N; e++)
                        c += m[i][e] & m[j][e];
                    int64_t got = r.both[(size_t)q * 9 + (size_t)(i * n + j)];
                    int64_t got2 = rr.both[(size_t)q * 9 + (size_t)(i * n + j)];
                    CHECK(got == c && got2 == c, "%s %lldx%lld pair %d,%d: %lld / %lld vs %lld",
                          specs[q], (long long)shapes[s][0], (long long)shapes[s][1], i, j,
                          (long long)got, (long long)got2, (long long)c);
                }
            for (int i = 0; i < n; i++)
                free(m[i]);
        }
        for (int i = 0; i < n; i++) {
            double l1 = 0, sq = 0;
            for (size_t e = 0; e < N; e++) {
                l1 += fabsf(w[i][e]);
                sq += (double)w[i][e] * w[i][e];
            }
            CHECK_NEAR(r.l1[i], l1, 1e-12, 0, "l1");
            CHECK_NEAR(r.sumsq[i], sq, 1e-12, 0, "sum of squares");
            free(w[i]);
            cl_lowrank_free(&u[i]);
        }
        cl_dense_result_free(&r);
        cl_dense_result_free(&rr);
    }
    cl_backend_close(ref);
}

/* Orthogonality on hand-built subspaces. */
static void test_ortho_closed_form(void)
{
    enum { D = 6 };
    float e[4][D] = {{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}, {0, 0, 0, 1, 0, 0}};
    float A1[2 * D], A2[2 * D], A3[2 * D], B[D * 2] = {1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(A1, e[0], sizeof e[0]);
    memcpy(A1 + D, e[1], sizeof e[0]);
    memcpy(A2, e[2], sizeof e[0]);
    memcpy(A2 + D, e[3], sizeof e[0]);
    /* A3: rows (e1 + e3)/sqrt2 and e4: principal angles cos^2 = {1/2, 0} vs A1 */
    for (int j = 0; j < D; j++)
        A3[j] = (e[0][j] + e[2][j]) / sqrtf(2.f);
    memcpy(A3 + D, e[3], sizeof e[0]);
    cl_lowrank a = mk(D, D, 2, 1.0, B, A1), b = mk(D, D, 2, 1.0, B, A2), c = mk(D, D, 2, 1.0, B, A3);
    cl_ortho o;
    cl_error err;
    CHECK(cl_ortho_pair(&a, &a, &o, &err) == CL_OK, "%s", err.msg);
    CHECK_NEAR(o.oo, 2, 1e-12, 0, "OO of identical orthonormal A");
    CHECK_NEAR(o.sim_a, 1, 1e-12, 0, "identical subspaces");
    CHECK_NEAR(o.cosine, 1, 1e-12, 0, "cosine with itself");
    cl_ortho_pair(&a, &b, &o, &err);
    CHECK_NEAR(o.oo, 0, 0, 1e-15, "OO of orthogonal A");
    CHECK_NEAR(o.sim_a, 0, 0, 1e-15, "orthogonal subspaces");
    CHECK_NEAR(o.sim_b, 1, 1e-12, 0, "same B column space");
    CHECK_NEAR(o.inner, 0, 0, 1e-15, "inner product");
    cl_ortho_pair(&a, &c, &o, &err);
    CHECK_NEAR(o.sim_a, 0.25, 1e-6, 0, "half-overlapping subspace");
    CHECK_NEAR(o.oo, 0.5, 1e-6, 0, "OO half overlap");
    /* The paper's caveat: dW1 = E_11, dW2 = E_12 never collide and have zero
     * Frobenius inner product, yet dW1^T dW2 = E_12: AWOM 1. */
    float b1[D] = {1, 0, 0, 0, 0, 0}, a1[D] = {1, 0, 0, 0, 0, 0}, a2[D] = {0, 1, 0, 0, 0, 0};
    cl_lowrank p = mk(D, D, 1, 1.0, b1, a1), q = mk(D, D, 1, 1.0, b1, a2);
    cl_ortho_pair(&p, &q, &o, &err);
    CHECK_NEAR(o.awom, 1, 1e-12, 0, "AWOM of E11 and E12: (E11)^T E12 = E12");
    CHECK_NEAR(o.cosine, 0, 0, 1e-15, "cosine E11, E12");
    float b2[D] = {0, 1, 0, 0, 0, 0};
    cl_lowrank r1 = mk(D, D, 1, 1.0, b1, a1), r2 = mk(D, D, 1, 1.0, b1, a1);
    memcpy(r2.B, b2, sizeof b2); /* dW2 = E_21: dW1^T dW2 = E_11 E_21 = 0 */
    cl_ortho_pair(&r1, &r2, &o, &err);
    CHECK_NEAR(o.awom, 0, 0, 1e-15, "AWOM E11, E21");
    /* scales enter squared: (E_11)^T (3 E_12) = 3 E_12 */
    cl_lowrank s1 = mk(D, D, 1, 1.0, b1, a1), s2 = mk(D, D, 1, 3.0, b1, a2);
    cl_ortho_pair(&s1, &s2, &o, &err);
    CHECK_NEAR(o.awom, 9, 1e-12, 0, "AWOM (E11)^T (3 E12) = 3 E12 -> 9");
    double in;
    CHECK(cl_frobenius_inner(&s1, &s1, &in, &err) == CL_OK, "%s", err.msg);
    CHECK_NEAR(in, 1, 1e-15, 0, "||E11||^2");
    cl_lowrank *all[] = {&a, &b, &c, &p, &q, &r1, &r2, &s1, &s2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cl_lowrank_free(all[i]);
}

/* Spectrum of B = [3 e1, 2 e2], A = [e1; e2] scaled by s. */
static void test_spectrum_closed_form(void)
{
    float B[4 * 2] = {3, 0, 0, 2, 0, 0, 0, 0}, A[2 * 5] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    cl_lowrank u = mk(4, 5, 2, 0.5, B, A);
    cl_spectrum sp;
    cl_error err;
    CHECK(cl_spectrum_compute(&u, 0.01, &sp, &err) == CL_OK, "%s", err.msg);
    CHECK(sp.k == 2, "k %d", sp.k);
    CHECK_NEAR(sp.sigma[0], 1.5, 1e-14, 0, "sigma1");
    CHECK_NEAR(sp.sigma[1], 1.0, 1e-14, 0, "sigma2");
    CHECK_NEAR(sp.nuclear, 2.5, 1e-14, 0, "nuclear");
    CHECK_NEAR(sp.frobenius, sqrt(3.25), 1e-14, 0, "frobenius");
    CHECK_NEAR(sp.spectral, 1.5, 1e-14, 0, "spectral");
    CHECK(sp.count == 2, "count %d", sp.count);
    double p1 = 0.6, p2 = 0.4;
    CHECK_NEAR(sp.entropy_rank, exp(-(p1 * log(p1) + p2 * log(p2))), 1e-14, 0, "entropy rank");
    CHECK_NEAR(sp.stable_rank, 3.25 / 2.25, 1e-14, 0, "stable rank");
    cl_spectrum_free(&sp);
    CHECK(cl_spectrum_compute(&u, 0.7, &sp, &err) == CL_OK && sp.count == 1,
          "rank-tol 0.7 keeps only sigma1 (2/3 < 0.7): %d", sp.count);
    cl_spectrum_free(&sp);
    /* rank deficient: B with a zero column */
    u.B[3] = 0;
    CHECK(cl_spectrum_compute(&u, 0.01, &sp, &err) == CL_OK && sp.count == 1, "rank 1: %d",
          sp.count);
    CHECK_NEAR(sp.sigma[1], 0, 0, 1e-14, "zero sigma");
    cl_spectrum_free(&sp);
    cl_lowrank_free(&u);
}

static void dense_svd(const double *w, int m, int n, double *s)
{
    double *c = malloc(sizeof *c * (size_t)(m * n));
    memcpy(c, w, sizeof *c * (size_t)(m * n));
    LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', m, n, c, n, s, NULL, m, NULL, n);
    free(c);
}

/* Orthonormal basis of the column space of X (m x k, row-major) by SVD. */
static double *dense_basis(const double *X, int m, int k, int *q)
{
    double *c = malloc(sizeof *c * (size_t)(m * k)), *U = malloc(sizeof *U * (size_t)(m * k));
    double *s = malloc(sizeof *s * (size_t)k), *VT = malloc(sizeof *VT * (size_t)(k * k));
    double *sup = malloc(sizeof *sup * (size_t)k);
    memcpy(c, X, sizeof *c * (size_t)(m * k));
    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'N', m, k, c, k, s, U, k, VT, k, sup);
    *q = 0;
    while (*q < k && s[*q] > 1e-10 * s[0])
        (*q)++;
    double *Q = malloc(sizeof *Q * (size_t)(m * *q));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < *q; j++)
            Q[i * *q + j] = U[i * k + j];
    free(c), free(U), free(s), free(VT), free(sup);
    return Q;
}

static double dense_sim(const double *X, const double *Y, int m, int kx, int ky)
{
    int qx, qy;
    double *P = dense_basis(X, m, kx, &qx), *Q = dense_basis(Y, m, ky, &qy);
    double *C = calloc((size_t)(qx * qy), sizeof *C), *s = malloc(sizeof *s * (size_t)(qx + qy));
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qx, qy, m, 1, P, qx, Q, qy, 0, C, qy);
    dense_svd(C, qx, qy, s);
    int mn = qx < qy ? qx : qy;
    double t = 0;
    for (int i = 0; i < mn; i++)
        t += s[i] * s[i];
    free(P), free(Q), free(C), free(s);
    return t / mn;
}

/* Factored SVD, inner products, AWOM and similarities equal the dense
 * computation on random matrices within 1e-5 relative. */
static void test_factored_vs_dense(void)
{
    cl_rng g;
    cl_rng_seed(&g, 3);
    for (int trial = 0; trial < 6; trial++) {
        int m = 20 + 17 * trial, n = 15 + 23 * trial, k1 = 1 + trial % 5, k2 = 2 + trial % 3;
        cl_lowrank a, b;
        ref_random(&a, m, n, k1, 0.5 + trial, &g);
        ref_random(&b, m, n, k2, 2.0, &g);
        double *wa = ref_dense_d(&a), *wb = ref_dense_d(&b);
        /* spectrum */
        double *s = calloc((size_t)(m < n ? m : n), sizeof *s);
        dense_svd(wa, m, n, s);
        cl_spectrum sp;
        cl_error err;
        CHECK(cl_spectrum_compute(&a, 0.01, &sp, &err) == CL_OK, "%s", err.msg);
        for (int i = 0; i < sp.k; i++)
            CHECK_NEAR(sp.sigma[i], s[i], 1e-5, 1e-9 * s[0], "singular value");
        cl_spectrum_free(&sp);
        /* inner, cosine, AWOM */
        double inner = 0, na = 0, nb = 0;
        for (int i = 0; i < m * n; i++) {
            inner += wa[i] * wb[i];
            na += wa[i] * wa[i];
            nb += wb[i] * wb[i];
        }
        double *P = calloc((size_t)(n * n), sizeof *P);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, m, 1, wa, n, wb, n, 0, P, n);
        double awom = 0;
        for (int i = 0; i < n * n; i++)
            awom += P[i] * P[i];
        cl_ortho o;
        CHECK(cl_ortho_pair(&a, &b, &o, &err) == CL_OK, "%s", err.msg);
        CHECK_NEAR(o.inner, inner, 1e-5, 1e-9 * sqrt(na * nb), "Frobenius inner product");
        CHECK_NEAR(o.cosine, inner / sqrt(na * nb), 1e-5, 1e-9, "cosine");
        CHECK_NEAR(o.awom, awom, 1e-5, 0, "AWOM");
        /* OO from A alone; similarities of A rows and B columns */
        double oo = 0;
        for (int i = 0; i < k1; i++)
            for (int j = 0; j < k2; j++) {
                double d = 0;
                for (int c = 0; c < n; c++)
                    d += (double)a.A[i * n + c] * b.A[j * n + c];
                oo += d * d;
            }
        CHECK_NEAR(o.oo, oo, 1e-10, 0, "OO");
        double *at = malloc(sizeof *at * (size_t)(n * k1)), *bt = malloc(sizeof *bt * (size_t)(n * k2));
        for (int i = 0; i < k1; i++)
            for (int c = 0; c < n; c++)
                at[c * k1 + i] = a.A[i * n + c];
        for (int i = 0; i < k2; i++)
            for (int c = 0; c < n; c++)
                bt[c * k2 + i] = b.A[i * n + c];
        CHECK_NEAR(o.sim_a, dense_sim(at, bt, n, k1, k2), 1e-5, 1e-12, "similarity of A rows");
        double *ba = malloc(sizeof *ba * (size_t)(m * k1)), *bb = malloc(sizeof *bb * (size_t)(m * k2));
        for (int i = 0; i < m * k1; i++)
            ba[i] = a.B[i];
        for (int i = 0; i < m * k2; i++)
            bb[i] = b.B[i];
        CHECK_NEAR(o.sim_b, dense_sim(ba, bb, m, k1, k2), 1e-5, 1e-12, "similarity of B columns");
        /* accumulated update */
        cl_lowrank both[2] = {a, b}, acc;
        CHECK(cl_lowrank_stack(both, 2, &acc, &err) == CL_OK, "%s", err.msg);
        double *ws = calloc((size_t)(m * n), sizeof *ws);
        for (int i = 0; i < m * n; i++)
            ws[i] = wa[i] + wb[i];
        dense_svd(ws, m, n, s);
        CHECK(cl_spectrum_compute(&acc, 0.01, &sp, &err) == CL_OK, "%s", err.msg);
        for (int i = 0; i < sp.k; i++)
            CHECK_NEAR(sp.sigma[i], s[i], 1e-5, 1e-6 * s[0], "accumulated singular value");
        cl_spectrum_free(&sp);
        cl_lowrank_free(&acc);
        free(at), free(bt), free(ba), free(bb), free(ws);
        free(P), free(s), free(wa), free(wb);
        cl_lowrank_free(&a);
        cl_lowrank_free(&b);
    }
}

static void test_sparsity(void)
{
    cl_sparsity s = cl_sparsity_from_sums(3, 9, 100); /* one entry of 3 */
    CHECK_NEAR(s.hoyer, 1, 1e-15, 0, "single entry: Hoyer 1");
    s = cl_sparsity_from_sums(100, 100, 100); /* all ones */
    CHECK_NEAR(s.hoyer, 0, 0, 1e-15, "all equal: Hoyer 0");
    CHECK_NEAR(s.l1_over_l2, 10, 1e-15, 0, "l1/l2");
    s = cl_sparsity_from_sums(0, 0, 100);
    CHECK(isnan(s.hoyer), "zero update: Hoyer undefined");
}

static void test_forgetting(void)
{
    const double N = NAN;
    /* 3 tasks; R[i][j] after task i on task j */
    double R[9] = {0.8, 0.1, 0.2,  /* after task 0 */
                   0.6, 0.9, 0.3,  /* after task 1 */
                   0.5, 0.7, 0.95};
    double b[3] = {0.1, 0.2, 0.25};
    cl_forgetting f;
    cl_error err;
    CHECK(cl_forgetting_compute(R, b, 3, &f, &err) == CL_OK, "%s", err.msg);
    CHECK(f.tasks == 3, "tasks %d", f.tasks);
    CHECK_NEAR(f.aa, (0.5 + 0.7 + 0.95) / 3, 1e-15, 0, "AA");
    CHECK_NEAR(f.la, (0.8 + 0.9 + 0.95) / 3, 1e-15, 0, "LA");
    CHECK_NEAR(f.bwt, ((0.5 - 0.8) + (0.7 - 0.9)) / 2, 1e-15, 0, "BWT");
    CHECK_NEAR(f.forget_max, ((0.8 - 0.5) + (0.9 - 0.7)) / 2, 1e-15, 0, "forgetting (max)");
    CHECK_NEAR(f.forget_first, ((0.8 - 0.5) + (0.9 - 0.7)) / 2, 1e-15, 0, "forgetting (first)");
    CHECK_NEAR(f.fwt, ((0.1 - 0.2) + (0.3 - 0.25)) / 2, 1e-15, 0, "FWT");
    /* max and first differ when accuracy rises after learning */
    double R2[9] = {0.5, N, N, 0.9, 0.8, N, 0.4, 0.6, 0.7};
    CHECK(cl_forgetting_compute(R2, NULL, 3, &f, &err) == CL_OK, "%s", err.msg);
    CHECK_NEAR(f.forget_max, ((0.9 - 0.4) + (0.8 - 0.6)) / 2, 1e-15, 0, "max over earlier rows");
    CHECK_NEAR(f.forget_first, ((0.5 - 0.4) + (0.8 - 0.6)) / 2, 1e-15, 0, "first minus last");
    CHECK(isnan(f.fwt), "FWT without baselines");
    /* a run stopped after two tasks: metrics on the leading 2 x 2 block */
    double R3[9] = {0.8, 0.3, 0.2, 0.6, 0.9, 0.1, N, N, N};
    CHECK(cl_forgetting_compute(R3, b, 3, &f, &err) == CL_OK && f.tasks == 2, "partial");
    CHECK_NEAR(f.aa, 0.75, 1e-15, 0, "partial AA");
    CHECK_NEAR(f.bwt, -0.2, 1e-15, 0, "partial BWT");
}

int main(void)
{
    check_begin("test_metrics");
    cl_error err;
    if (cl_backend_open("cpu", &be, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_collision_supports();
    test_threshold_modes();
    test_default_on_gaussian();
    test_dense_pass_vs_reference();
    test_ortho_closed_form();
    test_spectrum_closed_form();
    test_factored_vs_dense();
    test_sparsity();
    test_forgetting();
    cl_backend_close(be);
    return check_done();
}
