/* plot_data.c -- what every figure shares before drawing: the run's metric
 * state, the loop over stores, tables read back, and the CSV writer. */
#include "plot.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void plot_run_init(plot_run *r, const plot_opts *o)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    cli *c = &r->c;
    cli_init_defaults(c, "collide-plot", stdout);
    c->opts = ~0u;
    c->snapshot = o->snapshot;
    c->module = o->module;
    c->device = o->device;
    c->format = CLI_CSV; /* tables only: the families print no text */
    c->th[0] = o->th;
    c->progress = o->progress;
    c->primary = "";
}

void plot_run_free(plot_run *r)
{
    cli_progress_done(&r->c);
    cli_tables_free(&r->c);
    cl_backend_close(r->c.be);
    r->c.be = NULL;
    for (int i = 0; i < r->n_files; i++)
        free(r->files[i].path);
    r->n_files = 0;
}

int plot_each_store(plot_run *r, plot_store_fn fn, void *ctx, cl_error *err)
{
    for (int i = 0; i < r->o->n_stores; i++) {
        cl_store *s;
        cli_tables_free(&r->c);
        int rc = cl_store_open(r->o->stores[i], &s, err);
        if (rc)
            return rc;
        cli_progress(&r->c, "collide-plot: %s", cl_store_path(s));
        rc = fn(r, s, i, ctx, err);
        cl_store_close(s, NULL);
        if (rc)
            return rc;
    }
    cli_progress_done(&r->c);
    return CL_OK;
}

int plot_family(plot_run *r, cl_store *s, int (*fam)(cli *, cl_store *, cl_error *),
                const char *snapshot, int per_module, cl_error *err)
{
    const char *snap = r->c.snapshot;
    int pm = r->c.per_module;
    r->c.snapshot = snapshot ? snapshot : snap;
    r->c.per_module = per_module;
    int rc = fam(&r->c, s, err);
    r->c.snapshot = snap;
    r->c.per_module = pm;
    return rc;
}

/* A missing table or column is a bug in collide-plot, never bad input. */
const cli_table *plot_table(plot_run *r, const char *name)
{
    const cli_table *t = cli_table_find(&r->c, name);
    if (!t) {
        fprintf(stderr, "collide-plot: internal error: no table %s\n", name);
        abort();
    }
    return t;
}

int plot_col(const cli_table *t, const char *name)
{
    int j = cli_table_col(t, name);
    if (j < 0) {
        fprintf(stderr, "collide-plot: internal error: no column %s\n", name);
        abort();
    }
    return j;
}

/* ------------------------------------------------------------ CSV */

int plot_csv_open(plot_run *r, const char *const *cols, int ncols, plot_csv *w, cl_error *err)
{
    memset(w, 0, sizeof *w);
    size_t n = strlen(r->o->outdir) + strlen(r->o->name) + 8;
    w->path = malloc(n);
    if (!w->path)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    snprintf(w->path, n, "%s/%s.csv", r->o->outdir, r->o->name);
    cl_atomic_file *af;
    int rc = cl_atomic_open(w->path, 0, &af, err);
    if (rc) {
        free(w->path);
        w->path = NULL;
        return rc;
    }
    w->af = af;
    w->f = w->file = cl_atomic_fp(af);
    w->ncols = ncols;
    for (int j = 0; j < ncols; j++) {
        if (j)
            fputc(',', w->f);
        cli_fprint_csv_field(w->f, cols[j]);
    }
    fputc('\n', w->f);
    return CL_OK;
}

static void sep(plot_csv *w)
{
    /* a held row starts in memory; if that fails, plot_csv_row_held says so */
    if (w->tail && w->col == 0 && !w->row) {
        FILE *m = open_memstream(&w->row, &w->row_len);
        w->f = m ? m : w->file;
    }
    if (w->col++)
        fputc(',', w->f);
}

void plot_csv_hold(plot_csv *w, int tail) { w->tail = tail; }

