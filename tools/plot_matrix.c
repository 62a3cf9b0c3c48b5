/* plot_matrix.c -- the accuracy matrix R as a heatmap, one panel per store
 * and evaluation protocol (the headline first), with AA and BWT in the title:
 * collide-forget's tables (fam_forget). */
#include "plot.h"
#include "families.h"

#include <math.h>
#include <string.h>

typedef struct am_ctx {
    plot_csv w;
    plot_vars v;
    int max_tasks;
    int panels;
    int64_t evaluated;   /* cells with an accuracy, over every store */
} am_ctx;

/* Task names on the axes are cut to this many characters ("…"): the CSV
 * keeps them whole. */
enum { AM_NAME_CHARS = 16 };

static void pct(char *buf, size_t n, double x)
{
    if (isnan(x))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.1f%%", 100 * x);
}

static int am_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    (void)index;
    am_ctx *k = vc;
    int rc = plot_family(r, s, fam_forget, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "matrix");
    int n = cli_table_nrows(t), c_after = plot_col(t, "after_task");
    int c_an = plot_col(t, "after_name"), c_task = plot_col(t, "task");
    int c_name = plot_col(t, "name"), c_acc = plot_col(t, "accuracy");
    int c_prot = plot_col(t, "protocol");
    const cli_table *sm = plot_table(r, "summary");
    int T = cl_store_n_tasks(s), any = 0;
    for (int e = 0; e < CL_EVAL_COUNT; e++)
        any |= cl_store_has_eval(s, (cl_eval)e);
    for (int q = 0; q < cli_table_nrows(sm); q++) {
        const char *prot = cli_table_str(sm, q, plot_col(sm, "protocol"));
        /* a protocol the store never measured (an imported store's other
         * one) is no panel, unless it measured none: then the no-data refusal */
        int measured = 0;
        for (int e = 0; e < CL_EVAL_COUNT; e++)
            if (!strcmp(prot, cl_eval_name((cl_eval)e)))
                measured = cl_store_has_eval(s, (cl_eval)e);
        if (any && !measured)
            continue;
        int p = ++k->panels;
        for (int i = 0; i < n; i++) {
            if (strcmp(cli_table_str(t, i, c_prot), prot))
                continue;
            plot_csv_s(&k->w, cl_store_path(s));
            plot_csv_i(&k->w, p);
            plot_csv_s(&k->w, cl_store_meta(s)->method);
            plot_csv_s(&k->w, prot);
            plot_csv_i(&k->w, (int64_t)cli_table_num(t, i, c_after));
            plot_csv_s(&k->w, cli_table_str(t, i, c_an));
            plot_csv_i(&k->w, (int64_t)cli_table_num(t, i, c_task));
            plot_csv_s(&k->w, cli_table_str(t, i, c_name));
            plot_csv_f(&k->w, cli_table_num(t, i, c_acc));
            plot_csv_row_end(&k->w);
            k->evaluated += isfinite(cli_table_num(t, i, c_acc));
        }
        char aa[32], bwt[32], la[32], ch[32], buf[512], names[4096] = "", store[160];
        pct(aa, sizeof aa, cli_table_num(sm, q, plot_col(sm, "aa")));
        pct(bwt, sizeof bwt, cli_table_num(sm, q, plot_col(sm, "bwt")));
        pct(la, sizeof la, cli_table_num(sm, q, plot_col(sm, "la")));
        pct(ch, sizeof ch, cli_table_num(sm, q, plot_col(sm, "chance_mean")));
        snprintf(buf, sizeof buf, "%s [%s], %s scoring\nAA %s, LA %s, BWT %s (chance %s)",
                 plot_store_name(s, 40, store, sizeof store), cl_store_meta(s)->method, prot, aa,
                 la, bwt, ch);
        plot_var_ps(&k->v, "ptitle", p, buf);
        for (int j = 0; j < T; j++)
            plot_add_word(names, sizeof names, cl_store_task_name(s, j), AM_NAME_CHARS);
        plot_var_ps(&k->v, "pnames", p, names);
        plot_var_pi(&k->v, "ptasks", p, T);
    }
    if (T > k->max_tasks)
        k->max_tasks = T;
    return CL_OK;
}

int plot_accuracy_matrix(plot_run *r, cl_error *err)
{
    am_ctx k;
    memset(&k, 0, sizeof k);
    static const char *cols[] = {"store", "panel", "method", "protocol", "after_task",
                                 "after_name", "task", "name", "accuracy"};
    int rc = plot_csv_open(r, cols, 9, &k.w, err);
    if (rc)
        return rc;
    rc = plot_each_store(r, am_store, &k, err);
    if (!rc && !k.evaluated)
        rc = plot_no_data(r, err, "no accuracy was ever evaluated in %s%s (collide-train records "
                                  "them; an imported store has them when labelled: collide-import "
                                  "--accuracy FILE, docs/IMPORT.md)",
                          r->o->stores[0], r->o->n_stores > 1 ? " or the other stores" : "");
    if ((rc = plot_csv_finish(r, &k.w, &k.v, rc, err)))
        return rc;
    int n = k.panels, cols_n = n < 2 ? 1 : 2, rows_n = (n + cols_n - 1) / cols_n;
    plot_var_i(&k.v, "npanels", n);
    plot_var_i(&k.v, "ncols", cols_n);
    plot_var_s(&k.v, "title", "Accuracy matrix R[i][j]: accuracy on task j after training task i");
    /* cells stay readable: at least 48 pixels each */
    int side = 640 > 200 + 48 * k.max_tasks ? 640 : 200 + 48 * k.max_tasks;
    rc = plot_render(r, &k.v, side * cols_n + 60, 60 + side * rows_n, err);
    plot_vars_free(&k.v);
    return rc;
}
