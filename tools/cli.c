/* cli.c -- see cli.h. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { T_STR, T_INT, T_FLT };

typedef struct cell {
    int type;
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

/* ------------------------------------------------------------ options */

static const struct {
    unsigned flag;
    const char *text;
} common_help[] = {
    {CLI_OPT_SNAPSHOT, "  --snapshot S      task-ends (default), last, all or a snapshot id:\n"
                       "                    which adapters stand for each task\n"},
    {CLI_OPT_MODULE, "  --module GLOB     only modules whose name matches (e.g. 'layers.*.attn.q')\n"},
    {CLI_OPT_THRESHOLD, "  --threshold M:V   activity threshold: abs:E, rel:P, energy:F or top:Q\n"
                        "                    (default " CL_THRESHOLD_DEFAULT ")\n"},
    {CLI_OPT_SWEEP, "  --sweep[=LIST]    also sweep the threshold value (comma-separated values\n"
                    "                    for the --threshold mode; default list per mode)\n"},
    {CLI_OPT_RANK_TOL, "  --rank-tol X      a singular value counts when > X * sigma_1 (default 0.01)\n"},
    {CLI_OPT_PER_MODULE, "  --per-module      also print every module, not only the aggregates\n"},
    {CLI_OPT_DEVICE, "  --device D        cpu, cuda or auto (default auto: CUDA only with a GPU)\n"},
};

static void usage(FILE *f, const cli_tool *t)
{
    fprintf(f, "usage: %s [options] STORE...\n\n%s\n\noptions:\n", t->name, t->summary);
    for (size_t i = 0; i < sizeof common_help / sizeof common_help[0]; i++)
        if (t->opts & common_help[i].flag)
            fputs(common_help[i].text, f);
    fputs("  --format F        text (default), csv or json\n"
          "  --table NAME      with --format csv: which table to print",
          f);
    fprintf(f, " (default %s)\n", t->primary);
    fputs("  --quiet           no progress on stderr\n"
          "  --version         print the version\n"
          "  -h, --help        this help\n",
          f);
    if (t->details)
        fprintf(f, "\n%s\n", t->details);
    fputs("\nExit status: 0 success, 1 bad input or failure (message on stderr naming the\n"
          "file, object and reason), 2 bad usage.\n",
          f);
}

static void usage_error(const cli_tool *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void usage_error(const cli_tool *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", t->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", t->name);
    exit(CLI_EXIT_USAGE);
}

void cli_usage_error(const char *prog, const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\nTry '%s --help'.\n", prog, msg, arg ? ": " : "",
            arg ? arg : "", prog);
    exit(CLI_EXIT_USAGE);
}

long cli_whole(const char *prog, const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        char m[160];
        snprintf(m, sizeof m, "%s must be a whole number in [%ld, %ld]", opt, lo, hi);
        cli_usage_error(prog, m, s);
    }
    return v;
}

double cli_real(const char *prog, const char *opt, const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        char m[160];
        snprintf(m, sizeof m, "%s must be a number in [%g, %g]", opt, lo, hi);
        cli_usage_error(prog, m, s);
    }
    return v;
}

/* Default sweep values per mode. */
static int sweep_defaults(cl_threshold base, cl_threshold *out)
{
    static const double energy[] = {0.5, 0.8, 0.9, 0.95, 0.99, 0.999};
    static const double rel[] = {0.001, 0.01, 0.05, 0.1, 0.2, 0.5};
    static const double top[] = {0.01, 0.05, 0.1, 0.2, 0.5, 0.9};
    const double *v = base.mode == CL_TH_ENERGY ? energy : base.mode == CL_TH_REL ? rel : top;
    if (base.mode == CL_TH_ABS) {
        /* abs has no scale-free default: decades around the given value */
        for (int i = 0; i < 6; i++) {
            out[i].mode = CL_TH_ABS;
            out[i].value = base.value * pow(10.0, i - 3);
        }
        return 6;
    }
    for (int i = 0; i < 6; i++) {
        out[i].mode = base.mode;
        out[i].value = v[i];
    }
    return 6;
}

void cli_init_defaults(cli *c, const char *prog, FILE *out)
{
    memset(c, 0, sizeof *c);
    c->prog = prog;
    c->snapshot = "task-ends";
    c->device = "auto";
    c->rank_tol = CL_RANK_TOL_DEFAULT;
    c->out = out;
    cl_error err;
    cl_threshold_parse(CL_THRESHOLD_DEFAULT, &c->th[0], &err);
    c->n_th = 1;
}

