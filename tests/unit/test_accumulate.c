/*
 * test_accumulate.c -- the accumulators of cl_metrics.h (a metric family
 * over the modules of a view) against a direct computation, and
 * cl_store_summary against the tools that print the same numbers.
 *
 * usage: test_accumulate [BINDIR] (default: the folder it runs from, where
 * its variant's tools are)
 *
 * 1. Three tasks on five modules of different shapes, one task's update zero
 *    on one module (so Jaccard, lift, Hoyer, cosine and sim_b are undefined
 *    there), at two thresholds: each dW is formed densely (tests/dense_ref.h),
 *    thresholded and counted by sorting, its spectrum taken by a dense SVD,
 *    its inner products summed entry by entry; the means over modules, the
 *    pooled values and the averages over pairs are then formed here in the
 *    plainest way and compared with what the accumulators give when fed the
 *    library's per-module results. Counts must be equal; sums agree to
 *    rounding.
 * 2. cl_store_summary on a synthetic store at three thresholds equals, to the
 *    last bit (JSON keeps 17 digits), the ACR, density, OO, nuclear norm and
 *    Hoyer numbers collide-collision, -ortho, -subspace and -sparsity print
 *    for the same view: one accumulator gives both.
 */
#include "check.h"
#include "dense_ref.h"
#include "collide.h"

#include <jansson.h>
#include <lapacke.h>
#include <libgen.h>
#include <unistd.h>

enum { T = 3, M = 5, NTH = 2 };

static char bindir[1024], tmp[64];
static cl_backend *be;

static const int64_t shape[M][2] = {{24, 20}, {16, 32}, {30, 30}, {8, 40}, {20, 12}};
static const char *th_spec[NTH] = {"energy:0.9", "abs:0.5"};

/* Task t on module m: random, ranks 2..4; task 1 zero on module 3. */
static void make_module(int m, cl_rng *g, cl_lowrank *u)
{
    for (int t = 0; t < T; t++) {
        ref_random(&u[t], shape[m][0], shape[m][1], 2 + t, 0.5 + 0.25 * t, g);
        if (m == 3 && t == 1)
            memset(u[t].B, 0, (size_t)u[t].d_out * (size_t)u[t].k * sizeof(float));
    }
}

/* ------------------------------------------------------------ directly */

typedef struct direct {
    /* [th][i][j] and [th][i]: counts over modules */
    int64_t both[NTH][T][T], active[NTH][T], entries;
    double rate_sum[NTH][T][T], jac_sum[NTH][T][T], lift_sum[NTH][T][T];
    int jac_n[NTH][T][T], lift_n[NTH][T][T];
    double frac_sum[NTH][T];
    double l1[T], sumsq[T], hoyer_sum[T];
    double oo[T][T], awom[T][T], inner[T][T], sim_a[T][T], sim_b[T][T], cosine[T][T];
    int sim_a_n[T][T], sim_b_n[T][T], cosine_n[T][T];
    double nuclear[T + 1], frob[T + 1], spectral[T + 1], count[T + 1], entropy[T + 1],
        stable[T + 1];
    double sigma[T + 1][64];
    int sigma_n[T + 1][64];
} direct;

static void dense_svd(double *w, int m, int n, double *s)
{
    int k = m < n ? m : n;
    double *sup = malloc(sizeof *sup * (size_t)k);
    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', m, n, w, n, s, NULL, 1, NULL, 1, sup);
    free(sup);
}

/* The spectrum's numbers of dense w (m x n), the first kk singular values
 * (the factored spectrum has min(k, m, n)). */
