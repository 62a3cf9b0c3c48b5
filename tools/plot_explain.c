/* plot_explain.c -- forgetting against each interference measure, one panel
 * per measure, one point per ordered task pair (i learned before j) of every
 * store, coloured by the store's method; each panel's title gives the
 * pooled Spearman r with its bootstrap interval and permutation p. The
 * numbers are libmetrics' (cl_explain_store, cl_explain_corr), the same as
 * collide-explain's on the same stores and options. */
#include "plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { XP_MAX_SERIES = 16 };
/* The statistics of every panel title: collide-explain's defaults. */
enum { XP_REPS = 1000, XP_PERMS = 1000, XP_SEED = 1 };

typedef struct xp_store {
    char *path, *name;
    char method[64], series[64];
    char **task;         /* task names, [e.tasks'] by store task index      */
    int n_task;
    int measured;        /* any accuracy recorded (either protocol)         */
    cl_explain e;
} xp_store;

typedef struct xp_ctx {
    xp_store *s;
    int n;
} xp_ctx;

static char *dup_s(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s ? s : "", n);
    return d;
}

static void store_free(xp_store *x)
{
    free(x->path);
    free(x->name);
    for (int t = 0; t < x->n_task; t++)
        free(x->task[t]);
    free(x->task);
    cl_explain_free(&x->e);
}

static int xp_store_fn(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    (void)index;
    xp_ctx *k = vc;
    xp_store *x = &k->s[k->n];
    memset(x, 0, sizeof *x);
    const cl_run_meta *m = cl_store_meta(s);
    snprintf(x->method, sizeof x->method, "%s", m->method);
    plot_series(m->method, x->series, sizeof x->series);
    x->path = dup_s(cl_store_path(s));
    x->name = dup_s(m->name);
    int T = cl_store_n_tasks(s);
    x->task = calloc((size_t)(T > 0 ? T : 1), sizeof *x->task);
    if (!x->path || !x->name || !x->task) {
        store_free(x);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; t < T; t++, x->n_task++)
        if (!(x->task[t] = dup_s(cl_store_task_name(s, t)))) {
            store_free(x);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
    for (int e = 0; e < CL_EVAL_COUNT; e++)
        x->measured |= cl_store_has_eval(s, (cl_eval)e);
    int *mods = NULL, nm = 0;
    int rc = cl_modules_select(s, r->o->module, &mods, &nm, err);
    if (!rc)
        rc = cl_explain_store(s, cli_backend(&r->c), &r->o->th, 1, mods, nm, &x->e, err);
    free(mods);
    if (rc) {
        store_free(x);
        return rc;
    }
    k->n++;
    return CL_OK;
}

/* ------------------------------------------------------------ the measures */

/* A measure in a panel title, and its x axis. */
static void measure_title(const plot_run *r, int k, char *buf, size_t n)
{
    static const char *const t[CL_EX_COUNT] = {
        "collision rate", "Jaccard", "overlap energy", "cosine", "orthogonality OO",
        "principal-angle similarity", "row-space share", "‖ΔW_j‖_F"};
    if (cl_explain_thresholded(k)) {
        char th[48];
        snprintf(buf, n, "%s (%s)", t[k], plot_threshold_text(r, th, sizeof th));
    } else {
        snprintf(buf, n, "%s", t[k]);
    }
}

static const char *measure_xlabel(int k)
{
    static const char *const x[CL_EX_COUNT] = {
        "collision rate CR_ij (% of entries active in both; mean over modules)",
        "Jaccard index of the active sets J_ij (mean over modules)",
        "overlap energy Σ|ΔW_i ∘ ΔW_j| / (‖ΔW_i‖_F ‖ΔW_j‖_F) (mean over modules)",
        "cosine ⟨ΔW_i, ΔW_j⟩_F / (‖ΔW_i‖_F ‖ΔW_j‖_F) (mean over modules)",
        "OO = ‖A_i A_jᵀ‖²_F (mean over modules)",
        "mean cos² of the principal angles between the rows of A_i and A_j",
        "share of ‖ΔW_j‖²_F in the row space of A_i (mean over modules)",
        "‖ΔW_j‖_F over all modules: the size of the later update"};
    return x[k];
}

/* The drawn x of measure k: the collision rate in %, the rest as they are. */
static double x_scale(int k) { return k == CL_EX_COLLISION ? 100 : 1; }

/* "collision rate (energy:0.99): Spearman 0.26 [-0.12, 0.58], p 0.18, 42 pairs" */
static void panel_title(const plot_run *r, int k, const cl_corr_stat *st, char *buf, size_t n)
{
    char m[128], ci[64] = "", p[32] = "";
    measure_title(r, k, m, sizeof m);
    if (isnan(st->r)) {
        snprintf(buf, n, "%s: Spearman undefined, %d pair%s", m, st->n, st->n == 1 ? "" : "s");
        return;
    }
    if (!isnan(st->lo) && !isnan(st->hi))
        snprintf(ci, sizeof ci, " [%.2f, %.2f]", st->lo, st->hi);
    if (!isnan(st->p))
        snprintf(p, sizeof p, ", p %.2g", st->p);
    snprintf(buf, n, "%s: Spearman %.2f%s%s, %d pairs", m, st->r, ci, p, st->n);
}

/* ------------------------------------------------------------ the figure */

static void stores_text(const plot_run *r, char *buf, size_t n)
{
    buf[0] = 0;
    if (r->o->n_stores > 3) {
        snprintf(buf, n, "%d stores", r->o->n_stores);
        return;
    }
    for (int i = 0; i < r->o->n_stores; i++) {
        char b[64];
        plot_shorten(plot_basename(r->o->stores[i]), 40, b, sizeof b);
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "", b);
    }
}

