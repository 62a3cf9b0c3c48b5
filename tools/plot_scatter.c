/* plot_scatter.c -- the figures with one point per store and one series per
 * method: forgetting against sparsity, and collision against orthogonality
 * (the paper's Figure 1c). Every number is a metric tool's summary value. */
#include "plot.h"
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SERIES = 16, MAX_VALS = 12 };

/* One store's point, kept until every store is read: the labels are placed
 * knowing where all the points are. */
typedef struct point {
    char store[512], method[64], series[64], label[128];
    double lambda;
    int64_t snapshot;
    double val[MAX_VALS];
    int label_pos;       /* spots[label_pos - 1]: where the label sits      */
    int label_pos2;      /* the same in the second panel (x2), when there is one */
    double box[2][4];    /* each panel's label box x0 x1 y0 y1, in fractions
                            of the plot area (NaN: no label drawn)          */
} point;

typedef struct scatter {
    point *p;
    int n;
    char series[MAX_SERIES][64];
    char method[MAX_SERIES][64]; /* the recorded method of each series      */
    int n_series;
    int vx, vy;          /* which val[] are drawn as x and y */
    int vx2;             /* a second panel's x (-1: none) */
} scatter;

static int point_new(plot_run *r, scatter *sc, cl_store *s, int64_t snapshot, cl_error *err)
{
    point *p = realloc(sc->p, (size_t)(sc->n + 1) * sizeof *p);
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    sc->p = p;
    p = &sc->p[sc->n++];
    memset(p, 0, sizeof *p);
    for (int q = 0; q < 8; q++)
        p->box[q / 4][q % 4] = NAN;
    const cl_run_meta *m = cl_store_meta(s);
    snprintf(p->store, sizeof p->store, "%s", cl_store_path(s));
    snprintf(p->method, sizeof p->method, "%s", m->method);
    plot_series(m->method, p->series, sizeof p->series);
    plot_point_label(r, s, p->label, sizeof p->label);
    p->lambda = plot_lambda(m);
    p->snapshot = snapshot;
    int known = 0;
    for (int i = 0; i < sc->n_series; i++)
        known |= !strcmp(sc->series[i], p->series);
    if (!known && sc->n_series < MAX_SERIES) { /* more methods than that: not in the key */
        snprintf(sc->method[sc->n_series], sizeof sc->method[0], "%s", p->method);
        snprintf(sc->series[sc->n_series++], sizeof sc->series[0], "%s", p->series);
    }
    return CL_OK;
}

/* Overlap of two boxes [x0,x1] x [y0,y1]. */
static double overlap(const double *a, const double *b)
{
    double w = fmin(a[1], b[1]) - fmax(a[0], b[0]), h = fmin(a[3], b[3]) - fmax(a[2], b[2]);
    return w > 0 && h > 0 ? w * h : 0;
}

/* The label positions plots/common.gp knows (label_pos 1..16, LDX and LDY
 * there): offset from the point in characters, and alignment (-1 right, 0
 * centre, 1 left). The first eight touch the point; the others, a row or
 * two further out, take the labels of points that crowd together. */
static const struct {
    double dx, dy;
    int align;
} spots[] = {{0.9, 0.6, 1},  {0.9, -0.6, 1},  {-0.9, 0.6, -1}, {-0.9, -0.6, -1},
             {0, 1.3, 0},    {0, -1.3, 0},    {1.3, 0, 1},     {-1.3, 0, -1},
             {0.9, 1.8, 1},  {0.9, -1.8, 1},  {-0.9, 1.8, -1}, {-0.9, -1.8, -1},
             {0, 2.6, 0},    {0, -2.6, 0},    {0.9, 3.0, 1},   {-0.9, -3.0, -1}};
enum { N_SPOTS = 16 };

