/* plot_snapshots.c -- the figures along a run, one panel per store: losses
 * and penalties from the snapshot table (collide-info's "snapshots" table),
 * and collisions and densities at every snapshot (collide-collision
 * --snapshot all). */
#include "plot.h"
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct snap_ctx {
    plot_csv w;
    plot_vars v;
} snap_ctx;

/* Append "word" to a gnuplot word list. */
static void add_word(char *list, size_t n, const char *word)
{
    char w[96];
    plot_series(word, w, sizeof w);
    size_t len = strlen(list);
    if (len + strlen(w) + 4 < n)
        snprintf(list + len, n - len, "%s\"%s\"", len ? " " : "", w);
}

/* Where each task ends, for the dashed boundaries: x values and names. */
static void boundaries(plot_vars *v, int p, const cl_store *s, int by_step)
{
    char xs[4096] = "", names[4096] = "";
    for (int t = 0; t < cl_store_n_tasks(s); t++) {
        int64_t e = cl_store_task_end(s, t);
        if (e < 0)
            continue;
        size_t len = strlen(xs);
        snprintf(xs + len, sizeof xs - len, "%s%lld", len ? " " : "",
                 (long long)(by_step ? cl_store_snapshot(s, e)->step : e));
        add_word(names, sizeof names, cl_store_task_name(s, t));
    }
    plot_var_ps(v, "pbounds", p, xs);
    plot_var_ps(v, "pbnames", p, names);
}

/* ------------------------------------------------------------ training */

static const char *const loss_cols[] = {"loss", "loss_task", "penalty_orth", "penalty_l2",
                                        "penalty_sparse"};
enum { N_LOSS = 5 };

static int tr_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    snap_ctx *k = vc;
    int p = index + 1;
    int rc = plot_family(r, s, fam_info, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "snapshots");
    int n = cli_table_nrows(t), present[N_LOSS] = {0};
    static const char *keep[] = {"id", "task", "name", "kind", "epoch", "step"};
    int ck[6], cl[N_LOSS], c_wall = plot_col(t, "wall_time");
    for (int q = 0; q < 6; q++)
        ck[q] = plot_col(t, keep[q]);
    for (int q = 0; q < N_LOSS; q++)
        cl[q] = plot_col(t, loss_cols[q]);
    for (int i = 0; i < n; i++) {
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, cl_store_meta(s)->method);
        for (int q = 0; q < 6; q++) {
            if (q == 2 || q == 3)
                plot_csv_s(&k->w, cli_table_str(t, i, ck[q]));
            else
                plot_csv_i(&k->w, (int64_t)cli_table_num(t, i, ck[q]));
        }
        for (int q = 0; q < N_LOSS; q++) {
            double x = cli_table_num(t, i, cl[q]);
            present[q] |= isfinite(x) && x != 0;
            plot_csv_f(&k->w, x);
        }
        plot_csv_f(&k->w, cli_table_num(t, i, c_wall));
        plot_csv_row_end(&k->w);
    }
    /* a series that is NaN (or 0) throughout is a penalty the method does not
     * use: omitted, not drawn as a flat line */
    char losses[256] = "", pens[256] = "", buf[512];
    for (int q = 0; q < N_LOSS; q++)
        if (present[q])
            add_word(q < 2 ? losses : pens, q < 2 ? sizeof losses : sizeof pens, loss_cols[q]);
    const cl_run_meta *m = cl_store_meta(s);
    snprintf(buf, sizeof buf, "%s [%s]: λ_sparse %g, λ_orth %g, penalty form %s; %lld snapshots",
             plot_basename(cl_store_path(s)), m->method, m->lambda_sparse, m->lambda_orth,
             m->penalty_form, (long long)n);
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_ps(&k->v, "plosses", p, losses);
    plot_var_ps(&k->v, "ppens", p, pens);
    boundaries(&k->v, p, s, 1);
    return CL_OK;
}

int plot_training(plot_run *r, cl_error *err)
{
    snap_ctx k;
    memset(&k, 0, sizeof k);
    static const char *cols[] = {"store", "panel", "method", "id", "task", "name", "kind", "epoch",
                                 "step", "loss", "loss_task", "penalty_orth", "penalty_l2",
                                 "penalty_sparse", "wall_time"};
    int rc = plot_csv_open(r, cols, 15, &k.w, err);
    if (rc)
        return rc;
    rc = plot_each_store(r, tr_store, &k, err);
    plot_var_s(&k.v, "title", "Training: loss and penalties at each snapshot (dashed: end of "
                              "each task)");
    return plot_panels_finish(r, &k.w, &k.v, rc, 1300, 60 + 460 * r->o->n_stores, err);
}