/* The protocol drawn: ranked where any pair has a ranked forgetting, else
 * generation; -1 when no pair has either. */
static int headline(const xp_ctx *k)
{
    static const int order[] = {CL_EVAL_RANKED, CL_EVAL_GENERATE};
    for (int q = 0; q < 2; q++)
        for (int i = 0; i < k->n; i++)
            for (int p = 0; p < k->s[i].e.pairs; p++)
                if (isfinite(k->s[i].e.pair[p].forgetting[order[q]]))
                    return order[q];
    return -1;
}

static int refuse(plot_run *r, const xp_ctx *k, cl_error *err)
{
    int measured = 0, pairs = 0;
    for (int i = 0; i < k->n; i++)
        measured |= k->s[i].measured, pairs += k->s[i].e.pairs;
    const char *more = r->o->n_stores > 1 ? " or the other stores" : "";
    if (!pairs)
        return plot_no_data(r, err, "no task pair in %s%s: forgetting needs two tasks",
                            r->o->stores[0], more);
    if (!measured)
        return plot_no_data(r, err, "no accuracy was ever evaluated in %s%s (collide-train "
                                    "records them; an imported store has them when labelled: "
                                    "collide-import --accuracy FILE, docs/IMPORT.md)",
                            r->o->stores[0], more);
    return plot_no_data(r, err, "no task pair's forgetting R[j-1][i] - R[j][i] is known in "
                                "%s%s: both accuracies of task i must be evaluated",
                        r->o->stores[0], more);
}

static const char *const xp_cols[] = {
    "part", "store", "method", "series", "colour", "name", "threshold", "protocol", "task_i",
    "task_j", "name_i", "name_j", "forgetting", "collision_rate", "jaccard", "overlap_energy",
    "cosine", "oo", "angle_sim", "rowspace_share", "norm_j", "panel", "measure", "title",
    "spearman", "lo", "hi", "p", "n"};
enum { XP_NCOLS = 29 };
_Static_assert(XP_NCOLS == 21 + CL_EX_COUNT, "one column per measure");

static void pair_row(plot_csv *w, const xp_store *x, int p, int ev, const char *th,
                     const char *prot)
{
    const cl_explain_pair *q = &x->e.pair[p];
    plot_csv_s(w, "pair");
    plot_csv_s(w, x->path);
    plot_csv_s(w, x->method);
    plot_csv_s(w, x->series);
    plot_csv_s(w, plot_method_colour(x->method));
    plot_csv_s(w, x->name);
    plot_csv_s(w, th);
    plot_csv_s(w, prot);
    plot_csv_i(w, q->i);
    plot_csv_i(w, q->j);
    plot_csv_s(w, q->i < x->n_task ? x->task[q->i] : "");
    plot_csv_s(w, q->j < x->n_task ? x->task[q->j] : "");
    plot_csv_f(w, q->forgetting[ev]);
    for (int k = 0; k < CL_EX_COUNT; k++)
        plot_csv_f(w, cl_explain_value(&x->e, p, k, 0));
    for (int c = 0; c < 8; c++)
        plot_csv_s(w, "");
    plot_csv_row_end(w);
}