/* Characters of a UTF-8 label (λ is one). */
static int text_chars(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The plot area a panel's script draws (plots/forgetting-sparsity.gp): from
 * near 0 when the data are not negative, else padded below; padded above
 * for the labels. Returns lo and span. */
static void panel_range(double lo, double hi, double room, double *x0, double *span)
{
    if (hi > lo) {
        double l = lo >= 0 ? -0.04 * hi : lo - 0.06 * (hi - lo);
        hi += room * (hi - (l < 0 ? l : lo));
        lo = l;
    }
    *x0 = lo;
    *span = hi > lo ? hi - lo : 1;
}

/* The box of a label at spot q of the point (x, y), all in fractions of the
 * plot area; a label is W wide, a character CW by CH. */
static void spot_box(int q, double x, double y, double w, double cw, double ch, double *b)
{
    double ax = x + spots[q].dx * cw, cy = y + spots[q].dy * ch;
    b[0] = spots[q].align > 0 ? ax : spots[q].align < 0 ? ax - w : ax - w / 2;
    b[1] = b[0] + w;
    b[2] = cy - ch / 2;
    b[3] = cy + ch / 2;
}

/* What a label at box b costs: off the plot like a full overlap, each
 * label already placed (boxes 0..i-1) and each point it covers by the area
 * covered; a spot further out a little more. */
static double spot_cost(const scatter *sc, int i, int q, const double *b, const double (*px)[2],
                        double w, double cw, double ch, int panel)
{
    double cost = (b[0] < -0.03 || b[1] > 1.02 || b[3] > 1.12 || b[2] < -0.04) ? 1 : 0;
    cost += 0.01 * q + (q >= 8 ? 0.05 : 0);
    for (int o = 0; o < i; o++)
        if (!isnan(sc->p[o].box[panel][0]))
            cost += overlap(b, sc->p[o].box[panel]) / (w * ch);
    for (int o = 0; o < sc->n; o++) {
        double pb[4] = {px[o][0] - 0.7 * cw, px[o][0] + 0.7 * cw, px[o][1] - 0.5 * ch,
                        px[o][1] + 0.5 * ch};
        if (isfinite(px[o][0]) && isfinite(px[o][1]))
            cost += overlap(b, pb) / (1.4 * cw * ch);
    }
    return cost;
}

/* Greedy placement: each label goes to the spot where it covers the least
 * of the labels already placed and of the points, in coordinates normalised
 * to the plot area. A character is CW of the plot's width, 1/30 of its
 * height. The boxes are kept (and written to the CSV) so that a test can
 * check that no two labels overlap. */
static void place_labels(scatter *sc, int vx, int panel, double cw)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < sc->n; i++) {
        double x = sc->p[i].val[vx], y = sc->p[i].val[sc->vy];
        if (isfinite(x) && isfinite(y)) {
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    }
    double sx, sy;
    panel_range(x0, x1, 0.16, &x0, &sx);
    panel_range(y0, y1, 0.10, &y0, &sy);
    const double ch = 1.0 / 30;
    double(*px)[2] = calloc((size_t)(sc->n ? sc->n : 1), sizeof *px);
    if (!px)
        return; /* labels stay at spot 1: drawn, perhaps overlapping */
    for (int i = 0; i < sc->n; i++) {
        px[i][0] = (sc->p[i].val[vx] - x0) / sx;
        px[i][1] = (sc->p[i].val[sc->vy] - y0) / sy;
    }
    for (int i = 0; i < sc->n; i++) {
        point *p = &sc->p[i];
        int *lp = panel ? &p->label_pos2 : &p->label_pos;
        *lp = 1;
        if (!isfinite(px[i][0]) || !isfinite(px[i][1]) || !p->label[0])
            continue;
        double w = cw * text_chars(p->label), best = INFINITY, b[4];
        for (int q = 0; q < N_SPOTS; q++) {
            spot_box(q, px[i][0], px[i][1], w, cw, ch, b);
            double cost = spot_cost(sc, i, q, b, (const double(*)[2])px, w, cw, ch, panel);
            if (cost < best) {
                best = cost;
                *lp = q + 1;
                memcpy(p->box[panel], b, sizeof b);
            }
        }
    }
    free(px);
}

/* "a.h5, b.h5, c.h5 and 2 more": the stores whose point is undefined. */
static void undefined_stores(const scatter *sc, char *buf, size_t n)
{
    int shown = 0, more = 0;
    buf[0] = 0;
    for (int i = 0; i < sc->n; i++) {
        if (isfinite(sc->p[i].val[sc->vx]) && isfinite(sc->p[i].val[sc->vy]))
            continue;
        if (shown < 3)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", shown++ ? ", " : "",
                     sc->p[i].store);
        else
            more++;
    }
    if (more)
        snprintf(buf + strlen(buf), n - strlen(buf), " and %d more", more);
}

static const char *const head_cols[] = {
    "store",     "method",    "series",    "colour",    "lambda",    "label",
    "label_pos", "label_pos2", "label_x0", "label_x1",  "label_y0",  "label_y1",
    "label2_x0", "label2_x1", "label2_y0", "label2_y1", "threshold", "snapshot"};
