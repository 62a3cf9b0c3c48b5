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
    int with_losses;     /* training: stores with a loss recorded */
} snap_ctx;

/* Append "word" to a gnuplot word list. */
static void add_word(char *list, size_t n, const char *word)
{
    plot_add_word(list, n, word, 0);
}

/* The task-end labels above a panel: names cut to this many characters, at
 * most this many rows of them. */
enum { END_NAME_CHARS = 18, END_ROWS = 4 };

/* A task's end as its dashed line and label show it: x (snapshot or step)
 * and the row of labels (0 nearest the plot) where its name sits. */
typedef struct task_end {
    int task;
    double x;
    int row;
    char name[96];
} task_end;

/* Each label goes on the lowest row where it clears the labels already
 * there: a label is centred on its line, about 7 pixels a character (font
 * 10) plus a gap, on a plot PX pixels wide showing x in [X0, X1]. Returns
 * the rows used. */
static int end_rows(task_end *e, int n, double x0, double x1, double px)
{
    double right[END_ROWS], scale = px / (x1 > x0 ? x1 - x0 : 1);
    int used = 0;
    for (int q = 0; q < END_ROWS; q++)
        right[q] = -INFINITY;
    for (int i = 0; i < n; i++) {
        int chars = 0;
        for (const char *c = e[i].name; *c; c++)
            chars += ((unsigned char)*c & 0xC0) != 0x80;
        double half = (7.0 * chars + 10) / 2, mid = (e[i].x - x0) * scale;
        int q = 0;
        while (q < END_ROWS && right[q] > mid - half)
            q++;
        if (q == END_ROWS) /* every row full: the one that frees first */
            for (int k = q = 0; k < END_ROWS; k++)
                q = right[k] < right[q] ? k : q;
        e[i].row = q;
        right[q] = mid + half;
        used = q + 1 > used ? q + 1 : used;
    }
    return used;
}

/* Where each task ends (snapshot, or step when BY_STEP), in x order, with
 * its label's row; returns how many (E holds the store's tasks). */
static int task_ends(const cl_store *s, int by_step, double x0, double x1, double px, task_end *e,
                     int *rows)
{
    int n = 0;
    for (int t = 0; t < cl_store_n_tasks(s); t++) {
        int64_t end = cl_store_task_end(s, t);
        if (end < 0)
            continue;
        e[n].task = t;
        e[n].x = (double)(by_step ? cl_store_snapshot(s, end)->step : end);
        plot_shorten(cl_store_task_name(s, t), END_NAME_CHARS, e[n].name, sizeof e[n].name);
        n++;
    }
    *rows = end_rows(e, n, x0, x1, px);
    return n;
}

