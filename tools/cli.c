/* cli.c -- see cli.h. */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

enum { T_STR, T_INT, T_FLT };

typedef struct cell {
    int type;
    int none; /* not recorded: CSV empty, JSON null, text "-" */
    char *s;
    int64_t i;
    double f;
} cell;

struct cli_table {
    char *name;
    int ncols;
    char **cols;
    int *types;
    int nrows, cap, filled; /* cells in the current row */
    cell *cells;
};

static void die_oom(void)
{
    fputs("collide: out of memory\n", stderr);
    exit(CLI_EXIT_FAIL);
}

static void *xcalloc(size_t n, size_t s)
{
    void *p = calloc(n ? n : 1, s ? s : 1);
    if (!p)
        die_oom();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die_oom();
    return p;
}

cl_backend *cli_backend(cli *c)
{
    if (!c->be) {
        cl_error err;
        if (cl_backend_open(c->device, &c->be, &err)) {
            fprintf(stderr, "%s: %s\n", c->prog, err.msg);
            exit(CLI_EXIT_FAIL);
        }
    }
    return c->be;
}

int cli_fail(cli *c, const cl_error *err)
{
    cli_progress_done(c);
    fprintf(stderr, "%s: %s\n", c->prog, err->msg);
    return CLI_EXIT_FAIL;
}

void cli_progress(cli *c, const char *fmt, ...)
{
    if (!c->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    c->progress_shown = 1;
}

void cli_progress_done(cli *c)
{
    if (c->progress && c->progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        c->progress_shown = 0;
    }
}

/* ------------------------------------------------------------ tables */

cli_table *cli_table_get(cli *c, const char *base, const char *const *cols, int ncols)
{
    char name[96];
    snprintf(name, sizeof name, "%s%s", c->prefix ? c->prefix : "", base);
    for (int i = 0; i < c->n_tables; i++)
        if (!strcmp(c->tables[i]->name, name))
            return c->tables[i];
    if (c->n_tables == CLI_MAX_TABLES) {
        fprintf(stderr, "%s: too many tables\n", c->prog);
        exit(CLI_EXIT_FAIL);
    }
    cli_table *t = xcalloc(1, sizeof *t);
    t->name = xstrdup(name);
    t->ncols = ncols;
    t->cols = xcalloc((size_t)ncols, sizeof *t->cols);
    t->types = xcalloc((size_t)ncols, sizeof *t->types);
    for (int i = 0; i < ncols; i++) {
        const char *colon = strchr(cols[i], ':');
        size_t n = colon ? (size_t)(colon - cols[i]) : strlen(cols[i]);
        t->cols[i] = xcalloc(n + 1, 1);
        memcpy(t->cols[i], cols[i], n);
        t->types[i] = !colon ? T_STR : colon[1] == 'i' ? T_INT : T_FLT;
    }
    t->filled = ncols; /* no row open */
    c->tables[c->n_tables++] = t;
    return t;
}

void cli_row_begin(cli_table *t)
{
    if (t->filled != t->ncols) {
        fprintf(stderr, "internal error: table %s: row with %d of %d cells\n", t->name, t->filled,
                t->ncols);
        abort();
    }
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = realloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof *t->cells);
        if (!t->cells)
            die_oom();
    }
    t->nrows++;
    t->filled = 0;
}

static cell *next_cell(cli_table *t, int type)
{
    if (t->filled >= t->ncols || t->types[t->filled] != type) {
        fprintf(stderr, "internal error: table %s: column %d (%s) written with the wrong type\n",
                t->name, t->filled, t->filled < t->ncols ? t->cols[t->filled] : "?");
        abort();
    }
    cell *x = &t->cells[(size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)t->filled++];
    memset(x, 0, sizeof *x);
    x->type = type;
    return x;
}

void cli_cell_s(cli_table *t, const char *v) { next_cell(t, T_STR)->s = xstrdup(v ? v : ""); }
void cli_cell_i(cli_table *t, int64_t v) { next_cell(t, T_INT)->i = v; }
void cli_cell_f(cli_table *t, double v) { next_cell(t, T_FLT)->f = v; }
void cli_cell_none(cli_table *t)
{
    int type = t->filled < t->ncols ? t->types[t->filled] : T_STR;
    cell *x = next_cell(t, type);
    x->none = 1;
    x->f = NAN;
    if (type == T_STR)
        x->s = xstrdup("");
}