/* ------------------------------------------------------------ history */

static void hist_row(snap_ctx *k, cl_store *s, int p, const cli_table *t, int i,
                     const char *quantity, int series, int pair, const char *vcol)
{
    int64_t snap = (int64_t)cli_table_num(t, i, plot_col(t, "snapshot"));
    int ti = (int)cli_table_num(t, i, plot_col(t, pair ? "task_i" : "task"));
    int tj = pair ? (int)cli_table_num(t, i, plot_col(t, "task_j")) : ti;
    plot_csv_s(&k->w, cl_store_path(s));
    plot_csv_i(&k->w, p);
    plot_csv_i(&k->w, snap);
    plot_csv_i(&k->w, cl_store_snapshot(s, snap)->step);
    plot_csv_s(&k->w, quantity);
    plot_csv_i(&k->w, series);
    plot_csv_i(&k->w, ti);
    plot_csv_i(&k->w, tj);
    plot_csv_s(&k->w, cli_table_str(t, i, plot_col(t, pair ? "name_i" : "name")));
    plot_csv_s(&k->w, pair ? cli_table_str(t, i, plot_col(t, "name_j")) : "");
    plot_csv_f(&k->w, cli_table_num(t, i, plot_col(t, vcol)));
    plot_csv_row_end(&k->w);
}

static int hi_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    snap_ctx *k = vc;
    int p = index + 1, T = cl_store_n_tasks(s);
    int rc = plot_family(r, s, fam_collision, "all", 0, err);
    if (rc)
        return rc;
    /* one line per pair (i<j) and per task: rows of one line kept together,
     * in snapshot order, since gnuplot joins consecutive points */
    const cli_table *tp = plot_table(r, "pairs"), *tt = plot_table(r, "tasks");
    char pairs[8192] = "", tasks[4096] = "";
    int series = 0;
    for (int i = 0; i < T; i++)
        for (int j = i + 1; j < T; j++) {
            int any = 0;
            for (int q = 0; q < cli_table_nrows(tp); q++)
                if ((int)cli_table_num(tp, q, plot_col(tp, "task_i")) == i &&
                    (int)cli_table_num(tp, q, plot_col(tp, "task_j")) == j) {
                    if (!any++)
                        series++;
                    hist_row(k, s, p, tp, q, "collision_rate", series, 1, "collision_rate_mean");
                }
            if (any) {
                char name[160];
                snprintf(name, sizeof name, "%s-%s", cl_store_task_name(s, i), cl_store_task_name(s, j));
                add_word(pairs, sizeof pairs, name);
            }
        }
    plot_var_pi(&k->v, "npairs", p, series);
    series = 0;
    for (int i = 0; i < T; i++) {
        int any = 0;
        for (int q = 0; q < cli_table_nrows(tt); q++)
            if ((int)cli_table_num(tt, q, plot_col(tt, "task")) == i) {
                if (!any++)
                    series++;
                hist_row(k, s, p, tt, q, "density", series, 0, "density_mean");
            }
        if (any)
            add_word(tasks, sizeof tasks, cl_store_task_name(s, i));
    }
    plot_var_pi(&k->v, "ntasks", p, series);
    plot_var_ps(&k->v, "ppairs", p, pairs);
    plot_var_ps(&k->v, "ptasks", p, tasks);
    char buf[512];
    snprintf(buf, sizeof buf, "%s [%s]", plot_basename(cl_store_path(s)), cl_store_meta(s)->method);
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_pi(&k->v, "psnaps", p, cl_store_n_snapshots(s));
    boundaries(&k->v, p, s, 0);
    return CL_OK;
}

int plot_history(plot_run *r, cl_error *err)
{
    snap_ctx k;
    memset(&k, 0, sizeof k);
    static const char *cols[] = {"store", "panel", "snapshot", "step", "quantity", "series",
                                 "task_i", "task_j", "name_i", "name_j", "value"};
    int rc = plot_csv_open(r, cols, 11, &k.w, err);
    if (rc)
        return rc;
    rc = plot_each_store(r, hi_store, &k, err);
    char th[48], buf[256];
    snprintf(buf, sizeof buf, "Collisions and density at every snapshot, %s (dashed: end of each "
                              "task)", plot_threshold_text(r, th, sizeof th));
    plot_var_s(&k.v, "title", buf);
    plot_var_s(&k.v, "threshold", th);
    return plot_panels_finish(r, &k.w, &k.v, rc, 1500, 60 + 480 * r->o->n_stores, err);
}
