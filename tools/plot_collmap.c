/* plot_collmap.c -- the collision map: for each store, the heat map of the
 * pairwise collision rate of every task pair (collide-collision's N x N
 * matrix, tasks in training order or clustered, with a dendrogram), then
 * the paper's Figure 2: on one module, an excerpt of the entries active in
 * task i, in task j, and in both.
 *
 * Thresholds, counts and rates come from the dense pass (cl_dense_pass), the
 * same as collide-collision's. The excerpt's entries are formed here, in the
 * dense pass's own float32 arithmetic (kernels/kernels.h), and the whole
 * module's active counts are checked against the dense pass, so the map can
 * never show something the metric did not count. */
#include "plot.h"
#include "families.h"

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

/* One file, three kinds of rows (column part): the excerpt's entries, then
 * the heat map's cells, then the dendrogram's merges; each kind leaves the
 * others' columns empty. */
static const char *const map_cols[] = {"store", "panel", "module", "task_i", "task_j", "row",
                                       "col", "value_i", "value_j", "active_i", "active_j",
                                       "collision", "part", "name_i", "name_j", "pos_i", "pos_j",
                                       "order", "collision_rate", "jaccard", "merge", "height",
                                       "x_left", "h_left", "x_right", "h_right", "size"};
enum { MAP_EXTRA = 14 }; /* columns after "part" */

static void empty_cols(plot_csv *w, int n)
{
    for (int q = 0; q < n; q++)
        plot_csv_f(w, NAN);
}

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
            plot_csv_s(w, "excerpt");
            empty_cols(w, MAP_EXTRA);
            plot_csv_row_end(w);
        }
    }
    free(w0), free(w1);
    return CL_OK;
}

/* ------------------------------------------------------------ clustering */

int plot_cluster(int n, const double *dist, int *order, plot_merge *merges)
{
    if (n <= 0)
        return CL_OK;
    /* slot a holds the cluster whose smallest item is a; its leaves, left
     * to right, are a linked list first[a] -> next[] -> last[a] */
    double *d = malloc((size_t)n * (size_t)n * sizeof *d);
    int *size = malloc((size_t)n * sizeof *size), *next = malloc((size_t)n * sizeof *next);
    int *first = malloc((size_t)n * sizeof *first), *last = malloc((size_t)n * sizeof *last);
    int *node = malloc((size_t)n * sizeof *node), *alive = malloc((size_t)n * sizeof *alive);
    double *h = malloc((size_t)n * sizeof *h);
    int *kl = malloc((size_t)n * sizeof *kl), *kr = malloc((size_t)n * sizeof *kr);
    double *x = malloc((size_t)(2 * n) * sizeof *x);
    if (!d || !size || !next || !first || !last || !node || !alive || !h || !kl || !kr || !x) {
        free(d), free(size), free(next), free(first), free(last), free(node), free(alive);
        free(h), free(kl), free(kr), free(x);
        return CL_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double v = dist[(size_t)i * (size_t)n + (size_t)j];
            d[(size_t)i * (size_t)n + (size_t)j] = isnan(v) ? 1.0 : v;
        }
        size[i] = 1, next[i] = -1, first[i] = last[i] = i, node[i] = i, alive[i] = 1, h[i] = 0;
    }
    for (int m = 0; m < n - 1; m++) {
        int a = -1, b = -1;
        double best = INFINITY;
        for (int i = 0; i < n; i++) /* strict <: ties to the first pair */
            for (int j = i + 1; alive[i] && j < n; j++)
                if (alive[j] && (a < 0 || d[(size_t)i * (size_t)n + (size_t)j] < best))
                    a = i, b = j, best = d[(size_t)i * (size_t)n + (size_t)j];
        /* average linkage: the mean distance over every pair of members */
        for (int k = 0; k < n; k++) {
            if (!alive[k] || k == a || k == b)
                continue;
            double v = (size[a] * d[(size_t)a * (size_t)n + (size_t)k] +
                        size[b] * d[(size_t)b * (size_t)n + (size_t)k]) /
                       (double)(size[a] + size[b]);
            d[(size_t)a * (size_t)n + (size_t)k] = d[(size_t)k * (size_t)n + (size_t)a] = v;
        }
        if (merges) {
            merges[m].height = best;
            merges[m].h_left = h[a];
            merges[m].h_right = h[b];
            merges[m].size = size[a] + size[b];
            merges[m].item_left = a;
            merges[m].item_right = b;
        }
        kl[m] = node[a], kr[m] = node[b];
        next[last[a]] = first[b];
        last[a] = last[b];
        size[a] += size[b];
        h[a] = best;
        node[a] = n + m;
        alive[b] = 0;
    }
    int pos = 0;
    for (int q = first[0]; q >= 0; q = next[q]) {
        x[q] = pos;
        order[pos++] = q;
    }
    for (int m = 0; m < n - 1; m++) {
        x[n + m] = (x[kl[m]] + x[kr[m]]) / 2;
        if (merges) {
            merges[m].x_left = x[kl[m]];
            merges[m].x_right = x[kr[m]];
        }
    }
    free(d), free(size), free(next), free(first), free(last), free(node), free(alive);
    free(h), free(kl), free(kr), free(x);
    return CL_OK;
}