void cli_init(cli *c, const cli_tool *t, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->prog = t->name;
    c->opts = t->opts;
    c->snapshot = "task-ends";
    c->device = "auto";
    c->rank_tol = CL_RANK_TOL_DEFAULT;
    c->out = stdout;
    c->primary = t->primary;
    int quiet = 0, th_given = 0;
    const char *sweep_list = NULL;
    enum { O_SNAP = 256, O_MOD, O_TH, O_FMT, O_DEV, O_PERM, O_RTOL, O_SWEEP, O_TABLE, O_QUIET, O_VER };
    static const struct option lo[] = {
        {"snapshot", required_argument, 0, O_SNAP}, {"module", required_argument, 0, O_MOD},
        {"threshold", required_argument, 0, O_TH},  {"format", required_argument, 0, O_FMT},
        {"device", required_argument, 0, O_DEV},    {"per-module", no_argument, 0, O_PERM},
        {"rank-tol", required_argument, 0, O_RTOL}, {"sweep", optional_argument, 0, O_SWEEP},
        {"table", required_argument, 0, O_TABLE},   {"quiet", no_argument, 0, O_QUIET},
        {"version", no_argument, 0, O_VER},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    static const unsigned needs[] = {[O_SNAP - 256] = CLI_OPT_SNAPSHOT,
                                     [O_MOD - 256] = CLI_OPT_MODULE,
                                     [O_TH - 256] = CLI_OPT_THRESHOLD,
                                     [O_DEV - 256] = CLI_OPT_DEVICE,
                                     [O_PERM - 256] = CLI_OPT_PER_MODULE,
                                     [O_RTOL - 256] = CLI_OPT_RANK_TOL,
                                     [O_SWEEP - 256] = CLI_OPT_SWEEP};
    opterr = 0;
    int o, li = 0;
    while ((o = getopt_long(argc, argv, "h", lo, &li)) != -1) {
        /* lo[li], not argv[optind - 1]: for "--device tpu" that is "tpu" */
        if (o >= 256 && o - 256 < (int)(sizeof needs / sizeof needs[0]) && needs[o - 256] &&
            !(t->opts & needs[o - 256]))
            usage_error(t, "option '--%s' does not apply to this tool", lo[li].name);
        cl_error err;
        char *end;
        switch (o) {
        case 'h':
            usage(stdout, t);
            exit(CLI_EXIT_OK);
        case O_VER:
            printf("%s %s\n", t->name, cl_version());
            exit(CLI_EXIT_OK);
        case O_SNAP:
            /* the form is checked here (bad usage, 2); whether the store
             * holds that snapshot, when it is read (bad input, 1) */
            if (strcmp(optarg, "task-ends") && strcmp(optarg, "last") && strcmp(optarg, "all") &&
                (!optarg[0] || strspn(optarg, "0123456789") != strlen(optarg)))
                usage_error(t, "--snapshot \"%s\": expected task-ends, last, all or a snapshot id",
                            optarg);
            c->snapshot = optarg;
            break;
        case O_MOD: c->module = optarg; break;
        case O_TH:
            if (th_given && !(t->opts & CLI_OPT_MULTI_THRESHOLD))
                usage_error(t, "--threshold given twice");
            if (c->n_th == CLI_MAX_TH)
                usage_error(t, "at most %d thresholds", CLI_MAX_TH);
            if (cl_threshold_parse(optarg, &c->th[c->n_th], &err))
                usage_error(t, "%s", err.msg);
            c->n_th++;
            th_given = 1;
            break;
        case O_FMT:
            if (!strcmp(optarg, "text")) c->format = CLI_TEXT;
            else if (!strcmp(optarg, "csv")) c->format = CLI_CSV;
            else if (!strcmp(optarg, "json")) c->format = CLI_JSON;
            else usage_error(t, "--format \"%s\": expected text, csv or json", optarg);
            break;
        case O_DEV:
            if (strcmp(optarg, "cpu") && strcmp(optarg, "cuda") && strcmp(optarg, "auto") &&
                strncmp(optarg, "cpu:", 4))
                usage_error(t, "--device \"%s\": expected cpu, cuda or auto", optarg);
            c->device = optarg;
            break;
        case O_PERM: c->per_module = 1; break;
        case O_RTOL:
            c->rank_tol = strtod(optarg, &end);
            if (end == optarg || *end || !(c->rank_tol >= 0 && c->rank_tol < 1))
                usage_error(t, "--rank-tol \"%s\": expected a number in [0, 1)", optarg);
            break;
        case O_SWEEP:
            c->sweep = 1;
            sweep_list = optarg;
            break;
        case O_TABLE: c->table = optarg; break;
        case O_QUIET: quiet = 1; break;
        default:
            usage_error(t, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (c->n_th == 0) {
        cl_error err;
        cl_threshold_parse(CL_THRESHOLD_DEFAULT, &c->th[0], &err);
        c->n_th = 1;
    }
    if (c->sweep) {
        /* The sweep adds thresholds after the main one. */
        cl_threshold base = c->th[0];
        if (sweep_list) {
            char *copy = xstrdup(sweep_list), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char spec[64];
                cl_error err;
                static const char *names[] = {"abs", "rel", "energy", "top"};
                snprintf(spec, sizeof spec, "%s:%s", names[base.mode], tok);
                if (c->n_th == CLI_MAX_TH)
                    usage_error(t, "--sweep: at most %d values", CLI_MAX_TH - 1);
                if (cl_threshold_parse(spec, &c->th[c->n_th], &err))
                    usage_error(t, "--sweep: %s", err.msg);
                c->n_th++;
            }
            free(copy);
        } else {
            cl_threshold d[8];
            int nd = sweep_defaults(base, d);
            for (int i = 0; i < nd; i++)
                if (d[i].mode != base.mode || d[i].value != base.value) /* listed once */
                    c->th[c->n_th++] = d[i];
        }
    }
    if (c->table && c->format != CLI_CSV)
        usage_error(t, "--table applies to --format csv only");
    c->stores = argv + optind;
    c->n_stores = argc - optind;
    if (c->n_stores < 1)
        usage_error(t, "no STORE given");
    c->progress = !quiet && isatty(2);
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
            json_t *v = x->type == T_STR   ? json_string(x->s)
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

void cli_text_heading(cli *c, const cl_store *s, const cl_view *v)
{
    const cl_snapshot_row *w = cl_store_snapshot(s, v->snapshot);
    fprintf(c->out, "\n== %s  [%s]  snapshot %lld (task %s, %s, step %lld)\n", cl_store_path(s),
            cl_store_meta(s)->method, (long long)v->snapshot, cl_store_task_name(s, w->task),
            w->kind == CL_SNAP_END_OF_TASK ? "end of task" : "periodic", (long long)w->step);
}

void cli_text_matrix(cli *c, const char *title, int n, const char *const *names, const double *v,
                     double mul, const char *fmt)
{
    FILE *f = c->out;
    int w = 8;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(names[i]);
        w = l > w ? l : w;
    }
    if (w > 16)
        w = 16;
    fprintf(f, "%s\n%*s", title, w + 2, "");
    for (int j = 0; j < n; j++)
        fprintf(f, " %*.*s", w, w, names[j]);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %-*.*s", w, w, names[i]);
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

/* ------------------------------------------------------------ stores */

int cli_run(cli *c, int (*fn)(cli *c, cl_store *s, cl_error *err))
{
    for (int i = 0; i < c->n_stores; i++) {
        cl_store *s;
        cl_error err;
        if (cl_store_open(c->stores[i], &s, &err))
            return cli_finish(c, cli_fail(c, &err));
        int rc = fn(c, s, &err);
        cl_store_close(s, NULL);
        if (rc)
            return cli_finish(c, cli_fail(c, &err));
    }
    return cli_finish(c, CLI_EXIT_OK);
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
    return !x || x->type == T_STR ? NAN : x->type == T_INT ? (double)x->i : x->f;
}

const char *cli_table_str(const cli_table *t, int row, int col)
{
    const cell *x = cell_at(t, row, col);
    return x && x->type == T_STR && x->s ? x->s : "";
}

void cli_tables_free(cli *c) { free_tables(c); }

int cli_sweep_defaults(cl_threshold base, cl_threshold *out) { return sweep_defaults(base, out); }

void cli_fprint_csv_field(FILE *f, const char *s) { csv_str(f, s ? s : ""); }

void cli_fprint_real(FILE *f, double v) { print_real(f, v); }
