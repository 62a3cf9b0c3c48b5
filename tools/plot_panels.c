/* plot_panels.c -- the subspace figures, one panel per store, from
 * collide-subspace's tables (fam_subspace): the nuclear norm of every module
 * (the paper's Figure 3) and the singular values of every task's update. */
#include "plot.h"
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_PANELS = 4096 };

/* The y range of each panel (index p - 1), and of them all. */
typedef struct panel_ctx {
    plot_csv w;
    plot_vars v;
    int independent;             /* --independent-axes                     */
    double lo[MAX_PANELS], hi[MAX_PANELS];
    double all_lo, all_hi;
} panel_ctx;

static void ctx_init(panel_ctx *k, const plot_run *r)
{
    memset(k, 0, sizeof *k);
    k->independent = r->o->independent_axes;
    k->all_lo = INFINITY;
    k->all_hi = -INFINITY;
    for (int p = 0; p < MAX_PANELS; p++)
        k->lo[p] = INFINITY, k->hi[p] = -INFINITY;
}

/* A value drawn in panel p (1-based) widens its range and the shared one. */
static void widen(panel_ctx *k, int p, double x)
{
    if (!isfinite(x))
        return;
    if (p >= 1 && p <= MAX_PANELS) {
        k->lo[p - 1] = fmin(k->lo[p - 1], x);
        k->hi[p - 1] = fmax(k->hi[p - 1], x);
    }
    k->all_lo = fmin(k->all_lo, x);
    k->all_hi = fmax(k->all_hi, x);
}

/* The data range panel p's axis covers: its own, or every panel's. */
static void panel_range(const panel_ctx *k, int p, double *lo, double *hi)
{
    int own = k->independent && p >= 1 && p <= MAX_PANELS;
    *lo = own ? k->lo[p - 1] : k->all_lo;
    *hi = own ? k->hi[p - 1] : k->all_hi;
}

/* ------------------------------------------------------------ nuclear norm */

static int nn_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    panel_ctx *k = vc;
    int p = index + 1, want = r->o->task;
    int rc = plot_family(r, s, fam_subspace, NULL, 1, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "module_tasks");
    int n = cli_table_nrows(t), c_task = plot_col(t, "task"), c_mod = plot_col(t, "module");
    int c_nuc = plot_col(t, "nuclear"), c_name = plot_col(t, "name");
    int c_snap = plot_col(t, "snapshot");
    double sum = 0;
    int count = 0;
    for (int i = 0; i < n; i++)
        if ((int)cli_table_num(t, i, c_task) == want) {
            sum += cli_table_num(t, i, c_nuc);
            count++;
        }
    int64_t snap = n ? (int64_t)cli_table_num(t, 0, c_snap) : -1;
    if (!count)
        return cl_error_set(err, CL_ERR_ARG, "%s: --task %d: the view at snapshot %lld does not "
                                             "hold task %d",
                            cl_store_path(s), want, (long long)snap, want);
    double mean = sum / count;
    const char *update = "";
    const char *method = cl_store_meta(s)->method;
    for (int i = 0, m = 0; i < n && !rc; i++) {
        if ((int)cli_table_num(t, i, c_task) != want)
            continue;
        update = cli_table_str(t, i, c_name);
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, method);
        plot_csv_s(&k->w, plot_method_colour(method));
        plot_csv_i(&k->w, snap);
        plot_csv_i(&k->w, m++);
        plot_csv_s(&k->w, cli_table_str(t, i, c_mod));
        plot_csv_s(&k->w, update);
        plot_csv_f(&k->w, cli_table_num(t, i, c_nuc));
        plot_csv_f(&k->w, mean);
        widen(k, p, cli_table_num(t, i, c_nuc));
        rc = plot_csv_row_held(&k->w, p, err);
    }
    if (rc)
        return rc;
    char buf[512], store[160];
    char which[160];
    if (want < 0)
        snprintf(which, sizeof which, "the accumulated update");
    else
        snprintf(which, sizeof which, "the update of task %d (%s)", want, update);
    snprintf(buf, sizeof buf, "%s [%s], snapshot %lld: %s, %d modules",
             plot_store_name(s, 60, store, sizeof store), cl_store_meta(s)->method, (long long)snap, which,
             count);
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_pi(&k->v, "pmodules", p, count);
    plot_var_ps(&k->v, "pcolour", p, plot_method_colour(method));
    return CL_OK;
}

/* The top of a nuclear-norm panel's axis: its tallest bar (or every
 * panel's) with room above; the axis starts at 0. */
static double nn_top(const panel_ctx *k, int p)
{
    double lo, hi;
    panel_range(k, p, &lo, &hi);
    return isfinite(hi) && hi > 0 ? 1.08 * hi : 1;
}

static void nn_tail(plot_csv *w, int p, void *ctx)
{
    plot_csv_f(w, nn_top(ctx, p));
}

