/* plot_args.c -- collide-plot's command line: options shared with the metric
 * tools keep their names and meaning; a figure refuses options it does not
 * use, so a typo never passes in silence. */
#include "plot.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-plot";

static int whole(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static void parse_pair(plot_opts *o, const char *arg)
{
    const char *comma = strchr(arg, ',');
    char a[32];
    long long i, j;
    if (!comma || (size_t)(comma - arg) >= sizeof a)
        cli_usage_errorf(PROG, "--pair \"%s\": expected I,J (task indices, e.g. 0,1)", arg);
    memcpy(a, arg, (size_t)(comma - arg));
    a[comma - arg] = 0;
    if (!whole(a, 0, 1 << 20, &i) || !whole(comma + 1, 0, 1 << 20, &j) || i == j)
        cli_usage_errorf(PROG, "--pair \"%s\": expected two different task indices I,J", arg);
    o->pair_i = (int)i;
    o->pair_j = (int)j;
}

/* --name: a file name without its extension, inside DIR: no folder, not
 * hidden (the temporary files are), not empty. */
static void check_name(const char *name)
{
    static const char *ext[] = {".png", ".csv", ".svg", ".pdf", ".h5"};
    size_t l = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (l > strlen(ext[i]) && !strcmp(name + l - strlen(ext[i]), ext[i]))
            cli_usage_errorf(PROG, "--name \"%s\": without the extension (each file gets its own: --name %.*s)",
                name, (int)(l - strlen(ext[i])), name);
    if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) > 200)
        cli_usage_errorf(PROG, "--name \"%s\": expected a file name without a folder or extension, not starting "
            "with '.' (e.g. --name fig1)", name);
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20)
            cli_usage_errorf(PROG, "--name: a control character in the name");
}

static void parse_excerpt(plot_opts *o, const char *arg)
{
    long long r, c, r0 = 0, c0 = 0;
    char x, at, comma, extra;
    int n = sscanf(arg, "%lld%c%lld%c%lld%c%lld%c", &r, &x, &c, &at, &r0, &comma, &c0, &extra);
    if (!(n == 3 || (n == 7 && at == '@' && comma == ',')) || (x != 'x' && x != 'X') || r < 2 ||
        c < 2 || r > 512 || c > 512 || r0 < 0 || c0 < 0)
        cli_usage_errorf(PROG, "--excerpt \"%s\": expected ROWSxCOLS (2 to 512 each), optionally @ROW,COL", arg);
    o->ex_rows = (int)r;
    o->ex_cols = (int)c;
    o->ex_at = n == 7;
    o->ex_row0 = r0;
    o->ex_col0 = c0;
}

void plot_opts_defaults(plot_opts *o)
{
    memset(o, 0, sizeof *o);
    o->snapshot = "task-ends";
    o->device = "auto";
    o->pair_i = 0;
    o->pair_j = 1;
    o->ex_rows = o->ex_cols = 48;
    o->task = -1;
    cl_error err;
    cl_threshold_parse(CL_THRESHOLD_DEFAULT, &o->th, &err);
}

int plot_draw(const char *figure, char **stores, int n_stores, const char *outdir,
              const cl_threshold *th, const char **no_image, cl_error *err)
{
    return plot_draw2(figure, stores, n_stores, outdir, th, NULL, no_image, err);
}