static void direct_spectrum(direct *d, int slot, double *w, int m, int n, int kk)
{
    double s[64] = {0};
    dense_svd(w, m, n, s);
    double sum = 0, sq = 0, h = 0;
    for (int q = 0; q < kk; q++)
        sum += s[q], sq += s[q] * s[q];
    int count = 0;
    for (int q = 0; q < kk; q++) {
        count += s[0] > 0 && s[q] > 0.01 * s[0];
        double p = sum > 0 ? s[q] / sum : 0;
        h -= p > 0 ? p * log(p) : 0;
        d->sigma[slot][q] += s[q];
        d->sigma_n[slot][q]++;
    }
    d->nuclear[slot] += sum;
    d->frob[slot] += sqrt(sq);
    d->spectral[slot] += s[0];
    d->count[slot] += count;
    d->entropy[slot] += sum > 0 ? exp(h) : 0;
    d->stable[slot] += s[0] > 0 ? sq / (s[0] * s[0]) : 0;
}

static void direct_module(direct *d, const cl_lowrank *u, const cl_threshold *th)
{
    size_t n = (size_t)u[0].d_out * (size_t)u[0].d_in;
    d->entries += (int64_t)n;
    float *w[T];
    double *wd[T];
    unsigned char *mask[NTH][T];
    for (int t = 0; t < T; t++) {
        w[t] = ref_form(&u[t]);
        wd[t] = ref_dense_d(&u[t]);
        for (int q = 0; q < NTH; q++) {
            int incl;
            float tau = ref_tau(w[t], n, &th[q], &incl);
            mask[q][t] = ref_mask(w[t], n, tau, incl);
        }
    }
    /* activity and collision */
    for (int q = 0; q < NTH; q++)
        for (int i = 0; i < T; i++) {
            int64_t ai = 0;
            for (size_t e = 0; e < n; e++)
                ai += mask[q][i][e];
            d->active[q][i] += ai;
            d->frac_sum[q][i] += (double)ai / (double)n;
            for (int j = 0; j < T; j++) {
                int64_t b = 0, aj = 0;
                for (size_t e = 0; e < n; e++) {
                    b += mask[q][i][e] && mask[q][j][e];
                    aj += mask[q][j][e];
                }
                d->both[q][i][j] += b;
                double rate = (double)b / (double)n;
                d->rate_sum[q][i][j] += rate;
                if (ai + aj - b > 0)
                    d->jac_sum[q][i][j] += (double)b / (double)(ai + aj - b), d->jac_n[q][i][j]++;
                if (ai > 0 && aj > 0)
                    d->lift_sum[q][i][j] += rate * (double)n * (double)n / ((double)ai * (double)aj),
                        d->lift_n[q][i][j]++;
            }
        }
    /* sparsity, from the float dW the dense pass forms */
    for (int t = 0; t < T; t++) {
        double l1 = 0, sq = 0;
        for (size_t e = 0; e < n; e++)
            l1 += fabs((double)w[t][e]), sq += (double)w[t][e] * w[t][e];
        d->l1[t] += l1;
        d->sumsq[t] += sq;
        if (sq > 0) {
            double rn = sqrt((double)n);
            d->hoyer_sum[t] += (rn - l1 / sqrt(sq)) / (rn - 1);
        }
    }
    /* orthogonality: OO from A, inner products and AWOM from the dense dW,
     * the similarities pair by pair */
    cl_error err;
    int64_t di = u[0].d_in, dout = u[0].d_out;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            double oo = 0;
            for (int a = 0; a < u[i].k; a++)
                for (int b = 0; b < u[j].k; b++) {
                    double x = 0;
                    for (int64_t c = 0; c < di; c++)
                        x += (double)u[i].A[a * di + c] * u[j].A[b * di + c];
                    oo += x * x;
                }
            d->oo[i][j] += oo;
            double in = 0, ni = 0, nj = 0;
            for (size_t e = 0; e < n; e++)
                in += wd[i][e] * wd[j][e], ni += wd[i][e] * wd[i][e], nj += wd[j][e] * wd[j][e];
            d->inner[i][j] += in;
            if (ni > 0 && nj > 0)
                d->cosine[i][j] += in / sqrt(ni * nj), d->cosine_n[i][j]++;
            double awom = 0;
            for (int64_t a = 0; a < di; a++)
                for (int64_t b = 0; b < di; b++) {
                    double x = 0;
                    for (int64_t r = 0; r < dout; r++)
                        x += wd[i][r * di + a] * wd[j][r * di + b];
                    awom += x * x;
                }
            d->awom[i][j] += awom;
            cl_ortho o;
            CHECK(cl_ortho_pair(&u[i], &u[j], &o, &err) == CL_OK, "%s", err.msg);
            if (!isnan(o.sim_a))
                d->sim_a[i][j] += o.sim_a, d->sim_a_n[i][j]++;
            if (!isnan(o.sim_b))
                d->sim_b[i][j] += o.sim_b, d->sim_b_n[i][j]++;
        }
    /* spectra: each task's and the accumulated update's */
    double *sum = calloc(n, sizeof *sum);
    int ksum = 0;
    for (int t = 0; t < T; t++) {
        for (size_t e = 0; e < n; e++)
            sum[e] += wd[t][e];
        ksum += u[t].k;
        int kk = u[t].k < dout ? u[t].k : (int)dout;
        direct_spectrum(d, t, wd[t], (int)dout, (int)di, kk < di ? kk : (int)di);
    }
    int kk = ksum < dout ? ksum : (int)dout;
    direct_spectrum(d, T, sum, (int)dout, (int)di, kk < di ? kk : (int)di);
    free(sum);
    for (int t = 0; t < T; t++) {
        free(w[t]);
        free(wd[t]);
        for (int q = 0; q < NTH; q++)
            free(mask[q][t]);
    }
}