int plot_nuclear_norm(plot_run *r, cl_error *err)
{
    panel_ctx *k = malloc(sizeof *k);
    if (!k)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    ctx_init(k, r);
    static const char *cols[] = {"store", "panel", "method", "colour", "snapshot", "module_index",
                                 "module", "update", "nuclear", "nuclear_mean", "y_max"};
    int rc = plot_csv_open(r, cols, 11, &k->w, err);
    if (rc) {
        free(k);
        return rc;
    }
    plot_csv_hold(&k->w, 1);
    rc = plot_each_store(r, nn_store, k, err);
    if (!rc)
        plot_csv_release(&k->w, nn_tail, k);
    for (int p = 1; p <= r->o->n_stores && !rc; p++)
        plot_var_pf(&k->v, "pymax", p, nn_top(k, p));
    plot_var_s(&k->v, "title", r->o->task < 0
                                  ? "Nuclear norm per module: the accumulated update Σ_t ΔW_t"
                                  : "Nuclear norm per module: one task's update ΔW_t");
    rc = plot_panels_finish(r, &k->w, &k->v, rc, 1400, 80 + 420 * r->o->n_stores, err);
    free(k);
    return rc;
}

/* ------------------------------------------------------------ spectra */

/* Legend entries longer than this are cut ("…"): a long task name must not
 * squeeze the plot into a strip (the CSV keeps every name whole). */
enum { SP_KEY_CHARS = 22 };

static int sp_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    panel_ctx *k = vc;
    int p = index + 1;
    int rc = plot_family(r, s, fam_subspace, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "spectra");
    int n = cli_table_nrows(t), c_task = plot_col(t, "task"), c_name = plot_col(t, "name");
    int c_idx = plot_col(t, "index"), c_sig = plot_col(t, "sigma");
    int c_snap = plot_col(t, "snapshot");
    /* rows come task by task (the accumulated update last): each task a series */
    char names[8192] = "";
    int series = 0, prev = -2, longest = 0;
    int64_t snap = n ? (int64_t)cli_table_num(t, 0, c_snap) : -1;
    const char *method = cl_store_meta(s)->method;
    for (int i = 0; i < n && !rc; i++) {
        int task = (int)cli_table_num(t, i, c_task);
        const char *name = cli_table_str(t, i, c_name);
        if (task != prev) {
            series++;
            prev = task;
            plot_add_word(names, sizeof names, name, SP_KEY_CHARS);
            int len = (int)strlen(name);
            longest = len > longest ? len : longest;
        }
        double sigma = cli_table_num(t, i, c_sig);
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, method);
        plot_csv_i(&k->w, snap);
        plot_csv_i(&k->w, task);
        plot_csv_s(&k->w, name);
        plot_csv_i(&k->w, series);
        plot_csv_i(&k->w, (int64_t)cli_table_num(t, i, c_idx) + 1);
        plot_csv_f(&k->w, sigma);
        if (sigma > 0) /* a log axis: zeros are not drawn */
            widen(k, p, sigma);
        rc = plot_csv_row_held(&k->w, p, err);
    }
    if (rc)
        return rc;
    char buf[512];
    int nm = 0, *mods = NULL;
    if ((rc = cl_modules_select(s, r->o->module, &mods, &nm, err)))
        return rc;
    free(mods);
    char store[160];
    plot_store_name(s, 40, store, sizeof store);
    snprintf(buf, sizeof buf, "%s [%s], snapshot %lld\nmean over %d module%s", store, method,
             (long long)snap, nm, nm == 1 ? "" : "s");
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_ps(&k->v, "pseries", p, names);
    plot_var_pi(&k->v, "nseries", p, series);
    return CL_OK;
}

/* A spectra panel's log axis: the singular values' range with room either
 * side; [0.1, 1] when it has none above 0. */
static void sp_range(const panel_ctx *k, int p, double *lo, double *hi)
{
    panel_range(k, p, lo, hi);
    if (!isfinite(*lo) || !isfinite(*hi) || *hi <= 0) {
        *lo = 0.1, *hi = 1;
        return;
    }
    *lo /= 1.6;
    *hi *= 1.6;
}

static void sp_tail(plot_csv *w, int p, void *ctx)
{
    double lo, hi;
    sp_range(ctx, p, &lo, &hi);
    plot_csv_f(w, lo);
    plot_csv_f(w, hi);
}

int plot_spectra(plot_run *r, cl_error *err)
{
    panel_ctx *k = malloc(sizeof *k);
    if (!k)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    ctx_init(k, r);
    static const char *cols[] = {"store", "panel", "method", "snapshot", "task", "name",
                                 "series", "index", "sigma", "y_min", "y_max"};
    int rc = plot_csv_open(r, cols, 11, &k->w, err);
    if (rc) {
        free(k);
        return rc;
    }
    plot_csv_hold(&k->w, 2);
    rc = plot_each_store(r, sp_store, k, err);
    if (!rc && !isfinite(k->all_hi))
        rc = plot_no_data(r, err, "every singular value is 0 (no update to draw on a log axis) "
                                  "in %s%s", r->o->stores[0], r->o->n_stores > 1 ? " and the "
                                  "other stores" : "");
    if (!rc)
        plot_csv_release(&k->w, sp_tail, k);
    for (int p = 1; p <= r->o->n_stores && !rc; p++) {
        double lo, hi;
        sp_range(k, p, &lo, &hi);
        plot_var_pf(&k->v, "pylo", p, lo);
        plot_var_pf(&k->v, "pyhi", p, hi);
    }
    plot_var_s(&k->v, "title", "Singular values of each task's update ΔW_t and of the accumulated "
                               "update Σ_t ΔW_t");
    int cols_n = r->o->n_stores < 2 ? 1 : 2, rows_n = (r->o->n_stores + cols_n - 1) / cols_n;
    rc = plot_panels_finish(r, &k->w, &k->v, rc, cols_n == 1 ? 1100 : 1700, 100 + 580 * rows_n,
                            err);
    free(k);
    return rc;
}