enum { N_HEAD = 18 };

static void scatter_row(plot_csv *w, const point *p, const char *th, int nv)
{
    plot_csv_s(w, p->store);
    plot_csv_s(w, p->method);
    plot_csv_s(w, p->series);
    plot_csv_s(w, plot_method_colour(p->method));
    plot_csv_f(w, p->lambda);
    plot_csv_s(w, p->label);
    plot_csv_i(w, p->label_pos);
    plot_csv_i(w, p->label_pos2);
    for (int q = 0; q < 8; q++)
        plot_csv_f(w, p->box[q / 4][q % 4]);
    plot_csv_s(w, th);
    plot_csv_i(w, p->snapshot);
    for (int q = 0; q < nv; q++)
        plot_csv_f(w, p->val[q]);
    plot_csv_row_end(w);
}

/* The series, their colours and markers (the methods' palette), and the
 * label places in use by alignment: gnuplot 5.4 crashes on a 'with labels'
 * clause with no valid point in a one-row file. */
static void scatter_vars(const scatter *sc, plot_vars *v)
{
    char list[MAX_SERIES * 70] = "", colours[MAX_SERIES * 12] = "", points[MAX_SERIES * 4] = "";
    for (int i = 0; i < sc->n_series; i++) {
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? " " : "",
                 sc->series[i]);
        snprintf(colours + strlen(colours), sizeof colours - strlen(colours), "%s%s",
                 i ? " " : "", plot_method_colour(sc->method[i]));
        snprintf(points + strlen(points), sizeof points - strlen(points), "%s%d", i ? " " : "",
                 plot_method_point(sc->method[i]));
    }
    plot_var_s(v, "series", list);
    plot_var_s(v, "colours", colours);
    plot_var_s(v, "markers", points);
    plot_var_i(v, "nseries", sc->n_series);
    for (int panel = 0; panel < (sc->vx2 >= 0 ? 2 : 1); panel++) {
        char used[3][64] = {"", "", ""};
        for (int q = 0; q < N_SPOTS; q++) {
            int any = 0;
            for (int i = 0; i < sc->n; i++)
                any |= (panel ? sc->p[i].label_pos2 : sc->p[i].label_pos) == q + 1 &&
                       !isnan(sc->p[i].box[panel][0]);
            char *u = used[spots[q].align + 1];
            if (any)
                snprintf(u + strlen(u), 64 - strlen(u), "%s%d", u[0] ? " " : "", q + 1);
        }
        plot_var_s(v, panel ? "labels_right2" : "labels_right", used[0]);
        plot_var_s(v, panel ? "labels_center2" : "labels_center", used[1]);
        plot_var_s(v, panel ? "labels_left2" : "labels_left", used[2]);
    }
}

/* Write the CSV (head columns, then the values), then draw. A figure with no
 * point defined writes nothing: NEEDS says what a point needs. */
static int scatter_finish(plot_run *r, scatter *sc, const char *const *vcols, int nv,
                          plot_vars *v, const char *needs, int rc, cl_error *err)
{
    plot_csv w;
    const char *cols[N_HEAD + MAX_VALS];
    int drawn = 0;
    for (int i = 0; i < sc->n; i++)
        drawn += isfinite(sc->p[i].val[sc->vx]) && isfinite(sc->p[i].val[sc->vy]);
    if (!rc && !drawn) {
        char st[2048];
        undefined_stores(sc, st, sizeof st);
        rc = plot_no_data(r, err, "no store has a point: %s (%s)", needs, st);
    }
    if (!rc) {
        /* a character is about 1/110 of one panel's width, 1/80 of each of two */
        double cw = sc->vx2 >= 0 ? 1.0 / 80 : 1.0 / 110;
        place_labels(sc, sc->vx, 0, cw);
        if (sc->vx2 >= 0)
            place_labels(sc, sc->vx2, 1, cw);
        memcpy(cols, head_cols, sizeof head_cols);
        memcpy(cols + N_HEAD, vcols, (size_t)nv * sizeof *vcols);
        rc = plot_csv_open(r, cols, N_HEAD + nv, &w, err);
    }
    if (!rc) {
        char th[48];
        plot_threshold_text(r, th, sizeof th);
        for (int i = 0; i < sc->n; i++)
            scatter_row(&w, &sc->p[i], th, nv);
        rc = plot_csv_commit(r, &w, err);
    }
    if (!rc) {
        scatter_vars(sc, v);
        plot_var_i(v, "npoints", drawn);
        rc = plot_render(r, v, sc->vx2 >= 0 ? 2000 : 1200, 800, err);
    }
    plot_vars_free(v);
    free(sc->p);
    return rc;
}