int plot_csv_row_held(plot_csv *w, int key, cl_error *err)
{
    if (w->col + w->tail != w->ncols) {
        fprintf(stderr, "collide-plot: internal error: %s: held row with %d of %d fields\n",
                w->path, w->col, w->ncols - w->tail);
        abort();
    }
    int ok = w->f != w->file && fclose(w->f) == 0;
    w->f = w->file;
    w->col = 0;
    if (ok && w->n_held == w->cap_held) {
        int cap = w->cap_held ? 2 * w->cap_held : 256;
        plot_held *h = realloc(w->held, (size_t)cap * sizeof *h);
        ok = h != NULL;
        if (h)
            w->held = h, w->cap_held = cap;
    }
    if (!ok) {
        free(w->row);
        w->row = NULL;
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    w->held[w->n_held++] = (plot_held){w->row, key};
    w->row = NULL;
    return CL_OK;
}

void plot_csv_release(plot_csv *w, plot_tail_fn fn, void *ctx)
{
    int tail = w->tail;
    w->tail = 0;
    for (int i = 0; i < w->n_held; i++) {
        fputs(w->held[i].text, w->f);
        w->col = w->ncols - tail;
        fn(w, w->held[i].key, ctx);
        plot_csv_row_end(w);
        free(w->held[i].text);
    }
    free(w->held);
    w->held = NULL;
    w->n_held = w->cap_held = 0;
}

static void held_free(plot_csv *w)
{
    for (int i = 0; i < w->n_held; i++)
        free(w->held[i].text);
    free(w->held);
    w->held = NULL;
    w->n_held = w->cap_held = 0;
    if (w->f && w->f != w->file)
        fclose(w->f);
    free(w->row);
    w->row = NULL;
    w->f = w->file;
}

void plot_csv_s(plot_csv *w, const char *v)
{
    sep(w);
    cli_fprint_csv_field(w->f, v);
}

void plot_csv_i(plot_csv *w, int64_t v)
{
    sep(w);
    fprintf(w->f, "%lld", (long long)v);
}

void plot_csv_f(plot_csv *w, double v)
{
    sep(w);
    if (isfinite(v)) /* NaN: an empty field, as the tools print it */
        cli_fprint_real(w->f, v);
}

void plot_csv_row_end(plot_csv *w)
{
    if (w->col != w->ncols) {
        fprintf(stderr, "collide-plot: internal error: %s: row with %d of %d fields\n", w->path,
                w->col, w->ncols);
        abort();
    }
    fputc('\n', w->f);
    w->col = 0;
    w->rows++;
}

int plot_csv_commit(plot_run *r, plot_csv *w, cl_error *err)
{
    /* the temporary file is private (0600); the data file is for sharing,
     * like the images gnuplot writes: 0666 less the umask */
    mode_t um = umask(0);
    umask(um);
    chmod(cl_atomic_tmp_path(w->af), 0666 & ~um);
    int rc = cl_atomic_commit(w->af, err);
    w->af = NULL;
    if (rc) {
        free(w->path);
        w->path = NULL;
        return rc;
    }
    if (r->n_files == PLOT_MAX_FILES) {
        free(w->path);
        return cl_error_set(err, CL_ERR_ARG, "internal error: too many files");
    }
    r->files[r->n_files++] = (plot_file){.path = w->path, .format = "csv", .rows = w->rows};
    w->path = NULL;
    return CL_OK;
}

void plot_csv_abort(plot_csv *w)
{
    held_free(w);
    if (w->af)
        cl_atomic_abort(w->af);
    w->af = NULL;
    free(w->path);
    w->path = NULL;
}

int plot_csv_finish(plot_run *r, plot_csv *w, plot_vars *v, int rc, cl_error *err)
{
    if (rc)
        plot_csv_abort(w);
    else
        rc = plot_csv_commit(r, w, err);
    if (rc)
        plot_vars_free(v);
    return rc;
}

int plot_panels_finish(plot_run *r, plot_csv *w, plot_vars *v, int rc, int width, int height,
                       cl_error *err)
{
    if ((rc = plot_csv_finish(r, w, v, rc, err)))
        return rc;
    plot_var_i(v, "npanels", r->o->n_stores);
    rc = plot_render(r, v, width, height, err);
    plot_vars_free(v);
    return rc;
}

int plot_no_data(plot_run *r, cl_error *err, const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->no_data = 1;
    return cl_error_set(err, CL_ERR_ARG, "%s: nothing to draw: %s", r->o->fig->name, msg);
}

/* ------------------------------------------------------------ palette */

/* The method's name as the palette knows it: lower case, no '-', '_' or
 * space ("N-LoRA" is nlora). */
static void method_key(const char *method, char *buf, size_t n)
{
    size_t k = 0;
    for (const char *p = method ? method : ""; *p && k + 1 < n; p++)
        if (*p != '-' && *p != '_' && *p != ' ')
            buf[k++] = (char)tolower((unsigned char)*p);
    buf[k] = 0;
}

static const struct {
    const char *key, *colour;
    int point;
} method_palette[] = {
    /* Okabe-Ito colours, one per method collide trains or reads */
    {"inclora", "#0072B2", 7},     {"lora", "#0072B2", 7},
    {"olora", "#009E73", 9},       {"nlora", "#D55E00", 5},
    {"olora+nlora", "#CC79A7", 11}, {"nlora+olora", "#CC79A7", 11},
    {"seqlora", "#E69F00", 13},    {"imported", "#56B4E9", 15},
    {"synthetic", "#6E6E6E", 4},
};

/* Any other method: Paul Tol's muted colours, none of them above. */
static const char *const fallback_colours[] = {"#332288", "#882255", "#117733",
                                               "#44AA99", "#AA4499", "#999933"};
static const int fallback_points[] = {7, 5, 9, 11, 13, 15};
enum { N_FALLBACK = 6 };

/* Index into the palette, or -1 - (a stable hash of the name) % N_FALLBACK. */
static int method_index(const char *method)
{
    char key[64];
    method_key(method, key, sizeof key);
    for (size_t i = 0; i < sizeof method_palette / sizeof method_palette[0]; i++)
        if (!strcmp(key, method_palette[i].key))
            return (int)i;
    uint32_t h = 2166136261u; /* FNV-1a: the same name, the same colour */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return -1 - (int)(h % N_FALLBACK);
}

const char *plot_method_colour(const char *method)
{
    int i = method_index(method);
    return i >= 0 ? method_palette[i].colour : fallback_colours[-1 - i];
}

int plot_method_point(const char *method)
{
    int i = method_index(method);
    return i >= 0 ? method_palette[i].point : fallback_points[-1 - i];
}

/* ------------------------------------------------------------ text */

void plot_shorten(const char *text, int maxlen, char *buf, size_t n)
{
    const char *s = text ? text : "";
    int chars = 0;
    /* characters, not bytes: a UTF-8 continuation byte starts none */
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xC0) != 0x80;
    if (maxlen <= 0 || chars <= maxlen) {
        snprintf(buf, n, "%s", s);
        return;
    }
    const char *p = s;
    for (int c = 0; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80 && c++ == maxlen - 1)
            break;
    snprintf(buf, n, "%.*s…", (int)(p - s), s);
}

