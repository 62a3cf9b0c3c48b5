/*
 * synth.c -- synthetic stores with controllable tasks, modules, shapes,
 * density and overlap, for demos and tests.
 *
 * Task t's update on a module is supported on rows R_t x columns C_t (the
 * stripe pattern of a sparse low-rank product): B_t is zero outside R_t and
 * A_t outside C_t, and every entry of R_t x C_t is non-zero. With a =
 * sqrt(density), |R_t| = k_r = max(1, round(a d_out)) and |C_t| = k_c =
 * max(1, round(a d_in)). Of a task's k_r rows, s_r = round(overlap k_r) are
 * a pool shared by every task of the module (drawn at random once per
 * module); the other k_r - s_r are drawn uniformly without replacement from
 * the d_out - s_r rows outside the pool, independently for each task; the
 * same for columns. Everything is drawn from the seed: another seed, other
 * supports.
 *
 * The expected collision rate of two tasks at the supports (--threshold
 * abs:0; docs/METRICS.md section 2): two tasks share the pool plus a
 * hypergeometric number of private rows, X_r ~ Hypergeometric(N_r = d_out -
 * s_r, K_r = k_r - s_r, K_r draws), E X_r = K_r^2 / N_r, and rows and
 * columns are drawn independently, so
 *
 *   E[CR] = (s_r + K_r^2 / N_r) (s_c + K_c^2 / N_c) / (d_out d_in)
 *         ~ (q a + ((1 - q) a)^2 / (1 - q a))^2     (a = sqrt(density), q = overlap)
 *
 * which is density^2 at overlap 0 (independent supports, lift 1) and density
 * at overlap 1 (one support). Pairs of tasks are uncorrelated and modules
 * independent, so the ACR over P pairs and M modules has variance Var[CR] /
 * (P M); tests/unit/test_synth.c checks both against collide-collision.
 * `subspace_overlap` mixes a shared component into every A, so
 * principal-angle similarity grows with it.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void cl_synth_defaults(cl_synth_spec *s)
{
    memset(s, 0, sizeof *s);
    s->tasks = 4;
    s->modules = 8;
    s->d_out = 256;
    s->d_in = 256;
    s->rank = 8;
    s->alpha = 16;
    s->density = 1.0;
    s->overlap = 0.5;
    s->subspace_overlap = 0.0;
    s->snapshots_per_task = 2;
    s->forgetting = 0.05;
    s->method = "synthetic";
    s->seed = 1;
}

int cl_synth_check(const cl_synth_spec *s, const char *path, cl_error *err)
{
    if (s->tasks < 1 || s->tasks > 1000)
        return cl_error_set(err, CL_ERR_ARG, "%s: --tasks %d out of range [1, 1000]", path, s->tasks);
    if (s->modules < 1 || s->modules > 100000)
        return cl_error_set(err, CL_ERR_ARG, "%s: --modules %d out of range [1, 100000]", path,
                            s->modules);
    if (s->d_out < 1 || s->d_in < 1 || s->d_out > 65536 || s->d_in > 65536)
        return cl_error_set(err, CL_ERR_ARG, "%s: --shape %lldx%lld out of range [1, 65536]", path,
                            (long long)s->d_out, (long long)s->d_in);
    if (s->rank < 1 || s->rank > 1024)
        return cl_error_set(err, CL_ERR_ARG, "%s: --rank %d out of range [1, 1024]", path, s->rank);
    if (!(s->density > 0 && s->density <= 1))
        return cl_error_set(err, CL_ERR_ARG, "%s: --density %g must be in (0, 1]", path, s->density);
    if (!(s->overlap >= 0 && s->overlap <= 1) ||
        !(s->subspace_overlap >= 0 && s->subspace_overlap <= 1))
        return cl_error_set(err, CL_ERR_ARG, "%s: overlaps must be in [0, 1]", path);
    if (s->snapshots_per_task < 0 || s->snapshots_per_task > 1000)
        return cl_error_set(err, CL_ERR_ARG, "%s: --snapshots-per-task %d out of range [0, 1000]",
                            path, s->snapshots_per_task);
    if (!(s->forgetting >= 0 && s->forgetting <= 1) || !isfinite(s->alpha))
        return cl_error_set(err, CL_ERR_ARG, "%s: --forgetting must be in [0, 1]", path);
    return CL_OK;
}

static void shuffle(int64_t *p, int64_t n, cl_rng *r)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)cl_rng_below(r, (uint64_t)i + 1);
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* Mark one task's support among n indices: the shared pool perm[0, shared)
 * and keep - shared indices drawn uniformly without replacement from
 * perm[shared, n) (a partial Fisher-Yates shuffle of a copy in work). */