/* ------------------------------------------------------------ heat map */

/* The image's layout, in pixels from the top: each store's heat map block,
 * then its row of excerpt panels. */
enum {
    CM_WIDTH = 1560,      /* the excerpt row's width                        */
    CM_EXCERPT_H = 560,   /* one row of excerpt panels                      */
    CM_MAP_LEFT = 150,    /* left of the heat map: tick labels, axis label  */
    CM_MAP_TITLE = 84,    /* three title lines above                        */
    CM_DENDRO_H = 120,    /* the dendrogram strip                           */
    CM_KEY_LINE = 19,     /* one line of the key (font 11)                  */
    CM_KEY_COL = 330,     /* one column of the key                          */
    CM_KEY_CHARS = 30,    /* names in the key cut to this                   */
    CM_TICK_CHARS = 14,   /* names as tick labels (up to CM_NAMED tasks)    */
    CM_NAMED = 8,         /* more tasks than this: numbers on the axes      */
    CM_VALUES = 12,       /* values printed in the cells up to this many    */
};

enum { CM_MAX_MAPS = 256 };

typedef struct cm_ctx {
    plot_csv w;
    plot_vars v;
    int y;                /* pixels used so far, from the top               */
    int width;
    int n_maps;           /* heat maps drawn, their panels and largest rate */
    int map_panel[CM_MAX_MAPS];
    double map_top[CM_MAX_MAPS];
} cm_ctx;

/* A colour scale's top: 1, 2, 2.5 or 5 times a power of ten, at least x. */
static double nice_top(double x)
{
    if (!(x > 0))
        return 1;
    double p = pow(10, floor(log10(x)));
    static const double m[] = {1, 2, 2.5, 5, 10};
    for (int k = 0; k < 5; k++)
        if (m[k] * p >= x * (1 - 1e-12))
            return m[k] * p;
    return 10 * p;
}

/* The N x N matrix of collide-collision (same options: every module
 * matching --module), its rows in the CSV, the variables of its block. */
