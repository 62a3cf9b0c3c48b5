/* plot_args.c -- collide-plot's command line: options shared with the metric
 * tools keep their names and meaning; a figure refuses options it does not
 * use, so a typo never passes in silence. */
#include "plot.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: collide-plot FIGURE [options] STORE... -o DIR\n"
          "\n"
          "Draw one figure from adapter stores: DIR/FIGURE.csv holds the data drawn (always\n"
          "written), DIR/FIGURE.png the image (gnuplot, with plots/FIGURE.gp).\n"
          "\n"
          "figures:\n",
          f);
    for (int i = 0; i < plot_n_figures; i++)
        fprintf(f, "  %-23s %s\n", plot_figures[i].name, plot_figures[i].summary);
    fputs("\n"
          "options:\n"
          "  -o, --output DIR      where the files go (created if missing; required)\n"
          "  --svg, --pdf          also draw DIR/FIGURE.svg, DIR/FIGURE.pdf\n"
          "  --data-only           write the CSV only (no gnuplot needed; exit 0)\n"
          "  --threshold M:V       activity threshold: abs:E, rel:P, energy:F or top:Q;\n"
          "                        forgetting-sparsity takes a second one, drawn as a\n"
          "                        second panel (e.g. an absolute and energy:0.99)\n"
          "                        (default " CL_THRESHOLD_DEFAULT "; stated in titles and the CSV)\n"
          "  --module GLOB         only modules whose name matches (collision-map: the\n"
          "                        first match; default the store's first module)\n"
          "  --snapshot S          task-ends (default), last or a snapshot id (history\n"
          "                        always uses every snapshot)\n"
          "  --device D            cpu, cuda or auto (default auto)\n"
          "  --format F            text (default) or json: the files written\n"
          "  --quiet               no progress on stderr\n"
          "  --version             print the version\n"
          "  -h, --help            this help\n"
          "figure options:\n"
          "  --x density|hoyer     forgetting-sparsity: x axis (default density)\n"
          "  --y forgetting|bwt    forgetting-sparsity: y axis (default forgetting F_max)\n"
          "  --labels L            scatter figures: point labels lambda (default), store\n"
          "                        or none\n"
          "  --pair I,J            collision-map: task indices (default 0,1)\n"
          "  --excerpt RxC[@R0,C0] collision-map: excerpt size (default 48x48) and origin\n"
          "                        (default: the block with the most active entries)\n"
          "  --task T|accumulated  nuclear-norm: whose update (default accumulated)\n"
          "  --sweep LIST          threshold-sweep: values of the --threshold mode\n"
          "                        (default: the mode's list, as collide-collision --sweep)\n"
          "\n"
          "Environment: COLLIDE_GNUPLOT=PATH runs that gnuplot (a missing path means no\n"
          "gnuplot); COLLIDE_PLOTS=DIR takes the scripts from DIR. See docs/FIGURES.md.\n"
          "\n"
          "Exit status: 0 success; 1 bad input or failure (message naming the file, object\n"
          "and reason); 2 bad usage; 3 the data files are written but no image could be\n"
          "drawn (gnuplot missing or failing).\n",
          f);
}

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("collide-plot: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'collide-plot --help'.\n", stderr);
    exit(CLI_EXIT_USAGE);
}

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
        bad("--pair \"%s\": expected I,J (task indices, e.g. 0,1)", arg);
    memcpy(a, arg, (size_t)(comma - arg));
    a[comma - arg] = 0;
    if (!whole(a, 0, 1 << 20, &i) || !whole(comma + 1, 0, 1 << 20, &j) || i == j)
        bad("--pair \"%s\": expected two different task indices I,J", arg);
    o->pair_i = (int)i;
    o->pair_j = (int)j;
}

