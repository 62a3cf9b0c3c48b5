/* fam_subspace.c -- spectra of each task's update and of the accumulated
 * update, from QR of the factors (docs/METRICS.md, section 4). */
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sub {
    cli *c;
    cl_store *s;
    const cl_view *v;
    int n, nm;
    cl_subspace_acc acc; /* over this view's modules; slot n: the accumulated update */
    int mrow0; /* first module_tasks row of this view */
} sub;

static int begin(void *vc, cl_store *s, const cl_view *v, const int *mods, int nm, cl_error *err)
{
    (void)mods;
    sub *u = vc;
    u->s = s;
    u->v = v;
    u->n = v->n;
    u->nm = nm;
    u->mrow0 = cli_table_mark(u->c, "module_tasks");
    cl_subspace_acc_free(&u->acc);
    return cl_subspace_acc_init(&u->acc, v->n, 1, err);
}

static const char *task_label(const sub *u, int i)
{
    return i < u->n ? cl_store_task_name(u->s, u->v->task[i]) : "(accumulated)";
}

/* --per-module rows of slot i (n: the accumulated update) of module m. */
static void module_rows(sub *u, int i, int m, const cl_spectrum *sp)
{
    static const char *tc[] = {"store", "snapshot:i", "module", "task:i", "name", "nuclear:f",
                               "frobenius:f", "spectral:f", "count:i", "entropy_rank:f",
                               "stable_rank:f"};
    static const char *sc[] = {"store", "snapshot:i", "module", "task:i", "name", "index:i",
                               "sigma:f"};
    cli_table *t = cli_table_get(u->c, "module_tasks", tc, 11);
    cli_table *ss = cli_table_get(u->c, "spectra", sc, 7);
    int task = i < u->n ? u->v->task[i] : -1;
    cli_row_begin(t);
    cli_cell_s(t, cl_store_path(u->s));
    cli_cell_i(t, u->v->snapshot);
    cli_cell_s(t, cl_store_module_name(u->s, m));
    cli_cell_i(t, task);
    cli_cell_s(t, task_label(u, i));
    cli_cell_f(t, sp->nuclear);
    cli_cell_f(t, sp->frobenius);
    cli_cell_f(t, sp->spectral);
    cli_cell_i(t, sp->count);
    cli_cell_f(t, sp->entropy_rank);
    cli_cell_f(t, sp->stable_rank);
    for (int q = 0; q < sp->k; q++) {
        cli_row_begin(ss);
        cli_cell_s(ss, cl_store_path(u->s));
        cli_cell_i(ss, u->v->snapshot);
        cli_cell_s(ss, cl_store_module_name(u->s, m));
        cli_cell_i(ss, task);
        cli_cell_s(ss, task_label(u, i));
        cli_cell_i(ss, q);
        cli_cell_f(ss, sp->sigma[q]);
    }
}

/* The spectra of the module's n tasks and, in sp[n], of their sum. */
static int module(void *vc, int m, const cl_lowrank *w, int n, cl_error *err)
{
    sub *u = vc;
    cl_spectrum *sp = calloc((size_t)n + 1, sizeof *sp);
    if (!sp)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int rc = CL_OK;
    for (int i = 0; i < n && !rc; i++)
        rc = cl_spectrum_compute(&w[i], u->c->rank_tol, &sp[i], err);
    cl_lowrank acc;
    if (!rc && !(rc = cl_lowrank_stack(w, n, &acc, err))) {
        rc = cl_spectrum_compute(&acc, u->c->rank_tol, &sp[n], err);
        cl_lowrank_free(&acc);
    }
    if (!rc)
        rc = cl_subspace_acc_add(&u->acc, sp, &sp[n], err);
    for (int i = 0; i <= n && !rc && u->c->per_module; i++)
        module_rows(u, i, m, &sp[i]);
    for (int i = 0; i <= n; i++)
        cl_spectrum_free(&sp[i]);
    free(sp);
    if (rc)
        cl_error_prefix(err, "%s: module %s", cl_store_path(u->s), cl_store_module_name(u->s, m));
    return rc;
}