static int heat_map(plot_run *r, cl_store *s, int p, cm_ctx *k, int task_i, int task_j,
                    cl_error *err)
{
    const plot_opts *o = r->o;
    int rc = plot_family(r, s, fam_collision, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *tp = plot_table(r, "pairs"), *tt = plot_table(r, "tasks");
    const cli_table *ts = plot_table(r, "summary");
    int n = cli_table_nrows(tt);
    int c_task = plot_col(tt, "task"), c_dens = plot_col(tt, "density_mean");
    int c_i = plot_col(tp, "task_i"), c_j = plot_col(tp, "task_j");
    int c_cr = plot_col(tp, "collision_rate_mean"), c_jac = plot_col(tp, "jaccard_mean");
    int *task = malloc((size_t)n * sizeof *task), *ord = malloc((size_t)n * sizeof *ord);
    int *pos = malloc((size_t)n * sizeof *pos);
    double *cr = malloc((size_t)n * (size_t)n * sizeof *cr);
    double *jac = malloc((size_t)n * (size_t)n * sizeof *jac);
    double *dist = malloc((size_t)n * (size_t)n * sizeof *dist);
    plot_merge *mg = malloc((size_t)(n > 1 ? n - 1 : 1) * sizeof *mg);
    char *key = malloc(65536), *ticks = malloc(65536);
    if (!task || !ord || !pos || !cr || !jac || !dist || !mg || !key || !ticks) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        task[i] = (int)cli_table_num(tt, i, c_task);
        for (int j = 0; j < n; j++)
            cr[i * n + j] = jac[i * n + j] = NAN;
        cr[i * n + i] = cli_table_num(tt, i, c_dens);
    }
    /* pair rows name store task indices; the view holds them in order */
    double top = 0;
    for (int q = 0; q < cli_table_nrows(tp); q++) {
        int ti = (int)cli_table_num(tp, q, c_i), tj = (int)cli_table_num(tp, q, c_j), a = -1, b = -1;
        for (int i = 0; i < n; i++)
            a = task[i] == ti ? i : a, b = task[i] == tj ? i : b;
        if (a < 0 || b < 0)
            continue;
        cr[a * n + b] = cr[b * n + a] = cli_table_num(tp, q, c_cr);
        jac[a * n + b] = jac[b * n + a] = cli_table_num(tp, q, c_jac);
        if (cr[a * n + b] > top)
            top = cr[a * n + b];
    }
    int cluster = o->order == PLOT_ORDER_CLUSTER ||
                  (o->order == PLOT_ORDER_AUTO && n >= 3 &&
                   !strcmp(cl_store_meta(s)->method, "imported"));
    if (cluster) {
        for (int q = 0; q < n * n; q++)
            dist[q] = 1 - jac[q];
        if (plot_cluster(n, dist, ord, mg)) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        for (int i = 0; i < n; i++)
            ord[i] = i;
    }
    for (int i = 0; i < n; i++)
        pos[ord[i]] = i;
    /* the cells, in display order */
    const char *ordname = cluster ? "cluster" : "training";
    plot_var_pi(&k->v, "pmat0", p, k->w.rows);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            int i = ord[a], j = ord[b];
            plot_csv_s(&k->w, cl_store_path(s));
            plot_csv_i(&k->w, p);
            plot_csv_s(&k->w, "");
            plot_csv_i(&k->w, task[i]);
            plot_csv_i(&k->w, task[j]);
            empty_cols(&k->w, 7);
            plot_csv_s(&k->w, "matrix");
            plot_csv_s(&k->w, cl_store_task_name(s, task[i]));
            plot_csv_s(&k->w, cl_store_task_name(s, task[j]));
            plot_csv_i(&k->w, a);
            plot_csv_i(&k->w, b);
            plot_csv_s(&k->w, ordname);
            plot_csv_f(&k->w, cr[i * n + j]);
            plot_csv_f(&k->w, jac[i * n + j]);
            empty_cols(&k->w, 7);
            plot_csv_row_end(&k->w);
        }
    int dendro = cluster && n >= 2;
    double hmax = 0;
    plot_var_pi(&k->v, "pmerge0", p, k->w.rows);
    for (int m = 0; dendro && m < n - 1; m++) {
        plot_csv_s(&k->w, cl_store_path(s));
        plot_csv_i(&k->w, p);
        plot_csv_s(&k->w, "");
        plot_csv_i(&k->w, task[mg[m].item_left]);
        plot_csv_i(&k->w, task[mg[m].item_right]);
        empty_cols(&k->w, 7);
        plot_csv_s(&k->w, "merge");
        empty_cols(&k->w, 4);
        plot_csv_s(&k->w, ordname);
        empty_cols(&k->w, 2);
        plot_csv_i(&k->w, m + 1);
        plot_csv_f(&k->w, mg[m].height);
        plot_csv_f(&k->w, mg[m].x_left);
        plot_csv_f(&k->w, mg[m].h_left);
        plot_csv_f(&k->w, mg[m].x_right);
        plot_csv_f(&k->w, mg[m].h_right);
        plot_csv_i(&k->w, mg[m].size);
        plot_csv_row_end(&k->w);
        hmax = mg[m].height > hmax ? mg[m].height : hmax;
    }
    plot_var_pi(&k->v, "pmerges", p, dendro ? n - 1 : 0);
    plot_var_pf(&k->v, "pdmax", p, hmax > 0 ? hmax * 1.05 : 1);
    /* axes: names up to CM_NAMED tasks, else training indices (the key
     * names them); the key lists every task in display order */
    /* cells of 48 pixels while values are printed in them, 22 beyond */
    int named = n <= CM_NAMED, side = n <= CM_VALUES ? 48 * n : 22 * n;
    side = side < 300 ? 300 : side > 720 ? 720 : side;
    int lines = side / CM_KEY_LINE, cols = (n + lines - 1) / lines;
    ticks[0] = 0;
    char name[256], entry[512];
    for (int a = 0; a < n; a++) {
        int i = ord[a];
        if (named) {
            plot_add_word(ticks, 65536, cl_store_task_name(s, task[i]), CM_TICK_CHARS);
        } else {
            snprintf(name, sizeof name, "%d", task[i]);
            plot_add_word(ticks, 65536, name, 0);
        }
    }
    plot_var_ps(&k->v, "pticks", p, ticks);
    for (int c = 0; c < cols; c++) {
        key[0] = 0;
        size_t len = 0;
        for (int a = c * lines; a < n && a < (c + 1) * lines; a++) {
            int i = ord[a];
            plot_shorten(cl_store_task_name(s, task[i]), CM_KEY_CHARS, name, sizeof name);
            int l = snprintf(entry, sizeof entry, "%s%3d  %s  (%.2f%%)", a > c * lines ? "\n" : "",
                             task[i], name, 100 * cr[i * n + i]);
            if (l > 0 && len + (size_t)l < 65536) {
                memcpy(key + len, entry, (size_t)l + 1);
                len += (size_t)l;
            }
        }
        snprintf(name, sizeof name, "pkey%d_", c + 1);
        plot_var_ps(&k->v, name, p, key);
    }
    plot_var_pi(&k->v, "pkeycols", p, cols);
    /* the block's pixels */
    int y0 = k->y + 8, mapy = y0 + CM_MAP_TITLE + (dendro ? CM_DENDRO_H + 8 : 0);
    int below = named ? 130 : 70;
    k->y = mapy + side + below;
    int right = CM_MAP_LEFT + side + 170 + cols * CM_KEY_COL + 20;
    if (right > k->width)
        k->width = right;
    plot_var_pi(&k->v, "pmaptop", p, y0);
    plot_var_pi(&k->v, "pmapy", p, mapy);
    plot_var_pi(&k->v, "pmapside", p, side);
    plot_var_pi(&k->v, "pdendro", p, dendro);
    plot_var_pi(&k->v, "pn", p, n);
    plot_var_pi(&k->v, "pnamed", p, named);
    plot_var_pi(&k->v, "pvalues", p, n <= CM_VALUES);
    if (k->n_maps < CM_MAX_MAPS) { /* its colour scale is set once every map is known */
        k->map_panel[k->n_maps] = p;
        k->map_top[k->n_maps++] = top > 0 ? top : cr[0];
    }
    int hi = -1, hj = -1;
    for (int i = 0; i < n; i++)
        hi = task[i] == task_i ? pos[i] : hi, hj = task[i] == task_j ? pos[i] : hj;
    plot_var_pi(&k->v, "ppi", p, hi);
    plot_var_pi(&k->v, "ppj", p, hj);
    /* the title */
    char th[48], store[160], buf[1024];
    int nm = (int)cli_table_num(ts, 0, plot_col(ts, "modules"));
    snprintf(buf, sizeof buf,
             "%s [%s], snapshot %s, threshold %s\ncollision rate CR_ij (%%) of every task pair, "
             "mean over %d module%s; %s\ndiagonal grey (each task's density: in the key); boxed: "
             "the pair of the excerpt below",
             plot_store_name(s, 48, store, sizeof store), cl_store_meta(s)->method, o->snapshot,
             plot_threshold_text(r, th, sizeof th), nm, nm == 1 ? "" : "s",
             cluster ? "tasks clustered (average linkage on 1 - Jaccard)" : "tasks in training order");
    plot_var_ps(&k->v, "pmaptitle", p, buf);
