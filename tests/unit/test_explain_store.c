/*
 * test_explain_store.c -- collide-explain on stores whose answer is known by
 * construction (docs/METRICS.md section 8). Each task's update is a dense
 * block on random rows x columns, so its collision rate with another task
 * is |R_i & R_j| |S_i & S_j| / (d_out d_in) exactly at abs:0, and its
 * Frobenius norm is set at will. The accuracy matrix is then written so
 * that the forgetting of pair (i, j) is
 *   A: a function of the pair's collision rate (norms random, unrelated);
 *   B: a function of the later task's norm plus noise (collisions unrelated).
 * A must find collision predictive beyond the update's size, B must find the
 * norm predictive and collision not beyond it. Then the tool's JSON must
 * carry the library's numbers. Runs its own variant's collide-explain.
 */
#include "check.h"
#include "collide.h"

#include <jansson.h>
#include <libgen.h>
#include <stdint.h>
#include <unistd.h>

enum { T = 8, D = 64, K = 2, P = T * (T - 1) / 2 };

static char bindir[1024], tmp[64];

typedef struct world {
    int rows[T][D], cols[T][D]; /* membership */
    double norm[T];
    double cr[T][T];            /* exact collision rate at abs:0 */
    double f[T][T];             /* forgetting of i caused by j    */
} world;

static void supports(world *w, cl_rng *r)
{
    for (int t = 0; t < T; t++) {
        int kr = 8 + (int)cl_rng_below(r, 33), kc = 8 + (int)cl_rng_below(r, 33);
        memset(w->rows[t], 0, sizeof w->rows[t]);
        memset(w->cols[t], 0, sizeof w->cols[t]);
        for (int n = 0; n < kr;) { /* kr distinct rows */
            int x = (int)cl_rng_below(r, D);
            n += !w->rows[t][x];
            w->rows[t][x] = 1;
        }
        for (int n = 0; n < kc;) {
            int x = (int)cl_rng_below(r, D);
            n += !w->cols[t][x];
            w->cols[t][x] = 1;
        }
        w->norm[t] = 1 + 4 * cl_rng_uniform(r);
    }
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            int a = 0, b = 0;
            for (int x = 0; x < D; x++) {
                a += w->rows[i][x] && w->rows[j][x];
                b += w->cols[i][x] && w->cols[j][x];
            }
            w->cr[i][j] = (double)a * b / (D * D);
        }
}

/* The store: one module, task t's factors Gaussian on its support, scaled
 * to its norm; R[i][i] = 0.9, R[j][i] = R[j-1][i] - f[i][j]. */
static void write_store(const char *path, const world *w, cl_rng *r)
{
    const char *names[T] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};
    const char *mod[1] = {"layers.0.attn.q"};
    int64_t dout[1] = {D}, din[1] = {D};
    int32_t rank[1] = {K};
    cl_store_spec sp = {.meta = {.method = "nlora", .origin = "synthetic", .rank = K, .alpha = K,
                                 .scaling = 1, .base_model = "test", .created_by = "test"},
                        .n_tasks = T, .task_names = names, .n_modules = 1, .module_names = mod,
                        .d_out = dout, .d_in = din, .rank = rank};
    cl_store *s;
    cl_error err;
    unlink(path);
    CHECK(cl_store_create(path, &sp, &s, &err) == 0, "%s", err.msg);
    float A[K * D], B[D * K];
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < K; k++)
            for (int x = 0; x < D; x++) {
                A[k * D + x] = w->cols[t][x] ? (float)cl_rng_normal(r) : 0.0f;
                B[x * K + k] = w->rows[t][x] ? (float)cl_rng_normal(r) : 0.0f;
            }
        double fro = 0; /* ||B A||_F, formed (64 x 64) */
        for (int x = 0; x < D; x++)
            for (int y = 0; y < D; y++) {
                double v = 0;
                for (int k = 0; k < K; k++)
                    v += (double)B[x * K + k] * A[k * D + y];
                fro += v * v;
            }
        double scale[1] = {w->norm[t] / sqrt(fro)};
        const float *Ap[1] = {A}, *Bp[1] = {B};
        cl_snapshot_row row = {.task = t, .loss = NAN, .loss_task = NAN, .penalty_orth = NAN,
                               .penalty_l2 = NAN, .penalty_sparse = NAN, .wall_time = NAN,
                               .kind = CL_SNAP_END_OF_TASK};
        CHECK(cl_store_append(s, &row, Ap, Bp, rank, scale, NULL, 0, &err) == 0, "%s",
              err.msg);
    }
    double R[T][T];
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
            R[i][j] = NAN;
    for (int i = 0; i < T; i++) {
        R[i][i] = 0.9;
        for (int j = i + 1; j < T; j++)
            R[j][i] = R[j - 1][i] - w->f[i][j];
    }
    for (int i = 0; i < T; i++)
        CHECK(cl_store_write_accuracy_row(s, CL_EVAL_GENERATE, i, R[i], &err) == 0, "%s",
              err.msg);
    CHECK(cl_store_close(s, &err) == 0, "%s", err.msg);
}

