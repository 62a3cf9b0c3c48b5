/*
 * plot.h -- collide-plot's figures. Each figure reads the tables the metric
 * tools compute (tools/fam_*.c, read back through cli.h) or calls the same
 * libmetrics functions, writes one tidy CSV, then asks gnuplot to draw it with
 * plots/<figure>.gp. docs/FIGURES.md describes every figure and its columns.
 */
#ifndef COLLIDE_PLOT_H
#define COLLIDE_PLOT_H

#include "cli.h"

/* Exit status beyond cli.h's: every data file was written, but no image
 * (gnuplot missing or failing), so scripts can tell. */
enum { PLOT_EXIT_NO_IMAGE = 3 };

/* Options, as bits: a figure refuses an option it does not use (exit 2). */
enum {
    PLOT_OPT_THRESHOLD = 1 << 0,
    PLOT_OPT_MODULE = 1 << 1,
    PLOT_OPT_SNAPSHOT = 1 << 2,
    PLOT_OPT_XY = 1 << 3,     /* --x, --y           forgetting-sparsity */
    PLOT_OPT_PAIR = 1 << 4,   /* --pair, --excerpt  collision-map       */
    PLOT_OPT_TASK = 1 << 5,   /* --task             nuclear-norm        */
    PLOT_OPT_SWEEP = 1 << 6,  /* --sweep            threshold-sweep     */
    PLOT_OPT_LABELS = 1 << 7, /* --labels           the scatter figures */
    PLOT_OPT_AXES = 1 << 8,   /* --independent-axes nuclear-norm, spectra */
};

typedef enum { PLOT_X_DENSITY, PLOT_X_HOYER } plot_x;
typedef enum { PLOT_Y_FORGETTING, PLOT_Y_BWT } plot_y;
typedef enum { PLOT_LABEL_LAMBDA, PLOT_LABEL_STORE, PLOT_LABEL_NONE } plot_label;

typedef enum { PLOT_REPORT_TEXT, PLOT_REPORT_JSON, PLOT_REPORT_CSV } plot_report_fmt;
/* --order of the collision map's heat map: auto (cluster an imported store,
 * keep a trained one's order), training, cluster. */
typedef enum { PLOT_ORDER_AUTO, PLOT_ORDER_TRAINING, PLOT_ORDER_CLUSTER } plot_order;

typedef struct plot_opts {
    const struct plot_figure *fig;
    const char *outdir;
    const char *name;        /* --name: DIR/NAME.csv, ... (default: figure) */
    int force;               /* --force: replace existing outputs           */
    int independent_axes;    /* --independent-axes: a y range per panel     */
    int svg, pdf;            /* also these formats (PNG always)            */
    int data_only;           /* write the CSV only; gnuplot not needed      */
    plot_report_fmt report;  /* --format text|json|csv                      */
    int progress;            /* stderr is a terminal and not --quiet        */
    cl_threshold th;         /* --threshold (default energy:0.99)           */
    cl_threshold th2;        /* forgetting-sparsity: a second --threshold,
                                drawn as a second panel                     */
    int has_th2;
    const char *module;      /* --module GLOB, or NULL                      */
    const char *snapshot;    /* --snapshot, default task-ends               */
    const char *device;
    plot_x x;
    plot_y y;
    plot_label labels;
    int pair_i, pair_j;      /* collision-map: store task indices           */
    int ex_rows, ex_cols;    /* collision-map excerpt size                  */
    int ex_at;               /* 1: origin given (ex_row0, ex_col0)          */
    int64_t ex_row0, ex_col0;
    int order;               /* collision-map heat map: PLOT_ORDER_*        */
    int task;                /* nuclear-norm: task index, -1 accumulated    */
    cl_threshold sweep[CLI_MAX_TH];
    int n_sweep;             /* threshold-sweep: 0 = the mode's defaults    */
    char **stores;
    int n_stores;
} plot_opts;

/* A file written, for the report (--format text|json). */
typedef struct plot_file {
    char *path;
    const char *format;      /* csv, png, svg, pdf                          */
    int64_t rows;            /* CSV data rows                               */
    int width, height;       /* PNG: read back from its header              */
} plot_file;

#define PLOT_MAX_FILES 8

typedef struct plot_run {
    const plot_opts *o;
    cli c;                   /* the metric tools' state: tables, back end   */
    plot_file files[PLOT_MAX_FILES];
    int n_files;
    const char *no_image;    /* why no image was drawn, or NULL             */
    int no_data;             /* the figure had nothing to draw (err says
                                what is missing): nothing was written       */
} plot_run;