static void panel_row(plot_csv *w, int k, const char *th, const char *prot, const char *title,
                      const cl_corr_stat *st)
{
    plot_csv_s(w, "panel");
    for (int c = 0; c < 5; c++)
        plot_csv_s(w, "");
    plot_csv_s(w, cl_explain_thresholded(k) ? th : "");
    plot_csv_s(w, prot);
    for (int c = 0; c < 5 + CL_EX_COUNT; c++)
        plot_csv_s(w, "");
    plot_csv_i(w, k + 1);
    plot_csv_s(w, cl_explain_measure_name(k));
    plot_csv_s(w, title);
    plot_csv_f(w, st->r);
    plot_csv_f(w, st->lo);
    plot_csv_f(w, st->hi);
    plot_csv_f(w, st->p);
    plot_csv_i(w, st->n);
    plot_csv_row_end(w);
}

/* A range around [lo, hi] with a margin; a single value gets one too. */
static void pad_range(double lo, double hi, double frac, double *a, double *b)
{
    if (!(hi >= lo)) {
        *a = 0, *b = 1;
        return;
    }
    double span = hi - lo;
    if (span <= 0)
        span = lo != 0 ? 0.4 * fabs(lo) : 1;
    *a = lo - frac * span;
    *b = hi + frac * span;
}

/* The method series drawn (a point in some panel), and each panel's: every
 * plot clause must have a point (gnuplot warns of an empty one). */
static void xp_vars(const plot_run *r, const xp_ctx *k, int ev, plot_vars *v)
{
    char all[XP_MAX_SERIES][64], allm[XP_MAX_SERIES][64];
    int n_all = 0;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int pn = 0; pn < CL_EX_COUNT; pn++) {
        char list[XP_MAX_SERIES * 70] = "", cols[XP_MAX_SERIES * 12] = "";
        char pts[XP_MAX_SERIES * 4] = "";
        int ns = 0, npts = 0;
        double xlo = INFINITY, xhi = -INFINITY;
        for (int i = 0; i < k->n; i++) {
            const xp_store *x = &k->s[i];
            int here = 0;
            for (int p = 0; p < x->e.pairs; p++) {
                double f = x->e.pair[p].forgetting[ev], m = cl_explain_value(&x->e, p, pn, 0);
                if (!isfinite(f) || !isfinite(m))
                    continue;
                here = 1, npts++;
                m *= x_scale(pn);
                xlo = fmin(xlo, m), xhi = fmax(xhi, m);
                ylo = fmin(ylo, 100 * f), yhi = fmax(yhi, 100 * f);
            }
            if (!here)
                continue;
            char word[80]; /* quoted: a series already listed is found whole */
            snprintf(word, sizeof word, "\"%s\"", x->series);
            if (strstr(list, word) || ns == XP_MAX_SERIES)
                continue;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", ns ? " " : "", word);
            snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", ns ? " " : "",
                     plot_method_colour(x->method));
            snprintf(pts + strlen(pts), sizeof pts - strlen(pts), "%s%d", ns ? " " : "",
                     plot_method_point(x->method));
            ns++;
            int seen = 0;
            for (int j = 0; j < n_all; j++)
                seen |= !strcmp(all[j], x->series);
            if (!seen && n_all < XP_MAX_SERIES) {
                snprintf(all[n_all], sizeof all[0], "%s", x->series);
                snprintf(allm[n_all++], sizeof allm[0], "%s", x->method);
            }
        }
        plot_var_ps(v, "pseries", pn + 1, list);
        plot_var_ps(v, "pcolours", pn + 1, cols);
        plot_var_ps(v, "pmarkers", pn + 1, pts);
        plot_var_pi(v, "pnseries", pn + 1, ns);
        plot_var_pi(v, "pnpoints", pn + 1, npts);
        double a, b;
        /* a rate or share that cannot be negative starts at 0 */
        int nonneg = pn != CL_EX_COSINE;
        if (npts && nonneg && xlo >= 0 && xlo <= 0.35 * xhi)
            xlo = 0;
        pad_range(xlo, xhi, 0.05, &a, &b);
        if (npts && nonneg && xlo >= 0 && a < 0)
            a = xlo == 0 ? -0.02 * (b - xlo) : xlo - 0.05 * (xhi - xlo);
        plot_var_pf(v, "pxmin", pn + 1, a);
        plot_var_pf(v, "pxmax", pn + 1, b);
        plot_var_ps(v, "pcolumn", pn + 1, cl_explain_measure_name(pn));
        plot_var_pf(v, "pxscale", pn + 1, x_scale(pn));
        plot_var_ps(v, "pxlabel", pn + 1, measure_xlabel(pn));
    }
    /* forgetting in points; 0 always in view (the zero line) */
    ylo = fmin(ylo, 0), yhi = fmax(yhi, 0);
    double a, b;
    pad_range(ylo, yhi, 0.06, &a, &b);
    plot_var_f(v, "ymin", a);
    plot_var_f(v, "ymax", b);
    char list[XP_MAX_SERIES * 70] = "", cols[XP_MAX_SERIES * 12] = "", pts[XP_MAX_SERIES * 4] = "";
    for (int i = 0; i < n_all; i++) {
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? " " : "", all[i]);
        snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", i ? " " : "",
                 plot_method_colour(allm[i]));
        snprintf(pts + strlen(pts), sizeof pts - strlen(pts), "%s%d", i ? " " : "",
                 plot_method_point(allm[i]));
    }
    plot_var_s(v, "series", list);
    plot_var_s(v, "colours", cols);
    plot_var_s(v, "markers", pts);
    plot_var_i(v, "nseries", n_all);
    (void)r;
}

