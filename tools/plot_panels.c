/* plot_panels.c -- the subspace figures, one panel per store, from
 * collide-subspace's tables (fam_subspace): the nuclear norm of every module
 * (the paper's Figure 3) and the singular values of every task's update. */
#include "plot.h"
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct panel_ctx {
    plot_csv w;
    plot_vars v;
} panel_ctx;

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
    for (int i = 0, m = 0; i < n; i++) {
        if ((int)cli_table_num(t, i, c_task) != want)
            continue;
        update = cli_table_str(t, i, c_name);
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, cl_store_meta(s)->method);
        plot_csv_i(&k->w, snap);
        plot_csv_i(&k->w, m++);
        plot_csv_s(&k->w, cli_table_str(t, i, c_mod));
        plot_csv_s(&k->w, update);
        plot_csv_f(&k->w, cli_table_num(t, i, c_nuc));
        plot_csv_f(&k->w, mean);
        plot_csv_row_end(&k->w);
    }
    char buf[512];
    char which[160];
    if (want < 0)
        snprintf(which, sizeof which, "the accumulated update");
    else
        snprintf(which, sizeof which, "the update of task %d (%s)", want, update);
    snprintf(buf, sizeof buf, "%s [%s], snapshot %lld: %s, %d modules",
             plot_basename(cl_store_path(s)), cl_store_meta(s)->method, (long long)snap, which,
             count);
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_pi(&k->v, "pmodules", p, count);
    return CL_OK;
}

int plot_nuclear_norm(plot_run *r, cl_error *err)
{
    panel_ctx k;
    memset(&k, 0, sizeof k);
    static const char *cols[] = {"store", "panel", "method", "snapshot", "module_index",
                                 "module", "update", "nuclear", "nuclear_mean"};
    int rc = plot_csv_open(r, cols, 9, &k.w, err);
    if (rc)
        return rc;
    rc = plot_each_store(r, nn_store, &k, err);
    plot_var_s(&k.v, "title", r->o->task < 0
                                  ? "Nuclear norm per module: the accumulated update Σ_t ΔW_t"
                                  : "Nuclear norm per module: one task's update ΔW_t");
    return plot_panels_finish(r, &k.w, &k.v, rc, 1400, 80 + 420 * r->o->n_stores, err);
}

/* ------------------------------------------------------------ spectra */

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
    char names[4096] = "";
    int series = 0, prev = -2;
    int64_t snap = n ? (int64_t)cli_table_num(t, 0, c_snap) : -1;
    for (int i = 0; i < n; i++) {
        int task = (int)cli_table_num(t, i, c_task);
        if (task != prev) {
            char word[80];
            series++;
            prev = task;
            plot_series(cli_table_str(t, i, c_name), word, sizeof word);
            if (strlen(names) + strlen(word) + 4 < sizeof names)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"",
                         series > 1 ? " " : "", word);
        }
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, cl_store_meta(s)->method);
        plot_csv_i(&k->w, snap);
        plot_csv_i(&k->w, task);
        plot_csv_s(&k->w, cli_table_str(t, i, c_name));
        plot_csv_i(&k->w, series);
        plot_csv_i(&k->w, (int64_t)cli_table_num(t, i, c_idx) + 1);
        plot_csv_f(&k->w, cli_table_num(t, i, c_sig));
        plot_csv_row_end(&k->w);
    }
    char buf[512];
    int nm = 0, *mods = NULL;
    if ((rc = cl_modules_select(s, r->o->module, &mods, &nm, err)))
        return rc;
    free(mods);
    snprintf(buf, sizeof buf, "%s [%s], snapshot %lld: mean over %d module%s", plot_basename(cl_store_path(s)),
             cl_store_meta(s)->method, (long long)snap, nm, nm == 1 ? "" : "s");
    plot_var_ps(&k->v, "ptitle", p, buf);
    plot_var_ps(&k->v, "pseries", p, names);
    plot_var_pi(&k->v, "nseries", p, series);
    return CL_OK;
}

int plot_spectra(plot_run *r, cl_error *err)
{
    panel_ctx k;
    memset(&k, 0, sizeof k);
    static const char *cols[] = {"store", "panel", "method", "snapshot", "task", "name",
                                 "series", "index", "sigma"};
    int rc = plot_csv_open(r, cols, 9, &k.w, err);
    if (rc)
        return rc;
    rc = plot_each_store(r, sp_store, &k, err);
    plot_var_s(&k.v, "title", "Singular values of each task's update ΔW_t and of the accumulated "
                              "update Σ_t ΔW_t");
    int cols_n = r->o->n_stores < 2 ? 1 : 2, rows_n = (r->o->n_stores + cols_n - 1) / cols_n;
    return plot_panels_finish(r, &k.w, &k.v, rc, cols_n == 1 ? 1100 : 1700, 80 + 520 * rows_n, err);
}
