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

/* CLI_LATEX: only for a tool whose spec has CLI_C_LATEX (collide-summary);
 * cli_finish prints nothing for it, the tool writes its LaTeX itself. */
typedef enum { CLI_TEXT, CLI_CSV, CLI_JSON, CLI_LATEX } cli_format;

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
    CLI_OPT_ALL = 1 << 8,             /* --all: no list cut in text */
    CLI_OPT_LATEX = 1 << 9,           /* --format latex too (CLI_C_LATEX) */
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
    int all;
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

enum { CLI_KEY_TOOL = 4096 }; /* first key of a metric tool's own options */

/* ---- the one option parser ----
 * A tool lists its options in a table; cli_parse adds the options every tool
 * has (--format, --quiet, --version, --help, and --force / --table where the
 * tool says so), prints the help from the table, and applies one set of
 * rules: an option given twice is refused unless it repeats by nature
 * (CLI_REPEAT); an optional value is taken from "--x=V" or from the next
 * word when that word is a number or a comma list of numbers and not an
 * existing file; an unknown option or a missing value is bad usage (exit 2). */
enum {
    CLI_REPEAT = 1 << 0,   /* may be given more than once */
    CLI_OPTIONAL = 1 << 1, /* the value may be left out */
    CLI_HIDDEN = 1 << 2,   /* parsed, not listed in --help */
    CLI_NOT_HERE = 1 << 3, /* another tool's option: refused by name */
};

typedef struct cli_opt {
    const char *name;  /* long name without "--" */
    int key;           /* passed to the handler; a letter also makes -LETTER */
    const char *arg;   /* the value's name in --help, NULL for a flag */
    unsigned flags;
    const char *help;  /* lines after the first are indented by cli_parse */
} cli_opt;

/* Which common options a tool has beyond --format, --quiet, --version, --help;
 * CLI_C_LATEX: --format also takes latex (the tool prints it). */
enum { CLI_C_FORCE = 1 << 0, CLI_C_TABLE = 1 << 1, CLI_C_LATEX = 1 << 2 };

typedef struct cli_spec {
    const char *name;
    const char *synopsis; /* after the name: "[options] STORE..." */
    const char *summary;  /* paragraphs before the options */
    const char *details;  /* paragraphs after them, or NULL */
    const cli_opt *opts;  /* ends with an entry whose name is NULL */
    unsigned common;
    const char *formats;  /* what --format csv/json print, for --help */
    const char *primary;  /* with CLI_C_TABLE: the table csv prints by default */
    int min_args, max_args; /* positional arguments (max -1: any) */
    const char *args_name;  /* "STORE", "ADAPTER": for "no STORE given" */
    const char *exit_note;  /* extra exit statuses for --help, or NULL */
} cli_spec;

typedef struct cli_args {
    cli_format format;
    int quiet, force, progress; /* progress: stderr is a terminal, no --quiet */
    const char *table;
    char **args;
    int n_args;
} cli_args;

/* Called for each tool option in command-line order; a bad value is reported
 * with cli_usage_error. */
typedef void (*cli_opt_fn)(void *ctx, int key, const char *arg);

void cli_parse(const cli_spec *sp, int argc, char **argv, cli_opt_fn on, void *ctx,
               cli_args *out);

/* For tools that parse their own options: print "PROG: MSG[: ARG]" and the
 * --help hint on stderr, exit 2. */
void cli_usage_error(const char *prog, const char *msg, const char *arg)
    __attribute__((noreturn));
/* The same with a printf format: "PROG: <formatted>" and the hint, exit 2. */
void cli_usage_errorf(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* The value S of option OPT as a whole number / a number in [lo, hi]; any
 * other text is a usage error naming the option and its range. */
long cli_whole(const char *prog, const char *opt, const char *s, long lo, long hi);
double cli_real(const char *prog, const char *opt, const char *s, double lo, double hi);

/* The output policy of every tool. PATH may never be one of INPUTS (the
 * same file by device and inode, or an existing file inside an input that is
 * a directory), --force or not; an existing PATH is refused unless FORCE.
 * On refusal prints "PROG: PATH: reason" on stderr and returns
 * CLI_EXIT_FAIL; returns 0 when PATH may be written (atomically: see
 * cl_atomic_open). Check every output before writing any. */
int cli_output_check(const char *prog, const char *path, int force,
                     const char *const *inputs, int n_inputs);
/* Is the existing PATH one of INPUTS (or inside one that is a directory)? */
int cli_is_input(const char *path, const char *const *inputs, int n_inputs);
/* The same check, the reason written into msg ("PATH: reason") instead of
 * printed: for a library that asks before it writes. Nonzero: refused. */
int cli_output_refusal(const char *path, int force, const char *const *inputs, int n_inputs,
                       char *msg, size_t n);

/* Parses argv; on --help prints and exits 0, on a usage error prints and
 * exits 2. Positional arguments are stores (at least one). */
void cli_init(cli *c, const cli_tool *tool, int argc, char **argv);
/* cli_init for a metric tool with options of its own: extra (keys >=
 * CLI_KEY_TOOL, ending with a NULL name) go to on(ctx, key, arg). */
void cli_init_with(cli *c, const cli_tool *tool, const cli_opt *extra,
                   void (*on)(void *ctx, int key, const char *arg), void *ctx, int argc,
                   char **argv);
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
/* A value the input does not record, in a column of any type. */
void cli_cell_none(cli_table *t);

/* ---- text helpers ---- */
int cli_text(const cli *c);
/* A T x T matrix with task names, values printed with fmt (NaN as "-"). */
void cli_text_matrix(cli *c, const char *title, int n, const char *const *names,
                     const double *v, double mul, const char *fmt);
/* Rows FROM.. of TABLE, columns COLS, as an aligned text table (--per-module
 * and any table a tool prints in full). */
void cli_text_rows(cli *c, const char *table, int from, const char *const *cols, int ncols);
/* The same with rows [CUT_FROM, CUT_TO) left out and counted on one line. */
void cli_text_rows_cut(cli *c, const char *table, int from, int cut_from, int cut_to,
                       const char *const *cols, int ncols);
/* The rows TABLE (this tool's prefix added) has so far: where a view's rows begin. */
int cli_table_mark(const cli *c, const char *table);
/* Adapters imported from elsewhere (collide-import): no seed, lambda,
 * steps or losses recorded, so text says so instead of printing zeros. */
int cli_imported(const cl_store *s);
int cli_lambda_recorded(const cl_store *s);
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

/* The width that holds every task name of the view whole (at least MIN). */
int cli_names_width(const cl_store *s, const cl_view *v, int min);

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
/* The --sweep values: LIST (comma-separated values of base's mode) or, when
 * NULL, the mode's default list; at most MAX. Returns the count; a bad list
 * is a usage error. */
int cli_sweep_parse(const char *prog, cl_threshold base, const char *list, cl_threshold *out,
                    int max);
/* CSV as the tools print it: a field quoted when needed; the shortest decimal
 * that reads back as the same double. */
void cli_fprint_csv_field(FILE *f, const char *s);
void cli_fprint_real(FILE *f, double v);

#endif