/* "a.h5, b.h5" for up to three stores, else "N stores". */
static void stores_text(const plot_run *r, char *buf, size_t n)
{
    buf[0] = 0;
    if (r->o->n_stores > 3) {
        snprintf(buf, n, "%d stores", r->o->n_stores);
        return;
    }
    for (int i = 0; i < r->o->n_stores; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "",
                 plot_basename(r->o->stores[i]));
}

/* Mean of a column over a table's rows (the tasks of one view). */
static double column_mean(const cli_table *t, const char *col)
{
    int j = plot_col(t, col), n = cli_table_nrows(t);
    double s = 0;
    for (int i = 0; i < n; i++)
        s += cli_table_num(t, i, j);
    return n ? s / n : NAN;
}

/* ------------------------------------------------------------ forgetting */

enum { FS_TASKS, FS_DENSITY, FS_HOYER, FS_FMAX, FS_BWT, FS_AA, FS_X, FS_Y, FS_X2, FS_N };
_Static_assert((int)FS_N <= (int)MAX_VALS, "a point holds MAX_VALS values");

static int fs_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    (void)index;
    scatter *sc = vc;
    int rc = plot_family(r, s, fam_sparsity, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "tasks");
    int64_t snap = (int64_t)cli_table_num(t, 0, plot_col(t, "snapshot"));
    double density = column_mean(t, "density_mean"), hoyer = column_mean(t, "hoyer_mean");
    int tasks = cli_table_nrows(t);
    cli_tables_free(&r->c); /* fam_forget has a "tasks" table of its own */
    double density2 = NAN;
    if (r->o->has_th2) { /* the second panel: density at the second threshold */
        cl_threshold keep = r->c.th[0];
        r->c.th[0] = r->o->th2;
        rc = plot_family(r, s, fam_sparsity, NULL, 0, err);
        r->c.th[0] = keep;
        if (rc)
            return rc;
        density2 = column_mean(plot_table(r, "tasks"), "density_mean");
        cli_tables_free(&r->c);
    }
    if ((rc = plot_family(r, s, fam_forget, NULL, 0, err)))
        return rc;
    t = plot_table(r, "summary");
    if ((rc = point_new(r, sc, s, snap, err)))
        return rc;
    double *v = sc->p[sc->n - 1].val;
    v[FS_TASKS] = tasks;
    v[FS_DENSITY] = density;
    v[FS_HOYER] = hoyer;
    v[FS_FMAX] = cli_table_num(t, 0, plot_col(t, "forgetting_max"));
    v[FS_BWT] = cli_table_num(t, 0, plot_col(t, "bwt"));
    v[FS_AA] = cli_table_num(t, 0, plot_col(t, "aa"));
    v[FS_X] = r->o->x == PLOT_X_HOYER ? hoyer : density;
    v[FS_Y] = r->o->y == PLOT_Y_BWT ? v[FS_BWT] : v[FS_FMAX];
    v[FS_X2] = density2;
    return CL_OK;
}