int plot_draw2(const char *figure, char **stores, int n_stores, const char *outdir,
               const cl_threshold *th, const cl_threshold *th2, const char **no_image,
               cl_error *err)
{
    plot_opts o;
    plot_opts_defaults(&o);
    o.fig = plot_figure_find(figure);
    if (!o.fig)
        return cl_error_set(err, CL_ERR_ARG, "no figure \"%s\"", figure);
    o.outdir = outdir;
    o.name = o.fig->name;
    o.force = 1; /* the caller owns its output folder; inputs stay protected */
    o.stores = stores;
    o.n_stores = n_stores;
    if (th)
        o.th = *th;
    if (th2) {
        o.th2 = *th2;
        o.has_th2 = 1;
    }
    if (plot_outputs_check(&o))
        return cl_error_set(err, CL_ERR_IO, "%s: the %s figure's files may not be written there "
                                            "(an input store is in the way)", outdir, figure);
    int rc = plot_outdir_create(outdir, err);
    if (rc)
        return rc;
    plot_run r;
    plot_run_init(&r, &o);
    rc = o.fig->run(&r, err);
    if (no_image)
        *no_image = r.no_image;
    if (rc && r.no_data) { /* a figure with nothing to draw: said, then go on */
        fprintf(stderr, "collide-plot: %s\n", err->msg);
        if (no_image)
            *no_image = "no data to draw";
        rc = CL_OK;
    }
    plot_run_free(&r);
    return rc;
}

enum { O_SVG = 256, O_PDF, O_DATA, O_TH, O_MOD, O_SNAP, O_DEV, O_X, O_Y, O_LABELS, O_PAIR,
       O_EXC, O_TASK, O_SWEEP, O_NAME, O_AXES, O_ORDER };

static const cli_opt plot_options[] = {
    {"output", 'o', "DIR", 0, "where the files go (created if missing; required)"},
    {"name", O_NAME, "NAME", 0, "the files' name: DIR/NAME.csv, DIR/NAME.png, ... (default\n"
                                "the figure's name)"},
    {"svg", O_SVG, NULL, 0, "also draw DIR/NAME.svg"},
    {"pdf", O_PDF, NULL, 0, "also draw DIR/NAME.pdf"},
    {"data-only", O_DATA, NULL, 0, "write the CSV only (no gnuplot needed; exit 0)"},
    {"threshold", O_TH, "M:V", CLI_REPEAT,
     "activity threshold: abs:E, rel:P, energy:F or top:Q;\n"
     "forgetting-sparsity takes a second one, drawn as a\n"
     "second panel (e.g. an absolute and energy:0.99)\n"
     "(default " CL_THRESHOLD_DEFAULT "; stated in titles and the CSV)"},
    {"module", O_MOD, "GLOB", 0, "only modules whose name matches (collision-map: the\n"
                                 "first match; default the store's first module)"},
    {"snapshot", O_SNAP, "S", 0, "task-ends (default), last or a snapshot id (history\n"
                                 "always uses every snapshot)"},
    {"device", O_DEV, "D", 0, "cpu, cuda or auto (default auto)"},
    {"x", O_X, "density|hoyer", 0, "forgetting-sparsity: x axis (default density)"},
    {"y", O_Y, "forgetting|bwt", 0, "forgetting-sparsity: y axis (default forgetting F_max)"},
    {"labels", O_LABELS, "L", 0, "scatter figures: point labels lambda (default), store\n"
                                 "or none"},
    {"pair", O_PAIR, "I,J", 0, "collision-map: task indices (default 0,1)"},
    {"excerpt", O_EXC, "RxC[@R0,C0]", 0, "collision-map: excerpt size (default 48x48) and\n"
                                         "origin (default: the block with the most active\n"
                                         "entries)"},
    {"order", O_ORDER, "O", 0, "collision-map: the heat map's task order: training,\n"
                              "cluster (average linkage on 1 - Jaccard) or auto\n"
                              "(default: cluster an imported store, training\n"
                              "order otherwise)"},
    {"task", O_TASK, "T|accumulated", 0, "nuclear-norm: whose update (default accumulated)"},
    {"independent-axes", O_AXES, NULL, 0, "nuclear-norm, spectra: a y range per panel;\n"
                                          "collision-map: a colour scale per store (default:\n"
                                          "one range shared by every panel, so stores compare)"},
    {"sweep", O_SWEEP, "LIST", CLI_OPTIONAL,
     "threshold-sweep: values of the --threshold mode\n"
     "(alone or left out: the mode's list, as\n"
     "collide-collision --sweep)"},
    {0}};