static int end(void *vc, cl_store *s, const cl_view *v, cl_error *err)
{
    (void)err;
    sub *u = vc;
    cli *c = u->c;
    static const char *tc[] = {"store", "snapshot:i", "task:i", "name", "nuclear_mean:f",
                               "nuclear_sum:f", "frobenius_mean:f", "spectral_mean:f",
                               "count_mean:f", "entropy_rank_mean:f", "stable_rank_mean:f",
                               "rank_tol:f"};
    static const char *sc[] = {"store", "snapshot:i", "module", "task:i", "name", "index:i",
                               "sigma:f"};
    cli_table *t = cli_table_get(c, "tasks", tc, 12);
    cli_table *ss = cli_table_get(c, "spectra", sc, 7);
    cl_subspace_acc *a = &u->acc;
    cl_subspace_acc_finish(a);
    int w = cli_names_width(s, v, 13);
    if (cli_text(c)) {
        cli_text_heading(c, s, v);
        fprintf(c->out,
                "subspaces   %d modules; a singular value counts when > %g * sigma_1\n"
                "  %-*s %12s %12s %12s %10s %10s %10s\n",
                u->nm, c->rank_tol, w, "task", "nuclear", "frobenius", "spectral", "count",
                "entropy-r", "stable-r");
    }
    for (int i = 0; i <= u->n; i++) {
        const cl_spectrum_sums *x = &a->mean[i];
        int task = i < u->n ? v->task[i] : -1;
        cli_row_begin(t);
        cli_cell_s(t, cl_store_path(s));
        cli_cell_i(t, v->snapshot);
        cli_cell_i(t, task);
        cli_cell_s(t, task_label(u, i));
        cli_cell_f(t, x->nuclear);
        cli_cell_f(t, a->sum[i].nuclear);
        cli_cell_f(t, x->frobenius);
        cli_cell_f(t, x->spectral);
        cli_cell_f(t, x->count);
        cli_cell_f(t, x->entropy_rank);
        cli_cell_f(t, x->stable_rank);
        cli_cell_f(t, c->rank_tol);
        for (int q = 0; q < a->width[i]; q++) {
            cli_row_begin(ss);
            cli_cell_s(ss, cl_store_path(s));
            cli_cell_i(ss, v->snapshot);
            cli_cell_s(ss, "(mean)");
            cli_cell_i(ss, task);
            cli_cell_s(ss, task_label(u, i));
            cli_cell_i(ss, q);
            cli_cell_f(ss, a->sigma_mean[i][q]);
        }
        if (cli_text(c))
            fprintf(c->out, "  %-*s %12.5g %12.5g %12.5g %10.2f %10.2f %10.2f\n", w, task_label(u, i),
                    x->nuclear, x->frobenius, x->spectral, x->count, x->entropy_rank,
                    x->stable_rank);
    }
    if (cli_text(c)) {
        fprintf(c->out, "  (means over modules; nuclear = sum of singular values of a task's own "
                        "dW, (accumulated) = of the sum of all tasks' dW)\n");
        if (c->per_module && cli_table_mark(c, "module_tasks") > u->mrow0) {
            static const char *cols[] = {"module", "name", "nuclear", "frobenius", "spectral",
                                         "count", "entropy_rank", "stable_rank"};
            fprintf(c->out, "  per module:\n");
            cli_text_rows(c, "module_tasks", u->mrow0, cols, 8);
        }
    }
    cl_subspace_acc_free(a);
    return CL_OK;
}

int fam_subspace(cli *c, cl_store *s, cl_error *err)
{
    sub u = {.c = c};
    static const cli_walk_ops ops = {begin, module, end};
    int rc = cli_walk_views(c, s, &ops, &u, err);
    cl_subspace_acc_free(&u.acc);
    return rc;
}
