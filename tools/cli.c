/* cli.c -- see cli.h. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
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

/* ------------------------------------------------------------ options */

/* Keys of the common options, above any tool's. */
enum { CK_FORMAT = 1000, CK_QUIET, CK_FORCE, CK_TABLE, CK_VERSION, CK_HELP = 'h' };

static const cli_opt common_opts[] = {
    {"format", CK_FORMAT, "F", 0, NULL}, /* help made from the spec */
    {"table", CK_TABLE, "NAME", 0, NULL},
    {"force", CK_FORCE, NULL, 0, "replace existing outputs (never an input)"},
    {"quiet", CK_QUIET, NULL, 0, "no progress on stderr"},
    {"version", CK_VERSION, NULL, 0, "print the version"},
    {"help", CK_HELP, NULL, 0, "this help"},
};
enum { N_COMMON = sizeof common_opts / sizeof common_opts[0] };

static int common_wanted(const cli_spec *sp, int key)
{
    return key == CK_FORCE ? (sp->common & CLI_C_FORCE) != 0
           : key == CK_TABLE ? (sp->common & CLI_C_TABLE) != 0
                             : 1;
}

static void opt_left(const cli_opt *o, char *buf, size_t n)
{
    int k = o->key < 128 && o->key != CK_HELP ? o->key : o->key == CK_HELP ? 'h' : 0;
    int w = k ? snprintf(buf, n, "  -%c, --%s", k, o->name) : snprintf(buf, n, "  --%s", o->name);
    if (o->arg && w >= 0 && (size_t)w < n)
        snprintf(buf + w, n - (size_t)w, (o->flags & CLI_OPTIONAL) ? "[=%s]" : " %s", o->arg);
}

static void opt_help(FILE *f, const cli_opt *o, const char *text, int col)
{
    char left[96];
    opt_left(o, left, sizeof left);
    int w = (int)strlen(left);
    if (w + 2 > col)
        fprintf(f, "%s\n%*s", left, col, "");
    else
        fprintf(f, "%-*s", col, left);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "%.*s\n", len, p);
        if (!nl || !nl[1])
            break;
        p = nl + 1;
        fprintf(f, "%*s", col, "");
    }
}

static void spec_usage(FILE *f, const cli_spec *sp)
{
    fprintf(f, "usage: %s %s\n\n%s\n\noptions:\n", sp->name, sp->synopsis, sp->summary);
    int col = 20;
    char left[96];
    for (const cli_opt *o = sp->opts; o && o->name; o++) {
        opt_left(o, left, sizeof left);
        int w = (int)strlen(left) + 2;
        if (!(o->flags & CLI_HIDDEN) && w > col && w <= 26)
            col = w;
    }
    for (const cli_opt *o = sp->opts; o && o->name; o++)
        if (!(o->flags & CLI_HIDDEN))
            opt_help(f, o, o->help ? o->help : "", col);
    char fmt[512];
    snprintf(fmt, sizeof fmt, "text (default), csv or json%s%s", sp->formats ? ": " : "",
             sp->formats ? sp->formats : "");
    char table[160];
    snprintf(table, sizeof table, "with --format csv: which table to print (default %s)",
             sp->primary ? sp->primary : "the first");
    for (int i = 0; i < N_COMMON; i++) {
        const cli_opt *o = &common_opts[i];
        if (common_wanted(sp, o->key))
            opt_help(f, o, o->key == CK_FORMAT ? fmt : o->key == CK_TABLE ? table : o->help, col);
    }
    if (sp->details)
        fprintf(f, "\n%s\n", sp->details);
    fprintf(f, "\nExit status: 0 success, 1 bad input or failure (message on stderr naming the\n"
               "file, object and reason), 2 bad usage%s%s.\n",
            sp->exit_note ? "; " : "", sp->exit_note ? sp->exit_note : "");
}

void cli_usage_error(const char *prog, const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\nTry '%s --help'.\n", prog, msg, arg ? ": " : "",
            arg ? arg : "", prog);
    exit(CLI_EXIT_USAGE);
}

void cli_usage_errorf(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    exit(CLI_EXIT_USAGE);
}

