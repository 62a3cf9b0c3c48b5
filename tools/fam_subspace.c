/* fam_subspace.c -- spectra of each task's update and of the accumulated
 * update, from QR of the factors (docs/METRICS.md, section 4). */
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NUC, FRO, SPEC, CNT, ENT, STAB, NS };

typedef struct sub {
    cli *c;
    cl_store *s;
    const cl_view *v;
    int n, nm, kmax;
    double *sum;    /* [(n+1)][NS]: row n is the accumulated update */
    double *sig;    /* [(n+1)][kmax] sum of the i-th singular value  */
    int *sig_n;     /* [(n+1)][kmax] modules contributing             */
    int mrow0; /* first module_tasks row of this view */
} sub;

static void free_acc(sub *u)
{
    free(u->sum), free(u->sig), free(u->sig_n);
    u->sum = u->sig = NULL;
    u->sig_n = NULL;
}

static int begin(void *vc, cl_store *s, const cl_view *v, const int *mods, int nm, cl_error *err)
{
    sub *u = vc;
    u->s = s;
    u->v = v;
    u->n = v->n;
    u->nm = nm;
    u->mrow0 = cli_table_mark(u->c, "module_tasks");
    /* the widest spectrum: the accumulated update of every task */
    int kmax = 0;
    for (int j = 0; j < nm; j++)
        kmax = cl_store_module_rank(s, mods[j]) > kmax ? cl_store_module_rank(s, mods[j]) : kmax;
    u->kmax = 2 * kmax * (v->n ? v->n : 1);
    free_acc(u);
    u->sum = calloc((size_t)(v->n + 1) * NS, sizeof(double));
    u->sig = calloc((size_t)(v->n + 1) * (size_t)u->kmax, sizeof(double));
    u->sig_n = calloc((size_t)(v->n + 1) * (size_t)u->kmax, sizeof(int));
    if (!u->sum || !u->sig || !u->sig_n)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

static const char *task_label(const sub *u, int i)
{
    return i < u->n ? cl_store_task_name(u->s, u->v->task[i]) : "(accumulated)";
}

static void add(sub *u, int i, int m, const cl_spectrum *sp)
{
    double val[NS] = {sp->nuclear, sp->frobenius, sp->spectral, sp->count, sp->entropy_rank,
                      sp->stable_rank};
    for (int q = 0; q < NS; q++)
        u->sum[i * NS + q] += val[q];
    for (int q = 0; q < sp->k && q < u->kmax; q++) {
        u->sig[(size_t)i * (size_t)u->kmax + (size_t)q] += sp->sigma[q];
        u->sig_n[(size_t)i * (size_t)u->kmax + (size_t)q]++;
    }
    if (!u->c->per_module)
        return;
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
    for (int q = 0; q < NS; q++) {
        if (q == CNT)
            cli_cell_i(t, sp->count);
        else
            cli_cell_f(t, val[q]);
    }
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

static int module(void *vc, int m, const cl_lowrank *w, int n, cl_error *err)
{
    sub *u = vc;
    cl_spectrum sp;
    int rc;
    for (int i = 0; i < n; i++) {
        if ((rc = cl_spectrum_compute(&w[i], u->c->rank_tol, &sp, err)))
            goto fail;
        add(u, i, m, &sp);
        cl_spectrum_free(&sp);
    }
    cl_lowrank acc;
    if ((rc = cl_lowrank_stack(w, n, &acc, err)))
        goto fail;
    rc = cl_spectrum_compute(&acc, u->c->rank_tol, &sp, err);
    cl_lowrank_free(&acc);
    if (rc)
        goto fail;
    add(u, n, m, &sp);
    cl_spectrum_free(&sp);
    return CL_OK;
fail:
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
    double nm = u->nm;
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
        const double *x = u->sum + i * NS;
        int task = i < u->n ? v->task[i] : -1;
        cli_row_begin(t);
        cli_cell_s(t, cl_store_path(s));
        cli_cell_i(t, v->snapshot);
        cli_cell_i(t, task);
        cli_cell_s(t, task_label(u, i));
        cli_cell_f(t, x[NUC] / nm);
        cli_cell_f(t, x[NUC]);
        cli_cell_f(t, x[FRO] / nm);
        cli_cell_f(t, x[SPEC] / nm);
        cli_cell_f(t, x[CNT] / nm);
        cli_cell_f(t, x[ENT] / nm);
        cli_cell_f(t, x[STAB] / nm);
        cli_cell_f(t, c->rank_tol);
        for (int q = 0; q < u->kmax; q++) {
            int cnt = u->sig_n[(size_t)i * (size_t)u->kmax + (size_t)q];
            if (!cnt)
                break;
            cli_row_begin(ss);
            cli_cell_s(ss, cl_store_path(s));
            cli_cell_i(ss, v->snapshot);
            cli_cell_s(ss, "(mean)");
            cli_cell_i(ss, task);
            cli_cell_s(ss, task_label(u, i));
            cli_cell_i(ss, q);
            cli_cell_f(ss, u->sig[(size_t)i * (size_t)u->kmax + (size_t)q] / cnt);
        }
        if (cli_text(c))
            fprintf(c->out, "  %-*s %12.5g %12.5g %12.5g %10.2f %10.2f %10.2f\n", w, task_label(u, i),
                    x[NUC] / nm, x[FRO] / nm, x[SPEC] / nm, x[CNT] / nm, x[ENT] / nm,
                    x[STAB] / nm);
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
    return CL_OK;
}

int fam_subspace(cli *c, cl_store *s, cl_error *err)
{
    sub u = {.c = c};
    static const cli_walk_ops ops = {begin, module, end};
    int rc = cli_walk_views(c, s, &ops, &u, err);
    free_acc(&u);
    return rc;
}
