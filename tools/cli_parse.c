/*
 * cli_parse.c -- the one option parser of every tool (cli.h): a tool's option
 * table plus the common options, --help made from them, one set of rules
 * (a repeated option refused, optional values, usage errors exit 2); and the
 * metric tools' shared options on top of it (cli_init).
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    int latex = (sp->common & CLI_C_LATEX) != 0;
    snprintf(fmt, sizeof fmt, "text (default), csv%s json%s%s%s", latex ? "," : " or",
             latex ? " or latex" : "", sp->formats ? ": " : "", sp->formats ? sp->formats : "");
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
            else if (!strcmp(arg, "latex") && (sp->common & CLI_C_LATEX)) out->format = CLI_LATEX;
            else spec_error(sp, "--format \"%s\": expected text, csv%s", arg,
                            (sp->common & CLI_C_LATEX) ? ", json or latex" : " or json");
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
    char *copy = strdup(list), *save = NULL;
    if (!copy) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(CLI_EXIT_FAIL);
    }
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
    void (*on_extra)(void *ctx, int key, const char *arg);
    void *extra_ctx;
} init_ctx;

static void on_metric_opt(void *vctx, int key, const char *arg)
{
    init_ctx *x = vctx;
    cli *c = x->c;
    cl_error err;
    if (key >= CLI_KEY_TOOL) {
        x->on_extra(x->extra_ctx, key, arg);
        return;
    }
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
    cli_init_with(c, t, NULL, NULL, NULL, argc, argv);
}

void cli_init_with(cli *c, const cli_tool *t, const cli_opt *extra,
                   void (*on)(void *ctx, int key, const char *arg), void *ctx, int argc,
                   char **argv)
{
    cli_init_defaults(c, t->name, stdout);
    c->n_th = 0;
    c->opts = t->opts;
    c->primary = t->primary;
    enum { MAX_EXTRA = 16 };
    cli_opt opts[N_METRIC + MAX_EXTRA + 1];
    int n = 0;
    for (int i = 0; extra && extra[i].name; i++) {
        if (i == MAX_EXTRA || extra[i].key < CLI_KEY_TOOL || !on) {
            fprintf(stderr, "%s: internal error: bad tool option table\n", t->name);
            exit(CLI_EXIT_FAIL);
        }
        opts[n++] = extra[i];
    }
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
                         .common = CLI_C_TABLE | ((t->opts & CLI_OPT_LATEX) ? CLI_C_LATEX : 0),
                         .primary = t->primary,
                         .min_args = 1,
                         .max_args = -1,
                         .args_name = "STORE"};
    init_ctx x = {c, NULL, on, ctx};
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