int plot_forgetting_sparsity(plot_run *r, cl_error *err)
{
    scatter sc = {.vx = FS_X, .vy = FS_Y, .vx2 = r->o->has_th2 ? FS_X2 : -1};
    int rc = plot_each_store(r, fs_store, &sc, err);
    static const char *vcols[FS_N] = {"tasks", "density", "hoyer", "forgetting_max", "bwt", "aa",
                                      "x", "y", "x2"};
    char th[48], buf[1024], st[512];
    plot_vars v = {0};
    plot_threshold_text(r, th, sizeof th);
    stores_text(r, st, sizeof st);
    int hoyer = r->o->x == PLOT_X_HOYER, bwt = r->o->y == PLOT_Y_BWT;
    snprintf(buf, sizeof buf, "%s against %s: %s%s%s", bwt ? "Backward transfer" : "Forgetting",
             hoyer ? "Hoyer sparsity" : "density", st, hoyer ? "" : ", threshold ",
             hoyer ? "" : th);
    plot_var_s(&v, "title", buf);
    if (hoyer)
        plot_var_s(&v, "xlabel", "Hoyer sparsity of ΔW (0 = dense, 1 = a single entry; mean over "
                                 "tasks and modules)");
    else {
        snprintf(buf, sizeof buf, "density of ΔW (fraction of entries active at %s; mean over "
                                  "tasks and modules)", th);
        plot_var_s(&v, "xlabel", buf);
    }
    plot_var_s(&v, "ylabel", bwt ? "backward transfer BWT (accuracy points, %; headline scoring)"
                                 : "forgetting F_max (accuracy points, %; headline scoring)");
    if (r->o->has_th2) {
        char th2[48];
        cl_threshold_format(&r->o->th2, th2, sizeof th2);
        snprintf(buf, sizeof buf, "density of ΔW at %s (mean over tasks and modules)", th2);
        plot_var_s(&v, "x2label", buf);
        snprintf(buf, sizeof buf, "%s against density at two thresholds: %s", bwt ? "Backward transfer" : "Forgetting", st);
        plot_var_s(&v, "title", buf);
        snprintf(buf, sizeof buf, "density of ΔW at %s (mean over tasks and modules)", th);
        plot_var_s(&v, "xlabel", buf);
    }
    return scatter_finish(r, &sc, vcols, FS_N, &v,
                          "forgetting and BWT need two evaluated tasks; undefined in", rc, err);
}

/* ------------------------------------------------------------ orthogonality */

enum { CO_TASKS, CO_MODS, CO_PAIRS, CO_OO_MEAN, CO_OO_TOTAL, CO_ACR, CO_ACR_POOLED, CO_DENS,
       CO_N };
_Static_assert((int)CO_N <= (int)MAX_VALS, "a point holds MAX_VALS values");

static int co_store(plot_run *r, cl_store *s, int index, void *vc, cl_error *err)
{
    (void)index;
    scatter *sc = vc;
    int rc = plot_family(r, s, fam_ortho, NULL, 0, err);
    if (rc)
        return rc;
    const cli_table *t = plot_table(r, "summary");
    if ((rc = point_new(r, sc, s, (int64_t)cli_table_num(t, 0, plot_col(t, "snapshot")), err)))
        return rc;
    double *v = sc->p[sc->n - 1].val;
    v[CO_TASKS] = cli_table_num(t, 0, plot_col(t, "tasks"));
    v[CO_MODS] = cli_table_num(t, 0, plot_col(t, "modules"));
    v[CO_PAIRS] = cli_table_num(t, 0, plot_col(t, "pairs"));
    v[CO_OO_MEAN] = cli_table_num(t, 0, plot_col(t, "oo_pair_mean"));
    v[CO_OO_TOTAL] = cli_table_num(t, 0, plot_col(t, "oo_total"));
    cli_tables_free(&r->c); /* both families have a "summary" table */
    if ((rc = plot_family(r, s, fam_collision, NULL, 0, err)))
        return rc;
    t = plot_table(r, "summary");
    v[CO_ACR] = cli_table_num(t, 0, plot_col(t, "acr_mean"));
    v[CO_ACR_POOLED] = cli_table_num(t, 0, plot_col(t, "acr_pooled"));
    v[CO_DENS] = cli_table_num(t, 0, plot_col(t, "density_mean"));
    return CL_OK;
}

int plot_collision_orthogonality(plot_run *r, cl_error *err)
{
    scatter sc = {.vx = CO_OO_MEAN, .vy = CO_ACR, .vx2 = -1};
    int rc = plot_each_store(r, co_store, &sc, err);
    static const char *vcols[CO_N] = {"tasks", "modules", "pairs", "oo_pair_mean", "oo_total",
                                      "acr_mean", "acr_pooled", "density_mean"};
    char th[48], buf[1024], st[512];
    plot_vars v = {0};
    stores_text(r, st, sizeof st);
    snprintf(buf, sizeof buf, "Collision against orthogonality: %s, threshold %s", st,
             plot_threshold_text(r, th, sizeof th));
    plot_var_s(&v, "title", buf);
    plot_var_s(&v, "xlabel", "orthogonality OO = Σ_modules ‖A_i A_jᵀ‖²_F, mean over task pairs "
                             "i<j (dimensionless)");
    snprintf(buf, sizeof buf, "average collision rate ACR (%% of entries, %s)", th);
    plot_var_s(&v, "ylabel", buf);
    return scatter_finish(r, &sc, vcols, CO_N, &v, "OO and ACR need two tasks; undefined in",
                          rc, err);
}
