/* plot_collmap.c -- the collision map (the paper's Figure 2): on one module,
 * an excerpt of the entries active in task i, in task j, and in both.
 *
 * Thresholds, counts and rates come from the dense pass (cl_dense_pass), the
 * same as collide-collision's. The excerpt's entries are formed here, in the
 * dense pass's own float32 arithmetic (kernels/kernels.h), and the whole
 * module's active counts are checked against the dense pass, so the map can
 * never show something the metric did not count. */
#include "plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row i of dW = s * B * A as every back end forms it: acc = B[i,0] A[0,j],
 * then one fused multiply-add per rank, then acc * (float)s. */
static void form_row(const cl_lowrank *u, int64_t i, float *out)
{
    int64_t n = u->d_in;
    const float *b = u->B + i * u->k;
    if (u->k == 0) {
        memset(out, 0, (size_t)n * sizeof *out);
        return;
    }
    for (int64_t j = 0; j < n; j++)
        out[j] = b[0] * u->A[j];
    for (int q = 1; q < u->k; q++) {
        const float *a = u->A + (size_t)q * (size_t)n;
        for (int64_t j = 0; j < n; j++)
            out[j] = fmaf(b[q], a[j], out[j]);
    }
    float s = (float)u->scale;
    for (int64_t j = 0; j < n; j++)
        out[j] *= s;
}

static int is_active(float x, const cl_dense_task *t)
{
    float a = fabsf(x);
    return t->inclusive ? a >= t->tau : a > t->tau;
}

typedef struct map {
    cl_lowrank u[2];
    cl_dense_result d;
    cl_ortho oo;
    int module;
    int rows, cols;          /* excerpt size, clipped to the module         */
    int64_t row0, col0;
    int64_t ex_active[2], ex_both;
} map;

/* One pass over the whole module: the union of active entries per cell of
 * the excerpt grid (to find the busiest block) and the totals, which must
 * equal the dense pass's. */