static void explain(const char *path, cl_explain *e)
{
    cl_store *s;
    cl_error err;
    cl_threshold th;
    cl_threshold_parse("abs:0", &th, &err);
    cl_backend *be;
    CHECK(cl_backend_open("cpu", &be, &err) == 0, "%s", err.msg);
    CHECK(cl_store_open(path, &s, &err) == 0, "%s", err.msg);
    CHECK(cl_explain_store(s, be, &th, 1, NULL, 0, e, &err) == 0, "%s", err.msg);
    cl_store_close(s, NULL);
    cl_backend_close(be);
}

static void corr(const cl_explain *e, int k, int kind, cl_corr_stat *st)
{
    cl_error err;
    CHECK(cl_explain_corr(&e, 1, k, 0, CL_EVAL_GENERATE, kind, 500, 500, 7, st, &err) == 0, "%s",
          err.msg);
}

/* The tool's row for (measure, kind) in its JSON equals the library's. */
static void tool_matches(const char *path, const cl_explain *e)
{
    char cmd[2048], out[1 << 16];
    snprintf(cmd, sizeof cmd,
             "'%s/collide-explain' --threshold abs:0 --reps 500 --perms 500 --seed 7 --format "
             "json --device cpu '%s'",
             bindir, path);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int st = p ? pclose(p) : -1;
    CHECK(st == 0, "%s: exit %d", cmd, st);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    CHECK(j != NULL, "collide-explain JSON: %s", je.text);
    json_t *rows = json_object_get(json_object_get(j, "tables"), "correlations");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        const char *m = json_string_value(json_object_get(r, "measure"));
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (strcmp(m, "collision_rate") || strcmp(kind, "spearman"))
            continue;
        cl_corr_stat lib;
        corr(e, CL_EX_COLLISION, CL_CORR_SPEARMAN, &lib);
        CHECK_NEAR(json_number_value(json_object_get(r, "r")), lib.r, 0, 1e-12, "tool r");
        CHECK_NEAR(json_number_value(json_object_get(r, "lo")), lib.lo, 0, 1e-12, "tool lo");
        CHECK_NEAR(json_number_value(json_object_get(r, "p")), lib.p, 0, 1e-12, "tool p");
        CHECK(json_integer_value(json_object_get(r, "n")) == P, "tool n");
        seen++;
    }
    CHECK(seen == 1, "collision_rate spearman rows: %d", seen);
    json_t *pairs = json_object_get(json_object_get(j, "tables"), "pairs");
    CHECK(json_array_size(pairs) == P, "pairs rows %zu", json_array_size(pairs));
    json_decref(j);
}

static void check_pairs(const cl_explain *e, const world *w)
{
    CHECK(e->pairs == P && e->tasks == T && e->modules == 1, "shape");
    for (int p = 0; p < e->pairs; p++) {
        const cl_explain_pair *x = &e->pair[p];
        CHECK_NEAR(x->collision[0], w->cr[x->i][x->j], 0, 1e-15, "collision rate, exact");
        CHECK_NEAR(x->forgetting[CL_EVAL_GENERATE], w->f[x->i][x->j], 0, 1e-12, "forgetting");
        CHECK(isnan(x->forgetting[CL_EVAL_RANKED]), "ranked not evaluated");
        CHECK_NEAR(x->m.norm_j, w->norm[x->j], 1e-5, 0, "norm_j as built");
    }
}