/* The dashed boundaries and their labels: x values, names and rows. */
static void boundaries(plot_vars *v, int p, const task_end *e, int n, int rows)
{
    char xs[4096] = "", names[8192] = "", lv[1024] = "";
    for (int i = 0; i < n; i++) {
        size_t len = strlen(xs);
        snprintf(xs + len, sizeof xs - len, "%s%.17g", len ? " " : "", e[i].x);
        add_word(names, sizeof names, e[i].name);
        len = strlen(lv);
        snprintf(lv + len, sizeof lv - len, "%s%d", len ? " " : "", e[i].row);
    }
    plot_var_ps(v, "pbounds", p, xs);
    plot_var_ps(v, "pbnames", p, names);
    plot_var_ps(v, "pbrows", p, lv);
    plot_var_pi(v, "pnrows", p, rows);
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
    double s0 = INFINITY, s1 = -INFINITY;
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
        s0 = fmin(s0, cli_table_num(t, i, ck[5]));
        s1 = fmax(s1, cli_table_num(t, i, ck[5]));
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
    char losses[256] = "", pens[256] = "", buf[512], store[160];
    int any = 0;
    for (int q = 0; q < N_LOSS; q++)
        if (present[q])
            add_word(q < 2 ? losses : pens, q < 2 ? sizeof losses : sizeof pens, loss_cols[q]);
    for (int q = 0; q < N_LOSS; q++)
        any |= present[q];
    k->with_losses += any;
    const cl_run_meta *m = cl_store_meta(s);
    snprintf(buf, sizeof buf, "%s [%s]: λ_sparse %g, λ_orth %g, penalty form %s; %lld snapshots",
             plot_store_name(s, 48, store, sizeof store), m->method, m->lambda_sparse, m->lambda_orth,
             m->penalty_form, (long long)n);
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_ps(&k->v, "plosses", p, losses);
    plot_var_ps(&k->v, "ppens", p, pens);
    /* steps: from the first to the last snapshot, a little room either side */
    if (!(s1 > s0))
        s0 = isfinite(s0) ? s0 - 1 : 0, s1 = isfinite(s1) ? s1 + 1 : 1;
    double pad = 0.02 * (s1 - s0);
    plot_var_pf(&k->v, "pxlo", p, s0 - pad);
    plot_var_pf(&k->v, "pxhi", p, s1 + pad);
    task_end *e = calloc((size_t)cl_store_n_tasks(s) + 1, sizeof *e);
    if (!e)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int rows, ne = task_ends(s, 1, s0 - pad, s1 + pad, 900, e, &rows);
    boundaries(&k->v, p, e, ne, rows);
    free(e);
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
    if (!rc && !k.with_losses)
        rc = plot_no_data(r, err, "no training history: every snapshot's loss, task loss and "
                                  "penalties are missing (NaN) in %s%s; imported adapters carry "
                                  "none, collide-train records them",
                          r->o->stores[0], r->o->n_stores > 1 ? " and the other stores" : "");
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

/* Legend entries of the history figure are cut to this many characters. */
enum { HI_KEY_CHARS = 24 };

/* About how wide a history panel's plot is: half of 1500 pixels, less the
 * y axis and the key (about 9 pixels a character and the line sample; no
 * key beyond 16 lines: plots/history.gp). */
static double hi_plot_px(int lines, int longest)
{
    if (longest > HI_KEY_CHARS)
        longest = HI_KEY_CHARS + 1;
    return 750 - 130 - (lines > 16 ? 20 : 9.0 * (longest > 10 ? longest : 10) + 90);
}

/* A task's end: quantity task_end, value the row of labels its name is on. */
static void end_row(snap_ctx *k, const cl_store *s, int p, const task_end *e)
{
    int64_t snap = (int64_t)e->x;
    plot_csv_s(&k->w, cl_store_path(s));
    plot_csv_i(&k->w, p);
    plot_csv_i(&k->w, snap);
    plot_csv_i(&k->w, cl_store_snapshot(s, snap)->step);
    plot_csv_s(&k->w, "task_end");
    plot_csv_i(&k->w, 0);
    plot_csv_i(&k->w, e->task);
    plot_csv_i(&k->w, e->task);
    plot_csv_s(&k->w, cl_store_task_name(s, e->task));
    plot_csv_s(&k->w, "");
    plot_csv_f(&k->w, e->row);
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
    char pairs[16384] = "", tasks[8192] = "";
    int series = 0, longest = 0, longest_task = 0;
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
            if (any) { /* legend entries stay short: the key must not squeeze the plot */
                char a[96], b[96], name[200];
                plot_shorten(cl_store_task_name(s, i), HI_KEY_CHARS / 2, a, sizeof a);
                plot_shorten(cl_store_task_name(s, j), HI_KEY_CHARS / 2, b, sizeof b);
                snprintf(name, sizeof name, "%s-%s", a, b);
                add_word(pairs, sizeof pairs, name);
                int len = (int)(strlen(a) + strlen(b) + 1);
                longest = len > longest ? len : longest;
            }
        }
    plot_var_pi(&k->v, "npairs", p, series);
    int npairs = series;
    series = 0;
    for (int i = 0; i < T; i++) {
        int any = 0;
        for (int q = 0; q < cli_table_nrows(tt); q++)
            if ((int)cli_table_num(tt, q, plot_col(tt, "task")) == i) {
                if (!any++)
                    series++;
                hist_row(k, s, p, tt, q, "density", series, 0, "density_mean");
            }
        if (any) {
            plot_add_word(tasks, sizeof tasks, cl_store_task_name(s, i), HI_KEY_CHARS);
            int len = (int)strlen(cl_store_task_name(s, i));
            longest_task = len > longest_task ? len : longest_task;
        }
    }
    plot_var_pi(&k->v, "ntasks", p, series);
    plot_var_ps(&k->v, "ppairs", p, pairs);
    plot_var_ps(&k->v, "ptasks", p, tasks);
    char buf[512], store[160];
    plot_store_name(s, 40, store, sizeof store);
    snprintf(buf, sizeof buf, "%s [%s]", store, cl_store_meta(s)->method);
    plot_var_ps(&k->v, "ptitle", p, buf);
    int64_t N = cl_store_n_snapshots(s);
    plot_var_pi(&k->v, "psnaps", p, N);
    /* both panels show the task ends: the narrower one places the labels */
    double px = fmin(hi_plot_px(npairs, longest), hi_plot_px(series, longest_task));    task_end *e = calloc((size_t)T + 1, sizeof *e);
    if (!e)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int rows, ne = task_ends(s, 0, -0.3, (double)N - 0.7, px, e, &rows);
    for (int i = 0; i < ne; i++) /* where each label sits, for whoever checks it */
        end_row(k, s, p, &e[i]);
    boundaries(&k->v, p, e, ne, rows);
    free(e);
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