#define spec_error(sp, ...) cli_usage_errorf((sp)->name, __VA_ARGS__)

/* A word that is an option's value rather than a store: it starts like a
 * number ("0.5,0.9", and "0.5,x" too, to be refused as a bad value) and no
 * file has that name (a store could be called "5"). */
static int value_word(const char *w)
{
    if (access(w, F_OK) == 0)
        return 0;
    return isdigit((unsigned char)w[0]) || (w[0] == '.' && isdigit((unsigned char)w[1]));
}

void cli_parse(const cli_spec *sp, int argc, char **argv, cli_opt_fn on, void *ctx,
               cli_args *out)
{
    memset(out, 0, sizeof *out);
    int n_tool = 0;
    while (sp->opts && sp->opts[n_tool].name)
        n_tool++;
    int n_all = n_tool + N_COMMON;
    /* on the stack: a usage error exits from inside the loop */
    enum { MAX_OPTS = 64 };
    const cli_opt *all[MAX_OPTS];
    struct option lo[MAX_OPTS + 1];
    int seen[MAX_OPTS];
    if (n_all > MAX_OPTS) {
        fprintf(stderr, "internal error: %s has more than %d options\n", sp->name, MAX_OPTS);
        abort();
    }
    memset(lo, 0, sizeof lo);
    memset(seen, 0, sizeof seen);
    char shorts[64] = ":h";
    int nl = 0;
    for (int i = 0; i < n_all; i++) {
        const cli_opt *o = i < n_tool ? &sp->opts[i] : &common_opts[i - n_tool];
        if (i >= n_tool && !common_wanted(sp, o->key))
            continue;
        all[nl] = o;
        lo[nl].name = o->name;
        lo[nl].has_arg = !o->arg ? no_argument
                         : (o->flags & CLI_OPTIONAL) ? optional_argument
                                                     : required_argument;
        lo[nl].val = o->key;
        if (o->key < 128 && o->key != 'h' && strlen(shorts) + 3 < sizeof shorts) {
            size_t k = strlen(shorts);
            shorts[k] = (char)o->key;
            shorts[k + 1] = o->arg ? ':' : 0;
            shorts[k + 2] = 0;
        }
        nl++;
    }
    opterr = 0;
    optind = 1;
    int key, li;
    while ((li = -1, key = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
        if (key == '?')
            spec_error(sp, "unknown option '%s'", argv[optind - 1]);
        if (key == ':')
            spec_error(sp, "option '%s' needs a value", argv[optind - 1]);
        int idx = li;
        for (int i = 0; idx < 0 && i < nl; i++)
            if (all[i]->key == key)
                idx = i;
        const cli_opt *o = all[idx];
        if (o->flags & CLI_NOT_HERE)
            spec_error(sp, "option '--%s' does not apply to this tool", o->name);
        if (seen[idx]++ && !(o->flags & CLI_REPEAT))
            spec_error(sp, "--%s given twice (it takes one value%s)", o->name,
                       !strcmp(o->name, "module")
                           ? "; one glob can match several modules, e.g. 'layers.*.attn.[qv]'"
                           : "");
        const char *arg = optarg;
        if (o->arg && (o->flags & CLI_OPTIONAL) && !arg && optind < argc &&
            value_word(argv[optind]))
            arg = argv[optind++];
        switch (key) {
        case CK_HELP:
            spec_usage(stdout, sp);
            exit(CLI_EXIT_OK);
        case CK_VERSION:
            printf("%s %s\n", sp->name, cl_version());
            exit(CLI_EXIT_OK);
        case CK_FORMAT:
            if (!strcmp(arg, "text")) out->format = CLI_TEXT;
            else if (!strcmp(arg, "csv")) out->format = CLI_CSV;
            else if (!strcmp(arg, "json")) out->format = CLI_JSON;
            else spec_error(sp, "--format \"%s\": expected text, csv or json", arg);
            break;
        case CK_QUIET: out->quiet = 1; break;
        case CK_FORCE: out->force = 1; break;
        case CK_TABLE: out->table = arg; break;
        default: on(ctx, key, arg);
        }
    }
    if (out->table && out->format != CLI_CSV)
        spec_error(sp, "--table applies to --format csv only");
    out->args = argv + optind;
    out->n_args = argc - optind;
    if (out->n_args < sp->min_args)
        spec_error(sp, "no %s given", sp->args_name ? sp->args_name : "argument");
    if (sp->max_args >= 0 && out->n_args > sp->max_args)
        spec_error(sp, "unexpected argument '%s'", out->args[sp->max_args]);
    out->progress = !out->quiet && isatty(2);
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

int cli_sweep_parse(const char *prog, cl_threshold base, const char *list, cl_threshold *out,
                    int max)
{
    if (!list)
        return sweep_defaults(base, out);
    static const char *names[] = {"abs", "rel", "energy", "top"};
    char *copy = xstrdup(list), *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char spec[64];
        cl_error err;
        snprintf(spec, sizeof spec, "%s:%s", names[base.mode], tok);
        int bad = n == max || cl_threshold_parse(spec, &out[n], &err);
        if (bad) {
            char m[sizeof err.msg + 64];
            if (n == max)
                snprintf(m, sizeof m, "--sweep: at most %d values", max);
            else
                snprintf(m, sizeof m, "--sweep: %s", err.msg);
            free(copy); /* before exit: the sanitizer counts leaks */
            cli_usage_error(prog, m, list);
        }
        n++;
    }
    free(copy);
    if (n == 0)
        cli_usage_error(prog, "--sweep: no value in the list", list);
    return n;
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

/* The metric tools' options; which ones a tool has is its CLI_OPT_ mask. */
enum { O_SNAP = 256, O_MOD, O_TH, O_DEV, O_PERM, O_RTOL, O_SWEEP, O_ALL };

static const struct {
    unsigned flag;
    cli_opt opt;
} metric_opts[] = {
    {CLI_OPT_SNAPSHOT, {"snapshot", O_SNAP, "S", 0,
                        "task-ends (default), last, all or a snapshot id:\n"
                        "which adapters stand for each task"}},
    {CLI_OPT_MODULE, {"module", O_MOD, "GLOB", 0,
                      "only modules whose name matches (e.g. 'layers.*.attn.q')"}},
    {CLI_OPT_THRESHOLD, {"threshold", O_TH, "M:V", 0,
                         "activity threshold: abs:E, rel:P, energy:F or top:Q\n"
                         "(default " CL_THRESHOLD_DEFAULT ")"}},
    {CLI_OPT_SWEEP, {"sweep", O_SWEEP, "LIST", CLI_OPTIONAL,
                     "also sweep the threshold value: comma-separated values of\n"
                     "the --threshold mode (--sweep 0.5,0.9 or --sweep=0.5,0.9);\n"
                     "alone, the mode's default list"}},
    {CLI_OPT_RANK_TOL, {"rank-tol", O_RTOL, "X", 0,
                        "a singular value counts when > X * sigma_1 (default 0.01)"}},
    {CLI_OPT_PER_MODULE, {"per-module", O_PERM, NULL, 0,
                          "also print every module, not only the aggregates"}},
    {CLI_OPT_ALL, {"all", O_ALL, NULL, 0,
                   "list every module and snapshot (text cuts long lists)"}},
    {CLI_OPT_DEVICE, {"device", O_DEV, "D", 0,
                      "cpu, cuda or auto (default auto: CUDA only with a GPU)"}},
};
enum { N_METRIC = sizeof metric_opts / sizeof metric_opts[0] };

typedef struct init_ctx {
    cli *c;
    const char *sweep_list;
} init_ctx;

static void on_metric_opt(void *vctx, int key, const char *arg)
{
    init_ctx *x = vctx;
    cli *c = x->c;
    cl_error err;
    switch (key) {
    case O_SNAP:
        /* the form is checked here (bad usage, 2); whether the store holds
         * that snapshot, when it is opened (bad input, 1) */
        if (strcmp(arg, "task-ends") && strcmp(arg, "last") && strcmp(arg, "all") &&
            (!arg[0] || strspn(arg, "0123456789") != strlen(arg)))
            cli_usage_error(c->prog, "--snapshot: expected task-ends, last, all or a snapshot id",
                            arg);
        c->snapshot = arg;
        break;
    case O_MOD: c->module = arg; break;
    case O_TH:
        if (c->n_th == CLI_MAX_TH)
            cli_usage_error(c->prog, "--threshold: too many", arg);
        if (cl_threshold_parse(arg, &c->th[c->n_th], &err))
            cli_usage_error(c->prog, "--threshold", err.msg);
        c->n_th++;
        break;
    case O_DEV:
        if (strcmp(arg, "cpu") && strcmp(arg, "cuda") && strcmp(arg, "auto") &&
            strncmp(arg, "cpu:", 4))
            cli_usage_error(c->prog, "--device: expected cpu, cuda or auto", arg);
        c->device = arg;
        break;
    case O_PERM: c->per_module = 1; break;
    case O_ALL: c->all = 1; break;
    case O_RTOL: {
        char *end;
        c->rank_tol = strtod(arg, &end);
        if (end == arg || *end || !(c->rank_tol >= 0 && c->rank_tol < 1))
            cli_usage_error(c->prog, "--rank-tol must be a number in [0, 1)", arg);
        break;
    }
    case O_SWEEP:
        c->sweep = 1;
        x->sweep_list = arg;
        break;
    }
}

void cli_init(cli *c, const cli_tool *t, int argc, char **argv)
{
    cli_init_defaults(c, t->name, stdout);
    c->n_th = 0;
    c->opts = t->opts;
    c->primary = t->primary;
    cli_opt opts[N_METRIC + 1];
    int n = 0;
    for (int i = 0; i < N_METRIC; i++) {
        opts[n] = metric_opts[i].opt;
        if (!(t->opts & metric_opts[i].flag))
            opts[n].flags |= CLI_HIDDEN | CLI_NOT_HERE; /* named in the refusal */
        if (metric_opts[i].flag == CLI_OPT_THRESHOLD && (t->opts & CLI_OPT_MULTI_THRESHOLD))
            opts[n].flags |= CLI_REPEAT;
        n++;
    }
    opts[n] = (cli_opt){0};
    const cli_spec sp = {.name = t->name,
                         .synopsis = "[options] STORE...",
                         .summary = t->summary,
                         .details = t->details,
                         .opts = opts,
                         .common = CLI_C_TABLE,
                         .primary = t->primary,
                         .min_args = 1,
                         .max_args = -1,
                         .args_name = "STORE"};
    init_ctx x = {c, NULL};
    cli_args a;
    cli_parse(&sp, argc, argv, on_metric_opt, &x, &a);
    if (c->n_th == 0) {
        cl_error err;
        cl_threshold_parse(CL_THRESHOLD_DEFAULT, &c->th[0], &err);
        c->n_th = 1;
    }
    if (c->sweep) {
        /* The sweep adds thresholds after the main one, each listed once. */
        cl_threshold d[CLI_MAX_TH];
        int nd = cli_sweep_parse(c->prog, c->th[0], x.sweep_list, d, CLI_MAX_TH - 1);
        for (int i = 0; i < nd && c->n_th < CLI_MAX_TH; i++)
            if (d[i].mode != c->th[0].mode || d[i].value != c->th[0].value)
                c->th[c->n_th++] = d[i];
    }
    c->format = a.format;
    c->table = a.table;
    c->stores = a.args;
    c->n_stores = a.n_args;
    c->progress = a.progress;
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

void cli_text_heading(cli *c, const cl_store *s, const cl_view *v)
{
    const cl_snapshot_row *w = cl_store_snapshot(s, v->snapshot);
    fprintf(c->out, "\n== %s  [%s]  snapshot %lld (task %s, %s", cl_store_path(s),
            cl_store_meta(s)->method, (long long)v->snapshot, cl_store_task_name(s, w->task),
            w->kind == CL_SNAP_END_OF_TASK ? "end of task" : "periodic");
    if (strcmp(cl_store_meta(s)->method, "imported")) /* adapters carry no step */
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
