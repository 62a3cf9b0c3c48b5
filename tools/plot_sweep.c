/* plot_sweep.c -- ACR and mean density against the threshold value, one line
 * per store: collide-collision --sweep's summary rows (fam_collision). */
#include "plot.h"
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sw_ctx {
    plot_csv w;
    plot_vars v;
    int longest;   /* the longest legend entry, for the room it needs */
    int has_acr;   /* some store has a pair of tasks                  */
    char (*methods)[64]; /* the method of each store so far          */
} sw_ctx;

/* Stores of one method share its colour; the k-th of them gets the k-th
 * dash and marker, so that its line stays apart. */
static int same_method_before(const sw_ctx *k, int index, const char *method)
{
    int n = 0;
    for (int i = 0; i < index; i++)
        n += !strcmp(k->methods[i], method);
    return n;
}

typedef struct sw_row {
    double value, acr_mean, acr_pooled, density;
    const char *th;
} sw_row;

static int by_value(const void *a, const void *b)
{
    double x = ((const sw_row *)a)->value, y = ((const sw_row *)b)->value;
    return (x > y) - (x < y);
}

static int sw_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    sw_ctx *k = vc;
    int p = index + 1;
    int rc = plot_family(r, s, fam_collision, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "summary");
    int n = cli_table_nrows(t);
    sw_row rows[CLI_MAX_TH];
    int c_th = plot_col(t, "threshold"), c_am = plot_col(t, "acr_mean");
    int c_ap = plot_col(t, "acr_pooled"), c_d = plot_col(t, "density_mean");
    for (int i = 0; i < n && i < CLI_MAX_TH; i++)
        rows[i] = (sw_row){r->c.th[i].value, cli_table_num(t, i, c_am), cli_table_num(t, i, c_ap),
                           cli_table_num(t, i, c_d), cli_table_str(t, i, c_th)};
    qsort(rows, (size_t)n, sizeof rows[0], by_value); /* a line runs left to right */
    char label[256];
    char store[160];
    snprintf(label, sizeof label, "%s [%s]", plot_store_name(s, 40, store, sizeof store),
             cl_store_meta(s)->method);
    int64_t snap = (int64_t)cli_table_num(t, 0, plot_col(t, "snapshot"));
    const char *method = cl_store_meta(s)->method;
    for (int i = 0; i < n; i++) {
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, method);
        plot_csv_s(&k->w, plot_method_colour(method));
        plot_csv_i(&k->w, snap);
        plot_csv_s(&k->w, rows[i].th);
        plot_csv_f(&k->w, rows[i].value);
        plot_csv_i(&k->w, rows[i].value == r->o->th.value);
        plot_csv_f(&k->w, rows[i].acr_mean);
        k->has_acr |= isfinite(rows[i].acr_mean);
        plot_csv_f(&k->w, rows[i].acr_pooled);
        plot_csv_f(&k->w, rows[i].density);
        plot_csv_row_end(&k->w);
    }
    plot_var_ps(&k->v, "pname", p, label);
    static const int marks[] = {7, 5, 9, 11, 13, 15, 4, 6};
    snprintf(k->methods[index], sizeof k->methods[0], "%s", method);
    int nth = same_method_before(k, index, method);
    plot_var_ps(&k->v, "pcolour", p, plot_method_colour(method));
    plot_var_pi(&k->v, "pdash", p, 1 + nth % 5);
    plot_var_pi(&k->v, "ppoint", p, nth ? marks[nth % 8] : plot_method_point(method));
    if ((int)strlen(label) > k->longest)
        k->longest = (int)strlen(label);
    return CL_OK;
}

/* The stated threshold first, then the sweep (the list given, or the mode's
 * defaults as collide-collision --sweep has them), each value once. */
static void thresholds(plot_run *r)
{
    const plot_opts *o = r->o;
    cl_threshold d[CLI_MAX_TH];
    const cl_threshold *list = o->sweep;
    int n = o->n_sweep;
    if (!n) {
        n = cli_sweep_parse("collide-plot", o->th, NULL, d, CLI_MAX_TH);
        list = d;
    }
    r->c.th[0] = o->th;
    r->c.n_th = 1;
    for (int i = 0; i < n && r->c.n_th < CLI_MAX_TH; i++) {
        int dup = 0;
        for (int q = 0; q < r->c.n_th; q++)
            dup |= r->c.th[q].value == list[i].value;
        if (!dup)
            r->c.th[r->c.n_th++] = list[i];
    }
}

static const char *axis_label(cl_threshold_mode m)
{
    switch (m) {
    case CL_TH_ABS: return "absolute threshold E (units of ΔW, log scale)\nactive: |ΔW| > E";
    case CL_TH_REL: return "relative threshold P (log scale)\nactive: |ΔW| > P · max|ΔW|";
    case CL_TH_ENERGY:
        return "energy threshold F (log scale of 1 − F)\nactive: the fewest largest entries "
               "holding F of ‖ΔW‖²_F";
    default: return "top fraction Q (log scale)\nactive: the largest Q of the entries";
    }
}

int plot_threshold_sweep(plot_run *r, cl_error *err)
{
    sw_ctx k;
    memset(&k, 0, sizeof k);
    thresholds(r);
    static const char *cols[] = {"store", "panel", "method", "colour", "snapshot", "threshold",
                                 "value", "stated", "acr_mean", "acr_pooled", "density_mean"};
    k.methods = calloc((size_t)r->o->n_stores, sizeof *k.methods);
    int rc = k.methods ? plot_csv_open(r, cols, 11, &k.w, err)
                       : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = plot_each_store(r, sw_store, &k, err);
    free(k.methods);
    cl_threshold th_list[CLI_MAX_TH];
    int n_th = r->c.n_th;
    memcpy(th_list, r->c.th, sizeof th_list);
    r->c.n_th = 1;
    if ((rc = plot_csv_finish(r, &k.w, &k.v, rc, err)))
        return rc;
    char th[48], buf[256];
    snprintf(buf, sizeof buf, "Collision and density against the threshold (dashed line: %s, the "
                              "threshold the other figures use)",
             plot_threshold_text(r, th, sizeof th));
    plot_var_s(&k.v, "title", buf);
    plot_var_s(&k.v, "xlabel", axis_label(r->o->th.mode));
    /* energy values crowd below 1 (0.9, 0.99, 0.999): drawn on a log scale of
     * 1 - F; the others on a log scale of the value itself */
    plot_var_s(&k.v, "xmode", r->o->th.mode == CL_TH_ENERGY ? "energy" : "log");
    plot_var_f(&k.v, "stated", r->o->th.value);
    char ticks[CLI_MAX_TH * 28] = "";
    for (int q = 0; q < n_th; q++)
        snprintf(ticks + strlen(ticks), sizeof ticks - strlen(ticks), "%s%.10g", q ? " " : "",
                 th_list[q].value);
    plot_var_s(&k.v, "ticks", ticks);
    plot_var_i(&k.v, "npanels", r->o->n_stores);
    plot_var_i(&k.v, "has_acr", k.has_acr);
    /* the legend sits right of the panels: about 10 pixels a character */
    int legend = 100 + 10 * (k.longest > 14 ? k.longest : 14), width = 1300 + legend;
    plot_var_f(&k.v, "keyx", 1.0 - (double)legend / width);
    rc = plot_render(r, &k.v, width, 640, err);
    plot_vars_free(&k.v);
    return rc;
}