static void csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The shortest decimal that reads back as the same double. */
static void print_real(FILE *f, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

static void print_csv(const cli_table *t, FILE *f)
{
    for (int j = 0; j < t->ncols; j++) {
        if (j)
            fputc(',', f);
        csv_str(f, t->cols[j]);
    }
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        for (int j = 0; j < t->ncols; j++) {
            const cell *x = &t->cells[(size_t)r * (size_t)t->ncols + (size_t)j];
            if (j)
                fputc(',', f);
            if (x->none)
                continue;
            if (x->type == T_STR)
                csv_str(f, x->s);
            else if (x->type == T_INT)
                fprintf(f, "%lld", (long long)x->i);
            else if (!isnan(x->f)) /* NaN: empty field */
                print_real(f, x->f);
        }
        fputc('\n', f);
    }
}

static json_t *table_json(const cli_table *t)
{
    json_t *rows = json_array();
    for (int r = 0; r < t->nrows; r++) {
        json_t *o = json_object();
        for (int j = 0; j < t->ncols; j++) {
            const cell *x = &t->cells[(size_t)r * (size_t)t->ncols + (size_t)j];
            json_t *v = x->none            ? json_null()
                        : x->type == T_STR ? json_string(x->s)
                        : x->type == T_INT ? json_integer((json_int_t)x->i)
                        : isfinite(x->f)   ? json_real(x->f)
                                           : json_null(); /* NaN/Inf are not JSON */
            json_object_set_new(o, t->cols[j], v);
        }
        json_array_append_new(rows, o);
    }
    return rows;
}

static void free_tables(cli *c)
{
    for (int i = 0; i < c->n_tables; i++) {
        cli_table *t = c->tables[i];
        for (int r = 0; r < t->nrows; r++)
            for (int j = 0; j < t->ncols; j++)
                free(t->cells[(size_t)r * (size_t)t->ncols + (size_t)j].s);
        for (int j = 0; j < t->ncols; j++)
            free(t->cols[j]);
        free(t->cols);
        free(t->types);
        free(t->cells);
        free(t->name);
        free(t);
    }
    c->n_tables = 0;
}

int cli_finish(cli *c, int status)
{
    cli_progress_done(c);
    if (status == CLI_EXIT_OK && c->format == CLI_JSON) {
        json_t *root = json_object(), *tabs = json_object();
        json_object_set_new(root, "tool", json_string(c->prog));
        json_object_set_new(root, "collide_version", json_string(cl_version()));
        for (int i = 0; i < c->n_tables; i++)
            json_object_set_new(tabs, c->tables[i]->name, table_json(c->tables[i]));
        json_object_set_new(root, "tables", tabs);
        json_dumpf(root, c->out, JSON_INDENT(1)); /* 17 digits: values round-trip */
        fputc('\n', c->out);
        json_decref(root);
    } else if (status == CLI_EXIT_OK && c->format == CLI_CSV) {
        const char *want = c->table ? c->table : c->primary;
        const cli_table *t = NULL;
        for (int i = 0; i < c->n_tables; i++)
            if (!strcmp(c->tables[i]->name, want))
                t = c->tables[i];
        if (!t) {
            fprintf(stderr, "%s: --table %s: no such table; this run has:", c->prog, want);
            for (int i = 0; i < c->n_tables; i++)
                fprintf(stderr, " %s", c->tables[i]->name);
            fputc('\n', stderr);
            status = c->table ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
        } else {
            print_csv(t, c->out);
        }
    }
    if (fflush(c->out) != 0 || ferror(c->out)) {
        fprintf(stderr, "%s: writing the output failed\n", c->prog);
        status = CLI_EXIT_FAIL;
    }
    free_tables(c);
    cl_backend_close(c->be);
    c->be = NULL;
    return status;
}

/* ------------------------------------------------------------ text */

int cli_text(const cli *c) { return c->format == CLI_TEXT; }

int cli_imported(const cl_store *s) { return !strcmp(cl_store_meta(s)->origin, "imported"); }