typedef struct parse_ctx {
    plot_opts *o;
    unsigned given;
    const char *sweep;
} parse_ctx;

static void on_plot_opt(void *vctx, int key, const char *arg)
{
    parse_ctx *x = vctx;
    plot_opts *o = x->o;
    cl_error err;
    switch (key) {
    case 'o': o->outdir = arg; break;
    case O_NAME: check_name(arg); o->name = arg; break;
    case O_AXES: o->independent_axes = 1; x->given |= PLOT_OPT_AXES; break;
    case O_SVG: o->svg = 1; break;
    case O_PDF: o->pdf = 1; break;
    case O_DATA: o->data_only = 1; break;
    case O_TH:
        /* a second --threshold: forgetting-sparsity's second panel */
        if (x->given & PLOT_OPT_THRESHOLD) {
            if (o->has_th2)
                cli_usage_errorf(PROG, "--threshold given more than twice");
            if (cl_threshold_parse(arg, &o->th2, &err))
                cli_usage_errorf(PROG, "%s", err.msg);
            o->has_th2 = 1;
        } else if (cl_threshold_parse(arg, &o->th, &err)) {
            cli_usage_errorf(PROG, "%s", err.msg);
        }
        x->given |= PLOT_OPT_THRESHOLD;
        break;
    case O_MOD: o->module = arg; x->given |= PLOT_OPT_MODULE; break;
    case O_SNAP:
        if (!strcmp(arg, "all"))
            cli_usage_errorf(PROG, "--snapshot all: one view per figure; the history figure draws every "
                "snapshot");
        o->snapshot = arg;
        x->given |= PLOT_OPT_SNAPSHOT;
        break;
    case O_DEV:
        if (strcmp(arg, "cpu") && strcmp(arg, "cuda") && strcmp(arg, "auto"))
            cli_usage_errorf(PROG, "--device \"%s\": expected cpu, cuda or auto", arg);
        o->device = arg;
        break;
    case O_X:
        if (!strcmp(arg, "density")) o->x = PLOT_X_DENSITY;
        else if (!strcmp(arg, "hoyer")) o->x = PLOT_X_HOYER;
        else cli_usage_errorf(PROG, "--x \"%s\": expected density or hoyer", arg);
        x->given |= PLOT_OPT_XY;
        break;
    case O_Y:
        if (!strcmp(arg, "forgetting")) o->y = PLOT_Y_FORGETTING;
        else if (!strcmp(arg, "bwt")) o->y = PLOT_Y_BWT;
        else cli_usage_errorf(PROG, "--y \"%s\": expected forgetting or bwt", arg);
        x->given |= PLOT_OPT_XY;
        break;
    case O_LABELS:
        if (!strcmp(arg, "lambda")) o->labels = PLOT_LABEL_LAMBDA;
        else if (!strcmp(arg, "store")) o->labels = PLOT_LABEL_STORE;
        else if (!strcmp(arg, "none")) o->labels = PLOT_LABEL_NONE;
        else cli_usage_errorf(PROG, "--labels \"%s\": expected lambda, store or none", arg);
        x->given |= PLOT_OPT_LABELS;
        break;
    case O_PAIR: parse_pair(o, arg); x->given |= PLOT_OPT_PAIR; break;
    case O_EXC: parse_excerpt(o, arg); x->given |= PLOT_OPT_PAIR; break;
    case O_ORDER:
        if (!strcmp(arg, "auto")) o->order = PLOT_ORDER_AUTO;
        else if (!strcmp(arg, "training")) o->order = PLOT_ORDER_TRAINING;
        else if (!strcmp(arg, "cluster")) o->order = PLOT_ORDER_CLUSTER;
        else cli_usage_errorf(PROG, "--order \"%s\": expected training, cluster or auto", arg);
        x->given |= PLOT_OPT_PAIR;
        break;
    case O_TASK: {
        long long t;
        if (!strcmp(arg, "accumulated")) o->task = -1;
        else if (whole(arg, 0, 1 << 20, &t)) o->task = (int)t;
        else cli_usage_errorf(PROG, "--task \"%s\": expected a task index or accumulated", arg);
        x->given |= PLOT_OPT_TASK;
        break;
    }
    case O_SWEEP: x->sweep = arg; x->given |= PLOT_OPT_SWEEP; break;
    }
}

