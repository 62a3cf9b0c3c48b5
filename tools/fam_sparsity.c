/* fam_sparsity.c -- l1, l1/l2, Hoyer sparsity and density under each
 * threshold (docs/METRICS.md, section 5). */
#include "families.h"

#include <math.h>
#include <stdlib.h>

typedef struct spar {
    cli *c;
    cl_store *s;
    const cl_view *v;
    int n, nm, n_th;
    cl_sparsity_acc acc;  /* over this view's modules */
    cl_density_acc dens;  /* [th][task] */
    int mrow0; /* first module_tasks row of this view */
} spar;

static void free_acc(spar *p)
{
    cl_sparsity_acc_free(&p->acc);
    cl_density_acc_free(&p->dens);
}

static int begin(void *vc, cl_store *s, const cl_view *v, const int *mods, int nm, cl_error *err)
{
    (void)mods;
    spar *p = vc;
    p->s = s;
    p->v = v;
    p->n = v->n;
    p->nm = nm;
    p->mrow0 = cli_table_mark(p->c, "module_tasks");
    free_acc(p);
    int rc = cl_sparsity_acc_init(&p->acc, v->n, err);
    return rc ? rc : cl_density_acc_init(&p->dens, v->n, p->n_th, err);
}

static int module(void *vc, int m, const cl_lowrank *u, int n, cl_error *err)
{
    spar *p = vc;
    cl_dense_result r;
    int rc = cl_dense_pass(cli_backend(p->c), u, n, p->c->th, p->n_th, &r, err);
    if (rc) {
        cl_error_prefix(err, "%s: module %s", cl_store_path(p->s), cl_store_module_name(p->s, m));
        return rc;
    }
    rc = cl_sparsity_acc_add(&p->acc, &r, err);
    if (!rc)
        rc = cl_density_acc_add(&p->dens, &r, err);
    static const char *cols[] = {"store", "snapshot:i", "threshold", "module", "task:i", "name",
                                 "density:f", "tau:f", "l1:f", "l2:f", "l1_over_l2:f", "hoyer:f",
                                 "max_abs:f"};
    cli_table *t = p->c->per_module && !rc ? cli_table_get(p->c, "module_tasks", cols, 13) : NULL;
    for (int i = 0; i < n && t; i++) {
        cl_sparsity sp = cl_sparsity_from_sums(r.l1[i], r.sumsq[i], r.entries);
        for (int q = 0; q < p->n_th; q++) {
            const cl_dense_task *d = &r.task[q * n + i];
            cli_row_begin(t);
            cli_cell_s(t, cl_store_path(p->s));
            cli_cell_i(t, p->v->snapshot);
            cli_cell_threshold(t, &p->c->th[q]);
            cli_cell_s(t, cl_store_module_name(p->s, m));
            cli_cell_i(t, p->v->task[i]);
            cli_cell_s(t, cl_store_task_name(p->s, p->v->task[i]));
            cli_cell_f(t, (double)d->active / (double)r.entries);
            cli_cell_f(t, d->tau);
            cli_cell_f(t, sp.l1);
            cli_cell_f(t, sp.l2);
            cli_cell_f(t, sp.l1_over_l2);
            cli_cell_f(t, sp.hoyer);
            cli_cell_f(t, r.maxabs[i]);
        }
    }
    cl_dense_result_free(&r);
    return rc;
}

static int end(void *vc, cl_store *s, const cl_view *v, cl_error *err)
{
    (void)err;
    spar *p = vc;
    cli *c = p->c;
    static const char *cols[] = {"store", "snapshot:i", "threshold", "task:i", "name",
                                 "density_mean:f", "density_pooled:f", "l1:f", "l2:f",
                                 "l1_over_l2:f", "hoyer_mean:f", "hoyer_pooled:f"};
    cli_table *t = cli_table_get(c, "tasks", cols, 12);
    cl_sparsity_acc_finish(&p->acc);
    cl_density_acc_finish(&p->dens);
    int w = cli_names_width(s, v, 16);
    if (cli_text(c)) {
        cli_text_heading(c, s, v);
        fprintf(c->out,
                "sparsity   %d modules; l1 and l2 over all modules' entries; Hoyer 0 = dense, "
                "1 = one entry\n  %-*s %12s %12s %10s %8s %8s",
                p->nm, w, "task", "l1", "l2", "l1/l2", "hoyer", "(pool)");
        for (int q = 0; q < p->n_th; q++) {
            char th[48];
            cl_threshold_format(&c->th[q], th, sizeof th);
            fprintf(c->out, " %14s", th);
        }
        fprintf(c->out, "\n");
    }
    for (int i = 0; i < p->n; i++) {
        cl_sparsity pooled = p->acc.pooled[i];
        double hm = p->acc.hoyer_mean[i];
        for (int q = 0; q < p->n_th; q++) {
            cli_row_begin(t);
            cli_cell_s(t, cl_store_path(s));
            cli_cell_i(t, v->snapshot);
            cli_cell_threshold(t, &c->th[q]);
            cli_cell_i(t, v->task[i]);
            cli_cell_s(t, cl_store_task_name(s, v->task[i]));
            cli_cell_f(t, p->dens.mean[q * p->n + i]);
            cli_cell_f(t, p->dens.pooled[q * p->n + i]);
            cli_cell_f(t, pooled.l1);
            cli_cell_f(t, pooled.l2);
            cli_cell_f(t, pooled.l1_over_l2);
            cli_cell_f(t, hm);
            cli_cell_f(t, pooled.hoyer);
        }
        if (cli_text(c)) {
            fprintf(c->out, "  %-*s %12.5g %12.5g %10.4g %8.4f %8.4f", w,
                    cl_store_task_name(s, v->task[i]), pooled.l1, pooled.l2, pooled.l1_over_l2, hm,
                    pooled.hoyer);
            for (int q = 0; q < p->n_th; q++)
                fprintf(c->out, " %13.3f%%", 100 * p->dens.mean[q * p->n + i]);
            fprintf(c->out, "\n");
        }
    }
    if (cli_text(c)) {
        fprintf(c->out, "  (density columns: mean over modules of the active fraction)\n");
        if (c->per_module && cli_table_mark(c, "module_tasks") > p->mrow0) {
            static const char *pm[] = {"threshold", "module", "name", "density", "tau",
                                         "l1", "l2", "hoyer", "max_abs"};
            fprintf(c->out, "  per module (density as a fraction):\n");
            cli_text_rows(c, "module_tasks", p->mrow0, pm, 9);
        }
    }
    free_acc(p);
    return CL_OK;
}

int fam_sparsity(cli *c, cl_store *s, cl_error *err)
{
    spar p = {.c = c, .n_th = c->n_th};
    static const cli_walk_ops ops = {begin, module, end};
    int rc = cli_walk_views(c, s, &ops, &p, err);
    free_acc(&p);
    return rc;
}