static void parse_excerpt(plot_opts *o, const char *arg)
{
    long long r, c, r0 = 0, c0 = 0;
    char x, at, comma, extra;
    int n = sscanf(arg, "%lld%c%lld%c%lld%c%lld%c", &r, &x, &c, &at, &r0, &comma, &c0, &extra);
    if (!(n == 3 || (n == 7 && at == '@' && comma == ',')) || (x != 'x' && x != 'X') || r < 2 ||
        c < 2 || r > 512 || c > 512 || r0 < 0 || c0 < 0)
        bad("--excerpt \"%s\": expected ROWSxCOLS (2 to 512 each), optionally @ROW,COL", arg);
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
    o.stores = stores;
    o.n_stores = n_stores;
    if (th)
        o.th = *th;
    if (th2) {
        o.th2 = *th2;
        o.has_th2 = 1;
    }
    int rc = plot_outdir_create(outdir, err);
    if (rc)
        return rc;
    plot_run r;
    plot_run_init(&r, &o);
    rc = o.fig->run(&r, err);
    if (no_image)
        *no_image = r.no_image;
    plot_run_free(&r);
    return rc;
}

void plot_args_parse(plot_opts *o, int argc, char **argv)
{
    plot_opts_defaults(o);
    cl_error err;
    unsigned given = 0;
    int quiet = 0;
    const char *sweep = NULL;
    enum { O_SVG = 256, O_PDF, O_DATA, O_TH, O_MOD, O_SNAP, O_DEV, O_FMT, O_QUIET, O_VER, O_X,
           O_Y, O_LABELS, O_PAIR, O_EXC, O_TASK, O_SWEEP };
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'},   {"svg", no_argument, 0, O_SVG},
        {"pdf", no_argument, 0, O_PDF},          {"data-only", no_argument, 0, O_DATA},
        {"threshold", required_argument, 0, O_TH}, {"module", required_argument, 0, O_MOD},
        {"snapshot", required_argument, 0, O_SNAP}, {"device", required_argument, 0, O_DEV},
        {"format", required_argument, 0, O_FMT}, {"quiet", no_argument, 0, O_QUIET},
        {"version", no_argument, 0, O_VER},      {"x", required_argument, 0, O_X},
        {"y", required_argument, 0, O_Y},        {"labels", required_argument, 0, O_LABELS},
        {"pair", required_argument, 0, O_PAIR},  {"excerpt", required_argument, 0, O_EXC},
        {"task", required_argument, 0, O_TASK},  {"sweep", required_argument, 0, O_SWEEP},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); exit(CLI_EXIT_OK);
        case O_VER: printf("collide-plot %s\n", cl_version()); exit(CLI_EXIT_OK);
        case 'o': o->outdir = optarg; break;
        case O_SVG: o->svg = 1; break;
        case O_PDF: o->pdf = 1; break;
        case O_DATA: o->data_only = 1; break;
        case O_TH:
            /* a second --threshold: forgetting-sparsity's second panel */
            if (given & PLOT_OPT_THRESHOLD) {
                if (o->has_th2)
                    bad("--threshold given more than twice");
                if (cl_threshold_parse(optarg, &o->th2, &err))
                    bad("%s", err.msg);
                o->has_th2 = 1;
            } else if (cl_threshold_parse(optarg, &o->th, &err)) {
                bad("%s", err.msg);
            }
            given |= PLOT_OPT_THRESHOLD;
            break;
        case O_MOD: o->module = optarg; given |= PLOT_OPT_MODULE; break;
        case O_SNAP:
            if (!strcmp(optarg, "all"))
                bad("--snapshot all: one view per figure; the history figure draws every "
                    "snapshot");
            o->snapshot = optarg;
            given |= PLOT_OPT_SNAPSHOT;
            break;
        case O_DEV:
            if (strcmp(optarg, "cpu") && strcmp(optarg, "cuda") && strcmp(optarg, "auto"))
                bad("--device \"%s\": expected cpu, cuda or auto", optarg);
            o->device = optarg;
            break;
        case O_FMT:
            if (!strcmp(optarg, "json")) o->json = 1;
            else if (strcmp(optarg, "text")) bad("--format \"%s\": expected text or json", optarg);
            break;
        case O_QUIET: quiet = 1; break;
        case O_X:
            if (!strcmp(optarg, "density")) o->x = PLOT_X_DENSITY;
            else if (!strcmp(optarg, "hoyer")) o->x = PLOT_X_HOYER;
            else bad("--x \"%s\": expected density or hoyer", optarg);
            given |= PLOT_OPT_XY;
            break;
        case O_Y:
            if (!strcmp(optarg, "forgetting")) o->y = PLOT_Y_FORGETTING;
            else if (!strcmp(optarg, "bwt")) o->y = PLOT_Y_BWT;
            else bad("--y \"%s\": expected forgetting or bwt", optarg);
            given |= PLOT_OPT_XY;
            break;
        case O_LABELS:
            if (!strcmp(optarg, "lambda")) o->labels = PLOT_LABEL_LAMBDA;
            else if (!strcmp(optarg, "store")) o->labels = PLOT_LABEL_STORE;
            else if (!strcmp(optarg, "none")) o->labels = PLOT_LABEL_NONE;
            else bad("--labels \"%s\": expected lambda, store or none", optarg);
            given |= PLOT_OPT_LABELS;
            break;
        case O_PAIR: parse_pair(o, optarg); given |= PLOT_OPT_PAIR; break;
        case O_EXC: parse_excerpt(o, optarg); given |= PLOT_OPT_PAIR; break;
        case O_TASK: {
            long long t;
            if (!strcmp(optarg, "accumulated")) o->task = -1;
            else if (whole(optarg, 0, 1 << 20, &t)) o->task = (int)t;
            else bad("--task \"%s\": expected a task index or accumulated", optarg);
            given |= PLOT_OPT_TASK;
            break;
        }
        case O_SWEEP: sweep = optarg; given |= PLOT_OPT_SWEEP; break;
        default: bad("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        bad("no FIGURE given");
    o->fig = plot_figure_find(argv[optind]);
    if (!o->fig)
        bad("\"%s\" is not a figure; see the list in --help", argv[optind]);
    static const struct {
        unsigned bit;
        const char *opt;
    } names[] = {{PLOT_OPT_THRESHOLD, "--threshold"}, {PLOT_OPT_MODULE, "--module"},
                 {PLOT_OPT_SNAPSHOT, "--snapshot"},   {PLOT_OPT_XY, "--x/--y"},
                 {PLOT_OPT_PAIR, "--pair/--excerpt"}, {PLOT_OPT_TASK, "--task"},
                 {PLOT_OPT_SWEEP, "--sweep"},         {PLOT_OPT_LABELS, "--labels"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((given & names[i].bit) && !(o->fig->opts & names[i].bit))
            bad("%s does not apply to the %s figure", names[i].opt, o->fig->name);
    if (o->has_th2 && strcmp(o->fig->name, "forgetting-sparsity"))
        bad("a second --threshold applies only to the forgetting-sparsity figure");
    if (sweep) {
        static const char *mode[] = {"abs", "rel", "energy", "top"};
        char *copy = strdup(sweep), *save = NULL;
        if (!copy)
            bad("out of memory");
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char spec[96];
            snprintf(spec, sizeof spec, "%s:%s", mode[o->th.mode], tok);
            if (o->n_sweep == CLI_MAX_TH - 1)
                bad("--sweep: at most %d values", CLI_MAX_TH - 1);
            if (cl_threshold_parse(spec, &o->sweep[o->n_sweep], &err))
                bad("--sweep: %s", err.msg);
            o->n_sweep++;
        }
        free(copy);
        if (!o->n_sweep)
            bad("--sweep \"%s\": no values", sweep);
    }
    if (!o->outdir)
        bad("-o DIR is required");
    o->stores = argv + optind + 1;
    o->n_stores = argc - optind - 1;
    if (o->n_stores < 1)
        bad("no STORE given");
    o->progress = !quiet && isatty(2);
}