/* Trained stores record their lambdas; imported ones only when labelled
 * with a method (collide-import --method, which asks for its lambda). */
int cli_lambda_recorded(const cl_store *s)
{
    return !cli_imported(s) || strcmp(cl_store_meta(s)->method, "imported");
}

void cli_text_heading(cli *c, const cl_store *s, const cl_view *v)
{
    const cl_snapshot_row *w = cl_store_snapshot(s, v->snapshot);
    fprintf(c->out, "\n== %s  [%s]  snapshot %lld (task %s, %s", cl_store_path(s),
            cl_store_meta(s)->method, (long long)v->snapshot, cl_store_task_name(s, w->task),
            w->kind == CL_SNAP_END_OF_TASK ? "end of task" : "periodic");
    if (!cli_imported(s)) /* adapters carry no step */
        fprintf(c->out, ", step %lld", (long long)w->step);
    fputs(")\n", c->out);
}

void cli_text_matrix(cli *c, const char *title, int n, const char *const *names, const double *v,
                     double mul, const char *fmt)
{
    FILE *f = c->out;
    int w = 8, longest = 0;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(names[i]);
        longest = l > longest ? l : longest;
    }
    /* Long names (imported adapters' directory names) are never cut: rows
     * carry the whole name after a number, columns the number. */
    int numbered = longest > 12;
    if (!numbered && longest > w)
        w = longest;
    int rw = numbered ? longest + 4 : w;
    fprintf(f, "%s\n  %*s", title, rw, "");
    for (int j = 0; j < n; j++) {
        char h[16];
        snprintf(h, sizeof h, "%d", j + 1);
        fprintf(f, " %*s", w, numbered ? h : names[j]);
    }
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        if (numbered)
            fprintf(f, "  %2d  %-*s", i + 1, longest, names[i]);
        else
            fprintf(f, "  %-*s", w, names[i]);
        for (int j = 0; j < n; j++) {
            char buf[64];
            double x = v[i * n + j];
            if (isnan(x))
                snprintf(buf, sizeof buf, "-");
            else
                snprintf(buf, sizeof buf, fmt, x * mul);
            fprintf(f, " %*s", w, buf);
        }
        fputc('\n', f);
    }
}

/* One cell as text: floats with 4 significant digits, NaN as "-". */
static void cell_text(const cell *x, char *buf, size_t n)
{
    if (x->none)
        snprintf(buf, n, "-");
    else if (x->type == T_STR)
        snprintf(buf, n, "%s", x->s ? x->s : "");
    else if (x->type == T_INT)
        snprintf(buf, n, "%lld", (long long)x->i);
    else if (isnan(x->f))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.4g", x->f);
}

int cli_table_mark(const cli *c, const char *table)
{
    char name[96];
    snprintf(name, sizeof name, "%s%s", c->prefix ? c->prefix : "", table);
    return cli_table_nrows(cli_table_find(c, name));
}

void cli_text_rows(cli *c, const char *table, int from, const char *const *cols, int ncols)
{
    cli_text_rows_cut(c, table, from, -1, -1, cols, ncols);
}