static void support(const int64_t *perm, int64_t n, int64_t keep, int64_t shared, cl_rng *g,
                    int64_t *work, unsigned char *mask)
{
    memset(mask, 0, (size_t)n);
    for (int64_t i = 0; i < shared; i++)
        mask[perm[i]] = 1;
    int64_t N = n - shared, K = keep - shared;
    memcpy(work, perm + shared, (size_t)N * sizeof *work);
    for (int64_t i = 0; i < K; i++) {
        int64_t j = i + (int64_t)cl_rng_below(g, (uint64_t)(N - i));
        int64_t t = work[i];
        work[i] = work[j];
        work[j] = t;
        mask[work[i]] = 1;
    }
}

typedef struct synth_mod {
    float *A, *B; /* per task: rank x d_in, d_out x rank */
} synth_mod;

/* Task and module names, and every module's shape, rank and scale. */
static int synth_names(const cl_synth_spec *sp, char **tnames, char **mnames, int64_t *vo,
                       int64_t *vi, int32_t *vr, double *scale, cl_error *err)
{
    for (int t = 0; t < sp->tasks; t++) {
        tnames[t] = cl_alloc(32, 1, err);
        if (!tnames[t])
            return err->code;
        snprintf(tnames[t], 32, "task%d", t + 1);
    }
    for (int m = 0; m < sp->modules; m++) {
        mnames[m] = cl_alloc(48, 1, err);
        if (!mnames[m])
            return err->code;
        snprintf(mnames[m], 48, "layers.%d.attn.%c", m / 2, m % 2 ? 'v' : 'q');
        vo[m] = sp->d_out;
        vi[m] = sp->d_in;
        vr[m] = sp->rank;
        scale[m] = sp->alpha / sp->rank;
    }
    return CL_OK;
}

/* Every task's final factors, module by module (the file comment's
 * supports), drawn from g; mods[m].A and .B are the caller's to free. */
