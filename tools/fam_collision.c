/* fam_collision.c -- collision rate, Jaccard and lift per task pair, their
 * averages (ACR), and the threshold sweep (docs/METRICS.md, section 2). */
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct coll {
    cli *c;
    cl_store *s;
    const cl_view *v;
    int n, n_th, nm;
    /* [threshold][i][j]: sums over modules (for means) and pooled counts */
    double *cr_sum, *jac_sum, *lift_sum;
    int *jac_n, *lift_n;
    int64_t *both;
    int64_t *active;   /* [threshold][task] */
    double *dens_sum;  /* [threshold][task] */
    int64_t entries;
    int mrow0; /* first module_pairs row of this view (--per-module text) */
} coll;

static void free_acc(coll *k)
{
    free(k->cr_sum), free(k->jac_sum), free(k->lift_sum), free(k->jac_n), free(k->lift_n);
    free(k->both), free(k->active), free(k->dens_sum);
    k->cr_sum = k->jac_sum = k->lift_sum = k->dens_sum = NULL;
    k->jac_n = k->lift_n = NULL;
    k->both = k->active = NULL;
}

static int begin(void *vc, cl_store *s, const cl_view *v, const int *mods, int nm, cl_error *err)
{
    (void)mods;
    coll *k = vc;
    k->s = s;
    k->v = v;
    k->n = v->n;
    k->nm = nm;
    k->entries = 0;
    k->mrow0 = cli_table_mark(k->c, "module_pairs");
    size_t np = (size_t)k->n_th * (size_t)v->n * (size_t)v->n, nt = (size_t)k->n_th * (size_t)v->n;
    k->cr_sum = calloc(np, sizeof(double));
    k->jac_sum = calloc(np, sizeof(double));
    k->lift_sum = calloc(np, sizeof(double));
    k->jac_n = calloc(np, sizeof(int));
    k->lift_n = calloc(np, sizeof(int));
    k->both = calloc(np, sizeof(int64_t));
    k->active = calloc(nt, sizeof(int64_t));
    k->dens_sum = calloc(nt, sizeof(double));
    if (!k->cr_sum || !k->jac_sum || !k->lift_sum || !k->jac_n || !k->lift_n || !k->both ||
        !k->active || !k->dens_sum) {
        free_acc(k);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    return CL_OK;
}

/* The columns every row starts with. */
static void row_head(cli_table *t, const coll *k, int q)
{
    cli_row_begin(t);
    cli_cell_s(t, cl_store_path(k->s));
    cli_cell_i(t, k->v->snapshot);
    cli_cell_threshold(t, &k->c->th[q]);
}

static void module_rows(coll *k, int m, const cl_dense_result *r)
{
    static const char *pc[] = {"store", "snapshot:i", "threshold", "module", "task_i:i", "task_j:i",
                               "name_i", "name_j", "collision_rate:f", "jaccard:f", "lift:f",
                               "both:i"};
    static const char *tc[] = {"store", "snapshot:i", "threshold", "module", "task:i", "name",
                               "density:f", "active:i", "tau:f"};
    cli_table *tp = cli_table_get(k->c, "module_pairs", pc, 12);
    cli_table *tt = cli_table_get(k->c, "module_tasks", tc, 9);
    const char *mod = cl_store_module_name(k->s, m);
    int n = k->n;
    for (int q = 0; q < k->n_th; q++) {
        const int64_t *both = r->both + (size_t)q * (size_t)n * (size_t)n;
        for (int i = 0; i < n; i++) {
            const cl_dense_task *di = &r->task[q * n + i];
            row_head(tt, k, q);
            cli_cell_s(tt, mod);
            cli_cell_i(tt, k->v->task[i]);
            cli_cell_s(tt, cl_store_task_name(k->s, k->v->task[i]));
            cli_cell_f(tt, (double)di->active / (double)r->entries);
            cli_cell_i(tt, di->active);
            cli_cell_f(tt, di->tau);
            for (int j = i + 1; j < n; j++) {
                cl_collision x = cl_collision_from_counts(both[i * n + j], di->active,
                                                          r->task[q * n + j].active, r->entries);
                row_head(tp, k, q);
                cli_cell_s(tp, mod);
                cli_cell_i(tp, k->v->task[i]);
                cli_cell_i(tp, k->v->task[j]);
                cli_cell_s(tp, cl_store_task_name(k->s, k->v->task[i]));
                cli_cell_s(tp, cl_store_task_name(k->s, k->v->task[j]));
                cli_cell_f(tp, x.rate);
                cli_cell_f(tp, x.jaccard);
                cli_cell_f(tp, x.lift);
                cli_cell_i(tp, both[i * n + j]);
            }
        }
    }
}

static int module(void *vc, int m, const cl_lowrank *u, int n, cl_error *err)
{
    coll *k = vc;
    cl_dense_result r;
    int rc = cl_dense_pass(cli_backend(k->c), u, n, k->c->th, k->n_th, &r, err);
    if (rc) {
        cl_error_prefix(err, "%s: module %s", cl_store_path(k->s), cl_store_module_name(k->s, m));
        return rc;
    }
    k->entries += r.entries;
    for (int q = 0; q < k->n_th; q++) {
        const int64_t *both = r.both + (size_t)q * (size_t)n * (size_t)n;
        size_t off = (size_t)q * (size_t)n * (size_t)n;
        for (int i = 0; i < n; i++) {
            int64_t ai = r.task[q * n + i].active;
            k->active[q * n + i] += ai;
            k->dens_sum[q * n + i] += (double)ai / (double)r.entries;
            for (int j = 0; j < n; j++) {
                size_t at = off + (size_t)(i * n + j);
                cl_collision x = cl_collision_from_counts(both[i * n + j], ai,
                                                          r.task[q * n + j].active, r.entries);
                k->cr_sum[at] += x.rate;
                k->both[at] += both[i * n + j];
                if (!isnan(x.jaccard)) {
                    k->jac_sum[at] += x.jaccard;
                    k->jac_n[at]++;
                }
                if (!isnan(x.lift)) {
                    k->lift_sum[at] += x.lift;
                    k->lift_n[at]++;
                }
            }
        }
    }
    if (k->c->per_module)
        module_rows(k, m, &r);
    cl_dense_result_free(&r);
    return CL_OK;
}

static int end(void *vc, cl_store *s, const cl_view *v, cl_error *err)
{
    (void)err;
    coll *k = vc;
    cli *c = k->c;
    int n = k->n, nm = k->nm;
    static const char *pc[] = {"store", "snapshot:i", "threshold", "task_i:i", "task_j:i",
                               "name_i", "name_j", "collision_rate_mean:f",
                               "collision_rate_pooled:f", "jaccard_mean:f", "jaccard_pooled:f",
                               "lift_mean:f", "lift_pooled:f", "both:i"};
    static const char *tc[] = {"store", "snapshot:i", "threshold", "task:i", "name",
                               "density_mean:f", "density_pooled:f", "active:i", "entries:i"};
    static const char *sc[] = {"store", "snapshot:i", "threshold", "method", "tasks:i",
                               "modules:i", "pairs:i", "acr_mean:f", "acr_pooled:f",
                               "density_mean:f"};
    cli_table *tp = cli_table_get(c, "pairs", pc, 14);
    cli_table *tt = cli_table_get(c, "tasks", tc, 9);
    cli_table *ts = cli_table_get(c, "summary", sc, 10);
    double *acr_mean = calloc((size_t)k->n_th, sizeof(double));
    double *acr_pool = calloc((size_t)k->n_th, sizeof(double));
    double *dmean = calloc((size_t)k->n_th, sizeof(double));
    double *mat = calloc(3 * (size_t)n * (size_t)n, sizeof(double));
    if (!acr_mean || !acr_pool || !dmean || !mat) {
        free(acr_mean), free(acr_pool), free(dmean), free(mat);
        free_acc(k);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    double E = (double)k->entries;
    int pairs = n * (n - 1) / 2;
    for (int q = 0; q < k->n_th; q++) {
        size_t off = (size_t)q * (size_t)n * (size_t)n;
        double s_mean = 0, s_pool = 0, s_dens = 0;
        for (int i = 0; i < n; i++) {
            int64_t ai = k->active[q * n + i];
            row_head(tt, k, q);
            cli_cell_i(tt, v->task[i]);
            cli_cell_s(tt, cl_store_task_name(s, v->task[i]));
            cli_cell_f(tt, k->dens_sum[q * n + i] / nm);
            cli_cell_f(tt, (double)ai / E);
            cli_cell_i(tt, ai);
            cli_cell_i(tt, k->entries);
            s_dens += k->dens_sum[q * n + i] / nm;
            for (int j = 0; j < n; j++) {
                size_t at = off + (size_t)(i * n + j);
                int64_t aj = k->active[q * n + j];
                cl_collision pooled = cl_collision_from_counts(k->both[at], ai, aj, k->entries);
                double mean = k->cr_sum[at] / nm;
                if (q == 0) {
                    mat[i * n + j] = mean;
                    mat[n * n + i * n + j] = k->jac_n[at] ? k->jac_sum[at] / k->jac_n[at] : NAN;
                    mat[2 * n * n + i * n + j] =
                        k->lift_n[at] ? k->lift_sum[at] / k->lift_n[at] : NAN;
                }
                if (j <= i)
                    continue;
                s_mean += mean;
                s_pool += pooled.rate;
                row_head(tp, k, q);
                cli_cell_i(tp, v->task[i]);
                cli_cell_i(tp, v->task[j]);
                cli_cell_s(tp, cl_store_task_name(s, v->task[i]));
                cli_cell_s(tp, cl_store_task_name(s, v->task[j]));
                cli_cell_f(tp, mean);
                cli_cell_f(tp, pooled.rate);
                cli_cell_f(tp, k->jac_n[at] ? k->jac_sum[at] / k->jac_n[at] : NAN);
                cli_cell_f(tp, pooled.jaccard);
                cli_cell_f(tp, k->lift_n[at] ? k->lift_sum[at] / k->lift_n[at] : NAN);
                cli_cell_f(tp, pooled.lift);
                cli_cell_i(tp, k->both[at]);
            }
        }
        acr_mean[q] = pairs ? s_mean / pairs : NAN;
        acr_pool[q] = pairs ? s_pool / pairs : NAN;
        dmean[q] = s_dens / n;
        row_head(ts, k, q);
        cli_cell_s(ts, cl_store_meta(s)->method);
        cli_cell_i(ts, n);
        cli_cell_i(ts, nm);
        cli_cell_i(ts, pairs);
        cli_cell_f(ts, acr_mean[q]);
        cli_cell_f(ts, acr_pool[q]);
        cli_cell_f(ts, dmean[q]);
    }
    if (cli_text(c)) {
        char th[48];
        cl_threshold_format(&c->th[0], th, sizeof th);
        const char **names = cli_view_names(s, v);
        cli_text_heading(c, s, v);
        fprintf(c->out, "collision   threshold %s, resolved per task and module; %d modules\n", th,
                nm);
        cli_text_matrix(c, "  collision rate CR_ij (%), mean over modules; diagonal: density",
                        n, names, mat, 100, "%.2f");
        if (pairs)
            fprintf(c->out,
                    "  ACR (mean CR over the %d pairs i<j): %.3f%%   pooled over entries: %.3f%%\n",
                    pairs, 100 * acr_mean[0], 100 * acr_pool[0]);
        else
            fprintf(c->out, "  ACR -  (one task: no pair to collide)\n");
        if (n > 1) {
            for (int i = 0; i < n; i++) /* a task with itself says nothing here */
                mat[n * n + i * n + i] = mat[2 * n * n + i * n + i] = NAN;
            cli_text_matrix(c, "  Jaccard index |A_i AND A_j| / |A_i OR A_j|, mean over modules", n,
                            names, mat + n * n, 1, "%.3f");
            cli_text_matrix(c, "  lift CR_ij / (density_i density_j): 1 = as if independent, "
                               "mean over modules", n, names, mat + 2 * n * n, 1, "%.3f");
        }
        if (k->n_th > 1) {
            fprintf(c->out, "  threshold sweep:\n    %-16s %10s %12s %12s\n", "threshold",
                    "ACR mean %", "ACR pooled %", "density %");
            for (int q = 0; q < k->n_th; q++) {
                cl_threshold_format(&c->th[q], th, sizeof th);
                char am[16], ap[16];
                snprintf(am, sizeof am, pairs ? "%.3f" : "-", 100 * acr_mean[q]);
                snprintf(ap, sizeof ap, pairs ? "%.3f" : "-", 100 * acr_pool[q]);
                fprintf(c->out, "    %-16s %10s %12s %12.3f\n", th, am, ap, 100 * dmean[q]);
            }
        }
        if (c->per_module && cli_table_mark(c, "module_pairs") > k->mrow0) {
            static const char *cols[] = {"threshold", "module", "name_i", "name_j",
                                         "collision_rate", "jaccard", "lift", "both"};
            fprintf(c->out, "  per module (collision_rate and jaccard as fractions):\n");
            cli_text_rows(c, "module_pairs", k->mrow0, cols, 8);
        }
        free(names);
    }
    free(acr_mean), free(acr_pool), free(dmean), free(mat);
    free_acc(k);
    return CL_OK;
}

int fam_collision(cli *c, cl_store *s, cl_error *err)
{
    coll k = {.c = c, .n_th = c->n_th};
    static const cli_walk_ops ops = {begin, module, end};
    int rc = cli_walk_views(c, s, &ops, &k, err);
    free_acc(&k);
    return rc;
}