void cli_text_rows_cut(cli *c, const char *table, int from, int cut_from, int cut_to,
                       const char *const *cols, int ncols)
{
    char name[96];
    snprintf(name, sizeof name, "%s%s", c->prefix ? c->prefix : "", table);
    const cli_table *t = cli_table_find(c, name);
    if (!t || from >= t->nrows)
        return;
    int *idx = xcalloc((size_t)ncols, sizeof *idx), *w = xcalloc((size_t)ncols, sizeof *w);
    char buf[512];
    for (int j = 0; j < ncols; j++) {
        idx[j] = cli_table_col(t, cols[j]);
        w[j] = (int)strlen(cols[j]);
        for (int r = from; idx[j] >= 0 && r < t->nrows; r++) {
            if (r >= cut_from && r < cut_to)
                continue;
            cell_text(&t->cells[(size_t)r * (size_t)t->ncols + (size_t)idx[j]], buf, sizeof buf);
            int l = (int)strlen(buf);
            w[j] = l > w[j] ? l : w[j];
        }
    }
    fputs("   ", c->out);
    for (int j = 0; j < ncols; j++)
        fprintf(c->out, " %-*s", j == ncols - 1 ? 0 : w[j], cols[j]);
    fputc('\n', c->out);
    for (int r = from; r < t->nrows; r++) {
        if (r == cut_from && cut_to > cut_from) {
            fprintf(c->out, "    ... %d more (--all lists every one) ...\n", cut_to - cut_from);
            r = cut_to - 1;
            continue;
        }
        fputs("   ", c->out);
        for (int j = 0; j < ncols; j++) {
            const cell *x = idx[j] >= 0 ? &t->cells[(size_t)r * (size_t)t->ncols + (size_t)idx[j]]
                                        : NULL;
            if (x)
                cell_text(x, buf, sizeof buf);
            else
                buf[0] = 0;
            /* numbers right-aligned, text left (the last unpadded) */
            if (x && x->type != T_STR)
                fprintf(c->out, " %*s", w[j], buf);
            else
                fprintf(c->out, " %-*s", j == ncols - 1 ? 0 : w[j], buf);
        }
        fputc('\n', c->out);
    }
    free(idx);
    free(w);
}

int cli_names_width(const cl_store *s, const cl_view *v, int min)
{
    int w = min;
    for (int i = 0; i < v->n; i++) {
        int l = (int)strlen(cl_store_task_name(s, v->task[i]));
        w = l > w ? l : w;
    }
    return w;
}

const char **cli_view_names(const cl_store *s, const cl_view *v)
{
    const char **n = xcalloc((size_t)(v->n ? v->n : 1), sizeof *n);
    for (int i = 0; i < v->n; i++)
        n[i] = cl_store_task_name(s, v->task[i]);
    return n;
}

/* ------------------------------------------------------------ walking */

typedef struct walk_wrap {
    cli *c;
    const cli_walk_ops *ops;
    void *ctx;
    const cl_store *s;
    int done, total;
} walk_wrap;

static int wrap_module(void *vw, int m, const cl_lowrank *u, int n, cl_error *err)
{
    walk_wrap *w = vw;
    cli_progress(w->c, "%s: %s: module %d/%d %s", w->c->prog, cl_store_path(w->s), ++w->done,
                 w->total, cl_store_module_name(w->s, m));
    return w->ops->module(w->ctx, m, u, n, err);
}

int cli_walk_views(cli *c, cl_store *s, const cli_walk_ops *ops, void *ctx, cl_error *err)
{
    cl_view_list views;
    int *mods = NULL, nm = 0;
    int rc = cl_views_select(s, c->snapshot, &views, err);
    if (rc)
        return rc;
    rc = cl_modules_select(s, c->module, &mods, &nm, err);
    for (int i = 0; i < views.n && !rc; i++) {
        walk_wrap w = {c, ops, ctx, s, 0, nm};
        rc = ops->begin(ctx, s, &views.v[i], mods, nm, err);
        if (!rc)
            rc = cl_walk(s, &views.v[i], mods, nm, wrap_module, &w, err);
        if (!rc)
            rc = ops->end(ctx, s, &views.v[i], err);
    }
    free(mods);
    cl_view_list_free(&views);
    return rc;
}

/* ------------------------------------------------------------ outputs */

/* Is the existing file P (stat st) the input IN, or inside IN when IN is a
 * directory? Paths are compared resolved, so "a/../b" and links count. */
static int is_input(const char *p, const struct stat *st, const char *in)
{
    struct stat si;
    if (stat(in, &si) != 0)
        return 0;
    if (si.st_dev == st->st_dev && si.st_ino == st->st_ino)
        return 1;
    if (!S_ISDIR(si.st_mode))
        return 0;
    char rp[PATH_MAX], ri[PATH_MAX];
    if (!realpath(p, rp) || !realpath(in, ri))
        return 0;
    size_t n = strlen(ri);
    return !strncmp(rp, ri, n) && (rp[n] == '/' || (n == 1 && ri[0] == '/'));
}

int cli_is_input(const char *path, const char *const *inputs, int n_inputs)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] && is_input(path, &st, inputs[i]))
            return 1;
    return 0;
}