void plot_args_parse(plot_opts *o, int argc, char **argv)
{
    plot_opts_defaults(o);
    /* the summary lists the figures */
    static char summary[4096];
    int k = snprintf(summary, sizeof summary,
                     "Draw one figure from adapter stores: DIR/NAME.csv holds the data drawn\n"
                     "(always written), DIR/NAME.png the image (gnuplot, with plots/FIGURE.gp);\n"
                     "NAME is the figure's name unless --name gives another.\n\nfigures:");
    for (int i = 0; i < plot_n_figures && k > 0 && (size_t)k < sizeof summary; i++)
        k += snprintf(summary + k, sizeof summary - (size_t)k, "\n  %-23s %s",
                      plot_figures[i].name, plot_figures[i].summary);
    const cli_spec sp = {
        .name = "collide-plot",
        .synopsis = "FIGURE [options] STORE... -o DIR",
        .summary = summary,
        .details = "Environment: COLLIDE_GNUPLOT=PATH runs that gnuplot (a missing path means\n"
                   "no gnuplot); COLLIDE_PLOTS=DIR takes the scripts from DIR. See\n"
                   "docs/FIGURES.md.",
        .opts = plot_options,
        .common = CLI_C_FORCE,
        .formats = "the files written",
        .min_args = 1,
        .max_args = -1,
        .args_name = "FIGURE",
        .exit_note = "3 the data files are written but no image\n"
                     "could be drawn (gnuplot missing or failing)"};
    parse_ctx x = {o, 0, NULL};
    cli_args ca;
    cli_parse(&sp, argc, argv, on_plot_opt, &x, &ca);
    o->report = ca.format == CLI_JSON  ? PLOT_REPORT_JSON
                : ca.format == CLI_CSV ? PLOT_REPORT_CSV
                                       : PLOT_REPORT_TEXT;
    o->force = ca.force;
    o->fig = plot_figure_find(ca.args[0]);
    if (!o->fig)
        cli_usage_errorf(PROG, "\"%s\" is not a figure; see the list in --help", ca.args[0]);
    static const struct {
        unsigned bit;
        const char *opt;
    } names[] = {{PLOT_OPT_THRESHOLD, "--threshold"}, {PLOT_OPT_MODULE, "--module"},
                 {PLOT_OPT_SNAPSHOT, "--snapshot"},   {PLOT_OPT_XY, "--x/--y"},
                 {PLOT_OPT_PAIR, "--pair/--excerpt/--order"}, {PLOT_OPT_TASK, "--task"},
                 {PLOT_OPT_SWEEP, "--sweep"},         {PLOT_OPT_LABELS, "--labels"},
                 {PLOT_OPT_AXES, "--independent-axes"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((x.given & names[i].bit) && !(o->fig->opts & names[i].bit))
            cli_usage_errorf(PROG, "%s does not apply to the %s figure", names[i].opt, o->fig->name);
    if (o->has_th2 && strcmp(o->fig->name, "forgetting-sparsity"))
        cli_usage_errorf(PROG, "a second --threshold applies only to the forgetting-sparsity figure");
    if (x.sweep) /* --sweep alone: the mode's list, as without it */
        o->n_sweep = cli_sweep_parse("collide-plot", o->th, x.sweep, o->sweep, CLI_MAX_TH - 1);
    if (!o->outdir)
        cli_usage_errorf(PROG, "-o DIR is required");
    if (!o->name)
        o->name = o->fig->name;
    o->stores = ca.args + 1;
    o->n_stores = ca.n_args - 1;
    if (o->n_stores < 1)
        cli_usage_errorf(PROG, "no STORE given");
    o->progress = ca.progress;
}