void plot_add_word(char *list, size_t n, const char *text, int maxlen)
{
    char w[256];
    plot_shorten(text, maxlen, w, sizeof w);
    for (char *p = w; *p; p++)
        if (*p == '"' || *p == '\n' || *p == '\r' || *p == '\t')
            *p = *p == '"' ? '\'' : ' ';
    size_t len = strlen(list);
    if (len + strlen(w) + 4 < n)
        snprintf(list + len, n - len, "%s\"%s\"", len ? " " : "", w);
}

const char *plot_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The run's name where it has one (collide-import --name), else its file. */
const char *plot_store_name(const cl_store *s, int maxlen, char *buf, size_t n)
{
    const char *name = cl_store_meta(s)->name;
    plot_shorten(name[0] ? name : plot_basename(cl_store_path(s)), maxlen, buf, n);
    return buf;
}

void plot_series(const char *method, char *buf, size_t n)
{
    snprintf(buf, n, "%s", method[0] ? method : "unknown");
    for (char *p = buf; *p; p++)
        if (*p == '"' || *p == '\'' || *p == ' ' || *p == '\t' || *p == '\n')
            *p = '_';
}

double plot_lambda(const cl_run_meta *m)
{
    if (!strcmp(m->method, "nlora"))
        return m->lambda_sparse;
    if (!strcmp(m->method, "olora"))
        return m->lambda_orth;
    if (!strcmp(m->method, "olora+nlora"))
        return m->lambda_sparse;
    return NAN;
}

void plot_point_label(const plot_run *r, const cl_store *s, char *buf, size_t n)
{
    const cl_run_meta *m = cl_store_meta(s);
    buf[0] = 0;
    if (r->o->labels == PLOT_LABEL_STORE) {
        snprintf(buf, n, "%s", m->name[0] ? m->name : plot_basename(cl_store_path(s)));
    } else if (r->o->labels == PLOT_LABEL_LAMBDA) {
        if (!strcmp(m->method, "olora+nlora"))
            snprintf(buf, n, "λ=%g, λ1=%g", m->lambda_sparse, m->lambda_orth);
        else if (!isnan(plot_lambda(m)))
            snprintf(buf, n, "λ=%g", plot_lambda(m));
    }
}

const char *plot_threshold_text(const plot_run *r, char *buf, size_t n)
{
    cl_threshold_format(&r->o->th, buf, n);
    return buf;
}
