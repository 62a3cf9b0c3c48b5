/* plot_data.c -- what every figure shares before drawing: the run's metric
 * state, the loop over stores, tables read back, and the CSV writer. */
#include "plot.h"

#include <math.h>
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
    size_t n = strlen(r->o->outdir) + strlen(r->o->fig->name) + 8;
    w->path = malloc(n);
    if (!w->path)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    snprintf(w->path, n, "%s/%s.csv", r->o->outdir, r->o->fig->name);
    cl_atomic_file *af;
    int rc = cl_atomic_open(w->path, 0, &af, err);
    if (rc) {
        free(w->path);
        w->path = NULL;
        return rc;
    }
    w->af = af;
    w->f = cl_atomic_fp(af);
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
    if (w->col++)
        fputc(',', w->f);
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

/* ------------------------------------------------------------ text */

const char *plot_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
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
        snprintf(buf, n, "%s", plot_basename(cl_store_path(s)));
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