static int synth_factors(const cl_synth_spec *sp, synth_mod *mods, cl_rng *g, cl_error *err)
{
    int T = sp->tasks, M = sp->modules, r = sp->rank, rc = CL_OK;
    int64_t dout = sp->d_out, din = sp->d_in;
    int64_t *prow = cl_alloc((size_t)dout, sizeof *prow, err);
    int64_t *pcol = cl_alloc((size_t)din, sizeof *pcol, err);
    int64_t *work = cl_alloc((size_t)(dout > din ? dout : din), sizeof *work, err);
    unsigned char *mrow = cl_alloc((size_t)dout, 1, err), *mcol = cl_alloc((size_t)din, 1, err);
    float *shared = cl_alloc((size_t)r * (size_t)din, sizeof *shared, err);
    if (!prow || !pcol || !work || !mrow || !mcol || !shared) {
        rc = err->code;
        goto out;
    }
    double side = sqrt(sp->density);
    int64_t krow = (int64_t)llround(side * (double)dout), kcol = (int64_t)llround(side * (double)din);
    krow = krow < 1 ? 1 : krow;
    kcol = kcol < 1 ? 1 : kcol;
    /* the pool every task shares (the same size in every module) */
    int64_t srow = (int64_t)llround(sp->overlap * (double)krow);
    int64_t scol = (int64_t)llround(sp->overlap * (double)kcol);
    double so = sp->subspace_overlap;
    for (int m = 0; m < M; m++) {
        mods[m].A = cl_alloc((size_t)T * (size_t)r * (size_t)din, sizeof(float), err);
        mods[m].B = cl_alloc((size_t)T * (size_t)dout * (size_t)r, sizeof(float), err);
        if (!mods[m].A || !mods[m].B) {
            rc = err->code;
            goto out;
        }
        for (int64_t i = 0; i < dout; i++)
            prow[i] = i;
        for (int64_t i = 0; i < din; i++)
            pcol[i] = i;
        shuffle(prow, dout, g);
        shuffle(pcol, din, g);
        for (size_t i = 0; i < (size_t)r * (size_t)din; i++)
            shared[i] = (float)cl_rng_normal(g);
        for (int t = 0; t < T; t++) {
            float *A = mods[m].A + (size_t)t * (size_t)r * (size_t)din;
            float *B = mods[m].B + (size_t)t * (size_t)dout * (size_t)r;
            support(prow, dout, krow, srow, g, work, mrow);
            support(pcol, din, kcol, scol, g, work, mcol);
            double ka = 1.0 / sqrt((double)kcol);
            for (int q = 0; q < r; q++)
                for (int64_t j = 0; j < din; j++) {
                    double own = cl_rng_normal(g);
                    double v = sqrt(1 - so) * own + sqrt(so) * shared[(size_t)q * (size_t)din + (size_t)j];
                    A[(size_t)q * (size_t)din + (size_t)j] = mcol[j] ? (float)(ka * v) : 0.0f;
                }
            for (int64_t i = 0; i < dout; i++)
                for (int q = 0; q < r; q++) {
                    double v = 0.05 * cl_rng_normal(g);
                    B[(size_t)i * (size_t)r + (size_t)q] = mrow[i] ? (float)v : 0.0f;
                }
        }
    }
out:
    free(prow), free(pcol), free(work), free(mrow), free(mcol), free(shared);
    return rc;
}

/* The snapshots of every task: B grows towards its final value, periodic
 * snapshots, then the end of the task. */
static int synth_snapshots(cl_store *st, const cl_synth_spec *sp, const synth_mod *mods,
                           const int32_t *vr, const double *scale, cl_error *err)
{
    int T = sp->tasks, M = sp->modules, r = sp->rank, K = sp->snapshots_per_task, rc = CL_OK;
    int64_t dout = sp->d_out, din = sp->d_in;
    const float **pa = cl_alloc((size_t)M, sizeof *pa, err), **pb = cl_alloc((size_t)M, sizeof *pb, err);
    float *bscaled = pa && pb ? cl_alloc((size_t)M * (size_t)dout * (size_t)r, sizeof *bscaled, err)
                              : NULL;
    if (!bscaled) {
        rc = err->code;
        goto out;
    }
    int64_t step = 0;
    for (int t = 0; t < T && !rc; t++) {
        for (int j = 1; j <= K + 1 && !rc; j++) {
            double f = (double)j / (K + 1);
            for (int m = 0; m < M; m++) {
                const float *B = mods[m].B + (size_t)t * (size_t)dout * (size_t)r;
                float *o = bscaled + (size_t)m * (size_t)dout * (size_t)r;
                for (size_t i = 0; i < (size_t)dout * (size_t)r; i++)
                    o[i] = j == K + 1 ? B[i] : (float)(f * B[i]);
                pa[m] = mods[m].A + (size_t)t * (size_t)r * (size_t)din;
                pb[m] = o;
            }
            step += 10;
            double loss = 2.0 * exp(-0.3 * j) + 0.1;
            cl_snapshot_row row = {.task = t, .epoch = j - 1, .step = step, .loss = loss,
                                   .loss_task = loss, .wall_time = 0.5 * (double)step,
                                   .kind = j == K + 1 ? CL_SNAP_END_OF_TASK : CL_SNAP_PERIODIC};
            rc = cl_store_append(st, &row, pa, pb, vr, scale, NULL, 0, err);
        }
    }
out:
    free(pa), free(pb), free(bscaled);
    return rc;
}

/* Accuracy: learned to a_j, then forgetting per later task; unseen tasks
 * sit near the chance baseline. Drawn from g. */