typedef struct plot_figure {
    const char *name;
    const char *summary;     /* one line for --help                         */
    unsigned opts;           /* PLOT_OPT_* it takes                         */
    int (*run)(plot_run *r, cl_error *err);
} plot_figure;

/* plot_figures.c: the figures, in the order. */
extern const plot_figure plot_figures[];
extern const int plot_n_figures;
const plot_figure *plot_figure_find(const char *name);

/* plot_args.c: parse argv (exit 2 on bad usage, 0 after --help). */
void plot_opts_defaults(plot_opts *o);
void plot_args_parse(plot_opts *o, int argc, char **argv);
/* Draw one figure of these stores into outdir with the default options (for
 * programs other than collide-plot). *no_image says why no image was drawn,
 * or is NULL. */
int plot_draw(const char *figure, char **stores, int n_stores, const char *outdir,
              const cl_threshold *th, const char **no_image, cl_error *err);
/* The same with a second threshold (forgetting-sparsity's second panel). */
int plot_draw2(const char *figure, char **stores, int n_stores, const char *outdir,
               const cl_threshold *th, const cl_threshold *th2, const char **no_image,
               cl_error *err);

/* plot_report.c: mkdir -p DIR; the outputs' policy; print the files
 * written (text, JSON or CSV). */
int plot_outdir_create(const char *dir, cl_error *err);
/* Every file the call would write (DIR/NAME.csv, and the images unless
 * --data-only) checked with cli_output_check before any is written: an
 * existing one needs --force, an input store is never written over.
 * Returns 0 when all may be written, else CLI_EXIT_FAIL (reason printed). */
int plot_outputs_check(const plot_opts *o);
void plot_report(const plot_run *r, int status);

/* ---- plot_data.c: runs, stores, tables and CSV files ---- */
void plot_run_init(plot_run *r, const plot_opts *o);
void plot_run_free(plot_run *r);
/* Open each STORE in turn, clear the tables, call fn, close it. */
typedef int (*plot_store_fn)(plot_run *r, cl_store *s, int index, void *ctx, cl_error *err);
int plot_each_store(plot_run *r, plot_store_fn fn, void *ctx, cl_error *err);
/* Run a metric family (fam_*) on s with the run's options; snapshot and
 * per_module override the defaults for this call. */
int plot_family(plot_run *r, cl_store *s, int (*fam)(cli *, cl_store *, cl_error *),
                const char *snapshot, int per_module, cl_error *err);
/* A table the family must have made, and a column it must have. */
const cli_table *plot_table(plot_run *r, const char *name);
int plot_col(const cli_table *t, const char *name);

typedef struct plot_held {
    char *text;              /* the row's fields so far, without newline    */
    int key;                 /* what the tail depends on (the panel)        */
} plot_held;

typedef struct plot_csv {
    void *af;                /* cl_atomic_file                              */
    FILE *f;                 /* where fields go: the file, or a held row    */
    FILE *file;
    char *path;
    int ncols, col;
    int64_t rows;
    int tail;                /* held rows: columns left to plot_csv_release */
    plot_held *held;
    int n_held, cap_held;
    char *row;               /* the held row being written                  */
    size_t row_len;
} plot_csv;

/* DIR/NAME.csv with these columns, written under a temporary name. */
int plot_csv_open(plot_run *r, const char *const *cols, int ncols, plot_csv *w, cl_error *err);
void plot_csv_s(plot_csv *w, const char *v);
void plot_csv_i(plot_csv *w, int64_t v);
void plot_csv_f(plot_csv *w, double v);      /* NaN: empty field */
void plot_csv_row_end(plot_csv *w);
/* Rows whose last TAIL columns (an axis range shared by the panels) are
 * known only once every store is read: plot_csv_hold, then each row ends
 * with plot_csv_row_held (its KEY, the panel), and plot_csv_release writes
 * them all, FN writing each row's TAIL fields. */
void plot_csv_hold(plot_csv *w, int tail);
int plot_csv_row_held(plot_csv *w, int key, cl_error *err);
typedef void (*plot_tail_fn)(plot_csv *w, int key, void *ctx);
void plot_csv_release(plot_csv *w, plot_tail_fn fn, void *ctx);
/* Rename into place and record; or give up, leaving nothing behind. */
int plot_csv_commit(plot_run *r, plot_csv *w, cl_error *err);
void plot_csv_abort(plot_csv *w);

/* A figure with nothing to draw: nothing is written, and the message names
 * the stores and what is missing. Returns CL_ERR_ARG. */
