/* fam_ortho.c -- orthogonality of task pairs: OO, principal-angle
 * similarity, AWOM and cosine (docs/METRICS.md, section 3). */
#include "families.h"

#include <math.h>
#include <stdlib.h>

typedef struct orth {
    cli *c;
    cl_store *s;
    const cl_view *v;
    int n, nm;
    cl_ortho_acc acc; /* over this view's modules */
    int mrow0; /* first module_pairs row of this view */
} orth;

static int begin(void *vc, cl_store *s, const cl_view *v, const int *mods, int nm, cl_error *err)
{
    (void)mods;
    orth *o = vc;
    o->s = s;
    o->v = v;
    o->n = v->n;
    o->nm = nm;
    o->mrow0 = cli_table_mark(o->c, "module_pairs");
    cl_ortho_acc_free(&o->acc);
    return cl_ortho_acc_init(&o->acc, v->n, err);
}

static int module(void *vc, int m, const cl_lowrank *u, int n, cl_error *err)
{
    orth *o = vc;
    cl_ortho *r = calloc((size_t)n * (size_t)n, sizeof *r);
    if (!r)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int rc = cl_ortho_module(u, n, r, err);
    if (rc) {
        cl_error_prefix(err, "%s: module %s", cl_store_path(o->s), cl_store_module_name(o->s, m));
        free(r);
        return rc;
    }
    rc = cl_ortho_acc_add(&o->acc, r, err);
    if (!rc && o->c->per_module) {
        static const char *cols[] = {"store", "snapshot:i", "module", "task_i:i", "task_j:i",
                                     "name_i", "name_j", "oo:f", "sim_a:f", "sim_b:f", "awom:f",
                                     "inner:f", "cosine:f"};
        cli_table *t = cli_table_get(o->c, "module_pairs", cols, 13);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                const cl_ortho *x = &r[i * n + j];
                cli_row_begin(t);
                cli_cell_s(t, cl_store_path(o->s));
                cli_cell_i(t, o->v->snapshot);
                cli_cell_s(t, cl_store_module_name(o->s, m));
                cli_cell_i(t, o->v->task[i]);
                cli_cell_i(t, o->v->task[j]);
                cli_cell_s(t, cl_store_task_name(o->s, o->v->task[i]));
                cli_cell_s(t, cl_store_task_name(o->s, o->v->task[j]));
                cli_cell_f(t, x->oo);
                cli_cell_f(t, x->sim_a);
                cli_cell_f(t, x->sim_b);
                cli_cell_f(t, x->awom);
                cli_cell_f(t, x->inner);
                cli_cell_f(t, x->cosine);
            }
    }
    free(r);
    return rc;
}

static int end(void *vc, cl_store *s, const cl_view *v, cl_error *err)
{
    orth *o = vc;
    cli *c = o->c;
    int n = o->n;
    static const char *pc[] = {"store", "snapshot:i", "task_i:i", "task_j:i", "name_i", "name_j",
                               "oo_sum:f", "oo_mean:f", "sim_a_mean:f", "sim_b_mean:f",
                               "awom_sum:f", "inner_sum:f", "cosine_pooled:f", "cosine_mean:f"};
    static const char *sc[] = {"store", "snapshot:i", "method", "tasks:i", "modules:i",
                               "pairs:i", "oo_total:f", "oo_pair_mean:f", "sim_a_mean:f",
                               "sim_b_mean:f", "awom_total:f", "abs_cosine_mean:f"};
    cli_table *tp = cli_table_get(c, "pairs", pc, 14);
    cli_table *ts = cli_table_get(c, "summary", sc, 12);
    double *m_oo = calloc((size_t)n * (size_t)n, sizeof(double));
    double *m_sa = calloc((size_t)n * (size_t)n, sizeof(double));
    if (!m_oo || !m_sa) {
        free(m_oo), free(m_sa);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_ortho_acc *a = &o->acc;
    cl_ortho_acc_finish(a);
    int pairs = a->pairs;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const cl_ortho *sum = &a->sum[i * n + j], *mean = &a->mean[i * n + j];
            m_oo[i * n + j] = sum->oo;
            m_sa[i * n + j] = mean->sim_a;
            if (j <= i)
                continue;
            cli_row_begin(tp);
            cli_cell_s(tp, cl_store_path(s));
            cli_cell_i(tp, v->snapshot);
            cli_cell_i(tp, v->task[i]);
            cli_cell_i(tp, v->task[j]);
            cli_cell_s(tp, cl_store_task_name(s, v->task[i]));
            cli_cell_s(tp, cl_store_task_name(s, v->task[j]));
            cli_cell_f(tp, sum->oo);
            cli_cell_f(tp, mean->oo);
            cli_cell_f(tp, mean->sim_a);
            cli_cell_f(tp, mean->sim_b);
            cli_cell_f(tp, sum->awom);
            cli_cell_f(tp, sum->inner);
            cli_cell_f(tp, a->cosine_pooled[i * n + j]);
            cli_cell_f(tp, mean->cosine);
        }
    cli_row_begin(ts);
    cli_cell_s(ts, cl_store_path(s));
    cli_cell_i(ts, v->snapshot);
    cli_cell_s(ts, cl_store_meta(s)->method);
    cli_cell_i(ts, n);
    cli_cell_i(ts, o->nm);
    cli_cell_i(ts, pairs);
    cli_cell_f(ts, a->oo_total);
    cli_cell_f(ts, a->oo_pair_mean);
    cli_cell_f(ts, a->sim_a_mean);
    cli_cell_f(ts, a->sim_b_mean);
    cli_cell_f(ts, a->awom_total);
    cli_cell_f(ts, a->abs_cosine_mean);
    if (cli_text(c)) {
        const char **names = cli_view_names(s, v);
        cli_text_heading(c, s, v);
        fprintf(c->out, "orthogonality   %d modules\n", o->nm);
        cli_text_matrix(c, "  OO_ij = ||A_i A_j^T||_F^2, summed over modules", n, names, m_oo, 1,
                        "%.4g");
        cli_text_matrix(c, "  subspace similarity of the A row spaces (mean cos^2 of principal "
                           "angles, 0..1), mean over modules",
                        n, names, m_sa, 1, "%.3f");
        cli_text_matrix(c, "  Frobenius cosine <dW_i,dW_j>/(|dW_i||dW_j|), pooled over modules", n,
                        names, a->cosine_pooled, 1, "%.3f");
        fprintf(c->out,
                "  OO over pairs i<j: total %.6g, mean per pair %.6g; AWOM total %.6g\n"
                "  mean |cosine| %.4f; mean similarity A %.4f, B %.4f\n",
                a->oo_total, a->oo_pair_mean, a->awom_total, a->abs_cosine_mean, a->sim_a_mean,
                a->sim_b_mean);
        if (c->per_module && cli_table_mark(c, "module_pairs") > o->mrow0) {
            static const char *cols[] = {"module", "name_i", "name_j", "oo",    "sim_a",
                                         "sim_b",  "awom",   "inner",  "cosine"};
            fprintf(c->out, "  per module:\n");
            cli_text_rows(c, "module_pairs", o->mrow0, cols, 9);
        }
        free(names);
    }
    free(m_oo), free(m_sa);
    cl_ortho_acc_free(a);
    return CL_OK;
}

int fam_ortho(cli *c, cl_store *s, cl_error *err)
{
    orth o = {.c = c};
    static const cli_walk_ops ops = {begin, module, end};
    int rc = cli_walk_views(c, s, &ops, &o, err);
    cl_ortho_acc_free(&o.acc);
    return rc;
}