static int synth_accuracy(cl_store *st, const cl_synth_spec *sp, cl_rng *g, cl_error *err)
{
    int T = sp->tasks;
    double *acc = cl_alloc((size_t)T, sizeof *acc, err), *base = cl_alloc((size_t)T, sizeof *base, err);
    double *peak = cl_alloc((size_t)T, sizeof *peak, err);
    if (!acc || !base || !peak) {
        free(acc), free(base), free(peak);
        return err->code;
    }
    for (int j = 0; j < T; j++) {
        base[j] = 1.0 / (2 + j % 4);
        peak[j] = 0.75 + 0.2 * cl_rng_uniform(g);
    }
    int rc = cl_store_write_baseline(st, CL_EVAL_GENERATE, base, err);
    for (int i = 0; i < T && !rc; i++) {
        for (int j = 0; j < T; j++) {
            double v = j <= i ? peak[j] - sp->forgetting * (i - j) * (0.5 + cl_rng_uniform(g))
                              : base[j] + 0.02 * cl_rng_uniform(g);
            acc[j] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
        rc = cl_store_write_accuracy_row(st, CL_EVAL_GENERATE, i, acc, err);
    }
    free(acc);
    free(base);
    free(peak);
    return rc;
}

int cl_synth_write(const char *path, const cl_synth_spec *sp, cl_error *err)
{
    int rc = cl_synth_check(sp, path, err);
    if (rc)
        return rc;
    int T = sp->tasks, M = sp->modules, r = sp->rank;
    char **tnames = cl_alloc((size_t)T, sizeof *tnames, err);
    char **mnames = cl_alloc((size_t)M, sizeof *mnames, err);
    int64_t *vo = cl_alloc((size_t)M, sizeof *vo, err), *vi = cl_alloc((size_t)M, sizeof *vi, err);
    int32_t *vr = cl_alloc((size_t)M, sizeof *vr, err);
    double *scale = cl_alloc((size_t)M, sizeof *scale, err);
    synth_mod *mods = cl_alloc((size_t)M, sizeof *mods, err);
    cl_store *st = NULL;
    cl_atomic_file *af = NULL;
    cl_rng g;
    cl_rng_seed(&g, sp->seed);
    if (!tnames || !mnames || !vo || !vi || !vr || !scale || !mods) {
        rc = err->code;
        goto out;
    }
    if ((rc = synth_names(sp, tnames, mnames, vo, vi, vr, scale, err)) ||
        (rc = synth_factors(sp, mods, &g, err)) || (rc = cl_atomic_open(path, 1, &af, err)))
        goto out;
    char created[64];
    snprintf(created, sizeof created, "collide-synth %s", cl_version());
    cl_store_spec spec = {
        .meta = {.method = sp->method ? sp->method : "synthetic", .origin = "synthetic", .rank = r, .alpha = sp->alpha,
                 .scaling = sp->alpha / r, .scaling_rule = "alpha/r", .penalty_form = "none",
                 .seed = sp->seed, .base_model = "synthetic", .created_by = created},
        .n_tasks = T, .task_names = (const char *const *)tnames, .n_modules = M,
        .module_names = (const char *const *)mnames, .d_out = vo, .d_in = vi, .rank = vr};
    if ((rc = cl_store_create(cl_atomic_tmp_path(af), &spec, &st, err)) ||
        (rc = synth_snapshots(st, sp, mods, vr, scale, err)) ||
        (rc = synth_accuracy(st, sp, &g, err)))
        goto out;
    rc = cl_store_close(st, err);
    st = NULL;
    if (!rc) {
        rc = cl_atomic_commit(af, err);
        af = NULL;
    }
out:
    if (st)
        cl_store_close(st, NULL);
    if (af)
        cl_atomic_abort(af);
    if (mods)
        for (int m = 0; m < M; m++) {
            free(mods[m].A);
            free(mods[m].B);
        }
    if (tnames)
        for (int t = 0; t < T; t++)
            free(tnames[t]);
    if (mnames)
        for (int m = 0; m < M; m++)
            free(mnames[m]);
    free(tnames), free(mnames), free(vo), free(vi), free(vr), free(scale), free(mods);
    return rc;
}