/* ------------------------------------------------------------ accumulators */

static void test_accumulators(void)
{
    cl_threshold th[NTH];
    cl_error err;
    for (int q = 0; q < NTH; q++)
        CHECK(cl_threshold_parse(th_spec[q], &th[q], &err) == CL_OK, "%s", err.msg);
    cl_collision_acc coll;
    cl_density_acc dens;
    cl_sparsity_acc spar;
    cl_ortho_acc orth;
    cl_subspace_acc sub;
    CHECK(cl_collision_acc_init(&coll, T, NTH, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_density_acc_init(&dens, T, NTH, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_sparsity_acc_init(&spar, T, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_ortho_acc_init(&orth, T, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_subspace_acc_init(&sub, T, 1, &err) == CL_OK, "%s", err.msg);
    direct *d = calloc(1, sizeof *d);
    cl_rng g;
    cl_rng_seed(&g, 16);
    for (int m = 0; m < M; m++) {
        cl_lowrank u[T];
        make_module(m, &g, u);
        direct_module(d, u, th);
        cl_dense_result r;
        CHECK(cl_dense_pass(be, u, T, th, NTH, &r, &err) == CL_OK, "%s", err.msg);
        CHECK(cl_collision_acc_add(&coll, &r, &err) == CL_OK, "%s", err.msg);
        CHECK(cl_density_acc_add(&dens, &r, &err) == CL_OK, "%s", err.msg);
        CHECK(cl_sparsity_acc_add(&spar, &r, &err) == CL_OK, "%s", err.msg);
        cl_dense_result_free(&r);
        cl_ortho o[T * T];
        CHECK(cl_ortho_module(u, T, o, &err) == CL_OK, "%s", err.msg);
        CHECK(cl_ortho_acc_add(&orth, o, &err) == CL_OK, "%s", err.msg);
        cl_spectrum sp[T + 1];
        cl_lowrank all;
        for (int t = 0; t < T; t++)
            CHECK(cl_spectrum_compute(&u[t], 0.01, &sp[t], &err) == CL_OK, "%s", err.msg);
        CHECK(cl_lowrank_stack(u, T, &all, &err) == CL_OK, "%s", err.msg);
        CHECK(cl_spectrum_compute(&all, 0.01, &sp[T], &err) == CL_OK, "%s", err.msg);
        CHECK(cl_subspace_acc_add(&sub, sp, &sp[T], &err) == CL_OK, "%s", err.msg);
        cl_lowrank_free(&all);
        for (int t = 0; t <= T; t++)
            cl_spectrum_free(&sp[t]);
        for (int t = 0; t < T; t++)
            cl_lowrank_free(&u[t]);
    }
    cl_collision_acc_finish(&coll);
    cl_density_acc_finish(&dens);
    cl_sparsity_acc_finish(&spar);
    cl_ortho_acc_finish(&orth);
    cl_subspace_acc_finish(&sub);
    const double R = 1e-12; /* sums in another order */
    int pairs = T * (T - 1) / 2;
    CHECK(coll.pairs == pairs && orth.pairs == pairs, "pairs %d %d", coll.pairs, orth.pairs);
    CHECK(coll.density.modules == M && spar.modules == M && orth.modules == M &&
              sub.modules == M && dens.modules == M,
          "modules");
    CHECK(coll.density.entries == d->entries && spar.entries == d->entries, "entries %lld",
          (long long)coll.density.entries);

    /* density and collision */
    for (int q = 0; q < NTH; q++) {
        double acr_m = 0, acr_p = 0, dm = 0;
        for (int i = 0; i < T; i++) {
            int at = q * T + i;
            CHECK(coll.density.active[at] == d->active[q][i] && dens.active[at] == d->active[q][i],
                  "active %lld vs %lld", (long long)coll.density.active[at],
                  (long long)d->active[q][i]);
            CHECK_NEAR(coll.density.mean[at], d->frac_sum[q][i] / M, R, 0, "density mean");
            CHECK(dens.mean[at] == coll.density.mean[at], "density: one accumulator");
            CHECK_NEAR(coll.density.pooled[at], (double)d->active[q][i] / (double)d->entries, R,
                       0, "density pooled");
            dm += d->frac_sum[q][i] / M / T;
            for (int j = 0; j < T; j++) {
                const cl_collision *mean = &coll.mean[(q * T + i) * T + j];
                const cl_collision *pool = &coll.pooled[(q * T + i) * T + j];
                int64_t b = d->both[q][i][j], ai = d->active[q][i], aj = d->active[q][j];
                double N = (double)d->entries;
                CHECK(coll.both[(q * T + i) * T + j] == b, "both");
                CHECK_NEAR(mean->rate, d->rate_sum[q][i][j] / M, R, 0, "CR mean");
                CHECK_NEAR(mean->jaccard,
                           d->jac_n[q][i][j] ? d->jac_sum[q][i][j] / d->jac_n[q][i][j] : NAN, R, 0,
                           "Jaccard mean");
                CHECK_NEAR(mean->lift,
                           d->lift_n[q][i][j] ? d->lift_sum[q][i][j] / d->lift_n[q][i][j] : NAN,
                           R, 0, "lift mean");
                CHECK_NEAR(pool->rate, (double)b / N, R, 0, "CR pooled");
                CHECK_NEAR(pool->jaccard, (double)b / (double)(ai + aj - b), R, 0,
                           "Jaccard pooled");
                CHECK_NEAR(pool->lift, (double)b * N / ((double)ai * (double)aj), R, 0,
                           "lift pooled");
                if (j > i)
                    acr_m += d->rate_sum[q][i][j] / M / pairs, acr_p += (double)b / N / pairs;
            }
        }
        CHECK_NEAR(coll.acr_mean[q], acr_m, R, 0, "ACR mean");
        CHECK_NEAR(coll.acr_pooled[q], acr_p, R, 0, "ACR pooled");
        CHECK_NEAR(coll.density.task_mean[q], dm, R, 0, "density, mean over tasks");
    }
    /* the zero update: module 3 leaves task 1's Jaccard with itself, and its
     * lift with anything, to the other four modules */
    CHECK(d->jac_n[0][1][1] == M - 1 && d->lift_n[0][0][1] == M - 1, "the zero update");

    /* sparsity */
    double hm = 0;
    for (int t = 0; t < T; t++) {
        CHECK_NEAR(spar.pooled[t].l1, d->l1[t], 1e-9, 0, "l1 pooled");
        CHECK_NEAR(spar.pooled[t].l2, sqrt(d->sumsq[t]), 1e-9, 0, "l2 pooled");
        double rn = sqrt((double)d->entries), r12 = d->l1[t] / sqrt(d->sumsq[t]);
        CHECK_NEAR(spar.pooled[t].hoyer, (rn - r12) / (rn - 1), 1e-9, 0, "Hoyer pooled");
        CHECK_NEAR(spar.hoyer_mean[t], d->hoyer_sum[t] / M, 1e-9, 0, "Hoyer mean");
        hm += d->hoyer_sum[t] / M / T;
    }
    CHECK_NEAR(spar.hoyer_task_mean, hm, 1e-9, 0, "Hoyer, mean over tasks");

    /* orthogonality */
    double oo = 0, aw = 0, sa = 0, sb = 0, ac = 0;
    int nsa = 0, nsb = 0, nac = 0;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            const cl_ortho *s = &orth.sum[i * T + j], *mn = &orth.mean[i * T + j];
            CHECK_NEAR(s->oo, d->oo[i][j], 1e-10, 0, "OO sum");
            CHECK_NEAR(mn->oo, d->oo[i][j] / M, 1e-10, 0, "OO mean");
            CHECK_NEAR(s->inner, d->inner[i][j], 1e-6, 1e-9, "inner sum");
            CHECK_NEAR(s->awom, d->awom[i][j], 1e-6, 0, "AWOM sum");
            CHECK_NEAR(mn->cosine, d->cosine_n[i][j] ? d->cosine[i][j] / d->cosine_n[i][j] : NAN,
                       1e-6, 1e-9, "cosine mean");
            CHECK_NEAR(mn->sim_a, d->sim_a_n[i][j] ? d->sim_a[i][j] / d->sim_a_n[i][j] : NAN, R,
                       0, "similarity A mean");
            CHECK_NEAR(mn->sim_b, d->sim_b_n[i][j] ? d->sim_b[i][j] / d->sim_b_n[i][j] : NAN, R,
                       0, "similarity B mean");
            double pooled = d->inner[i][j] / sqrt(d->inner[i][i] * d->inner[j][j]);
            CHECK_NEAR(orth.cosine_pooled[i * T + j], pooled, 1e-6, 1e-9, "cosine pooled");
            if (j <= i)
                continue;
            oo += d->oo[i][j], aw += d->awom[i][j];
            double a = d->sim_a[i][j] / d->sim_a_n[i][j], b = d->sim_b[i][j] / d->sim_b_n[i][j];
            sa += a, nsa++;
            sb += b, nsb++;
            ac += fabs(pooled), nac++;
        }
    CHECK(d->sim_b_n[0][1] == M - 1 && d->cosine_n[1][2] == M - 1, "the zero update");
    CHECK_NEAR(orth.oo_total, oo, 1e-10, 0, "OO total");
    CHECK_NEAR(orth.oo_pair_mean, oo / pairs, 1e-10, 0, "OO per pair");
    CHECK_NEAR(orth.awom_total, aw, 1e-6, 0, "AWOM total");
    CHECK_NEAR(orth.sim_a_mean, sa / nsa, R, 0, "similarity A, mean over pairs");
    CHECK_NEAR(orth.sim_b_mean, sb / nsb, R, 0, "similarity B, mean over pairs");
    CHECK_NEAR(orth.abs_cosine_mean, ac / nac, 1e-6, 0, "|cosine|, mean over pairs");

    /* spectra: per task and accumulated */
    double nt = 0;
    CHECK(sub.slots == T + 1, "slots %d", sub.slots);
    for (int t = 0; t <= T; t++) {
        const cl_spectrum_sums *mn = &sub.mean[t];
        CHECK_NEAR(mn->nuclear, d->nuclear[t] / M, 1e-6, 0, "nuclear mean");
        CHECK_NEAR(sub.sum[t].nuclear, d->nuclear[t], 1e-6, 0, "nuclear sum");
        CHECK_NEAR(mn->frobenius, d->frob[t] / M, 1e-6, 0, "Frobenius mean");
        CHECK_NEAR(mn->spectral, d->spectral[t] / M, 1e-6, 0, "spectral mean");
        CHECK_NEAR(mn->count, d->count[t] / M, 0, 0, "count mean");
        CHECK_NEAR(mn->entropy_rank, d->entropy[t] / M, 1e-6, 0, "entropy rank mean");
        CHECK_NEAR(mn->stable_rank, d->stable[t] / M, 1e-6, 0, "stable rank mean");
        int w = 0;
        while (w < 64 && d->sigma_n[t][w])
            w++;
        CHECK(sub.width[t] == w, "slot %d: %d singular values, %d expected", t, sub.width[t], w);
        for (int q = 0; q < w && q < sub.width[t]; q++)
            CHECK_NEAR(sub.sigma_mean[t][q], d->sigma[t][q] / d->sigma_n[t][q], 1e-6,
                       1e-9 * d->sigma[t][0], "mean singular value");
        if (t < T)
            nt += d->nuclear[t] / M / T;
    }
    CHECK_NEAR(sub.nuclear_task_mean, nt, 1e-6, 0, "nuclear, mean over tasks");

    /* a module of the wrong shape is refused */
    cl_lowrank two[2];
    cl_rng_seed(&g, 1);
    ref_random(&two[0], 8, 8, 1, 1, &g);
    ref_random(&two[1], 8, 8, 1, 1, &g);
    cl_dense_result r;
    CHECK(cl_dense_pass(be, two, 2, th, 1, &r, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_collision_acc_add(&coll, &r, &err) == CL_ERR_ARG, "2 tasks into 3");
    CHECK(cl_sparsity_acc_add(&spar, &r, &err) == CL_ERR_ARG, "2 tasks into 3");
    cl_dense_result_free(&r);
    cl_spectrum none[T] = {{0}};
    CHECK(cl_subspace_acc_add(&sub, none, NULL, &err) == CL_ERR_ARG, "no accumulated spectrum");
    cl_lowrank_free(&two[0]);
    cl_lowrank_free(&two[1]);

    cl_collision_acc_free(&coll);
    cl_collision_acc_free(&coll); /* twice is safe */
    cl_density_acc_free(&dens);
    cl_sparsity_acc_free(&spar);
    cl_ortho_acc_free(&orth);
    cl_subspace_acc_free(&sub);
    free(d);
}

/* ------------------------------------------------------------ the tools */

/* snprintf into an array, checked for room. */
#define FMT(buf, ...) CHECK(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf, "too long")

/* A tool's --format json tables, or NULL. With a threshold, the tool's
 * dense pass runs on the CPU back end, as the summary's here. */
static json_t *tool_json(const char *tool, const char *store, const char *threshold)
{
    char cmd[2048];
    FMT(cmd, "'%s/%s' --quiet --format json%s%s '%s'", bindir, tool,
           threshold ? " --device cpu --threshold " : "", threshold ? threshold : "", store);
    FILE *f = popen(cmd, "r");
    json_error_t e;
    json_t *j = f ? json_loadf(f, 0, &e) : NULL;
    int st = f ? pclose(f) : -1;
    CHECK(j && st == 0, "'%s': status %d", cmd, st);
    json_t *t = j ? json_incref(json_object_get(j, "tables")) : NULL;
    json_decref(j);
    return t;
}

static double num(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    CHECK(json_is_number(v), "no number %s", key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The last row of a table (the last view: the one cl_store_summary takes). */
static json_t *last_row(json_t *tables, const char *table)
{
    json_t *t = json_object_get(tables, table);
    size_t n = json_array_size(t);
    CHECK(n > 0, "empty table %s", table);
    return n ? json_array_get(t, n - 1) : NULL;
}

/* The mean over the last view's tasks (task >= 0) of a per-task column, as
 * the summaries form it: the sum, then one division. */
static double task_mean(json_t *tables, const char *table, const char *col)
{
    json_t *t = json_object_get(tables, table), *row;
    double snap = num(last_row(tables, table), "snapshot"), s = 0;
    int n = 0;
    size_t i;
    json_array_foreach(t, i, row)
    {
        if (num(row, "snapshot") == snap && num(row, "task") >= 0)
            s += num(row, col), n++;
    }
    return s / n;
}

#define SAME(a, b, what)                                                                         \
    do {                                                                                         \
        double a_ = (a), b_ = (b);                                                               \
        CHECK(a_ == b_, "%s: summary %.17g, tool %.17g", what, a_, b_);                          \
    } while (0)

static void test_summary_vs_tools(void)
{
    char store[128];
    FMT(store, "%s/s.h5", tmp);
    cl_synth_spec spec;
    cl_synth_defaults(&spec);
    spec.tasks = 4;
    spec.modules = 6;
    spec.d_out = 48;
    spec.d_in = 40;
    spec.density = 0.3;
    spec.overlap = 0.3;
    spec.subspace_overlap = 0.2;
    spec.snapshots_per_task = 1;
    spec.seed = 5;
    cl_error err;
    CHECK(cl_synth_write(store, &spec, &err) == CL_OK, "%s", err.msg);
    cl_backend *cpu;
    if (cl_backend_open("cpu", &cpu, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    cl_store *s;
    if (cl_store_open(store, &s, &err)) {
        CHECK(0, "%s", err.msg);
        cl_backend_close(cpu);
        return;
    }
    json_t *ort = tool_json("collide-ortho", store, NULL);
    json_t *sub = tool_json("collide-subspace", store, NULL);
    static const char *ths[] = {"energy:0.99", "abs:0", "top:0.2"};
    for (size_t k = 0; k < sizeof ths / sizeof ths[0]; k++) {
        cl_threshold th;
        CHECK(cl_threshold_parse(ths[k], &th, &err) == CL_OK, "%s", err.msg);
        cl_summary sm;
        CHECK(cl_store_summary(s, NULL, &th, cpu, &sm, &err) == CL_OK, "%s", err.msg);
        json_t *col = tool_json("collide-collision", store, ths[k]);
        json_t *spa = tool_json("collide-sparsity", store, ths[k]);
        if (!col || !spa || !ort || !sub) {
            json_decref(col), json_decref(spa);
            break;
        }
        json_t *cs = last_row(col, "summary"), *os = last_row(ort, "summary");
        CHECK(sm.tasks == 4 && num(cs, "tasks") == 4, "tasks %d", sm.tasks);
        CHECK(sm.modules == 6 && num(cs, "modules") == 6, "modules %d", sm.modules);
        CHECK(sm.pairs == 6 && num(cs, "pairs") == 6, "pairs %d", sm.pairs);
        SAME(sm.acr_mean, num(cs, "acr_mean"), "ACR mean");
        SAME(sm.acr_pooled, num(cs, "acr_pooled"), "ACR pooled");
        SAME(sm.density_mean, num(cs, "density_mean"), "density");
        SAME(sm.density_mean, task_mean(col, "tasks", "density_mean"), "density, by task");
        SAME(sm.oo_total, num(os, "oo_total"), "OO total");
        SAME(sm.oo_pair_mean, num(os, "oo_pair_mean"), "OO per pair");
        SAME(sm.nuclear_mean, task_mean(sub, "tasks", "nuclear_mean"), "nuclear norm");
        SAME(sm.hoyer_mean, task_mean(spa, "tasks", "hoyer_mean"), "Hoyer");
        json_decref(col);
        json_decref(spa);
    }
    json_decref(ort);
    json_decref(sub);
    cl_store_close(s, NULL);
    cl_backend_close(cpu);
}

int main(int argc, char **argv)
{
    check_begin("test_accumulate");
    if (argc > 1) {
        FMT(bindir, "%s", argv[1]);
    } else {
        ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
        bindir[n > 0 ? n : 0] = 0;
        char *d = dirname(bindir);
        memmove(bindir, d, strlen(d) + 1);
    }
    cl_error err;
    if (cl_backend_open("cpu:ref", &be, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_accumulators();
    FMT(tmp, "/tmp/collide-test-accumulate-XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp");
    } else {
        test_summary_vs_tools();
        char cmd[200];
        FMT(cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "test_accumulate: could not remove %s\n", tmp);
    }
    cl_backend_close(be);
    return check_done();
}
