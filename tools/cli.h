/*
 * cli.h -- what every collide tool shares: the common options, the store
 * loop, progress on stderr, and output as text, CSV or JSON.
 *
 * A tool computes tidy tables (one row per store, view, task or pair); CSV
 * and JSON print those tables unchanged, so scripts see the same numbers in
 * both. Text is a readable rendering the tool prints as it goes.
 */
#ifndef COLLIDE_CLI_H
#define COLLIDE_CLI_H

#include "collide.h"

#include <stdio.h>

typedef enum { CLI_TEXT, CLI_CSV, CLI_JSON } cli_format;

/* Which common options a tool takes. */
enum {
    CLI_OPT_SNAPSHOT = 1 << 0,
    CLI_OPT_MODULE = 1 << 1,
    CLI_OPT_THRESHOLD = 1 << 2,
    CLI_OPT_DEVICE = 1 << 3,
    CLI_OPT_PER_MODULE = 1 << 4,
    CLI_OPT_RANK_TOL = 1 << 5,
    CLI_OPT_SWEEP = 1 << 6,
    CLI_OPT_MULTI_THRESHOLD = 1 << 7, /* --threshold may repeat */
};

/* Exit status: scripts can tell bad usage from bad input. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

typedef struct cli_table cli_table;

#define CLI_MAX_TH 32
#define CLI_MAX_TABLES 24

typedef struct cli {
    const char *prog;
    unsigned opts;
    const char *snapshot;   /* task-ends | last | all | ID */
    const char *module;     /* glob or NULL */
    const char *device;
    const char *table;      /* CSV: which table */
    cli_format format;
    cl_threshold th[CLI_MAX_TH];
    int n_th;
    double rank_tol;
    int per_module;
    int sweep;
    int progress;           /* stderr is a terminal and not --quiet */
    int progress_shown;
    char **stores;
    int n_stores;
    cli_table *tables[CLI_MAX_TABLES];
    int n_tables;
    const char *primary;    /* CSV default table */
    const char *prefix;     /* prepended to table names (collide-report) */
    FILE *out;
    cl_backend *be;
} cli;

/* Tool description for --help. */
typedef struct cli_tool {
    const char *name;
    const char *summary;    /* one line */
    const char *details;    /* paragraphs after the options, or NULL */
    unsigned opts;
    const char *primary;    /* the CSV table printed without --table */
} cli_tool;

/* For tools that parse their own options: print "PROG: MSG[: ARG]" and the
 * --help hint on stderr, exit 2. */
void cli_usage_error(const char *prog, const char *msg, const char *arg)
    __attribute__((noreturn));
/* The value S of option OPT as a whole number / a number in [lo, hi]; any
 * other text is a usage error naming the option and its range. */
long cli_whole(const char *prog, const char *opt, const char *s, long lo, long hi);
double cli_real(const char *prog, const char *opt, const char *s, double lo, double hi);

/* Parses argv; on --help prints and exits 0, on a usage error prints and
 * exits 2. Positional arguments are stores (at least one). */
void cli_init(cli *c, const cli_tool *tool, int argc, char **argv);
/* Defaults for a program that calls the families itself (text to out). */
void cli_init_defaults(cli *c, const char *prog, FILE *out);
/* The back end (opened on first use). Exits 1 on failure. */
cl_backend *cli_backend(cli *c);
/* Print the tables (CSV/JSON) and release everything; returns exit status. */
int cli_finish(cli *c, int status);
/* Report an error for this tool and return CLI_EXIT_FAIL. */
int cli_fail(cli *c, const cl_error *err);

/* Progress: "\r<line>" on stderr when interactive; cli_progress_done ends it. */
void cli_progress(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_progress_done(cli *c);

/* ---- tables ---- */
/* Columns are given as "name" (text), "name:i" (integer) or "name:f" (float). */
cli_table *cli_table_get(cli *c, const char *name, const char *const *cols, int ncols);
void cli_row_begin(cli_table *t);
void cli_cell_s(cli_table *t, const char *v);
void cli_cell_i(cli_table *t, int64_t v);
void cli_cell_f(cli_table *t, double v);

/* ---- text helpers ---- */
int cli_text(const cli *c);
/* A T x T matrix with task names, values printed with fmt (NaN as "-"). */
void cli_text_matrix(cli *c, const char *title, int n, const char *const *names,
                     const double *v, double mul, const char *fmt);
/* Heading line for one store and view. */
void cli_text_heading(cli *c, const cl_store *s, const cl_view *v);

/* ---- walking ---- */
typedef struct cli_walk_ops {
    int (*begin)(void *ctx, cl_store *s, const cl_view *v, const int *modules,
                 int n_modules, cl_error *err);
    cl_module_fn module;
    int (*end)(void *ctx, cl_store *s, const cl_view *v, cl_error *err);
} cli_walk_ops;

/* For each view of --snapshot: begin, every module of --module, end. */
int cli_walk_views(cli *c, cl_store *s, const cli_walk_ops *ops, void *ctx,
                   cl_error *err);

/* Open each STORE in turn and run fn on it; then cli_finish. Returns the
 * exit status. */
int cli_run(cli *c, int (*fn)(cli *c, cl_store *s, cl_error *err));

void cli_cell_threshold(cli_table *t, const cl_threshold *th);

/* Task names of a view (pointers into the store). Caller frees the array. */
const char **cli_view_names(const cl_store *s, const cl_view *v);

/* ---- reading tables back: collide-plot draws the very rows the tools print ---- */
/* The table of that name (prefix included), or NULL. */
const cli_table *cli_table_find(const cli *c, const char *name);
int cli_table_nrows(const cli_table *t);
/* Column index by name, or -1. */
int cli_table_col(const cli_table *t, const char *name);
/* An integer or float cell as a double (NaN for a text cell or col < 0). */
double cli_table_num(const cli_table *t, int row, int col);
/* A text cell ("" for a number cell or col < 0). */
const char *cli_table_str(const cli_table *t, int row, int col);
/* Release every table, keeping the rest of c (back end, options). */
void cli_tables_free(cli *c);
/* The default --sweep values for base's mode (at most 8); returns the count. */
int cli_sweep_defaults(cl_threshold base, cl_threshold *out);
/* CSV as the tools print it: a field quoted when needed; the shortest decimal
 * that reads back as the same double. */
void cli_fprint_csv_field(FILE *f, const char *s);
void cli_fprint_real(FILE *f, double v);

#endif