int plot_no_data(plot_run *r, cl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one palette of methods, shared by every figure: the colour
 * ("#RRGGBB") and gnuplot point type of a store's recorded method. Known
 * methods have fixed ones (inclora and lora, olora, nlora, olora+nlora,
 * seqlora, imported, synthetic; case, '-' and '_' ignored); any other gets
 * one of a fallback list chosen by a hash of its name, so it keeps its
 * colour in every figure and every call. */
const char *plot_method_colour(const char *method);
int plot_method_point(const char *method);

/* Small text helpers. */
const char *plot_basename(const char *path);
/* The store's file name for a title or legend, cut to MAXLEN characters. */
const char *plot_store_name(const cl_store *s, int maxlen, char *buf, size_t n);
/* The method as one gnuplot word (quotes and spaces replaced). */
void plot_series(const char *method, char *buf, size_t n);
/* Append TEXT to a gnuplot word list as one quoted word (spaces kept;
 * double quotes become single ones), cut to MAXLEN characters (0: whole)
 * with an ellipsis. */
void plot_add_word(char *list, size_t n, const char *text, int maxlen);
/* TEXT cut to at most MAXLEN characters (UTF-8 aware), "…" marking a cut. */
void plot_shorten(const char *text, int maxlen, char *buf, size_t n);
/* lambda of a store's method (nlora: lambda_sparse, olora: lambda_orth;
 * NaN otherwise) and the point label under --labels. */
double plot_lambda(const cl_run_meta *m);
void plot_point_label(const plot_run *r, const cl_store *s, char *buf, size_t n);
/* "energy:0.99" */
const char *plot_threshold_text(const plot_run *r, char *buf, size_t n);

/* ---- plot_gnuplot.c: variables and rendering ---- */
typedef struct plot_vars {
    char *buf;
    size_t len, cap;
} plot_vars;

void plot_var_s(plot_vars *v, const char *name, const char *value);
void plot_var_f(plot_vars *v, const char *name, double value);
void plot_var_i(plot_vars *v, const char *name, int64_t value);
/* name<p> (p counts from 1), for per-panel values. */
void plot_var_ps(plot_vars *v, const char *name, int p, const char *value);
void plot_var_pi(plot_vars *v, const char *name, int p, int64_t value);
void plot_var_pf(plot_vars *v, const char *name, int p, double value);
void plot_vars_free(plot_vars *v);
/* A figure's data stage ends: after a failure RC, abort the data file; else
 * commit it. V (the gnuplot variables collected so far) is freed whenever
 * the figure cannot go on. Returns RC or the commit's error. */
int plot_csv_finish(plot_run *r, plot_csv *w, plot_vars *v, int rc, cl_error *err);
/* plot_csv_finish, then the image of a figure with one panel per store
 * (npanels set), WIDTH x HEIGHT pixels; V is freed. */
int plot_panels_finish(plot_run *r, plot_csv *w, plot_vars *v, int rc, int width, int height,
                       cl_error *err);

/* Draw DIR/<figure>.<fmt> for every format asked from the run's CSV with
 * plots/<figure>.gp and the variables in v (width x height pixels). When
 * gnuplot is missing or fails, says so once on stderr, sets r->no_image and
 * returns CL_OK: the data stays written. */
int plot_render(plot_run *r, plot_vars *v, int width, int height, cl_error *err);

/* plot_collmap.c: average-linkage (UPGMA) clustering of N items under the
 * symmetric distance DIST (n x n, row-major; the diagonal is ignored, NaN
 * reads as 1). Deterministic: the closest pair of clusters merges first,
 * ties to the pair whose smallest item indices come first; a cluster is
 * placed left of the one it merges with when its smallest item is smaller.
 * ORDER (n) receives the leaves left to right; MERGES (n - 1, may be NULL)
 * each merge in turn: its height, the x positions (leaf positions 0..n-1,
 * a cluster at the mean of its two children) and heights of its children,
 * its size, and the smallest item of each child. */
typedef struct plot_merge {
    double height, x_left, h_left, x_right, h_right;
    int size, item_left, item_right;
} plot_merge;
int plot_cluster(int n, const double *dist, int *order, plot_merge *merges);

/* ---- the figures ---- */
int plot_forgetting_sparsity(plot_run *r, cl_error *err);
int plot_collision_orthogonality(plot_run *r, cl_error *err);
int plot_collision_map(plot_run *r, cl_error *err);
int plot_nuclear_norm(plot_run *r, cl_error *err);
int plot_spectra(plot_run *r, cl_error *err);
int plot_accuracy_matrix(plot_run *r, cl_error *err);
int plot_threshold_sweep(plot_run *r, cl_error *err);
int plot_training(plot_run *r, cl_error *err);
int plot_history(plot_run *r, cl_error *err);
int plot_explain(plot_run *r, cl_error *err);

#endif