/* A: forgetting grows with collision; the norms are random and unrelated. */
static void test_from_collision(void)
{
    world w;
    cl_rng r;
    cl_rng_seed(&r, 11);
    supports(&w, &r);
    double top = 0;
    for (int i = 0; i < T; i++)
        for (int j = i + 1; j < T; j++)
            top = w.cr[i][j] > top ? w.cr[i][j] : top;
    for (int i = 0; i < T; i++)
        for (int j = i + 1; j < T; j++)
            w.f[i][j] = 0.1 * w.cr[i][j] / top;
    char path[128];
    snprintf(path, sizeof path, "%s/from_collision.h5", tmp);
    write_store(path, &w, &r);
    cl_explain e;
    explain(path, &e);
    check_pairs(&e, &w);
    cl_corr_stat rho, part, nrm;
    corr(&e, CL_EX_COLLISION, CL_CORR_SPEARMAN, &rho);
    corr(&e, CL_EX_COLLISION, CL_CORR_PARTIAL_SPEARMAN, &part);
    corr(&e, CL_EX_NORM, CL_CORR_SPEARMAN, &nrm);
    CHECK_NEAR(rho.r, 1.0, 0, 1e-12, "A: spearman(collision, forgetting) = 1 by construction");
    CHECK(rho.p < 0.01 && rho.lo > 0.9, "A: p %g, lo %g", rho.p, rho.lo);
    CHECK(part.r > 0.8 && part.lo > 0, "A: partial given the norm stays: %g [%g, %g]", part.r,
          part.lo, part.hi);
    CHECK(fabs(nrm.r) < 0.6, "A: the norm is unrelated by construction: %g", nrm.r);
    char line[640];
    cl_explain_verdict("collision_rate", &rho, &part, line, sizeof line);
    CHECK_CONTAINS(line, "evidence: a larger value goes with more forgetting");
    CHECK_CONTAINS(line, "it holds given the size of the later update");
    tool_matches(path, &e);
    cl_explain_free(&e);
}

/* B: forgetting follows the later update's norm (plus noise); collisions
 * are random. Collision must not pass as predictive beyond the norm. */
static void test_from_norm(void)
{
    world w;
    cl_rng r;
    cl_rng_seed(&r, 23);
    supports(&w, &r);
    for (int i = 0; i < T; i++)
        for (int j = i + 1; j < T; j++)
            w.f[i][j] = 0.02 * w.norm[j] + 0.002 * cl_rng_normal(&r);
    char path[128];
    snprintf(path, sizeof path, "%s/from_norm.h5", tmp);
    write_store(path, &w, &r);
    cl_explain e;
    explain(path, &e);
    check_pairs(&e, &w);
    cl_corr_stat nrm, part;
    corr(&e, CL_EX_NORM, CL_CORR_SPEARMAN, &nrm);
    corr(&e, CL_EX_COLLISION, CL_CORR_PARTIAL_SPEARMAN, &part);
    CHECK(nrm.r > 0.8 && nrm.p < 0.01, "B: the norm predicts: %g p %g", nrm.r, nrm.p);
    CHECK(!(part.p < 0.05 && (part.lo > 0 || part.hi < 0)),
          "B: collision beyond the norm must not pass: %g [%g, %g] p %g", part.r, part.lo,
          part.hi, part.p);
    char line[640];
    cl_corr_stat none;
    corr(&e, CL_EX_NORM, CL_CORR_PARTIAL_SPEARMAN, &none);
    CHECK(isnan(none.r), "the norm given itself is no question");
    cl_explain_verdict("norm_j", &nrm, &none, line, sizeof line);
    CHECK_CONTAINS(line, "norm_j: evidence: a larger value goes with more forgetting");
    cl_corr_stat rho;
    corr(&e, CL_EX_COLLISION, CL_CORR_SPEARMAN, &rho);
    cl_explain_verdict("collision_rate", &rho, &part, line, sizeof line);
    CHECK(strstr(line, "it holds given") == NULL, "B: %s", line);
    cl_explain_free(&e);
}

/* Fewer pairs than the rule needs: said so, not a verdict. */
static void test_too_few(void)
{
    cl_corr_stat st = {.r = 0.9, .lo = 0.5, .hi = 1, .p = 0.01, .n = 3};
    char line[256];
    cl_explain_verdict("oo", &st, NULL, line, sizeof line);
    CHECK_CONTAINS(line, "oo: too few pairs with both values (3) to tell");
}

int main(int argc, char **argv)
{
    check_begin("test_explain_store");
    if (argc > 1) {
        snprintf(bindir, sizeof bindir, "%s", argv[1]);
    } else {
        ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
        bindir[n > 0 ? n : 0] = 0;
        char *d = dirname(bindir);
        memmove(bindir, d, strlen(d) + 1);
    }
    snprintf(tmp, sizeof tmp, "/tmp/collide-explain-XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    test_from_collision();
    test_from_norm();
    test_too_few();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return check_done();
}