int plot_explain(plot_run *r, cl_error *err)
{
    xp_ctx k = {calloc((size_t)r->o->n_stores, sizeof *k.s), 0};
    if (!k.s)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int rc = plot_each_store(r, xp_store_fn, &k, err);
    int ev = rc ? -1 : headline(&k);
    if (!rc && ev < 0)
        rc = refuse(r, &k, err);
    const cl_explain **ep = calloc((size_t)(k.n ? k.n : 1), sizeof *ep);
    if (!rc && !ep)
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_corr_stat st[CL_EX_COUNT];
    for (int i = 0; !rc && i < k.n; i++)
        ep[i] = &k.s[i].e;
    for (int m = 0; !rc && m < CL_EX_COUNT; m++)
        rc = cl_explain_corr(ep, k.n, m, 0, (cl_eval)ev, CL_CORR_SPEARMAN, XP_REPS, XP_PERMS,
                             XP_SEED, &st[m], err);
    plot_csv w;
    plot_vars v = {0};
    char th[48], prot[32] = "", titles[CL_EX_COUNT][256];
    plot_threshold_text(r, th, sizeof th);
    if (!rc) {
        snprintf(prot, sizeof prot, "%s", cl_eval_name((cl_eval)ev));
        rc = plot_csv_open(r, xp_cols, XP_NCOLS, &w, err);
    }
    if (!rc) {
        for (int i = 0; i < k.n; i++)
            for (int p = 0; p < k.s[i].e.pairs; p++)
                pair_row(&w, &k.s[i], p, ev, th, prot);
        for (int m = 0; m < CL_EX_COUNT; m++) {
            panel_title(r, m, &st[m], titles[m], sizeof titles[m]);
            panel_row(&w, m, th, prot, titles[m], &st[m]);
            plot_var_ps(&v, "ptitle", m + 1, titles[m]);
        }
        rc = plot_csv_finish(r, &w, &v, rc, err);
    }
    if (!rc) {
        /* the stores that draw no point under this protocol */
        int without = 0, pairs = 0;
        for (int i = 0; i < k.n; i++) {
            int any = 0;
            for (int p = 0; p < k.s[i].e.pairs; p++)
                any |= isfinite(k.s[i].e.pair[p].forgetting[ev]);
            without += !any;
            pairs += k.s[i].e.pairs;
        }
        char st_text[512], buf[1024], wo[160] = "";
        stores_text(r, st_text, sizeof st_text);
        if (without == 1) {
            for (int i = 0; i < k.n; i++) {
                int any = 0;
                for (int p = 0; p < k.s[i].e.pairs; p++)
                    any |= isfinite(k.s[i].e.pair[p].forgetting[ev]);
                char b[64];
                plot_shorten(plot_basename(k.s[i].path), 40, b, sizeof b);
                if (!any)
                    snprintf(wo, sizeof wo, "; %s has no %s accuracy: no point", b, prot);
            }
        } else if (without) {
            snprintf(wo, sizeof wo, "; %d stores have no %s accuracy: no point", without, prot);
        }
        snprintf(buf, sizeof buf,
                 "Forgetting of task i caused by learning task j, against each interference "
                 "measure (%s scoring)\n%s: %d task pairs (i learned before j)%s\npanel titles: "
                 "Spearman r over every store's pairs, bootstrap 95%% interval and permutation p "
                 "(%d resamples each)",
                 prot, st_text, pairs, wo, XP_REPS);
        plot_var_s(&v, "title", buf);
        plot_var_s(&v, "ylabel", "forgetting R[j-1][i] − R[j][i] (accuracy points)");
        plot_var_i(&v, "npanels", CL_EX_COUNT);
        xp_vars(r, &k, ev, &v);
        rc = plot_render(r, &v, 1700, 2150, err);
        plot_vars_free(&v);
    }
    for (int i = 0; i < k.n; i++)
        store_free(&k.s[i]);
    free(k.s);
    free(ep);
    return rc;
}