static int scan(plot_run *r, cl_store *s, map *mp, cl_error *err)
{
    const cl_lowrank *u = mp->u;
    int64_t R = mp->rows, C = mp->cols, d_out = u[0].d_out, d_in = u[0].d_in;
    int64_t nbr = (d_out + R - 1) / R, nbc = (d_in + C - 1) / C;
    float *w0 = malloc((size_t)d_in * sizeof *w0), *w1 = malloc((size_t)d_in * sizeof *w1);
    int64_t *cell = calloc((size_t)(nbr * nbc), sizeof *cell);
    if (!w0 || !w1 || !cell) {
        free(w0), free(w1), free(cell);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    const cl_dense_task *t0 = &mp->d.task[0], *t1 = &mp->d.task[1];
    int64_t act0 = 0, act1 = 0, both = 0;
    for (int64_t i = 0; i < d_out; i++) {
        form_row(&u[0], i, w0);
        form_row(&u[1], i, w1);
        int64_t *crow = cell + (i / R) * nbc;
        for (int64_t j = 0; j < d_in; j++) {
            int a = is_active(w0[j], t0), b = is_active(w1[j], t1);
            act0 += a;
            act1 += b;
            both += a & b;
            crow[j / C] += a | b;
        }
    }
    free(w0), free(w1);
    if (act0 != t0->active || act1 != t1->active || both != mp->d.both[1]) {
        free(cell);
        return cl_error_set(err, CL_ERR_NUMERIC,
                            "%s: module %s: internal error: the excerpt's arithmetic counts %lld, "
                            "%lld active and %lld in both; the dense pass %lld, %lld and %lld",
                            cl_store_path(s), cl_store_module_name(s, mp->module),
                            (long long)act0, (long long)act1, (long long)both,
                            (long long)t0->active, (long long)t1->active,
                            (long long)mp->d.both[1]);
    }
    if (!r->o->ex_at) {
        int64_t best = 0;
        for (int64_t q = 1; q < nbr * nbc; q++)
            if (cell[q] > cell[best]) /* ties: the first, nearest the top left */
                best = q;
        /* a partial block at the edge is shifted in to show a full excerpt */
        mp->row0 = (best / nbc) * R;
        mp->col0 = (best % nbc) * C;
        if (mp->row0 + R > d_out)
            mp->row0 = d_out - R;
        if (mp->col0 + C > d_in)
            mp->col0 = d_in - C;
    }
    free(cell);
    return CL_OK;
}

static const char *const map_cols[] = {"store", "panel", "module", "task_i", "task_j", "row",
                                       "col", "value_i", "value_j", "active_i", "active_j",
                                       "collision"};

static int emit(plot_csv *w, cl_store *s, int panel, const cl_view *v, int pi, int pj, map *mp,
                cl_error *err)
{
    int64_t d_in = mp->u[0].d_in;
    float *w0 = malloc((size_t)d_in * sizeof *w0), *w1 = malloc((size_t)d_in * sizeof *w1);
    if (!w0 || !w1) {
        free(w0), free(w1);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = mp->row0; i < mp->row0 + mp->rows; i++) {
        form_row(&mp->u[0], i, w0);
        form_row(&mp->u[1], i, w1);
        for (int64_t j = mp->col0; j < mp->col0 + mp->cols; j++) {
            int a = is_active(w0[j], &mp->d.task[0]), b = is_active(w1[j], &mp->d.task[1]);
            mp->ex_active[0] += a;
            mp->ex_active[1] += b;
            mp->ex_both += a & b;
            plot_csv_s(w, cl_store_path(s));
            plot_csv_i(w, panel);
            plot_csv_s(w, cl_store_module_name(s, mp->module));
            plot_csv_i(w, v->task[pi]);
            plot_csv_i(w, v->task[pj]);
            plot_csv_i(w, i);
            plot_csv_i(w, j);
            plot_csv_f(w, w0[j]);
            plot_csv_f(w, w1[j]);
            plot_csv_i(w, a);
            plot_csv_i(w, b);
            plot_csv_i(w, a & b);
            plot_csv_row_end(w);
        }
    }
    free(w0), free(w1);
    return CL_OK;
}

typedef struct cm_ctx {
    plot_csv w;
    plot_vars v;
} cm_ctx;

static int find_task(const cl_store *s, const cl_view *v, int task, cl_error *err)
{
    for (int i = 0; i < v->n; i++)
        if (v->task[i] == task)
            return i;
    cl_error_set(err, CL_ERR_ARG, "%s: --pair: task %d is not in the view at snapshot %lld "
                                  "(it holds %d tasks, 0 to %d)",
                 cl_store_path(s), task, (long long)v->snapshot, v->n, v->n ? v->task[v->n - 1] : -1);
    return -1;
}

/* Names in the titles are cut to these many characters ("…"), so that a
 * panel's title stays over its panel and the header within the image (the
 * CSV keeps them whole). */
enum { CM_TASK_CHARS = 40, CM_NAME_CHARS = 56 };

/* A tick step for N values on an axis about PX pixels long whose labels
 * take LABEL pixels each along it: 1, 2 or 5 times a power of ten, no more
 * ticks than fit side by side. */
static int64_t tick_step(int64_t n, double px, double label)
{
    double fit = px / label;
    int64_t step = 1;
    for (int64_t pow10 = 1; pow10 <= n; pow10 *= 10) {
        static const int m[] = {1, 2, 5};
        for (int k = 0; k < 3; k++) {
            step = m[k] * pow10;
            if ((double)n / (double)step <= fit)
                return step;
        }
    }
    return step;
}

static int digits(int64_t x)
{
    int d = 1;
    while (x >= 10)
        x /= 10, d++;
    return d;
}

/* The titles: rates of the whole module and of the excerpt. */
static void titles(plot_run *r, plot_vars *pv, cl_store *s, int p, const cl_view *v, int pi,
                   int pj, const map *mp)
{
    double E = (double)mp->d.entries, ex = (double)mp->rows * mp->cols;
    cl_collision c = cl_collision_from_counts(mp->d.both[1], mp->d.task[0].active,
                                              mp->d.task[1].active, mp->d.entries);
    char buf[1024], th[48], name[16], task[256], store[256], module[256];
    for (int q = 0; q < 2; q++) {
        int t = v->task[q ? pj : pi];
        plot_shorten(cl_store_task_name(s, t), CM_TASK_CHARS, task, sizeof task);
        snprintf(buf, sizeof buf, "task %d: %s\nactive entries (%s)\ndensity %.2f%% of the module, "
                 "%.2f%% of the excerpt",
                 t, task, q ? "green" : "blue",
                 100.0 * (double)mp->d.task[q].active / E, 100.0 * (double)mp->ex_active[q] / ex);
        snprintf(name, sizeof name, "ptitle%c", q ? 'j' : 'i');
        plot_var_ps(pv, name, p, buf);
    }
    snprintf(buf, sizeof buf, "collisions: red = active in both, grey = in one\n"
             "CR %.2f%% of the module, %.2f%% of the excerpt\nJaccard %.3f, orthogonality OO %.3g",
             100 * c.rate, 100.0 * (double)mp->ex_both / ex, c.jaccard, mp->oo.oo);
    plot_var_ps(pv, "ptitlec", p, buf);
    /* two lines, each short enough for the image's width */
    plot_shorten(plot_basename(cl_store_path(s)), CM_NAME_CHARS, store, sizeof store);
    plot_shorten(cl_store_module_name(s, mp->module), CM_NAME_CHARS, module, sizeof module);
    snprintf(buf, sizeof buf, "%s [%s], snapshot %lld, threshold %s\nmodule %s (%lld x %lld): rows "
             "%lld-%lld, columns %lld-%lld (%s)",
             store, cl_store_meta(s)->method, (long long)v->snapshot,
             plot_threshold_text(r, th, sizeof th), module, (long long)mp->u[0].d_out,
             (long long)mp->u[0].d_in, (long long)mp->row0, (long long)(mp->row0 + mp->rows - 1),
             (long long)mp->col0, (long long)(mp->col0 + mp->cols - 1),
             r->o->ex_at ? "the excerpt asked for" : "the block with the most active entries");
    plot_var_ps(pv, "pheader", p, buf);
    plot_var_pi(pv, "prow0", p, mp->row0);
    plot_var_pi(pv, "pcol0", p, mp->col0);
    /* a panel's plot fits about 380 x 400 pixels, keeping the excerpt's
     * aspect: four-digit ticks must not run together (about 8 pixels a digit
     * and a gap across, 20 pixels a label down) */
    double scale = fmin(380.0 / mp->cols, 400.0 / mp->rows);
    plot_var_pi(pv, "pxstep", p,
                tick_step(mp->cols, scale * mp->cols, 8.0 * digits(mp->col0 + mp->cols) + 16));
    plot_var_pi(pv, "pystep", p, tick_step(mp->rows, scale * mp->rows, 20));
}

static int cm_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    cm_ctx *k = vc;
    const plot_opts *o = r->o;
    cl_view_list views;
    int *mods = NULL, nm = 0;
    map mp;
    memset(&mp, 0, sizeof mp);
    int rc = cl_views_select(s, o->snapshot, &views, err);
    if (rc)
        return rc;
    const cl_view *v = &views.v[0];
    int pi = -1, pj = -1, got = 0;
    if ((pi = find_task(s, v, o->pair_i, err)) < 0 || (pj = find_task(s, v, o->pair_j, err)) < 0) {
        rc = err->code;
        goto out;
    }
    if ((rc = cl_modules_select(s, o->module, &mods, &nm, err)))
        goto out;
    mp.module = mods[0];
    for (; got < 2; got++)
        if ((rc = cl_view_update(s, v, got ? pj : pi, mp.module, &mp.u[got], err)))
            goto out;
    rc = cl_dense_pass(cli_backend(&r->c), mp.u, 2, &o->th, 1, &mp.d, err);
    if (!rc)
        rc = cl_ortho_pair(&mp.u[0], &mp.u[1], &mp.oo, err);
    if (rc) {
        cl_error_prefix(err, "%s: module %s", cl_store_path(s), cl_store_module_name(s, mp.module));
        goto out;
    }
    int64_t d_out = mp.u[0].d_out, d_in = mp.u[0].d_in;
    mp.rows = (int)(o->ex_rows < d_out ? o->ex_rows : d_out);
    mp.cols = (int)(o->ex_cols < d_in ? o->ex_cols : d_in);
    if (o->ex_at) {
        mp.row0 = o->ex_row0;
        mp.col0 = o->ex_col0;
        if (mp.row0 + mp.rows > d_out || mp.col0 + mp.cols > d_in) {
            rc = cl_error_set(err, CL_ERR_ARG, "%s: module %s: --excerpt %dx%d@%lld,%lld does not "
                              "fit in its %lld x %lld entries",
                              cl_store_path(s), cl_store_module_name(s, mp.module), o->ex_rows,
                              o->ex_cols, (long long)mp.row0, (long long)mp.col0,
                              (long long)d_out, (long long)d_in);
            goto out;
        }
    }
    if ((rc = scan(r, s, &mp, err)))
        goto out;
    if ((rc = emit(&k->w, s, index + 1, v, pi, pj, &mp, err)))
        goto out;
    titles(r, &k->v, s, index + 1, v, pi, pj, &mp);
    plot_var_pi(&k->v, "prows", index + 1, mp.rows);
    plot_var_pi(&k->v, "pcols", index + 1, mp.cols);
out:
    for (int q = 0; q < got; q++)
        cl_lowrank_free(&mp.u[q]);
    if (mp.d.task)
        cl_dense_result_free(&mp.d);
    free(mods);
    cl_view_list_free(&views);
    return rc;
}

int plot_collision_map(plot_run *r, cl_error *err)
{
    cm_ctx k;
    memset(&k, 0, sizeof k);
    int n = (int)(sizeof map_cols / sizeof map_cols[0]);
    int rc = plot_csv_open(r, map_cols, n, &k.w, err);
    if (rc)
        return rc;
    rc = plot_each_store(r, cm_store, &k, err);
    return plot_panels_finish(r, &k.w, &k.v, rc, 1560, 40 + 560 * r->o->n_stores, err);
}