out:
    free(task), free(ord), free(pos), free(cr), free(jac), free(dist), free(mg), free(key);
    free(ticks);
    return rc;
}


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
    plot_var_pi(&k->v, "pex0", index + 1, k->w.rows);
    if ((rc = emit(&k->w, s, index + 1, v, pi, pj, &mp, err)))
        goto out;
    titles(r, &k->v, s, index + 1, v, pi, pj, &mp);
    plot_var_pi(&k->v, "prows", index + 1, mp.rows);
    plot_var_pi(&k->v, "pcols", index + 1, mp.cols);
    if ((rc = heat_map(r, s, index + 1, k, v->task[pi], v->task[pj], err)))
        goto out;
    plot_var_pi(&k->v, "pexy", index + 1, k->y);
    k->y += CM_EXCERPT_H;
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
    k.width = CM_WIDTH;
    rc = plot_each_store(r, cm_store, &k, err);
    /* one colour scale for every store's map, so that stores compare
     * (--independent-axes: each its own) */
    double shared = 0;
    for (int i = 0; i < k.n_maps; i++)
        shared = k.map_top[i] > shared ? k.map_top[i] : shared;
    for (int i = 0; i < k.n_maps; i++)
        plot_var_pf(&k.v, "pcbmax", k.map_panel[i],
                    100 * nice_top(r->o->independent_axes ? k.map_top[i] : shared));
    return plot_panels_finish(r, &k.w, &k.v, rc, k.width, k.y + 20, err);
}
