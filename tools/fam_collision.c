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
    cl_collision_acc acc; /* over this view's modules */
    int mrow0; /* first module_pairs row of this view (--per-module text) */
} coll;

static int begin(void *vc, cl_store *s, const cl_view *v, const int *mods, int nm, cl_error *err)
{
    (void)mods;
    coll *k = vc;
    k->s = s;
    k->v = v;
    k->n = v->n;
    k->nm = nm;
    k->mrow0 = cli_table_mark(k->c, "module_pairs");
    cl_collision_acc_free(&k->acc);
    return cl_collision_acc_init(&k->acc, v->n, k->n_th, err);
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
    rc = cl_collision_acc_add(&k->acc, &r, err);
    if (!rc && k->c->per_module)
        module_rows(k, m, &r);
    cl_dense_result_free(&r);
    return rc;
}

static int end(void *vc, cl_store *s, const cl_view *v, cl_error *err)
{
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
    double *mat = calloc(3 * (size_t)n * (size_t)n, sizeof(double));
    if (!mat)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_collision_acc *a = &k->acc;
    const cl_density_acc *d = &a->density;
    cl_collision_acc_finish(a);
    int pairs = a->pairs;
    for (int q = 0; q < k->n_th; q++) {
        size_t off = (size_t)q * (size_t)n * (size_t)n;
        for (int i = 0; i < n; i++) {
            row_head(tt, k, q);
            cli_cell_i(tt, v->task[i]);
            cli_cell_s(tt, cl_store_task_name(s, v->task[i]));
            cli_cell_f(tt, d->mean[q * n + i]);
            cli_cell_f(tt, d->pooled[q * n + i]);
            cli_cell_i(tt, d->active[q * n + i]);
            cli_cell_i(tt, d->entries);
            for (int j = 0; j < n; j++) {
                size_t at = off + (size_t)(i * n + j);
                const cl_collision *mean = &a->mean[at], *pooled = &a->pooled[at];
                if (q == 0) {
                    mat[i * n + j] = mean->rate;
                    mat[n * n + i * n + j] = mean->jaccard;
                    mat[2 * n * n + i * n + j] = mean->lift;
                }
                if (j <= i)
                    continue;
                row_head(tp, k, q);
                cli_cell_i(tp, v->task[i]);
                cli_cell_i(tp, v->task[j]);
                cli_cell_s(tp, cl_store_task_name(s, v->task[i]));
                cli_cell_s(tp, cl_store_task_name(s, v->task[j]));
                cli_cell_f(tp, mean->rate);
                cli_cell_f(tp, pooled->rate);
                cli_cell_f(tp, mean->jaccard);
                cli_cell_f(tp, pooled->jaccard);
                cli_cell_f(tp, mean->lift);
                cli_cell_f(tp, pooled->lift);
                cli_cell_i(tp, a->both[at]);
            }
        }
        row_head(ts, k, q);
        cli_cell_s(ts, cl_store_meta(s)->method);
        cli_cell_i(ts, n);
        cli_cell_i(ts, nm);
        cli_cell_i(ts, pairs);
        cli_cell_f(ts, a->acr_mean[q]);
        cli_cell_f(ts, a->acr_pooled[q]);
        cli_cell_f(ts, d->task_mean[q]);
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
                    pairs, 100 * a->acr_mean[0], 100 * a->acr_pooled[0]);
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
                snprintf(am, sizeof am, pairs ? "%.3f" : "-", 100 * a->acr_mean[q]);
                snprintf(ap, sizeof ap, pairs ? "%.3f" : "-", 100 * a->acr_pooled[q]);
                fprintf(c->out, "    %-16s %10s %12s %12.3f\n", th, am, ap,
                        100 * d->task_mean[q]);
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
    free(mat);
    cl_collision_acc_free(a);
    return CL_OK;
}

int fam_collision(cli *c, cl_store *s, cl_error *err)
{
    coll k = {.c = c, .n_th = c->n_th};
    static const cli_walk_ops ops = {begin, module, end};
    int rc = cli_walk_views(c, s, &ops, &k, err);
    cl_collision_acc_free(&k.acc);
    return rc;
}