int cli_output_refusal(const char *path, int force, const char *const *inputs, int n_inputs,
                       char *msg, size_t n)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) /* a folder still to be made */
            return 0;
        snprintf(msg, n, "%s: %s", path, strerror(errno));
        return 1;
    }
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] && is_input(path, &st, inputs[i])) {
            snprintf(msg, n, "%s: is an input (%s); refusing to write over it, --force or not",
                     path, inputs[i]);
            return 1;
        }
    if (S_ISDIR(st.st_mode)) {
        snprintf(msg, n, "%s: is a directory; give a file name", path);
        return 1;
    }
    if (!force) {
        snprintf(msg, n, "%s: already exists; refusing to overwrite it (--force replaces it)",
                 path);
        return 1;
    }
    return 0;
}

int cli_output_check(const char *prog, const char *path, int force, const char *const *inputs,
                     int n_inputs)
{
    char msg[1024];
    if (!cli_output_refusal(path, force, inputs, n_inputs, msg, sizeof msg))
        return 0;
    fprintf(stderr, "%s: %s\n", prog, msg);
    return CLI_EXIT_FAIL;
}

/* ------------------------------------------------------------ stores */

/* Everything the options ask of a store, checked before any output: the
 * store opens, holds the --snapshot, and some module matches --module. */
static int check_store(cli *c, cl_store *s, cl_error *err)
{
    cl_view_list views;
    int *mods = NULL, nm = 0, rc = CL_OK;
    if (c->opts & CLI_OPT_SNAPSHOT) { /* collide-info reads a store with no view */
        if ((rc = cl_views_select(s, c->snapshot, &views, err)))
            return rc;
        cl_view_list_free(&views);
    }
    if ((c->opts & CLI_OPT_MODULE) || c->module)
        rc = cl_modules_select(s, c->module, &mods, &nm, err);
    free(mods);
    return rc;
}

int cli_run(cli *c, int (*fn)(cli *c, cl_store *s, cl_error *err))
{
    cl_store **s = xcalloc((size_t)c->n_stores, sizeof *s);
    cl_error err;
    int rc = CL_OK;
    for (int i = 0; i < c->n_stores && !rc; i++)
        if (!(rc = cl_store_open(c->stores[i], &s[i], &err)))
            rc = check_store(c, s[i], &err);
    for (int i = 0; i < c->n_stores && !rc; i++)
        rc = fn(c, s[i], &err);
    for (int i = 0; i < c->n_stores; i++)
        if (s[i])
            cl_store_close(s[i], NULL);
    free(s);
    return cli_finish(c, rc ? cli_fail(c, &err) : CLI_EXIT_OK);
}

void cli_cell_threshold(cli_table *t, const cl_threshold *th)
{
    char buf[48];
    cl_threshold_format(th, buf, sizeof buf);
    cli_cell_s(t, buf);
}

/* ------------------------------------------------------------ reading back */

const cli_table *cli_table_find(const cli *c, const char *name)
{
    for (int i = 0; i < c->n_tables; i++)
        if (!strcmp(c->tables[i]->name, name))
            return c->tables[i];
    return NULL;
}

int cli_table_nrows(const cli_table *t) { return t ? t->nrows : 0; }

int cli_table_col(const cli_table *t, const char *name)
{
    for (int j = 0; t && j < t->ncols; j++)
        if (!strcmp(t->cols[j], name))
            return j;
    return -1;
}

static const cell *cell_at(const cli_table *t, int row, int col)
{
    if (!t || col < 0 || col >= t->ncols || row < 0 || row >= t->nrows)
        return NULL;
    return &t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

double cli_table_num(const cli_table *t, int row, int col)
{
    const cell *x = cell_at(t, row, col);
    return !x || x->none || x->type == T_STR ? NAN : x->type == T_INT ? (double)x->i : x->f;
}

const char *cli_table_str(const cli_table *t, int row, int col)
{
    const cell *x = cell_at(t, row, col);
    return x && x->type == T_STR && x->s ? x->s : "";
}

void cli_tables_free(cli *c) { free_tables(c); }


void cli_fprint_csv_field(FILE *f, const char *s) { csv_str(f, s ? s : ""); }

void cli_fprint_real(FILE *f, double v) { print_real(f, v); }
